package vtep

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/vtep/hwvtep"
)

// Sync makes ovsgw's rows in the switch's database equal d, in one transaction holding only the
// difference: rows that already match are not written, so they keep their UUIDs, and when
// nothing differs nothing is sent. Rows ovsgw does not own are never changed (see the package
// doc). Parts of d that cannot be programmed (a port the switch lacks, a VLAN someone else's
// binding holds) are left out and listed in Result.Problems; the rest is synced. Sync returns
// once the cache shows the result. Without a session it returns ErrNotConnected; call it again
// after Changed fires.
func (c *Client) Sync(ctx context.Context, d Desired) (*Result, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	res, err := c.sync(ctx, &d)
	now := time.Now()
	c.mu.Lock()
	c.desired, c.lastSync = &d, &now
	c.syncErr = ""
	if err != nil {
		c.syncErr = err.Error()
	}
	if res != nil {
		c.problems = res.Problems
	}
	c.mu.Unlock()
	return res, err
}

func (c *Client) sync(ctx context.Context, d *Desired) (*Result, error) {
	what := fmt.Sprintf("sync switch %q", c.opts.Switch)
	ovs := c.conn()
	if ovs == nil || !c.Connected() {
		return nil, fmt.Errorf("%s: %w", what, ErrNotConnected)
	}
	plan := func() (*planner, error) {
		s, err := c.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		p := newPlanner(ovs, s)
		p.plan(d)
		return p, p.err
	}
	p, err := plan()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	res := &Result{Changes: p.changes, Problems: p.problems}
	if len(p.ops()) == 0 {
		return res, nil
	}
	c.transactions.Add(1)
	if err := clientkit.Transact(ctx, c.log, ovs, transactTimeout, what, p.ops()); err != nil {
		return nil, err
	}
	c.log.WithFields(logrus.Fields{logging.Changes: len(res.Changes), "operations": len(p.ops())}).Info("switch database updated")
	return res, clientkit.WaitCache(ctx, cacheSyncTimeout, what, c.sig.Updated, func() (bool, error) {
		p, err := plan()
		return err == nil && len(p.ops()) == 0, err
	})
}

// planner builds the operations of one sync against a snapshot.
type planner struct {
	ovs client.Client
	s   *snapshot

	// Operations in the order they are sent: inserts that others refer to by name first.
	inserts, rows, mutations, deletes []libovsdb.Operation
	changes                           []Change
	problems                          []string
	err                               error // the first error building an operation

	named   int
	newLocs map[string]string // IP → named UUID of a locator inserted by this plan
	newSets map[string]string // joined IPs → named UUID of a locator set inserted by this plan
}

func newPlanner(ovs client.Client, s *snapshot) *planner {
	return &planner{ovs: ovs, s: s, newLocs: map[string]string{}, newSets: map[string]string{}}
}

func (p *planner) ops() []libovsdb.Operation {
	out := make([]libovsdb.Operation, 0, len(p.inserts)+len(p.rows)+len(p.mutations)+len(p.deletes))
	out = append(out, p.inserts...)
	out = append(out, p.rows...)
	out = append(out, p.mutations...)
	return append(out, p.deletes...)
}

// insert, row, mutate and del add operations to their part of the transaction.
func (p *planner) insert(ops []libovsdb.Operation, err error) { p.add(&p.inserts, ops, err) }
func (p *planner) row(ops []libovsdb.Operation, err error)    { p.add(&p.rows, ops, err) }
func (p *planner) mutate(ops []libovsdb.Operation, err error) { p.add(&p.mutations, ops, err) }
func (p *planner) del(ops []libovsdb.Operation, err error)    { p.add(&p.deletes, ops, err) }

func (p *planner) add(list *[]libovsdb.Operation, ops []libovsdb.Operation, err error) {
	if err != nil && p.err == nil {
		p.err = err
	}
	*list = append(*list, ops...)
}

func (p *planner) change(op, table, key string, fields ...string) {
	p.changes = append(p.changes, Change{Op: op, Table: table, Key: key, Fields: fields})
}

