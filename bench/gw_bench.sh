#!/bin/sh
# simtrust-gateway benchmark (issue 5), side by side in one run:
#   handshakes per second per core for TLS 1.3 mutual ECDSA, TLS 1.2 PSK, TLS 1.2
#   batch-derived PSK and DTLS 1.2 PSK: simtrust-gateway vs stunnel4 vs openssl s_server;
#   memory per idle connection (gateway, stunnel); registry lookup time with 1,000,000
#   device records (bench/registry_bench).
#
#   sh bench/gw_bench.sh BUILD_DIR [--quick] [--no-registry]
#
# Builds nothing: needs BUILD/gateway/simtrust-gateway, BUILD/gateway/simtrust-registry,
# BUILD/bench/gw_loadgen, BUILD/bench/gw_bench_seed, BUILD/bench/registry_bench, plus
# openssl, stunnel4 (exit 77 if missing), python3 and taskset.
# Environment (defaults; --quick in brackets): GW_BENCH_SECONDS measured seconds per cell 5 [0.5],
# GW_BENCH_WARMUP 1 [0.1], GW_BENCH_ROUNDS 3 [1] (the median per cell is reported),
# GW_BENCH_CONC handshakes in flight 32 [4], GW_BENCH_HOLD idle connections 2000 [20],
# GW_BENCH_DEVICES PSK devices/batch identities the client rotates through 100 [5],
# GW_BENCH_PSK_CIPHER PSK-AES128-GCM-SHA256, GW_BENCH_SERVERS "gateway stunnel s_server"
# (a subset leaves the other columns n/a), GW_BENCH_KEEP=1 keeps the temp directory.
# docs/benchmarks.md explains every column.
set -u
usage() { echo "usage: sh gw_bench.sh BUILD_DIR [--quick] [--no-registry]" >&2; exit 2; }
[ $# -ge 1 ] || usage
B=$(cd "$1" && pwd) || usage
shift
QUICK=0 REGISTRY=1
for a in "$@"; do
    case $a in
    --quick) QUICK=1 ;;
    --no-registry) REGISTRY=0 ;;
    *) usage ;;
    esac
done
if [ $QUICK = 1 ]; then
    SECS=${GW_BENCH_SECONDS:-0.5} WARM=${GW_BENCH_WARMUP:-0.1} ROUNDS=${GW_BENCH_ROUNDS:-1}
    CONC=${GW_BENCH_CONC:-4} HOLD=${GW_BENCH_HOLD:-20} NDEV=${GW_BENCH_DEVICES:-5}
    REGISTRY=0
else
    SECS=${GW_BENCH_SECONDS:-5} WARM=${GW_BENCH_WARMUP:-1} ROUNDS=${GW_BENCH_ROUNDS:-3}
    CONC=${GW_BENCH_CONC:-32} HOLD=${GW_BENCH_HOLD:-2000} NDEV=${GW_BENCH_DEVICES:-100}
fi
CIPHER=${GW_BENCH_PSK_CIPHER:-PSK-AES128-GCM-SHA256}
SERVERS=${GW_BENCH_SERVERS:-gateway stunnel s_server}
has() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }

GW=$B/gateway/simtrust-gateway REG=$B/gateway/simtrust-registry
LG=$B/bench/gw_loadgen SEED=$B/bench/gw_bench_seed RB=$B/bench/registry_bench
STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
[ -n "$STUNNEL" ] || { echo "SKIP: stunnel4 is not installed (scripts/setup.sh installs it)"; exit 77; }
for t in openssl python3; do
    command -v $t >/dev/null 2>&1 || { echo "gw_bench: $t is required"; exit 1; }
done
has gateway || GW=$LG
for f in "$GW" "$REG" "$LG" "$SEED"; do
    [ -x "$f" ] || { echo "gw_bench: $f is not built"; exit 1; }
done

