#!/usr/bin/env bash
# The main job (issue 5): installs what is missing (scripts/setup.sh), builds
# (scripts/build.sh), then runs GSMA IoT.04's SIM-as-root-of-trust end to end
# on one machine, through real sockets and real interfaces:
#   - a SIM factory personalises a batch of X.509 cards (scenario 1: key pair
#     generated inside each card, certificate from the group CA) and a batch of
#     batch-derived-PSK cards (scenario 5: eUK = KDF(BMK, vendor:batch:ICCID));
#   - the gateway registry's key-encryption key is generated inside SoftHSM2
#     (PKCS#11, a private token in the work directory) and never leaves it;
#   - simtrust-gateway (the IoT server middleware) imports both batches over
#     its REST API (Annex C.1, "file" form);
#   - every simulated device connects with TLS 1.3, its secrets staying in its
#     SIM, and sends a reading; the IoT server application behind the gateway
#     prints each device's authenticated identity and data;
#   - a device revoked over the API is refused during the handshake;
#   - the gateway's handshake metrics.
#
# Usage: scripts/demo.sh [--no-build] [--devices N] [--build-dir DIR] [--keep]
#   --no-build      use the existing build tree (default build/)
#   --devices N     N cards of each kind (default 3)
#   --build-dir DIR where the programs are (default build)
#   --keep          keep the work directory (its path is printed)
# Leaves nothing running; work files go to a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=1 devices=3 bdir=build keep=0
while [ $# -gt 0 ]; do
  case $1 in
  --no-build) build=0 ;;
  --devices) devices=${2:?--devices N}; shift ;;
  --build-dir) bdir=${2:?--build-dir DIR}; shift ;;
  --keep) keep=1 ;;
  -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case $devices in '' | *[!0-9]* | 0) echo "demo.sh: --devices wants a positive number" >&2; exit 2 ;; esac
if [ $build = 1 ]; then
  scripts/setup.sh
  scripts/build.sh "$bdir" >/dev/null
