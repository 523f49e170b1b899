package pipeline

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// Units: the engine compiles flows and groups in units, each the output of one object in its
// context, named kind/name. A change recompiles only the units that depend on what changed.
const (
	unitPipeline = "pipeline" // table misses and what every VN shares
	unitVMI      = "vmi/"     // + VMI name: where it is bound, its port security, ACLs, forwarding
	unitVN       = "vn/"      // + VN name: conntrack zone, tunnel ingress, flood groups
	unitPolicy   = "policy/"  // + VN name: the VN's network policy rules
	unitL3       = "l3/"      // + VN name: its gateways' answers, its way into its router
	unitTor      = "tor/"     // + switch name: its learned MACs and BUM replication
	unitGuard    = "pi/"      // + physical interface name: its unknown-VLAN and reserved guards
	unitAddress  = "raddr/"   // + host address: its clauses in remote-group conjunctions
	unitConj     = "conj/"    // + shape key: a remote-group conjunction's rule
)

// unit is what one unit compiled to.
type unit struct {
	flows   []Entry
	groups  []GroupEntry
	notices []string
}

// Sink receives a recompiled unit's flows and groups, which replace all it had before (none:
// the unit has nothing any more). They are the sink's to keep.
type Sink func(unit string, flows []openflow.Flow, groups []openflow.Group)

// Engine compiles incrementally: an update recompiles only the units whose inputs changed
// (OVN's incremental processing, at the granularity of one object) and hands each to a sink,
// typically an openflow.FlowTable, which keeps them; the engine itself keeps no flows, so that
// a node's flows live once in memory, encoded. After any sequence of updates, what the sink
// holds equals Compile of the last input (the property tests check it).
// An Engine is not safe for concurrent use.
type Engine struct {
	ids     idAllocator
	st      *state
	have    map[string]bool     // units that had output at their last compile
	notices map[string][]string // per unit, the notices of its last compile
	// The meters the flows use, kept as units compile, so that what the agent asks before
	// every sync costs the meters, not a pass over every VMI.
	unitMeters map[string][]uint32 // per unit, the meter ids its flows use
	meterRefs  map[uint32]int      // meter id → units using it
	// metersVersion changes whenever the set of meters the flows use does.
	metersVersion uint64
}

// NewEngine returns an engine that has compiled nothing yet.
func NewEngine() *Engine {
	return &Engine{have: map[string]bool{}, notices: map[string][]string{},
		unitMeters: map[string][]uint32{}, meterRefs: map[uint32]int{}}
}

// Update compiles in, hands every unit whose output may have changed to sink, and reports
// how many units it recompiled and whether that was all of them.
func (e *Engine) Update(in Input, sink Sink) (recompiled int, all bool) {
	prev := e.st
	if prev != nil && prev.in.same(in) {
		return 0, false // nothing changed: a heartbeat, a status write, a resent event
	}
	e.st = prepare(in, &e.ids, prev)
	dirty := dirtyUnits(prev, e.st)
	if dirty == nil {
		return e.recompileAll(sink), true
	}
	for name := range dirty {
		e.compileUnit(name, sink)
	}
	return len(dirty), false
}

// Recompile compiles every unit of in afresh (the fallback that heals whatever an incremental
// update could have missed: at reconnect and at resync).
func (e *Engine) Recompile(in Input, sink Sink) int {
	e.st = prepare(in, &e.ids, nil)
	return e.recompileAll(sink)
}

// recompileAll compiles every unit of the current state, and empties those that are gone.
func (e *Engine) recompileAll(sink Sink) int {
	names := e.st.allUnits()
	now := make(map[string]bool, len(names))
	for _, name := range names {
		now[name] = true
	}
	for name := range e.have {
		if !now[name] {
			e.compileUnit(name, sink)
		}
	}
	for _, name := range names {
		e.compileUnit(name, sink)
	}
	return len(names)
}

// compileUnit recompiles one unit and hands it to sink; a unit that had nothing and still has
// nothing is not handed on.
func (e *Engine) compileUnit(name string, sink Sink) {
	u := e.st.compile(name)
	had := e.have[name]
	e.setUnitMeters(name, u)
	if len(u.notices) > 0 {
		e.notices[name] = u.notices
	} else {
		delete(e.notices, name)
	}
	if len(u.flows)+len(u.groups) == 0 {
		delete(e.have, name)
		if had {
			sink(name, nil, nil)
		}
		return
	}
	e.have[name] = true
	flows := make([]openflow.Flow, len(u.flows))
	for i, f := range u.flows {
		flows[i] = f.Flow
	}
	groups := make([]openflow.Group, len(u.groups))
	for i, g := range u.groups {
		groups[i] = g.Group
	}
	sink(name, flows, groups)
}