# CPU 0: the server under test (all its threads); CPU 1: the load generator and the sink.
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    ON_SRV="taskset -c 0" ON_CLI="taskset -c 1" PINNED="server on CPU 0, client on CPU 1"
else
    ON_SRV="" ON_CLI="" PINNED="NOT pinned (needs taskset and 2 CPUs): per-core figures are rough"
fi
# shellcheck disable=SC3045 # dash and bash have ulimit -n/-H; 2000 held connections need fds
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

T=$(mktemp -d "${TMPDIR:-/tmp}/st-gwbench.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "${GW_BENCH_KEEP:-0}" = 1 ]; then echo "gw_bench: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$T" || exit 1
mkfifo stdin.fifo && exec 3<>stdin.fifo   # s_server reads stdin: keep it open, never EOF
say() { printf '%s\n' "$*" >&2; }
die() { say "gw_bench: $*"; exit 1; }

# Waits until file $1 has a line matching $2 (extended regex); $3 = pid that must stay alive.
wait_line() {
    i=0
    until grep -Eq "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$3" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
}
free_port() { # tcp|udp: a port free right now (the servers bind it a moment later)
    python3 -c "import socket,sys;t=socket.SOCK_STREAM if sys.argv[1]=='tcp' else socket.SOCK_DGRAM
s=socket.socket(socket.AF_INET,t);s.bind(('127.0.0.1',0));print(s.getsockname()[1])" "$1"
}
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }

