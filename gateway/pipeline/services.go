package pipeline

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// Services: the node answers a bound VMI's DHCPv4, its router solicitations and its neighbour
// solicitations for its IPv6 gateways itself (package netsvc, in the agent). The arp-responder
// table punts those requests to the agent, above everything else there, so that they are never
// flooded:
//
//	arp-responder (20)  reg0 = VMI, udp 68 ──► 67 (any destination: renewals are unicast)
//	                    reg0 = VMI, icmpv6 133 (router solicitation)
//	                    reg0 = VMI, icmpv6 135 for a gateway of its IPv6 subnets
//	                    ──► meter:<the VMI's meter>, controller(userdata=<service>, meter_id=<shared>)
//
// Two meters limit what reaches the agent (openflow/meter.go says why both): the VMI's own,
// which confines a flood to the VMI that sends it, and one shared by every VMI in the
// controller action, which bounds the agent's load when many flood at once.
const (
	PrioServicePunt uint16 = 120 // arp-responder: a VMI's DHCPv4, router or gateway neighbour solicitation, to the agent

	// ServiceDHCPv4 and ServiceICMPv6 are the packet-ins' userdata (one byte): which netsvc
	// function answers the packet.
	ServiceDHCPv4 byte = 1
	ServiceICMPv6 byte = 2
	// ServiceBPDU: a BPDU the switch sent on a gateway port of an HA group; ServiceBPDURelay:
	// one the BPDU network brings to that port from another gateway's. Both pass the shared
	// meter only: a switch sends one per hello time and port.
	ServiceBPDU      byte = 3
	ServiceBPDURelay byte = 4

	// SharedMeterID is the meter every punt's packet-in passes; the VMIs' meters are
	// 1..MaxVMIMeterID. The userspace datapath of OVS 3.1 has 262144 meters (ids below that).
	SharedMeterID uint32 = 262143
	MaxVMIMeterID uint32 = SharedMeterID - 1

	// VMIMeterRate and VMIMeterBurst (packets per second, packets) bound one VMI's punts: a
	// DHCP client sends at most a handful of packets per exchange and a host a router or
	// neighbour solicitation every few seconds at worst, so 20/s with a burst of 40 never delays
	// an honest client, while a flooding one gets 20/s of the agent's time.
	VMIMeterRate  uint32 = 20
	VMIMeterBurst uint32 = 40
	// SharedMeterRate and SharedMeterBurst bound every punt together: 1,000 packet-ins per second
	// keep the agent's DHCP and ND work to a few percent of one core, and 50 VMIs flooding at
	// their full rate still fit under it, so nobody else starves.
	SharedMeterRate  uint32 = 1000
	SharedMeterBurst uint32 = 2000
)

// ICMPv6 types the services answer.
const (
	icmpv6RouterSolicitation   = 133
	icmpv6NeighborSolicitation = 135
)

// ServiceSubnets are the subnets of a VMI's VN that serve it: each holds one of its instance
// IPs (with that address). DHCP is on in the ones DHCPv4 or router advertisements serve.
type ServiceSubnet struct {
	model.Subnet
	Prefix  netip.Prefix // the subnet's CIDR
	Address netip.Addr   // the VMI's instance IP in it
}

// ServiceSubnets lists the subnets of v's VN that hold one of its instance IPs, in the VN's
// order (one per subnet: the first instance IP in it).
func ServiceSubnets(x *model.Index, v *model.VirtualMachineInterface) []ServiceSubnet {
	vn := x.VNs[v.Network]
	if vn == nil {
		return nil
	}
	var out []ServiceSubnet
	for _, s := range vn.Subnets {
		p, ok := s.Prefix()
		if !ok {
			continue
		}
		for _, a := range instanceAddrs(v, p.Addr().Is6()) {
			if p.Contains(a) {
				out = append(out, ServiceSubnet{Subnet: s, Prefix: p, Address: a})
				break
			}
		}
	}
	return out
}

