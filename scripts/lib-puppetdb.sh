# The real PuppetDB 7 (Debian's `puppetdb` package) on a PostgreSQL 15 cluster of its own, entirely
# from a temp directory, on 127.0.0.1 (source it, do not run it). Used by
# scripts/puppetdb-side-by-side.sh and bench/puppetdb-vs-puppet-db.sh.
#
#   pdb_pg_start WORK PORT [OPTS]   initdb WORK/pg (run as `postgres`, trust auth, socket dir
#                                   WORK/pgsock), start it on 127.0.0.1:PORT (OPTS: more server
#                                   options, e.g. `-c shared_preload_libraries=...`); sets PDB_PG_DIR
#   pdb_pg_createdb DB ROLE PASS    a database owned by a login role, with pg_trgm (PuppetDB's
#                                   regex indexes need it)
#   pdb_pg_stop                     stop the cluster started by pdb_pg_start (if any)
#   pdb_install                     apt-get install puppetdb when missing (dbconfig-common told not
#                                   to create a database); fails without root
#   pdb_configure CONF VARDIR HTTP_PORT SSL_PORT CERT KEY CA PG_PORT DB ROLE PASS
#                                   conf.d: jetty.ini, database.ini, config.ini, the package's
#                                   auth.conf
#   pdb_start CONF LOG [JAVA_ARGS]  start PuppetDB's JVM (the package's java command line), wait
#                                   (PDB_START_TIMEOUT s, default 600) until
#                                   /status/v1/services/puppetdb-status says running on the HTTP
#                                   port of CONF/jetty.ini; sets PDB_JAVA_PID
#   pdb_stop                        stop that JVM (only that PID)
#   pdb_build_ours REPO             build our puppet-db, puppet-ca and the pdbload example
#                                   (PROFILE=release by default; PROFILE=debug checks a script
#                                   quickly, its figures mean nothing then); sets BIN, PDBLOAD,
#                                   PUPPET_CA, PUPPET_DB
#
# Nothing of the machine's own PuppetDB or PostgreSQL configuration is used or changed.

PDB_PGBIN=${PDB_PGBIN:-/usr/lib/postgresql/15/bin}
PDB_PG_DIR=
PDB_PG_SOCK=
PDB_PG_PORT=
PDB_JAVA_PID=

pdb_pg_start() {
  local work=$1 port=$2 opts=${3:-}
  PDB_PG_DIR=$work/pg
  PDB_PG_SOCK=$work/pgsock
  PDB_PG_PORT=$port
  install -d -o postgres -g postgres -m 0700 "$PDB_PG_DIR" "$PDB_PG_SOCK"
  runuser -u postgres -- "$PDB_PGBIN/initdb" -D "$PDB_PG_DIR" -E UTF8 --auth=trust >/dev/null
  runuser -u postgres -- "$PDB_PGBIN/pg_ctl" -D "$PDB_PG_DIR" -l "$PDB_PG_DIR/log" -w \
    -o "-p $port -k $PDB_PG_SOCK -c listen_addresses=127.0.0.1${opts:+ $opts}" start >/dev/null
}

# psql as `postgres` on the cluster of pdb_pg_start.
pdb_psql() {
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$PDB_PG_SOCK" -p "$PDB_PG_PORT" "$@"
}

pdb_pg_createdb() {
  local db=$1 role=$2 pass=$3
  pdb_psql -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')
    THEN CREATE ROLE $role LOGIN PASSWORD '$pass'; END IF; END \$\$" \
    -c "CREATE DATABASE $db OWNER $role ENCODING 'UTF8' TEMPLATE template0"
  pdb_psql -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_trgm"
}

pdb_pg_stop() {
  [ -n "$PDB_PG_DIR" ] || return 0
  runuser -u postgres -- "$PDB_PGBIN/pg_ctl" -D "$PDB_PG_DIR" -m fast stop >/dev/null 2>&1 || true
  PDB_PG_DIR=
}

pdb_install() {
  dpkg-query -W -f='${Status}' puppetdb 2>/dev/null | grep -q 'ok installed' && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "puppetdb is not installed, and installing it needs root" >&2
    return 1
  fi
  echo "installing puppetdb (apt-get)" >&2
  echo 'puppetdb puppetdb/dbconfig-install boolean false' | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y puppetdb >/dev/null
}

pdb_configure() {
  local conf=$1 vardir=$2 http_port=$3 ssl_port=$4 cert=$5 key=$6 ca=$7 pg_port=$8 db=$9 role=${10} pass=${11}
  mkdir -p "$conf" "$vardir"
  # The package's authorization rules (trapperkeeper's auth.conf: status open, metrics local).
  cp /etc/puppetdb/conf.d/auth.conf "$conf/"
  cat >"$conf/jetty.ini" <<EOF
[jetty]
host = 127.0.0.1
port = $http_port
ssl-host = 127.0.0.1
ssl-port = $ssl_port
ssl-key = $key
ssl-cert = $cert
ssl-ca-cert = $ca
EOF
  cat >"$conf/database.ini" <<EOF
[database]
subname = //127.0.0.1:$pg_port/$db
username = $role
password = $pass
EOF
  cat >"$conf/config.ini" <<EOF
[global]
vardir = $vardir
logging-config = /etc/puppetdb/logback.xml
EOF
}

pdb_start() {
  local conf=$1 log=$2 java_args=${3:--Xmx512m} http_port
  http_port=$(sed -n 's/^port = //p' "$conf/jetty.ini")
  # shellcheck disable=SC2086 # java_args is a list of words
  java $java_args -Djava.security.egd=/dev/urandom -XX:OnOutOfMemoryError="kill -9 %p" \
    -cp /usr/share/puppetdb/puppetdb.jar clojure.main -m puppetlabs.puppetdb.core services \
    --config "$conf" --bootstrap-config /etc/puppetdb/bootstrap.cfg >"$log" 2>&1 </dev/null &
  PDB_JAVA_PID=$!
  local deadline=$(($(date +%s) + ${PDB_START_TIMEOUT:-600}))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if ! kill -0 "$PDB_JAVA_PID" 2>/dev/null; then
      echo "PuppetDB exited; last lines of $log:" >&2
      tail -30 "$log" >&2
      PDB_JAVA_PID=
      return 1
    fi
    if curl -sf --max-time 2 "http://127.0.0.1:$http_port/status/v1/services/puppetdb-status" |
      grep -q '"state":"running"'; then
      return 0
    fi
    sleep 0.2
  done
  echo "PuppetDB did not become ready in ${PDB_START_TIMEOUT:-600} s; last lines of $log:" >&2
  tail -30 "$log" >&2
  return 1
}

pdb_stop() {
  [ -n "$PDB_JAVA_PID" ] || return 0
  kill "$PDB_JAVA_PID" 2>/dev/null || true
  wait "$PDB_JAVA_PID" 2>/dev/null || true
  PDB_JAVA_PID=
}

pdb_build_ours() {
  local repo=$1 flag=--release
  PROFILE=${PROFILE:-release}
  [ "$PROFILE" = release ] || flag=
  (cd "$repo" && cargo build --quiet $flag -p puppet-bins --bin puppet-db --bin puppet-ca &&
    cargo build --quiet $flag -p puppet-conformance-tests --example pdbload)
  BIN=${CARGO_TARGET_DIR:-$repo/target}/$PROFILE
  PDBLOAD=$BIN/examples/pdbload
  PUPPET_CA=$BIN/puppet-ca
  PUPPET_DB=$BIN/puppet-db
}
