# Sourced by the TLS test scripts (tests/provider/prov_tls.sh, tests/tls/tls.sh):
# a throw-away P-256 test PKI made with the openssl CLI, and a card image holding
# the client key. Needs: the current directory is the test's temporary directory,
# $CARD is simtrust-card, and fail() is defined by the caller.
#
#   st_make_pki SERVER_SAN   CAs ca and otherca; srv (CN localhost, SERVER_SAN),
#                            cli (device-0001), nosign (device-0002), valid 30 days
#   st_issue_expired NAME    a server certificate that expired in 2020
#   st_make_psk_card ID LOG  card.img with PSK "psk1" (identity ID, file 11); sets PSK
#   st_make_card LOG         card.img with private keys client (01), nosign (03,
#                            no sign function), ecdhe (04, volatile), peer slot 05,
#                            files client-cert (02), ca (03), nosign-cert (04)

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

mkca() {
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/CN=$1" -days 30 -out "$1.pem" \
        -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
}

issue() { # NAME CA CN DAYS EXT
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
    printf '%s\n' "$5" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days "$4" \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null || fail "issue $1"
}

st_make_pki() {
    mkca ca
    mkca otherca
    issue srv ca localhost 30 "subjectAltName=$1
extendedKeyUsage=serverAuth"
    issue cli ca device-0001 30 "extendedKeyUsage=clientAuth"
    issue nosign ca device-0002 30 "extendedKeyUsage=clientAuth"
}

st_make_card() {
    cat > profile.json <<JSON
{
  "iccid": "89882280000000000017",
  "private_keys": [
    {"id": "01", "label": "client", "type": "p256", "pem_file": "cli.key", "public_id": "01"},
    {"id": "03", "label": "nosign", "type": "p256", "pem_file": "nosign.key", "public_id": "03",
     "functions": ["key_agreement"]},
    {"id": "04", "label": "ecdhe", "type": "p256-volatile", "functions": ["keygen", "key_agreement"]}
  ],
  "public_keys": [
    {"id": "05", "label": "peer", "type": "p256-volatile", "access": ["read", "update"]}
  ],
  "files": [
    {"id": "02", "label": "client-cert", "usage": "certificate", "pem_file": "cli.pem"},
    {"id": "03", "label": "ca", "usage": "certificate", "pem_file": "ca.pem"},
    {"id": "04", "label": "nosign-cert", "usage": "certificate", "pem_file": "nosign.pem"}
  ]
}
JSON
    "$CARD" personalise --profile profile.json --image card.img --delivery delivery.json \
        2>"$1" || fail "personalise"
}

# st_issue_expired NAME: a server certificate (CN localhost) signed by ca that
# expired in 2020, for the "expired certificate" negative tests.
st_issue_expired() {
    key "$1.key"
    openssl req -new -key "$1.key" -subj /CN=localhost -out "$1.csr"
    printf 'subjectAltName=DNS:localhost\n' > "$1.ext"
    mkdir -p db; : > db/index.txt; echo 01 > db/serial
    cat > ca.cnf <<CNF
[ca]
default_ca = c
[c]
database = $PWD/db/index.txt
serial = $PWD/db/serial
new_certs_dir = $PWD/db
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
CNF
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$1.csr" -out "$1.pem" \
        -startdate 20200101000000Z -enddate 20200201000000Z -extfile "$1.ext" \
        > ca.log 2>&1 || fail "cannot issue an expired certificate"
}

# st_make_psk_card ID LOG: card.img (replacing any) with a random 32-byte PSK
# "psk1" (secret 10) whose identity ID is in file 11, plus the volatile ecdhe
# (04) and peer (05) slots for (EC)DHE-PSK; sets PSK to the key's hex.
st_make_psk_card() {
    PSK=$(openssl rand -hex 32)
    cat > profile.json <<JSON
{
  "iccid": "89882280000000000017",
  "private_keys": [
    {"id": "04", "label": "ecdhe", "type": "p256-volatile", "functions": ["keygen", "key_agreement"]}
  ],
  "public_keys": [
    {"id": "05", "label": "peer", "type": "p256-volatile", "access": ["read", "update"]}
  ],
  "secret_keys": [
    {"id": "10", "label": "psk1", "hex": "$PSK", "identity": "$1", "identity_file_id": "11"}
  ]
}
JSON
    rm -f card.img delivery.json
    "$CARD" personalise --profile profile.json --image card.img --delivery delivery.json \
        2>"$2" || fail "personalise"
}
