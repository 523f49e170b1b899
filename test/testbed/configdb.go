package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ConfigDB is ovsgw's shared config database (schemas/gateway.ovsschema) served by one
// standalone ovsdb-server, not a Raft cluster: enough for an agent or a benchmark that needs
// the database's interface rather than its replication. The server runs inside a namespace
// and listens on a unix socket in a directory of its own, nowhere else, so it needs no
// address; agents in other namespaces reach it through the file system.
type ConfigDB struct {
	Dir      string
	Endpoint string // unix:PATH, for AgentOptions.ConfigDB and `ovsgw db … --db`
	Proc     *Proc
}

// NewConfigDB creates the database from schema (a path to gateway.ovsschema) and starts its
// server in ns. Cleanup stops the server (by its pid) and removes Dir.
func NewConfigDB(t T, ns *NS, schema string) *ConfigDB {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "ovsgw-configdb-")
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "config.db")
	if _, err := run(cmdTimeout, nil, bin("ovsdb-tool"), "create", db, schema); err != nil {
		t.Fatalf("testbed: config DB: %v", err)
	}
	sock, ctl := filepath.Join(dir, "db.sock"), filepath.Join(dir, "ovsdb-server.ctl")
	c := &ConfigDB{Dir: dir, Endpoint: "unix:" + sock}
	c.Proc = ns.Start(t, filepath.Join(dir, "ovsdb-server.out"), nil, "ovsdb-server", db,
		"--remote=punix:"+sock, "--unixctl="+ctl, "--log-file="+filepath.Join(dir, "ovsdb-server.log"),
		"-vconsole:off")
	err = waitFor(readyTimeout, func() error {
		if done, werr := c.Proc.Exited(); done {
			return fmt.Errorf("ovsdb-server exited: %v", werr)
		}
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		_, err := run(10*time.Second, nil, bin("ovs-appctl"), "-t", ctl, "version")
		return err
	})
	if err != nil {
		data, _ := os.ReadFile(filepath.Join(dir, "ovsdb-server.log"))
		t.Fatalf("testbed: config DB server not ready: %v\n%s", err, tail(string(data), 20))
	}
	return c
}
