package pipeline

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// Gateways and routing. Every subnet's gateway answers ARP (IPv4) and echo requests with the
// router MAC, the same on every node. A logical router joins VNs: a packet of one of its VNs
// sent to the router MAC for an address in another of its VNs is routed on the node where it
// enters (the distributed router of Contrail's vRouter and of OVN):
//
//	route-classify  reg1 = source VN, dl_dst = router MAC, destination in a subnet of VN d
//	                ──► reg5 = d's VNI (before conntrack, so that the packets of established
//	                connections, which skip the policy and ACL tables, are routed too)
//	l2-lookup       dl_dst = router MAC ──► routing (VN on a router), else drop (no-route)
//	routing         TTL ≤ 1 ──► drop (ttl-expired); reg5 = d, destination = an instance IP of
//	                VMI v of d ──► dec_ttl, dl_src = router MAC, dl_dst = v's MAC, reg2 = v
//	                ──► ingress-acl, ct-commit and output as any packet to v: its port, its
//	                VLAN, or the tunnel to its node with d's VNI
//
// reg1 keeps the source VN: the connection is committed in the source VN's zone, which is its
// router's and so the destination VN's too, on the entry node, which serves the source VN but
// may only reach the destination one. A node reaches every VN of a router one of whose VNs it
// serves: it has the routes and outputs of their VMIs, but does not flood them. A routed packet
// that reaches another node through the overlay (source MAC = the router MAC) skips the
// policies there: the entry node checked it against its source VN's.

// routeConfig is what routing derives from the config alone.
type routeConfig struct {
	zones     map[string]uint16       // VN on a router → its conntrack zone (the router's lowest VNI's)
	gateways  map[string][]netip.Addr // VN → its subnets' gateway addresses, in subnet order
	routerSig map[string]string       // router → what its VNs' routing flows depend on
}

// newRouteConfig derives the routing view of a config.
func newRouteConfig(x *model.Index) routeConfig {
	rc := routeConfig{zones: map[string]uint16{}, gateways: map[string][]netip.Addr{}, routerSig: map[string]string{}}
	for i := range x.Config.LogicalRouters {
		r := &x.Config.LogicalRouters[i]
		var lowest uint32
		var sig strings.Builder
		for _, n := range r.Networks {
			vn := x.VNs[n]
			if vn == nil {
				continue
			}
			if lowest == 0 || vn.VNI < lowest {
				lowest = vn.VNI
			}
			sig.WriteString(n + "=" + strconv.FormatUint(uint64(vn.VNI), 10) + ":" + strings.Join(model.CIDRs(vn.Subnets), ",") + ";")
		}
		for _, n := range r.Networks {
			rc.zones[n] = ctZone(lowest)
		}
		rc.routerSig[r.Name] = sig.String()
	}
	rc.gateways = gatewaysOf(x)
	return rc
}

// gatewaysOf finds the gateway addresses of every VN's subnets, as Index.Gateway decides them
// (a default gateway yields to a VMI of the VN holding its address), in one pass over the VMIs
// rather than one over all of them per subnet: this runs at every config change.
func gatewaysOf(x *model.Index) map[string][]netip.Addr {
	type defaults struct {
		v4   []string     // default IPv4 gateways, as text (IPv4 has one spelling)
		v6   []netip.Addr // default IPv6 gateways (IPv6 has several)
		held map[netip.Addr]bool
	}
	out := map[string][]netip.Addr{}
	byVN := map[string]*defaults{}
	for i := range x.Config.VirtualNetworks {
		vn := &x.Config.VirtualNetworks[i]
		for _, s := range vn.Subnets {
			gw, ok := s.GatewayAddr()
			if !ok {
				continue
			}
			out[vn.Name] = append(out[vn.Name], gw)
			if s.Gateway != "" {
				continue
			}
			d := byVN[vn.Name]
			if d == nil {
				d = &defaults{}
				byVN[vn.Name] = d
			}
			if gw.Is4() {
				d.v4 = append(d.v4, gw.String())
			} else {
				d.v6 = append(d.v6, gw)
			}
		}
	}
	if len(byVN) == 0 {
		return out
	}
	mark := func(d *defaults, a netip.Addr) {
		if d.held == nil {
			d.held = map[netip.Addr]bool{}
		}
		d.held[a] = true
	}
	var lastNet string
	var d *defaults // byVN[lastNet]: VMIs of a VN tend to be listed together
	for i := range x.Config.VirtualMachineInterfaces {
		v := &x.Config.VirtualMachineInterfaces[i]
		if v.Network != lastNet || i == 0 {
			lastNet, d = v.Network, byVN[v.Network]
		}
		if d == nil {
			continue
		}
		for _, ip := range v.InstanceIPs {
			if strings.IndexByte(ip.Address, ':') < 0 {
				if slices.Contains(d.v4, ip.Address) {
					a, _ := netip.ParseAddr(ip.Address)
					mark(d, a)
				}
			} else if len(d.v6) > 0 {
				if a, err := netip.ParseAddr(ip.Address); err == nil && slices.Contains(d.v6, a) {
					mark(d, a)
				}
			}
		}
	}
	for name, d := range byVN {
		if len(d.held) > 0 {
			out[name] = slices.DeleteFunc(out[name], func(a netip.Addr) bool { return d.held[a] })
			if len(out[name]) == 0 {
				delete(out, name)
			}
		}
	}
	return out
}

