#!/usr/bin/env bash
# The main job, end to end on one machine: start our master from nothing (a copy of the demo
# confdir in fixtures/master/demo), then run Debian's real Puppet 7 agent against it twice:
# the first run bootstraps (key, CSR, autosign, CA and CRL), pluginsyncs, sends its facts,
# applies a static catalog and sends its report (exit code 2: changes); the second run changes
# nothing (exit code 0). Everything lives in a temporary directory, removed at the end unless
# KEEP=1; nothing touches the machine's own Puppet state.
#
#   scripts/demo.sh                # Debian's real Puppet agent against our master
#   scripts/demo.sh --our-agent    # our puppet-agent against our master: no Ruby at all
#   scripts/demo.sh --puppet-db    # the same, with our puppet-db beside the master (embedded
#                                  # SQLite): the master sends it the agent's facts, catalog and
#                                  # report; then PuppetDB queries (PQL and AST) are asked of it
#
# Needs: cargo, and (without --our-agent or --puppet-db) Debian's puppet-agent (apt-get install
# puppet-agent); --puppet-db also needs curl (the queries are plain HTTPS with the master's
# certificate, as `puppet query` sends them).
set -euo pipefail
cd "$(dirname "$0")/.."

ours=0
pdb=0
case "${1:-}" in
  --our-agent) ours=1 ;;
  --puppet-db) ours=1; pdb=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--our-agent | --puppet-db]" >&2; exit 2 ;;
esac
if [ "$pdb" = 1 ]; then
  command -v curl >/dev/null || { echo "demo: --puppet-db needs curl (apt-get install curl)" >&2; exit 1; }
fi

if [ "$ours" = 0 ]; then
  command -v puppet >/dev/null || {
    echo "demo: the real Puppet agent is needed: apt-get install puppet-agent (or use --our-agent)" >&2
    exit 1
  }
fi

echo "demo: building puppet-master and puppet-agent (a first build takes a minute or two)"
if [ "$pdb" = 1 ]; then
  cargo build -q -p puppet-bins --bin puppet-master --bin puppet-agent --bin puppet-ca --bin puppet-db
else
  cargo build -q -p puppet-bins --bin puppet-master --bin puppet-agent
fi
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
master_bin="$target_dir/debug/puppet-master"
agent_bin="$target_dir/debug/puppet-agent"

work="$(mktemp -d -t puppet-rs-demo.XXXXXX)"
master_pid=""
pdb_pid=""
cleanup() {
  for pid in $master_pid $pdb_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "demo: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Waits for "listening on ADDR:PORT" in FILE (the process PID must stay alive); prints PORT.
listen_port() {
  local file=$1 pid=$2 log=$3 port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$file")"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$log" >&2; return 1; }
  echo "$port"
}

cp -r fixtures/master/demo "$work/master"
if [ "$pdb" = 1 ]; then
  # The master's CA made first, so that puppet-db's certificate comes from it (as a real
  # PuppetDB's comes from the Puppetserver's CA); the master opens the CA it finds.
  ca_bin="$target_dir/debug/puppet-ca"
  "$ca_bin" --cadir "$work/master/ca" setup --ca-name "Puppet CA: puppet.example.test" >/dev/null
  "$ca_bin" --cadir "$work/master/ca" generate --certname localhost \
    --subject-alt-names IP:127.0.0.1 --ssldir "$work/db/ssl" >/dev/null
  "$target_dir/debug/puppet-db" --ssl-cert "$work/db/ssl/certs/localhost.pem" \
    --ssl-key "$work/db/ssl/private_keys/localhost.pem" --ssl-ca-cert "$work/master/ca/ca_crt.pem" \
    --bind 127.0.0.1 --port 0 --database "sqlite:$work/db/puppetdb.sqlite" \
    >"$work/db.out" 2>"$work/db.log" &
  pdb_pid=$!
  pdb_port="$(listen_port "$work/db.out" "$pdb_pid" "$work/db.log")" ||
    { echo "demo: puppet-db did not start" >&2; exit 1; }
  echo "demo: $(cat "$work/db.out")"
  # PuppetDB's usual terminus configuration, in the master's confdir.
  printf '%s\n' "storeconfigs = true" "storeconfigs_backend = puppetdb" \
    "reports = store,puppetdb" >>"$work/master/puppet.conf"
  printf '[main]\nserver_urls = https://localhost:%s\n' "$pdb_port" >"$work/master/puppetdb.conf"
fi
"$master_bin" --confdir "$work/master" --bind 127.0.0.1 --port 0 >"$work/master.out" 2>"$work/master.log" &
master_pid=$!
port="$(listen_port "$work/master.out" "$master_pid" "$work/master.log")" ||
  { echo "demo: the master did not start" >&2; exit 1; }
echo "demo: $(cat "$work/master.out")"

agent() {
  if [ "$ours" = 1 ]; then
    FACTER_puppet_rs_target="$work/managed" "$agent_bin" --test --detailed-exitcodes \
      --server localhost --masterport "$port" --certname demo-agent.example.test \
      --confdir "$work/agent/conf" --vardir "$work/agent/var" --ssldir "$work/agent/ssl" \
      --publicdir "$work/agent/public" --keylength 2048 --color false
    return
  fi
  FACTER_puppet_rs_target="$work/managed" puppet agent --test --detailed-exitcodes \
    --server localhost --masterport "$port" --certname demo-agent.example.test \
    --confdir "$work/agent/conf" --vardir "$work/agent/var" --ssldir "$work/agent/ssl" \
    --publicdir "$work/agent/public" --logdir "$work/agent/log" --rundir "$work/agent/run" \
    --keylength 2048 --color false
}

status=0
for run in 1 2; do
  echo "demo: agent run $run"
  set +e
  agent
  code=$?
  set -e
  echo "demo: agent run $run exited $code"
  case "$run:$code" in
    1:2 | 2:0) ;;
    *) status=1 ;;
  esac
done

echo "demo: managed files:"
ls -l "$work/managed"
echo "demo: what the master stored:"
(cd "$work/master" && find data -type f | sort)
echo "demo: master log:"
cat "$work/master.log"
if [ "$pdb" = 1 ]; then
  # Queries as `puppet query` sends them: GET /pdb/query/v4?query=..., the master's certificate.
  pdb_query() {
    echo "demo: puppet-db: $1"
    curl -sS --fail-with-body --cacert "$work/master/ca/ca_crt.pem" \
      --cert "$work/master/ssl/certs/puppet.example.test.pem" \
      --key "$work/master/ssl/private_keys/puppet.example.test.pem" \
      -G "https://localhost:$pdb_port/pdb/query/v4${2:-}" --data-urlencode "query=$1" || return 1
    echo
  }
  pdb_query 'nodes[certname, latest_report_status, catalog_environment] {}' || status=1
  pdb_query 'inventory[certname, facts.os.family, facts.kernel] { facts.kernel = "Linux" }' || status=1
  pdb_query 'resources[type, title] { certname = "demo-agent.example.test" and type = "File" }' || status=1
  pdb_query '["extract", [["function", "count"], "status"], ["=", "certname", "demo-agent.example.test"], ["group_by", "status"]]' /reports || status=1
fi
if [ "$status" = 0 ]; then
  echo "demo: OK (first run applied changes, second run changed nothing)"
else
  echo "demo: FAILED (expected exit codes 2 then 0$([ "$pdb" = 1 ] && echo ", and puppet-db's answers"))" >&2
fi
exit "$status"