// setUnitMeters records the meters unit name's flows use now, in place of those of its last
// compile.
func (e *Engine) setUnitMeters(name string, u *unit) {
	for _, id := range e.unitMeters[name] {
		if e.meterRefs[id]--; e.meterRefs[id] <= 0 {
			delete(e.meterRefs, id)
			e.metersVersion++
		}
	}
	var ids []uint32
	for _, f := range u.flows {
		for _, a := range f.Actions {
			var id uint32
			switch a := a.(type) {
			case openflow.MeterAction:
				id = a.ID
			case openflow.Controller:
				id = a.MeterID
			}
			if id != 0 && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		delete(e.unitMeters, name)
		return
	}
	e.unitMeters[name] = ids
	for _, id := range ids {
		if e.meterRefs[id]++; e.meterRefs[id] == 1 {
			e.metersVersion++
		}
	}
}

// MetersVersion changes whenever Meters would answer differently: the agent skips comparing
// them with the switch's while it stays the same.
func (e *Engine) MetersVersion() uint64 { return e.metersVersion }

// compile computes one unit from the state.
func (s *state) compile(name string) *unit {
	u := &unit{}
	c := &compiler{state: s, out: u}
	switch kind, obj, _ := strings.Cut(name, "/"); kind + "/" {
	case unitVMI:
		c.vmiFlows(obj)
	case unitVN:
		if vn := c.x.VNs[obj]; vn != nil {
			c.vnFlows(vn)
		}
	case unitPolicy:
		if vn := c.x.VNs[obj]; vn != nil {
			c.policies(vn)
		}
	case unitL3:
		if vn := c.x.VNs[obj]; vn != nil {
			c.l3Flows(vn)
		}
	case unitTor:
		for i := range c.in.Tors {
			if c.in.Tors[i].Name == obj {
				c.torFlows(&c.in.Tors[i])
				break
			}
		}
	case unitGuard:
		if p, ok := c.guards[obj]; ok {
			c.guard(p)
		}
	case unitAddress:
		if a, err := netip.ParseAddr(obj); err == nil {
			c.addressClauses(a)
		}
	case unitConj:
		c.conjFlow(obj)
	default:
		if name == unitPipeline {
			c.pipelineFlows()
		}
	}
	return u
}

// allUnits names every unit the state can have output in, sorted.
func (s *state) allUnits() []string {
	out := []string{unitPipeline}
	for name := range s.x.VMIs {
		out = append(out, unitVMI+name)
	}
	for _, vn := range s.x.Config.VirtualNetworks {
		if s.served[vn.VNI] {
			out = append(out, unitVN+vn.Name, unitPolicy+vn.Name, unitL3+vn.Name)
		}
	}
	for _, t := range s.in.Tors {
		out = append(out, unitTor+t.Name)
	}
	for name := range s.guards {
		out = append(out, unitGuard+name)
	}
	for a := range s.shapes.addrVMIs {
		out = append(out, unitAddress+a.String())
	}
	for k := range s.shapes.byKey {
		out = append(out, unitConj+k)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// Bindings says where each VMI is bound, sorted by VMI.
func (e *Engine) Bindings() []Binding {
	if e.st == nil {
		return nil
	}
	return e.st.bindings
}

// Networks lists the VNs this node serves, with their routers and gateways.
func (e *Engine) Networks() []Network {
	if e.st == nil {
		return nil
	}
	return e.st.networks()
}

// Names maps owner kind and id back to names.
func (e *Engine) Names() map[Kind]map[uint32]string {
	if e.st == nil {
		return nil
	}
	return e.st.names
}

// Notices are the conditions an operator must know about: the node's first, then the units'
// in unit order.
func (e *Engine) Notices() []string {
	if e.st == nil {
		return nil
	}
	out := append([]string(nil), e.st.notices...)
	names := make([]string, 0, len(e.notices))
	for name := range e.notices {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, e.notices[name]...)
	}
	return out
}

// compileAll is the full compile: every unit of in, in unit order, assembled into one sorted,
// deduplicated output.
func compileAll(in Input) *Output {
	var ids idAllocator
	s := prepare(in, &ids, nil)
	out := &Output{Bindings: s.bindings, Names: s.names, Notices: append([]string(nil), s.notices...)}
	var flows []Entry
	for _, name := range s.allUnits() {
		u := s.compile(name)
		flows = append(flows, u.flows...)
		out.Groups = append(out.Groups, u.groups...)
		out.Notices = append(out.Notices, u.notices...)
	}
	flows, dups := dedupe(flows)
	out.Flows = sortEntries(flows)
	out.Notices = append(out.Notices, dups...)
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].ID < out.Groups[j].ID })
	return out
}

