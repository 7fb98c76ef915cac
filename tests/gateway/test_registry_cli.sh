#!/bin/sh
# simtrust-registry end to end (IoT.04 Annex C.1 offline delivery import):
# tenant and group creation, import of a batch given as a directory of card
# delivery records, idempotent re-import, conflict refused, --help.
set -u
BIN=$1
T=$(mktemp -d /tmp/st-gwcli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { name=$1; shift; if "$@"; then echo "ok - $name"; else echo "FAIL - $name"; fail=1; fi; }

printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f > "$T/kek"
chmod 600 "$T/kek"
printf '%s\n' 4242424242424242424242424242424242424242424242424242424242424242 > "$T/bmk"
mkdir "$T/batch"
for i in 1 2 3; do
  cat > "$T/batch/dev-$i.delivery.json" <<JSON
{
  "iccid": "8988228000000000000$i",
  "eid": "89049032000000000000000000000017",
  "public_keys": [],
  "certificates": [],
  "psk_identities": [
    {"secret_id": "10", "label": "psk1", "identity": "device-000$i", "identity_file_id": "11"}
  ]
}
JSON
done
R="$BIN --db $T/reg.db --kek $T/kek"

check "--help is a man page" sh -c "$BIN --help | grep -q '^SYNOPSIS'"
check "usage error exits 2" sh -c "$BIN >/dev/null 2>&1; test \$? -eq 2"
check "tenant-add" $R tenant-add energyco
check "group-add psk" $R group-add --tenant energyco --group fleet --auth psk,x509
check "group-add batch" $R group-add --tenant energyco --group meters --auth batch \
  --vendor MeterCo --batch b1 --kdf hkdf-sha256 --bmk-file "$T/bmk" --allowlist
check "import directory" sh -c "$R import --tenant energyco --group fleet $T/batch > $T/out1"
check "3 created" grep -q '3 created, 0 unchanged' "$T/out1"
check "records/s reported" grep -q 'records/s' "$T/out1"
check "re-import changes nothing" sh -c "$R import --tenant energyco --group fleet $T/batch > $T/out2"
check "3 unchanged" grep -q '0 created, 3 unchanged' "$T/out2"
check "device-get" sh -c "$R device-get --tenant energyco 89882280000000000001 | grep -q 'psk-identity: device-0001'"
sed 's/device-0002/device-XXXX/' "$T/batch/dev-2.delivery.json" > "$T/conflict.json"
check "conflict refused" sh -c "! $R import --tenant energyco --group fleet $T/conflict.json 2> $T/err"
check "conflict explained" grep -q 'PSK identity differs' "$T/err"
check "bmk not in the database" sh -c "! grep -q \$(printf 'BBBBBBBB') $T/reg.db"
check "world-readable kek refused" sh -c "chmod 644 $T/kek; ! $R tenant-add x 2>/dev/null"
exit $fail
