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
#
# Needs: cargo, and (without --our-agent) Debian's puppet-agent (apt-get install puppet-agent).
set -euo pipefail
cd "$(dirname "$0")/.."

ours=0
case "${1:-}" in
  --our-agent) ours=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--our-agent]" >&2; exit 2 ;;
esac

if [ "$ours" = 0 ]; then
  command -v puppet >/dev/null || {
    echo "demo: the real Puppet agent is needed: apt-get install puppet-agent (or use --our-agent)" >&2
    exit 1
  }
fi

echo "demo: building puppet-master and puppet-agent (a first build takes a minute or two)"
cargo build -q -p puppet-bins --bin puppet-master --bin puppet-agent
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
master_bin="$target_dir/debug/puppet-master"
agent_bin="$target_dir/debug/puppet-agent"

work="$(mktemp -d -t puppet-rs-demo.XXXXXX)"
master_pid=""
cleanup() {
  if [ -n "$master_pid" ]; then
    kill "$master_pid" 2>/dev/null || true
    wait "$master_pid" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "demo: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

cp -r fixtures/master/demo "$work/master"
"$master_bin" --confdir "$work/master" --bind 127.0.0.1 --port 0 >"$work/master.out" 2>"$work/master.log" &
master_pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/master.out")"
  [ -n "$port" ] && break
  kill -0 "$master_pid" 2>/dev/null || { cat "$work/master.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "demo: the master did not start" >&2; cat "$work/master.log" >&2; exit 1; }
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
if [ "$status" = 0 ]; then
  echo "demo: OK (first run applied changes, second run changed nothing)"
else
  echo "demo: FAILED (expected exit codes 2 then 0)" >&2
fi
exit "$status"