# ---------------------------------------------------------------- PKI, keys, registry
O=openssl
key() { $O ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
key ca.key
$O req -x509 -new -key ca.key -subj /CN=simtrust-bench-ca -days 30 -out ca.pem \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign \
    2>/dev/null || die "openssl req (CA) failed"
issue() { # name CN extension
    key "$1.key"
    $O req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    $O x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null || die "openssl x509 ($1) failed"
}
issue srv localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
# X.509 devices: NCERT certificates (the client presents them in turn), imported into the
# registry as delivery records (device ID = ICCID; the SPKI binds the certificate).
NCERT=10
[ $QUICK = 1 ] && NCERT=2
: > certs.txt
i=1
while [ $i -le $NCERT ]; do
    issue dev$i "device-$i" "extendedKeyUsage=clientAuth"
    echo "dev$i.pem dev$i.key" >> certs.txt
    i=$((i + 1))
done
$O rand -hex 32 > kek.hex && chmod 600 kek.hex
$O rand -hex 32 > bmk.hex && chmod 600 bmk.hex
VENDOR=MeterCo BATCH=bench-1

# PSK files (lines "identity hexkey"): stored PSKs, batch identities with their eUK =
# HMAC-SHA-256(BMK, identity) (checked against the project's known-answer vector first),
# the same batch keys under identities with '.' for ':' (stunnel's PSKsecrets splits a
# line at the first ':'), and the X.509 device's delivery record.
python3 - "$NDEV" "$VENDOR" "$BATCH" "$NCERT" <<'PY' || die "python3 key generation failed"
import hashlib, hmac, json, os, sys
n, vendor, batch, ncert = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
kat = hmac.new(bytes(range(32)), b"MeterCo:batch-2026-11:89882280000000000014",
               hashlib.sha256).hexdigest()
assert kat == "72b28f257754143714e8438e2c779cd7d937cdbecc1c42f2fa22a3f3a746f527", kat
def luhn(digits):
    s = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        s += v - 9 if v > 9 else v
    return str((10 - s % 10) % 10)
bmk = bytes.fromhex(open("bmk.hex").read().strip())
with open("psk.txt", "w") as f:
    for i in range(n):
        f.write("dev-psk-%06d %s\n" % (i + 1, os.urandom(32).hex()))
with open("batch.txt", "w") as f, open("batch-stunnel.txt", "w") as g:
    for i in range(n):
        body = "8988228%012d" % (i + 1)
        ident = "%s:%s:%s" % (vendor, batch, body + luhn(body))
        euk = hmac.new(bmk, ident.encode(), hashlib.sha256).hexdigest()
        f.write("%s %s\n" % (ident, euk))
        g.write("%s %s\n" % (ident.replace(":", "."), euk))
recs = []
for i in range(1, ncert + 1):
    body = "8988228%012d" % (900000 + i)
    recs.append({"iccid": body + luhn(body),
                 "certificates": [{"file_id": "02", "label": "client-cert",
                                   "subject": "CN=device-%d" % i,
                                   "pem": open("dev%d.pem" % i).read()}]})
json.dump(recs, open("devices.delivery.json", "w"))
PY
for f in psk batch-stunnel batch; do
    sed 's/ /:/' $f.txt > $f.secrets && chmod 600 $f.secrets
done
chmod 600 psk.secrets batch-stunnel.secrets
head -1 psk.txt > psk1.txt
head -1 batch.txt > batch1.txt
R="$REG --db reg.db --kek kek.hex"
{ $R tenant-add bench &&
  $R group-add --tenant bench --group x509 --auth x509 --anchors ca.pem &&
  $R import --tenant bench --group x509 devices.delivery.json &&
  $R group-add --tenant bench --group batch --auth batch --vendor $VENDOR --batch $BATCH \
      --kdf hmac-sha256 --bmk-file bmk.hex &&
  $SEED --db reg.db --kek kek.hex --tenant bench --group psk --psk-file psk.txt
} > registry.log 2>&1 || { cat registry.log >&2; die "registry set-up failed"; }

# ---------------------------------------------------------------- servers
# The backend: one sink (gw_loadgen --sink, on the client CPU) that reads and discards;
# the gateway (PROXY v2 header) and stunnel (protocol = proxy: PROXY v1 header) both
# connect to it for every authenticated connection. s_server has no backend.
$ON_CLI "$LG" --sink 127.0.0.1:0 > sink.out 2> sink.err &
SINK_PID=$!; PIDS="$PIDS $SINK_PID"
wait_line sink.out '^sink=' $SINK_PID || die "the sink did not start: $(cat sink.err)"
SINK=$(sed -n 's/^sink=//p' sink.out)

GW_PID=""
start_gateway() { # log level warn: errors and refusals only, like stunnel debug = 3
    $ON_SRV "$GW" --tls-listen 127.0.0.1:0 --dtls-listen 127.0.0.1:0 --backend "$SINK" \
        --registry reg.db --kek-file kek.hex --server-cert srv.pem --server-key srv.key \
        --workers 1 --log-level warn > gw.out 2>> gw.err &
    GW_PID=$!; PIDS="$PIDS $GW_PID"
    wait_line gw.out '^simtrust-gateway: tls=' $GW_PID ||
        die "simtrust-gateway did not start: $(tail -5 gw.err)"
    GW_TLS=$(sed -n 's/^simtrust-gateway: tls=\([^ ]*\) .*/\1/p' gw.out | tail -1)
    GW_DTLS=$(sed -n 's/^.* dtls=\([^ ]*\) .*/\1/p' gw.out | tail -1)
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

ST_PID=""
start_stunnel() {
    ST_13=127.0.0.1:$(free_port tcp) ST_PSK=127.0.0.1:$(free_port tcp)
    ST_BATCH=127.0.0.1:$(free_port tcp)
    cat > stunnel.conf <<EOF
foreground = yes
pid =
syslog = no
debug = 3
[tls13-ecdsa]
accept = $ST_13
connect = $SINK
protocol = proxy
cert = srv.pem
key = srv.key
CAfile = ca.pem
verifyChain = yes
requireCert = yes
sslVersionMin = TLSv1.3
sslVersionMax = TLSv1.3
[tls12-psk]
accept = $ST_PSK
connect = $SINK
protocol = proxy
PSKsecrets = psk.secrets
ciphers = $CIPHER
sslVersionMin = TLSv1.2
sslVersionMax = TLSv1.2
[tls12-batch]
accept = $ST_BATCH
connect = $SINK
protocol = proxy
PSKsecrets = batch-stunnel.secrets
ciphers = $CIPHER
sslVersionMin = TLSv1.2
sslVersionMax = TLSv1.2
EOF
    $ON_SRV "$STUNNEL" stunnel.conf >> stunnel.log 2>&1 &
    ST_PID=$!; PIDS="$PIDS $ST_PID"
    for a in $ST_13 $ST_PSK $ST_BATCH; do
        i=0
        until python3 -c "import socket,sys;socket.create_connection(('127.0.0.1',int(sys.argv[1])),1).close()" \
            "${a#*:}" 2>/dev/null; do
            i=$((i + 1))
            { [ $i -gt 100 ] || ! kill -0 $ST_PID 2>/dev/null; } &&
                die "stunnel did not start: $(tail -5 stunnel.log)"
            sleep 0.05
        done
    done
}

start_s_server() { # name port options...
    n=$1 p=$2; shift 2
    $ON_SRV $O s_server -accept "127.0.0.1:$p" -quiet "$@" < stdin.fifo > "s_server-$n.log" 2>&1 &
    eval "SS_$(echo "$n" | tr - _)=$!"
    PIDS="$PIDS $!"
}
read -r PSK1_ID PSK1_KEY < psk1.txt
read -r BATCH1_ID BATCH1_KEY < batch1.txt
SS_13_PORT=$(free_port tcp) SS_PSK_PORT=$(free_port tcp) SS_BATCH_PORT=$(free_port tcp)
SS_DTLS_PORT=$(free_port udp)
SS_tls13_ecdsa="" SS_tls12_psk="" SS_tls12_batch="" SS_dtls12_psk=""
if has s_server; then
    start_s_server tls13-ecdsa "$SS_13_PORT" -tls1_3 -num_tickets 0 -cert srv.pem -key srv.key \
        -CAfile ca.pem -Verify 1
    start_s_server tls12-psk "$SS_PSK_PORT" -tls1_2 -nocert -cipher "$CIPHER" \
        -psk "$PSK1_KEY" -psk_identity "$PSK1_ID"
    start_s_server tls12-batch "$SS_BATCH_PORT" -tls1_2 -nocert -cipher "$CIPHER" \
        -psk "$BATCH1_KEY" -psk_identity "$BATCH1_ID"
    start_s_server dtls12-psk "$SS_DTLS_PORT" -dtls1_2 -nocert -cipher "$CIPHER" \
        -psk "$PSK1_KEY" -psk_identity "$PSK1_ID"
fi
has gateway && start_gateway
has stunnel && start_stunnel
sleep 0.3

# ---------------------------------------------------------------- handshake rates
KINDS="tls13-ecdsa tls12-psk tls12-batch dtls12-psk"
FAILED=0
# run server kind round: one gw_loadgen run; its line goes to results.txt.
run() {
    srv=$1 kind=$2 round=$3 conc=$CONC pidv="" addr="" pskf=""
    case $kind in
    tls13-ecdsa) creds="--cert-list certs.txt" ;;
    tls12-psk | dtls12-psk) pskf=psk.txt ;;
    tls12-batch) pskf=batch.txt ;;
    esac
    case $srv in
    gateway)
        pidv=$GW_PID
        addr=$GW_TLS
        [ $kind = dtls12-psk ] && addr=$GW_DTLS ;;
    stunnel)
        pidv=$ST_PID
        case $kind in
        tls13-ecdsa) addr=$ST_13 ;;
        tls12-psk) addr=$ST_PSK ;;
        tls12-batch) addr=$ST_BATCH pskf=batch-stunnel.txt ;;
        dtls12-psk) echo "server=$srv kind=$kind round=$round n/a" >> results.txt; return ;;
        esac ;;
    s_server)
        case $kind in
        tls13-ecdsa) pidv=$SS_tls13_ecdsa addr=127.0.0.1:$SS_13_PORT ;;
        tls12-psk) pidv=$SS_tls12_psk addr=127.0.0.1:$SS_PSK_PORT pskf=psk1.txt ;;
        tls12-batch) pidv=$SS_tls12_batch addr=127.0.0.1:$SS_BATCH_PORT pskf=batch1.txt ;;
        dtls12-psk) pidv=$SS_dtls12_psk addr=127.0.0.1:$SS_DTLS_PORT pskf=psk1.txt conc=1 ;;
        esac ;;
    esac
    [ -n "$pskf" ] && creds="--psk-file $pskf --cipher $CIPHER"
    # shellcheck disable=SC2086
    line=$($ON_CLI "$LG" --connect "$addr" --kind $kind --seconds "$SECS" --warmup "$WARM" \
        --concurrency $conc --server-pid "$pidv" $creds 2> lg.err)
    [ -n "$line" ] || line="kind=$kind hs=0 fail=0 seconds=0 rate=0 client_cpu=0 per_core=0"
    echo "server=$srv round=$round $line" >> results.txt
    hs=$(field "$line" hs) fl=$(field "$line" fail)
    if [ "${hs:-0}" = 0 ] || [ $(( ${fl:-0} * 100 )) -gt "${hs:-0}" ]; then
        say "gw_bench: $srv $kind: hs=${hs:-0} fail=${fl:-?}: $(head -3 lg.err | tr '\n' ' ')"
        FAILED=1
    fi
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "gw_bench: $ROUNDS round(s) x 4 kinds x 3 servers x ${SECS}s (+${WARM}s warm-up), $CONC in flight"
r=1
while [ $r -le "$ROUNDS" ]; do
    for kind in $KINDS; do
        for srv in $SERVERS; do
            run $srv $kind $r
        done
    done
    r=$((r + 1))
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# median of the values of field $3 for server $1, kind $2 over the rounds ("" if none)
median() {
    grep "^server=$1 .*kind=$2 " results.txt | grep -v ' n/a' | while read -r l; do
        field "$l" "$3"
    done | sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b}'; }
