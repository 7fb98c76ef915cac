#!/bin/sh
# wolfssl-iotsafe.sh - build wolfSSL's IoT-SAFE port and its IDE/iotsafe-raspberrypi demo client.
#
# wolfSSL is GPL and Debian's binary libwolfssl is built without the IoT-SAFE port, so nothing of
# it lives in this repository: this script fetches the Debian source package with
# `apt-get source`, unpacks it with dpkg-source (which applies Debian's patches), builds a static
# libwolfssl with --enable-iotsafe into a cache directory, and compiles the unmodified demo
# sources (client-tls13.c + main.c) against it. The result is used only as an external peer by
# tests/interop/wolfssl_iotsafe.sh.
#
# Output (in --out DIR):
#   DIR/bin/iotsafe-tls13     the demo as shipped (TLS 1.3 client)
#   DIR/bin/iotsafe-tls12     the same sources compiled with
#                             -DwolfTLSv1_3_client_method=wolfTLSv1_2_client_method (TLS 1.2)
#   DIR/prefix/               wolfSSL installed (static library + headers)
#   DIR/src/                  downloaded Debian source package and the unpacked tree
#   DIR/build.log             configure/make output
#   DIR/stamp                 build configuration of the finished build (skip marker)
set -eu

PROG=wolfssl-iotsafe.sh
WOLFSSL_UPSTREAM=5.5.4
# Bump when the configure options or the demo build change, to force a rebuild of caches.
RECIPE=1
CONFIGURE_OPTS="--disable-shared --enable-static --enable-tls13 --enable-hkdf --enable-pkcallbacks
--enable-iotsafe --enable-debug --disable-examples --disable-crypttests --disable-benchmark"
# WOLFSSL_TRUST_PEER_CERT: needed by the demo (wolfSSL_CTX_trust_peer_buffer).
# DEBUG_IOTSAFE: prints every AT command and reply (">>> " / "<<< ") on stdout; logging only.
WOLFSSL_CFLAGS="-O2 -g -DWOLFSSL_TRUST_PEER_CERT -DDEBUG_IOTSAFE"

usage() {
    cat <<EOF
Usage: $PROG [options]

Fetch wolfSSL $WOLFSSL_UPSTREAM from Debian's source archive (apt-get source), build it with
the IoT-SAFE port (--enable-iotsafe) and build the IDE/iotsafe-raspberrypi demo client.
Nothing is built when DIR already holds a finished build of the same recipe.

Options:
  -o, --out DIR     output/cache directory (default: \$SIMTRUST_WOLFSSL_DIR, else
                    /var/cache/simtrust/wolfssl-iotsafe)
  -j, --jobs N      parallel make jobs (default: 2)
      --no-apt      never run apt-get to install build tools or add deb-src sources; fail
                    instead (the source package itself is still fetched with apt-get source)
      --force       rebuild even when a finished build is present
      --print-dir   print the output directory's bin/ path on success (for scripts)
  -h, --help        this help

Requirements: Debian 12 (bookworm). As root, the script installs what is missing
(autoconf automake libtool make gcc libc6-dev dpkg-dev) and adds a deb-src entry
(/etc/apt/sources.list.d/simtrust-deb-src.sources) when none provides the wolfssl source.

Demo usage (the demo's own CLI; all five options, in this order, are required):
  DIR/bin/iotsafe-tls13 -ip 127.0.0.1 -h localhost -p PORT -t 25 -d /dev/pts/N
It exits 0 even when the handshake fails; success is the line
  "---- wolfSSL TLS 1.3 connection established" (printed by the TLS 1.2 build too).
EOF
}

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}
log() { echo "$PROG: $*" >&2; }