// routerKey is what the routing flows of VN vn depend on of its router: its name and its VNs'
// VNIs and subnets ("" for a VN on no router).
func (s *configState) routerKey(vn string) string {
	r := s.x.RouterOf[vn]
	if r == nil {
		return ""
	}
	return r.Name + "\x00" + s.routerSig[r.Name]
}

// zoneOf is the conntrack zone of a VN.
func (rc *routeConfig) zoneOf(vn *model.VirtualNetwork) uint16 {
	if z, ok := rc.zones[vn.Name]; ok {
		return z
	}
	return ctZone(vn.VNI)
}

// setReached finds the VNs this node routes to: every VN of a router one of whose VNs it
// serves.
func (s *state) setReached() {
	for vni := range s.served {
		vn := s.vnByVNI[vni]
		if vn == nil {
			continue
		}
		r := s.x.RouterOf[vn.Name]
		if r == nil {
			continue
		}
		for _, n := range r.Networks {
			if d := s.x.VNs[n]; d != nil {
				s.reached[d.VNI] = true
			}
		}
	}
}

// l3Flows are a served VN's gateway answers and, on a router, its way to the routing table.
func (c *compiler) l3Flows(vn *model.VirtualNetwork) {
	if !c.served[vn.VNI] {
		return
	}
	for _, gw := range c.gateways[vn.Name] {
		c.gatewayAnswers(vn, gw)
	}
	r := c.x.RouterOf[vn.Name]
	if r == nil {
		return
	}
	owner, id := Owner{KindRouter, r.Name}, nameID(r.Name)
	toRouter := openflow.Match{}.WithUint(RegVN, uint64(vn.VNI)).With(openflow.FieldEthDst, routerMAC)
	c.flow(TableL2Lookup, PrioRouterMAC, owner, id, toRouter, openflow.GotoTable{Table: TableRouting})
	for _, n := range r.Networks {
		d := c.x.VNs[n]
		if d == nil || n == vn.Name {
			continue
		}
		for _, sub := range d.Subnets {
			p, ok := sub.Prefix()
			if !ok {
				continue
			}
			c.flow(TableRouteClassify, PrioRouteClassify, owner, id, withPrefix(toRouter, p, true),
				openflow.SetUint(RegDstVN, uint64(d.VNI)), openflow.GotoTable{Table: TableConntrack})
		}
	}
}

// gatewayAnswers answers, for the VN's gateway address gw, what a router answers: ARP requests
// (with the router MAC) and echo requests. Both go back to the asking VMI through the output
// table, as the ARP responder's answers do; requests from the overlay are their node's to
// answer.
func (c *compiler) gatewayAnswers(vn *model.VirtualNetwork, gw netip.Addr) {
	owner := Owner{KindVN, vn.Name}
	fromVMI := openflow.Match{}.WithUint(RegVN, uint64(vn.VNI)).WithUint(RegFromTunnel, 0)
	back := []openflow.Action{
		openflow.Move{Src: RegSrcVMI, Dst: RegDstVMI},
		openflow.SetUint(RegSrcVMI, 0), // the answer comes from no VMI: no hairpin drop
		openflow.GotoTable{Table: TableOutput},
	}
	fam := familyV4
	if gw.Is6() {
		fam = familyV6
	}
	if !fam.v6 {
		c.flow(TableARPResponder, PrioARPReply, owner, vn.VNI,
			fromVMI.WithUint(openflow.FieldEthType, ethARP).WithUint(openflow.FieldARPOp, arpRequest).With(openflow.FieldARPTPA, gw.AsSlice()),
			append(arpAnswer(routerMAC, gw.AsSlice()), back...)...)
	}
	// Open vSwitch fixes the ICMP checksum for the new type, and the ICMPv6 one (whose
	// pseudo-header holds the addresses) for the new type and addresses.
	typeField, request, reply := openflow.FieldICMPType, uint64(8), uint64(0)
	src, dst := openflow.FieldIPv4Src, openflow.FieldIPv4Dst
	if fam.v6 {
		typeField, request, reply = openflow.FieldICMPv6Type, 128, 129
		src, dst = openflow.FieldIPv6Src, openflow.FieldIPv6Dst
	}
	echo := withPrefix(fromVMI.With(openflow.FieldEthDst, routerMAC), netip.PrefixFrom(gw, gw.BitLen()), true).
		WithUint(openflow.FieldIPProto, uint64(fam.icmpProto)).WithUint(typeField, request)
	c.flow(TableARPResponder, PrioEcho, owner, vn.VNI, echo, append([]openflow.Action{
		openflow.Move{Src: openflow.FieldEthSrc, Dst: openflow.FieldEthDst},
		openflow.SetField{Field: openflow.FieldEthSrc, Value: routerMAC},
		openflow.Move{Src: src, Dst: dst},
		openflow.SetField{Field: src, Value: gw.AsSlice()},
		openflow.SetUint(typeField, reply),
	}, back...)...)
}

