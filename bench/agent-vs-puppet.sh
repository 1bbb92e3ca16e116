#!/usr/bin/env bash
# Whole-process agent runs, ours (bins/puppet-agent, release build) against the real Puppet 7
# agent, both against the same real Puppetserver 7 (started here from a temp dir on 127.0.0.1
# by scripts/lib-puppetserver.sh), for catalogs of 10, 100 and 1000 file resources:
#   first run     - the managed files removed before each run (everything is created)
#   no-change run - everything already in place
# Prints mean times (hyperfine), ratios real/ours, and peak RSS (/usr/bin/time -f %M).
#
# Usage: bench/agent-vs-puppet.sh [runs]   (default 5 runs per measurement)
# Needs: puppetserver, puppet, hyperfine, /usr/bin/time, cargo. Touches nothing outside its temp dir.
set -euo pipefail
RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib-puppetserver.sh"
WORK=$(mktemp -d /tmp/agent-bench.XXXXXX)
trap 'ps_stop "$WORK"; rm -rf "$WORK"' EXIT

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
echo "building puppet-agent (release)" >&2
cargo build --release -q -p puppet-bins --bin puppet-agent --manifest-path "$ROOT/Cargo.toml"
OURS=$CARGO_TARGET_DIR/release/puppet-agent

ps_install
ps_configure "$WORK" puppet.example.test true
mkdir -p "$WORK/code/environments/production/modules/benchfiles/manifests" "$WORK/out"
cat >"$WORK/code/environments/production/modules/benchfiles/manifests/init.pp" <<'PP'
class benchfiles(Integer $count, String $dir) {
  file { $dir: ensure => directory }
  Integer[1, $count].each |$i| {
    file { "${dir}/f${i}": ensure => file, content => "file ${i}\n", mode => '0644' }
  }
}
PP
cat >"$WORK/code/environments/production/manifests/site.pp" <<PP
node /^bench(\d+)-(\w+)\./ { class { 'benchfiles': count => Integer(\$1), dir => "$WORK/out/\${1}-\${2}" } }
node default { }
PP
ps_start "$WORK"

agent_cmd() { # kind certname
  local kind=$1 cn=$2 d="$WORK/agents/$2"
  mkdir -p "$d/conf"
  local common="--confdir $d/conf --vardir $d/var --ssldir $d/ssl --publicdir $d/public --server localhost --masterport $PS_PORT --certname $cn --keylength 2048 --onetime --no-daemonize --detailed-exitcodes"
  if [ "$kind" = ours ]; then
    echo "$OURS $common --color false"
  else
    echo "puppet agent $common --logdir $d/log --rundir $d/run --codedir $d/code --color false"
  fi
}

printf '\nload before: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-9s %12s %12s %8s %10s %10s\n' files run "real (s)" "ours (s)" ratio "real RSS" "ours RSS"
for n in 10 100 1000; do
  for mode in first nochange; do
    declare -A mean rss
    for kind in real ours; do
      cn="bench$n-$kind.example.test"
      cmd=$(agent_cmd "$kind" "$cn")
      # Bootstrap and converge once (not measured).
      $cmd >/dev/null 2>&1 || true
      prep="true"
      [ "$mode" = first ] && prep="rm -rf $WORK/out/$n-$kind"
      hyperfine -N --runs "$RUNS" --prepare "$prep" -i --export-json "$WORK/h.json" "$cmd" >/dev/null 2>&1 ||
        { echo "hyperfine failed for: $cmd" >&2; exit 1; }
      mean[$kind]=$(python3 -c "import json;print('%.3f'%json.load(open('$WORK/h.json'))['results'][0]['mean'])")
      eval "$prep"
      /usr/bin/time -f %M -o "$WORK/rss" $cmd >/dev/null 2>&1 || true
      rss[$kind]=$(tail -1 "$WORK/rss")
    done
    ratio=$(python3 -c "print('%.1fx'%(${mean[real]}/${mean[ours]}))")
    printf '%-6s %-9s %12s %12s %8s %9sK %9sK\n' "$n" "$mode" "${mean[real]}" "${mean[ours]}" "$ratio" "${rss[real]}" "${rss[ours]}"
  done
done
printf 'load after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
for kind in ours real; do
  echo "where the time goes, $kind, 1000 files, last run (last_run_summary.yaml):"
  sed -n '/^time:/,/^changes:/p' "$WORK/agents/bench1000-$kind.example.test/public/last_run_summary.yaml" | sed '$d'
done
