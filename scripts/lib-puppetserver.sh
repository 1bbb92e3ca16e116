# Shared by scripts/ca-interop.sh and bench/ca-sign-vs-puppetserver.sh (source it, do not run it).
#
# Runs the real Debian `puppetserver` 7 on 127.0.0.1 only, entirely from a temp directory: its own
# puppet.conf (confdir, vardir, ssldir, cadir, ...), its own copy of conf.d and services.d. Nothing
# under /etc/puppet is modified. There is no systemd: the java command line is the one from the
# package's unit file, run in the background with its PID kept in "$1/server.pid".

# A random port by default, so that two runs (or other tools using Puppetserver) do not collide.
PS_PORT=${PS_PORT:-$(shuf -i 20000-39999 -n 1)}

# ps_install: install puppetserver (Debian package) if it is absent.
ps_install() {
  if ! command -v puppetserver >/dev/null 2>&1; then
    echo "installing puppetserver (apt-get, about a minute)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y puppetserver >/dev/null
  fi
  command -v puppetserver >/dev/null 2>&1 && command -v puppet >/dev/null 2>&1
}

# ps_configure DIR CERTNAME AUTOSIGN: write DIR/conf/puppet.conf and DIR/ps/{conf.d,services.d}.
# The CA directory is DIR/ca, the server's ssldir DIR/ssl.
ps_configure() {
  local dir=$1 certname=$2 autosign=$3
  mkdir -p "$dir"/{conf,var,ssl,log,run,psvar,ps/conf.d,ps/services.d} "$dir/code/environments/production/manifests"
  cat >"$dir/conf/puppet.conf" <<EOF
[main]
confdir = $dir/conf
vardir = $dir/var
ssldir = $dir/ssl
logdir = $dir/log
rundir = $dir/run
codedir = $dir/code
server = localhost
ca_server = localhost
serverport = $PS_PORT
ca_port = $PS_PORT

[server]
cadir = $dir/ca
certname = $certname
dns_alt_names = localhost,IP:127.0.0.1
autosign = $autosign
EOF
  echo "node default { notify { 'ca-interop': } }" >"$dir/code/environments/production/manifests/site.pp"
  cp /etc/puppet/puppetserver/conf.d/* "$dir/ps/conf.d/"
  cp /etc/puppet/puppetserver/services.d/* "$dir/ps/services.d/"
  sed -i -E "s#^(\s*ssl-host:).*#\1 127.0.0.1#; s#^(\s*ssl-port:).*#\1 $PS_PORT#" "$dir/ps/conf.d/webserver.conf"
  sed -i -E "s#^(\s*server-conf-dir:).*#\1 $dir/conf#; s#^(\s*server-code-dir:).*#\1 $dir/code#;
             s#^(\s*server-var-dir:).*#\1 $dir/psvar#; s#^(\s*server-run-dir:).*#\1 $dir/run#;
             s#^(\s*server-log-dir:).*#\1 $dir/log#" "$dir/ps/conf.d/puppetserver.conf"
  grep -q "ssl-port: $PS_PORT" "$dir/ps/conf.d/webserver.conf"
  grep -q "server-conf-dir: $dir/conf" "$dir/ps/conf.d/puppetserver.conf"
}

# ps_start DIR: start puppetserver configured by ps_configure and wait until it serves.
ps_start() {
  local dir=$1 pid start
  if curl -sk --max-time 2 "https://127.0.0.1:$PS_PORT/status/v1/simple" >/dev/null 2>&1; then
    echo "port $PS_PORT is already in use; set PS_PORT" >&2
    return 1
  fi
  mkdir -p /var/log/puppetserver
  echo -n 0 >"$dir/run/restart"
  start=$(date +%s)
  (
    set -a
    . /etc/default/puppetserver
    set +a
    cd /usr/share/puppetserver
    # shellcheck disable=SC2086 # JAVA_ARGS is a list of words
    exec /usr/bin/java $JAVA_ARGS -Dlogappender=STDOUT -Djruby.lib=/usr/share/jruby/lib \
      -jar /usr/share/puppetserver/puppetserver.jar \
      --config "$dir/ps/conf.d" --bootstrap-config "$dir/ps/services.d" \
      --restart-file "$dir/run/restart" >"$dir/server-console.log" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$dir/server.pid"
  # Polled every 0.2 s (for 300 s at most), so that a start time measured around ps_start is
  # that precise.
  for _ in $(seq 1 1500); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "puppetserver died; last lines of $dir/server-console.log:" >&2
      tail -20 "$dir/server-console.log" >&2
      return 1
    fi
    if [ "$(curl -sk --max-time 2 "https://127.0.0.1:$PS_PORT/status/v1/simple" 2>/dev/null)" = running ]; then
      # The answer must come from our java, not from another server on the port.
      if ! ss -ltnp 2>/dev/null | grep ":$PS_PORT " | grep -q "pid=$pid,"; then
        echo "another process answers on port $PS_PORT; set PS_PORT" >&2
        return 1
      fi
      echo "puppetserver (PID $pid) ready on 127.0.0.1:$PS_PORT after $(($(date +%s) - start)) s" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "puppetserver did not become ready" >&2
  return 1
}

# ps_stop DIR: stop the server started by ps_start DIR (only that PID, and only if it is java).
ps_stop() {
  local dir=$1 pid
  [ -f "$dir/server.pid" ] || return 0
  pid=$(cat "$dir/server.pid")
  if kill -0 "$pid" 2>/dev/null && grep -q puppetserver.jar "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$dir/server.pid"
}
