#!/bin/sh
# reserve-vpcd-ports.sh - keeps pcscd's vpcd ports out of Linux's ephemeral
# port range, so that vpcd can always bind them.
#
# vsmartcard-vpcd listens on 35963 and 35964 (/etc/reader.conf.d/vpcd), which
# lie inside the default ephemeral range 32768-60999. A test that opens
# thousands of client connections (the gateway's benchmarks and scale tests)
# leaves sockets in TIME_WAIT on random local ports; when one of them is 35963
# or 35964, the next pcscd's vpcd cannot bind ("Address already in use") and
# its reader never shows a card. Reserved ports are never picked as ephemeral
# ports; explicit binds (vpcd's) still work. Root only (a sysctl of the
# network namespace); otherwise it does nothing. Always exits 0.
want=35963-35964
f=/proc/sys/net/ipv4/ip_local_reserved_ports
[ "$(id -u)" -eq 0 ] && [ -w "$f" ] || exit 0
cur=$(cat "$f" 2>/dev/null)
case ",$cur," in *",$want,"* | *",35963,"*) exit 0 ;; esac
echo "${cur:+$cur,}$want" > "$f" 2>/dev/null || true
exit 0
