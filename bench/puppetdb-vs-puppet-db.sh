#!/bin/bash
# Storage throughput and query latency: our puppet-db (embedded SQLite) beside the real PuppetDB
# 7.12 (Debian's `puppetdb` package, on PostgreSQL 15), on this machine, same commands, same client.
#
# The client is the `pdbload` example of tests/ (Rust, rustls mTLS, HTTP/1.1 keep-alive): it
# submits commands as the Puppetserver terminus does (gzipped bodies, its query parameters) with 1
# and 8 connections:
#   replace facts v5   (~100 facts per node)
#   replace catalog v9 (RESOURCES resources, default 1,000)
#   store report v8    (EVENTS events, default 100)
# and counts a run as finished when the server's queue is empty (PuppetDB answers a command once
# queued, puppet-db once stored): commands/s are stored commands for both. Then, with QUERY_NODES
# nodes loaded (default 2,000), each with facts and a catalog of QUERY_RESOURCES resources
# (default 50: smaller than the 1,000 of the catalog runs, so that 10,000 nodes load in a bench
# run; one resource in ten is an Exec), query latency p50/p99 at one connection for
#   inventory[certname] { facts.os.family = "Debian" }                   (a third of the nodes)
#   nodes[certname] { facts { name = "kernel" and value = "Linux" } }     (nodes by a fact: all)
#   resources[certname, title] { type = "Exec" }       (QUERY_RESOURCES/10 rows per node)
# and prints ours, PuppetDB's and the ratio (goal of issue 11: 10x PuppetDB's command throughput).
#
# Everything lives in a temp directory, on 127.0.0.1: a CA and certificates from our `puppet-ca`,
# our puppet-db, a PostgreSQL cluster of its own (initdb, own port, run as `postgres`), PuppetDB's
# conf.d (jetty.ini, database.ini, config.ini) and vardir. The `puppetdb` package is installed
# with apt-get when missing (as root; dbconfig-common told not to create a database). Nothing of
# the machine's own PuppetDB or PostgreSQL configuration is used or changed.
#   SKIP_PUPPETDB=1 bench/puppetdb-vs-puppet-db.sh      # our figures alone
# Each server first gets WARMUP (30) commands of each kind, not measured; then every measured run
# sends new documents for new nodes (first factsets and catalogs, new reports); then the nodes of
# the 1-connection runs get facts (one changed fact) and catalogs (10 changed resources) again.
# Our server's RSS (VmRSS) is printed after its start, after the command runs and after the
# queries, and its peak (VmHWM) at the end.
#   FACTS=400 CATALOGS=60 REPORTS=200 QUERY_NODES=2000 QUERY_RESOURCES=50 QUERIES=200 WARMUP=30 \
#   PDB_JAVA_ARGS=-Xmx512m \
#   PG_PORT=25432 PDB_PORT=28081 PDB_HTTP_PORT=28080 bench/puppetdb-vs-puppet-db.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
FACTS=${FACTS:-400}
CATALOGS=${CATALOGS:-60}
REPORTS=${REPORTS:-200}
RESOURCES=${RESOURCES:-1000}
EVENTS=${EVENTS:-100}
QUERY_NODES=${QUERY_NODES:-2000}
QUERY_RESOURCES=${QUERY_RESOURCES:-50}
QUERIES=${QUERIES:-200}
WARMUP=${WARMUP:-30}
PG_PORT=${PG_PORT:-25432}
PDB_PORT=${PDB_PORT:-28081}
PDB_HTTP_PORT=${PDB_HTTP_PORT:-28080}
PDB_JAVA_ARGS=${PDB_JAVA_ARGS:--Xmx512m}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
# PROFILE=debug runs the script quickly as a check of itself (its figures mean nothing then).
PROFILE=${PROFILE:-release}
PROFILE_FLAG=--release
[ "$PROFILE" = release ] || PROFILE_FLAG=

(cd "$REPO" && cargo build --quiet $PROFILE_FLAG -p puppet-bins --bin puppet-db --bin puppet-ca &&
  cargo build --quiet $PROFILE_FLAG -p puppet-conformance-tests --example pdbload)
BIN=$TARGET/$PROFILE
PDBLOAD=$BIN/examples/pdbload
PUPPET_CA=$BIN/puppet-ca
PUPPET_DB=$BIN/puppet-db

