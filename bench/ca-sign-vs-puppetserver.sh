#!/bin/bash
# Certificate signing throughput: puppet-ca (this repository) against the real Puppetserver 7 CA.
#
# Both CAs use a 4096-bit RSA CA key (Puppetserver's default) and sign the same CSRs (2048-bit
# keys, made once with openssl before any timing).
#
#  autosign over HTTPS, the    for each certificate PUT /puppet-ca/v1/certificate_request/X (autosign
#  agent's path (the goal):    on), then GET /puppet-ca/v1/certificate/X, as a bootstrapping agent does;
#                              each client is one curl run over one keep-alive HTTPS connection, N
#                              certificates shared among CLIENTS of them (rows for each count in
#                              CA_CLIENTS, default "1 4"); timed from the first request to the last
#                              certificate, every fetched body checked to be a certificate. Against
#                              Puppetserver and against our puppet-master (started here on a free
#                              port, autosign = true, a new CA). WARMUP (default 20) certificates go
#                              first, untimed, so that JRuby (and our caches) are warm.
#  ours, per certificate:      `puppet-ca submit` + `puppet-ca sign --certname X`, two process runs per
#                              certificate (CSR validation, serial lock, sign, inventory, fsync'd writes)
#  ours, batch:                the N CSRs submitted, then one timed `puppet-ca sign --all`
#  ours, library:              `cargo bench -p puppet-ca --bench ca`, if that bench exists (BENCH_LIB=0 skips)
#
# Goal (issue 10): autosign over HTTPS >= 20x Puppetserver's with one client.
# Loopback only (Puppetserver on $PS_PORT, random by default; ours on a free port), temp
# directories only, both servers stopped at the end. Needs root (Puppetserver); SKIP_PUPPETSERVER=1
# runs ours only.
#   N=200 CA_CLIENTS="1 4" bench/ca-sign-vs-puppetserver.sh
# PUPPET_CA=/path/to/puppet-ca PUPPET_MASTER=/path/to/puppet-master skip the release build.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib-puppetserver.sh
. "$REPO/scripts/lib-puppetserver.sh"
N=${N:-100}
WARMUP=${WARMUP:-20}