OUT=${SIMTRUST_WOLFSSL_DIR:-/var/cache/simtrust/wolfssl-iotsafe}
JOBS=2
NO_APT=0
FORCE=0
PRINT_DIR=0
while [ $# -gt 0 ]; do
    case $1 in
    -o | --out)
        [ $# -ge 2 ] || die "$1 needs an argument"
        OUT=$2
        shift 2
        ;;
    --out=*)
        OUT=${1#*=}
        shift
        ;;
    -j | --jobs)
        [ $# -ge 2 ] || die "$1 needs an argument"
        JOBS=$2
        shift 2
        ;;
    --jobs=*)
        JOBS=${1#*=}
        shift
        ;;
    --no-apt)
        NO_APT=1
        shift
        ;;
    --force)
        FORCE=1
        shift
        ;;
    --print-dir)
        PRINT_DIR=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
case $JOBS in '' | *[!0-9]*) die "--jobs wants a number, got '$JOBS'" ;; esac

mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck disable=SC2086,SC2116 # (echo joins the option lines with single spaces)
STAMP_WANT="wolfssl=$WOLFSSL_UPSTREAM recipe=$RECIPE opts=$(echo $CONFIGURE_OPTS) cflags=$WOLFSSL_CFLAGS"

finished() {
    [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$STAMP_WANT" ] &&
        [ -x "$OUT/bin/iotsafe-tls13" ] && [ -x "$OUT/bin/iotsafe-tls12" ]
}

# One build at a time per output directory (ctest -j, several build trees sharing the cache).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUT/.lock"
    flock 9 || die "cannot lock $OUT/.lock"
fi

if [ $FORCE = 0 ] && finished; then
    log "up to date: $OUT/bin (delete $OUT/stamp or pass --force to rebuild)"
    [ $PRINT_DIR = 0 ] || echo "$OUT/bin"
    exit 0
fi
rm -f "$OUT/stamp"
T0=$(date +%s)

is_root() { [ "$(id -u)" = 0 ]; }

# --- build tools ----------------------------------------------------------------------------
# autoconf/automake/libtool: the Debian source (upstream git tag) ships no configure script.
# dpkg-dev: dpkg-source, to unpack the source package and apply Debian's patches.
need_pkgs=""
for tool in autoconf:autoconf automake:automake libtoolize:libtool make:make gcc:gcc \
    dpkg-source:dpkg-dev patch:patch; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need_pkgs="$need_pkgs ${tool#*:}"
done
[ -e /usr/include/stdio.h ] || need_pkgs="$need_pkgs libc6-dev"
if [ -n "$need_pkgs" ]; then
    if [ $NO_APT = 1 ] || ! is_root; then
        die "missing build tools; install them with: apt-get install --no-install-recommends$need_pkgs"
    fi
    log "installing build tools:$need_pkgs"
    apt-get update -qq || die "apt-get update failed"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_pkgs ||
        die "apt-get install$need_pkgs failed"
fi

# --- source package -------------------------------------------------------------------------
SRC="$OUT/src"
mkdir -p "$SRC"
newest_dsc() { # pattern: the last .dsc in $SRC matching it, or nothing
    for f in "$SRC"/$1; do [ -f "$f" ] && echo "$f"; done | tail -n 1
}
dsc=$(newest_dsc "wolfssl_$WOLFSSL_UPSTREAM-*.dsc")
if [ -z "$dsc" ]; then
    if ! apt-cache showsrc wolfssl 2>/dev/null | grep -q '^Package: wolfssl'; then
        if [ $NO_APT = 1 ] || ! is_root; then
            die "no deb-src entry provides 'wolfssl'; add one (Types: deb-src) and run apt-get update"
        fi
        # shellcheck disable=SC1091
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
        parts=/etc/apt/sources.list.d/
        eval "$(apt-config shell parts Dir::Etc::sourceparts/d)"
        list=${parts%/}/simtrust-deb-src.sources
        log "adding $list (deb-src for $codename) and running apt-get update"
        cat >"$list" <<EOF
# Added by simtrust scripts/wolfssl-iotsafe.sh: source packages, to build wolfSSL's IoT-SAFE port.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        apt-get update -qq || die "apt-get update failed"
        apt-cache showsrc wolfssl 2>/dev/null | grep -q '^Package: wolfssl' ||
            die "apt still knows no source package 'wolfssl' after adding $list"
    fi
    log "fetching the wolfssl source package (apt-get source --download-only)"
    (cd "$SRC" && apt-get source --download-only -qq -o APT::Sandbox::User=root wolfssl) ||
        die "apt-get source --download-only wolfssl failed"
    dsc=$(newest_dsc "wolfssl_*.dsc")
    [ -n "$dsc" ] || die "apt-get source produced no .dsc in $SRC"
fi
case $(basename "$dsc") in
wolfssl_"$WOLFSSL_UPSTREAM"-*) ;;
*) die "Debian offers $(basename "$dsc"), but the interop test is pinned to wolfSSL $WOLFSSL_UPSTREAM (Debian 12)" ;;
esac

