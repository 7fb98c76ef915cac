#!/bin/sh
# The PKCS#11 KEK from the command line, against the real SoftHSM2 in a
# private token directory: simtrust-registry kek-init (generate; import of a
# KEK file; never replacing a key), a registry sealed under a KEK file opened
# through the token holding the same value (and not through another key),
# flag errors, simtrust-gateway --check-config with kek_pkcs11_*.
# Usage: test_gw_kek_cli.sh SIMTRUST-REGISTRY SIMTRUST-GATEWAY
set -u
REG=$1 GW=$2
T=$(mktemp -d /tmp/st-gwkekcli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { name=$1; shift; if "$@"; then echo "ok - $name"; else echo "FAIL - $name"; fail=1; fi; }
M=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*-linux-gnu/softhsm/libsofthsm2.so; do
  [ -r "$m" ] && { M=$m; break; }
done
[ -n "$M" ] || { echo "FAIL - SoftHSM2 is not installed (scripts/setup.sh)"; exit 1; }

mkdir "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" \
  >"$T/softhsm2.conf"
SOFTHSM2_CONF=$T/softhsm2.conf
export SOFTHSM2_CONF
softhsm2-util --init-token --free --label simtrust --pin 1234 --so-pin 5678 >/dev/null || exit 1
(umask 077; echo 1234 >"$T/pin"; echo 9999 >"$T/badpin"
 openssl rand -hex 32 >"$T/kek"; openssl rand -hex 32 >"$T/bmk")
P="--pkcs11-module $M --pkcs11-pin-file $T/pin"

check "kek-init generates" sh -c "$REG kek-init $P | grep -q \"generated inside token 'simtrust'\""
check "kek-init never replaces" sh -c "! $REG kek-init $P 2>$T/e && grep -q 'already exists' $T/e"
check "kek-init --from-file imports" sh -c \
  "$REG kek-init $P --pkcs11-key filekek --from-file $T/kek | grep -q 'imported into'"
check "kek-init wrong PIN" sh -c \
  "! $REG kek-init --pkcs11-module $M --pkcs11-pin-file $T/badpin --pkcs11-key x 2>$T/e &&
   grep -q 'PIN incorrect' $T/e"
check "kek-init without a module: usage" sh -c "$REG kek-init >/dev/null 2>&1; test \$? -eq 2"
check "--kek and --pkcs11-module: usage" sh -c \
  "$REG --db $T/r.db --kek $T/kek $P tenant-add a >/dev/null 2>&1; test \$? -eq 2"

# A batch group (its master key sealed) written with the KEK file ...
check "group-add with the file KEK" $REG --db "$T/r.db" --kek "$T/kek" group-add --tenant acme \
  --group meters --auth batch --vendor MeterCo --batch b1 --kdf hkdf-sha256 --bmk-file "$T/bmk"
printf '{"iccid":"89882280000000000014","public_keys":[],"certificates":[],"psk_identities":[{"identity":"MeterCo:b1:89882280000000000014"}]}\n' \
  >"$T/rec.jsonl"
# ... does not open through another key of the token,
check "another token key does not open it" sh -c \
  "! $REG --db $T/r.db $P import --tenant acme --group meters $T/rec.jsonl 2>$T/e &&
   grep -q 'fails authentication' $T/e"

# ... but through the token key holding the same value (the import unseals it).
check "import via the token (same value)" sh -c \
  "$REG --db $T/r.db --kek-pkcs11-module $M --kek-pkcs11-pin-file $T/pin --kek-pkcs11-key filekek \
     import --tenant acme --group meters $T/rec.jsonl | grep -q '1 created'"
G="$GW --check-config --backend 127.0.0.1:9 --registry $T/r.db --kek-pkcs11-module $M"
check "gateway --check-config opens the KEK" sh -c \
  "$G --kek-pkcs11-pin-file $T/pin 2>/dev/null | grep -q 'configuration OK'"
check "gateway --check-config: missing key" sh -c \
  "! $G --kek-pkcs11-pin-file $T/pin --kek-pkcs11-key nokey 2>$T/e && grep -q \"key 'nokey' not found\" $T/e"
check "gateway --check-config: wrong PIN" sh -c \
  "! $G --kek-pkcs11-pin-file $T/badpin 2>$T/e && grep -q 'PIN incorrect' $T/e"
check "gateway: both KEK sources refused" sh -c \
  "! $G --kek-pkcs11-pin-file $T/pin --kek-file $T/kek 2>$T/e && grep -q 'exclude each other' $T/e"
check "gateway --help documents the PKCS#11 KEK" sh -c "$GW --help | grep -q -- '--kek-pkcs11-module'"
exit $fail
