package configdbtest

import (
	"reflect"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/database"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// MemDB is libovsdb's in-memory server with the OVSGW schema (and the _Server database
// libovsdb's leader-only mode asks for; with no row in it, the server counts as leader), for
// the tests that need no real server.
type MemDB struct {
	T        testing.TB
	DB       database.Database
	Endpoint string
}

// NewMemDB starts an in-memory server with the schema in schemaFile (the file, not the copy
// compiled into the generated models, so that a schema edited without `make generate` fails).
func NewMemDB(t testing.TB, schemaFile string) *MemDB {
	return NewMemDBSchema(t, memdb.ReadSchema(t, schemaFile, nil))
}

// NewMemDBSchema starts an in-memory server with schema.
func NewMemDBSchema(t testing.TB, schema libovsdb.DatabaseSchema) *MemDB {
	t.Helper()
	clientModel, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	serverModel, err := serverdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	srv := memdb.Start(t, memdb.DB{Schema: schema, Model: clientModel},
		memdb.DB{Schema: serverdb.Schema(), Model: serverModel})
	return &MemDB{T: t, DB: srv.DB, Endpoint: srv.Endpoint}
}

// Rows reads every row of every table on the server side, keyed by table and UUID, so that
// assertions never depend on a client cache.
func (m *MemDB) Rows() map[string]any {
	m.T.Helper()
	out := map[string]any{}
	for table := range gatewaydb.Schema().Tables {
		all, err := m.DB.List(databaseName, table)
		if err != nil {
			m.T.Fatal(err)
		}
		for uuid, r := range all {
			out[table+" "+uuid] = r
		}
	}
	return out
}

// ChangedRows lists the rows added, removed or changed between two Rows reads.
func ChangedRows(before, after map[string]any) []string {
	var out []string
	for k, b := range before {
		if a, ok := after[k]; !ok || !reflect.DeepEqual(a, b) {
			out = append(out, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// Drain empties the slots of one-slot signal channels.
func Drain(chs ...<-chan struct{}) {
	for _, ch := range chs {
		select {
		case <-ch:
		default:
		}
	}
}

// Fired reports whether ch has a signal pending, taking it.
func Fired(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// WaitFired waits until ch fires, at most wait.
func WaitFired(t testing.TB, ch <-chan struct{}, wait time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s did not fire within %v", what, wait)
	}
}