fmt() { [ -n "$1" ] && printf '%.0f' "$1" || printf 'n/a'; }

# ---------------------------------------------------------------- memory per idle connection
# A fresh server per measurement (so that memory freed by earlier runs does not hide the
# growth), warmed with 200 handshakes, VmRSS before and after K held connections.
mem_run() { # server kind: KiB per connection (or n/a) into mem-SERVER-KIND.txt
    srv=$1 kind=$2
    exec 4> "mem-$srv-$kind.txt"
    if ! has $srv; then echo "n/a" >&4; return; fi
    if [ $srv = gateway ]; then
        start_gateway; pid=$GW_PID addr=$GW_TLS
    else
        start_stunnel; pid=$ST_PID
        [ $kind = tls13-ecdsa ] && addr=$ST_13 || addr=$ST_PSK
    fi
    case $kind in
    tls13-ecdsa) creds="--cert-list certs.txt" ;;
    *) creds="--psk-file psk.txt --cipher $CIPHER" ;;
    esac
    # shellcheck disable=SC2086
    $ON_CLI "$LG" --connect "$addr" --kind $kind --count 200 --concurrency 8 $creds \
        > /dev/null 2>&1
    sleep 0.5
    before=$(rss_kb $pid)
    # shellcheck disable=SC2086
    $ON_CLI "$LG" --connect "$addr" --kind $kind --hold "$HOLD" --concurrency 16 $creds \
        > hold.out 2> hold.err &
    hp=$!
    if wait_line hold.out '^held=' $hp; then
        sleep 1
        after=$(rss_kb $pid)
        held=$(sed -n 's/^held=\([0-9]*\).*/\1/p' hold.out)
        awk -v a="$after" -v b="$before" -v k="$held" \
            'BEGIN {if (k > 0) printf "%.1f KiB (%d held, VmRSS %d -> %d KiB)\n", (a - b) / k, k, b, a; else print "n/a"}' >&4
    else
        echo "n/a (hold failed: $(head -2 hold.err | tr '\n' ' '))" >&4
    fi
    exec 4>&-
    stop_pid $hp
    stop_pid $pid
}
for p in $GW_PID $ST_PID $SS_tls13_ecdsa $SS_tls12_psk $SS_tls12_batch $SS_dtls12_psk; do
    stop_pid "$p"
