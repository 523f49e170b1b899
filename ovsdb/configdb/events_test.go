package configdb

import (
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"

	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// quiet is how long a test waits to be sure a signal does not come: the
// events of a one-row commit reach a client on the same host within
// milliseconds.
const quiet = 300 * time.Millisecond

var (
	drain = configdbtest.Drain
	fired = configdbtest.Fired
)

// waitFired waits until ch fires.
func waitFired(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	configdbtest.WaitFired(t, ch, testWait, what)
}

// eventCount is how many cache events c has seen for tables.
func eventCount(c *Client, tables ...string) uint64 {
	var n uint64
	for _, t := range tables {
		n += c.events[t].Load()
	}
	return n
}

// waitEvents waits until c has seen n events of tables in all.
func waitEvents(t *testing.T, c *Client, n uint64, tables ...string) {
	t.Helper()
	waitUntil(t, "the reader's event handler has seen every row", func() bool { return eventCount(c, tables...) >= n })
}

// Every table of the schema is a config or a state table, once.
func TestTableLists(t *testing.T) {
	var schema []string
	for name := range gatewaydb.Schema().Tables {
		schema = append(schema, name)
	}
	slices.Sort(schema)
	if got := slices.Sorted(slices.Values(allTables)); !reflect.DeepEqual(got, schema) {
		t.Errorf("config and state tables %v, want the schema's %v", got, schema)
	}
	for _, st := range stateTables {
		if isConfigTable[st] {
			t.Errorf("state table %s is also listed as config", st)
		}
	}
}

// What fires which signal, seen by a reader while a writer publishes state
// and applies config, against a real ovsdb-server.
func TestSignalsByChange(t *testing.T) {
	srv := newStandalone(t)
	writer, reader := connectTo(t, []string{srv.Endpoint}), connectTo(t, []string{srv.Endpoint})
	ctx := context.Background()
	node := NodeState{Hostname: "gw2", TunnelIP: "192.0.2.2", GatewayMode: true, InterfacesUsed: 2, InterfacesLimit: 10,
		Status: map[string]string{StatusHARole: RoleStandby}}
	if err := writer.PublishNode(ctx, node); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the reader sees gw2", func() bool { return len(reader.Nodes()) == 1 })

	// Each case writes through writer, then waits until the reader's
	// handler has seen the writer's events (Changed fires on any), so that
	// a signal that did not fire was not merely late.
	for _, tc := range []struct {
		name          string
		write         func() error
		config, state bool
	}{
		{"a heartbeat alone fires nothing", func() error {
			time.Sleep(5 * time.Millisecond) // the heartbeat moves
			return writer.PublishNode(ctx, node)
		}, false, false},
		{"a new tunnel IP is state", func() error {
			node.TunnelIP = "192.0.2.22"
			return writer.PublishNode(ctx, node)
		}, false, true},
		{"a status key is state", func() error {
			node.Status = map[string]string{StatusHARole: RoleActive}
			return writer.PublishNode(ctx, node)
		}, false, true},
		{"gateway mode is state", func() error {
			node.GatewayMode = false
			return writer.PublishNode(ctx, node)
		}, false, true},
		{"a binding is state", func() error {
			return writer.PublishBindings(ctx, "gw2", []BindingState{{VMI: "vm1", Kind: BindingLocal, Port: "tap1", Role: RoleActive}})
		}, false, true},
		{"a binding's role is state", func() error {
			return writer.PublishBindings(ctx, "gw2", []BindingState{{VMI: "vm1", Kind: BindingLocal, Port: "tap1", Role: RoleStandby}})
		}, false, true},
		{"a switch's state is state", func() error {
			return writer.PublishTorState(ctx, TorState{Switch: "tor1", Node: "gw2", Connected: true})
		}, false, true},
		{"a learned MAC is state", func() error {
			return writer.PublishTorMACs(ctx, "tor1", []TorMACState{{VNI: 5001, MAC: "02:00:00:00:00:01", TunnelIP: "192.0.2.9"}})
		}, false, true},
		{"a config is config", func() error {
			_, err := writer.ApplyRows(ctx, testRows(5002), false)
			return err
		}, true, false},
		{"a config change is config", func() error {
			_, err := writer.ApplyRows(ctx, testRows(5003), false)
			return err
		}, true, false},
		{"another node's heartbeat fires nothing", func() error {
			time.Sleep(5 * time.Millisecond)
			return writer.PublishNode(ctx, node)
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			time.Sleep(quiet) // earlier cases' events have landed
			drain(reader.Changed(), reader.ConfigChanged(), reader.StateChanged())
			if err := tc.write(); err != nil {
				t.Fatal(err)
			}
			waitFired(t, reader.Changed(), "Changed")
			time.Sleep(quiet)
			if got := fired(reader.ConfigChanged()); got != tc.config {
				t.Errorf("ConfigChanged fired: %v, want %v", got, tc.config)
			}
			if got := fired(reader.StateChanged()); got != tc.state {
				t.Errorf("StateChanged fired: %v, want %v", got, tc.state)
			}
		})
	}
	if n := reader.Nodes(); len(n) != 1 || n[0].TunnelIP != "192.0.2.22" || n[0].GatewayMode || n[0].Status[StatusHARole] != RoleActive {
		t.Errorf("reader's nodes %+v", n)
	}
}

// One ApplyRows of rows in every config table fires ConfigChanged once for
// a reader that was not reading meanwhile, and the reader's cache then has
// the generation written.
func TestConfigChangedOncePerApply(t *testing.T) {
	srv := newStandalone(t)
	writer, reader := connectTo(t, []string{srv.Endpoint}), connectTo(t, []string{srv.Endpoint})
	time.Sleep(quiet)
	drain(reader.ConfigChanged(), reader.StateChanged())
	before := eventCount(reader, configTables...)
	sum := applyRows(t, writer, testRows(5002))
	rows := uint64(1) // the root row
	for _, table := range configTables[1:] {
		n, err := srvRowCount(writer, table)
		if err != nil {
			t.Fatal(err)
		}
		rows += n
	}
	if rows < 11 {
		t.Fatalf("only %d rows written", rows)
	}
	waitEvents(t, reader, before+rows, configTables...)
	time.Sleep(quiet)
	if !fired(reader.ConfigChanged()) {
		t.Fatal("ConfigChanged did not fire")
	}
	if fired(reader.ConfigChanged()) {
		t.Error("ConfigChanged fired twice")
	}
	if fired(reader.StateChanged()) {
		t.Error("StateChanged fired on a config write")
	}
	if gen, err := reader.Generation(); err != nil || gen != sum.Generation {
		t.Errorf("generation %d (%v), want %d", gen, err, sum.Generation)
	}
}

// srvRowCount counts a table's rows in c's cache.
func srvRowCount(c *Client, table string) (uint64, error) {
	r, err := c.conn().read([]string{table})
	return uint64(len(r[table])), err
}

// Nodes, Bindings, TorStates and TorMACs hand out copies, and keep their
// lists until their table changes.
func TestStateListsAreTheCallers(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ctx := context.Background()
	if err := c.PublishNode(ctx, NodeState{Hostname: "gw1", Status: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishTorState(ctx, TorState{Switch: "tor1", Node: "gw1", TunnelIPs: []string{"192.0.2.9"}}); err != nil {
		t.Fatal(err)
	}
	n := c.Nodes()
	n[0].Status["k"] = "changed"
	if got := c.Nodes()[0].Status["k"]; got != "v" {
		t.Errorf("node status after a caller's change: %q", got)
	}
	st := c.TorStates()
	st[0].TunnelIPs[0] = "changed"
	if got := c.TorStates()[0].TunnelIPs[0]; got != "192.0.2.9" {
		t.Errorf("switch tunnel IP after a caller's change: %q", got)
	}
	kept := c.views.nodes.val.list
	c.Nodes()
	if &c.views.nodes.val.list[0] != &kept[0] {
		t.Error("Nodes rebuilt its list with no event in between")
	}
	if err := c.PublishBindings(ctx, "gw1", []BindingState{{VMI: "vm1", Kind: BindingLocal, Port: "p", Role: RoleActive}}); err != nil {
		t.Fatal(err)
	}
	c.Nodes()
	if &c.views.nodes.val.list[0] != &kept[0] {
		t.Error("Nodes rebuilt its list after a binding write")
	}
	if got := c.Bindings(); len(got) != 1 || got[0].VMI != "vm1" {
		t.Errorf("bindings %+v", got)
	}
	if err := c.PublishNode(ctx, NodeState{Hostname: "gw1", TunnelIP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Nodes(); len(got) != 1 || got[0].TunnelIP != "192.0.2.1" || len(got[0].Status) != 0 {
		t.Errorf("nodes after an update %+v", got)
	}
}

// A ConfigOnly client applies and reads the config and refuses state.
func TestConfigOnlyClient(t *testing.T) {
	m := newMemDB(t)
	full := m.connect()
	if err := full.PublishNode(context.Background(), NodeState{Hostname: "gw1"}); err != nil {
		t.Fatal(err)
	}
	c := connectTo(t, []string{m.Endpoint}, ConfigOnly())
	applyRows(t, c, testRows(5002))
	if g, err := c.Generation(); err != nil || g != 1 {
		t.Errorf("generation %d (%v), want 1", g, err)
	}
	if n := c.Nodes(); n != nil {
		t.Errorf("a ConfigOnly client listed nodes %+v", n)
	}
	if err := c.PublishNode(context.Background(), NodeState{Hostname: "gw9"}); err == nil {
		t.Error("a ConfigOnly client published a node")
	}
	if _, err := c.View(); err == nil {
		t.Error("a ConfigOnly client gave a view of the state")
	}
	if n := c.conn().cache.Table(gatewaydb.NodeTable).Len(); n != 0 {
		t.Errorf("a ConfigOnly client caches %d node rows", n)
	}
}

// differingColumns: sets and maps compare without order, empty equals
// absent, and an optional value differs from its absence.
func TestDifferingColumns(t *testing.T) {
	on, off := true, false
	base := gatewaydb.VirtualMachineInterface{UUID: "u1", Name: "vm1", MAC: "02:00:00:00:00:01",
		SecurityGroups: []string{"a", "b"}, InstanceIPs: map[string]string{"10.0.0.1": ""}, PortSecurity: &on}
	for _, tc := range []struct {
		name string
		edit func(*gatewaydb.VirtualMachineInterface)
		want []string
	}{
		{"equal", func(*gatewaydb.VirtualMachineInterface) {}, nil},
		{"another UUID is no column", func(r *gatewaydb.VirtualMachineInterface) { r.UUID = "u2" }, nil},
		{"a set in another order", func(r *gatewaydb.VirtualMachineInterface) { r.SecurityGroups = []string{"b", "a"} }, nil},
		{"a set with another element", func(r *gatewaydb.VirtualMachineInterface) { r.SecurityGroups = []string{"a", "c"} }, []string{"security_groups"}},
		{"a set shorter", func(r *gatewaydb.VirtualMachineInterface) { r.SecurityGroups = []string{"a"} }, []string{"security_groups"}},
		{"empty and absent sets", func(r *gatewaydb.VirtualMachineInterface) { r.AllowedAddressPairs = []string{} }, nil},
		{"an equal map", func(r *gatewaydb.VirtualMachineInterface) { r.InstanceIPs = map[string]string{"10.0.0.1": ""} }, nil},
		{"a map value", func(r *gatewaydb.VirtualMachineInterface) {
			r.InstanceIPs = map[string]string{"10.0.0.1": "active-backup"}
		}, []string{"instance_ips"}},
		{"a map key", func(r *gatewaydb.VirtualMachineInterface) { r.InstanceIPs = map[string]string{"10.0.0.2": ""} }, []string{"instance_ips"}},
		{"an optional value off", func(r *gatewaydb.VirtualMachineInterface) { r.PortSecurity = &off }, []string{"port_security"}},
		{"an optional value absent", func(r *gatewaydb.VirtualMachineInterface) { r.PortSecurity = nil }, []string{"port_security"}},
		{"two strings", func(r *gatewaydb.VirtualMachineInterface) { r.MAC, r.Network = "02:00:00:00:00:02", "blue" }, []string{"mac", "network"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := base
			want.SecurityGroups = slices.Clone(base.SecurityGroups)
			tc.edit(&want)
			cols, ptrs := differingColumns(&base, &want)
			if !reflect.DeepEqual(cols, tc.want) || len(ptrs) != len(cols) {
				t.Errorf("differing columns %v (%d pointers), want %v", cols, len(ptrs), tc.want)
			}
		})
	}
	empty := gatewaydb.VirtualNetwork{Name: "vn", NetworkPolicies: map[int]string{}}
	if cols, _ := differingColumns(&empty, &gatewaydb.VirtualNetwork{Name: "vn"}); len(cols) != 0 {
		t.Errorf("an empty and an absent map differ: %v", cols)
	}
}

// The select reader decodes every table, state included, as libovsdb's
// cache holds it: every column of every row, against a real ovsdb-server.
func TestSelectMatchesCache(t *testing.T) {
	srv := newStandalone(t)
	c := connectTo(t, []string{srv.Endpoint})
	ctx := context.Background()
	applyRows(t, c, testRows(5002))
	for _, err := range []error{
		c.PublishNode(ctx, NodeState{Hostname: "gw1", TunnelIP: "192.0.2.1", GatewayMode: true, InterfacesUsed: 3,
			InterfacesLimit: 9, Status: map[string]string{StatusHARole: RoleActive, StatusHAGroup: "bpdu1"}}),
		c.PublishBindings(ctx, "gw1", []BindingState{
			{VMI: "bms1", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: RoleStandby},
			{VMI: "vm1", Kind: BindingLocal, Port: "tap-vm1", Role: RoleActive}}),
		c.PublishTorState(ctx, TorState{Switch: "tor1", Node: "gw1", Connected: true, TunnelIPs: []string{"192.0.2.10", "192.0.2.11"}, MACsLearned: 2}),
		c.PublishTorState(ctx, TorState{Switch: "tor2", Node: "gw1", TunnelIPs: []string{"192.0.2.12"}}),
		c.PublishTorMACs(ctx, "tor1", []TorMACState{{VNI: 5001, MAC: "02:00:00:00:00:01", IP: "10.1.0.5", TunnelIP: "192.0.2.10"},
			{VNI: 5002, MAC: "02:00:00:00:00:02", TunnelIP: "192.0.2.10"}}),
		func() error { _, err := c.TakeTorLease(ctx, "tor1", "gw1", nil, time.Minute); return err }(),
		c.WriteOwned(ctx, nil, &OwnedWrite{Status: gatewaydb.VcenterSync{Name: "vc1", Url: "https://vc/sdk", Connected: true,
			VmsSeen: 2, NicsMapped: 3, VLANsUsed: 3, VLANsFree: 97, LastError: "x", Reports: []string{"a", "b"}}}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	cached, err := c.conn().read(allTables)
	if err != nil {
		t.Fatal(err)
	}
	selected, err := selectRows(ctx, srv.Endpoint, nil, allTables)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range allTables {
		if len(cached[table]) == 0 {
			t.Errorf("table %s is empty: the test should fill it", table)
		}
		if len(selected[table]) != len(cached[table]) {
			t.Errorf("table %s: %d rows selected, %d cached", table, len(selected[table]), len(cached[table]))
		}
		for uuid, row := range cached[table] {
			got, ok := selected[table][uuid]
			if !ok {
				t.Errorf("table %s: row %s not selected", table, uuid)
				continue
			}
			if cols, _ := differingColumns(row, got); len(cols) != 0 || uuidOf(got) != uuid {
				t.Errorf("table %s row %s: columns %v differ:\nselected %+v\ncached   %+v", table, uuid, cols, got, row)
			}
		}
	}
}

// TestStaleNodeBackIsState: a heartbeat is no state change, except one that brings back a node
// that was stale: its bindings win over stale nodes' again (gateway/placement), so readers must
// recompute. Before, such a heartbeat fired nothing and the node's return went unseen until
// some other row changed.
func TestStaleNodeBackIsState(t *testing.T) {
	now := time.Now()
	row := func(age time.Duration) *gatewaydb.Node {
		return &gatewaydb.Node{Hostname: "gw1", Heartbeat: int(now.Add(-age).UnixMilli())}
	}
	for _, tc := range []struct {
		name     string
		old, new time.Duration // heartbeat ages
		want     bool
	}{
		{"live to live", HeartbeatInterval, 0, false},
		{"stale to live", StaleAfter + time.Second, 0, true},
		{"stale to still stale", StaleAfter + 3*time.Second, StaleAfter + time.Second, false},
	} {
		if got := revived(row(tc.old), row(tc.new), now); got != tc.want {
			t.Errorf("%s: revived %v, want %v", tc.name, got, tc.want)
		}
	}
}
