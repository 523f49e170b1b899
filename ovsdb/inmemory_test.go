package ovsdb

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/server"
	"github.com/sirupsen/logrus"

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
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("read OVS schema (install openvswitch-common): %v", err)
	}
	var schema libovsdb.DatabaseSchema
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("parse %s: %v", schemaFile, err)
	}
	clientModel, err := vswitchd.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	dbModel, errs := model.NewDatabaseModel(schema, clientModel)
	if len(errs) > 0 {
		t.Fatalf("model does not match %s: %v", schemaFile, errs)
	}
	logger := logr.Discard()
	db := inmemory.NewDatabase(map[string]model.ClientDBModel{schema.Name: clientModel}, &logger)
	srv, err := server.NewOvsdbServer(db, &logger, dbModel)
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ovsgw-ovsdb-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "db.sock")
	go func() { _ = srv.Serve("unix", sock) }()
	t.Cleanup(func() { srv.Close(); os.RemoveAll(dir) })
	waitUntil(t, testWait, "in-memory server ready", srv.Ready)

	m := &memDB{t: t, db: db, endpoint: "unix:" + sock}
	m.peer, err = client.NewOVSDBClient(clientModel, client.WithEndpoint(m.endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.peer.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.peer.Close)
	// What `ovs-vsctl init` does: the one root row.
	ops, err := m.peer.Create(&vswitchd.OpenvSwitch{})
	m.peerTransact(ops, err)
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

func (m *memDB) peerTransact(ops []libovsdb.Operation, err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
	res, err := m.peer.Transact(context.Background(), ops...)
	if err == nil {
		_, err = libovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		m.t.Fatalf("peer transaction: %v", err)
	}
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
	var ops []libovsdb.Operation
	for _, mod := range []model.Model{iface, port, &br} {
		op, err := m.peer.Create(mod)
		if err != nil {
			m.t.Fatal(err)
		}
		ops = append(ops, op...)
	}
	root := &vswitchd.OpenvSwitch{UUID: rootUUID(m)}
	mut, err := m.peer.Where(root).Mutate(root, model.Mutation{
		Field: &root.Bridges, Mutator: libovsdb.MutateOperationInsert, Value: []string{"b"}})
	m.peerTransact(append(ops, mut...), err)
}

// addVMPort plugs a port the way a hypervisor does: not ovsgw's, carrying
// external_ids:iface-id.
func (m *memDB) addVMPort(bridge, name, ifaceID string) {
	m.t.Helper()
	iface := &vswitchd.Interface{UUID: "i", Name: name, ExternalIDs: map[string]string{IfaceIDKey: ifaceID}}
	port := &vswitchd.Port{UUID: "p", Name: name, Interfaces: []string{"i"}}
	ops, err := m.peer.Create(iface)
	if err != nil {
		m.t.Fatal(err)
	}
	pops, err := m.peer.Create(port)
	if err != nil {
		m.t.Fatal(err)
	}
	br := &vswitchd.Bridge{UUID: rows[vswitchd.Bridge](m, vswitchd.BridgeTable)[bridge].UUID}
	mut, err := m.peer.Where(br).Mutate(br, model.Mutation{
		Field: &br.Ports, Mutator: libovsdb.MutateOperationInsert, Value: []string{"p"}})
	m.peerTransact(append(append(ops, pops...), mut...), err)
}

func rootUUID(m *memDB) string {
	return rows[vswitchd.OpenvSwitch](m, vswitchd.OpenvSwitchTable)["root"].UUID
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ensure(t *testing.T, c *Client, spec BridgeSpec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.EnsureBridge(ctx, spec); err != nil {
		t.Fatal(err)
	}
}
