#!/bin/bash
# Storage throughput and query latency: our puppet-db on embedded SQLite and on PostgreSQL 15,
# beside the real PuppetDB 7.12 (Debian's `puppetdb` package, on PostgreSQL 15), on this machine,
# same commands, same client. Ours on PostgreSQL and PuppetDB use two databases (each its own
# role) of one PostgreSQL cluster the script starts, both over TCP on 127.0.0.1, so that the
# PostgreSQL columns compare the same backend.
#
# The client is the `pdbload` example of tests/ (Rust, rustls mTLS, HTTP/1.1 keep-alive): it
# submits commands as the Puppetserver terminus does (gzipped bodies, its query parameters) with 1
# and 8 connections:
#   replace facts v5   (~100 facts per node)
#   replace catalog v9 (RESOURCES resources, default 1,000)
#   store report v8    (EVENTS events, default 100)
# and counts a run as finished when the server's queue is empty (PuppetDB answers a command once
# queued, puppet-db once stored): commands/s are stored commands for both. For every run it also
# reads the server's CPU time (utime+stime in /proc/PID/stat, before and after; for a server on
# PostgreSQL, the cluster's processes too: the postmaster with its reaped children and every live
# child) and prints it per command: unlike the rate, this hardly depends on the machine's load.
# Then, with QUERY_NODES nodes loaded (default 2,000), each with facts and a catalog of
# QUERY_RESOURCES resources (default 50: smaller than the 1,000 of the catalog runs, so that
# 10,000 nodes load in a bench run; one resource in ten is an Exec), query latency p50/p99 at one
# connection for
#   inventory[certname] { facts.os.family = "Debian" }                   (a third of the nodes)
#   nodes[certname] { facts { name = "kernel" and value = "Linux" } }     (nodes by a fact: all)
#   resources[certname, title] { type = "Exec" }       (QUERY_RESOURCES/10 rows per node)
# and prints ours (each backend), PuppetDB's and the ratios, ours on PostgreSQL against PuppetDB
# (the same backend) first (goal of issue 11: 10x PuppetDB's command throughput).
#
# Everything lives in a temp directory, on 127.0.0.1: a CA and certificates from our `puppet-ca`,
# our puppet-db, a PostgreSQL cluster of its own (initdb, own port, default settings, run as
# `postgres`), PuppetDB's conf.d (jetty.ini, database.ini, config.ini) and vardir. The `puppetdb`
# package is installed with apt-get when missing (as root; dbconfig-common told not to create a
# database). Nothing of the machine's own PuppetDB or PostgreSQL configuration is used or changed.
#   SKIP_PUPPETDB=1 bench/puppetdb-vs-puppet-db.sh      # ours alone (both backends)
#   BACKEND=sqlite|postgres|both (default both)         # which backends of ours
# PostgreSQL (for either) needs root, as does the `puppetdb` package. PG_STATS=1 loads
# pg_stat_statements and prints, after each run on PostgreSQL, the statements that took most time.
# Each server first gets WARMUP (30) commands of each kind, not measured; then every measured run
# sends new documents for new nodes (first factsets and catalogs, new reports); then the nodes of
# the 1-connection runs get facts (one changed fact), catalogs (10 changed resources) and reports
# again (stored nodes). Each server's RSS (VmRSS) is printed after its start, after the command
# runs, after loading the query nodes and after the queries, and its peak (VmHWM) at the end.
#   FACTS=400 CATALOGS=60 REPORTS=200 QUERY_NODES=2000 QUERY_RESOURCES=50 QUERIES=200 WARMUP=30 \
#   PDB_JAVA_ARGS=-Xmx512m \
#   PG_PORT=25432 PDB_PORT=28081 PDB_HTTP_PORT=28080 bench/puppetdb-vs-puppet-db.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# PostgreSQL's own cluster and PuppetDB's start: shared with scripts/puppetdb-side-by-side.sh.
# shellcheck source=../scripts/lib-puppetdb.sh
. "$REPO/scripts/lib-puppetdb.sh"
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
BACKEND=${BACKEND:-both}
case $BACKEND in
  sqlite) OUR_BACKENDS=(sqlite) ;;
  postgres) OUR_BACKENDS=(postgres) ;;
  both) OUR_BACKENDS=(sqlite postgres) ;;
  *) echo "BACKEND must be sqlite, postgres or both" >&2; exit 2 ;;
