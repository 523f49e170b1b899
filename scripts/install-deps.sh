#!/usr/bin/env bash
# Installs the Debian packages the end-to-end testbed needs (test/testbed).
# Idempotent: does nothing (and prints nothing) when every command is present;
# runs `apt-get update` only when something has to be installed.
set -euo pipefail

# command -> Debian package that provides it.
deps=(
	"ovsdb-server:openvswitch-switch"
	"ovs-vswitchd:openvswitch-switch"
	"ovs-vsctl:openvswitch-switch"
	"ovs-ofctl:openvswitch-switch"
	"ovs-appctl:openvswitch-switch"
	"ovsdb-tool:openvswitch-switch"
	"vtep-ctl:openvswitch-vtep"
	"ip:iproute2"
	"ping:iputils-ping"
	"ethtool:ethtool"
	"nc.openbsd:netcat-openbsd" # the tests rely on its flags (-N)
	"arping:iputils-arping"
	"udhcpc:udhcpc"            # real DHCPv4 clients for the node's DHCP server (gateway/netsvc)
	"dhclient:isc-dhcp-client"
	"iperf3:iperf3"            # make bench: routed vs switched TCP throughput (test/bench)
	"systemd-analyze:systemd" # checks the packaged unit (scripts/deb/check.sh)
	"promtool:prometheus"     # checks the agent's /metrics (test/e2e)
	"curl:curl"               # scrapes it inside a test node's namespace
)

# Daemons live in sbin, which a non-login root shell may not have on PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for d in "${deps[@]}"; do
	cmd=${d%%:*} pkg=${d#*:}
	if ! command -v "$cmd" >/dev/null 2>&1; then
		case " ${missing[*]-} " in
		*" $pkg "*) ;;
		*) missing+=("$pkg") ;;
		esac
	fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install: ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Keep apt's chatter out of the way unless it fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
