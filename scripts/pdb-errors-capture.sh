#!/bin/bash
# Captures the real PuppetDB 7.12's answers to malformed queries (PQL that does not parse,
# JSON that is not JSON) into puppet-db/tests/fixtures/pdb-errors.json, which the table test
# puppet-db/tests/errors.rs compares puppet-db's error texts with. The queries are
# puppet-db/tests/fixtures/pdb-errors-queries.txt (one per line: ENDPOINT QUERY).
#
#   scripts/pdb-errors-capture.sh                  as root: starts PuppetDB (Debian's
#                                                  `puppetdb` package, on a PostgreSQL cluster of
#                                                  its own, from a temp dir; lib-puppetdb.sh)
#   PDB_URL=http://127.0.0.1:28180 scripts/...     asks a PuppetDB already running (its plain
#                                                  HTTP port); anyone may run that
#
# Ports when it starts PuppetDB: PG_PORT (25532), PDB_PORT (28181), PDB_HTTP_PORT (28180).
# Needs curl, jq, and openssl (a throwaway CA for PuppetDB's TLS port).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUERIES=$ROOT/puppet-db/tests/fixtures/pdb-errors-queries.txt
OUT=${OUT:-$ROOT/puppet-db/tests/fixtures/pdb-errors.json}

WORK=
cleanup() {
  if [ -n "$WORK" ]; then
    pdb_stop
    pdb_pg_stop
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

if [ -z "${PDB_URL:-}" ]; then
  # shellcheck source=scripts/lib-puppetdb.sh
  . "$ROOT/scripts/lib-puppetdb.sh"
  PG_PORT=${PG_PORT:-25532} PDB_PORT=${PDB_PORT:-28181} PDB_HTTP_PORT=${PDB_HTTP_PORT:-28180}
  pdb_install
  WORK=$(mktemp -d /tmp/pdb-errors.XXXXXX)
  chmod 0755 "$WORK"
  mkdir "$WORK/ssl"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ssl/ca.key" -out "$WORK/ssl/ca.pem" \
    -days 2 -subj /CN=pdb-errors-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$WORK/ssl/key.pem" -out "$WORK/ssl/csr.pem" \
    -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$WORK/ssl/ext"
  openssl x509 -req -in "$WORK/ssl/csr.pem" -CA "$WORK/ssl/ca.pem" -CAkey "$WORK/ssl/ca.key" \
    -CAcreateserial -out "$WORK/ssl/cert.pem" -days 2 -extfile "$WORK/ssl/ext" 2>/dev/null
  pdb_pg_start "$WORK" "$PG_PORT"
  pdb_pg_createdb puppetdb puppetdb errors
  pdb_configure "$WORK/conf" "$WORK/var" "$PDB_HTTP_PORT" "$PDB_PORT" "$WORK/ssl/cert.pem" \
    "$WORK/ssl/key.pem" "$WORK/ssl/ca.pem" "$PG_PORT" puppetdb puppetdb errors
  pdb_start "$WORK/conf" "$WORK/pdb.log"
  PDB_URL=http://127.0.0.1:$PDB_HTTP_PORT
fi

version=$(curl -sf "$PDB_URL/pdb/meta/v1/version" | jq -r .version)
entries=()
n=0
while IFS= read -r line; do
  case $line in '#'* | '') continue ;; esac
  endpoint=${line%% *}
  query=${line#* }
  [ "$query" = "$line" ] && query=
  query=${query//<NL>/$'\n'}
  query=${query//<CR>/$'\r'}
  query=${query//<TAB>/$'\t'}
  query=${query//<VT>/$'\v'}
  path=/pdb/query/v4
  [ "$endpoint" = root ] || path=$path/$endpoint
  body=$(mktemp)
  meta=$(curl -s -o "$body" -w '%{http_code} %{content_type}' -G "$PDB_URL$path" \
    --data-urlencode "query=$query")
  entries+=("$(jq -n --arg endpoint "$endpoint" --arg query "$query" \
    --argjson status "${meta%% *}" --arg content_type "${meta#* }" --rawfile body "$body" \
    '{endpoint: $endpoint, query: $query, status: $status, content_type: $content_type,
      body: $body}')")
  rm -f "$body"
  n=$((n + 1))
done <"$QUERIES"

printf '%s\n' "${entries[@]}" | jq -s --arg version "$version" \
  '{captured_from: ("PuppetDB " + $version + " by scripts/pdb-errors-capture.sh"),
    answers: .}' >"$OUT"
echo "$n answers of PuppetDB $version in $OUT"