esac
# PROFILE=debug runs the script quickly as a check of itself (its figures mean nothing then).
pdb_build_ours "$REPO"

WORK=$(mktemp -d /tmp/pdb-bench.XXXXXX)
chmod 0755 "$WORK"
OURS_PID=
JAVA_PID=
SERVER_PID=
cleanup() {
  if [ -n "$OURS_PID" ]; then kill "$OURS_PID" 2>/dev/null || true; fi
  pdb_stop
  pdb_pg_stop
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

# Server CPU: clock ticks (utime+stime, with reaped children's) of SERVER_PID and, when
# SERVER_PG=1, of the PostgreSQL cluster (the postmaster, its reaped children, its live ones).
SERVER_PID=
SERVER_PG=0
TICK_MS=$((1000 / $(getconf CLK_TCK)))
ticks_of() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
server_ticks() {
  local t pids=$SERVER_PID pm
  if [ "$SERVER_PG" = 1 ]; then
    pm=$(head -1 "$WORK/pg/postmaster.pid")
    pids="$pids $pm $(pgrep -P "$pm" | tr '\n' ' ')"
  fi
  t=0
  for p in $pids; do t=$((t + $(ticks_of "$p"))); done
  echo "$t"
}

# One pdbload run; prints its line and records `per_s`, `p50_ms`, `p99_ms` and `cpu_ms` (the
# server's CPU time per command).
declare -A FIG
load() { # label port kind clients commands [extra args]
  local label=$1 port=$2 kind=$3 clients=$4 commands=$5
  shift 5
  local line t0 cpu
  t0=$(server_ticks)
  line=$("$PDBLOAD" --port "$port" "${CLIENT[@]}" --label "$label" --kind "$kind" --clients "$clients" \
    --commands "$commands" --resources "$RESOURCES" --events "$EVENTS" "$@")
  cpu=$(awk -v t=$(( $(server_ticks) - t0 )) -v ms="$TICK_MS" -v n="$commands" 'BEGIN { printf "%.2f", t * ms / n }')
  echo "  $line server_cpu_ms_per_command=$cpu"
  for k in per_s p50_ms p99_ms; do
    FIG[$label.$kind.$clients.$k]=$(sed -n "s/.* $k=\([0-9.]*\).*/\1/p" <<<"$line")
  done
  FIG[$label.$kind.$clients.cpu_ms]=$cpu
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
  # writes only what changed, and so does ours), and they report again.
  load "$label-again" "$port" facts 1 "$FACTS" --first 0 --round 1
  load "$label-again" "$port" catalog 1 "$CATALOGS" --nodes "$CATALOGS" --first 0 --round 1
  load "$label-again" "$port" report 1 "$REPORTS" --nodes 50 --first 0 --round 1
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

# PG_STATS=1: the statements of database $1 that took most time, then the counters reset.
pg_stats() {
  [ "${PG_STATS:-0}" = 1 ] || return 0
  echo "  pg_stat_statements ($1): total ms, calls, mean ms, rows, statement"
  psql_pg -d "$1" -At -F ' | ' -c "SELECT round(total_exec_time::numeric, 1), calls,
      round(mean_exec_time::numeric, 3), rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110)
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$1')
    ORDER BY total_exec_time DESC LIMIT 15" | sed 's/^/    /'
}

rss() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# The resident set now (kB); 0 without a process.
rss_now() { [ -n "$1" ] && awk '/VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_line() { # label pid
  echo "  RSS: after the command runs ${FIG[$1.rss_commands]:-} kB, after loading $QUERY_NODES nodes" \
    "${FIG[$1.rss_loaded]:-} kB, after the queries ${FIG[$1.rss_queried]:-} kB, peak $(rss "$2") kB"
}

# --- PostgreSQL, for ours on PostgreSQL and for PuppetDB ---------------------------------------
RUN_PUPPETDB=1
if [ "${SKIP_PUPPETDB:-0}" = 1 ]; then
  RUN_PUPPETDB=0
  echo "== PuppetDB: skipped (SKIP_PUPPETDB=1)"
elif [ "$(id -u)" != 0 ] && ! dpkg-query -W -f='${Status}' puppetdb 2>/dev/null | grep -q 'ok installed'; then
  RUN_PUPPETDB=0
  echo "== PuppetDB: skipped (not installed, and installing it needs root)"
fi
NEED_PG=$RUN_PUPPETDB
[ "$BACKEND" = sqlite ] || NEED_PG=1
psql_pg() { pdb_psql "$@"; }
if [ "$NEED_PG" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "PostgreSQL's own cluster needs root (runuser postgres); BACKEND=sqlite SKIP_PUPPETDB=1 does not" >&2; exit 1; }
  echo "== PostgreSQL 15 (own cluster in $WORK/pg, 127.0.0.1:$PG_PORT)"
  PG_EXTRA=
  [ "${PG_STATS:-0}" = 1 ] && PG_EXTRA="-c shared_preload_libraries=pg_stat_statements"
  pdb_pg_start "$WORK" "$PG_PORT" "$PG_EXTRA"
  psql_pg -d postgres -c "SHOW synchronous_commit" -c "SHOW fsync" -t | tr -s ' \n' ' ' | sed 's/^/  synchronous_commit, fsync:/'
  echo
fi

# --- ours ------------------------------------------------------------------------------------
declare -A OURS_RSS
for backend in "${OUR_BACKENDS[@]}"; do
  mkdir -p "$WORK/ours-$backend"
  if [ "$backend" = sqlite ]; then
    DATABASE=sqlite:$WORK/ours-sqlite/puppetdb.sqlite
    SERVER_PG=0
  else
    psql_pg -d postgres -c "CREATE ROLE puppet_db_rs LOGIN PASSWORD 'bench'" \
      -c "CREATE DATABASE puppet_db_rs OWNER puppet_db_rs ENCODING 'UTF8' TEMPLATE template0"
    [ "${PG_STATS:-0}" = 1 ] && psql_pg -d puppet_db_rs -c "CREATE EXTENSION pg_stat_statements"
    DATABASE=postgres://puppet_db_rs:bench@127.0.0.1:$PG_PORT/puppet_db_rs
    SERVER_PG=1
  fi
  echo "== puppet-db ($backend: ${DATABASE//:bench@/:***@})"
  : >"$WORK/ours-$backend/out.log" # exists before the server's own redirection does (read below at once)
  T0=$(date +%s%N)
  "$PUPPET_DB" --ssl-cert "$SERVER_CERT" --ssl-key "$SERVER_KEY" --ssl-ca-cert "$CA" --bind 127.0.0.1 \
    --port 0 --database "$DATABASE" >"$WORK/ours-$backend/out.log" 2>"$WORK/ours-$backend/err.log" &
  OURS_PID=$!
  OURS_PORT=
  for _ in $(seq 1 200); do
    OURS_PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/ours-$backend/out.log")
    [ -n "$OURS_PORT" ] && break
    sleep 0.05
  done
  [ -n "$OURS_PORT" ] || { cat "$WORK/ours-$backend/err.log" >&2; exit 1; }
  echo "  listening on $OURS_PORT after $(ms "$T0") ms, RSS $(rss_now "$OURS_PID") kB"
  SERVER_PID=$OURS_PID
  suite "$backend" "$OURS_PORT"
  rss_line "$backend" "$OURS_PID"
  [ "$backend" = postgres ] && pg_stats puppet_db_rs
  OURS_RSS[$backend]=$(rss "$OURS_PID")
  kill "$OURS_PID"; wait "$OURS_PID" 2>/dev/null || true; OURS_PID=
done

# --- the real PuppetDB -----------------------------------------------------------------------
REAL=0
if [ "$RUN_PUPPETDB" = 1 ]; then
  pdb_install
  pdb_pg_createdb puppetdb puppetdb bench
  [ "${PG_STATS:-0}" = 1 ] && psql_pg -d puppetdb -c "CREATE EXTENSION pg_stat_statements"

  echo "== PuppetDB (127.0.0.1:$PDB_PORT, JAVA_ARGS $PDB_JAVA_ARGS)"
  CONF=$WORK/pdbconf
  pdb_configure "$CONF" "$WORK/pdbvar" "$PDB_HTTP_PORT" "$PDB_PORT" "$SERVER_CERT" "$SERVER_KEY" "$CA" \
    "$PG_PORT" puppetdb puppetdb bench
  T0=$(date +%s%N)
  PDB_START_TIMEOUT=${PDB_START_TIMEOUT:-180} pdb_start "$CONF" "$WORK/pdb.log" "$PDB_JAVA_ARGS"
  JAVA_PID=$PDB_JAVA_PID
  echo "  ready after $(ms "$T0") ms"
  SERVER_PID=$JAVA_PID
  SERVER_PG=1
  suite puppetdb "$PDB_PORT"
  rss_line puppetdb "$JAVA_PID"
  pg_stats puppetdb
  REAL_RSS=$(rss "$JAVA_PID")
  REAL=1
fi

# --- the figures -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", a / b; else print "-" }'; }
fig() { echo "${FIG[$1]:--}"; }
has() { [ -n "${FIG[$1]:-}" ]; }
rows=()
for kind in facts catalog report; do
  case $kind in
    facts) name="replace facts (~100 facts)" ;;
    catalog) name="replace catalog ($RESOURCES res.)" ;;
    report) name="store report ($EVENTS events)" ;;
  esac
  rows+=("$name|$kind|1|" "$name|$kind|8|" "  again (stored nodes)|$kind|1|-again")
