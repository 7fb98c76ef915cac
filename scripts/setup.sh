#!/usr/bin/env bash
# Installs the Debian 12 packages simtrust needs to build, test and run,
# when any is missing. Idempotent; needs root (or sudo) only to install.
#
# Usage: scripts/setup.sh [--check]
#   --check   only list what is missing; exit 1 if anything is
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang llvm python3
  libssl-dev openssl
  libjansson-dev libsqlite3-dev
  libpcsclite-dev pcscd vsmartcard-vpcd opensc pcsc-tools
  libcmocka-dev
  softhsm2 libp11-kit-dev
  gnutls-bin curl
  libmicrohttpd-dev libcurl4-openssl-dev stunnel4
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${1:-}" = "--check" ]; then
  if [ ${#missing[@]} -gt 0 ]; then echo "missing: ${missing[*]}"; exit 1; fi
  echo "all build and test dependencies are installed"; exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts pcscd through systemd socket activation; where there is no
# systemd (containers, CI) the tests start their own pcscd instead.
echo "setup: done" >&2
