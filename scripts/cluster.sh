#!/usr/bin/env bash
# A 3-member Raft cluster of ovsgw's config DB (schemas/gateway.ovsschema) on loopback, for
# trying `ovsgw db` by hand:
#
#   scripts/cluster.sh start  [DIR]   create (first time) and start the members; print --db
#   scripts/cluster.sh status [DIR]   each member's role, term and leader
#   scripts/cluster.sh stop   [DIR]   stop the members this script started (by recorded pid)
#
# DIR holds the databases, logs, pidfiles and control sockets (default: $TMPDIR/ovsgw-cluster).
# Member i (1..3) serves clients on 127.0.0.1:$((PORT+i-1)) and Raft on 127.0.0.1:$((PORT+9+i)),
# PORT=6641 by default (OVN's northbound DB uses 6641/6643): clients 6641..6643, Raft 6651..6653.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

cmd=${1:-}
dir=${2:-${TMPDIR:-/tmp}/ovsgw-cluster}
port=${PORT:-6641}
members=(1 2 3)
db=OVSGW
schema="$(cd "$(dirname "$0")/.." && pwd)/schemas/gateway.ovsschema"
# How long start waits for a leader: an election takes the election timer (1 s, randomised
# to 2 s) once a majority is up; 20 s also covers a slow machine starting three daemons.
ready_timeout=20

client() { echo "tcp:127.0.0.1:$((port + $1 - 1))"; }
raft() { echo "tcp:127.0.0.1:$((port + 9 + $1))"; }
ctl() { echo "$dir/s$1.ctl"; }
endpoints() {
	local eps=() i
	for i in "${members[@]}"; do eps+=("$(client "$i")"); done
	(IFS=,; echo "${eps[*]}")
}
# alive I: the member's recorded pid is running and is an ovsdb-server (not a reused pid).
alive() {
	local pid
	pid=$(cat "$dir/s$1.pid" 2>/dev/null) || return 1
	[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == ovsdb-server ]]
}
role() { ovs-appctl -t "$(ctl "$1")" cluster/status "$db" 2>/dev/null | sed -n 's/^Role: //p'; }
# leader: print the member that is leader, or fail.
leader() {
	local i
	for i in "${members[@]}"; do
		[[ "$(role "$i")" == leader ]] && { echo "$i"; return 0; }
	done
	return 1
}

start() {
	mkdir -p "$dir"
	if [[ ! -e "$dir/s1.db" ]]; then
		ovsdb-tool create-cluster "$dir/s1.db" "$schema" "$(raft 1)"
		for i in "${members[@]:1}"; do
			ovsdb-tool join-cluster "$dir/s$i.db" "$db" "$(raft "$i")" "$(raft 1)"
		done
	fi
	for i in "${members[@]}"; do
		alive "$i" && continue
		ovsdb-server --detach --no-chdir -vconsole:off \
			--pidfile="$dir/s$i.pid" --unixctl="$(ctl "$i")" --log-file="$dir/s$i.log" \
			--remote="ptcp:$((port + i - 1)):127.0.0.1" "$dir/s$i.db"
	done
	local deadline=$((SECONDS + ready_timeout)) l
	until l=$(leader); do
		((SECONDS < deadline)) || { echo "cluster.sh: no leader after ${ready_timeout}s; see $dir/s*.log" >&2; exit 1; }
		sleep 0.2
	done
	endpoints >"$dir/db"
	echo "cluster running in $dir (leader: member $l)"
	echo "--db $(endpoints)"
}

status() {
	local i
	for i in "${members[@]}"; do
		if alive "$i"; then
			printf 'member %s  pid %s  %s  ' "$i" "$(cat "$dir/s$i.pid")" "$(client "$i")"
			ovs-appctl -t "$(ctl "$i")" cluster/status "$db" | awk -F': ' '/^(Role|Term|Leader|Status)/ {printf "%s=%s  ", $1, $2} END {print ""}'
		else
			echo "member $i  not running"
		fi
	done
	[[ -e "$dir/db" ]] && echo "--db $(cat "$dir/db")"
	return 0
}

stop() {
	local i pid
	for i in "${members[@]}"; do
		alive "$i" || continue
		pid=$(cat "$dir/s$i.pid")
		kill "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		echo "member $i stopped (pid $pid)"
	done
}

case "$cmd" in
start | status | stop) "$cmd" ;;
*)
	echo "usage: $0 start|stop|status [DIR]" >&2
	exit 2
	;;
esac