WORK=$(mktemp -d /tmp/pdb-bench.XXXXXX)
chmod 0755 "$WORK"
OURS_PID=
JAVA_PID=
SERVER_PID=
PG_STARTED=
cleanup() {
  if [ -n "$OURS_PID" ]; then kill "$OURS_PID" 2>/dev/null || true; fi
  if [ -n "$JAVA_PID" ]; then kill "$JAVA_PID" 2>/dev/null || true; wait "$JAVA_PID" 2>/dev/null || true; fi
  if [ -n "$PG_STARTED" ]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# --- a CA, the servers' certificate (localhost) and the client's ------------------------------
"$PUPPET_CA" --cadir "$WORK/ca" setup --ca-name "Puppet CA: pdb-bench" --keylength 2048 >/dev/null
"$PUPPET_CA" --cadir "$WORK/ca" generate --certname localhost --subject-alt-names IP:127.0.0.1 \
  --ssldir "$WORK/ssl" >/dev/null
"$PUPPET_CA" --cadir "$WORK/ca" generate --certname puppet.example.test --ssldir "$WORK/ssl" >/dev/null
CA=$WORK/ca/ca_crt.pem
SERVER_CERT=$WORK/ssl/certs/localhost.pem
SERVER_KEY=$WORK/ssl/private_keys/localhost.pem
CLIENT=(--ca "$CA" --cert "$WORK/ssl/certs/puppet.example.test.pem" --key "$WORK/ssl/private_keys/puppet.example.test.pem")

# One pdbload run; prints its line and records `per_s`, `p50_ms` and `p99_ms`.
declare -A FIG
load() { # label port kind clients commands [extra args]
  local label=$1 port=$2 kind=$3 clients=$4 commands=$5
  shift 5
  local line
  line=$("$PDBLOAD" --port "$port" "${CLIENT[@]}" --label "$label" --kind "$kind" --clients "$clients" \
    --commands "$commands" --resources "$RESOURCES" --events "$EVENTS" "$@")
  echo "  $line"
  for k in per_s p50_ms p99_ms; do
    FIG[$label.$kind.$clients.$k]=$(sed -n "s/.* $k=\([0-9.]*\).*/\1/p" <<<"$line")
  done
}

INVENTORY='inventory[certname] { facts.os.family = "Debian" }'
NODES_BY_FACT='nodes[certname] { facts { name = "kernel" and value = "Linux" } }'
RESOURCES_QUERY='resources[certname, title] { type = "Exec" }'

suite() { # label port
  local label=$1 port=$2
  # Warm-up, not measured (the JVM compiles its hot paths; SQLite's pages are read).
  for kind in facts catalog report; do
    "$PDBLOAD" --port "$port" "${CLIENT[@]}" --label warmup --kind "$kind" --clients 8 \
      --commands "$WARMUP" --first 100000 --resources "$RESOURCES" --events "$EVENTS" >/dev/null
  done
  # Each run stores new documents (facts and catalogs that changed, new reports).
  local first=0
  for c in 1 8; do
    load "$label" "$port" facts "$c" "$FACTS" --first $first
    load "$label" "$port" catalog "$c" "$CATALOGS" --nodes "$CATALOGS" --first $first
    load "$label" "$port" report "$c" "$REPORTS" --nodes 50 --first $first
    first=$((first + 1000000))
  done
  # The nodes of the 1-connection runs again: every factset and catalog now replaces a
  # stored one (one fact, 10 resources changed: the steady state of a site, where PuppetDB
  # writes only what changed, and so does ours).
  load "$label-again" "$port" facts 1 "$FACTS" --first 0 --round 1
  load "$label-again" "$port" catalog 1 "$CATALOGS" --nodes "$CATALOGS" --first 0 --round 1
  FIG[$label.rss_commands]=$(rss_now "${SERVER_PID:-}")
  # Nodes for the queries (not a figure): facts, and catalogs of QUERY_RESOURCES resources.
  "$PDBLOAD" --port "$port" "${CLIENT[@]}" --label "$label" --kind facts --clients 8 \
    --commands "$QUERY_NODES" >/dev/null
  "$PDBLOAD" --port "$port" "${CLIENT[@]}" --label "$label" --kind catalog --clients 8 \
    --commands "$QUERY_NODES" --resources "$QUERY_RESOURCES" >/dev/null
  FIG[$label.rss_loaded]=$(rss_now "${SERVER_PID:-}")
  load "$label" "$port" query 1 "$QUERIES" --query "$INVENTORY"
  FIG[$label.inventory.p50]=${FIG[$label.query.1.p50_ms]}
  FIG[$label.inventory.p99]=${FIG[$label.query.1.p99_ms]}
  load "$label" "$port" query 1 "$QUERIES" --query "$NODES_BY_FACT"
  FIG[$label.nodes.p50]=${FIG[$label.query.1.p50_ms]}
  FIG[$label.nodes.p99]=${FIG[$label.query.1.p99_ms]}
  load "$label" "$port" query 1 "$QUERIES" --query "$RESOURCES_QUERY"
  FIG[$label.resources.p50]=${FIG[$label.query.1.p50_ms]}
  FIG[$label.resources.p99]=${FIG[$label.query.1.p99_ms]}
  FIG[$label.rss_queried]=$(rss_now "${SERVER_PID:-}")
}

rss() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# The resident set now (kB); 0 without a process.
rss_now() { [ -n "$1" ] && awk '/VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- ours ------------------------------------------------------------------------------------
echo "== puppet-db (SQLite, $WORK/ours/puppetdb.sqlite)"
mkdir -p "$WORK/ours"
: >"$WORK/ours/out.log" # exists before the server's own redirection does (read below at once)
T0=$(date +%s%N)
"$PUPPET_DB" --ssl-cert "$SERVER_CERT" --ssl-key "$SERVER_KEY" --ssl-ca-cert "$CA" --bind 127.0.0.1 \
  --port 0 --database "sqlite:$WORK/ours/puppetdb.sqlite" >"$WORK/ours/out.log" 2>"$WORK/ours/err.log" &
OURS_PID=$!
OURS_PORT=
for _ in $(seq 1 200); do
  OURS_PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/ours/out.log")
  [ -n "$OURS_PORT" ] && break
  sleep 0.05
done
[ -n "$OURS_PORT" ] || { cat "$WORK/ours/err.log" >&2; exit 1; }
echo "  listening on $OURS_PORT after $(ms "$T0") ms, RSS $(rss_now "$OURS_PID") kB"
SERVER_PID=$OURS_PID
suite ours "$OURS_PORT"
rss_line() { # label pid
  echo "  RSS: after the command runs ${FIG[$1.rss_commands]} kB, after loading $QUERY_NODES nodes" \
    "${FIG[$1.rss_loaded]} kB, after the queries ${FIG[$1.rss_queried]} kB, peak $(rss "$2") kB"
}
rss_line ours "$OURS_PID"
OURS_RSS=$(rss "$OURS_PID")
kill "$OURS_PID"; wait "$OURS_PID" 2>/dev/null || true; OURS_PID=

# --- the real PuppetDB -----------------------------------------------------------------------
REAL=0
if [ "${SKIP_PUPPETDB:-0}" = 1 ]; then
  echo "== PuppetDB: skipped (SKIP_PUPPETDB=1)"
elif [ "$(id -u)" != 0 ] && ! dpkg-query -W -f='${Status}' puppetdb 2>/dev/null | grep -q 'ok installed'; then
  echo "== PuppetDB: skipped (not installed, and installing it needs root)"
else
  if ! dpkg-query -W -f='${Status}' puppetdb 2>/dev/null | grep -q 'ok installed'; then
    echo "== installing puppetdb (apt-get)"
    echo 'puppetdb puppetdb/dbconfig-install boolean false' | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y puppetdb >"$WORK/apt.log" 2>&1 ||
      { tail -20 "$WORK/apt.log" >&2; exit 1; }
  fi
  PGBIN=/usr/lib/postgresql/15/bin
  echo "== PostgreSQL 15 (own cluster in $WORK/pg, 127.0.0.1:$PG_PORT)"
  install -d -o postgres -g postgres -m 0700 "$WORK/pg" "$WORK/pgsock"
  runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -E UTF8 --auth=trust >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
    -o "-p $PG_PORT -k $WORK/pgsock -c listen_addresses=127.0.0.1" start >/dev/null
  PG_STARTED=1
  psql_pg() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$WORK/pgsock" -p "$PG_PORT" "$@"; }
  psql_pg -d postgres -c "CREATE ROLE puppetdb LOGIN PASSWORD 'bench'" \
    -c "CREATE DATABASE puppetdb OWNER puppetdb ENCODING 'UTF8' TEMPLATE template0"
  psql_pg -d puppetdb -c "CREATE EXTENSION pg_trgm"

  echo "== PuppetDB (127.0.0.1:$PDB_PORT, JAVA_ARGS $PDB_JAVA_ARGS)"
  CONF=$WORK/pdbconf
  mkdir -p "$CONF" "$WORK/pdbvar"
  # The package's authorization rules (trapperkeeper's auth.conf: status open, metrics local).
  cp /etc/puppetdb/conf.d/auth.conf "$CONF/"
  cat >"$CONF/jetty.ini" <<EOF
[jetty]
host = 127.0.0.1
port = $PDB_HTTP_PORT
ssl-host = 127.0.0.1
ssl-port = $PDB_PORT
ssl-key = $SERVER_KEY
ssl-cert = $SERVER_CERT
ssl-ca-cert = $CA
EOF
  cat >"$CONF/database.ini" <<EOF
[database]
subname = //127.0.0.1:$PG_PORT/puppetdb
username = puppetdb
password = bench
EOF
  cat >"$CONF/config.ini" <<EOF
[global]
vardir = $WORK/pdbvar
logging-config = /etc/puppetdb/logback.xml
EOF
  T0=$(date +%s%N)
  # shellcheck disable=SC2086
  java $PDB_JAVA_ARGS -Djava.security.egd=/dev/urandom -XX:OnOutOfMemoryError="kill -9 %p" \
    -cp /usr/share/puppetdb/puppetdb.jar clojure.main -m puppetlabs.puppetdb.core services \
    --config "$CONF" --bootstrap-config /etc/puppetdb/bootstrap.cfg >"$WORK/pdb.log" 2>&1 </dev/null &
  JAVA_PID=$!
  ok=0
  for _ in $(seq 1 900); do
    kill -0 "$JAVA_PID" 2>/dev/null || { tail -30 "$WORK/pdb.log" >&2; exit 1; }
    if curl -sf --max-time 2 "http://127.0.0.1:$PDB_HTTP_PORT/status/v1/services/puppetdb-status" |
      grep -q '"state":"running"'; then
      ok=1
      break
    fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || { echo "PuppetDB did not become ready in 180 s" >&2; tail -30 "$WORK/pdb.log" >&2; exit 1; }
  echo "  ready after $(ms "$T0") ms"
  SERVER_PID=$JAVA_PID
  suite puppetdb "$PDB_PORT"
  rss_line puppetdb "$JAVA_PID"
  REAL_RSS=$(rss "$JAVA_PID")
  REAL=1
fi

# --- the figures -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
printf '%-34s %8s %14s %14s %8s\n' command clients "puppet-db/s" "PuppetDB/s" ratio
for kind in facts catalog report; do
  case $kind in
    facts) name="replace facts (~100 facts)" ;;
    catalog) name="replace catalog ($RESOURCES resources)" ;;
    report) name="store report ($EVENTS events)" ;;
  esac
  for c in 1 8; do
    o=${FIG[ours.$kind.$c.per_s]}
    r=${FIG[puppetdb.$kind.$c.per_s]:-}
    printf '%-34s %8s %14s %14s %8s\n' "$name" "$c" "$o" "${r:--}" "$( [ "$REAL" = 1 ] && ratio "$o" "$r" || echo -)"
  done
