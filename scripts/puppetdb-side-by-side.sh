#!/bin/bash
# Side by side (issue 11): the real PuppetDB 7.12 and our puppet-db receive the same commands from
# the real Puppetserver's PuppetDB terminus, then answer the same queries; the answers must be the
# same, field for field, apart from what each server generates itself.
#
#   scripts/puppetdb-side-by-side.sh                     # our puppet-db on SQLite
#   BACKEND=postgres scripts/puppetdb-side-by-side.sh    # ours on another database of the cluster
#   KEEP=1 ...                                           # keep the temp dir (and print its path)
#
# Run as root (it installs `puppetdb` with apt-get when missing, runs PostgreSQL as `postgres`).
# Everything lives in a temp directory, on 127.0.0.1; nothing of the machine's own Puppet,
# PuppetDB or PostgreSQL state is used:
#   - a PostgreSQL 15 cluster of its own (127.0.0.1:$PG_PORT), the real PuppetDB on it
#     (https $PDB_PORT, http $PDB_HTTP_PORT) with its own conf.d and vardir (scripts/lib-puppetdb.sh);
#   - our puppet-db on $OURS_PORT (SQLite file, or BACKEND=postgres: database puppetdb_ours);
#   - the real Puppetserver with Debian's PuppetDB terminus (scripts/puppetserver-with-terminus.sh),
#     puppetdb.conf: server_urls = ours (queries: the terminus's exported-resource queries and
#     fact lookups are answered by ours), submit_only_server_urls = the real PuppetDB,
#     command_broadcast = true (every command goes to both). Both servers use the Puppetserver's
#     own certificate (SANs localhost, 127.0.0.1), so the terminus trusts both;
#   - real agent runs of several nodes (own confdir/vardir/ssldir each) with manifests that
#     exercise the data (see write_code below), then `puppet node deactivate` of one node;
#   - once both have stored everything, the queries of tests/fixtures/pdb-side-by-side/queries.txt
#     against both, compared by the pdbdiff example of tests/ (what it normalises: its doc).
# Exit status: pdbdiff's (0 when every answer is the same).
#   PG_PORT=25532 PDB_PORT=28181 PDB_HTTP_PORT=28180 OURS_PORT=28182 PDB_JAVA_ARGS=-Xmx512m \
#   WAIT_TIMEOUT=600 scripts/puppetdb-side-by-side.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
HERE=$REPO/scripts
# shellcheck source=lib-puppetdb.sh
. "$HERE/lib-puppetdb.sh"
BACKEND=${BACKEND:-sqlite}
PG_PORT=${PG_PORT:-25532}
PDB_PORT=${PDB_PORT:-28181}
PDB_HTTP_PORT=${PDB_HTTP_PORT:-28180}
OURS_PORT=${OURS_PORT:-28182}
PDB_JAVA_ARGS=${PDB_JAVA_ARGS:--Xmx512m}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-600}
QUERIES=${QUERIES:-$REPO/tests/fixtures/pdb-side-by-side/queries.txt}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
TERMINUS=$HERE/puppetserver-with-terminus.sh

[ "$(id -u)" = 0 ] || { echo "run as root (PostgreSQL runs as postgres; apt-get)" >&2; exit 2; }
case $BACKEND in sqlite | postgres) ;; *) echo "BACKEND is sqlite or postgres" >&2; exit 2 ;; esac

PUPPET_DB=$TARGET/debug/puppet-db
PDBDIFF=$TARGET/debug/examples/pdbdiff

