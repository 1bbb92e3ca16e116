#!/bin/bash
# The real Puppetserver with Debian's PuppetDB terminus (puppet-terminus-puppetdb) pointed at
# a PuppetDB of our choice (puppet-db), entirely from a temp directory (scripts/lib-puppetserver.sh).
# Used by puppet-db's test real_terminus.rs; usable by hand.
#
#   scripts/puppetserver-with-terminus.sh start DIR CERTNAME   # configure + start; prints "port PORT"
#   scripts/puppetserver-with-terminus.sh point DIR PDB_URL [SUBMIT_ONLY_URL]
#                                                              # write DIR/conf/puppetdb.conf (read lazily
#                                                              # by the terminus, so it may come after start);
#                                                              # with SUBMIT_ONLY_URL, commands are broadcast
#                                                              # to both (submit_only_server_urls,
#                                                              # command_broadcast), queries go to PDB_URL
#   scripts/puppetserver-with-terminus.sh agent DIR CERTNAME [PUPPET_ARGS...]
#                                                              # one real agent run (own confdir/vardir/ssldir);
#                                                              # exit codes 0 and 2 are success, and also those
#                                                              # listed in AGENT_OK_CODES (e.g. "4 6": failures)
#   scripts/puppetserver-with-terminus.sh deactivate DIR CERTNAME  # `puppet node deactivate` (the terminus's
#                                                              # face, with the server's confdir and certificate)
#   scripts/puppetserver-with-terminus.sh stop DIR
#
# The terminus configuration is PuppetDB's documented one: puppet.conf [server] storeconfigs = true,
# storeconfigs_backend = puppetdb, reports = store,puppetdb; routes.yaml facts terminus puppetdb
# (cache yaml); puppetdb.conf [main] server_urls = https://localhost:PORT.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib-puppetserver.sh
. "$HERE/lib-puppetserver.sh"

action=${1:?usage: $0 start|point|agent|deactivate|stop DIR ...}
dir=${2:?DIR}

case "$action" in
  start)
    certname=${3:-puppet.example.test}
    ps_install
    [ -f /usr/lib/ruby/vendor_ruby/puppet/indirector/catalog/puppetdb.rb ] || {
      echo "installing puppet-terminus-puppetdb (apt-get)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y puppet-terminus-puppetdb >/dev/null
    }
    ps_configure "$dir" "$certname" true
    cat >>"$dir/conf/puppet.conf" <<CONF
storeconfigs = true
storeconfigs_backend = puppetdb
reports = store,puppetdb
keylength = 2048
CONF
    printf -- '---\nmaster:\n  facts:\n    terminus: puppetdb\n    cache: yaml\n' >"$dir/conf/routes.yaml"
    # Until `point` names the real one: nothing listens here.
    printf '[main]\nserver_urls = https://localhost:1\nsoft_write_failure = false\n' >"$dir/conf/puppetdb.conf"
    cat >"$dir/code/environments/production/manifests/site.pp" <<'PP'
node 'exporter.example.test' {
  @@host { 'exported.example.test': ip => '10.0.0.42', tag => 'pdbtest' }
  notify { 'secret': message => Sensitive('s3cret-value-never-stored') }
}
node default {
  Host <<| tag == 'pdbtest' |>> { target => "${settings::vardir}/hosts" }
  notify { 'plain': message => "kernel ${facts['kernel']}" }
}
PP
    ps_start "$dir"
    echo "port $PS_PORT" >"$dir/port"
    echo "port $PS_PORT" ;;
  point)
    url=${3:?PDB_URL}
    submit_only=${4:-}
    {
      printf '[main]\nserver_urls = %s\nsoft_write_failure = false\n' "$url"
      if [ -n "$submit_only" ]; then
        printf 'submit_only_server_urls = %s\ncommand_broadcast = true\n' \
          "$submit_only"
      fi
    } >"$dir/conf/puppetdb.conf" ;;
  agent)
    certname=${3:?CERTNAME}
    shift 3
    PS_PORT=$(awk '{print $2}' "$dir/port")
    a="$dir/agents/$certname"
    mkdir -p "$a"/{conf,var,ssl,public,run,log}
    set +e
    puppet agent --test --no-daemonize --confdir "$a/conf" --vardir "$a/var" --ssldir "$a/ssl" \
      --publicdir "$a/public" --rundir "$a/run" --logdir "$a/log" --certname "$certname" \
      --server localhost --serverport "$PS_PORT" --ca_server localhost --ca_port "$PS_PORT" \
      --keylength 2048 --waitforcert 0 --color false --detailed-exitcodes "$@"
    rc=$?
    set -e
    # 0: no changes, 2: changes applied; anything else is a failure unless in AGENT_OK_CODES.
    for ok in 0 2 ${AGENT_OK_CODES:-}; do [ "$rc" = "$ok" ] && exit 0; done
    echo "agent $certname: exit code $rc" >&2
    exit 1 ;;
  deactivate)
    certname=${3:?CERTNAME}
    server=$(awk -F' = ' '/^certname = /{print $2; exit}' "$dir/conf/puppet.conf")
    puppet node deactivate "$certname" --confdir "$dir/conf" --certname "$server" --color false ;;
  stop)
    ps_stop "$dir" ;;
  *) echo "usage: $0 start|point|agent|deactivate|stop DIR ..." >&2; exit 2 ;;
esac
