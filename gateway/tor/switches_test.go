package tor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/model"

	gwmodel "github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
	"github.com/ovsgw/ovsgw/ovsdb/vtep/hwvtep"
)

const testWait = 10 * time.Second

// fakeSwitch is libovsdb's in-memory server with the installed hardware_vtep schema, holding one
// Physical_Switch with ports p1 and p2; peer is the switch's own writer.
type fakeSwitch struct {
	t        *testing.T
	db       database.Database
	endpoint string
	peer     client.Client
}

func newFakeSwitch(t *testing.T, name, tunnelIP string) *fakeSwitch {
	t.Helper()
	full, err := hwvtep.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	srv := memdb.Start(t, memdb.DB{Schema: memdb.ReadSchema(t, "/usr/share/openvswitch/vtep.ovsschema", nil), Model: full})
	f := &fakeSwitch{t: t, db: srv.DB, endpoint: srv.Endpoint, peer: srv.Peer(t)}
	memdb.Create(t, f.peer, []model.Model{
		&hwvtep.PhysicalPort{UUID: "p1", Name: "p1"},
		&hwvtep.PhysicalPort{UUID: "p2", Name: "p2"},
		&hwvtep.PhysicalSwitch{UUID: "ps", Name: name, Ports: []string{"p1", "p2"}, TunnelIPs: []string{tunnelIP}},
		&hwvtep.Global{Switches: []string{"ps"}},
	})
	return f
}

// logicalSwitches lists the names of the logical switches on the server.
func (f *fakeSwitch) logicalSwitches() []string {
	rows, err := f.db.List(vtep.DatabaseName, hwvtep.LogicalSwitchTable)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.(*hwvtep.LogicalSwitch).Name)
	}
	return out
}

// learn reports a MAC learned on the switch in logical switch ls, as ovs-vtep does.
func (f *fakeSwitch) learn(ls, mac, tunnelIP string) {
	f.t.Helper()
	rows, _ := f.db.List(vtep.DatabaseName, hwvtep.LogicalSwitchTable)
	var lsUUID string
	for u, r := range rows {
		if r.(*hwvtep.LogicalSwitch).Name == ls {
			lsUUID = u
		}
	}
	loc := &hwvtep.PhysicalLocator{UUID: "self", EncapsulationType: "vxlan_over_ipv4", DstIP: tunnelIP}
	mr := &hwvtep.UcastMacsLocal{MAC: mac, LogicalSwitch: lsUUID, Locator: "self"}
	memdb.Create(f.t, f.peer, []model.Model{loc, mr})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	memdb.WaitUntil(t, testWait, what, cond)
}

// switchesYAML: tor1 managed by gw1 (its replication node), tor2 by c1.
const switchesYAML = `
virtualNetworks:
  - {name: blue, vni: 5001}
virtualMachineInterfaces:
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.21}]}
torSwitches:
  - name: tor1
    endpoint: EP1
    replicationNode: gw1
    bindings: [{port: p1, vlan: 100, network: blue}]
  - name: tor2
    endpoint: EP2
    replicationNode: gw1
    managedBy: c1
    bindings: [{port: p2, vlan: 7, network: blue}]
`