done
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
echo "commands/s (ratio: ours on PostgreSQL / PuppetDB, the same backend; ours on SQLite / PuppetDB)"
printf '%-34s %3s %10s %10s %10s %8s %8s\n' command cl ours-sqlite ours-pg PuppetDB "pg:PDB" "sq:PDB"
for row in "${rows[@]}"; do
  IFS='|' read -r name kind c again <<<"$row"
  s=$(fig "sqlite$again.$kind.$c.per_s"); p=$(fig "postgres$again.$kind.$c.per_s")
  r=$(fig "puppetdb$again.$kind.$c.per_s")
  printf '%-34s %3s %10s %10s %10s %8s %8s\n' "$name" "$c" "$s" "$p" "$r" \
    "$(ratio "${p/-/0}" "${r/-/0}")" "$(ratio "${s/-/0}" "${r/-/0}")"
done
echo "server CPU ms per command (on PostgreSQL: the server and the PostgreSQL cluster)"
printf '%-34s %3s %10s %10s %10s %8s %8s\n' command cl ours-sqlite ours-pg PuppetDB "PDB:pg" "PDB:sq"
for row in "${rows[@]}"; do
  IFS='|' read -r name kind c again <<<"$row"
  s=$(fig "sqlite$again.$kind.$c.cpu_ms"); p=$(fig "postgres$again.$kind.$c.cpu_ms")
  r=$(fig "puppetdb$again.$kind.$c.cpu_ms")
  printf '%-34s %3s %10s %10s %10s %8s %8s\n' "$name" "$c" "$s" "$p" "$r" \
    "$(ratio "${r/-/0}" "${p/-/0}")" "$(ratio "${r/-/0}" "${s/-/0}")"