if [ "${SKIP_PUPPETSERVER:-0}" != 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root (installs and runs puppetserver), or SKIP_PUPPETSERVER=1" >&2; exit 2; }
  ps_install
fi
CLIENTS_LIST=${CA_CLIENTS:-1 4}
if [ -z "${PUPPET_CA:-}" ] || [ -z "${PUPPET_MASTER:-}" ]; then
  (cd "$REPO" && cargo build --quiet --release -p puppet-bins --bin puppet-ca --bin puppet-master)
  PUPPET_CA=${PUPPET_CA:-${CARGO_TARGET_DIR:-$REPO/target}/release/puppet-ca}
  PUPPET_MASTER=${PUPPET_MASTER:-${CARGO_TARGET_DIR:-$REPO/target}/release/puppet-master}
fi

WORK=$(mktemp -d /tmp/ca-bench.XXXXXX)
MASTER_PID=
cleanup() {
  if [ -n "$MASTER_PID" ]; then kill "$MASTER_PID" 2>/dev/null || true; fi
  ps_stop "$WORK/ps"
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }
loadavg() { cut -d" " -f1-3 /proc/loadavg; }
echo "load at the start: $(loadavg) on $(nproc) CPUs" >&2

# CSRs: one key, a subject per certificate (key generation is not what is measured): WARMUP,
# then N per row of CA_CLIENTS; the two servers have their own CAs and sign the same CSRs.
ROWS=$(echo "$CLIENTS_LIST" | wc -w)
TOTAL=$((WARMUP + N * ROWS))
[ "$TOTAL" -ge $((N + WARMUP)) ] || TOTAL=$((N + WARMUP))
mkdir -p "$WORK/csr"
openssl genrsa -out "$WORK/csr/key.pem" 2048 2>/dev/null
for i in $(seq 1 "$TOTAL"); do
  openssl req -new -key "$WORK/csr/key.pem" -subj "/CN=bench$i.example.test" -out "$WORK/csr/bench$i.pem"
done

# ---- autosign over HTTPS: PUT the CSR, GET the certificate, one keep-alive connection per client
# curl_config FIRST LAST BASE_URL: PUT then GET for each CSR, as one curl run (one keep-alive
# connection); the certificates go to curl's standard output, one after the other (one file
# per certificate would make the client allocate an inode per certificate, on the critical
# path of a one-connection run; they are split and checked after the timing).
curl_config() {
  local i base=$3
  for i in $(seq "$1" "$2"); do
    cat <<EOF
url = "$base/puppet-ca/v1/certificate_request/bench$i.example.test"
request = "PUT"
insecure
fail
header = "Content-Type: text/plain"
data-binary = "@$WORK/csr/bench$i.pem"
output = "/dev/null"
next
url = "$base/puppet-ca/v1/certificate/bench$i.example.test"
insecure
fail
EOF
    [ "$i" = "$2" ] || echo next
  done
}
# https_run BASE_URL TAG FIRST LAST CLIENTS: certificates FIRST..LAST shared among CLIENTS curl
# runs in parallel; prints certificates per second, after checking every certificate fetched.
https_run() {
  local base=$1 tag=$2 first=$3 last=$4 clients=$5 per c lo hi t0 t1 i pids=()
  per=$(((last - first + clients) / clients))
  for c in $(seq 0 $((clients - 1))); do
    lo=$((first + c * per)); hi=$((lo + per - 1))
    [ "$hi" -le "$last" ] || hi=$last
    [ "$lo" -le "$hi" ] || continue
    curl_config "$lo" "$hi" "$base" >"$WORK/$tag-$c.cfg"
  done
  t0=$(now)
  for c in $(seq 0 $((clients - 1))); do
    [ -f "$WORK/$tag-$c.cfg" ] || continue
    curl -sk --fail-early -K "$WORK/$tag-$c.cfg" >"$WORK/$tag-$c.out" &
    pids+=($!)
  done
  for c in "${pids[@]}"; do wait "$c" || { echo "$tag: a request failed" >&2; return 1; }; done
  t1=$(now)
  # Every certificate fetched, each for its own name: one per name, in request order.
  for c in $(seq 0 $((clients - 1))); do
    [ ! -f "$WORK/$tag-$c.out" ] || cat "$WORK/$tag-$c.out"
  done | awk -v d="$WORK/$tag-cert" '/BEGIN CERTIFICATE/ { n++ } n { print > (d n ".pem") }'
  local got=0 subject
  for i in $(seq "$first" "$last"); do
    got=$((got + 1))
    subject=$(openssl x509 -in "$WORK/$tag-cert$got.pem" -noout -subject 2>/dev/null) || { echo "$tag: certificate $got missing" >&2; return 1; }
    case "$subject" in
      *"CN = bench$i.example.test"|*"CN=bench$i.example.test") ;;
      *) echo "$tag: certificate $got is for $subject, not bench$i.example.test" >&2; return 1 ;;
    esac
  done
  [ ! -e "$WORK/$tag-cert$((got + 1)).pem" ] || { echo "$tag: more certificates than requests" >&2; return 1; }
  rate $((last - first + 1)) "$t0" "$t1"
}
# https_floor BASE_URL COUNT: the same two requests per certificate over one connection with no
# signature and no write: the PUT is refused after the CSR checks (its CN is not the name in the
# URL), the GET fetches a certificate signed in the warm-up. Pairs per second: the ceiling that
# HTTPS, the client and the CSR checks alone put on one connection's rate.
https_floor() {
  local base=$1 count=$2 i t0 t1
  for i in $(seq 1 "$count"); do
    cat <<EOF
url = "$base/puppet-ca/v1/certificate_request/not-bench1.example.test"
request = "PUT"
insecure
header = "Content-Type: text/plain"
data-binary = "@$WORK/csr/bench1.pem"
output = "/dev/null"
next
url = "$base/puppet-ca/v1/certificate/bench1.example.test"
insecure
fail
EOF
    [ "$i" = "$count" ] || echo next
  done >"$WORK/floor.cfg"
  t0=$(now)
  curl -sk --fail-early -K "$WORK/floor.cfg" >"$WORK/floor.out"
  t1=$(now)
  [ "$(grep -c 'BEGIN CERTIFICATE' "$WORK/floor.out")" = "$count" ] || { echo "floor: a GET failed" >&2; return 1; }
  rate "$count" "$t0" "$t1"
}
# https_rows BASE_URL NAME: the warm-up, then one row per client count, into ROW_<NAME>_<clients>.
https_rows() {
  local base=$1 name=$2 r=0 clients first row
  https_run "$base" "$name-warmup" 1 "$WARMUP" 1 >/dev/null
  for clients in $CLIENTS_LIST; do
    first=$((WARMUP + r * N + 1))
    row=$(https_run "$base" "$name-$clients" "$first" $((first + N - 1)) "$clients")
    printf -v "ROW_${name}_$clients" '%s' "$row"
    echo "  $name, $clients connection(s): $row certificates/s (load $(loadavg))" >&2
    r=$((r + 1))
  done
}