func (p *planner) problem(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// name returns a fresh transaction-local name for an inserted row.
func (p *planner) name(kind string) string {
	p.named++
	return fmt.Sprintf("ovsgw_%s_%d", kind, p.named)
}

// wanted is Desired indexed by VNI, after checking it.
type wanted struct {
	network string
	flood   []string             // sorted, unique tunnel IPs
	macs    map[string]RemoteMAC // lower-case MAC → entry
}

// plan fills p with what turns the snapshot's owned rows into d.
func (p *planner) plan(d *Desired) {
	want := p.check(d)
	vnis := slices.Sorted(maps.Keys(want))
	lsRef := p.logicalSwitches(want, vnis) // VNI → UUID or name of its logical switch
	p.bindings(d, lsRef)
	p.remoteMACs(want, vnis, lsRef)
	p.floods(want, vnis, lsRef)
}

// check indexes d by VNI and reports what is malformed or contradictory in it.
func (p *planner) check(d *Desired) map[uint32]*wanted {
	want := map[uint32]*wanted{}
	for _, l := range d.LogicalSwitches {
		if want[l.VNI] != nil {
			p.problem("VNI %d: logical switch wanted twice (%s, %s); the first is used", l.VNI, want[l.VNI].network, l.Network)
			continue
		}
		w := &wanted{network: l.Network, macs: map[string]RemoteMAC{}}
		for _, ip := range l.Flood {
			if !ip.Is4() {
				p.problem("VNI %d: flood locator %v is not an IPv4 address (vxlan_over_ipv4); left out", l.VNI, ip)
				continue
			}
			w.flood = append(w.flood, ip.String())
		}
		slices.Sort(w.flood)
		w.flood = slices.Compact(w.flood)
		want[l.VNI] = w
	}
	for _, m := range d.RemoteMACs {
		mac := strings.ToLower(m.MAC)
		w := want[m.VNI]
		switch {
		case w == nil:
			p.problem("remote MAC %s: no logical switch is wanted for VNI %d; left out", mac, m.VNI)
		case !m.Locator.Is4():
			p.problem("remote MAC %s in VNI %d: locator %v is not an IPv4 address (vxlan_over_ipv4); left out", mac, m.VNI, m.Locator)
		case w.macs[mac] != (RemoteMAC{}):
			p.problem("remote MAC %s in VNI %d wanted twice (at %v and %v); the first is used", mac, m.VNI, w.macs[mac].Locator, m.Locator)
		default:
			w.macs[mac] = m
		}
	}
	return want
}

// logicalSwitches plans the Logical_Switch rows and returns, for every VNI that can be
// programmed, the UUID (or the insert's name) of its logical switch.
func (p *planner) logicalSwitches(want map[uint32]*wanted, vnis []uint32) map[uint32]string {
	s := p.s
	foreignKeys := map[int][]string{} // tunnel_key → names of others' logical switches
	for _, ls := range s.lswitches {
		if !owned(&ls) && ls.TunnelKey != nil {
			foreignKeys[*ls.TunnelKey] = append(foreignKeys[*ls.TunnelKey], ls.Name)
		}
	}
	lsRef := map[uint32]string{}
	for _, vni := range vnis {
		w, name := want[vni], LogicalSwitchName(vni)
		key, desc := int(vni), description(w.network)
		ls := s.lsByName[name]
		others := foreignKeys[key]
		switch {
		case ls == nil && len(others) > 0:
			// Two logical switches with one tunnel key would split the VNI on the switch.
			p.problem("VNI %d (%s): logical switch %s, not ovsgw's, already has tunnel_key %d; the VNI is not programmed",
				vni, w.network, strings.Join(others, ", "), vni)
		case ls == nil:
			row := &hwvtep.LogicalSwitch{UUID: p.name("ls"), Name: name, Description: desc, TunnelKey: &key}
			p.insert(p.ovs.Create(row))
			p.change("insert", hwvtep.LogicalSwitchTable, name)
			lsRef[vni] = row.UUID
		case !owned(ls):
			p.problem("VNI %d (%s): logical switch %s exists but is not ovsgw's (description %q); the VNI is not programmed",
				vni, w.network, name, ls.Description)
		default:
			if len(others) > 0 { // ours came first: keep it, and say so
				p.problem("VNI %d (%s): logical switch %s, not ovsgw's, also has tunnel_key %d", vni, w.network, strings.Join(others, ", "), vni)
			}
			lsRef[vni] = ls.UUID
			upd := &hwvtep.LogicalSwitch{UUID: ls.UUID, Description: desc, TunnelKey: &key}
			var fields []string
			var ptrs []any
			if ls.Description != desc {
				fields, ptrs = append(fields, "description"), append(ptrs, &upd.Description)
			}
			if ls.TunnelKey == nil || *ls.TunnelKey != key {
				fields, ptrs = append(fields, "tunnel_key"), append(ptrs, &upd.TunnelKey)
			}
			if len(fields) > 0 {
				p.row(p.ovs.Where(upd).Update(upd, ptrs...))
				p.change("update", hwvtep.LogicalSwitchTable, name, fields...)
			}
		}
	}
	// Owned logical switches no longer wanted go, with the switch's rows that refer to them;
	// their remote MACs and bindings go with the plans below.
	kept := map[string]bool{}
	for _, u := range lsRef {
		kept[u] = true
	}
	boundBy := map[string][]string{} // logical switch UUID → routers binding it
	for _, r := range s.routers {
		for _, u := range r.SwitchBinding {
			boundBy[u] = append(boundBy[u], r.Name)
		}
	}
	for _, ls := range slices.SortedFunc(slices.Values(s.lswitches), byName) {
		if !owned(&ls) || kept[ls.UUID] {
			continue
		}
		if routers := boundBy[ls.UUID]; len(routers) > 0 {
			p.problem("logical switch %s is no longer wanted, but Logical_Router %s binds it: kept, emptied",
				ls.Name, strings.Join(routers, ", "))
			continue
		}
		p.del(p.ovs.Where(&hwvtep.LogicalSwitch{UUID: ls.UUID}).Delete())
		p.change("delete", hwvtep.LogicalSwitchTable, ls.Name)
		for _, r := range s.ucastLocal {
			if r.LogicalSwitch == ls.UUID {
				p.del(p.ovs.Where(&hwvtep.UcastMacsLocal{UUID: r.UUID}).Delete())
				p.change("delete", hwvtep.UcastMacsLocalTable, ls.Name+" "+r.MAC)
			}
		}
		for _, r := range s.mcastLocal {
			if r.LogicalSwitch == ls.UUID {
				p.del(p.ovs.Where(&hwvtep.McastMacsLocal{UUID: r.UUID}).Delete())
				p.change("delete", hwvtep.McastMacsLocalTable, ls.Name+" "+r.MAC)
			}
		}
	}
	return lsRef
}

func byName(a, b hwvtep.LogicalSwitch) int { return strings.Compare(a.Name, b.Name) }

// bindings plans the vlan_bindings entries: every entry pointing at an owned logical switch is
// ovsgw's, on whatever port; entries pointing elsewhere are never touched.
func (p *planner) bindings(d *Desired, lsRef map[uint32]string) {
	s := p.s
	want := map[string]map[int]string{} // port → VLAN → logical switch UUID or name
	seen := map[string]bool{}
	for _, b := range d.Bindings {
		key := fmt.Sprintf("port %s VLAN %d", b.Port, b.VLAN)
		ref, ok := lsRef[b.VNI]
		switch {
		case seen[key]:
			p.problem("%s wanted twice; the first is used", key)
			continue
		case b.VLAN < 0 || b.VLAN > 4095:
			p.problem("%s: VLAN out of range 0..4095; left out", key)
			continue
		case !ok:
			p.problem("%s: VNI %d is not programmed on this switch; binding left out", key, b.VNI)
			continue
		case s.sw == nil:
			p.problem("%s: physical switch %q is not in the database; binding left out", key, p.swName())
			continue
		case s.swPorts[b.Port] == nil:
			p.problem("%s: switch %q has no such port; binding left out", key, p.swName())
			continue
		}
		seen[key] = true
		if want[b.Port] == nil {
			want[b.Port] = map[int]string{}
		}
		want[b.Port][b.VLAN] = ref
	}
	for _, port := range slices.SortedFunc(slices.Values(s.ports), func(a, b hwvtep.PhysicalPort) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.UUID, b.UUID))
	}) {
		ours := s.sw != nil && s.swPorts[port.Name] != nil && s.swPorts[port.Name].UUID == port.UUID
		var wantHere map[int]string
		if ours {
			wantHere = want[port.Name]
		}
		var del []int
		ins := map[int]string{}
		for _, vlan := range slices.Sorted(maps.Keys(port.VLANBindings)) {
			u := port.VLANBindings[vlan]
			if s.ownedLS(u) == nil {
				continue // someone else's binding
			}
			if w, ok := wantHere[vlan]; ok && w == u {
				continue
			}
			del = append(del, vlan)
			p.change("unbind", hwvtep.PhysicalPortTable, fmt.Sprintf("%s vlan %d (%s)", port.Name, vlan, s.lsByUUID[u].Name))
		}
		for _, vlan := range slices.Sorted(maps.Keys(wantHere)) {
			ref := wantHere[vlan]
			cur, has := port.VLANBindings[vlan]
			switch {
			case has && cur == ref:
				continue
			case has && s.ownedLS(cur) == nil:
				name := cur
				if ls := s.lsByUUID[cur]; ls != nil {
					name = ls.Name
				}
				p.problem("port %s VLAN %d is bound to logical switch %s, not ovsgw's; binding left out", port.Name, vlan, name)
				continue
			}
			ins[vlan] = ref
			p.change("bind", hwvtep.PhysicalPortTable, fmt.Sprintf("%s vlan %d (%s)", port.Name, vlan, p.lsName(ref)))
		}
		if len(del) == 0 && len(ins) == 0 {
			continue
		}
		m := &hwvtep.PhysicalPort{UUID: port.UUID}
		var muts []model.Mutation
		if len(del) > 0 {
			muts = append(muts, model.Mutation{Field: &m.VLANBindings, Mutator: libovsdb.MutateOperationDelete, Value: del})
		}
		if len(ins) > 0 {
			muts = append(muts, model.Mutation{Field: &m.VLANBindings, Mutator: libovsdb.MutateOperationInsert, Value: ins})
		}
		p.mutate(p.ovs.Where(m).Mutate(m, muts...))
	}
}

