package netsvc

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
)

// Router advertisement timing, after RFC 4861's defaults (section 6.2.1) and RFC 8106's
// advice that DNS options live at least three advertisement intervals.
const (
	// RAInterval is how often the caller should send RouterAdvertisement to each VMI with
	// IPv6 (MaxRtrAdvInterval's default).
	RAInterval = 600 * time.Second
	// RouterLifetime is how long a host keeps the node as its default router
	// (AdvDefaultLifetime = 3 × MaxRtrAdvInterval).
	RouterLifetime = 3 * RAInterval
	// PrefixValidLifetime and PrefixPreferredLifetime are AdvValidLifetime and
	// AdvPreferredLifetime's defaults.
	PrefixValidLifetime     = 30 * 24 * time.Hour
	PrefixPreferredLifetime = 7 * 24 * time.Hour
	// DNSLifetime is the RDNSS and DNSSL lifetime.
	DNSLifetime = 3 * RAInterval
	// slaacPrefixBits is the prefix length SLAAC works with (RFC 4862 with RFC 4291's 64-bit
	// interface ids).
	slaacPrefixBits = 64
	// ndpHopLimit is the only hop limit neighbour discovery accepts (RFC 4861 section 6.1).
	ndpHopLimit = 255
)

var allNodes = netip.MustParseAddr("ff02::1")

// RouterLinkLocal is the node's link-local address for a router MAC (its modified EUI-64
// interface id): router advertisements come from it, so hosts' default routes point at it.
func RouterLinkLocal(routerMAC net.HardwareAddr) netip.Addr {
	return SLAACAddress(netip.MustParsePrefix("fe80::/64"), routerMAC)
}

// SLAACAddress is the address a host with MAC forms in a /64 prefix with an EUI-64 interface
// id (RFC 4291 appendix A): what a VMI's IPv6 instance address must be for such a host.
func SLAACAddress(prefix netip.Prefix, mac net.HardwareAddr) netip.Addr {
	a := prefix.Masked().Addr().As16()
	if len(mac) == 6 {
		a[8], a[9], a[10], a[11] = mac[0]^0x02, mac[1], mac[2], 0xff
		a[12], a[13], a[14], a[15] = 0xfe, mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(a)
}

// ServeICMPv6 answers a neighbour solicitation for one of the gateway's addresses (a
// Gateway6, or RouterLinkLocal) with a neighbour advertisement (router, solicited, override,
// the router MAC as target link-layer address), and a router solicitation with a router
// advertisement (RouterAdvertisement's, unicast to the soliciting host). Anything else is
// Ignored. Messages that fail RFC 4861's validity checks (hop limit 255, code 0, checksum)
// or come from another MAC than the VMI's are Ignored too.
func ServeICMPv6(frame []byte, ifc Interface) (reply []byte, outcome Outcome, err error) {
	if err := ifc.Check(); err != nil {
		return nil, Ignored, err
	}
	eth, err := parseEther(frame)
	if err != nil {
		return nil, Ignored, err
	}
	if eth.typ != etherTypeIPv6 {
		return nil, Ignored, fmt.Errorf("EtherType %#04x: %w", eth.typ, ErrNotForUs)
	}
	if !sameMAC(eth.src, ifc.MAC) {
		return nil, Ignored, fmt.Errorf("ICMPv6 from %s, not from the VMI's MAC %s", eth.src, ifc.MAC)
	}
	ip, err := parseIPv6(eth.payload)
	if err != nil {
		return nil, Ignored, err
	}
	if ip.next != protoICMPv6 {
		return nil, Ignored, fmt.Errorf("IPv6 next header %d: %w", ip.next, ErrNotForUs)
	}
	if ip.hopLimit != ndpHopLimit || len(ip.payload) < 4 || ip.payload[1] != 0 {
		return nil, Ignored, fmt.Errorf("ICMPv6 with hop limit %d or a non-zero code: not valid neighbour discovery", ip.hopLimit)
	}
	if checksum(pseudoHeader6(ip.src, ip.dst, len(ip.payload)), ip.payload) != 0 {
		return nil, Ignored, fmt.Errorf("ICMPv6 checksum is wrong")
	}
	msg, err := ndp.ParseMessage(ip.payload)
	if err != nil {
		return nil, Ignored, fmt.Errorf("ICMPv6 type %d: %w", ip.payload[0], ErrNotForUs)
	}
	switch m := msg.(type) {
	case *ndp.NeighborSolicitation:
		return advertiseNeighbor(m, ip, eth, ifc)
	case *ndp.RouterSolicitation:
		// A host with an address is answered by unicast, one without at all-nodes (RFC 4861
		// section 6.2.6); either way only this VMI gets it.
		dst := ip.src
		if dst.IsUnspecified() {
			dst = allNodes
		}
		ra, err := routerAdvertisement(ifc, dst)
		return ra, Advertised, err
	}
	return nil, Ignored, fmt.Errorf("ICMPv6 %s: %w", msg.Type(), ErrNotForUs)
}

// advertiseNeighbor answers a solicitation for a gateway address.
func advertiseNeighbor(ns *ndp.NeighborSolicitation, ip ipv6, eth ether, ifc Interface) ([]byte, Outcome, error) {
	target := ns.TargetAddress
	if !ifc.isGateway6(target) {
		return nil, Ignored, fmt.Errorf("neighbour solicitation for %s, not a gateway address", target)
	}
	na := &ndp.NeighborAdvertisement{Router: true, Override: true, TargetAddress: target,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifc.RouterMAC}}}
	dst, dstMAC := ip.src, eth.src
	if ip.src.IsUnspecified() {
		// Duplicate address detection for the gateway's address: defend it, to all nodes
		// (RFC 4861 section 7.2.4), unsolicited.
		dst, dstMAC = allNodes, multicastMAC(allNodes)
	} else {
		na.Solicited = true
	}
	b, err := ndpPacket(na, target, dst, dstMAC, ifc)
	return b, NeighborAdvertised, err
}

