#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is missing, builds,
# then shows a simulated IoT SAFE SIM at work through real interfaces:
#   1. factory personalisation (keys generated inside the card) and the
#      delivery record with the public parts;
#   2. the card as a PC/SC reader through pcscd + vpcd, driven by opensc-tool;
#   3. the card as a cellular modem on a pseudo-terminal, driven by AT+CSIM;
#   4. a signature made by the card over a digest, verified by OpenSSL with
#      the public key from the delivery record.
#
# Usage: scripts/demo.sh [--no-build]
# Leaves nothing running; work files go to a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${1:-}" != "--no-build" ]; then
  scripts/setup.sh
  scripts/build.sh build >/dev/null
fi
card=$root/build/card/simtrust-card
work=$(mktemp -d /tmp/simtrust-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

say "1. Personalising a card (keys generated inside the card)"
"$card" personalise --profile examples/profiles/demo.json --image "$work/card.img" \
  --delivery "$work/delivery.json"
cat "$work/delivery.json"; echo
# The public key the card generated for private key 01, from the delivery record.
sed -n 's/.*"pem": "\(-----BEGIN PUBLIC KEY-----[^"]*\)".*/\1/p' "$work/delivery.json" |
  head -n 1 | sed 's/\\n/\n/g' > "$work/client.pub"

say "2. The card as a PC/SC reader (pcscd + vpcd)"
if ! pcsc_scan -r >/dev/null 2>&1; then
  pcscd --foreground >"$work/pcscd.log" 2>&1 &
  pids+=($!)
  sleep 1
fi
"$card" serve --image "$work/card.img" --vpcd >"$work/vpcd.out" 2>"$work/vpcd.log" &
pids+=($!)
for _ in $(seq 50); do
  opensc-tool -r 'Virtual PCD 00 00' --atr >/dev/null 2>&1 && break
  sleep 0.2
done
echo "\$ opensc-tool -r 'Virtual PCD 00 00' -s 00A4040007A0000005590010 -s 80CB000044"
opensc-tool -r 'Virtual PCD 00 00' -s 00A4040007A0000005590010 -s 80CB000044
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

say "3. The card as a cellular modem (AT+CSIM on a pseudo-terminal)"
"$card" serve --image "$work/card.img" --modem --trace "$work/trace.log" \
  >"$work/modem.out" 2>"$work/modem.log" &
pids+=($!)
for _ in $(seq 50); do grep -q '^modem: ' "$work/modem.out" 2>/dev/null && break; sleep 0.1; done
pty=$(sed -n 's/^modem: //p' "$work/modem.out")
echo "modem on $pty"
exec 3<>"$pty"
stty -F "$pty" raw -echo
at() { # sends one AT command, prints the reply lines up to OK/ERROR
  printf '%s\r' "$1" >&3
  local line out=""
  while IFS= read -r -t 5 line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && continue
    out+="$line"$'\n'
    case $line in OK|ERROR|+CME\ ERROR*) break ;; esac
  done
  printf '%s' "$out"
}
at ATE0 >/dev/null
digest=$(printf 'hello from the demo' | openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n')
for cmd in 'ATI' 'AT+CSIM=24,"01A4040007A0000005590010"' \
           'AT+CSIM=36,"812A00010D840101A1010391020001920104"' \
           "AT+CSIM=78,\"812B8001229E20${digest^^}\"" 'AT+CSIM=10,"01C0000043"'; do
  echo "> $cmd"
  reply=$(at "$cmd")
  printf '%s\n' "$reply" | sed 's/^/< /'
done
sig=$(printf '%s' "$reply" | sed -n 's/^+CSIM: [0-9]*,"33\(00\)\?40\(.*\)9000"$/\2/p')
exec 3>&-

say "4. Verifying the card's signature with OpenSSL"
if [ ${#sig} -ne 128 ]; then
  echo "unexpected signature reply: $reply" >&2
  exit 1
fi
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${sig:0:64}" "${sig:64:64}" \
  >"$work/sig.cnf"
openssl asn1parse -genconf "$work/sig.cnf" -out "$work/sig.der" -noout
printf 'hello from the demo' | openssl dgst -sha256 -verify "$work/client.pub" \
  -signature "$work/sig.der"
echo
echo "APDU trace of the modem session:"
cat "$work/trace.log"
say "Demo complete: the private key never left the simulated SIM."
