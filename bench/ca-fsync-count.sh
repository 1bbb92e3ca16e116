#!/bin/bash
# fsync/fdatasync calls per certificate in puppet-master's autosign path (PUT + GET per
# certificate over CLIENTS keep-alive HTTPS connections), counted with strace, by file.
# Load-independent companion of ca-sign-vs-puppetserver.sh (a 2048-bit CA key for speed: the
# count does not depend on it). PUPPET_MASTER=target/release/puppet-master N=60 bench/ca-fsync-count.sh 4
set -eu
M=${PUPPET_MASTER:?set PUPPET_MASTER to a puppet-master binary}
W=$(mktemp -d /tmp/fsc.XXXX); N=${N:-60}; CLIENTS=${1:-1}
mkdir -p $W/c $W/csr
printf '[server]\ncertname = puppet.bench.test\ndns_alt_names = localhost,IP:127.0.0.1\nautosign = true\nkeylength = 2048\n' >$W/c/puppet.conf
openssl genrsa -out $W/csr/key.pem 2048 2>/dev/null
for i in $(seq 1 $N); do openssl req -new -key $W/csr/key.pem -subj "/CN=n$i.test" -out $W/csr/n$i.pem; done
strace -f -y -qq -e trace=fsync,fdatasync -o $W/strace.out $M --confdir $W/c --bind 127.0.0.1 --port 0 >$W/out 2>$W/log &
SP=$!
for _ in $(seq 1 600); do grep -q "listening on" $W/out 2>/dev/null && break; sleep 0.1; done
sleep 1
PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' $W/out)
before=$(grep -c "fsync\|fdatasync" $W/strace.out || true)
per=$((N / CLIENTS))
for c in $(seq 0 $((CLIENTS-1))); do
  for i in $(seq $((c*per+1)) $((c*per+per))); do
    printf 'url = "https://127.0.0.1:%s/puppet-ca/v1/certificate_request/n%s.test"\nrequest = "PUT"\ninsecure\nfail\nheader = "Content-Type: text/plain"\ndata-binary = "@%s/csr/n%s.pem"\noutput = "/dev/null"\nnext\nurl = "https://127.0.0.1:%s/puppet-ca/v1/certificate/n%s.test"\ninsecure\nfail\noutput = "/dev/null"\nnext\n' $PORT $i $W $i $PORT $i
  done > $W/cfg$c
  sed -i '$ d' $W/cfg$c
  curl -sk -K $W/cfg$c &
  PIDS="${PIDS:-} $!"
done
for p in $PIDS; do wait $p; done
sleep 0.5
after=$(grep -c "fsync\|fdatasync" $W/strace.out)
echo "clients=$CLIENTS certs=$N inventory lines=$(grep -c '^0x' $W/c/ca/inventory.txt); calls by file:"
sed -n "$((before+1)),\$p" $W/strace.out | grep -o '(\([0-9]*\)<[^>]*>' | sed 's/.*<//; s/>//; s/\.puppet-ca\.tmp\..*/TEMP/; s/signed\/n[0-9]*.test.pem/signed\/X.pem/' | sort | uniq -c | tee $W/hist
awk -v n=$N '{ t += $1 } END { printf "per certificate: %.2f\n", t / n }' $W/hist
MP=$(pgrep -P $SP || true); kill $MP $SP 2>/dev/null || true
rm -rf $W
