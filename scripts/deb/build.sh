#!/usr/bin/env bash
# Builds the Debian package of ovsgw with dpkg-deb into OUTDIR (default bin/) and prints its
# path; `make deb` runs it after `make generate`. The package holds:
#
#   /usr/bin/ovsgw                                 static (CGO_ENABLED=0), version set from git
#   /lib/systemd/system/ovsgw-agent.service        scripts/deb/ovsgw-agent.service
#   /etc/ovsgw/agent.conf                          conffile: the README's INI section, verbatim
#   /usr/share/bash-completion/completions/ovsgw   cobra's completions, also zsh and fish
#   /usr/share/man/man1/ovsgw*.1.gz                a man page per command (cobra/doc)
#   /usr/share/doc/ovsgw/                          README.md, docs/operators-guide.md, examples/gateway.yaml
#
# VERSION overrides the version (scripts/deb/version.sh); DEB_MAINTAINER the Maintainer field.
# The binary is static (CGO_ENABLED=0: Go's own DNS resolver, no libc, nothing the unit's
# RestrictAddressFamilies= forbids); CGO_ENABLED=1 DEB_GOFLAGS= reuse the build cache of a
# plain `go build` (the packaging test does, to stay quick).
# The package is built for the machine's own architecture: the binary is run here to write
# its completions and man pages.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/bin}" && cd "${1:-$root/bin}" && pwd)
GO=${GO:-go}
maintainer=${DEB_MAINTAINER:-ovsgw developers <ovsgw@localhost>}

version=$("$root/scripts/deb/version.sh")
case $($GO env GOARCH) in
amd64 | arm64 | s390x | riscv64 | mips64le) arch=$($GO env GOARCH) ;;
386) arch=i386 ;;
arm) arch=armhf ;;
ppc64le) arch=ppc64el ;;
*) echo "build.sh: no Debian architecture for GOARCH $($GO env GOARCH)" >&2; exit 1 ;;
esac
# Every file is dated by the last commit, so that one commit gives one package.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/ovsgw
install -d -m 0755 "$pkg"/{DEBIAN,usr/bin,lib/systemd/system,etc/ovsgw} \
	"$pkg"/usr/share/{bash-completion/completions,zsh/vendor-completions,fish/vendor_completions.d,man/man1} \
	"$pkg"/usr/share/doc/ovsgw/examples "$pkg"/usr/share/doc/ovsgw/docs

bin=$pkg/usr/bin/ovsgw
(cd "$root" && CGO_ENABLED=${CGO_ENABLED:-0} $GO build ${DEB_GOFLAGS--trimpath} -ldflags "-s -w -X main.version=$version" -o "$bin" ./cmd/ovsgw)
install -m 0644 "$root/scripts/deb/ovsgw-agent.service" "$pkg/lib/systemd/system/"

# The default agent config is the README's INI section itself: the documented defaults and
# the shipped ones cannot drift apart.
awk '/^## The agent config \(INI\)/ { section = 1 }
	section && /^```ini$/ { inblock = 1; next }
	inblock && /^```$/ { exit }
	inblock { print }' "$root/README.md" >"$pkg/etc/ovsgw/agent.conf"
if [ ! -s "$pkg/etc/ovsgw/agent.conf" ]; then
	echo "build.sh: README.md has no \`\`\`ini block under '## The agent config (INI)'" >&2
	exit 1
fi
chmod 0644 "$pkg/etc/ovsgw/agent.conf"

"$bin" completion bash >"$pkg/usr/share/bash-completion/completions/ovsgw"
"$bin" completion zsh >"$pkg/usr/share/zsh/vendor-completions/_ovsgw"
"$bin" completion fish >"$pkg/usr/share/fish/vendor_completions.d/ovsgw.fish"
"$bin" man "$stage/man"
for page in "$stage"/man/*.1; do
	gzip -9n <"$page" >"$pkg/usr/share/man/man1/$(basename "$page").gz"
done
gzip -9n <"$root/README.md" >"$pkg/usr/share/doc/ovsgw/README.md.gz"
gzip -9n <"$root/docs/operators-guide.md" >"$pkg/usr/share/doc/ovsgw/docs/operators-guide.md.gz"
install -m 0644 "$root/examples/gateway.yaml" "$pkg/usr/share/doc/ovsgw/examples/"

install -m 0755 "$root"/scripts/deb/{postinst,prerm,postrm} "$pkg/DEBIAN/"
echo /etc/ovsgw/agent.conf >"$pkg/DEBIAN/conffiles"
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: ovsgw
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
Recommends: openvswitch-switch
Section: net
Priority: optional
Description: virtual networks for remote instances on Open vSwitch
 ovsgw runs beside Open vSwitch and extends virtual networks to instances no
 cloud manages (bare-metal servers, VMware VMs, VMs of other clusters), the
 way a Contrail / Tungsten Fabric vRouter does in gateway mode: each remote
 instance reaches a gateway node's NIC on a VLAN of its own and is forwarded
 like a local VM, with the same security groups and network policies.
 .
 The package holds the ovsgw command, the ovsgw-agent systemd unit, a default
 /etc/ovsgw/agent.conf, shell completions and man pages.
CONTROL
# Checksums of every file but the conffile (dpkg tracks that one itself).
(cd "$pkg" && find usr lib -type f | sort | xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$pkg"/DEBIAN/{control,conffiles,md5sums}
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb=$out/ovsgw_${version}_${arch}.deb
# gzip rather than dpkg-deb's default xz: a twentieth of the CPU time (about 1.5 s against 20 s
# here) for a package a tenth larger.
dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$deb" >/dev/null
echo "$deb"