// The node's set opens only the switches it manages, syncs them from the inputs, reports
// learned MACs and status, follows Changed, lets a switch go when another node takes it over,
// and removes its rows from a switch that left the config.
func TestSwitches(t *testing.T) {
	tor1 := newFakeSwitch(t, "tor1", "192.168.100.10")
	tor2 := newFakeSwitch(t, "tor2", "192.168.100.11")
	cfg := func(edits ...string) *gwmodel.Index {
		y := strings.NewReplacer("EP1", tor1.endpoint, "EP2", tor2.endpoint).Replace(switchesYAML)
		for i := 0; i+1 < len(edits); i += 2 {
			y = strings.Replace(y, edits[i], edits[i+1], 1)
		}
		return index(t, y)
	}
	in := func(x *gwmodel.Index) SyncInput {
		return SyncInput{Index: x, Locations: []Location{{VMI: "vm1", Node: "c1", TunnelIP: c1}},
			NodeTunnelIPs: map[string]netip.Addr{"gw1": gw1, "c1": c1}, Until: map[string]time.Time{"tor1": time.Now().Add(time.Hour)}}
	}
	s := NewSwitches("gw1")
	t.Cleanup(s.Close)
	x := cfg()
	if errs := s.Configure(x.Config, firstManaged(x.Config, "gw1")); len(errs) > 0 {
		t.Fatal(errs)
	}
	if !s.Managed("tor1") || s.Managed("tor2") {
		t.Fatalf("gw1 manages %s, want tor1 only", s)
	}
	eventually(t, "tor1 synced", func() bool {
		errs := s.Sync(context.Background(), in(x))
		st := s.Statuses()
		return len(errs) == 0 && len(st) == 1 && st[0].InSync
	})
	if got := tor1.logicalSwitches(); len(got) != 1 || got[0] != "ovsgw-5001" {
		t.Errorf("tor1's logical switches %v", got)
	}
	if got := tor2.logicalSwitches(); len(got) != 0 {
		t.Errorf("tor2, managed by c1, was written: %v", got)
	}
	st := s.Statuses()[0]
	if st.Name != "tor1" || st.Rows != (vtep.RowCounts{LogicalSwitches: 1, Bindings: 1, RemoteMACs: 1, FloodEntries: 1}) {
		t.Errorf("status %+v", st)
	}

	select { // drain
	case <-s.Changed():
	default:
	}
	tor1.learn("ovsgw-5001", "02:00:00:00:0b:01", "192.168.100.10")
	select {
	case <-s.Changed():
	case <-time.After(testWait):
		t.Fatal("Changed did not fire after tor1 learned a MAC")
	}
	eventually(t, "learned MAC reported", func() bool { return len(s.Learned()["tor1"]) == 1 })
	want := LearnedMAC{Switch: "tor1", VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: ip("192.168.100.10")}
	if got := s.Learned()["tor1"][0]; got != want {
		t.Errorf("learned %+v, want %+v", got, want)
	}

	// Without the replication node's tunnel IP the status says why there is no flood entry.
	noRepl := in(x)
	noRepl.NodeTunnelIPs = nil
	s.Sync(context.Background(), noRepl)
	if st := s.Statuses()[0]; !strings.Contains(strings.Join(st.Problems, "; "), "replication node gw1 has no tunnel IP yet") {
		t.Errorf("problems %v", st.Problems)
	}

	// tor1 handed over to c1: gw1 lets it go and leaves its rows for c1.
	x = cfg("    replicationNode: gw1\n    bindings: [{port: p1", "    replicationNode: gw1\n    managedBy: c1\n    bindings: [{port: p1")
	s.Configure(x.Config, firstManaged(x.Config, "gw1"))
	if s.Managed("tor1") || len(s.Statuses()) != 0 {
		t.Errorf("gw1 still manages tor1 after the hand-over: %s", s)
	}
	if got := tor1.logicalSwitches(); len(got) != 1 {
		t.Errorf("hand-over removed tor1's rows: %v", got)
	}

	// Back to gw1, then tor1 leaves the config: gw1 removes its rows.
	x = cfg()
	s.Configure(x.Config, firstManaged(x.Config, "gw1"))
	eventually(t, "tor1 managed and connected again", func() bool {
		s.Sync(context.Background(), in(x))
		st := s.Statuses()
		return len(st) == 1 && st[0].InSync
	})
	x = cfg("  - name: tor1\n    endpoint: "+tor1.endpoint+"\n    replicationNode: gw1\n    bindings: [{port: p1, vlan: 100, network: blue}]\n", "")
	s.Configure(x.Config, firstManaged(x.Config, "gw1"))
	eventually(t, "tor1's rows removed after it left the config", func() bool { return len(tor1.logicalSwitches()) == 0 })
}

