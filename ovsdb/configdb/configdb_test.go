package configdb

import (
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"

	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls/ovstlstest"
)

// schemaFile is our schema; tests load the file, not the copy compiled into
// the generated models, so a schema edited without `make generate` fails.
const schemaFile = "../../schemas/gateway.ovsschema"

// testWait bounds every wait for an asynchronous effect in these tests.
const testWait = 5 * time.Second

// TestMain quiets info logs unless -v asks for detail.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		logrus.SetLevel(logrus.WarnLevel)
	}
	code := m.Run()
	ovstlstest.RemoveShared()
	os.Exit(code)
}

// memDB is libovsdb's in-memory server with our schema (configdbtest.MemDB).
type memDB struct{ *configdbtest.MemDB }

func newMemDB(t *testing.T) *memDB { return &memDB{configdbtest.NewMemDB(t, schemaFile)} }

func newMemDBSchema(t *testing.T, schema libovsdb.DatabaseSchema) *memDB {
	return &memDB{configdbtest.NewMemDBSchema(t, schema)}
}

func (m *memDB) connect() *Client {
	m.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	c, err := Connect(ctx, []string{m.Endpoint})
	if err != nil {
		m.T.Fatal(err)
	}
	m.T.Cleanup(c.Close)
	return c
}

// rows reads every row of every table on the server side.
func (m *memDB) rows() map[string]any { return m.Rows() }

// changedRows lists the rows added, removed or changed between two rows() reads.
func changedRows(before, after map[string]any) []string {
	return configdbtest.ChangedRows(before, after)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	memdb.WaitUntil(t, testWait, what, cond)
}

// A writer that commits between Apply's read and its transaction makes
// Apply fail with ErrConflict, writing nothing of its own.
func TestConcurrentWriterConflicts(t *testing.T) {
	m := newMemDB(t)
	a, b := m.connect(), m.connect()
	applyRows(t, a, testRows(5002))
	waitUntil(t, "b sees generation 1", func() bool { g, _ := b.Generation(); return g == 1 })
	s, err := b.snapshot(configTables...) // b reads ...
	if err != nil {
		t.Fatal(err)
	}
	applyRows(t, a, testRows(5003)) // ... a writes ...
	p := &planner{c: b}
	sum := p.config(s, testRows(5004))
	if err := b.commit(context.Background(), s, p, sum); !errors.Is(err, ErrConflict) { // ... b commits.
		t.Fatalf("stale write: %v, want ErrConflict", err)
	}
	waitUntil(t, "b sees generation 2", func() bool { g, _ := b.Generation(); return g == 2 })
	s, err = b.snapshot(gatewaydb.VirtualNetworkTable)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.vns) != 1 || s.vns[0].Vni != 5003 {
		t.Errorf("virtual networks %+v, want red with a's VNI 5003", s.vns)
	}
}

// PublishBindings writes only the difference for its node and leaves other
// nodes' rows alone; UpdateBindings, given that difference, writes the same.
func TestPublishBindings(t *testing.T) {
	for _, how := range []string{"publish", "update"} {
		t.Run(how, func(t *testing.T) { testPublishBindings(t, how == "update") })
	}
}

func testPublishBindings(t *testing.T, update bool) {
	m := newMemDB(t)
	c := m.connect()
	ctx := context.Background()
	gw1 := []BindingState{
		{VMI: "bms1", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: RoleActive},
		{VMI: "vm1", Kind: BindingLocal, Port: "tap-vm1", Role: RoleActive},
		{VMI: "bms2", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 0, Role: RoleActive},
	}
	gw2 := []BindingState{{VMI: "bms1", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: RoleStandby}}
	for node, list := range map[string][]BindingState{"gw1": gw1, "gw2": gw2} {
		if err := c.PublishBindings(ctx, node, list); err != nil {
			t.Fatal(err)
		}
	}
	before, sent := m.rows(), c.transactions.Load()
	if err := c.PublishBindings(ctx, "gw1", gw1); err != nil {
		t.Fatal(err)
	}
	if n := c.transactions.Load() - sent; n != 0 {
		t.Errorf("publishing the same bindings sent %d transactions", n)
	}
	next := []BindingState{gw1[0], gw1[1], {VMI: "bms3", Kind: BindingRemote, PhysicalInterface: "eth2", VLAN: 7, Role: RoleActive}}
	next[0].Role = RoleStandby
	if update {
		sent := c.transactions.Load()
		if err := c.UpdateBindings(ctx, "gw1", []BindingState{next[0], next[1], next[2]}, []string{"bms2"}); err != nil {
			t.Fatal(err)
		}
		if n := c.transactions.Load() - sent; n != 1 {
			t.Errorf("one update sent %d transactions, want 1", n)
		}
	} else if err := c.PublishBindings(ctx, "gw1", next); err != nil {
		t.Fatal(err)
	}
	after := m.rows()
	var changes []string
	for _, k := range changedRows(before, after) {
		r := after[k]
		if r == nil {
			r = before[k]
		}
		b := r.(*gatewaydb.Binding)
		_, existed := before[k]
		_, exists := after[k]
		changes = append(changes, fmt.Sprintf("%s/%s existed=%v exists=%v", b.Node, b.Vmi, existed, exists))
	}
	wantChanges := map[string]bool{"gw1/bms1 existed=true exists=true": true, "gw1/bms2 existed=true exists=false": true,
		"gw1/bms3 existed=false exists=true": true}
	if len(changes) != len(wantChanges) {
		t.Errorf("changed rows %v, want bms1 updated in place, bms2 deleted, bms3 inserted", changes)
	}
	for _, ch := range changes {
		if !wantChanges[ch] {
			t.Errorf("unexpected row change %s", ch)
		}
	}
	var got []string
	for _, b := range c.Bindings() {
		got = append(got, fmt.Sprintf("%s@%s:%s", b.VMI, b.Node, b.Role))
	}
	if want := "bms1@gw1:standby bms1@gw2:standby bms3@gw1:active vm1@gw1:active"; strings.Join(got, " ") != want {
		t.Errorf("bindings %v, want %s", got, want)
	}
	if err := c.PublishBindings(ctx, "gw1", []BindingState{gw1[0], gw1[0]}); err == nil {
		t.Error("a VMI listed twice was accepted")
	}
	if err := c.UpdateBindings(ctx, "gw1", []BindingState{gw1[0]}, []string{gw1[0].VMI}); err == nil {
		t.Error("a VMI both updated and removed was accepted")
	}
	if err := c.UpdateBindings(ctx, "gw1", []BindingState{{VMI: "bms9", Kind: BindingRemote, VLAN: 4095, Role: RoleActive}}, nil); err == nil {
		t.Error("a binding with VLAN 4095 was accepted")
	}
	sent = c.transactions.Load()
	if err := c.UpdateBindings(ctx, "gw1", []BindingState{next[1]}, []string{"bms2", "nothing"}); err != nil {
		t.Fatal(err)
	}
	if n := c.transactions.Load() - sent; n != 0 {
		t.Errorf("an update that changes nothing sent %d transactions", n)
	}
}

