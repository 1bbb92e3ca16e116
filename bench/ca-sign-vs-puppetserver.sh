#!/bin/bash
# Certificate signing throughput: puppet-ca (this repository) against the real Puppetserver 7 CA.
#
# Both CAs use a 4096-bit RSA CA key (Puppetserver's default) and sign the same N CSRs
# (2048-bit keys, made once with openssl before any timing).
#
#  ours, per certificate:   `puppet-ca submit` + `puppet-ca sign --certname X`, two process runs per
#                           certificate (CSR validation, serial lock, sign, inventory, fsync'd writes)
#  ours, batch:             the N CSRs submitted, then one timed `puppet-ca sign --all`
#  ours, library:           `cargo bench -p puppet-ca --bench ca`, if that bench exists (BENCH_LIB=0 skips)
#  Puppetserver, autosign:  one curl run over one keep-alive HTTPS connection: for each certificate
#                           PUT /puppet-ca/v1/certificate_request/X (autosign=true), then
#                           GET /puppet-ca/v1/certificate/X; timed until the last certificate is fetched
#                           and every fetched body checked to be a certificate. WARMUP (default 20)
#                           certificates go through first, untimed, so JRuby is warm.
#
#  ours, HTTPS:             if OUR_MASTER_URL is set (e.g. https://127.0.0.1:8140 of a running puppet-master
#                           with autosign on and an empty CA), the same PUT+GET run against it.
#
# Loopback only (port $PS_PORT, random by default), temp directories only, the server is stopped at the
# end. Needs root.   N=200 bench/ca-sign-vs-puppetserver.sh     PUPPET_CA=/path/to/puppet-ca ...
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib-puppetserver.sh
. "$REPO/scripts/lib-puppetserver.sh"
N=${N:-100}
WARMUP=${WARMUP:-20}

[ "$(id -u)" = 0 ] || { echo "run as root (installs and runs puppetserver)" >&2; exit 2; }
ps_install
if [ -z "${PUPPET_CA:-}" ]; then
  (cd "$REPO" && cargo build --quiet --release -p puppet-bins --bin puppet-ca)
  PUPPET_CA=${CARGO_TARGET_DIR:-$REPO/target}/release/puppet-ca
fi

WORK=$(mktemp -d /tmp/ca-bench.XXXXXX)
trap 'ps_stop "$WORK/ps"; rm -rf "$WORK"' EXIT
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", n / (b - a) }'; }

# CSRs: one key, N subjects (key generation is not what is measured).
mkdir -p "$WORK/csr"
openssl genrsa -out "$WORK/csr/key.pem" 2048 2>/dev/null
for i in $(seq 1 $((N + WARMUP))); do
  openssl req -new -key "$WORK/csr/key.pem" -subj "/CN=bench$i.example.test" -out "$WORK/csr/bench$i.pem"
done

# ---- ours, one certificate at a time through the CLI
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

# ---- Puppetserver, autosign over HTTPS
ps_configure "$WORK/ps" puppet.bench.test true
ps_start "$WORK/ps"
# curl_config FIRST LAST [BASE_URL]: PUT then GET for each CSR, as one curl run (one keep-alive
# connection).
curl_config() {
  local i base=${3:-https://127.0.0.1:$PS_PORT}
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
output = "$WORK/ps-cert$i.pem"
EOF
    [ "$i" = "$2" ] || echo next
  done
}
# Warm-up (JRuby compiles on first use): WARMUP certificates, not timed.
curl_config $((N + 1)) $((N + WARMUP)) >"$WORK/warmup.cfg"
curl -sk --fail-early -K "$WORK/warmup.cfg"
curl_config 1 "$N" >"$WORK/curl.cfg"
t0=$(now)
curl -sk --fail-early -K "$WORK/curl.cfg"
t1=$(now)
ps_stop "$WORK/ps"
for i in $(seq 1 "$N"); do
  openssl x509 -in "$WORK/ps-cert$i.pem" -noout 2>/dev/null || { echo "Puppetserver: certificate $i missing" >&2; exit 1; }
done
PS=$(rate "$N" "$t0" "$t1")

OURS_HTTPS=""
if [ -n "${OUR_MASTER_URL:-}" ]; then
  curl_config $((N + 1)) $((N + WARMUP)) "$OUR_MASTER_URL" >"$WORK/ours-warmup.cfg"
  curl -sk --fail-early -K "$WORK/ours-warmup.cfg"
  curl_config 1 "$N" "$OUR_MASTER_URL" >"$WORK/ours-curl.cfg"
  t0=$(now)
  curl -sk --fail-early -K "$WORK/ours-curl.cfg"
  t1=$(now)
  OURS_HTTPS=$(rate "$N" "$t0" "$t1")
fi

echo "certificates signed per second, N=$N, RSA 4096 CA key, $(nproc) cores"
printf '  %-58s %8s/s\n' "puppet-ca CLI, submit + sign per certificate (2 execs)" "$OURS_CLI"
printf '  %-58s %8s/s\n' "puppet-ca CLI, sign --all of $N pending requests" "$OURS_BATCH"
printf '  %-58s %8s/s\n' "Puppetserver $(dpkg-query -W -f='${Version}' puppetserver), autosign PUT+GET, 1 HTTPS conn" "$PS"
if [ -n "$OURS_HTTPS" ]; then
  printf '  %-58s %8s/s\n' "ours over HTTPS ($OUR_MASTER_URL), autosign PUT+GET" "$OURS_HTTPS"
  printf '  ratio ours over HTTPS / Puppetserver:          %s x\n' "$(awk -v a="$OURS_HTTPS" -v b="$PS" 'BEGIN { printf "%.1f", a / b }')"
fi
printf '  ratio puppet-ca per-certificate / Puppetserver: %s x\n' "$(awk -v a="$OURS_CLI" -v b="$PS" 'BEGIN { printf "%.1f", a / b }')"
printf '  ratio puppet-ca batch / Puppetserver:           %s x\n' "$(awk -v a="$OURS_BATCH" -v b="$PS" 'BEGIN { printf "%.1f", a / b }')"
if [ -n "$OURS_LIB" ]; then
  echo "  cargo bench -p puppet-ca --bench ca (library, one core):"
  echo "$OURS_LIB" | sed 's/^/    /'
fi