# Ours: puppet-master with autosign on and a new CA (RSA 4096, as Puppetserver's).
C=$WORK/ours-master
mkdir -p "$C"
printf '[server]\ncertname = puppet.bench.test\ndns_alt_names = localhost,IP:127.0.0.1\nautosign = true\nkeylength = 4096\n' >"$C/puppet.conf"
"$PUPPET_MASTER" --confdir "$C" --bind 127.0.0.1 --port 0 >"$WORK/master.out" 2>"$WORK/master.log" &
MASTER_PID=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$WORK/master.out" 2>/dev/null && break
  kill -0 "$MASTER_PID" 2>/dev/null || { cat "$WORK/master.log" >&2; exit 1; }
  sleep 0.1
done
PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/master.out")
[ -n "$PORT" ] || { echo "puppet-master did not start" >&2; cat "$WORK/master.log" >&2; exit 1; }
echo "ours: puppet-master on 127.0.0.1:$PORT (load $(loadavg))" >&2
https_rows "https://127.0.0.1:$PORT" ours
OURS_FLOOR=$(https_floor "https://127.0.0.1:$PORT" "$N")
echo "  ours, PUT refused + GET, no signature (1 connection): $OURS_FLOOR pairs/s (load $(loadavg))" >&2
kill "$MASTER_PID"; wait "$MASTER_PID" 2>/dev/null || true; MASTER_PID=
[ "$(grep -c "^0x" "$C/ca/inventory.txt")" -ge $((WARMUP + N * ROWS)) ] || { echo "ours: inventory.txt is short" >&2; exit 1; }

# ---- ours, one certificate at a time through the CLI. After the HTTPS rows: these runs create
# and delete a request file per certificate, and ext4 without a journal (this machine's) skips
# recently deleted inodes when it allocates one, for up to 5 minutes: the master's certificate
# files, new inodes in the same block group, would pay for that scan.
"$PUPPET_CA" --cadir "$WORK/ours1" setup --ca-name "Puppet CA: bench" >/dev/null
t0=$(now)
for i in $(seq 1 "$N"); do
  "$PUPPET_CA" --cadir "$WORK/ours1" submit --certname "bench$i.example.test" --csr "$WORK/csr/bench$i.pem" >/dev/null
  "$PUPPET_CA" --cadir "$WORK/ours1" sign --certname "bench$i.example.test" >/dev/null