// NewestRoleSince is the newest role_since of a VMI over every node's rows.
func TestNewestRoleSince(t *testing.T) {
	c := newMemDB(t).connect()
	ctx := context.Background()
	for node, since := range map[string]int64{"gw1": 5, "gw2": 9} {
		b := []BindingState{{VMI: "bms1", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: RoleActive, RoleSince: since},
			{VMI: "bms2", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 101, Role: RoleActive, RoleSince: 100 + since}}
		if err := c.PublishBindings(ctx, node, b); err != nil {
			t.Fatal(err)
		}
	}
	newest := c.NewestRoleSince("bms1", "bms2", "none")
	for vmi, want := range map[string]int64{"bms1": 9, "bms2": 109, "none": 0} {
		if got := newest[vmi]; got != want {
			t.Errorf("NewestRoleSince(%s) = %d, want %d", vmi, got, want)
		}
	}
}

// A node's row is upserted by hostname; it is stale StaleAfter after its heartbeat.
func TestPublishNodeAndStale(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ctx := context.Background()
	n := NodeState{Hostname: "gw1", TunnelIP: "192.0.2.1", GatewayMode: true, InterfacesUsed: 6,
		InterfacesLimit: 4352, Status: map[string]string{"version": "test"}}
	for range 2 {
		start := time.Now().Truncate(time.Millisecond)
		if err := c.PublishNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		nodes := c.Nodes()
		if len(nodes) != 1 {
			t.Fatalf("nodes %+v, want one gw1", nodes)
		}
		got := nodes[0]
		if got.Heartbeat.Before(start) || got.Heartbeat.After(time.Now()) {
			t.Errorf("heartbeat %v not between %v and now", got.Heartbeat, start)
		}
		got.Heartbeat = time.Time{}
		if !reflect.DeepEqual(got, n) {
			t.Errorf("node %+v, want %+v", got, n)
		}
		time.Sleep(5 * time.Millisecond) // the next heartbeat differs
	}
	beat := c.Nodes()[0]
	for _, tc := range []struct {
		at    time.Duration
		stale bool
	}{{0, false}, {StaleAfter, false}, {StaleAfter + time.Millisecond, true}} {
		if got := beat.Stale(beat.Heartbeat.Add(tc.at), StaleAfter); got != tc.stale {
			t.Errorf("Stale %v after the heartbeat = %v, want %v", tc.at, got, tc.stale)
		}
	}
	v, err := c.View()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Nodes) != 1 || v.Nodes[0].Hostname != "gw1" || !v.Nodes[0].Heartbeat.Equal(beat.Heartbeat) {
		t.Errorf("view's nodes %+v, want gw1's last heartbeat", v.Nodes)
	}
}

// A newer schema (a column and a table more, as the ToR work will add)
// does not break this client: libovsdb ignores what its models lack.
func TestNewerSchemaStillWorks(t *testing.T) {
	schema := memdb.ReadSchema(t, schemaFile, func(tables map[string]any) {
		vn := tables[gatewaydb.VirtualNetworkTable].(map[string]any)["columns"].(map[string]any)
		vn["bpdu_flood"] = map[string]any{"type": "boolean"}
		tables["ToR_Switch"] = map[string]any{"columns": map[string]any{"name": map[string]any{"type": "string"}}, "isRoot": true}
	})
	m := newMemDBSchema(t, schema)
	c := m.connect()
	sum := applyRows(t, c, testRows(5002))
	if len(sum.Added) != 9 {
		t.Errorf("summary:\n%s", sum)
	}
	if g, err := c.Generation(); err != nil || g != 1 {
		t.Errorf("generation %d (%v), want 1", g, err)
	}
}
