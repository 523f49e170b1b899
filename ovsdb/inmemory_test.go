package ovsdb

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/vswitchd"
)

// schemaFile is the schema the installed Open vSwitch ships; tests load it
// at run time so that they exercise the schema ovsgw will meet.
const schemaFile = "/usr/share/openvswitch/vswitch.ovsschema"

// testWait bounds every wait for an asynchronous effect in these tests.
const testWait = 5 * time.Second

// TestMain quiets ovsgw's info logs unless -v asks for detail.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		logrus.SetLevel(logrus.WarnLevel)
	}
	os.Exit(m.Run())
}

// memDB is an in-memory OVSDB server plus a second, independent client
// ("peer") standing for whoever else writes the database.
type memDB struct {
	t        *testing.T
	db       database.Database
	endpoint string
	peer     client.Client
}

func newMemDB(t *testing.T) *memDB {
	t.Helper()
	full, err := vswitchd.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	srv := memdb.Start(t, memdb.DB{Schema: memdb.ReadSchema(t, schemaFile, nil), Model: full})
	m := &memDB{t: t, db: srv.DB, endpoint: srv.Endpoint, peer: srv.Peer(t)}
	// What `ovs-vsctl init` does: the one root row.
	memdb.Create(t, m.peer, []model.Model{&vswitchd.OpenvSwitch{}})
	return m
}

func (m *memDB) connect() *Client {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	c, err := Connect(ctx, m.endpoint)
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(c.Close)
	return c
}

// rows reads a table on the server side, so assertions never depend on a
// client cache having caught up.
func rows[T any](m *memDB, table string) map[string]*T {
	m.t.Helper()
	all, err := m.db.List("Open_vSwitch", table)
	if err != nil {
		m.t.Fatal(err)
	}
	out := map[string]*T{}
	for _, r := range all {
		v := any(r).(*T)
		out[nameOf(v)] = v
	}
	return out
}

func nameOf(v any) string {
	switch r := v.(type) {
	case *vswitchd.Bridge:
		return r.Name
	case *vswitchd.Port:
		return r.Name
	case *vswitchd.Interface:
		return r.Name
	case *vswitchd.OpenvSwitch:
		return "root"
	}
	panic("no name")
}

// addBridge adds a bridge the way `ovs-vsctl add-br` does: with its local
// internal port, and without ovsgw's tag.
func (m *memDB) addBridge(br vswitchd.Bridge) {
	m.t.Helper()
	iface := &vswitchd.Interface{UUID: "i", Name: br.Name, Type: "internal"}
	port := &vswitchd.Port{UUID: "p", Name: br.Name, Interfaces: []string{"i"}}
	br.UUID, br.Ports = "b", []string{"p"}
	root := &vswitchd.OpenvSwitch{UUID: rootUUID(m)}
	mut, err := m.peer.Where(root).Mutate(root, model.Mutation{
		Field: &root.Bridges, Mutator: libovsdb.MutateOperationInsert, Value: []string{"b"}})
	if err != nil {
		m.t.Fatal(err)
	}
	memdb.Create(m.t, m.peer, []model.Model{iface, port, &br}, mut...)
}

// addVMPort plugs a port the way a hypervisor does: not ovsgw's, carrying
// external_ids:iface-id.
func (m *memDB) addVMPort(bridge, name, ifaceID string) {
	m.t.Helper()
	iface := &vswitchd.Interface{UUID: "i", Name: name, ExternalIDs: map[string]string{IfaceIDKey: ifaceID}}
	port := &vswitchd.Port{UUID: "p", Name: name, Interfaces: []string{"i"}}
	br := &vswitchd.Bridge{UUID: rows[vswitchd.Bridge](m, vswitchd.BridgeTable)[bridge].UUID}
	mut, err := m.peer.Where(br).Mutate(br, model.Mutation{
		Field: &br.Ports, Mutator: libovsdb.MutateOperationInsert, Value: []string{"p"}})
	if err != nil {
		m.t.Fatal(err)
	}
	memdb.Create(m.t, m.peer, []model.Model{iface, port}, mut...)
}

func rootUUID(m *memDB) string {
	return rows[vswitchd.OpenvSwitch](m, vswitchd.OpenvSwitchTable)["root"].UUID
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	memdb.WaitUntil(t, d, what, cond)
}

func ensure(t *testing.T, c *Client, spec BridgeSpec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.EnsureBridge(ctx, spec); err != nil {
		t.Fatal(err)
	}
}
