#!/bin/bash
# The real Puppetserver 7 (Debian) serving static catalogs from a puppet-filesync store, through
# our `puppet-filesync code-id` / `code-content` as its versioned-code hook, to a real agent:
#
#   1. a staging codedir (a `motd` module with a sourced file) is published with
#      `puppet-filesync publish`; Puppetserver's environmentpath is the store's environments/;
#   2. `puppet agent -t` gets a catalog whose code_id is the store's live code_id, with the file's
#      metadata inlined (a static catalog), and fetches the content from
#      /puppet/v3/static_file_content with that code_id;
#   3. version two is published; the next agent run gets the new code_id and content, while the
#      old code_id still serves the old content (curl with the agent's certificate), and an
#      unknown code_id is refused.
#
# Everything runs on 127.0.0.1 (port $PS_PORT, random by default) from a temp directory; nothing
# under /etc/puppet is changed. Needs root (apt-get, puppetserver). Prints PASS/FAIL per check and
# exits non-zero if any check failed.
#
#   scripts/filesync-puppetserver.sh                  # builds puppet-filesync with cargo
#   PUPPET_FILESYNC=/path/to/puppet-filesync scripts/filesync-puppetserver.sh
#   KEEP=1 scripts/filesync-puppetserver.sh           # keep the temp directory
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib-puppetserver.sh
. "$REPO/scripts/lib-puppetserver.sh"

FAILS=0
CHECKS=0
check() { # check NAME COMMAND...
  local name=$1
  shift
  CHECKS=$((CHECKS + 1))
  if "$@" >"$WORK/last-check.out" 2>&1; then
    echo "PASS  $name"
  else
    echo "FAIL  $name"
    sed 's/^/      | /' "$WORK/last-check.out" | tail -15
    FAILS=$((FAILS + 1))
  fi
}
contains() { grep -qF -- "$2" "$1"; }

[ "$(id -u)" = 0 ] || { echo "run as root (installs and runs puppetserver)" >&2; exit 2; }
ps_install || { echo "puppetserver is not installed and could not be" >&2; exit 2; }
if [ -z "${PUPPET_FILESYNC:-}" ]; then
  (cd "$REPO" && cargo build -q --bin puppet-filesync) || exit 2
  PUPPET_FILESYNC=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    sed -E 's/.*"target_directory":"([^"]*)".*/\1/')/debug/puppet-filesync
fi
[ -x "$PUPPET_FILESYNC" ] || { echo "no puppet-filesync binary at $PUPPET_FILESYNC" >&2; exit 2; }