WORK=$(mktemp -d /tmp/pdb-sbs.XXXXXX)
chmod 0755 "$WORK"
PS=$WORK/ps
OURS_PID=
PS_STARTED=
cleanup() {
  local rc=$?
  if [ -n "$PS_STARTED" ]; then bash "$TERMINUS" stop "$PS" >/dev/null 2>&1 || true; fi
  if [ -n "$OURS_PID" ]; then kill "$OURS_PID" 2>/dev/null || true; wait "$OURS_PID" 2>/dev/null || true; fi
  pdb_stop
  pdb_pg_stop
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

for port in "$PG_PORT" "$PDB_PORT" "$PDB_HTTP_PORT" "$OURS_PORT"; do
  if ss -ltn | awk '{print $4}' | grep -q "^127.0.0.1:$port$\|^\*:$port$\|^0.0.0.0:$port$"; then
    echo "port $port is in use; set PG_PORT, PDB_PORT, PDB_HTTP_PORT or OURS_PORT" >&2
    exit 2
  fi
done

# --- the code the agents get ------------------------------------------------------------------
# Two environments; a module with a class, a defined type, custom facts (plain and structured);
# tags; require/before/notify/subscribe and chaining arrows (edges); a file that changes, an exec
# that fails and a resource that depends on it (skipped), a noop resource, a Sensitive parameter;
# a host exported on one node and collected on another. Files go under $WORK/files only.
write_code() {
  local code=$PS/code/environments files=$WORK/files
  mkdir -p "$files" "$code/production/modules/sbs/"{manifests,lib/facter} "$code/staging/manifests"
  cat >"$code/production/modules/sbs/lib/facter/sbs.rb" <<'RUBY'
Facter.add(:sbs_role) do
  setcode { Puppet[:certname].to_s.split('.').first.sub(/\d+$/, '') }
end
Facter.add(:sbs_struct) do
  setcode do
    { 'level' => 3, 'ratio' => 0.5, 'enabled' => true, 'nothing' => nil,
      'list' => ['a', 'b', { 'deep' => 'x' }], 'nested' => { 'name' => 'n1', 'size' => 10 } }
  end
end
RUBY
  cat >"$code/production/modules/sbs/manifests/init.pp" <<PP
class sbs (String \$motd = 'hello', Integer \$port = 80) {
  tag 'sbs_class_tag'
  file { "$files/\${trusted['certname']}-motd":
    ensure  => file,
    content => "\${motd} from \${facts['sbs_role']} at port \${port}\n",
    tag     => ['motd', 'sbs_file'],
  }
  ~> exec { "refresh-\${trusted['certname']}":
    command     => '/bin/true',
    refreshonly => true,
  }
  notify { 'sbs-done': require => File["$files/\${trusted['certname']}-motd"] }
}
PP
  cat >"$code/production/modules/sbs/manifests/app.pp" <<PP
define sbs::app (Integer \$port, Sensitive[String] \$password = Sensitive('app-s3cret'), Boolean \$enabled = true) {
  notify { "app-\${title}":
    message => "app \${title} on \${port}",
    before  => Notify["app-\${title}-after"],
  }
  notify { "app-\${title}-after": message => "after \${title}" }
  Notify["app-\${title}"] -> Notify['sbs-done']
}
PP
  cat >"$code/production/manifests/site.pp" <<PP
node 'exporter.example.test' {
  class { 'sbs': motd => 'exporting' }
  @@host { 'exported.example.test': ip => '10.0.0.42', host_aliases => ['exp', 'exp2'], tag => 'sbs_export' }
  @@host { 'other.example.test': ip => '10.0.0.43', tag => 'not_collected' }
  notify { 'secret': message => Sensitive('s3cret-value-never-stored') }
}
node /^web\d+\.example\.test\$/ {
  class { 'sbs': port => 8080 }
  sbs::app { ['alpha', 'beta']: port => 8081 }
  Host <<| tag == 'sbs_export' |>> { target => "$files/\${trusted['certname']}-hosts" }
  exec { 'fails': command => '/bin/false', tag => 'failing' }
  notify { 'after-failure': require => Exec['fails'] }
  notify { 'in-noop': message => 'would change', noop => true }
  file { "$files/\${trusted['certname']}-subscriber":
    ensure    => file,
    content   => 'x',
    subscribe => Exec['fails'],
  }
}
node default {
  include sbs
}
PP
  cat >"$code/staging/manifests/site.pp" <<PP
node default {
  notify { 'staging': message => "staging on \${facts['os']['family']}", tag => ['stage'] }
  file { "$files/\${trusted['certname']}-staging": ensure => file, content => 'staged', mode => '0640' }
}
PP
}

# --- PostgreSQL, the real PuppetDB ------------------------------------------------------------
pdb_install
log "PostgreSQL 15 (own cluster, 127.0.0.1:$PG_PORT)"
pdb_pg_start "$WORK" "$PG_PORT"
pdb_pg_createdb puppetdb puppetdb sbs
[ "$BACKEND" = postgres ] && pdb_pg_createdb puppetdb_ours puppetdb_ours sbs

log "Puppetserver with the PuppetDB terminus"
PS_STARTED=1
bash "$TERMINUS" start "$PS" puppet.example.test
write_code
SSL=$PS/ssl
CERT=$SSL/certs/puppet.example.test.pem
KEY=$SSL/private_keys/puppet.example.test.pem
CA=$SSL/certs/ca.pem

log "PuppetDB (127.0.0.1:$PDB_PORT)"
pdb_configure "$WORK/pdbconf" "$WORK/pdbvar" "$PDB_HTTP_PORT" "$PDB_PORT" "$CERT" "$KEY" "$CA" \
  "$PG_PORT" puppetdb puppetdb sbs
pdb_start "$WORK/pdbconf" "$WORK/pdb.log" "$PDB_JAVA_ARGS"

# Built once the JVMs are up (they start slowly; the build overlaps nothing of theirs).
log "building puppet-db and pdbdiff"
(cd "$REPO" && cargo build --quiet -p puppet-bins --bin puppet-db &&
  cargo build --quiet -p puppet-conformance-tests --example pdbdiff)
log "puppet-db ($BACKEND, 127.0.0.1:$OURS_PORT)"
if [ "$BACKEND" = postgres ]; then
  DATABASE=postgres://puppetdb_ours:sbs@127.0.0.1:$PG_PORT/puppetdb_ours
else
  DATABASE=sqlite:$WORK/ours.sqlite
fi
: >"$WORK/ours.log"
"$PUPPET_DB" --ssl-cert "$CERT" --ssl-key "$KEY" --ssl-ca-cert "$CA" --ssl-crl "$SSL/crl.pem" \
  --bind 127.0.0.1 --port "$OURS_PORT" --database "$DATABASE" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!
for _ in $(seq 1 300); do
  grep -q "listening on" "$WORK/ours.log" && break
  kill -0 "$OURS_PID" 2>/dev/null || { cat "$WORK/ours.log" >&2; exit 1; }
  sleep 0.1
done

bash "$TERMINUS" point "$PS" "https://localhost:$OURS_PORT" "https://localhost:$PDB_PORT"

# --- agent runs -------------------------------------------------------------------------------
agent() { # certname [puppet args]
  log "agent $1"
  AGENT_OK_CODES="4 6" bash "$TERMINUS" agent "$PS" "$@" >"$WORK/agent-$1.log" 2>&1 ||
    { tail -30 "$WORK/agent-$1.log" >&2; exit 1; }
}
# A trusted extension (pp_role) for one node, from its CSR.
mkdir -p "$PS/agents/web1.example.test/conf"
printf -- '---\nextension_requests:\n  pp_role: webserver\n  pp_datacenter: dc1\n' \
  >"$PS/agents/web1.example.test/conf/csr_attributes.yaml"
agent exporter.example.test
agent web1.example.test
agent web2.example.test
agent db1.example.test --environment staging
agent web1.example.test # second run: unchanged resources, the failure again
agent old1.example.test
RUNS=6
log "puppet node deactivate old1.example.test"
bash "$TERMINUS" deactivate "$PS" old1.example.test >"$WORK/deactivate.log" 2>&1 ||
  { cat "$WORK/deactivate.log" >&2; exit 1; }

# --- both have stored everything ----------------------------------------------------------------
CLIENT=(--ca "$CA" --cert "$CERT" --key "$KEY")
log "waiting until both servers hold $RUNS reports and the deactivation"
"$PDBDIFF" "${CLIENT[@]}" --ours "$OURS_PORT" --theirs "$PDB_PORT" \
  --wait-reports "$RUNS" --wait-deactivated old1.example.test --timeout "$WAIT_TIMEOUT"

log "comparing ($QUERIES)"
rc=0
"$PDBDIFF" "${CLIENT[@]}" --ours "$OURS_PORT" --theirs "$PDB_PORT" --queries "$QUERIES" \
  --save "${SAVE:-$WORK/answers.jsonl}" || rc=$?
if [ "${HOLD:-0}" = 1 ]; then
  # For working on a difference: everything keeps running until $WORK/stop exists.
  echo "HOLD=1: running until $WORK/stop exists. Ours: PID $OURS_PID (in $WORK/ours.pid), port $OURS_PORT, $DATABASE" >&2
  echo "  again: $PDBDIFF ${CLIENT[*]} --ours $OURS_PORT --theirs $PDB_PORT --queries $QUERIES" >&2
  echo "  agent: AGENT_OK_CODES='4 6' bash $TERMINUS agent $PS CERTNAME" >&2
  echo "$OURS_PID" >"$WORK/ours.pid"
  while [ ! -e "$WORK/stop" ]; do sleep 2; done
  OURS_PID=$(cat "$WORK/ours.pid")
fi
exit "$rc"