// routes sends packets routed to VN vni for an instance IP of VMI v to v: one hop more
// (dec_ttl), from the router MAC to v's MAC.
func (c *compiler) routes(v *model.VirtualMachineInterface, vni uint32) {
	mac, err := model.ParseMAC(v.MAC)
	if err != nil {
		return
	}
	id := c.ids[v.Name]
	for _, v6 := range []bool{false, true} {
		for _, a := range instanceAddrs(v, v6) {
			c.flow(TableRouting, PrioRoute, Owner{KindVMI, v.Name}, id,
				withPrefix(openflow.Match{}.WithUint(RegDstVN, uint64(vni)), netip.PrefixFrom(a, a.BitLen()), true),
				openflow.DecTTL{},
				openflow.SetField{Field: openflow.FieldEthSrc, Value: routerMAC},
				openflow.SetField{Field: openflow.FieldEthDst, Value: mac},
				openflow.SetUint(RegDstVMI, uint64(id)),
				openflow.GotoTable{Table: TableIngressACL})
		}
	}
}

// routingShared are the pipeline's routing flows, the same for every VN: the router MAC is
// dropped in a VN without a router; a packet the routing table has no route for, or whose TTL
// would expire, is dropped and counted (not answered with an ICMP error: that takes a packet
// the switch cannot build by itself); a packet routed where it entered skips the policies of
// the node it is delivered on.
func (c *compiler) routingShared() {
	c.drop(TableL2Lookup, PrioNoRouter, pipelineOwner, DropNoRoute, 0, openflow.Match{}.With(openflow.FieldEthDst, routerMAC))
	for _, fam := range []family{familyV4, familyV6} {
		for _, ttl := range []uint64{0, 1} {
			c.drop(TableRouting, PrioTTLExpired, pipelineOwner, DropTTLExpired, 0,
				openflow.Match{}.WithUint(openflow.FieldEthType, fam.ethType).WithUint(openflow.FieldIPTTL, ttl))
		}
	}
	c.drop(TableRouting, PrioTableMiss, pipelineOwner, DropNoRoute, 0, nil)
	c.flow(TablePolicy, PrioPolicyRouted, pipelineOwner, 0,
		openflow.Match{}.WithUint(RegFromTunnel, FromNode).With(openflow.FieldEthSrc, routerMAC),
		openflow.GotoTable{Table: TableEgressACL})
}

// Network is a VN this node serves, with its router and gateways, as status shows it.
type Network struct {
	Name           string   `json:"name"`
	VNI            uint32   `json:"vni"`
	Router         string   `json:"router,omitempty"`
	RouterNetworks []string `json:"routerNetworks,omitempty"` // the router's other VNs
	Gateways       []string `json:"gateways,omitempty"`       // its subnets' gateway addresses
}

// networks lists the served VNs in config order.
func (s *state) networks() []Network {
	var out []Network
	for _, vn := range s.x.Config.VirtualNetworks {
		if !s.served[vn.VNI] {
			continue
		}
		n := Network{Name: vn.Name, VNI: vn.VNI}
		if r := s.x.RouterOf[vn.Name]; r != nil {
			n.Router = r.Name
			for _, o := range r.Networks {
				if o != vn.Name {
					n.RouterNetworks = append(n.RouterNetworks, o)
				}
			}
		}
		for _, gw := range s.gateways[vn.Name] {
			n.Gateways = append(n.Gateways, gw.String())
		}
		out = append(out, n)
	}
	return out
}
