#!/bin/bash
# Interoperability of `puppet-ca` (this repository) with the real Puppetserver 7 CA, both ways:
#
#  (a) a CA directory made by `puppetserver ca setup` is opened by our CLI, which lists it, signs
#      into it and revokes in it; Puppetserver, started on that directory, then lists our work
#      (`puppetserver ca list --all`) and serves our CRL; Puppetserver signs one more request and
#      our CLI sees it, with no serial given out twice.
#  (b) a CA directory made by our CLI (`puppet-ca setup`) is used by Puppetserver: it starts on it
#      (and issues its own host certificate from our CA key), `puppetserver ca list --all` shows the
#      certificates we signed and revoked, and a real `puppet agent -t` whose CSR went through
#      Puppetserver and which our CLI signed runs against it.
#
# Everything runs on 127.0.0.1 (port $PS_PORT, random by default) from a temp directory; nothing under
# /etc/puppet is changed. Needs root (apt-get, puppetserver). Takes about two minutes (two server
# starts). Prints PASS/FAIL per check and exits non-zero if any check failed.
#
#   scripts/ca-interop.sh                 # builds puppet-ca (release) with cargo
#   PUPPET_CA=/path/to/puppet-ca scripts/ca-interop.sh
#   KEEP=1 scripts/ca-interop.sh          # keep the temp directory for inspection
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib-puppetserver.sh
. "$REPO/scripts/lib-puppetserver.sh"

