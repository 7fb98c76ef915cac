#!/bin/sh
# Profile "issue" (docs/profile.md): the factory certifies a key pair generated
# inside the card (IoT.04 scenario 1, G1). Checks: the certificate chains to
# the CA, certifies exactly the card's public key (delivery record), is a
# client certificate; bad "issue" entries are refused with the field named.
# Usage: test_profile_issue.sh PATH-TO-simtrust-card
set -u
CARD=$1
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
cd "$T" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -subj "/CN=group CA" -days 30 >/dev/null 2>&1 || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -out other.pem -subj "/CN=other CA" -days 30 >/dev/null 2>&1 || exit 1
profile() { # profile FILE-ENTRY
    cat >p.json <<JSON
{"iccid": "89882280000000000017",
 "private_keys": [{"id": "01", "label": "client", "type": "p256", "generate": true, "public_id": "01"},
                  {"id": "04", "label": "ecdhe", "type": "p256-volatile"}],
 "files": [$1]}
JSON
}
profile '{"id": "02", "label": "client-cert", "usage": "certificate",
  "issue": {"key_id": "01", "ca_cert": "ca.pem", "ca_key": "ca.key", "subject_cn": "dev-17", "days": 10}}'
if "$CARD" personalise --profile p.json --image c.img --delivery d.json 2>err; then
    python3 -c 'import json,sys; d=json.load(open("d.json")); open("cert.pem","w").write(d["certificates"][0]["pem"]); open("pub.pem","w").write(d["public_keys"][0]["pem"])'
    openssl verify -CAfile ca.pem -purpose sslclient cert.pem >/dev/null 2>&1 || bad "certificate does not chain to the CA as a client certificate"
    a=$(openssl x509 -in cert.pem -noout -pubkey | openssl pkey -pubin -outform DER | od -An -tx1 | tr -d ' \n')
    b=$(openssl pkey -pubin -in pub.pem -outform DER | od -An -tx1 | tr -d ' \n')
    [ -n "$a" ] && [ "$a" = "$b" ] || bad "certificate key differs from the card's public key"
    openssl x509 -in cert.pem -noout -subject | grep -q "CN *= *dev-17" || bad "subject"
    openssl x509 -in cert.pem -noout -checkend 950400 >/dev/null && bad "days not applied (valid beyond 11 days)"
    openssl x509 -in cert.pem -noout -checkend 777600 >/dev/null || bad "days not applied (expires within 9 days)"
    openssl x509 -in cert.pem -noout -text | grep -q "CA:FALSE" || bad "basicConstraints"
    grep -q "PRIVATE" d.json && bad "delivery record holds a private key"
else
    bad "personalise with issue failed: $(cat err)"
fi
expect_refused() { # expect_refused WHAT ENTRY NEEDLE
    profile "$2"
    rm -f c.img
    if "$CARD" personalise --profile p.json --image c.img 2>err; then
        bad "$1: accepted"
    elif ! grep -qF "$3" err; then
        bad "$1: message lacks '$3': $(cat err)"
    fi
}
expect_refused "no such key" '{"id": "02", "usage": "certificate", "issue": {"key_id": "09", "ca_cert": "ca.pem", "ca_key": "ca.key", "subject_cn": "x"}}' "no such private key"
expect_refused "empty volatile key" '{"id": "02", "usage": "certificate", "issue": {"key_id": "04", "ca_cert": "ca.pem", "ca_key": "ca.key", "subject_cn": "x"}}' "holds no value"
expect_refused "mismatched CA key" '{"id": "02", "usage": "certificate", "issue": {"key_id": "01", "ca_cert": "ca.pem", "ca_key": "other.key", "subject_cn": "x"}}' "does not match"
expect_refused "with a source" '{"id": "02", "usage": "certificate", "pem_file": "ca.pem", "issue": {"key_id": "01", "ca_cert": "ca.pem", "ca_key": "ca.key", "subject_cn": "x"}}' "cannot be combined"
expect_refused "general file" '{"id": "02", "issue": {"key_id": "01", "ca_cert": "ca.pem", "ca_key": "ca.key", "subject_cn": "x"}}' "usage"
expect_refused "unknown field" '{"id": "02", "usage": "certificate", "issue": {"key_id": "01", "ca_cert": "ca.pem", "ca_key": "ca.key", "subject_cn": "x", "colour": 1}}' "unknown field"
expect_refused "bad days" '{"id": "02", "usage": "certificate", "issue": {"key_id": "01", "ca_cert": "ca.pem", "ca_key": "ca.key", "subject_cn": "x", "days": 0}}' "issue.days"
expect_refused "missing CA" '{"id": "02", "usage": "certificate", "issue": {"key_id": "01", "ca_cert": "nope.pem", "ca_key": "ca.key", "subject_cn": "x"}}' "ca_cert"
[ $fails -eq 0 ] && echo "test_profile_issue: ok"
exit $fails