// What a switch reports as learned is published (Tor_MAC) only when usable: a server behind it
// claiming the broadcast address, a VMI's MAC or an 8-byte "MAC" is left out and counted in the
// switch's status, so no other node or switch ever acts on it.
func TestToRLearnedMACsPublishedOnlyWhenUsable(t *testing.T) {
	tor1 := newFakeSwitch(t, "tor1", "192.168.100.10")
	x := index(t, strings.NewReplacer("EP1", tor1.endpoint, "EP2", "tcp:127.0.0.1:1").Replace(switchesYAML))
	s := NewSwitches("gw1")
	t.Cleanup(s.Close)
	if errs := s.Configure(x.Config, map[string]bool{"tor1": true}); len(errs) > 0 {
		t.Fatal(errs)
	}
	in := SyncInput{Index: x, NodeTunnelIPs: map[string]netip.Addr{"gw1": gw1, "c1": c1}, Until: map[string]time.Time{"tor1": time.Now().Add(time.Hour)}}
	eventually(t, "tor1 synced", func() bool { return len(s.Sync(context.Background(), in)) == 0 && s.Statuses()[0].InSync })
	tor1.learn("ovsgw-5001", "02:00:00:00:0B:01", "192.168.100.10")
	for i, bad := range []string{"ff:ff:ff:ff:ff:ff", "02:00:00:00:02:01", "02:00:00:00:0b:09:aa:bb", "00:00:00:00:00:00"} {
		tor1.learn("ovsgw-5001", bad, fmt.Sprintf("192.168.100.%d", 20+i)) // (one locator row per address)
	}
	eventually(t, "the good MAC reported", func() bool { return len(s.Learned()["tor1"]) > 0 })
	want := []LearnedMAC{{Switch: "tor1", VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: ip("192.168.100.10")}}
	if got := s.Learned()["tor1"]; !slices.Equal(got, want) {
		t.Errorf("learned %+v, want %+v", got, want)
	}
	if p := strings.Join(s.Statuses()[0].Problems, "; "); !strings.Contains(p, "4 learned MACs ignored") {
		t.Errorf("status problems %q do not count the 4 ignored MACs", p)
	}
}

// firstManaged holds, for the test, the leases of the switches whose first manager is node.
func firstManaged(c *gwmodel.Config, node string) map[string]bool {
	out := map[string]bool{}
	for _, sw := range c.TorSwitches {
		if sw.Managers()[0] == node {
			out[sw.Name] = true
		}
	}
	return out
}

// TestFencedSwitchNotWritten: a switch whose lease's fence has passed (or that has none) is not
// written, whatever the sync asks; with a fence ahead it is.
func TestFencedSwitchNotWritten(t *testing.T) {
	tor1 := newFakeSwitch(t, "tor1", "192.168.100.10")
	tor2 := newFakeSwitch(t, "tor2", "192.168.100.11")
	x := index(t, strings.NewReplacer("EP1", tor1.endpoint, "EP2", tor2.endpoint).Replace(switchesYAML))
	s := NewSwitches("gw1")
	t.Cleanup(s.Close)
	s.Configure(x.Config, map[string]bool{"tor1": true})
	in := SyncInput{Index: x, NodeTunnelIPs: map[string]netip.Addr{"gw1": gw1}}
	eventually(t, "tor1 connected", func() bool { st := s.Statuses(); return len(st) == 1 && st[0].Connected })
	for _, until := range []map[string]time.Time{nil, {"tor1": time.Now().Add(-time.Millisecond)}} {
		in.Until = until
		if errs := s.Sync(context.Background(), in); len(errs) > 0 {
			t.Fatal(errs)
		}
		if got := tor1.logicalSwitches(); len(got) != 0 {
			t.Fatalf("fence %v: tor1 written: %v", until, got)
		}
	}
	in.Until = map[string]time.Time{"tor1": time.Now().Add(time.Minute)}
	eventually(t, "tor1 written within its fence", func() bool {
		s.Sync(context.Background(), in)
		return len(tor1.logicalSwitches()) == 1
	})
}
