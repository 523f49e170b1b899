// Package memdb starts libovsdb's in-memory OVSDB server for tests, from a
// schema file and the generated models, so that a client is tested against
// the schema it will meet. Only tests import it.
package memdb

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/server"
)

// readyWait bounds the wait for the server to listen.
const readyWait = 10 * time.Second

// ReadSchema reads and parses the schema file at path; edit, when not nil,
// may change the JSON of its tables first.
func ReadSchema(t testing.TB, path string, edit func(tables map[string]any)) ovsdb.DatabaseSchema {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		if strings.HasPrefix(path, "/usr/share/openvswitch/") {
			t.Fatalf("read the schema (install openvswitch-common): %v", err)
		}
		t.Fatal(err)
	}
	if edit != nil {
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		edit(doc["tables"].(map[string]any))
		if raw, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	}
	var schema ovsdb.DatabaseSchema
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return schema
}

// DB is one database to serve: its schema, and the client model of all its
// tables (the generated FullDatabaseModel).
type DB struct {
	Schema ovsdb.DatabaseSchema
	Model  model.ClientDBModel
}

// Server is a running in-memory server. It stops, and Dir goes, when the
// test ends.
type Server struct {
	DB       database.Database // the server's side, for assertions that never depend on a client cache
	Schema   ovsdb.DatabaseSchema
	Model    model.ClientDBModel
	Dir      string // a temporary directory, free for more sockets
	Sock     string // the server's unix socket, in Dir
	Endpoint string // "unix:" + Sock
}

// Start serves db, and the more databases given (such as _Server), on a
// unix socket and returns once the server listens.
func Start(t testing.TB, db DB, more ...DB) *Server {
	t.Helper()
	models := map[string]model.ClientDBModel{}
	var dbModels []model.DatabaseModel
	for _, d := range append([]DB{db}, more...) {
		m, errs := model.NewDatabaseModel(d.Schema, d.Model)
		if len(errs) > 0 {
			t.Fatalf("generated models do not match schema %s (run make generate): %v", d.Schema.Name, errs)
		}
		models[d.Schema.Name] = d.Model
		dbModels = append(dbModels, m)
	}
	logger := logr.Discard()
	mem := inmemory.NewDatabase(models, &logger)
	srv, err := server.NewOvsdbServer(mem, &logger, dbModels...)
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ovsgw-memdb-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "db.sock")
	go func() { _ = srv.Serve("unix", sock) }()
	t.Cleanup(func() { srv.Close(); os.RemoveAll(dir) })
	deadline := time.Now().Add(readyWait)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("in-memory server for %s not ready after %v", db.Schema.Name, readyWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &Server{DB: mem, Schema: db.Schema, Model: db.Model, Dir: dir, Sock: sock, Endpoint: "unix:" + sock}
}

// Peer connects an independent client of every table to the server,
// standing for whoever else writes the database; it is closed when the test
// ends.
func (s *Server) Peer(t testing.TB) client.Client {
	t.Helper()
	peer, err := client.NewOVSDBClient(s.Model, client.WithEndpoint(s.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Close)
	return peer
}

// Transact sends ops through c and fails the test unless every operation
// succeeded.
func Transact(t testing.TB, c client.Client, ops []ovsdb.Operation) {
	t.Helper()
	res, err := c.Transact(context.Background(), ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		t.Fatalf("peer transaction: %v", err)
	}
}

// Create inserts rows through c in one transaction, followed by extra
// operations, and fails the test unless every operation succeeded. Rows may
// name each other by their UUID fields, as named UUIDs.
func Create(t testing.TB, c client.Client, rows []model.Model, extra ...ovsdb.Operation) {
	t.Helper()
	var ops []ovsdb.Operation
	for _, r := range rows {
		op, err := c.Create(r)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op...)
	}
	Transact(t, c, append(ops, extra...))
}

// WaitUntil polls cond until it holds, failing the test after d.
func WaitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
