package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovsgw/ovsgw/gateway/tor"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
	"github.com/ovsgw/ovsgw/ovsdb/vtep/hwvtep"
)

// Bounds of the test. promptly: what must not wait on any switch, a status answer and a
// reconcile against the fake bridge (milliseconds when nothing blocks). roundWait: a ToR round,
// two transactions with the in-memory config DB. settleWait: the reachable switch connected and
// synced, the other's connection error recorded. Before the fix the first two never came.
const (
	promptly   = 2 * time.Second
	roundWait  = 5 * time.Second
	settleWait = 10 * time.Second
)

// TestFIFOAtAToRKeyPathFreezesNothing: a ToR switch whose private key path is a FIFO (nobody
// ever writes it) neither blocks the ToR round, nor `ovsgw status`, nor the bridge's reconcile,
// nor the sync of another switch; status names the path and says what it is. It froze all of
// them: the key was read under the switch set's lock, which status waited for while holding the
// agent's.
func TestFIFOAtAToRKeyPathFreezesNothing(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "tor1-privkey.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, ca := filepath.Join(dir, "tor1-cert.pem"), filepath.Join(dir, "cacert.pem")
	for _, f := range []string{cert, ca} {
		if err := os.WriteFile(f, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The second switch: libovsdb's in-memory server with the hardware_vtep schema.
	full, err := hwvtep.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	tor2 := memdb.Start(t, memdb.DB{Schema: memdb.ReadSchema(t, "/usr/share/openvswitch/vtep.ovsschema", nil), Model: full})
	memdb.Create(t, tor2.Peer(t), []model.Model{
		&hwvtep.PhysicalPort{UUID: "p1", Name: "p1"},
		&hwvtep.PhysicalSwitch{UUID: "ps", Name: "tor2", Ports: []string{"p1"}, TunnelIPs: []string{"192.0.2.20"}},
		&hwvtep.Global{Switches: []string{"ps"}},
	})

	sw := newFakeSwitch()
	a := newSyncAgent(t, sw)
	a.idx = syncTestIndex(t, syncTestConfig+`
torSwitches:
  - name: tor1
    endpoint: ssl:127.0.0.1:1
    ssl: {privateKey: `+fifo+`, certificate: `+cert+`, caCert: `+ca+`}
    replicationNode: gw1
  - name: tor2
    endpoint: `+tor2.Endpoint+`
    replicationNode: gw1
    bindings: [{port: p1, vlan: 100, network: blue}]
`)
	db := configdbtest.NewMemDB(t, "../../schemas/gateway.ovsschema")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.db, err = configdb.Connect(ctx, []string{db.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.db.Close)
	a.src = &dbSource{db: a.db, endpoints: []string{db.Endpoint}}
	a.tors = tor.NewSwitches("gw1")
	t.Cleanup(a.tors.Close)
	// Should anything open the FIFO for reading and wait there, a writer that closes at once
	// lets it go when the test ends, so that the cleanups above can run.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})

	round := make(chan struct{})
	// This node holds both switches' leases (the lease logic has its own tests).
	held := map[string]time.Time{"tor1": time.Now().Add(time.Hour), "tor2": time.Now().Add(time.Hour)}
	go func() { a.syncTors(ctx, a.idx, held); close(round) }()
	select {
	case <-round:
	case <-time.After(roundWait):
		t.Errorf("the ToR round did not end within %v", roundWait)
	}

	answered := make(chan struct{})
	go func() { a.Status(ctx, false); close(answered) }()
	select {
	case <-answered:
	case <-time.After(promptly):
		t.Fatalf("ovsgw status did not answer within %v", promptly)
	}
	synced := make(chan error, 1)
	go func() { synced <- a.reconcile(ctx) }()
	select {
	case err := <-synced:
		if err != nil || len(sw.flows) == 0 {
			t.Fatalf("reconcile: %v, %d flows on the bridge", err, len(sw.flows))
		}
	case <-time.After(promptly):
		t.Fatalf("the bridge's reconcile did not end within %v", promptly)
	}

	// The other switch was synced, and status says why the first cannot be reached.
	deadline := time.Now().Add(settleWait)
	for {
		var st1, st2 vtep.Status
		for _, st := range a.Status(ctx, false).TorSwitches {
			switch st.Name {
			case "tor1":
				st1 = st
			case "tor2":
				st2 = st
			}
		}
		why := st1.ConnectError
		if st2.Rows.LogicalSwitches == 1 && strings.Contains(why, fifo) && strings.Contains(why, "FIFO") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v: tor2 has %d logical switches of ovsgw's (want 1); tor1's connection error %q does not name %s as a FIFO",
				settleWait, st2.Rows.LogicalSwitches, why, fifo)
		}
		a.syncTors(ctx, a.idx, held)
		time.Sleep(50 * time.Millisecond)
	}
}
