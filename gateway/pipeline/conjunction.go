package pipeline

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// Security group rules whose remote is a group of VMIs are compiled as OVS conjunctive matches
// (ovs-fields(7)), so that flows grow with members plus addresses, not their product, and a
// VMI joining or leaving a group changes the flows of its own addresses only:
//
//	clause 1, one flow per bound VMI and family:      reg (src or dst VMI) = member
//	                                                  → conjunction(id, 1/2) for each shape it has
//	clause 2, one flow per remote address and ports:  ip_src|ip_dst = address, protocol, ports
//	                                                  → conjunction(id, 2/2) for each shape it is in
//	the rule, one flow per shape:                     conj_id = id → on to the next table
//
// A shape is what makes rules equivalent: table (direction), family, protocol, ports and remote
// group. Rules of the same shape in several groups are one conjunction; its first clause lists
// the members of all of them. Every conjunctive flow has priority PrioACLConj, below the other
// rules, so that clause flows of different units never share a match and a priority (which OVS
// requires to be one flow).

// shape is an equivalence class of remote-group rules: one conjunction.
type shape struct {
	table  uint8
	v6     bool
	proto  int
	ports  string // the rule's port range as written ("" for any)
	remote string // the remote group
}

func (s shape) key() string {
	return fmt.Sprintf("%d/%v/%d/%s/%s", s.table, s.v6, s.proto, s.ports, s.remote)
}

// shapeOf returns the shape of a remote-group rule (ok false for any other rule).
func shapeOf(r model.SecurityGroupRule) (s shape, ok bool) {
	if r.RemoteGroup == "" {
		return shape{}, false
	}
	s.table = TableIngressACL
	if r.Direction == model.DirectionEgress {
		s.table = TableEgressACL
	}
	s.v6 = r.Ethertype == model.EthertypeIPv6
	s.proto, _ = model.ParseProtocol(r.Protocol)
	s.ports, s.remote = r.Ports, r.RemoteGroup
	return s, true
}

// conjShapes indexes the config's remote-group rules: every shape with its conjunction id
// (nameID of its key; on a collision, the next free one, in key order), the shapes of each
// group, and the groups whose rules have each shape.
type conjShapes struct {
	ids       map[string]uint32  // shape key → conjunction id
	byKey     map[string]shape   //
	ofGroup   map[string][]shape // group → its rules' shapes, once each
	groupsOf  map[string][]string
	addrVMIs  map[netip.Addr][]string // VMIs of remote groups with a host address (instance IP or single-address pair)
	remoteFor map[string][]string     // remote group → keys of the shapes that name it
}

func newConjShapes(x *model.Index) *conjShapes {
	cs := &conjShapes{ids: map[string]uint32{}, byKey: map[string]shape{}, ofGroup: map[string][]shape{},
		groupsOf: map[string][]string{}, addrVMIs: map[netip.Addr][]string{}, remoteFor: map[string][]string{}}
	for _, g := range x.Config.SecurityGroups {
		for _, r := range g.Rules {
			s, ok := shapeOf(r)
			if !ok {
				continue
			}
			k := s.key()
			if _, seen := cs.byKey[k]; !seen {
				cs.byKey[k] = s
				cs.remoteFor[s.remote] = append(cs.remoteFor[s.remote], k)
			}
			if !contains(cs.groupsOf[k], g.Name) {
				cs.groupsOf[k] = append(cs.groupsOf[k], g.Name)
				cs.ofGroup[g.Name] = append(cs.ofGroup[g.Name], s)
			}
		}
	}
	keys := make([]string, 0, len(cs.byKey))
	for k := range cs.byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	taken := map[uint32]bool{}
	for _, k := range keys {
		id := nameID("conj/" + k)
		for taken[id] || id == 0 {
			id++
		}
		taken[id] = true
		cs.ids[k] = id
	}
	// Only the addresses of remote groups' VMIs take part.
	for remote := range cs.remoteFor {
		for i := range x.Config.VirtualMachineInterfaces {
			v := &x.Config.VirtualMachineInterfaces[i]
			if !contains(v.SecurityGroups, remote) {
				continue
			}
			for _, v6 := range []bool{false, true} {
				for _, a := range vmiAddrs(v, v6) {
					if !contains(cs.addrVMIs[a], v.Name) {
						cs.addrVMIs[a] = append(cs.addrVMIs[a], v.Name)
					}
				}
			}
		}
	}
	return cs
}

