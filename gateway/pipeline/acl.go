package pipeline

import (
	"net/netip"
	"slices"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// conntrack sends a VN's IP traffic through its conntrack zone, and commits its new
// connections that passed the ACLs.
func (c *compiler) conntrack(vn *model.VirtualNetwork) {
	z := c.zoneOf(vn)
	owner := Owner{KindVN, vn.Name}
	for _, fam := range []family{familyV4, familyV6} {
		m := openflow.Match{}.WithUint(RegVN, uint64(vn.VNI)).WithUint(openflow.FieldEthType, fam.ethType)
		c.flow(TableConntrack, PrioConntrack, owner, vn.VNI, m,
			openflow.CT{Zone: z, Recirculate: true, Table: TableCTState})
		c.flow(TableCTCommit, PrioCTCommit, owner, vn.VNI, m.WithCTState(openflow.CTNew|openflow.CTTrk, 0),
			openflow.CT{Commit: true, Zone: z}, openflow.GotoTable{Table: TableOutput})
	}
}

// conntrackShared lets established and related traffic skip the ACLs, drops invalid traffic,
// and lets IPv6 control messages pass untracked, for every VN.
func (c *compiler) conntrackShared() {
	// They skip the egress ACL by going straight to l2-lookup, and the ingress ACL by the mark
	// an established connection gets: without it a VMI with security groups never heard a
	// neighbour solicitation (its ingress ACL dropped it for want of a rule).
	for _, typ := range icmpv6Control {
		c.flow(TableConntrack, PrioICMPv6Control, pipelineOwner, 0, openflow.Match{}.WithUint(openflow.FieldEthType, ethIPv6).
			WithUint(openflow.FieldIPProto, model.ProtoICMPv6).WithUint(openflow.FieldICMPv6Type, typ),
			openflow.SetUint(RegEstablished, 1), openflow.GotoTable{Table: TableL2Lookup})
	}
	c.drop(TableCTState, PrioCTInvalid, pipelineOwner, DropInvalidState, 0,
		openflow.Match{}.WithCTState(openflow.CTInv|openflow.CTTrk, 0))
	known := []openflow.Action{openflow.SetUint(RegEstablished, 1), openflow.GotoTable{Table: TableL2Lookup}}
	c.flow(TableCTState, PrioCTEstablished, pipelineOwner, 0, openflow.Match{}.WithCTState(openflow.CTEst|openflow.CTTrk, 0), known...)
	c.flow(TableCTState, PrioCTEstablished, pipelineOwner, 0, openflow.Match{}.WithCTState(openflow.CTRel|openflow.CTTrk, openflow.CTEst), known...)
}

// policies compiles a served VN's network policies: their rules in order, first match wins.
// What no rule matches goes on to the security groups.
func (c *compiler) policies(vn *model.VirtualNetwork) {
	if !c.served[vn.VNI] {
		return
	}
	prio := PrioPolicyFirst
	for _, name := range vn.NetworkPolicies {
		pol := c.policyByName[name]
		if pol == nil {
			continue
		}
		owner := Owner{KindNetworkPolicy, pol.Name}
		for i, r := range pol.Rules {
			if prio < PrioPolicyLast {
				c.notice("virtual network %q has more than %d policy rules; rules from %s rule %d on are not programmed", vn.Name, PrioPolicyFirst-PrioPolicyLast+1, pol.Name, i)
				return
			}
			for _, m := range policyMatches(c.x, *vn, r) {
				if r.Action == model.ActionDeny {
					c.drop(TablePolicy, prio, owner, DropPolicy, nameID(pol.Name), m)
				} else {
					c.flow(TablePolicy, prio, owner, nameID(pol.Name), m, openflow.GotoTable{Table: TableEgressACL})
				}
			}
			prio--
		}
	}
}

// PolicyRuleAt names the network policy rule of VN vn that policies compiles at priority
// prio: the VN's rules count down from PrioPolicyFirst in their order, across its policies. It
// explains a policy flow found on the switch (ovsgw trace); ok is false when no rule has prio.
func PolicyRuleAt(x *model.Index, vn string, prio uint16) (policy string, rule int, ok bool) {
	v := x.VNs[vn]
	if v == nil || prio > PrioPolicyFirst || prio < PrioPolicyLast {
		return "", 0, false
	}
	n := int(PrioPolicyFirst - prio)
	for _, name := range v.NetworkPolicies {
		for i := range x.Config.NetworkPolicies {
			if pol := &x.Config.NetworkPolicies[i]; pol.Name == name {
				if n < len(pol.Rules) {
					return pol.Name, n, true
				}
				n -= len(pol.Rules)
			}
		}
	}
	return "", 0, false
}

// policyMatches expands one policy rule of a VN into matches: per address family, per
// direction, per port mask. A VN's policies see its own traffic (reg1 is the VN), switched or
// routed where it enters, so a `network` endpoint as source matches only the VN itself; as
// destination, the VN itself (traffic that stays in it: reg5 = 0, on a VN with a router) or
// another VN of its router (traffic routed there: reg5 = that VN). Traffic from another VN is
// that VN's policies' to check.
func policyMatches(x *model.Index, vn model.VirtualNetwork, r model.PolicyRule) []openflow.Match {
	router := x.RouterOf[vn.Name]
	proto, _ := model.ParseProtocol(r.Protocol)
	srcPorts, _ := model.ParsePorts(r.SourcePorts)
	dstPorts, _ := model.ParsePorts(r.DestinationPorts)
	type side struct {
		ep    model.Endpoint
		ports model.PortRange
	}
	orientations := [][2]side{{{r.Source, srcPorts}, {r.Destination, dstPorts}}}
	if r.Direction == model.BothWays {
		orientations = append(orientations, [2]side{{r.Destination, dstPorts}, {r.Source, srcPorts}})
	}
	var out []openflow.Match
	for _, fam := range []family{familyV4, familyV6} {
		if (proto == model.ProtoICMP && fam.v6) || (proto == model.ProtoICMPv6 && !fam.v6) {
			continue
		}
	orientation:
		for _, o := range orientations {
			m := openflow.Match{}.WithUint(RegVN, uint64(vn.VNI)).WithUint(openflow.FieldEthType, fam.ethType)
			if proto != model.ProtoAny {
				m = m.WithUint(openflow.FieldIPProto, uint64(proto))
			}
			for i, s := range o {
				switch {
				case s.ep.Network != "" && i == 0:
					if s.ep.Network != vn.Name {
						continue orientation
					}
				case s.ep.Network != "":
					switch {
					case s.ep.Network == vn.Name && router != nil:
						m = m.WithUint(RegDstVN, 0)
					case s.ep.Network == vn.Name:
					case router != nil && slices.Contains(router.Networks, s.ep.Network):
						m = m.WithUint(RegDstVN, uint64(x.VNs[s.ep.Network].VNI))
					default:
						continue orientation
					}
				case s.ep.CIDR != "":
					p, _ := netip.ParsePrefix(s.ep.CIDR)
					if p.Addr().Is6() != fam.v6 {
						continue orientation
					}
					m = withPrefix(m, p.Masked(), i == 1)
				}
			}
			out = append(out, withPorts(m, proto, o[0].ports, o[1].ports)...)
		}
	}
	return out
}

// withPorts expands m by the port masks of a source and a destination range.
func withPorts(m openflow.Match, proto int, src, dst model.PortRange) []openflow.Match {
	if !model.HasPorts(proto) {
		return []openflow.Match{m}
	}
	srcField, dstField := openflow.FieldTCPSrc, openflow.FieldTCPDst
	if proto == model.ProtoUDP {
		srcField, dstField = openflow.FieldUDPSrc, openflow.FieldUDPDst
	}
	out := []openflow.Match{m}
	for _, step := range []struct {
		f openflow.Field
		r model.PortRange
	}{{srcField, src}, {dstField, dst}} {
		masks := portMasks(step.r)
		if masks == nil {
			continue
		}
		var next []openflow.Match
		for _, base := range out {
			for _, pm := range masks {
				next = append(next, base.WithMasked(step.f, step.f.Uint(uint64(pm.value)), step.f.Uint(uint64(pm.mask))))
			}
		}
		out = next
	}
	return out
}

// ICMPv6 control messages that must pass untracked, as ARP does for IPv4: multicast listener
// queries and reports (130-132, 143) and neighbour discovery (133-136). Connection tracking
// marks them invalid, and security groups would drop them, and IPv6 could not resolve at all.
var icmpv6Control = []uint64{130, 131, 132, 133, 134, 135, 136, 143}

// securityGroups compiles the security groups of a bound VMI: egress rules check frames from
// the VMI, ingress rules frames to it; a VMI with groups drops what none of their rules allow.
func (c *compiler) securityGroups(b *bound) {
	if len(b.vmi.SecurityGroups) == 0 {
		return // no groups: everything allowed
	}
	for _, name := range b.vmi.SecurityGroups {
		if g := c.groupByName[name]; g != nil {
			for _, r := range g.Rules {
				if r.RemoteGroup == "" { // remote-group rules are conjunctions (memberClauses)
					c.securityGroupRule(b, g.Name, r)
				}
			}
		}
	}
	c.memberClauses(b)
	for _, dir := range []struct {
		table uint8
		reg   openflow.Field
	}{{TableEgressACL, RegSrcVMI}, {TableIngressACL, RegDstVMI}} {
		for _, fam := range []family{familyV4, familyV6} {
			c.drop(dir.table, PrioACLDefaultDeny, Owner{KindVMI, b.name}, DropSecurityGrp, b.id,
				openflow.Match{}.WithUint(dir.reg, uint64(b.id)).WithUint(openflow.FieldEthType, fam.ethType))
		}
	}
}

// securityGroupRule compiles one rule of group g for bound VMI b.
func (c *compiler) securityGroupRule(b *bound, g string, r model.SecurityGroupRule) {
	table, next, reg, remoteIsDst := TableIngressACL, TableCTCommit, RegDstVMI, false
	if r.Direction == model.DirectionEgress {
		table, next, reg, remoteIsDst = TableEgressACL, TableL2Lookup, RegSrcVMI, true
	}
	fam := familyV4
	if r.Ethertype == model.EthertypeIPv6 {
		fam = familyV6
	}
	proto, _ := model.ParseProtocol(r.Protocol)
	ports, _ := model.ParsePorts(r.Ports)
	m := openflow.Match{}.WithUint(reg, uint64(b.id)).WithUint(openflow.FieldEthType, fam.ethType)
	if proto != model.ProtoAny {
		m = m.WithUint(openflow.FieldIPProto, uint64(proto))
	}
	var remotes []netip.Prefix
	switch {
	case r.RemoteCIDR != "":
		p, _ := netip.ParsePrefix(r.RemoteCIDR)
		remotes = []netip.Prefix{p.Masked()}
	default:
		remotes = []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0)} // anywhere
	}
	owner := Owner{KindSecurityGroup, g}
	for _, p := range remotes {
		rm := m
		if p.Bits() > 0 {
			rm = withPrefix(m, p, remoteIsDst)
		}
		for _, pm := range withPorts(rm, proto, model.PortRange{}, ports) {
			c.flow(table, PrioACLRule, owner, nameID(g), pm, openflow.GotoTable{Table: next})
		}
	}
}