func (ifc Interface) isGateway6(a netip.Addr) bool {
	if a == RouterLinkLocal(ifc.RouterMAC) {
		return true
	}
	for _, g := range ifc.Gateway6 {
		if g == a {
			return true
		}
	}
	return false
}

// RouterAdvertisement is the unsolicited router advertisement for the VMI ifc describes, to
// all nodes (the caller sends it to the VMI's port every RAInterval). An Interface without
// IPv6 gets none (nil).
func RouterAdvertisement(ifc Interface) ([]byte, error) {
	if err := ifc.Check(); err != nil {
		return nil, err
	}
	if len(ifc.IPv6) == 0 {
		return nil, nil
	}
	return routerAdvertisement(ifc, allNodes)
}

// routerAdvertisement builds the advertisement of ifc's IPv6 subnets: a default router when
// one of them has a gateway, each prefix on-link (and autonomous when it is a /64), the MTU,
// the router MAC, and the DNS servers and domain.
func routerAdvertisement(ifc Interface, dst netip.Addr) ([]byte, error) {
	ra := &ndp.RouterAdvertisement{CurrentHopLimit: defaultTTL}
	if len(ifc.Gateway6) > 0 {
		ra.RouterLifetime = RouterLifetime
	}
	ra.Options = append(ra.Options, &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifc.RouterMAC})
	if ifc.MTU >= MinIPv6MTU {
		ra.Options = append(ra.Options, ndp.NewMTU(uint32(ifc.MTU)))
	}
	seen := map[netip.Prefix]bool{}
	for _, p := range ifc.IPv6 {
		p = p.Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		ra.Options = append(ra.Options, &ndp.PrefixInformation{PrefixLength: uint8(p.Bits()), OnLink: true,
			AutonomousAddressConfiguration: p.Bits() == slaacPrefixBits,
			ValidLifetime:                  PrefixValidLifetime, PreferredLifetime: PrefixPreferredLifetime, Prefix: p.Addr()})
	}
	if len(ifc.DNS6) > 0 {
		ra.Options = append(ra.Options, &ndp.RecursiveDNSServer{Lifetime: DNSLifetime, Servers: ifc.DNS6})
	}
	if ifc.Domain != "" {
		ra.Options = append(ra.Options, &ndp.DNSSearchList{Lifetime: DNSLifetime, DomainNames: []string{ifc.Domain}})
	}
	dstMAC := ifc.MAC
	if dst.IsMulticast() {
		dstMAC = multicastMAC(dst)
	}
	return ndpPacket(ra, RouterLinkLocal(ifc.RouterMAC), dst, dstMAC, ifc)
}

// ndpPacket wraps a neighbour discovery message from the router: ICMPv6 with its checksum,
// IPv6 with hop limit 255, Ethernet from the router MAC.
func ndpPacket(m ndp.Message, src, dst netip.Addr, dstMAC net.HardwareAddr, ifc Interface) ([]byte, error) {
	body, err := ndp.MarshalMessageChecksum(m, src, dst)
	if err != nil {
		return nil, fmt.Errorf("netsvc: %s for %s: %w", m.Type(), ifc.MAC, err)
	}
	return etherFrame(dstMAC, ifc.RouterMAC, etherTypeIPv6, ipv6Packet(src, dst, protoICMPv6, ndpHopLimit, body)), nil
}

// pseudoHeader6 is the IPv6 pseudo-header of an upper-layer checksum (RFC 8200 section 8.1).
func pseudoHeader6(src, dst netip.Addr, length int) []byte {
	s, d := src.As16(), dst.As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	return append(b, 0, 0, 0, protoICMPv6)
}