func (p *planner) swName() string {
	if p.s.sw != nil {
		return p.s.sw.Name
	}
	return "(unknown)"
}

// lsName names a logical switch by UUID, or by the insert's name for a new one.
func (p *planner) lsName(ref string) string {
	if ls := p.s.lsByUUID[ref]; ls != nil {
		return ls.Name
	}
	return ref
}

// locator returns the UUID of the vxlan locator to ip, inserting one (once per plan) when the
// switch has none. Locators are never deleted: see the package doc.
func (p *planner) locator(ip string) string {
	if u, ok := p.s.locByIP[ip]; ok {
		return u
	}
	if u, ok := p.newLocs[ip]; ok {
		return u
	}
	row := &hwvtep.PhysicalLocator{UUID: p.name("loc"), EncapsulationType: encapVXLAN, DstIP: ip}
	p.insert(p.ovs.Create(row))
	p.change("insert", hwvtep.PhysicalLocatorTable, ip)
	p.newLocs[ip] = row.UUID
	return row.UUID
}

// locatorSet returns a locator set holding exactly ips: an existing one (sets are immutable, so
// sharing one is safe) or one inserted by this plan.
func (p *planner) locatorSet(ips []string) string {
	key := strings.Join(ips, ",")
	if u, ok := p.newSets[key]; ok {
		return u
	}
	for _, set := range p.s.sets {
		if slices.Equal(p.s.setIPs(set.UUID), ips) {
			return set.UUID
		}
	}
	locs := make([]string, len(ips))
	for i, ip := range ips {
		locs[i] = p.locator(ip)
	}
	row := &hwvtep.PhysicalLocatorSet{UUID: p.name("set"), Locators: locs}
	p.insert(p.ovs.Create(row))
	p.change("insert", hwvtep.PhysicalLocatorSetTable, key)
	p.newSets[key] = row.UUID
	return row.UUID
}

