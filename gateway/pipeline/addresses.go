package pipeline

import (
	"net"
	"net/netip"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// source is a (MAC, prefix) pair a VMI may send from.
type source struct {
	mac    net.HardwareAddr
	prefix netip.Prefix
}

// vmiSources lists what a VMI may send from: its instance IPs with its MAC, and its allowed
// address pairs with theirs (or its own).
func vmiSources(v *model.VirtualMachineInterface) []source {
	own, _ := model.ParseMAC(v.MAC)
	var out []source
	for _, ip := range v.InstanceIPs {
		if a, err := netip.ParseAddr(ip.Address); err == nil {
			out = append(out, source{own, netip.PrefixFrom(a, a.BitLen())})
		}
	}
	for _, ap := range v.AllowedAddressPairs {
		p, err := model.ParsePrefixOrAddr(ap.IP)
		if err != nil {
			continue
		}
		mac := own
		if ap.MAC != "" {
			mac, _ = model.ParseMAC(ap.MAC)
		}
		out = append(out, source{mac, p})
	}
	return out
}

// vmiMACs lists the MACs a VMI receives on: its own, then its address pairs' in order, once each.
func vmiMACs(b *bound) []net.HardwareAddr {
	out := []net.HardwareAddr{b.mac}
	seen := map[string]bool{b.mac.String(): true}
	for _, s := range vmiSources(b.vmi) {
		if !seen[s.mac.String()] {
			seen[s.mac.String()] = true
			out = append(out, s.mac)
		}
	}
	return out
}

// vmiAddrs lists a VMI's host addresses (instance IPs and single-address pairs) of one family.
func vmiAddrs(v *model.VirtualMachineInterface, v6 bool) []netip.Addr {
	var out []netip.Addr
	for _, s := range vmiSources(v) {
		if s.prefix.IsSingleIP() && s.prefix.Addr().Is6() == v6 {
			out = append(out, s.prefix.Addr())
		}
	}
	return out
}

// instanceAddrs lists a VMI's instance IPs of one family.
func instanceAddrs(v *model.VirtualMachineInterface, v6 bool) []netip.Addr {
	var out []netip.Addr
	for _, ip := range v.InstanceIPs {
		if a, err := netip.ParseAddr(ip.Address); err == nil && a.Is6() == v6 {
			out = append(out, a)
		}
	}
	return out
}

// withPrefix returns m matching the source (or destination) address against a prefix, with the
// EtherType of its family.
func withPrefix(m openflow.Match, p netip.Prefix, dst bool) openflow.Match {
	f := openflow.FieldIPv4Src
	eth := uint64(ethIPv4)
	if p.Addr().Is6() {
		f, eth = openflow.FieldIPv6Src, ethIPv6
	}
	if dst {
		f++ // the destination field follows the source field in both families
	}
	m = m.WithUint(openflow.FieldEthType, eth)
	if p.Bits() == 0 {
		return m
	}
	return m.WithMasked(f, p.Addr().AsSlice(), prefixMask(p))
}

func prefixMask(p netip.Prefix) []byte {
	if p.IsSingleIP() {
		return nil
	}
	return net.CIDRMask(p.Bits(), p.Addr().BitLen())
}

// family is IPv4 or IPv6, as the pipeline matches it.
type family struct {
	v6        bool
	ethType   uint64
	icmpProto int
}

var (
	familyV4 = family{false, ethIPv4, model.ProtoICMP}
	familyV6 = family{true, ethIPv6, model.ProtoICMPv6}
)
