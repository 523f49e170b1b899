package ovsdb

import (
	"context"
	"fmt"

	"github.com/ovsgw/ovsgw/ovsdb/vswitchd"
)

// snapshot is one read of the cached tables, indexed the way the planners
// look rows up.
type snapshot struct {
	root     *vswitchd.OpenvSwitch          // nil before `ovs-vsctl init`
	bridges  map[string]*vswitchd.Bridge    // by name
	ports    map[string]*vswitchd.Port      // by UUID
	ifaces   map[string]*vswitchd.Interface // by UUID
	portBr   map[string]string              // port UUID -> bridge name
	portUUID map[string]string              // port name -> UUID
}

// snapshot reads the cache. While the client reconnects libovsdb makes
// List wait for the rebuilt cache until ctx ends, then serves the last
// complete one; it never shows the half-built cache of a reconnect.
func (c *Client) snapshot(ctx context.Context) (*snapshot, error) {
	var (
		roots   []vswitchd.OpenvSwitch
		bridges []vswitchd.Bridge
		ports   []vswitchd.Port
		ifaces  []vswitchd.Interface
	)
	for _, l := range []struct {
		table string
		rows  any
	}{
		{vswitchd.OpenvSwitchTable, &roots},
		{vswitchd.BridgeTable, &bridges},
		{vswitchd.PortTable, &ports},
		{vswitchd.InterfaceTable, &ifaces},
	} {
		if err := c.ovs.List(ctx, l.rows); err != nil {
			return nil, fmt.Errorf("read %s table from cache: %w", l.table, err)
		}
	}
	s := &snapshot{
		bridges:  make(map[string]*vswitchd.Bridge, len(bridges)),
		ports:    make(map[string]*vswitchd.Port, len(ports)),
		ifaces:   make(map[string]*vswitchd.Interface, len(ifaces)),
		portBr:   map[string]string{},
		portUUID: make(map[string]string, len(ports)),
	}
	if len(roots) > 0 { // the schema allows at most one row
		s.root = &roots[0]
	}
	for i := range bridges {
		b := &bridges[i]
		s.bridges[b.Name] = b
		for _, p := range b.Ports {
			s.portBr[p] = b.Name
		}
	}
	for i := range ports {
		s.ports[ports[i].UUID] = &ports[i]
		s.portUUID[ports[i].Name] = ports[i].UUID
	}
	for i := range ifaces {
		s.ifaces[ifaces[i].UUID] = &ifaces[i]
	}
	return s, nil
}

func owned(externalIDs map[string]string) bool { return externalIDs[OwnerKey] == OwnerValue }
