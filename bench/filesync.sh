#!/bin/bash
# File sync, whole run (issue 9): the library benchmark (a 10,000-file / 200 MB tree published
# cold into an empty store, beside `cp -a` + `sync` of the same tree and `openssl speed
# sha256`; a one-file change republished, with the phases of each publish) and the master
# benchmark (an in-process primary and replica over loopback TLS: a one-file change published
# over HTTP, the replica's first answer after the publish returns), each once, in release.
# Prints the load average before and after each: this machine's 2 cores are often shared, and
# the figures move with the load.
#   bench/filesync.sh            (CARGO_TARGET_DIR as usual; BENCH_DIR= for the trees)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
echo "== $(date -u +%FT%TZ) $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== library: cargo bench -p puppet-filesync --bench publish"
cargo bench -q -p puppet-filesync --bench publish 2>&1
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== master: cargo bench -p puppet-master --features testing --bench filesync"
cargo bench -q -p puppet-master --features testing --bench filesync -- --noplot 2>&1 \
    | grep -Ev '^(Benchmarking|Found|  [0-9]+ \(|$)'
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