done
for kind in facts catalog; do
  o=${FIG[ours-again.$kind.1.per_s]}
  r=${FIG[puppetdb-again.$kind.1.per_s]:-}
  printf '%-34s %8s %14s %14s %8s\n' "$kind again (stored node)" 1 "$o" "${r:--}" \
    "$( [ "$REAL" = 1 ] && ratio "$o" "$r" || echo -)"
done
printf '%-34s %8s %14s %14s %8s\n' "query ($QUERY_NODES nodes), p50/p99 ms" "" "puppet-db" "PuppetDB" "p50 ratio"
echo "  (catalogs of the query nodes: $QUERY_RESOURCES resources; resources: $RESOURCES_QUERY)"
for q in inventory nodes resources; do
  o="${FIG[ours.$q.p50]}/${FIG[ours.$q.p99]}"
  r="${FIG[puppetdb.$q.p50]:-}/${FIG[puppetdb.$q.p99]:-}"
  printf '%-34s %8s %14s %14s %8s\n' "  $q" 1 "$o" "$( [ "$REAL" = 1 ] && echo "$r" || echo -)" \
    "$( [ "$REAL" = 1 ] && ratio "${FIG[puppetdb.$q.p50]}" "${FIG[ours.$q.p50]}" || echo -)"
done
echo "peak RSS: puppet-db ${OURS_RSS} kB$( [ "$REAL" = 1 ] && echo ", PuppetDB (JVM, PostgreSQL not counted) ${REAL_RSS} kB")"