fi
case $bdir in /*) ;; *) bdir=$root/$bdir ;; esac
card=$bdir/card/simtrust-card
sim=$bdir/tools/simtrust
gateway=$bdir/gateway/simtrust-gateway
app=$bdir/gateway/simtrust-demo-app
factory=$bdir/factory/simtrust-factory
registry=$bdir/gateway/simtrust-registry
for p in "$card" "$sim" "$gateway" "$app" "$factory" "$registry"; do
  [ -x "$p" ] || { echo "demo.sh: $p is missing (build first, or drop --no-build)" >&2; exit 1; }
done
# The KEK's HSM: SoftHSM2 (embedded default; a real HSM takes its own module).
p11_module=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*-linux-gnu/softhsm/libsofthsm2.so; do
  [ -r "$m" ] && { p11_module=$m; break; }
done
if [ -z "$p11_module" ] || ! command -v softhsm2-util >/dev/null; then
  echo "demo.sh: SoftHSM2 is missing (scripts/setup.sh installs softhsm2)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/simtrust-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $keep = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
cd "$work"

step=0
say() { step=$((step + 1)); printf '\n== %d. %s\n' "$step" "$*"; }
die() { echo "demo.sh: $*" >&2; for f in gateway.err app.err; do [ -s "$f" ] && tail -n 20 "$f" >&2; done; exit 1; }
wait_line() { # wait_line FILE PATTERN PID
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

say "PKI: a group CA for the X.509 devices, a server CA and the gateway's certificate"
ossl() { openssl "$@" >/dev/null 2>&1 || die "openssl $1 failed"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout meters-ca.key \
  -out meters-ca.pem -subj "/O=Acme Metering/CN=meters group CA" -days 30 \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server-ca.key \
  -out server-ca.pem -subj "/O=Acme IoT/CN=server CA" -days 30 \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout gw.key -out gw.csr \
  -subj "/O=Acme IoT/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >gw.ext
ossl x509 -req -in gw.csr -CA server-ca.pem -CAkey server-ca.key -CAcreateserial -days 30 \
  -extfile gw.ext -out gw.pem
chmod 600 ./*.key
echo "meters-ca.pem: $(openssl x509 -in meters-ca.pem -noout -subject)"
echo "gw.pem:        $(openssl x509 -in gw.pem -noout -subject) (localhost, 127.0.0.1)"

say "Secrets: the registry's KEK generated inside SoftHSM2 (PKCS#11), never readable; the batch master key"
umask 077
# A private SoftHSM2 token directory for this run; every program below that
# loads the module finds it through SOFTHSM2_CONF.
mkdir hsm-tokens
printf 'directories.tokendir = %s/hsm-tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$work" >softhsm2.conf
export SOFTHSM2_CONF=$work/softhsm2.conf
hsm_pin=$(openssl rand -hex 8)
printf '%s\n' "$hsm_pin" >hsm.pin
softhsm2-util --init-token --free --label simtrust --pin "$hsm_pin" \
  --so-pin "$(openssl rand -hex 8)" >softhsm.out 2>&1 || die "softhsm2-util: $(cat softhsm.out)"
echo "SoftHSM2 token 'simtrust' in $work/hsm-tokens (user PIN in hsm.pin)"
echo "\$ simtrust-registry kek-init --pkcs11-module $p11_module --pkcs11-token simtrust \\"
echo "    --pkcs11-key kek --pkcs11-pin-file hsm.pin"
"$registry" kek-init --pkcs11-module "$p11_module" --pkcs11-token simtrust --pkcs11-key kek \
  --pkcs11-pin-file hsm.pin 2>kek-init.err || die "kek-init: $(cat kek-init.err)"
openssl rand -hex 32 >bmk
token=$(openssl rand -hex 24)
printf '# sha256(token) tenant roles\n%s acme admin\n' \
  "$(printf '%s' "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)" >tokens
umask 022
ls -l hsm.pin bmk tokens | awk '{print $1, $NF}'

say "The IoT server application (simtrust-demo-app: trusts only the gateway's PROXY v2 header)"
"$app" --listen 127.0.0.1:0 --ack >app.out 2>app.err &
pids+=($!)
wait_line app.out "listening on" "${pids[-1]}" || die "the demo app did not start"
app_addr=$(sed -n 's/^simtrust-demo-app: listening on //p' app.out)
echo "simtrust-demo-app: listening on $app_addr"

say "simtrust-gateway (TLS 1.3 for devices, HTTPS API, Prometheus metrics)"
cat >gateway.conf <<EOF
# simtrust-gateway demo configuration (docs/gateway.md)
tls_listen = 127.0.0.1:0
backend = $app_addr
api_listen = 127.0.0.1:0
api_tokens = $work/tokens
metrics_listen = 127.0.0.1:0
registry = $work/registry.db
kek_pkcs11_module = $p11_module
kek_pkcs11_token = simtrust
kek_pkcs11_key = kek
kek_pkcs11_pin_file = $work/hsm.pin
server_cert = $work/gw.pem
server_key = $work/gw.key
handshake_timeout = 30s
workers = 2
EOF
"$gateway" --config gateway.conf >gateway.out 2>gateway.err &
pids+=($!)
gw_pid=${pids[-1]}
wait_line gateway.out "^simtrust-gateway: tls=" "$gw_pid" || die "the gateway did not start"
cat gateway.out
tls_port=$(sed -n 's/.* tls=[^ ]*:\([0-9]*\) .*/\1/p' gateway.out)
api_port=$(sed -n 's/.* api=[^ ]*:\([0-9]*\) .*/\1/p' gateway.out)
met_port=$(sed -n 's/.* metrics=[^ ]*:\([0-9]*\).*/\1/p' gateway.out)
api="https://localhost:$api_port"
call() { # call METHOD PATH [curl args...]: prints the body, fails on HTTP >= 400
  local m=$1 p=$2
  shift 2
  curl -sS --fail-with-body --cacert server-ca.pem -H "Authorization: Bearer $token" \
    -X "$m" "$@" "$api$p"
}

compact() { # one-line JSON summary of a response (fields given, or all but PEMs)
  python3 -c 'import json,sys
d = json.load(sys.stdin); keep = sys.argv[1:]
if keep: d = {k: d.get(k) for k in keep}
elif isinstance(d, dict): d = {k: ("<pem>" if isinstance(v, str) and "-----BEGIN" in v else v) for k, v in d.items()}
print(json.dumps(d))' "$@"
}

say "Device groups over the REST API (interface 4): meters (X.509), sensors (batch PSK)"
python3 - <<'PY'
import json
ca = open("meters-ca.pem").read()
bmk = open("bmk").read().strip()
json.dump({"id": "meters", "auth_methods": ["x509"], "trust_anchors": ca}, open("meters.json", "w"))
json.dump({"id": "sensors", "auth_methods": ["batch-psk"],
           "batch": {"vendor": "acme", "batch_id": "b2026", "kdf": "hkdf-sha256", "bmk": bmk,
                     "allowlist": True}}, open("sensors.json", "w"))
PY
chmod 600 sensors.json
echo "\$ curl -X PUT $api/v1/groups/meters"
call PUT /v1/groups/meters -H 'Content-Type: application/json' --data-binary @meters.json | compact
echo "\$ curl -X PUT $api/v1/groups/sensors   (the BMK is sealed under the KEK at rest)"
call PUT /v1/groups/sensors -H 'Content-Type: application/json' --data-binary @sensors.json | compact

