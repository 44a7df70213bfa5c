#!/usr/bin/env bash
# Node certificates instead of (or with) the cluster key: a cluster CA made
# with openssl as docs/security.md says, a certificate per node, one node
# revoked through a CRL.  Node b serves with certificates only; a relays to
# it with its own; c (revoked) and d (another CA's) are refused; a node
# with both the key and certificates takes either.  Bad files stop unumd
# with one line.
# shellcheck disable=SC2154 # NAME_port, NAME_sock, NAME_pid: start_unumd
. "$(dirname "$0")/../lib/common.sh"

command -v openssl >/dev/null || { echo "1..0 # SKIP no openssl"; exit 0; }

# ---- the CA, as docs/security.md does it ----
ca=$tmp/ca
mkdir -p "$ca/certs" && touch "$ca/index.txt" && echo 01 >"$ca/serial" &&
	echo 01 >"$ca/crlnumber"
cat >"$ca/ca.cnf" <<EOF
[ca]
default_ca = unum
[unum]
dir = $ca
database = \$dir/index.txt
new_certs_dir = \$dir/certs
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 30
default_crl_days = 30
policy = nodes
[nodes]
commonName = supplied
EOF
q() { "$@" >>"$tmp/openssl.log" 2>&1; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$ca/ca.key" -out "$ca/ca.pem" -subj /CN=unum-test-ca -days 30
node_cert() { # node_cert NAME [CADIR]: NAME.pem, NAME.key signed by the CA
	q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/CN=$1"
	chmod 600 "$tmp/$1.key"
	q openssl ca -batch -config "${2:-$ca}/ca.cnf" -in "$tmp/$1.csr" \
		-out "$tmp/$1.pem"
}
node_cert a
node_cert b
node_cert c
q openssl ca -config "$ca/ca.cnf" -revoke "$tmp/c.pem"
q openssl ca -config "$ca/ca.cnf" -gencrl -out "$ca/crl.pem"
# another cluster's CA and a node of it
ca2=$tmp/ca2
mkdir -p "$ca2/certs" && touch "$ca2/index.txt" && echo 01 >"$ca2/serial"
sed "s|$ca|$ca2|" "$ca/ca.cnf" >"$ca2/ca.cnf"
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$ca2/ca.key" -out "$ca2/ca.pem" -subj /CN=other-ca -days 30
node_cert d "$ca2"
if [ -s "$tmp/a.pem" ] && [ -s "$tmp/d.pem" ] && [ -s "$ca/crl.pem" ]; then
	ok "a CA, node certificates and a CRL made with openssl"
else
	notok "a CA, node certificates and a CRL made with openssl"
	sed 's/^/# /' "$tmp/openssl.log" | tail -20
	done_testing
	exit 1
fi

# node NAME CERTNAME [ARGS...]: unumd with certificates and no key
node() {
	local name=$1 cn=$2
	shift 2
	"$UNUMD" -c /dev/null -n "$name" -s "$tmp/$name.sock" \
		--cert "$tmp/$cn.pem" --cert-key "$tmp/$cn.key" --ca "$ca/ca.pem" \
		--crl "$ca/crl.pem" "$@" 2>"$tmp/$name.log" &
	pids="$pids $!"
	eval "${name}_pid=$!"
	wait_for "$tmp/$name.sock" $!
}
bp=$(free_port 31)
node b b -l "127.0.0.1:$bp" -v && wait_for "127.0.0.1:$bp" "$b_pid" ||
	notok "unumd b starts with certificates only: $(cat "$tmp/b.log")"
grep -q "node certificate .*b.pem" "$tmp/b.log" &&
	ok "unumd b says it serves with its node certificate" ||
	notok "unumd b says it serves with its node certificate: $(cat "$tmp/b.log")"
node a a -l none || notok "unumd a starts"
node c c -l none || notok "unumd c starts"
"$UNUMD" -c /dev/null -n d -s "$tmp/d.sock" -l none --cert "$tmp/d.pem" \
	--cert-key "$tmp/d.key" --ca "$ca2/ca.pem" 2>"$tmp/d.log" &
pids="$pids $!"
wait_for "$tmp/d.sock" $!

via() { # via NODE CMD...: a user of NODE, through its unumd
	env -u UNUM_KEY UNUM_SOCKET="$tmp/$1.sock" UNUM_ADDR= "${@:2}"
}
same "$(via a "$UNUM" run -n "127.0.0.1:$bp" sh -c 'echo hi; exit 4' 2>&1; echo $?)" \
	"hi
4" "a relays to b: the two node certificates prove both ends"
grep -q "node certificate of a" "$tmp/b.log" &&
	ok "b knows the peer by its certificate's name" ||
	notok "b knows the peer by its certificate's name"
via c "$UNUM" run -n "127.0.0.1:$bp" touch "$tmp/c-ran" 2>"$tmp/err"
same "$?:$([ -e "$tmp/c-ran" ] && echo ran)" "255:" \
	"c's certificate is revoked (CRL): refused, nothing runs"
grep -q "revoked" "$tmp/b.log" && ok "b logs the revoked certificate" ||
	notok "b logs the revoked certificate: $(tail -3 "$tmp/b.log")"
via d "$UNUM" run -n "127.0.0.1:$bp" touch "$tmp/d-ran" 2>"$tmp/err"
same "$?:$([ -e "$tmp/d-ran" ] && echo ran)" "255:" \
	"d's certificate is another CA's: refused, nothing runs"
"$UNUM" run -n "127.0.0.1:$bp" touch "$tmp/k-ran" 2>"$tmp/err"
same "$?:$([ -e "$tmp/k-ran" ] && echo ran)" "255:" \
	"the cluster key alone does not open a node that has no key"

# ---- both: a node with the key and certificates takes either ----
ep=$(free_port 37)
"$UNUMD" -c /dev/null -n e -s "$tmp/e.sock" -l "127.0.0.1:$ep" -k "$KEY" \
	--cert "$tmp/b.pem" --cert-key "$tmp/b.key" --ca "$ca/ca.pem" \
	--crl "$ca/crl.pem" 2>"$tmp/e.log" &
pids="$pids $!"
wait_for "127.0.0.1:$ep" $!
same "$("$UNUM" run -n "127.0.0.1:$ep" echo by-key 2>&1)" "by-key" \
	"key and certificates: a client with the key is served" ||
	sed 's/^/# /' "$tmp/e.log"
same "$(via a "$UNUM" run -n "127.0.0.1:$ep" echo by-cert 2>&1)" "by-cert" \
	"key and certificates: a node with a certificate is served"
via c "$UNUM" run -n "127.0.0.1:$ep" true 2>/dev/null
same "$?" "255" "key and certificates: the revoked node is still refused"

# ---- bad files: one line, no start ----
bad() { # bad DESCRIPTION WANT ARGS...
	local d=$1 want=$2
	shift 2
	"$UNUMD" -c /dev/null -n x -s "$tmp/x.sock" -l none "$@" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -ne 0 ] && [ "$(wc -l <"$tmp/err")" = 1 ] &&
		grep -q "$want" "$tmp/err"; then
		ok "$d"
	else
		notok "$d: status $rc: $(cat "$tmp/err")"
	fi
}
bad "a certificate without its key is refused in one line" "cert, cert-key and ca" \
	--cert "$tmp/a.pem" --ca "$ca/ca.pem"
bad "a key that is not the certificate's is refused in one line" "not the key of" \
	--cert "$tmp/a.pem" --cert-key "$tmp/b.key" --ca "$ca/ca.pem"
chmod 644 "$tmp/a.key"
bad "a certificate key others can read is refused in one line" "readable by others" \
	--cert "$tmp/a.pem" --cert-key "$tmp/a.key" --ca "$ca/ca.pem"
chmod 600 "$tmp/a.key"
bad "a CA file that is not one is refused in one line" "ca " \
	--cert "$tmp/a.pem" --cert-key "$tmp/a.key" --ca "$tmp/a.key"
for v in a b; do
	kill -0 "$(eval echo "\$${v}_pid")" && ok "unumd $v is still up" ||
		notok "unumd $v is still up"
done
done_testing