done
say "gw_bench: memory per idle connection, $HOLD held connections per server"
for kind in tls12-psk tls13-ecdsa; do
    mem_run gateway $kind
    mem_run stunnel $kind
done

# ---------------------------------------------------------------- registry
REG_OUT=""
if [ $REGISTRY = 1 ]; then
    if [ -x "$RB" ]; then
        say "gw_bench: registry_bench --devices 1000000 (a minute or two)"
        REG_OUT=$("$RB" --devices 1000000 2>&1 | grep -E 'lookup|resolve|insert|eUK')
    else
        REG_OUT="(registry_bench is not built)"
    fi
fi

# ---------------------------------------------------------------- report
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "simtrust-gateway benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs: $CPU"
echo "$($O version | head -1); $("$STUNNEL" -version 2>&1 | grep -m1 '^stunnel'); load average $LOAD0 (start), $LOAD1 (end)"
BT=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$B/CMakeCache.txt" 2>/dev/null)
SAN=$(sed -n 's/^ST_SANITIZE:[A-Z]*=//p' "$B/CMakeCache.txt" 2>/dev/null)
case "$BT" in
Release | RelWithDebInfo) BTNOTE="" ;;
*) BTNOTE=" (not an optimised build: figures are not representative)" ;;
esac
[ "$SAN" = ON ] && BTNOTE=" (sanitizers on: figures are not representative)"
echo "build $B: ${BT:-?}, ST_SANITIZE=${SAN:-?}$BTNOTE"
echo "$PINNED; $ROUNDS round(s) of ${SECS}s per cell after ${WARM}s warm-up, median shown;"
echo "$CONC handshakes in flight (s_server DTLS: 1, it serves one client at a time);"
echo "each connection: full handshake (no resumption), close_notify, wait for the server's close."
echo
echo "Handshakes per second per core = handshakes / CPU seconds the server used (all threads)"
printf '%-12s | %12s | %12s | %12s | %15s | %16s\n' kind "gateway hs/s" "stunnel hs/s" \
    "s_server hs/s" "gateway/stunnel" "gateway/s_server"