say "SIM factory: $devices X.509 cards (keys generated in the card) + $devices batch-PSK cards"
"$factory" --group meters --count "$devices" --out meters --x509 --ca-cert meters-ca.pem \
  --ca-key meters-ca.key --server-ca server-ca.pem --card "$card" 2>factory.err || die "factory: $(cat factory.err)"
"$factory" --group sensors --count "$devices" --out sensors --batch --vendor acme \
  --batch-id b2026 --bmk-file bmk --kdf hkdf-sha256 --server-ca server-ca.pem --card "$card" \
  2>>factory.err || die "factory: $(cat factory.err)"

say "Offline delivery import (Annex C.1): both batch.jsonl files into the gateway"
for g in meters sensors; do
  echo "\$ curl -X POST $api/v1/groups/$g/import --data-binary @$g/batch.jsonl"
  call POST "/v1/groups/$g/import" -H 'Content-Type: application/jsonl' \
    --data-binary "@$g/batch.jsonl" | compact
done

connect() { # connect IMAGE LINE [simtrust connect options]: one device sends one line
  local img=$1 line=$2 port rc
  shift 2
  "$card" serve --image "$img" --tcp 127.0.0.1:0 </dev/null >serve.out 2>serve.err &
  local spid=$!
  wait_line serve.out '^tcp: ' $spid || { kill $spid 2>/dev/null; return 3; }
  port=$(sed -n 's/^tcp: //p' serve.out)
  set +e
  printf '%s\n' "$line" | timeout 60 "$sim" --sim "tcp:$port" connect --host 127.0.0.1 \
    --port "$tls_port" --servername localhost --ca ca "$@" >connect.out 2>connect.err
  rc=$?
  set -e
  kill $spid 2>/dev/null || true
  wait $spid 2>/dev/null || true
  return $rc
}

arrived() { # arrived ICCID: the application printed a line of this device
  for _ in $(seq 30); do grep -q "^device=$1 " app.out && return 0; sleep 0.1; done
  return 1
}

say "Devices connect through their SIM: TLS 1.3 mutual ECDSA (scenario 1), TLS 1.3 PSK-DHE (scenario 5)"
i=0
for img in meters/*.img sensors/*.img; do
  i=$((i + 1))
  iccid=$(basename "$img" .img)
  case $img in
  meters/*) kind=x509 opts=(--key client) reading="temperature=$((18 + i)).5C" ;;
  *) kind=batch-psk opts=(--psk psk --tls 1.3) reading="humidity=$((40 + i))%" ;;
  esac
  if connect "$img" "$reading" "${opts[@]}" && arrived "$iccid"; then
    echo "device $iccid ($kind): sent '$reading' over TLS 1.3, the SIM holding the key"
  else
    die "device $iccid ($kind) failed: $(cat connect.err)"
  fi
done
sleep 0.3

say "What the IoT server application received (identity from the gateway, not from the device)"
grep '^device=' app.out

say "Revoking one device over the API; it is refused during the handshake"
victim=$(basename "$(ls meters/*.img | head -1)" .img)
echo "\$ curl -X PATCH $api/v1/devices/$victim -d '{\"state\":\"revoked\"}'"
call PATCH "/v1/devices/$victim" -H 'Content-Type: application/merge-patch+json' \
  --data-binary '{"state":"revoked"}' | compact id group state
before=$(grep -c "^device=$victim " app.out || true)
# TLS 1.3: the client may finish its side before the server's alert arrives,
# so the proof is that nothing reaches the application and no ack comes back.
connect "meters/$victim.img" "this must not arrive" --key client || true
sleep 0.3
after=$(grep -c "^device=$victim " app.out || true)
[ "$before" = "$after" ] || die "data of the revoked device reached the application"
why=$(grep -m 1 . connect.err 2>/dev/null || true)
echo "device $victim: refused (${why:-connection closed by the gateway})"
grep -i "refus\|revok" gateway.err | tail -n 1 || true

say "Metrics (Prometheus, http://127.0.0.1:$met_port/metrics)"
curl -sS "http://127.0.0.1:$met_port/metrics" | grep '^simtrust_gw_handshakes_total' | grep -v ' 0$' || true

say "Stopping (SIGTERM: graceful)"
kill -TERM "$gw_pid"
wait "$gw_pid" && echo "simtrust-gateway exited 0" || echo "simtrust-gateway exited $?"
echo
echo "Done: $((2 * devices)) devices authenticated by their SIM, one revoked device refused."
