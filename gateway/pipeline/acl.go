package pipeline

import (
	"fmt"
	"net/netip"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// servedVNs are the VNs with a member on this node, in config order.
func (c *compiler) servedVNs(members []bound) []model.VirtualNetwork {
	var out []model.VirtualNetwork
	for _, vn := range c.in.Index.Config.VirtualNetworks {
		if c.served[vn.VNI] {
			out = append(out, vn)
		}
	}
	return out
}

// setServed decides which VNs this node serves: those with a member here, and those whose ToR
// switch traffic it replicates.
func (c *compiler) setServed(members []bound) {
	c.served = map[uint32]bool{}
	for _, b := range members {
		c.served[b.vni] = true
	}
	if c.in.TunnelPort <= 0 {
		return
	}
	for _, t := range c.in.Tors {
		if t.Replicator && t.TunnelIP.Is4() {
			for _, vni := range t.VNIs {
				if c.in.Index.VNIKnown(vni) {
					c.served[vni] = true
				}
			}
		}
	}
}

// conntrack sends each VN's IP traffic through its conntrack zone, lets established and related
// traffic skip the ACLs, drops invalid traffic, and commits new connections that passed them.
func (c *compiler) conntrack(members []bound) {
	zones := map[uint16]string{}
	for _, vn := range c.servedVNs(members) {
		z := ctZone(vn.VNI)
		if other, clash := zones[z]; clash {
			c.out.Notices = append(c.out.Notices, fmt.Sprintf(
				"virtual networks %q and %q share conntrack zone %d (VNIs equal in their low 16 bits): their connections are told apart only by address", other, vn.Name, z))
		}
		zones[z] = vn.Name
		owner := Owner{KindVN, vn.Name}
		for _, fam := range []family{familyV4, familyV6} {
			m := openflow.Match{}.WithUint(RegVN, uint64(vn.VNI)).WithUint(openflow.FieldEthType, fam.ethType)
			c.flow(TableConntrack, PrioConntrack, owner, vn.VNI, m,
				openflow.CT{Zone: z, Recirculate: true, Table: TableCTState})
			c.flow(TableCTCommit, PrioCTCommit, owner, vn.VNI, m.WithCTState(openflow.CTNew|openflow.CTTrk, 0),
				openflow.CT{Commit: true, Zone: z}, openflow.GotoTable{Table: TableOutput})
		}
	}
	for _, typ := range icmpv6Control {
		c.flow(TableConntrack, PrioICMPv6Control, pipelineOwner, 0, openflow.Match{}.WithUint(openflow.FieldEthType, ethIPv6).
			WithUint(openflow.FieldIPProto, model.ProtoICMPv6).WithUint(openflow.FieldICMPv6Type, typ), openflow.GotoTable{Table: TableL2Lookup})
	}
	c.drop(TableCTState, PrioCTInvalid, pipelineOwner, DropInvalidState, 0,
		openflow.Match{}.WithCTState(openflow.CTInv|openflow.CTTrk, 0))
	known := []openflow.Action{openflow.SetUint(RegEstablished, 1), openflow.GotoTable{Table: TableL2Lookup}}
	c.flow(TableCTState, PrioCTEstablished, pipelineOwner, 0, openflow.Match{}.WithCTState(openflow.CTEst|openflow.CTTrk, 0), known...)
	c.flow(TableCTState, PrioCTEstablished, pipelineOwner, 0, openflow.Match{}.WithCTState(openflow.CTRel|openflow.CTTrk, openflow.CTEst), known...)
}

// policies compiles each served VN's network policies: their rules in order, first match wins.
// What no rule matches goes on to the security groups.
func (c *compiler) policies(members []bound) {
	x := c.in.Index
	byName := map[string]*model.NetworkPolicy{}
	for i := range x.Config.NetworkPolicies {
		byName[x.Config.NetworkPolicies[i].Name] = &x.Config.NetworkPolicies[i]
	}
	for _, vn := range c.servedVNs(members) {
		prio := PrioPolicyFirst
	rules:
		for _, name := range vn.NetworkPolicies {
			pol := byName[name]
			owner := Owner{KindNetworkPolicy, pol.Name}
			for i, r := range pol.Rules {
				if prio < PrioPolicyLast {
					c.out.Notices = append(c.out.Notices, fmt.Sprintf(
						"virtual network %q has more than %d policy rules; rules from %s rule %d on are not programmed", vn.Name, PrioPolicyFirst-PrioPolicyLast+1, pol.Name, i))
					break rules
				}
				for _, m := range policyMatches(x, vn, r) {
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
}

// policyMatches expands one policy rule of a VN into matches: per address family, per
// direction, per port mask.
func policyMatches(x *model.Index, vn model.VirtualNetwork, r model.PolicyRule) []openflow.Match {
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
				case s.ep.Network != "":
					// Within one VN's L2 traffic both ends are in that VN.
					if x.VNs[s.ep.Network].VNI != vn.VNI {
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

// securityGroups compiles the security groups of the bound VMIs: egress rules check frames from
// the VMI, ingress rules frames to it; a VMI with groups drops what none of their rules allow.
func (c *compiler) securityGroups(members []bound) {
	x := c.in.Index
	groups := map[string]*model.SecurityGroup{}
	for i := range x.Config.SecurityGroups {
		groups[x.Config.SecurityGroups[i].Name] = &x.Config.SecurityGroups[i]
	}
	c.flow(TableIngressACL, PrioACLEstablished, pipelineOwner, 0,
		openflow.Match{}.WithMasked(RegEstablished, RegEstablished.Uint(1), RegEstablished.Uint(1)),
		openflow.GotoTable{Table: TableCTCommit})
	for _, b := range members {
		if len(b.vmi.SecurityGroups) == 0 {
			continue // no groups: everything allowed
		}
		for _, name := range b.vmi.SecurityGroups {
			g := groups[name]
			for _, r := range g.Rules {
				c.securityGroupRule(b, g.Name, r)
			}
		}
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
}

// securityGroupRule compiles one rule of group g for bound VMI b.
func (c *compiler) securityGroupRule(b bound, g string, r model.SecurityGroupRule) {
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
	case r.RemoteGroup != "":
		remotes = c.groupAddrs(r.RemoteGroup, fam.v6)
		if len(remotes) == 0 {
			return // a group with no addresses allows nothing
		}
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// groupAddrs lists the host prefixes of every VMI in security group g, of one family; computed
// once per group and family, as every member's every remote-group rule asks for it.
func (c *compiler) groupAddrs(g string, v6 bool) []netip.Prefix {
	key := fmt.Sprintf("%s/%v", g, v6)
	if p, ok := c.groupCache[key]; ok {
		return p
	}
	var out []netip.Prefix
	for _, v := range c.in.Index.Config.VirtualMachineInterfaces {
		if contains(v.SecurityGroups, g) {
			for _, a := range vmiAddrs(&v, v6) {
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	if c.groupCache == nil {
		c.groupCache = map[string][]netip.Prefix{}
	}
	c.groupCache[key] = out
	return out
}
