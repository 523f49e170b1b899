package configstore

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
)

// A server that restarts with rows changed while it was down (so no update
// removes them from the client's cache): the client serves the last state
// meanwhile, then reconnects, fires both signals, and its Config, Bindings
// and Nodes are rebuilt from the new cache, equal to a fresh full read.
func TestReconnectRebuildsAfterOfflineChange(t *testing.T) {
	srv := newStandalone(t)
	c := connectTo(t, []string{srv.Endpoint})
	ctx := context.Background()
	apply(t, c, parse(t, fullYAML))
	bindings := []configdb.BindingState{
		{VMI: "bms1", Kind: configdb.BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: configdb.RoleActive},
		{VMI: "bms3", Kind: configdb.BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: configdb.RoleActive},
	}
	if err := c.PublishBindings(ctx, "gw2", bindings); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishNode(ctx, configdb.NodeState{Hostname: "gw2", TunnelIP: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	before := mustConfig(t, c)
	if len(c.Bindings()) != 2 || len(c.Nodes()) != 1 {
		t.Fatalf("bindings %+v, nodes %+v", c.Bindings(), c.Nodes())
	}

	srv.Stop()
	waitUntil(t, "the client notices", func() bool { return !c.Connected() })
	if got := mustConfig(t, c); !reflect.DeepEqual(got, before) {
		t.Errorf("while the server is down, Config shows %+v, want the last state %+v", got, before)
	}
	// bms3 goes, with its logical interface and binding; the generation moves.
	configdbtest.RunTool(t, configdbtest.OVSProgram(t, "ovsdb-tool"), "transact", srv.DB, `["OVSGW",
		{"op":"delete","table":"Virtual_Machine_Interface","where":[["name","==","bms3"]]},
		{"op":"delete","table":"Logical_Interface","where":[["vmi","==","bms3"]]},
		{"op":"delete","table":"Binding","where":[["vmi","==","bms3"]]},
		{"op":"update","table":"Node","where":[],"row":{"tunnel_ip":"192.0.2.22"}},
		{"op":"mutate","table":"OVSGW","where":[],"mutations":[["generation","+=",1]]}]`)
	drain(c.ConfigChanged(), c.StateChanged())
	srv.Start(t)
	waitFired(t, c.ConfigChanged(), "ConfigChanged after the reconnect")
	waitFired(t, c.StateChanged(), "StateChanged after the reconnect")
	waitUntil(t, "the client is back", c.Connected)

	want := parse(t, strings.Replace(strings.Replace(fullYAML, "          - {name: eth1-100, vlan: 100, vmi: bms3}\n", "", 1),
		"  - name: bms3\n    network: blue\n    mac: \"02:00:00:00:01:0c\"\n", "", 1))
	if err := want.Validate(); err != nil {
		t.Fatalf("expected config invalid: %v", err)
	}
	cfg, gen, err := c.ConfigWithGeneration()
	if err != nil {
		t.Fatal(err)
	}
	sameConfig(t, cfg, want)
	if oracle := oracleConfig(t, c); !reflect.DeepEqual(cfg, oracle) {
		t.Errorf("Config differs from a fresh full read:\n%s", diffJSON(cfg, oracle))
	}
	if gen != 2 {
		t.Errorf("generation %d, want 2", gen)
	}
	if b := c.Bindings(); len(b) != 1 || b[0].VMI != "bms1" {
		t.Errorf("bindings after the reconnect %+v, want bms1's only", b)
	}
	if n := c.Nodes(); len(n) != 1 || n[0].TunnelIP != "192.0.2.22" {
		t.Errorf("nodes after the reconnect %+v", n)
	}
}

// The leader of a 3-member Raft cluster dies; a writer applies a change on
// the next leader; a reader moves there by itself, fires ConfigChanged and
// StateChanged, and its Config equals the change and a fresh full read.
func TestFailoverRebuildsConfig(t *testing.T) {
	cl := newCluster(t, 3)
	writer, reader := connectTo(t, cl.Endpoints()), connectTo(t, cl.Endpoints())
	apply(t, writer, parse(t, fullYAML))
	waitUntil(t, "the reader sees the config", func() bool { g, _ := reader.Generation(); return g == 1 })
	mustConfig(t, reader) // kept, to be rebuilt after the move

	old := cl.Leader(t)
	if old == nil || reader.Endpoint() != old.Endpoint {
		t.Fatalf("the reader is on %q, not on the leader %+v", reader.Endpoint(), old)
	}
	drain(reader.ConfigChanged(), reader.StateChanged())
	if err := old.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-old.Done
	changed := strings.Replace(fullYAML, "02:00:00:00:01:0a", "02:00:00:00:01:aa", 1)
	ctx, cancel := context.WithTimeout(context.Background(), configdbtest.ServerReady)
	defer cancel()
	sum, err := writer.Apply(ctx, parse(t, changed), false)
	if err != nil {
		t.Fatal(err)
	}
	waitFired(t, reader.ConfigChanged(), "ConfigChanged after the failover")
	waitFired(t, reader.StateChanged(), "StateChanged after the failover")
	deadline := time.Now().Add(configdbtest.ServerReady)
	for {
		cfg, gen, err := reader.ConfigWithGeneration()
		if err == nil && gen == sum.Generation {
			sameConfig(t, cfg, parse(t, changed))
			if oracle := oracleConfig(t, reader); !reflect.DeepEqual(cfg, oracle) {
				t.Errorf("Config differs from a fresh full read:\n%s", diffJSON(cfg, oracle))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader shows generation %d (%v), want %d", gen, err, sum.Generation)
		}
		select {
		case <-reader.ConfigChanged():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ep := reader.Endpoint(); ep == old.Endpoint || ep == "" {
		t.Errorf("the reader is on %q after the leader %s died", ep, old.Endpoint)
	}
}