FAILS=0
CHECKS=0
check() { # check NAME COMMAND...: run COMMAND, print PASS/FAIL NAME
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
contains() { grep -qF -- "$2" "$1"; }                # contains FILE TEXT
lacks() { ! grep -qF -- "$2" "$1"; }                 # lacks FILE TEXT
section() { sed -n "/^$2/,/^[A-Z]/p" "$1"; }         # lines of a list section (header to next header)
in_section() { section "$1" "$2" | grep -qF -- "$3"; } # in_section FILE HEADER TEXT
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
make_csr() { # make_csr DIR CERTNAME: 2048-bit key DIR/CERTNAME.key, CSR DIR/CERTNAME.csr
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1/$2.key" -out "$1/$2.csr" 2>/dev/null
}
verify_ok() { openssl verify -crl_check -CAfile "$1/ca_crt.pem" -CRLfile "$1/ca_crl.pem" "$2"; }
verify_revoked() { ! openssl verify -crl_check -CAfile "$1/ca_crt.pem" -CRLfile "$1/ca_crl.pem" "$2" >"$WORK/v.out" 2>&1 && grep -q 'certificate revoked' "$WORK/v.out"; }
serials_unique() { # serials in inventory.txt are unique and below the serial file's value
  local inv=$1/inventory.txt next
  next=$((16#$(tr -d '[:space:]' <"$1/serial")))
  [ "$(awk '{print $1}' "$inv" | sort | uniq -d | wc -l)" = 0 ] || { echo "duplicate serial in $inv"; cat "$inv"; return 1; }
  awk '{print $1}' "$inv" | while read -r s; do
    [ $((s)) -lt "$next" ] || { echo "serial $s not below next serial $next"; return 1; }
  done
}

[ "$(id -u)" = 0 ] || { echo "run as root (installs and runs puppetserver)" >&2; exit 2; }
ps_install || { echo "FAIL  puppetserver is not installed and could not be installed"; exit 1; }

if [ -z "${PUPPET_CA:-}" ]; then
  (cd "$REPO" && cargo build --quiet --release -p puppet-bins --bin puppet-ca) || exit 1
  PUPPET_CA=${CARGO_TARGET_DIR:-$REPO/target}/release/puppet-ca
fi
[ -x "$PUPPET_CA" ] || { echo "no puppet-ca binary at $PUPPET_CA" >&2; exit 2; }

WORK=$(mktemp -d /tmp/ca-interop.XXXXXX)
A=$WORK/a
B=$WORK/b
cleanup() {
  ps_stop "$A"
  ps_stop "$B"
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
mkdir -p "$WORK/csr"
echo "puppet-ca: $PUPPET_CA; puppetserver $(dpkg-query -W -f='${Version}' puppetserver 2>/dev/null); work dir $WORK"

############################################################################################
echo "== (a) CA made by Puppetserver, used by puppet-ca"
ps_configure "$A" puppet-a.interop.test false
check "a1 puppetserver ca setup makes a CA dir" puppetserver ca setup --config "$A/conf/puppet.conf"
ours() { "$PUPPET_CA" --cadir "$A/ca" "$@"; }

ours list --all >"$WORK/a-list0.txt" 2>&1
check "a2 puppet-ca list --all reads it (server cert under Signed Certificates)" \
  in_section "$WORK/a-list0.txt" "Signed Certificates:" puppet-a.interop.test
check "a3 puppet-ca shows Puppetserver's SHA256 fingerprint" \
  contains "$WORK/a-list0.txt" "$(fingerprint "$A/ca/signed/puppet-a.interop.test.pem")"

for n in a-one a-two a-three; do make_csr "$WORK/csr" $n.interop.test; done
check "a4 puppet-ca submit x3" bash -c "for n in a-one a-two a-three; do '$PUPPET_CA' --cadir '$A/ca' submit --certname \$n.interop.test --csr '$WORK/csr/'\$n.interop.test.csr || exit 1; done"
check "a5 puppet-ca sign --certname a-one,a-two" \
  bash -c "'$PUPPET_CA' --cadir '$A/ca' sign --certname a-one.interop.test,a-two.interop.test | grep -c 'Successfully signed certificate request for' | grep -qx 2"
check "a6 our cert verifies against Puppetserver's CA chain and CRL" verify_ok "$A/ca" "$A/ca/signed/a-one.interop.test.pem"
check "a7 puppet-ca revoke --certname a-two" ours revoke --certname a-two.interop.test
check "a8 openssl: a-two revoked by the CRL we rewrote, a-one still good" \
  bash -c "$(declare -f verify_revoked verify_ok); WORK='$WORK'; verify_revoked '$A/ca' '$A/ca/signed/a-two.interop.test.pem' && verify_ok '$A/ca' '$A/ca/signed/a-one.interop.test.pem'"
check "a9 serials unique in inventory.txt and below serial" serials_unique "$A/ca"

if ps_start "$A"; then
  puppetserver ca list --all --config "$A/conf/puppet.conf" >"$WORK/a-pslist.txt" 2>&1
  sed 's/^/      > /' "$WORK/a-pslist.txt"
  check "a10 puppetserver lists a-three (submitted by us) as requested" in_section "$WORK/a-pslist.txt" "Requested Certificates:" a-three.interop.test
  check "a11 puppetserver lists a-one (signed by us) as signed, same fingerprint" \
    bash -c "$(declare -f section in_section); in_section '$WORK/a-pslist.txt' 'Signed Certificates:' '$(fingerprint "$A/ca/signed/a-one.interop.test.pem")'"
  check "a12 puppetserver lists a-two (revoked by us) as revoked" in_section "$WORK/a-pslist.txt" "Revoked Certificates:" a-two.interop.test
  curl -sk "https://127.0.0.1:$PS_PORT/puppet-ca/v1/certificate_revocation_list/ca" >"$WORK/a-crl.pem"
  check "a13 puppetserver serves our CRL with a-two's serial" \
    bash -c "openssl crl -in '$WORK/a-crl.pem' -noout -text | grep -q 'Serial Number: $(serial_of "$A/ca/signed/a-two.interop.test.pem")'"
  check "a14 puppetserver ca sign a-three (after our signatures)" \
    puppetserver ca sign --certname a-three.interop.test --config "$A/conf/puppet.conf"
  ps_stop "$A"
  ours list --all >"$WORK/a-list1.txt" 2>&1
  check "a15 puppet-ca then lists a-three as signed" in_section "$WORK/a-list1.txt" "Signed Certificates:" a-three.interop.test
  check "a16 serials unique after both CAs signed" serials_unique "$A/ca"
  check "a17 Puppetserver's serial for a-three differs from ours" \
    bash -c "[ \$(openssl x509 -noout -serial -in '$A/ca/signed/a-three.interop.test.pem') != \$(openssl x509 -noout -serial -in '$A/ca/signed/a-one.interop.test.pem') ]"
else
  check "a10 puppetserver starts on the CA dir" false
fi

############################################################################################
echo "== (b) CA made by puppet-ca, used by Puppetserver"
ps_configure "$B" puppet-b.interop.test false
ours() { "$PUPPET_CA" --cadir "$B/ca" "$@"; }
check "b1 puppet-ca setup makes a CA dir" ours setup --ca-name "Puppet CA: puppet-b.interop.test"
for n in b-one b-two b-three; do make_csr "$WORK/csr" $n.interop.test; done
check "b2 puppet-ca submit + sign b-one, b-two" bash -c "for n in b-one b-two b-three; do '$PUPPET_CA' --cadir '$B/ca' submit --certname \$n.interop.test --csr '$WORK/csr/'\$n.interop.test.csr || exit 1; done; '$PUPPET_CA' --cadir '$B/ca' sign --certname b-one.interop.test,b-two.interop.test"
check "b3 puppet-ca revoke b-two" ours revoke --certname b-two.interop.test

if ps_start "$B"; then
  check "b4 puppetserver issued its own cert from our CA key" \
    openssl verify -CAfile "$B/ca/ca_crt.pem" "$B/ssl/certs/puppet-b.interop.test.pem"
  puppetserver ca list --all --config "$B/conf/puppet.conf" >"$WORK/b-pslist.txt" 2>&1
  sed 's/^/      > /' "$WORK/b-pslist.txt"
  check "b5 puppetserver lists b-three (our request) as requested" in_section "$WORK/b-pslist.txt" "Requested Certificates:" b-three.interop.test
  check "b6 puppetserver lists b-one (our cert) as signed, same fingerprint" \
    bash -c "$(declare -f section in_section); in_section '$WORK/b-pslist.txt' 'Signed Certificates:' '$(fingerprint "$B/ca/signed/b-one.interop.test.pem")'"
  check "b7 puppetserver lists b-two (revoked by us) as revoked" in_section "$WORK/b-pslist.txt" "Revoked Certificates:" b-two.interop.test

  AG=$WORK/agent
  mkdir -p "$AG"/{conf,var,ssl,log,run,code,public}
  : >"$AG/conf/puppet.conf"
  agent() {
    puppet agent -t --confdir "$AG/conf" --vardir "$AG/var" --ssldir "$AG/ssl" --logdir "$AG/log" \
      --rundir "$AG/run" --codedir "$AG/code" --publicdir "$AG/public" --server localhost \
      --serverport "$PS_PORT" --ca_port "$PS_PORT" --certname agent-b.interop.test --keylength 2048 \
      --waitforcert 0 "$@"
  }
  agent >"$WORK/agent-run1.txt" 2>&1
  check "b8 real agent's CSR (via Puppetserver) is pending in puppet-ca list" \
    bash -c "'$PUPPET_CA' --cadir '$B/ca' list | grep -q agent-b.interop.test"
  check "b9 puppet-ca sign --certname agent-b (Puppetserver running)" ours sign --certname agent-b.interop.test
  agent >"$WORK/agent-run2.txt" 2>&1
  rc=$?
  sed 's/^/      > /' "$WORK/agent-run2.txt" | tail -8
  check "b10 puppet agent -t with our cert runs against Puppetserver (exit 0 or 2)" [ "$rc" = 0 -o "$rc" = 2 ]
  check "b11 agent applied the catalog" contains "$WORK/agent-run2.txt" "ca-interop"
  check "b12 agent's cert is the one we signed" \
    cmp "$AG/ssl/certs/agent-b.interop.test.pem" "$B/ca/signed/agent-b.interop.test.pem"
  ps_stop "$B"
  check "b13 serials unique after Puppetserver signed into our CA" serials_unique "$B/ca"
  ours list --all >"$WORK/b-list1.txt" 2>&1
  check "b14 puppet-ca lists Puppetserver's own cert as signed" in_section "$WORK/b-list1.txt" "Signed Certificates:" puppet-b.interop.test
else
  check "b4 puppetserver starts on our CA dir" false
fi

echo "== $((CHECKS - FAILS))/$CHECKS checks passed"
[ "$FAILS" = 0 ]
