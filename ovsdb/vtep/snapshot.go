package vtep

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ovsgw/ovsgw/ovsdb/vtep/hwvtep"
)

// tables is one read of every monitored table, each sorted by UUID.
type tables struct {
	switches    []hwvtep.PhysicalSwitch
	ports       []hwvtep.PhysicalPort
	lswitches   []hwvtep.LogicalSwitch
	ucastLocal  []hwvtep.UcastMacsLocal
	ucastRemote []hwvtep.UcastMacsRemote
	mcastLocal  []hwvtep.McastMacsLocal
	mcastRemote []hwvtep.McastMacsRemote
	locators    []hwvtep.PhysicalLocator
	sets        []hwvtep.PhysicalLocatorSet
	routers     []hwvtep.LogicalRouter
}

// snapshot is a consistent read of the cache, indexed the way the planner looks rows up.
type snapshot struct {
	tables
	sw        *hwvtep.PhysicalSwitch           // the client's Physical_Switch; nil when absent
	swPorts   map[string]*hwvtep.PhysicalPort  // its ports by name
	lsByUUID  map[string]*hwvtep.LogicalSwitch // every logical switch
	lsByName  map[string]*hwvtep.LogicalSwitch // every logical switch
	locByUUID map[string]*hwvtep.PhysicalLocator
	locByIP   map[string]string // dst_ip → UUID of the vxlan locator without tunnel_key
	setByUUID map[string]*hwvtep.PhysicalLocatorSet
}

// owned reports whether a logical switch is ovsgw's (see the package doc).
func owned(ls *hwvtep.LogicalSwitch) bool {
	return ls != nil && strings.HasPrefix(ls.Name, NamePrefix) && strings.HasPrefix(ls.Description, DescriptionPrefix)
}

// ownedLS returns the owned logical switch with UUID u, or nil.
func (s *snapshot) ownedLS(u string) *hwvtep.LogicalSwitch {
	if ls := s.lsByUUID[u]; owned(ls) {
		return ls
	}
	return nil
}

// locatorIP is the destination of locator u ("" when unknown).
func (s *snapshot) locatorIP(u string) string {
	if l := s.locByUUID[u]; l != nil {
		return l.DstIP
	}
	return ""
}

// setIPs are the sorted destinations of locator set u.
func (s *snapshot) setIPs(u string) []string {
	set := s.setByUUID[u]
	if set == nil {
		return nil
	}
	out := make([]string, 0, len(set.Locators))
	for _, l := range set.Locators {
		out = append(out, s.locatorIP(l))
	}
	slices.Sort(out)
	return out
}

// snapshot reads the cache until two reads in a row agree. libovsdb applies one transaction's
// update under a lock readers take per table only, so a read of several tables can see half of
// another writer's commit (a MAC row without its new locator); a read equal to the next cannot,
// because the next read's first table waits for that update to finish. (package configdb does
// the same.) A nil client (never connected) reads as an empty database.
func (c *Client) snapshot(ctx context.Context) (*snapshot, error) {
	ovs := c.conn()
	if ovs == nil {
		return c.index(&tables{}), nil
	}
	prev, err := readTables(ctx, ovs)
	if err != nil {
		return nil, err
	}
	for range stableReadAttempts {
		next, err := readTables(ctx, ovs)
		if err != nil {
			return nil, err
		}
		if reflect.DeepEqual(prev, next) {
			return c.index(next), nil
		}
		prev = next
	}
	return nil, fmt.Errorf("read %s from cache: still changing after %d reads", DatabaseName, stableReadAttempts)
}

func readTables(ctx context.Context, ovs client.Client) (*tables, error) {
	var t tables
	for _, l := range []struct {
		table string
		list  func() error
	}{
		{hwvtep.PhysicalSwitchTable, func() error { return list(ctx, ovs, &t.switches) }},
		{hwvtep.PhysicalPortTable, func() error { return list(ctx, ovs, &t.ports) }},
		{hwvtep.LogicalSwitchTable, func() error { return list(ctx, ovs, &t.lswitches) }},
		{hwvtep.UcastMacsLocalTable, func() error { return list(ctx, ovs, &t.ucastLocal) }},
		{hwvtep.UcastMacsRemoteTable, func() error { return list(ctx, ovs, &t.ucastRemote) }},
		{hwvtep.McastMacsLocalTable, func() error { return list(ctx, ovs, &t.mcastLocal) }},
		{hwvtep.McastMacsRemoteTable, func() error { return list(ctx, ovs, &t.mcastRemote) }},
		{hwvtep.PhysicalLocatorTable, func() error { return list(ctx, ovs, &t.locators) }},
		{hwvtep.PhysicalLocatorSetTable, func() error { return list(ctx, ovs, &t.sets) }},
		{hwvtep.LogicalRouterTable, func() error { return list(ctx, ovs, &t.routers) }},
	} {
		if err := l.list(); err != nil {
			return nil, fmt.Errorf("read %s table from cache: %w", l.table, err)
		}
	}
	return &t, nil
}

// list reads one table into out, sorted by UUID so reads compare equal.
func list[T any](ctx context.Context, ovs client.Client, out *[]T) error {
	if err := ovs.List(ctx, out); err != nil {
		return err
	}
	slices.SortFunc(*out, func(a, b T) int { return strings.Compare(uuidOf(&a), uuidOf(&b)) })
	return nil
}

// uuidOf reads the UUID field every generated model has.
func uuidOf(row any) string { return reflect.ValueOf(row).Elem().FieldByName("UUID").String() }

// index builds the lookups of a read.
func (c *Client) index(t *tables) *snapshot {
	s := &snapshot{
		tables:    *t,
		swPorts:   map[string]*hwvtep.PhysicalPort{},
		lsByUUID:  make(map[string]*hwvtep.LogicalSwitch, len(t.lswitches)),
		lsByName:  make(map[string]*hwvtep.LogicalSwitch, len(t.lswitches)),
		locByUUID: make(map[string]*hwvtep.PhysicalLocator, len(t.locators)),
		locByIP:   make(map[string]string, len(t.locators)),
		setByUUID: make(map[string]*hwvtep.PhysicalLocatorSet, len(t.sets)),
	}
	for i := range s.switches {
		if s.switches[i].Name == c.opts.Switch {
			s.sw = &s.switches[i]
		}
	}
	portByUUID := make(map[string]*hwvtep.PhysicalPort, len(s.ports))
	for i := range s.ports {
		portByUUID[s.ports[i].UUID] = &s.ports[i]
	}
	if s.sw != nil {
		for _, u := range s.sw.Ports {
			if p := portByUUID[u]; p != nil {
				s.swPorts[p.Name] = p
			}
		}
	}
	for i := range s.lswitches {
		ls := &s.lswitches[i]
		s.lsByUUID[ls.UUID] = ls
		s.lsByName[ls.Name] = ls
	}
	for i := range s.locators {
		l := &s.locators[i]
		s.locByUUID[l.UUID] = l
		if l.EncapsulationType == encapVXLAN && l.TunnelKey == nil {
			s.locByIP[l.DstIP] = l.UUID
		}
	}
	for i := range s.sets {
		s.setByUUID[s.sets[i].UUID] = &s.sets[i]
	}
	return s
}