WORK=$(mktemp -d /tmp/filesync-puppetserver.XXXXXX)
S=$WORK/server
AG=$WORK/agent
STORE=$WORK/store
STAGING=$WORK/staging
OUT=$WORK/out
cleanup() {
  ps_stop "$S"
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
echo "puppet-filesync: $PUPPET_FILESYNC; puppetserver $(dpkg-query -W -f='${Version}' puppetserver 2>/dev/null); work dir $WORK"

# The code: one module with a sourced file, published into the store.
mkdir -p "$STAGING/environments/production/manifests" "$STAGING/environments/production/modules/motd/files" "$OUT"
cat >"$STAGING/environments/production/manifests/site.pp" <<EOF
node default {
  file { '$OUT/motd': ensure => file, source => 'puppet:///modules/motd/motd' }
}
EOF
echo "version one" >"$STAGING/environments/production/modules/motd/files/motd"
publish() { "$PUPPET_FILESYNC" --store "$STORE" publish --staging "$STAGING"; }
check "publish version one" publish
ID1=$("$PUPPET_FILESYNC" --store "$STORE" code-id production)
echo "      code_id one: $ID1"

# The hook, as Puppetserver runs it: an executable taking only its arguments.
mkdir -p "$WORK/bin"
for verb in code-id code-content; do
  printf '#!/bin/sh\nexec %s --store %s %s "$@"\n' "$PUPPET_FILESYNC" "$STORE" "$verb" >"$WORK/bin/$verb"
  chmod 755 "$WORK/bin/$verb"
done

ps_configure "$S" localhost true
cat >>"$S/conf/puppet.conf" <<EOF
environment_timeout = 0
[main]
environmentpath = $STORE/environments
EOF
cat >>"$S/ps/conf.d/puppetserver.conf" <<EOF

versioned-code: {
    code-id-command: $WORK/bin/code-id
    code-content-command: $WORK/bin/code-content
}
EOF

if ! ps_start "$S"; then
  check "puppetserver starts with our versioned-code hook" false
  echo "== $((CHECKS - FAILS))/$CHECKS checks passed"
  exit 1
fi

agent() {
  puppet agent -t --debug --confdir "$AG/conf" --vardir "$AG/var" --ssldir "$AG/ssl" --logdir "$AG/log" \
    --rundir "$AG/run" --codedir "$AG/code" --publicdir "$AG/public" --server localhost \
    --serverport "$PS_PORT" --ca_port "$PS_PORT" --certname agent1.filesync.test --keylength 2048 \
    --waitforcert 0 "$@"
}
catalog_code_id() { sed -E 's/.*"code_id":"([^"]*)".*/\1/' "$AG/var/client_data/catalog/agent1.filesync.test.json"; }

agent >"$WORK/agent-run1.txt" 2>&1
rc=$?
check "agent run 1 succeeds (exit 0 or 2)" [ "$rc" = 0 -o "$rc" = 2 ]
check "agent run 1: file has version one" contains "$OUT/motd" "version one"
check "agent run 1: catalog code_id is the store's" [ "$(catalog_code_id)" = "$ID1" ]
check "agent run 1: the file's metadata is inlined (static catalog)" \
  contains "$AG/var/client_data/catalog/agent1.filesync.test.json" '"content_uri":"puppet:///modules/motd/files/motd"'
check "agent run 1: content came from static_file_content with that code_id" \
  grep -E "static_file_content/modules/motd/files/motd\?.*code_id=$ID1" "$WORK/agent-run1.txt"

echo "version two" >"$STAGING/environments/production/modules/motd/files/motd"
check "publish version two" publish
ID2=$("$PUPPET_FILESYNC" --store "$STORE" code-id production)
echo "      code_id two: $ID2"
check "a new code_id" [ "$ID1" != "$ID2" ]

agent >"$WORK/agent-run2.txt" 2>&1
rc=$?
check "agent run 2 succeeds (exit 0 or 2)" [ "$rc" = 0 -o "$rc" = 2 ]
check "agent run 2: file has version two" contains "$OUT/motd" "version two"
check "agent run 2: catalog code_id is the new one" [ "$(catalog_code_id)" = "$ID2" ]

fetch() { # fetch CODE_ID: static_file_content with the agent's certificate
  curl -sS --fail --cacert "$AG/ssl/certs/ca.pem" --cert "$AG/ssl/certs/agent1.filesync.test.pem" \
    --key "$AG/ssl/private_keys/agent1.filesync.test.pem" \
    "https://127.0.0.1:$PS_PORT/puppet/v3/static_file_content/modules/motd/files/motd?environment=production&code_id=$1"
}
check "static_file_content by the old code_id still serves version one" \
  bash -c "[ \"\$($(declare -f fetch); AG='$AG' PS_PORT='$PS_PORT' fetch '$ID1')\" = 'version one' ]"
check "static_file_content by the new code_id serves version two" \
  bash -c "[ \"\$($(declare -f fetch); AG='$AG' PS_PORT='$PS_PORT' fetch '$ID2')\" = 'version two' ]"
check "an unknown code_id is refused (our command exits 1, Puppetserver answers 500)" \
  bash -c "! ( $(declare -f fetch); AG='$AG' PS_PORT='$PS_PORT' fetch $(printf '0%.0s' $(seq 64)) )"

echo "== $((CHECKS - FAILS))/$CHECKS checks passed"
[ "$FAILS" = 0 ]
