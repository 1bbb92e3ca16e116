#!/bin/bash
# A query with a large answer against our puppet-db on SQLite: the server's peak resident set
# (VmHWM) while it answers, the time to the first byte and the total time (curl's
# time_starttransfer / time_total), plain and gzipped, and a small query's latency beside it
# (pdbload, one connection). The answer of `resources` (every resource of every node: NODES x
# (RESOURCES + 1) rows) is streamed while it is read since puppet-db answers queries chunked; a
# server that builds the body first needs about the answer's size (and more) of memory.
#
# The database is loaded once (pdbload --kind catalog, NODES catalogs of RESOURCES resources)
# and every binary of PUPPET_DBS is started on it in turn (a copy of an older build under
# another name compares before and after):
#   NODES=2000 RESOURCES=1000 PUPPET_DBS="before=/tmp/puppet-db.before after=target/release/puppet-db" \
#   PORT=28481 bench/puppetdb-large-answer.sh
# Without PUPPET_DBS, the release build of this checkout. Everything lives in a temp directory,
# on 127.0.0.1; a CA and certificates from our `puppet-ca`. Needs curl.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
NODES=${NODES:-2000}
RESOURCES=${RESOURCES:-1000}
SMALL=${SMALL:-300}
PORT=${PORT:-28481}
# shellcheck source=../scripts/lib-puppetdb.sh
. "$REPO/scripts/lib-puppetdb.sh"
pdb_build_ours "$REPO"
PUPPET_DBS=${PUPPET_DBS:-current=$BIN/puppet-db}

WORK=$(mktemp -d /tmp/pdb-large.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$PUPPET_CA" --cadir "$WORK/ca" setup --ca-name "Puppet CA: pdb-large" --keylength 2048 >/dev/null
"$PUPPET_CA" --cadir "$WORK/ca" generate --certname localhost --subject-alt-names IP:127.0.0.1 \
  --ssldir "$WORK/ssl" >/dev/null
"$PUPPET_CA" --cadir "$WORK/ca" generate --certname puppet.example.test --ssldir "$WORK/ssl" >/dev/null
CA=$WORK/ca/ca_crt.pem
CERT=$WORK/ssl/certs/puppet.example.test.pem
KEY=$WORK/ssl/private_keys/puppet.example.test.pem
CLIENT=(--ca "$CA" --cert "$CERT" --key "$KEY")
DATABASE=sqlite:$WORK/puppetdb.sqlite

start() { # binary
  "$1" --ssl-cert "$WORK/ssl/certs/localhost.pem" --ssl-key "$WORK/ssl/private_keys/localhost.pem" \
    --ssl-ca-cert "$CA" --bind 127.0.0.1 --port "$PORT" --database "$DATABASE" \
    >"$WORK/out.log" 2>"$WORK/err.log" &
  PID=$!
  for _ in $(seq 1 200); do
    grep -q "listening on" "$WORK/out.log" 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$WORK/err.log" >&2
  exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
hwm() { awk '/VmHWM/{print $2}' "/proc/$PID/status"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$PID/status"; }

first=${PUPPET_DBS%% *}
start "${first#*=}"
T0=$(date +%s)
# In batches: pdbload builds a run's documents before it starts sending.
BATCH=100
for ((first = 0; first < NODES; first += BATCH)); do
  n=$(( NODES - first < BATCH ? NODES - first : BATCH ))
  "$PDBLOAD" --port "$PORT" "${CLIENT[@]}" --kind catalog --clients 4 --commands "$n" --nodes "$n" \
    --first "$first" --resources "$RESOURCES" --label "load-$first" >/dev/null
done
echo "loaded $NODES nodes x $RESOURCES resources in $(( $(date +%s) - T0 )) s;" \
  "database $(du -sh "$WORK" | cut -f1)"
stop

CURL=(curl -sS --fail --cacert "$CA" --cert "$CERT" --key "$KEY" --resolve "localhost:$PORT:127.0.0.1")
URL=https://localhost:$PORT/pdb/query/v4/resources
for entry in $PUPPET_DBS; do
  label=${entry%%=*}
  start "${entry#*=}"
  # A small query first (warms the reader), then the large answer plain and gzipped.
  "$PDBLOAD" --port "$PORT" "${CLIENT[@]}" --kind query --clients 1 --commands "$SMALL" \
    --query 'resources[certname, title] { certname = "bench-7.example.test" and type = "Exec" }' \
    --label "$label-small"
  echo "$label: RSS before the large answer $(rss) kB"
  for how in plain gzip; do
    flags=()
    [ "$how" = gzip ] && flags=(--compressed)
    line=$("${CURL[@]}" "${flags[@]}" -o "$WORK/answer" \
      -w '%{time_starttransfer} %{time_total} %{size_download}' "$URL")
    read -r ttfb total size <<<"$line"
    rows=$(grep -o '"certname"' "$WORK/answer" | wc -l)
    echo "$label $how: first byte ${ttfb}s, total ${total}s, $size bytes sent, $rows rows," \
      "peak RSS so far $(hwm) kB"
    rm -f "$WORK/answer"
  done
  "$PDBLOAD" --port "$PORT" "${CLIENT[@]}" --kind query --clients 1 --commands "$SMALL" \
    --query 'resources[certname, title] { certname = "bench-7.example.test" and type = "Exec" }' \
    --label "$label-small-after"
  echo "$label: peak RSS $(hwm) kB"
  stop
done