// dirtyUnits names the units whose output may differ between two states; nil means all of
// them (no previous state, or a change that touches every unit).
func dirtyUnits(o, n *state) map[string]bool {
	if o == nil || o.in.TunnelPort != n.in.TunnelPort || o.in.Host != n.in.Host || o.in.GatewayMode != n.in.GatewayMode {
		return nil
	}
	d := map[string]bool{}
	vnOfVMI := func(s *state, v string) string {
		if vmi := s.x.VMIs[v]; vmi != nil {
			return vmi.Network
		}
		return ""
	}
	// A VN's units, and every VMI of it in either state: they carry its VNI and its served state.
	vnChanged := func(name string) {
		d[unitVN+name], d[unitPolicy+name], d[unitL3+name] = true, true, true
		for _, s := range []*state{o, n} {
			for _, v := range s.vmisByVN[name] {
				d[unitVMI+v] = true
			}
		}
	}
	membersOf := func(g string) {
		for _, s := range []*state{o, n} {
			for _, v := range s.sgMembers[g] {
				d[unitVMI+v] = true
			}
		}
	}

	if o.x != n.x {
		// VMIs: their own unit; a changed address or group membership also changes the rules
		// of every group whose remote group they are in.
		eachKey(o.x.VMIs, n.x.VMIs, func(name string, ov, nv *model.VirtualMachineInterface) {
			if ov != nil && nv != nil && vmiEqual(ov, nv) {
				return
			}
			d[unitVMI+name] = true
			// Its VN's gateway moves: every VMI's punts change (services.go).
			if gatewayHolder(o, ov) {
				vnChanged(ov.Network)
			}
			if gatewayHolder(n, nv) {
				vnChanged(nv.Network)
			}
			if ov == nil || nv == nil || ov.MAC != nv.MAC || !slices.Equal(pairMACs(ov), pairMACs(nv)) {
				// The MACs a ToR switch may claim for its servers exclude the VMIs'.
				for _, s := range []*state{o, n} {
					for _, t := range s.in.Tors {
						d[unitTor+t.Name] = true
					}
				}
			}
			if ov != nil && nv != nil && addressesEqual(ov, nv) && slices.Equal(ov.SecurityGroups, nv.SecurityGroups) {
				return
			}
			// Its addresses' clauses in the conjunctions of the groups it is (was) in.
			for _, v := range []*model.VirtualMachineInterface{ov, nv} {
				addressesChanged(d, v)
			}
		})
		// Conjunctions: a shape that appeared, went or was renumbered.
		eachKey(o.shapes.ids, n.shapes.ids, func(k string, oid, nid uint32) {
			if oid != nid {
				shapeChanged(d, o, n, k)
			}
		})
		eachKey(o.x.VNs, n.x.VNs, func(name string, ov, nv *model.VirtualNetwork) {
			if ov == nil || nv == nil || !vnEqual(ov, nv) {
				vnChanged(name)
			}
		})
		eachKey(o.groupByName, n.groupByName, func(name string, og, ng *model.SecurityGroup) {
			if og == nil || ng == nil || !slices.Equal(og.Rules, ng.Rules) {
				membersOf(name)
			}
		})
		// Routers: a VN's router and its VNs' VNIs and subnets decide the VN's route-classify
		// flows, the destination VNs its policies match, and its conntrack zone.
		eachKey(o.x.VNs, n.x.VNs, func(name string, _, _ *model.VirtualNetwork) {
			if o.routerKey(name) != n.routerKey(name) {
				d[unitL3+name], d[unitPolicy+name], d[unitVN+name] = true, true, true
			}
		})
		// Gateways: a default one yields to a VMI that takes its address, and comes back.
		eachKey(o.gateways, n.gateways, func(name string, a, b []netip.Addr) {
			if !slices.Equal(a, b) {
				d[unitL3+name] = true
			}
		})
		eachKey(o.policyByName, n.policyByName, func(name string, op, np *model.NetworkPolicy) {
			if op == nil || np == nil || !slices.Equal(op.Rules, np.Rules) {
				for _, s := range []*state{o, n} {
					for _, vn := range s.vnsByPolicy[name] {
						d[unitPolicy+vn] = true
					}
				}
			}
		})
	}
	// Where VMIs are bound: their units, and their VNs' flood groups.
	eachKey(o.bindingsOf, n.bindingsOf, func(name string, ob, nb []Binding) {
		if slices.Equal(ob, nb) {
			return
		}
		d[unitVMI+name] = true
		for _, s := range []*state{o, n} {
			if vn := vnOfVMI(s, name); vn != "" {
				d[unitVN+vn] = true
			}
		}
	})
	eachKey(o.peerOf, n.peerOf, func(name string, op, np Peer) {
		if op != np {
			d[unitVMI+name] = true
		}
	})
	// VNs routed to from here, or no longer: the routes (and tunnel outputs) of their VMIs.
	eachKey(o.reached, n.reached, func(vni uint32, a, b bool) {
		if a == b {
			return
		}
		for _, s := range []*state{o, n} {
			if vn := s.vnByVNI[vni]; vn != nil {
				for _, v := range s.vmisByVN[vn.Name] {
					d[unitVMI+v] = true
				}
			}
		}
	})
	eachKey(o.guards, n.guards, func(name string, op, np Port) {
		if op != np {
			d[unitGuard+name] = true
		}
	})
	// Served VNs, and where their floods go.
	eachKey(o.served, n.served, func(vni uint32, os, ns bool) {
		if os == ns {
			return
		}
		for _, s := range []*state{o, n} {
			if vn := s.vnByVNI[vni]; vn != nil {
				vnChanged(vn.Name)
			}
		}
		for _, s := range []*state{o, n} {
			for _, t := range s.in.Tors {
				if slices.Contains(t.VNIs, vni) || hasMACIn(t, vni) {
					d[unitTor+t.Name] = true
				}
			}
		}
	})
	floods := func(vni uint32) {
		for _, s := range []*state{o, n} {
			if vn := s.vnByVNI[vni]; vn != nil {
				d[unitVN+vn.Name] = true
			}
		}
	}
	eachKey(o.floodNodes, n.floodNodes, func(vni uint32, a, b []netip.Addr) {
		if !slices.Equal(a, b) {
			floods(vni)
		}
	})
	eachKey(o.torIPs, n.torIPs, func(vni uint32, a, b []netip.Addr) {
		if !slices.Equal(a, b) {
			floods(vni)
		}
	})
	eachKey(o.replicates, n.replicates, func(vni uint32, a, b bool) {
		if a != b {
			floods(vni)
		}
	})
	// A conjunction starts or stops serving a VMI here.
	if len(o.shapes.byKey)+len(n.shapes.byKey) > 0 {
		eachKey(o.shapes.byKey, n.shapes.byKey, func(k string, _, _ shape) {
			if o.inUse(k) != n.inUse(k) {
				shapeChanged(d, o, n, k)
			}
		})
	}
	// ToR switches: few, each compared whole.
	ot, nt := torsByName(o.in.Tors), torsByName(n.in.Tors)
	eachKey(ot, nt, func(name string, a, b *Tor) {
		if a == nil || b == nil || !reflect.DeepEqual(a, b) {
			d[unitTor+name] = true
		}
	})
	return d
}