// remoteMACs plans the Ucast_Macs_Remote rows of the owned logical switches.
func (p *planner) remoteMACs(want map[uint32]*wanted, vnis []uint32, lsRef map[uint32]string) {
	s := p.s
	byRef := map[string]*wanted{}
	for vni, ref := range lsRef {
		byRef[ref] = want[vni]
	}
	have := map[string]bool{} // "UUID MAC" of rows kept
	for _, r := range s.ucastRemote {
		ls := s.ownedLS(r.LogicalSwitch)
		if ls == nil {
			continue
		}
		mac, key := strings.ToLower(r.MAC), r.LogicalSwitch+" "+strings.ToLower(r.MAC)
		var m RemoteMAC
		var ok bool
		if w := byRef[r.LogicalSwitch]; w != nil {
			m, ok = w.macs[mac]
		}
		if !ok || have[key] {
			p.del(p.ovs.Where(&hwvtep.UcastMacsRemote{UUID: r.UUID}).Delete())
			p.change("delete", hwvtep.UcastMacsRemoteTable, ls.Name+" "+mac)
			continue
		}
		have[key] = true
		upd := &hwvtep.UcastMacsRemote{UUID: r.UUID, Ipaddr: ipString(m)}
		var fields []string
		var ptrs []any
		if r.Ipaddr != upd.Ipaddr {
			fields, ptrs = append(fields, "ipaddr"), append(ptrs, &upd.Ipaddr)
		}
		if loc := m.Locator.String(); s.locatorIP(r.Locator) != loc {
			upd.Locator = p.locator(loc)
			fields, ptrs = append(fields, "locator"), append(ptrs, &upd.Locator)
		}
		if len(fields) > 0 {
			p.row(p.ovs.Where(upd).Update(upd, ptrs...))
			p.change("update", hwvtep.UcastMacsRemoteTable, ls.Name+" "+mac, fields...)
		}
	}
	for _, vni := range vnis {
		ref, ok := lsRef[vni]
		if !ok {
			continue
		}
		w := want[vni]
		for _, mac := range slices.Sorted(maps.Keys(w.macs)) {
			if have[ref+" "+mac] {
				continue
			}
			m := w.macs[mac]
			row := &hwvtep.UcastMacsRemote{MAC: mac, LogicalSwitch: ref, Locator: p.locator(m.Locator.String()), Ipaddr: ipString(m)}
			p.row(p.ovs.Create(row))
			p.change("insert", hwvtep.UcastMacsRemoteTable, LogicalSwitchName(vni)+" "+mac)
		}
	}
}

