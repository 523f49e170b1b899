#!/usr/bin/env bash
# A 3-member Raft cluster of ovsgw's config DB (schemas/gateway.ovsschema) on loopback, over
# mutual TLS, for trying `ovsgw db` by hand:
#
#   scripts/cluster.sh start  [DIR]   create (first time) and start the members; print --db and
#                                     the TLS flags
#   scripts/cluster.sh status [DIR]   each member's role, term and leader
#   scripts/cluster.sh stop   [DIR]   stop the members this script started (by recorded pid)
#
# DIR holds the databases, logs, pidfiles, control sockets, and a PKI made with ovs-pki: DIR/pki
# with its two CAs, the members' keys and certificates (dbI-privkey.pem, dbI-cert.pem, common
# name dbI, signed by the controller CA) and one for you (admin-privkey.pem, admin-cert.pem,
# signed by the switch CA); default DIR: $TMPDIR/ovsgw-cluster.
# Member i (1..3) serves ssl: clients on 127.0.0.1:$((PORT+i-1)) and Raft over ssl: on
# 127.0.0.1:$((PORT+9+i)), PORT=6641 by default (OVN's northbound DB uses 6641/6643): clients
# 6641..6643, Raft 6651..6653. A member accepts a client or a member whose certificate either CA
# signed (DIR/members-cacert.pem holds both); a client accepts a member whose certificate the
# controller CA signed, and pins the members' common names.
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

client() { echo "ssl:127.0.0.1:$((port + $1 - 1))"; }
raft() { echo "ssl:127.0.0.1:$((port + 9 + $1))"; }
pki="$dir/pki"
ctl() { echo "$dir/s$1.ctl"; }
endpoints() {
	local eps=() i
	for i in "${members[@]}"; do eps+=("$(client "$i")"); done
	(IFS=,; echo "${eps[*]}")
}
names() {
	local cns=() i
	for i in "${members[@]}"; do cns+=("db$i"); done
	(IFS=,; echo "${cns[*]}")
}
# flags: what `ovsgw db` needs to reach the cluster.
flags() {
	echo "--db $(endpoints) --private-key $dir/admin-privkey.pem --certificate $dir/admin-cert.pem" \
		"--ca-cert $pki/controllerca/cacert.pem --peer-cn $(names)"
}
# issue NAME TYPE: a key and a certificate of common name NAME (ovs-pki -u) in DIR, once.
issue() {
	[[ -e "$dir/$1-cert.pem" ]] && return 0
	(cd "$dir" && ovs-pki --dir="$pki" --log="$dir/ovs-pki.log" -u req+sign "$1" "$2" >/dev/null)
}
# pki_setup: the PKI, the members' and the admin's certificates, the members' CA file.
pki_setup() {
	if [[ ! -e "$pki/controllerca/cacert.pem" ]]; then
		ovs-pki --dir="$pki" --log="$dir/ovs-pki.log" init >/dev/null
	fi
	local i
	for i in "${members[@]}"; do issue "db$i" controller; done
	issue admin switch
	cat "$pki/switchca/cacert.pem" "$pki/controllerca/cacert.pem" >"$dir/members-cacert.pem"
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
	pki_setup
	if [[ -e "$dir/s1.db" && "$(ovsdb-tool db-local-address "$dir/s1.db")" != ssl:* ]]; then
		echo "cluster.sh: $dir holds a cluster made without TLS; stop it and remove $dir first" >&2
		exit 1
	fi
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
			--private-key="$dir/db$i-privkey.pem" --certificate="$dir/db$i-cert.pem" \
			--ca-cert="$dir/members-cacert.pem" \
			--remote="pssl:$((port + i - 1)):127.0.0.1" "$dir/s$i.db"
	done
	local deadline=$((SECONDS + ready_timeout)) l
	until l=$(leader); do
		((SECONDS < deadline)) || { echo "cluster.sh: no leader after ${ready_timeout}s; see $dir/s*.log" >&2; exit 1; }
		sleep 0.2
	done
	flags >"$dir/db"
	echo "cluster running in $dir (leader: member $l)"
	cat "$dir/db"
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
	[[ -e "$dir/db" ]] && cat "$dir/db"
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