// punts are the matches of a bound VMI's requests that the agent answers (none: the VMI gets
// no services and needs no meter).
func (c *compiler) punts(b *bound) []openflow.Match {
	if b.bpdu {
		return nil
	}
	fromVMI := openflow.Match{}.WithUint(RegSrcVMI, uint64(b.id))
	var out []openflow.Match
	dhcp4, ra := false, false
	var gateways []netip.Addr
	vn := c.x.VNs[b.vmi.Network]
	for _, s := range ServiceSubnets(c.x, b.vmi) {
		v6 := s.Prefix.Addr().Is6()
		if s.DHCPEnabled() {
			dhcp4, ra = dhcp4 || !v6, ra || v6
		}
		if gw, ok := c.x.Gateway(vn, s.Subnet); ok && v6 && !slices.Contains(gateways, gw) {
			gateways = append(gateways, gw)
		}
	}
	if dhcp4 {
		out = append(out, fromVMI.WithUint(openflow.FieldEthType, ethIPv4).WithUint(openflow.FieldIPProto, model.ProtoUDP).
			WithUint(openflow.FieldUDPSrc, dhcpClientPort).WithUint(openflow.FieldUDPDst, dhcpServerPort))
	}
	icmp6 := fromVMI.WithUint(openflow.FieldEthType, ethIPv6).WithUint(openflow.FieldIPProto, model.ProtoICMPv6)
	if ra {
		out = append(out, icmp6.WithUint(openflow.FieldICMPv6Type, icmpv6RouterSolicitation))
	}
	for _, gw := range gateways {
		out = append(out, icmp6.WithUint(openflow.FieldICMPv6Type, icmpv6NeighborSolicitation).With(openflow.FieldNDTarget, gw.AsSlice()))
	}
	return out
}

// services punts a bound VMI's requests for the node's services to the agent, through its
// meter and the shared one.
func (c *compiler) services(b *bound) {
	meter := c.meters[b.name]
	for _, m := range c.punts(b) {
		kind := ServiceDHCPv4
		if _, v6 := m.Get(openflow.FieldICMPv6Type); v6 {
			kind = ServiceICMPv6
		}
		var actions []openflow.Action
		if meter != 0 {
			actions = append(actions, openflow.MeterAction{ID: meter})
		}
		actions = append(actions, openflow.Controller{Userdata: []byte{kind}, MeterID: SharedMeterID})
		c.flow(TableARPResponder, PrioServicePunt, Owner{KindVMI, b.name}, b.id, m, actions...)
	}
}

// Meters are the meters the flows of the last update use: the shared one and each served VMI's,
// by id. The agent adds them before the bundle that installs those flows (OVS refuses meters
// in bundles) and deletes the others after it.
func (e *Engine) Meters() []openflow.Meter {
	if e.st == nil || len(e.meterRefs) == 0 {
		return nil
	}
	out := make([]openflow.Meter, 0, len(e.meterRefs))
	for _, id := range slices.Sorted(maps.Keys(e.meterRefs)) {
		if id == SharedMeterID {
			out = append(out, openflow.PacketRateMeter(SharedMeterID, SharedMeterRate, SharedMeterBurst))
		} else {
			out = append(out, openflow.PacketRateMeter(id, VMIMeterRate, VMIMeterBurst))
		}
	}
	return out
}

// MeterVMI names the VMI whose punts use meter id in the last update ("" for none, or the
// shared meter), for messages about the meter.
func (e *Engine) MeterVMI(id uint32) string {
	if e.st == nil {
		return ""
	}
	for name, m := range e.st.meters {
		if m == id && e.st.members[name] != nil {
			return name
		}
	}
	return ""
}

// meterHash places a VMI's meter in 1..MaxVMIMeterID; collisions are probed (idAllocator).
func meterHash(name string) uint32 { return nameID(name)%MaxVMIMeterID + 1 }

// meterIDs gives every VMI of the config a meter id that never changes while the VMI exists
// and that no other VMI has (none, 0, once all MaxVMIMeterID are taken).
func (a *idAllocator) meterIDs(x *model.Index) map[string]uint32 {
	if a.meter == nil {
		a.meter = &idAllocator{hash: meterHash, limit: MaxVMIMeterID}
	}
	return a.meter.assign(x)
}

// gatewayHolders reports whether a VMI holds (or held) the default gateway address of one of
// its VN's subnets: then the VN's gateway, and every VMI's neighbour solicitation punt, depends
// on it (model.Index.Gateway).
func gatewayHolder(s *state, v *model.VirtualMachineInterface) bool {
	if v == nil {
		return false
	}
	vn := s.x.VNs[v.Network]
	if vn == nil {
		return false
	}
	for _, sn := range vn.Subnets {
		if sn.Gateway != "" {
			continue
		}
		gw, ok := sn.GatewayAddr()
		if !ok {
			continue
		}
		if slices.Contains(instanceAddrs(v, gw.Is6()), gw) {
			return true
		}
	}
	return false
}