func ipString(m RemoteMAC) string {
	if m.IP.IsValid() {
		return m.IP.String()
	}
	return ""
}

// floods plans the Mcast_Macs_Remote rows of the owned logical switches: one unknown-dst row
// toward the flood locators, nothing else.
func (p *planner) floods(want map[uint32]*wanted, vnis []uint32, lsRef map[uint32]string) {
	s := p.s
	byRef := map[string]*wanted{}
	for vni, ref := range lsRef {
		byRef[ref] = want[vni]
	}
	have := map[string]bool{} // logical switch UUIDs whose unknown-dst row is kept
	for _, r := range s.mcastRemote {
		ls := s.ownedLS(r.LogicalSwitch)
		if ls == nil {
			continue
		}
		w := byRef[r.LogicalSwitch]
		if r.MAC != UnknownDst || w == nil || len(w.flood) == 0 || have[r.LogicalSwitch] {
			p.del(p.ovs.Where(&hwvtep.McastMacsRemote{UUID: r.UUID}).Delete())
			p.change("delete", hwvtep.McastMacsRemoteTable, ls.Name+" "+r.MAC)
			continue
		}
		have[r.LogicalSwitch] = true
		if slices.Equal(s.setIPs(r.LocatorSet), w.flood) {
			continue
		}
		upd := &hwvtep.McastMacsRemote{UUID: r.UUID, LocatorSet: p.locatorSet(w.flood)}
		p.row(p.ovs.Where(upd).Update(upd, &upd.LocatorSet))
		p.change("update", hwvtep.McastMacsRemoteTable, ls.Name+" "+r.MAC, "locator_set")
	}
	for _, vni := range vnis {
		ref, ok := lsRef[vni]
		if !ok || have[ref] || len(want[vni].flood) == 0 {
			continue
		}
		row := &hwvtep.McastMacsRemote{MAC: UnknownDst, LogicalSwitch: ref, LocatorSet: p.locatorSet(want[vni].flood)}
		p.row(p.ovs.Create(row))
		p.change("insert", hwvtep.McastMacsRemoteTable, LogicalSwitchName(vni)+" "+UnknownDst)
	}
}