// same reports whether two inputs are the same, as cheaply as that can be told: the config's
// index is immutable, so the same pointer means the same config.
func (in Input) same(o Input) bool {
	return in.Index == o.Index && in.Host == o.Host && in.GatewayMode == o.GatewayMode && in.TunnelPort == o.TunnelPort &&
		slices.Equal(in.Ports, o.Ports) && slices.Equal(in.Peers, o.Peers) && maps.Equal(in.Standby, o.Standby) &&
		reflect.DeepEqual(in.Tors, o.Tors)
}

// addressesChanged marks the address units of a VMI (nil: none).
func addressesChanged(d map[string]bool, v *model.VirtualMachineInterface) {
	if v == nil {
		return
	}
	for _, v6 := range []bool{false, true} {
		for _, a := range vmiAddrs(v, v6) {
			d[unitAddress+a.String()] = true
		}
	}
}

// shapeChanged marks a conjunction's rule, the address clauses of its remote group's VMIs and
// the member clauses of the groups that have it, in either state.
func shapeChanged(d map[string]bool, o, n *state, k string) {
	d[unitConj+k] = true
	for _, s := range []*state{o, n} {
		sh, ok := s.shapes.byKey[k]
		if !ok {
			continue
		}
		for _, v := range s.sgVMIs[sh.remote] {
			addressesChanged(d, s.x.VMIs[v])
		}
		for _, g := range s.shapes.groupsOf[k] {
			for _, s2 := range []*state{o, n} {
				for _, v := range s2.sgMembers[g] {
					d[unitVMI+v] = true
				}
			}
		}
	}
}

