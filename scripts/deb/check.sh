#!/usr/bin/env bash
# Checks a package built by build.sh without changing this machine: prints dpkg-deb --info and
# --contents and checks what the package must hold; installs it with a real `dpkg -i` into a
# scratch root with a dpkg database of its own (--instdir/--admindir, maintainer scripts run
# chrootless with DPKG_ROOT set, and they touch nothing then); checks the installed binary,
# the conffile (kept when changed, across a reinstall) and a purge that leaves nothing; and runs
# `systemd-analyze verify` on the installed unit, in a private mount namespace where the
# package's /usr/bin is overlaid on the machine's (verify checks that ExecStart exists, and that
# the man page the unit's Documentation= names is found: in the package's man directory). Needs
# root (dpkg, the mount namespace) and systemd-analyze (Debian's systemd package).
#
#   scripts/deb/check.sh bin/ovsgw_VERSION_ARCH.deb
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
deb=$(realpath "${1:?usage: check.sh PACKAGE.deb}")
fail() {
	echo "check.sh: $deb: $*" >&2
	exit 1
}

echo "== dpkg-deb --info"
dpkg-deb --info "$deb"
echo "== dpkg-deb --contents"
contents=$(dpkg-deb --contents "$deb")
echo "$contents"
paths=$(awk '{print $6}' <<<"$contents")
for want in ./usr/bin/ovsgw ./lib/systemd/system/ovsgw-agent.service ./etc/ovsgw/agent.conf \
	./usr/share/bash-completion/completions/ovsgw ./usr/share/zsh/vendor-completions/_ovsgw \
	./usr/share/fish/vendor_completions.d/ovsgw.fish ./usr/share/man/man1/ovsgw.1.gz \
	./usr/share/doc/ovsgw/docs/operators-guide.md.gz; do
	grep -qxF "$want" <<<"$paths" || fail "holds no $want"
done
grep -q '^-rwxr-xr-x root/root .* ./usr/bin/ovsgw$' <<<"$contents" || fail "/usr/bin/ovsgw is not root's, mode 0755"
version=$(dpkg-deb --field "$deb" Version)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
admin=$root/var/lib/dpkg
mkdir -p "$admin"/{info,updates,triggers}
touch "$admin"/{status,available}
pkgdpkg() { dpkg --instdir="$root" --admindir="$admin" --force-script-chrootless "$@"; }

echo "== dpkg -i (into $root)"
pkgdpkg -i "$deb"
pkgdpkg -s ovsgw | grep -qx 'Status: install ok installed' || fail "not installed after dpkg -i"
pkgdpkg -s ovsgw | grep -q '^ /etc/ovsgw/agent.conf [0-9a-f]\{32\}$' || fail "/etc/ovsgw/agent.conf is not a conffile"
got=$("$root/usr/bin/ovsgw" --version)
[ "$got" = "ovsgw version $version" ] || fail "ovsgw --version says \"$got\", want \"ovsgw version $version\""
# A man page for every command the help lists (cobra's own help command aside).
for cmd in $("$root/usr/bin/ovsgw" --help | awk '/^Available Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'); do
	[ "$cmd" = help ] || [ -f "$root/usr/share/man/man1/ovsgw-$cmd.1.gz" ] || fail "no man page for ovsgw $cmd"
done

echo "== the conffile survives a reinstall when changed"
echo "# changed by the operator" >>"$root/etc/ovsgw/agent.conf"
pkgdpkg -i "$deb" >/dev/null
grep -qx '# changed by the operator' "$root/etc/ovsgw/agent.conf" || fail "a reinstall replaced the operator's /etc/ovsgw/agent.conf"

echo "== systemd-analyze verify ovsgw-agent.service"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (apt-get install systemd)"
# Without man-db, verify cannot look the page up; its file was checked above.
man=yes
command -v man >/dev/null || man=no
unshare --mount --propagation private sh -ec '
	mount -t overlay overlay -o "lowerdir=$1/usr/bin:/usr/bin" /usr/bin
	MANPATH=$1/usr/share/man systemd-analyze verify --man="$2" "$1/lib/systemd/system/ovsgw-agent.service"
	systemd-analyze security --offline=yes "$1/lib/systemd/system/ovsgw-agent.service" | tail -1
' sh "$root" "$man"

echo "== dpkg --purge"
pkgdpkg --purge ovsgw
left=$(find "$root" -path "$root/var" -prune -o -type f -print)
[ -z "$left" ] || fail "purge left files behind: $left"
echo "== $deb: ok"
