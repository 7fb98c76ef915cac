#!/bin/sh
# cli_help.sh SIMTRUST - the simtrust CLI's help and usage errors (no card needed).
#
# Every command listed by `simtrust --help` must have a --help that is non-empty, has a
# synopsis, options, exit status and examples, and mentions every option of the command's
# table (`simtrust CMD --list-options`, the same table the parser uses). Usage errors must
# exit with status 2 and say what is wrong.
set -u
TOOL=${1:?usage: cli_help.sh SIMTRUST}
T=$(mktemp -d "${TMPDIR:-/tmp}/simtrust-cli-help.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
FAILS=0 PASS=0
bad() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }

"$TOOL" --help >"$T/top" 2>&1 || bad "simtrust --help: exit $?"
for s in "Usage:" "Commands:" "Exit status:" "Examples:" "--sim" "SIMTRUST_SIM"; do
    grep -qF -- "$s" "$T/top" || bad "simtrust --help lacks '$s'"
done
"$TOOL" --version | grep -q '^simtrust [0-9]' || bad "simtrust --version"

# The commands: the lines under "Commands:" up to the next blank line.
CMDS=$(sed -n '/^Commands:/,/^$/p' "$T/top" | sed -n 's/^  \([a-z-]*\) .*/\1/p')
[ -n "$CMDS" ] || bad "no commands in simtrust --help"
for c in $CMDS; do
    if ! "$TOOL" "$c" --help >"$T/h" 2>&1; then
        bad "simtrust $c --help: exit $?"
        continue
    fi
    [ -s "$T/h" ] || bad "simtrust $c --help is empty"
    for s in "Usage: simtrust" "Exit status" "Example"; do
        grep -qF -- "$s" "$T/h" || bad "simtrust $c --help lacks '$s'"
    done
    "$TOOL" help "$c" | cmp -s - "$T/h" || bad "simtrust help $c differs from $c --help"
    OPTS=$("$TOOL" "$c" --list-options) || bad "simtrust $c --list-options: exit $?"
    for o in $OPTS; do
        PASS=$((PASS + 1))
        grep -qF -- "$o" "$T/h" || bad "simtrust $c --help does not mention $o"
    done
    # An option the command does not have is a usage error (2).
    "$TOOL" "$c" --no-such-option >/dev/null 2>"$T/e"
    rc=$?
    [ $rc -eq 2 ] || bad "simtrust $c --no-such-option: exit $rc, want 2"
    grep -qF "unknown option '--no-such-option'" "$T/e" || bad "simtrust $c: no 'unknown option' message"
done

# Usage errors: exit 2, nothing sent anywhere (no --sim needed).
usage() { # usage ARGS...
    "$TOOL" "$@" >/dev/null 2>"$T/e"
    rc=$?
    PASS=$((PASS + 1))
    [ $rc -eq 2 ] || bad "simtrust $*: exit $rc, want 2"
    [ -s "$T/e" ] || bad "simtrust $*: no message"
}
usage
usage bogus-command
usage --sim
usage --cla 42 info
usage --timeout 0 info
usage --aid 12 info
usage --sim nothing info
usage --sim tcp:localhost info
usage sign --key client
usage sign --key x --key-id 01 --digest 00
usage sign --key x --digest 0011
usage sign --key x --in f --digest 00
usage sign --key x --in f --hash md5
usage sign --key x --in f --alg dsa
usage verify --key x --in f
usage read-file
usage read-file --file x --raw --out y
usage random
usage random 70000
usage random abc
usage list --kind everything
usage keygen
usage put-pubkey --key x
usage dh --key x
usage prf --mode general --label x --seed 00 --length 8
usage prf --mode psk --label x --seed 00 --length 8
usage prf --mode general --secret 00 --label x --seed 00 --length 256
usage hkdf
usage hkdf derive --ikm 00
usage hkdf extract --ikm 00 --length 3
usage hkdf expand --prk 00
usage csr --key x
usage csr --key x --subject CN=a --der
usage csr --key x --subject 'CN'
usage csr --key x --subject CN=a --attest-key y
"$TOOL" info --sim tcp:x 2>"$T/e" >/dev/null
grep -qF "Try 'simtrust info --help'" "$T/e" || bad "usage errors point to the command's help"

echo "cli_help.sh: $PASS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