done
t1=$(now)
[ "$(ls "$WORK/ours1/signed" | wc -l)" -ge "$N" ]
OURS_CLI=$(rate "$N" "$t0" "$t1")

# ---- ours, batch
"$PUPPET_CA" --cadir "$WORK/ours2" setup --ca-name "Puppet CA: bench" >/dev/null
for i in $(seq 1 "$N"); do
  "$PUPPET_CA" --cadir "$WORK/ours2" submit --certname "bench$i.example.test" --csr "$WORK/csr/bench$i.pem" >/dev/null
done
t0=$(now)
"$PUPPET_CA" --cadir "$WORK/ours2" sign --all >/dev/null
t1=$(now)
[ "$(ls "$WORK/ours2/signed" | wc -l)" -ge "$N" ]
OURS_BATCH=$(rate "$N" "$t0" "$t1")

# ---- ours, library bench (criterion), if present
OURS_LIB=""
if [ "${BENCH_LIB:-1}" = 1 ] && [ -f "$REPO/puppet-ca/benches/ca.rs" ]; then
  (cd "$REPO" && cargo bench -p puppet-ca --bench ca 2>/dev/null) >"$WORK/criterion.txt" || true
  OURS_LIB=$(grep -E '^\S.*|time:' "$WORK/criterion.txt" | grep -B1 'time:' | head -20 || true)
fi

# Puppetserver, autosign.
if [ "${SKIP_PUPPETSERVER:-0}" != 1 ]; then
  ps_configure "$WORK/ps" puppet.bench.test true
  ps_start "$WORK/ps"
  echo "puppetserver on 127.0.0.1:$PS_PORT (load $(loadavg))" >&2
  https_rows "https://127.0.0.1:$PS_PORT" ps
  ps_stop "$WORK/ps"
fi

echo "certificates signed per second, N=$N, RSA 4096 CA key, $(nproc) cores, load at the end $(loadavg)"
PS_VERSION=$(dpkg-query -W -f='${Version}' puppetserver 2>/dev/null || echo 7)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
for clients in $CLIENTS_LIST; do
  o=ROW_ours_$clients; p=ROW_ps_$clients
  printf '  %-62s %8s/s\n' "ours (puppet-master), autosign PUT+GET, $clients HTTPS conn" "${!o}"
  printf '  %-62s %8s/s\n' "Puppetserver $PS_VERSION, autosign PUT+GET, $clients HTTPS conn" "${!p:--}"
  r=$(ratio "${!o}" "${!p:-0}")
  goal=""
  [ "$clients" = 1 ] && goal=$(awk -v r="$r" 'BEGIN { print (r != "-" && r >= 20) ? "  (goal >= 20x: met)" : "  (goal >= 20x: MISSED)" }')
  printf '  %-62s %8s x%s\n' "ratio ours / Puppetserver over HTTPS, $clients conn" "$r" "$goal"
done
printf '  %-62s %8s/s\n' "ours, PUT refused + GET over 1 conn, no signature (ceiling)" "$OURS_FLOOR"
printf '  %-62s %8s/s\n' "puppet-ca CLI, submit + sign per certificate (2 execs)" "$OURS_CLI"
printf '  %-62s %8s/s\n' "puppet-ca CLI, sign --all of $N pending requests" "$OURS_BATCH"
P1=ROW_ps_$(echo "$CLIENTS_LIST" | awk '{print $1}')
printf '  %-62s %8s x\n' "ratio puppet-ca per-certificate / Puppetserver (${P1##*_} conn)" "$(ratio "$OURS_CLI" "${!P1:-0}")"
printf '  %-62s %8s x\n' "ratio puppet-ca batch / Puppetserver (${P1##*_} conn)" "$(ratio "$OURS_BATCH" "${!P1:-0}")"
if [ -n "$OURS_LIB" ]; then
  echo "  cargo bench -p puppet-ca --bench ca (library, one core):"
  echo "$OURS_LIB" | sed 's/^/    /'
fi