TREE="$SRC/wolfssl"
if [ ! -f "$TREE/configure.ac" ]; then
    rm -rf "$TREE"
    log "unpacking $(basename "$dsc") (dpkg-source -x applies Debian's patches)"
    dpkg-source -x "$dsc" "$TREE" >"$OUT/build.log" 2>&1 ||
        die "dpkg-source -x failed, see $OUT/build.log (delete $SRC to download again)"
fi
[ -f "$TREE/wolfcrypt/src/port/iotsafe/iotsafe.c" ] || die "$TREE has no IoT-SAFE port"
DEMO="$TREE/IDE/iotsafe-raspberrypi"
if [ ! -f "$DEMO/client-tls13.c" ] || [ ! -f "$DEMO/main.c" ]; then
    die "$DEMO is incomplete"
fi

# --- wolfSSL ----------------------------------------------------------------------------------
PREFIX="$OUT/prefix"
log "building wolfSSL $WOLFSSL_UPSTREAM with the IoT-SAFE port (-j$JOBS; log: $OUT/build.log)"
# (&& chains: `set -e` does not apply inside a command whose status is tested)
# shellcheck disable=SC2086
(
    cd "$TREE" &&
        { [ -x configure ] || ./autogen.sh; } &&
        ./configure --prefix="$PREFIX" $CONFIGURE_OPTS CFLAGS="$WOLFSSL_CFLAGS" &&
        make -j"$JOBS" &&
        rm -rf "$PREFIX" &&
        make install
) >>"$OUT/build.log" 2>&1 || {
    tail -n 30 "$OUT/build.log" >&2
    die "wolfSSL build failed, see $OUT/build.log"
}
grep -q '^#define WOLFSSL_IOTSAFE' "$PREFIX/include/wolfssl/options.h" ||
    die "the installed options.h lacks WOLFSSL_IOTSAFE"

# --- the demo ---------------------------------------------------------------------------------
# Compiled as the demo's Makefile does (same CFLAGS), with the include/library paths of our
# prefix; the sources are used unmodified. The TLS 1.2 variant changes only the method
# constructor through a macro (the prototype in ssl.h is rewritten identically, so it is a
# compatible redeclaration of wolfTLSv1_2_client_method).
mkdir -p "$OUT/bin"
demo_cc() { # output extra-cflags...
    out=$1
    shift
    ${CC:-cc} -g -Wall -Wextra -std=c11 "$@" -I"$DEMO" -I"$PREFIX/include" \
        -o "$out" "$DEMO/main.c" "$DEMO/client-tls13.c" "$PREFIX/lib/libwolfssl.a" -lm -lpthread
}
{
    demo_cc "$OUT/bin/iotsafe-tls13" &&
        demo_cc "$OUT/bin/iotsafe-tls12" -DwolfTLSv1_3_client_method=wolfTLSv1_2_client_method
} >>"$OUT/build.log" 2>&1 || {
    tail -n 30 "$OUT/build.log" >&2
    die "building the demo failed, see $OUT/build.log"
}

echo "$STAMP_WANT" >"$OUT/stamp"
log "done in $(($(date +%s) - T0)) s: $OUT/bin/iotsafe-tls13, $OUT/bin/iotsafe-tls12"
[ $PRINT_DIR = 0 ] || echo "$OUT/bin"
exit 0