// eachKey calls f once for every key of a or b, with its value in each (zero when absent).
func eachKey[K comparable, V any](a, b map[K]V, f func(k K, av, bv V)) {
	for k, av := range a {
		f(k, av, b[k])
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			var zero V
			f(k, zero, bv)
		}
	}
}

func torsByName(tors []Tor) map[string]*Tor {
	m := make(map[string]*Tor, len(tors))
	for i := range tors {
		m[tors[i].Name] = &tors[i]
	}
	return m
}

func hasMACIn(t Tor, vni uint32) bool {
	for _, m := range t.MACs {
		if m.VNI == vni {
			return true
		}
	}
	return false
}

// vmiEqual reports whether two VMIs compile alike.
func vmiEqual(a, b *model.VirtualMachineInterface) bool {
	return a.Name == b.Name && a.Network == b.Network && addressesEqual(a, b) &&
		slices.Equal(a.SecurityGroups, b.SecurityGroups) && a.PortSecurityEnabled() == b.PortSecurityEnabled()
}

// addressesEqual reports whether two VMIs have the same MAC and addresses.
func addressesEqual(a, b *model.VirtualMachineInterface) bool {
	return a.MAC == b.MAC && slices.Equal(a.InstanceIPs, b.InstanceIPs) && slices.Equal(a.AllowedAddressPairs, b.AllowedAddressPairs)
}

func vnEqual(a, b *model.VirtualNetwork) bool {
	return a.Name == b.Name && a.VNI == b.VNI && a.FloodBPDU == b.FloodBPDU &&
		slices.EqualFunc(a.Subnets, b.Subnets, model.Subnet.Equal) && slices.Equal(a.NetworkPolicies, b.NetworkPolicies)
}

// idAllocator gives each VMI name an id that never changes while the name exists: its nameID,
// or on a collision (about 1 in 2,000 configs of 4K VMIs) the next free id, taken in name
// order among the names that arrive together.
type idAllocator struct {
	ids   map[string]uint32
	taken map[uint32]bool
	hash  func(string) uint32 // nameID; tests force collisions with another
	limit uint32              // ids wrap within 1..limit; 0: no limit
	meter *idAllocator        // the VMIs' meter ids (services.go)
}

// assign drops the ids of VMIs that left the config, gives new ones theirs, and returns the
// map of every VMI's id (owned by the allocator: read only).
func (a *idAllocator) assign(x *model.Index) map[string]uint32 {
	if a.ids == nil {
		a.ids, a.taken = map[string]uint32{}, map[uint32]bool{}
	}
	for name, id := range a.ids {
		if x.VMIs[name] == nil {
			delete(a.ids, name)
			delete(a.taken, id)
		}
	}
	var fresh []string
	for name := range x.VMIs {
		if _, ok := a.ids[name]; !ok {
			fresh = append(fresh, name)
		}
	}
	sort.Strings(fresh)
	for _, name := range fresh {
		hash := a.hash
		if hash == nil {
			hash = nameID
		}
		id := hash(name)
		for n := uint32(0); a.taken[id] || id == 0; n++ {
			if a.limit > 0 && n >= a.limit {
				id = 0 // all taken
				break
			}
			if id++; a.limit > 0 && id > a.limit {
				id = 1
			}
		}
		if id == 0 {
			continue
		}
		a.taken[id] = true
		a.ids[name] = id
	}
	return a.ids
}