// inUse reports whether a shape serves a VMI bound here: some group with a rule of that shape
// has a member here.
func (s *state) inUse(key string) bool {
	for _, g := range s.shapes.groupsOf[key] {
		if len(s.sgMembers[g]) > 0 {
			return true
		}
	}
	return false
}

// memberClauses are a bound VMI's first clauses: per table and family, one flow with a
// conjunction action for every shape of its groups.
func (c *compiler) memberClauses(b *bound) {
	type slot struct {
		table uint8
		v6    bool
	}
	ids := map[slot][]uint32{}
	for _, g := range b.vmi.SecurityGroups {
		for _, sh := range c.shapes.ofGroup[g] {
			sl := slot{sh.table, sh.v6}
			if id := c.shapes.ids[sh.key()]; !containsID(ids[sl], id) {
				ids[sl] = append(ids[sl], id)
			}
		}
	}
	for sl, list := range ids {
		reg := RegDstVMI
		if sl.table == TableEgressACL {
			reg = RegSrcVMI
		}
		fam := familyV4
		if sl.v6 {
			fam = familyV6
		}
		c.flow(sl.table, PrioACLConj, Owner{KindVMI, b.name}, b.id,
			openflow.Match{}.WithUint(reg, uint64(b.id)).WithUint(openflow.FieldEthType, fam.ethType), conjunctions(list, 1)...)
	}
}

// addressClauses are the second clauses of one host address: per shape in use whose remote
// group has a VMI with that address, its protocol and ports; shapes that agree on table,
// protocol and ports share the flow.
func (c *compiler) addressClauses(a netip.Addr) {
	type slot struct {
		table uint8
		proto int
		ports string
	}
	ids := map[slot][]uint32{}
	owner := ""
	for _, v := range c.shapes.addrVMIs[a] {
		vmi := c.x.VMIs[v]
		if vmi == nil {
			continue
		}
		for _, g := range vmi.SecurityGroups {
			for _, k := range c.shapes.remoteFor[g] {
				sh := c.shapes.byKey[k]
				if sh.v6 != a.Is6() || !c.inUse(k) {
					continue
				}
				sl := slot{sh.table, sh.proto, sh.ports}
				if id := c.shapes.ids[k]; !containsID(ids[sl], id) {
					ids[sl] = append(ids[sl], id)
				}
				if owner == "" || g < owner {
					owner = g
				}
			}
		}
	}
	fam := familyV4
	if a.Is6() {
		fam = familyV6
	}
	for sl, list := range ids {
		m := openflow.Match{}.WithUint(openflow.FieldEthType, fam.ethType)
		if sl.proto != model.ProtoAny {
			m = m.WithUint(openflow.FieldIPProto, uint64(sl.proto))
		}
		m = withPrefix(m, netip.PrefixFrom(a, a.BitLen()), sl.table == TableEgressACL)
		ports, _ := model.ParsePorts(sl.ports)
		for _, pm := range withPorts(m, sl.proto, model.PortRange{}, ports) {
			c.flow(sl.table, PrioACLConj, Owner{KindSecurityGroup, owner}, nameID(owner), pm, conjunctions(list, 2)...)
		}
	}
}

// conjFlow is a shape's rule: both clauses matched, the packet goes on.
func (c *compiler) conjFlow(key string) {
	sh, ok := c.shapes.byKey[key]
	if !ok || !c.inUse(key) {
		return
	}
	next := TableCTCommit
	if sh.table == TableEgressACL {
		next = TableL2Lookup
	}
	fam := familyV4
	if sh.v6 {
		fam = familyV6
	}
	c.flow(sh.table, PrioACLConj, Owner{KindSecurityGroup, sh.remote}, nameID(sh.remote),
		openflow.Match{}.WithUint(openflow.FieldConjID, uint64(c.shapes.ids[key])).WithUint(openflow.FieldEthType, fam.ethType),
		openflow.GotoTable{Table: next})
}

// conjunctions are the actions of a clause flow: one per conjunction id, in id order.
func conjunctions(ids []uint32, clause uint8) []openflow.Action {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]openflow.Action, len(ids))
	for i, id := range ids {
		out[i] = openflow.Conjunction{ID: id, Clause: clause, NClauses: 2}
	}
	return out
}

func containsID(list []uint32, id uint32) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}