printf '%s\n' "-------------+--------------+--------------+---------------+-----------------+-----------------"
TARGET_MISS=""
for kind in $KINDS; do
    g=$(median gateway $kind per_core) s=$(median stunnel $kind per_core)
    o=$(median s_server $kind per_core)
    rs=$(ratio "$g" "$s") ro=$(ratio "$g" "$o")
    printf '%-12s | %12s | %12s | %13s | %15s | %16s\n' $kind "$(fmt "$g")" "$(fmt "$s")" \
        "$(fmt "$o")" "$rs" "$ro"
    case $rs in n/a) ;; *) awk -v r="$rs" 'BEGIN {exit !(r < 1)}' && TARGET_MISS="$TARGET_MISS $kind" ;; esac
done
echo
echo "Wall-clock handshakes per second and server CPU use (the same runs)"
printf '%-12s | %-25s | %-25s | %-25s\n' kind "gateway hs/s (CPU%)" "stunnel hs/s (CPU%)" \
    "s_server hs/s (CPU%)"
for kind in $KINDS; do
    row=""
    for srv in gateway stunnel s_server; do
        w=$(median $srv $kind rate) c=$(median $srv $kind server_cpu) sec=$(median $srv $kind seconds)
        if [ -n "$w" ]; then
            cell=$(awk -v w="$w" -v c="$c" -v s="$sec" 'BEGIN {printf "%.0f (%.0f%%)", w, (s > 0 ? 100 * c / s : 0)}')
        else
            cell="n/a"
        fi
        row="$row$(printf ' | %-25s' "$cell")"
    done
    printf '%-12s%s\n' $kind "$row"
