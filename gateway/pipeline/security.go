package pipeline

import (
	"net/netip"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// Addresses a VMI may always use as IPv6 source with its own MAC: link-local (neighbour
// discovery, router solicitation) and the unspecified address (duplicate address detection).
var (
	ipv6LinkLocal   = netip.MustParsePrefix("fe80::/10")
	ipv6Unspecified = netip.MustParsePrefix("::/128")
	ipv4Unspecified = netip.MustParsePrefix("0.0.0.0/32")
)

// DHCP's client and server ports: a VMI without an address may still ask for one.
const (
	dhcpClientPort = 68
	dhcpServerPort = 67
)

// portSecurity lets a VMI send only from its own MAC and addresses, and ARP only for them.
func (c *compiler) portSecurity(b *bound) {
	owner := Owner{KindVMI, b.name}
	fromVMI := openflow.Match{}.WithUint(RegSrcVMI, uint64(b.id))
	next := openflow.GotoTable{Table: TableARPResponder}
	if !b.vmi.PortSecurityEnabled() {
		c.flow(TablePortSecurity, PrioSpoofAllow, owner, b.id, fromVMI, next)
		return
	}
	allowed := vmiSources(b.vmi)
	allowed = append(allowed, source{b.mac, ipv6LinkLocal}, source{b.mac, ipv6Unspecified})
	for _, s := range allowed {
		m := fromVMI.With(openflow.FieldEthSrc, s.mac)
		c.flow(TablePortSecurity, PrioSpoofAllow, owner, b.id, withPrefix(m, s.prefix, false), next)
		if s.prefix.Addr().Is4() {
			arp := m.WithUint(openflow.FieldEthType, ethARP).With(openflow.FieldARPSHA, s.mac)
			if !s.prefix.IsSingleIP() {
				arp = arp.WithMasked(openflow.FieldARPSPA, s.prefix.Addr().AsSlice(), prefixMask(s.prefix))
			} else {
				arp = arp.With(openflow.FieldARPSPA, s.prefix.Addr().AsSlice())
			}
			c.flow(TablePortSecurity, PrioSpoofAllow, owner, b.id, arp, next)
		}
	}
	own := fromVMI.With(openflow.FieldEthSrc, b.mac)
	// An ARP probe (RFC 5227) claims no address; a DHCP request comes from 0.0.0.0.
	c.flow(TablePortSecurity, PrioSpoofAllow, owner, b.id, own.WithUint(openflow.FieldEthType, ethARP).
		With(openflow.FieldARPSHA, b.mac).With(openflow.FieldARPSPA, ipv4Unspecified.Addr().AsSlice()), next)
	c.flow(TablePortSecurity, PrioSpoofAllow, owner, b.id, withPrefix(own, ipv4Unspecified, false).
		WithUint(openflow.FieldIPProto, model.ProtoUDP).WithUint(openflow.FieldUDPSrc, dhcpClientPort).
		WithUint(openflow.FieldUDPDst, dhcpServerPort), next)
	for _, eth := range []uint64{ethIPv4, ethARP, ethIPv6} {
		c.drop(TablePortSecurity, PrioSpoofDropIP, owner, DropSpoofing, b.id, fromVMI.WithUint(openflow.FieldEthType, eth))
	}
	for _, mac := range vmiMACs(b) {
		c.flow(TablePortSecurity, PrioSpoofAllowL2, owner, b.id, fromVMI.With(openflow.FieldEthSrc, mac), next)
	}
	c.drop(TablePortSecurity, PrioSpoofDropRest, owner, DropSpoofing, b.id, fromVMI)
}

// arpOwn lets a bound VMI's ARP for its own address (a probe, a gratuitous ARP) pass
// unanswered.
func (c *compiler) arpOwn(b *bound) {
	for _, a := range instanceAddrs(b.vmi, false) {
		c.flow(TableARPResponder, PrioARPOwn, Owner{KindVMI, b.name}, b.id,
			openflow.Match{}.WithUint(RegSrcVMI, uint64(b.id)).WithUint(openflow.FieldEthType, ethARP).
				With(openflow.FieldARPTPA, a.AsSlice()),
			openflow.GotoTable{Table: TableConntrack})
	}
}

// arpReply answers ARP requests for a VMI's addresses in a VN this node serves, wherever the
// VMI is, so that they are not flooded. The reply goes back to the asking VMI through the
// output table (which pushes its VLAN if it is a remote instance).
func (c *compiler) arpReply(v *model.VirtualMachineInterface, vni uint32) {
	// Only instance IPs: an address pair may be shared by several VMIs (a virtual IP moving
	// between them), and only the VMI holding it now can answer for it.
	mac, _ := model.ParseMAC(v.MAC)
	for _, a := range instanceAddrs(v, false) {
		ip := a.AsSlice()
		c.flow(TableARPResponder, PrioARPReply, Owner{KindVMI, v.Name}, c.ids[v.Name],
			// Not for requests from the overlay: their node answers them itself.
			openflow.Match{}.WithUint(RegVN, uint64(vni)).WithUint(RegFromTunnel, 0).WithUint(openflow.FieldEthType, ethARP).
				WithUint(openflow.FieldARPOp, arpRequest).With(openflow.FieldARPTPA, ip),
			append(arpAnswer(mac, ip),
				openflow.Move{Src: RegSrcVMI, Dst: RegDstVMI},
				openflow.SetUint(RegSrcVMI, 0), // the reply comes from no VMI: no hairpin drop
				openflow.GotoTable{Table: TableOutput})...)
	}
}

// arpAnswer turns an ARP request into the reply that mac has ip.
func arpAnswer(mac, ip []byte) []openflow.Action {
	return []openflow.Action{
		openflow.Move{Src: openflow.FieldEthSrc, Dst: openflow.FieldEthDst},
		openflow.SetField{Field: openflow.FieldEthSrc, Value: mac},
		openflow.SetUint(openflow.FieldARPOp, arpReply),
		openflow.Move{Src: openflow.FieldARPSHA, Dst: openflow.FieldARPTHA},
		openflow.Move{Src: openflow.FieldARPSPA, Dst: openflow.FieldARPTPA},
		openflow.SetField{Field: openflow.FieldARPSHA, Value: mac},
		openflow.SetField{Field: openflow.FieldARPSPA, Value: ip},
	}
}

// ARP opcodes.
const (
	arpRequest = 1
	arpReply   = 2
)
