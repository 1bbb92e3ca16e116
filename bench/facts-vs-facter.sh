#!/usr/bin/env bash
# puppet-facts --json against facter --json on this machine: median wall time of the whole
# process over many runs (hyperfine when installed, else a loop), the ratio, and peak RSS
# (/usr/bin/time -v); facter exits 1 in some sandboxes (/proc/1/environ), so exit codes are
# ignored. Goal (issue 7): at least 50x faster, under 10 MB.
#   bench/facts-vs-facter.sh [path/to/puppet-facts] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
ours=${1:-${CARGO_TARGET_DIR:-target}/release/puppet-facts}
runs=${2:-50}
[ -x "$ours" ] || { echo "build first: cargo build --release -p puppet-bins --bin puppet-facts" >&2; exit 1; }
command -v facter >/dev/null || { echo "facter is not installed (apt-get install facter)" >&2; exit 1; }

median_ms() { # command... -> median wall ms over $runs runs
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.3f\n", m / 1000}'
}

facter_runs=$(( runs < 10 ? runs : 10 ))
if command -v hyperfine >/dev/null; then
  hyperfine -N -i --warmup 3 --runs "$runs" --export-json /tmp/facts-bench-ours.json "$ours --json" >/dev/null
  hyperfine -N -i --warmup 1 --runs "$facter_runs" --export-json /tmp/facts-bench-facter.json "facter --json" >/dev/null
  ours_ms=$(python3 -c 'import json;print("%.3f" % (json.load(open("/tmp/facts-bench-ours.json"))["results"][0]["median"]*1000))')
  facter_ms=$(python3 -c 'import json;print("%.3f" % (json.load(open("/tmp/facts-bench-facter.json"))["results"][0]["median"]*1000))')
else
  ours_ms=$(median_ms "$ours" --json)
  facter_ms=$(runs=$facter_runs median_ms facter --json)
fi
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {printf "%.1f", $2/1024}'; }
echo "puppet-facts --json: median ${ours_ms} ms over ${runs} runs, peak RSS $(rss "$ours" --json) MB"
echo "facter --json:       median ${facter_ms} ms over ${facter_runs} runs, peak RSS $(rss facter --json) MB"
awk -v a="$facter_ms" -v b="$ours_ms" 'BEGIN {printf "ratio: %.1fx faster\n", a / b}'