done
echo "query ($QUERY_NODES nodes, 1 connection), p50/p99 ms (ratio: PuppetDB's p50 / ours)"
echo "  (catalogs of the query nodes: $QUERY_RESOURCES resources; resources: $RESOURCES_QUERY)"
printf '%-34s %3s %10s %10s %10s %8s %8s\n' query "" ours-sqlite ours-pg PuppetDB "PDB:pg" "PDB:sq"
for q in inventory nodes resources; do
  cell() { has "$1.$q.p50" && echo "${FIG[$1.$q.p50]}/${FIG[$1.$q.p99]}" || echo -; }
  printf '%-34s %3s %10s %10s %10s %8s %8s\n' "  $q" 1 "$(cell sqlite)" "$(cell postgres)" "$(cell puppetdb)" \
    "$(ratio "${FIG[puppetdb.$q.p50]:-0}" "${FIG[postgres.$q.p50]:-0}")" \
    "$(ratio "${FIG[puppetdb.$q.p50]:-0}" "${FIG[sqlite.$q.p50]:-0}")"
done
echo "peak RSS: puppet-db on SQLite ${OURS_RSS[sqlite]:--} kB, on PostgreSQL ${OURS_RSS[postgres]:--} kB (PostgreSQL not counted)$( [ "$REAL" = 1 ] && echo ", PuppetDB (JVM, PostgreSQL not counted) ${REAL_RSS} kB")"