done
echo "negotiated: $(for kind in $KINDS; do
    l=$(grep "^server=.*kind=$kind .*cipher=" results.txt | head -1)
    printf '%s %s%s; ' $kind "$(field "$l" cipher)" "$(g=$(field "$l" group); [ -n "$g" ] && printf ' %s' "$g")"
done)"
g=$(median gateway tls12-psk per_core) b=$(median gateway tls12-batch per_core)
BP=$(awk -v g="$g" -v b="$b" 'BEGIN {if (g == "" || b == "" || g == 0) print "n/a"; else printf "%+.1f%%", 100 * (b - g) / g}')
echo
echo "batch-psk vs psk: $BP (gateway, handshakes per core; target: within 10%)"
BPOK=$(awk -v g="$g" -v b="$b" 'BEGIN {if (g == "" || b == "" || g == 0) print "n/a"; else print ((b - g) / g >= -0.10 ? "met" : "MISSED")}')
if [ -n "$TARGET_MISS" ]; then STOK="MISSED on$TARGET_MISS"; elif has gateway && has stunnel; then STOK=met; else STOK=n/a; fi
echo "targets: gateway >= stunnel on every kind: $STOK; batch-psk within 10% of psk: $BPOK"
echo
echo "Memory per idle connection (VmRSS delta / connections held; kernel socket buffers not included):"
for kind in tls12-psk tls13-ecdsa; do
    for srv in gateway stunnel; do
        printf '  %-8s %-12s %s\n' $srv $kind "$(cat "mem-$srv-$kind.txt")"
    done
done
echo "  (each held connection has its backend connection to the sink open too)"
echo
if [ $REGISTRY = 1 ]; then
    echo "Registry with 1,000,000 device records (bench/registry_bench --devices 1000000):"
    printf '%s\n' "$REG_OUT" | sed 's/^/  /'
else
    echo "Registry lookup with 1,000,000 devices: skipped (--quick or --no-registry)"
fi
echo
echo "What each server does per connection:"
echo "  gateway:  simtrust-gateway --workers 1 --log-level warn; registry lookup (X.509: SPKI"
echo "            binding + the group's trust anchors; PSK: stored key unsealed; batch: group"
echo "            lookup + HMAC-SHA-256 derivation), then connects the sink with a PROXY v2 header"
echo "  stunnel:  stunnel4 (thread per connection), debug = 3, verifyChain + requireCert (X.509;"
echo "            TLS 1.3: 2 session tickets per handshake, stunnel has no option to turn them off),"
echo "            PSKsecrets with all $NDEV identities (batch: the precomputed eUKs, identities"
echo "            with '.' for ':'), connects the sink with a PROXY v1 header (protocol = proxy)"
echo "  s_server: openssl s_server -quiet, one connection at a time, no backend, -Verify 1 and"
echo "            -num_tickets 0 (TLS 1.3; the gateway sends no tickets either); PSK kinds with"
echo "            ONE identity (-psk/-psk_identity): the client uses only that one for s_server"
echo
echo "Raw runs (per round; per_core = hs / server_cpu):"
awk '{printf "  %s", $1; for (i = 2; i <= NF; i++) if ($i ~ /^(round|kind|hs|fail|rate|server_cpu|per_core|client_cpu)=/ || $i == "n/a") printf " %s", $i; print ""}' results.txt
BUSY=$(echo "$LOAD0 $LOAD1" | awk '{print ($1 > 0.5 || $4 > 3.5) ? 1 : 0}')
if [ "$BUSY" = 1 ]; then
    echo
    echo "NOTE: the machine was busy (load average above); other processes shared the CPUs,"
    echo "so the figures are noisy. For publishable numbers run on an idle machine."
fi
[ $QUICK = 1 ] && echo "(--quick: a smoke run; the figures mean nothing)"
if [ $FAILED = 1 ]; then
    say "gw_bench: some runs had no handshakes or more than 1% failures (see above)"
    exit 1
fi
exit 0
