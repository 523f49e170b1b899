package vtep

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovsgw/ovsgw/ovsdb/vtep/hwvtep"
)

// A first sync creates every wanted row in one transaction; the database then reads as desired.
func TestSyncCreatesDesiredRows(t *testing.T) {
	m := newMemSwitch(t)
	c := m.connect()
	res := doSync(t, c, desiredBase())
	if n := c.transactions.Load(); n != 1 {
		t.Errorf("%d transactions, want 1", n)
	}
	want := map[string]int{
		"insert Logical_Switch": 2, "bind Physical_Port": 2, "insert Physical_Locator": 3,
		"insert Ucast_Macs_Remote": 3, "insert Physical_Locator_Set": 1, "insert Mcast_Macs_Remote": 2,
	}
	if got := res.Counts(); !reflect.DeepEqual(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	if len(res.Problems) > 0 {
		t.Errorf("problems: %v", res.Problems)
	}
	v := m.view()
	wantView := &view{
		Switches: map[string]string{"ovsgw-5001": "ovsgw: virtual network blue | 5001", "ovsgw-5002": "ovsgw: virtual network red | 5002"},
		Bindings: map[string]string{"p1 100": "ovsgw-5001", "p2 200": "ovsgw-5002"},
		Ucast: map[string]string{
			"ovsgw-5001 02:00:00:00:02:01": "10.1.0.21 " + c1,
			"ovsgw-5001 02:00:00:00:01:0a": "10.1.0.10 " + gw1,
			"ovsgw-5002 02:00:00:00:02:03": "10.1.0.31 " + c2,
		},
		Mcast:    map[string][]string{"ovsgw-5001 unknown-dst": {gw1}, "ovsgw-5002 unknown-dst": {gw1}},
		Locators: map[string]bool{gw1: true, c1: true, c2: true},
	}
	v.rows = nil
	if !reflect.DeepEqual(v, wantView) {
		t.Errorf("database:\n%+v\nwant\n%+v", v, wantView)
	}
	st := c.Status()
	if !st.Connected || !st.InSync || st.Rows != (RowCounts{LogicalSwitches: 2, Bindings: 2, RemoteMACs: 3, FloodEntries: 2}) ||
		!slices.Equal(st.TunnelIPs, []string{switchTunnelIP}) || st.LastSync == nil {
		t.Errorf("status %+v", st)
	}
}

// The same Desired again, or the same with its lists reordered and MACs in another case, sends
// nothing and changes no row.
func TestSyncAgainWritesNothing(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign()
	c := m.connect()
	doSync(t, c, desiredBase())
	before, sent := m.rows(), c.transactions.Load()
	d := desiredBase()
	slices.Reverse(d.RemoteMACs)
	slices.Reverse(d.Bindings)
	slices.Reverse(d.LogicalSwitches)
	d.RemoteMACs[0].MAC = strings.ToUpper(d.RemoteMACs[0].MAC)
	for _, dd := range []Desired{desiredBase(), d} {
		if res := doSync(t, c, dd); !res.Empty() {
			t.Errorf("resync changes: %v", res.Changes)
		}
	}
	if n := c.transactions.Load() - sent; n != 0 {
		t.Errorf("resync sent %d transactions", n)
	}
	if after := m.rows(); !reflect.DeepEqual(before, after) {
		t.Error("resync changed rows")
	}
}

// A changed Desired changes exactly the rows that differ: one MAC moves to another node (its
// locator), one changes its IP, one goes, one comes, a binding moves to another VLAN. Every other
// row keeps its UUID and content; the locator no row uses any more is gone, the shared one stays.
func TestSyncChangesOnlyTheDifference(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign()
	c := m.connect()
	doSync(t, c, desiredBase())
	before := m.view()

	d := desiredBase()
	d.RemoteMACs[0].Locator = ip(c2)                                                                      // vm1 moved from c1 to c2
	d.RemoteMACs[1].IP = ip("10.1.0.11")                                                                  // bms1's IP changed
	d.RemoteMACs = d.RemoteMACs[:2]                                                                       // vm3 (red) went
	d.RemoteMACs = append(d.RemoteMACs, RemoteMAC{VNI: 5002, MAC: "02:00:00:00:02:04", Locator: ip(gw1)}) // came, no IP
	d.Bindings[1].VLAN = 201
	res := doSync(t, c, d)
	want := []string{
		"update Ucast_Macs_Remote ovsgw-5001 02:00:00:00:02:01 (locator)",
		"update Ucast_Macs_Remote ovsgw-5001 02:00:00:00:01:0a (ipaddr)",
		"delete Ucast_Macs_Remote ovsgw-5002 02:00:00:00:02:03",
		"insert Ucast_Macs_Remote ovsgw-5002 02:00:00:00:02:04",
		"unbind Physical_Port p2 vlan 200 (ovsgw-5002)",
		"bind Physical_Port p2 vlan 201 (ovsgw-5002)",
	}
	var got []string
	for _, ch := range res.Changes {
		got = append(got, ch.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	after := m.view()
	unchanged := func(table string, keep func(model.Model) bool) {
		for u, r := range before.rows[table] {
			if !keep(r) {
				continue
			}
			if a, ok := after.rows[table][u]; !ok || !reflect.DeepEqual(a, r) {
				t.Errorf("%s row %s changed: %+v → %+v", table, u, r, a)
			}
		}
	}
	unchanged(hwvtep.LogicalSwitchTable, func(model.Model) bool { return true })
	unchanged(hwvtep.McastMacsRemoteTable, func(model.Model) bool { return true })
	unchanged(hwvtep.PhysicalLocatorSetTable, func(model.Model) bool { return true })
	unchanged(hwvtep.UcastMacsRemoteTable, func(r model.Model) bool {
		return r.(*hwvtep.UcastMacsRemote).MAC == "02:aa:00:00:00:01" // the operator's
	})
	// c1's locator is still used by the operator's MAC; c2's by the new location of vm1 and the
	// switch's BFD tunnel: all three stay.
	if !after.Locators[c1] || !after.Locators[c2] || !after.Locators[gw1] {
		t.Errorf("locators %v", after.Locators)
	}
	if v := doSync(t, c, d); !v.Empty() {
		t.Errorf("second sync of the same: %v", v.Changes)
	}
}

// Rows of other writers survive every sync: from nothing, through changes, to nothing wanted.
func TestForeignRowsSurvive(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign()
	c := m.connect()
	foreign := foreignRows(m.rows())
	check := func(step string) {
		t.Helper()
		if got := foreignRows(m.rows()); !reflect.DeepEqual(got, foreign) {
			for table, rows := range foreign {
				for u, r := range rows {
					if !reflect.DeepEqual(got[table][u], r) {
						t.Errorf("%s: %s row %s changed: %+v → %+v", step, table, u, r, got[table][u])
					}
				}
			}
			for table, rows := range got {
				for u := range rows {
					if foreign[table][u] == nil {
						t.Errorf("%s: new row %s %s counted as foreign", step, table, u)
					}
				}
			}
		}
		// The operator's flood row still points at its own locator set.
		if v := m.view(); !slices.Equal(v.Mcast["manual unknown-dst"], []string{"10.0.0.9"}) || v.Ucast["manual 02:aa:00:00:00:01"] != "10.7.0.1 "+c1 {
			t.Errorf("%s: the operator's MAC rows changed: %v %v", step, v.Mcast, v.Ucast)
		}
	}
	doSync(t, c, desiredBase())
	check("first sync")
	d := desiredBase()
	d.RemoteMACs = d.RemoteMACs[1:]
	d.LogicalSwitches[0].Flood = []netip.Addr{ip(c2)}
	doSync(t, c, d)
	check("changes")
	m.learn("ovsgw-5001", "02:00:00:00:0b:01", "")
	doSync(t, c, Desired{})
	check("nothing wanted")
	v := m.view()
	for name := range v.Switches {
		if strings.HasPrefix(name, NamePrefix) {
			t.Errorf("logical switch %s left behind", name)
		}
	}
	if st := c.Status(); st.Rows != (RowCounts{}) || !st.InSync {
		t.Errorf("status after removing everything: %+v", st)
	}
}

// Removing a VN's binding (and with it the VN from the switch) removes exactly its rows: its
// logical switch, remote MACs, flood row, binding, and the switch's local rows in it; the other
// VN's rows keep their UUIDs; a locator only it used is collected, shared ones stay.
func TestRemoveVNRemovesExactlyItsRows(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign()
	c := m.connect()
	d := desiredBase()
	d.RemoteMACs = append(d.RemoteMACs, RemoteMAC{VNI: 5001, MAC: "02:00:00:00:02:09", Locator: ip("10.0.0.4")})
	doSync(t, c, d)
	m.learn("ovsgw-5001", "02:00:00:00:0b:01", "10.1.0.50")
	m.learn("ovsgw-5002", "02:00:00:00:0b:02", "")
	before := m.view()
	blue := m.lsUUID("ovsgw-5001")

	red := Desired{LogicalSwitches: d.LogicalSwitches[1:], Bindings: d.Bindings[1:], RemoteMACs: d.RemoteMACs[2:3]}
	res := doSync(t, c, red)
	want := map[string]int{"delete Logical_Switch": 1, "delete Ucast_Macs_Remote": 3, "delete Mcast_Macs_Remote": 1,
		"unbind Physical_Port": 1, "delete Ucast_Macs_Local": 1}
	if got := res.Counts(); !reflect.DeepEqual(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	after := m.view()
	for table, rows := range before.rows {
		for u, r := range rows {
			gone := false
			switch x := r.(type) {
			case *hwvtep.LogicalSwitch:
				gone = u == blue
			case *hwvtep.UcastMacsRemote:
				gone = x.LogicalSwitch == blue
			case *hwvtep.McastMacsRemote:
				gone = x.LogicalSwitch == blue
			case *hwvtep.UcastMacsLocal:
				gone = x.LogicalSwitch == blue
			case *hwvtep.PhysicalLocator:
				gone = x.DstIP == "10.0.0.4" // used by blue's 02:..:09 only
			case *hwvtep.PhysicalPort:
				if x.Name == "p1" {
					continue // checked below
				}
			}
			a, ok := after.rows[table][u]
			switch {
			case gone && ok:
				t.Errorf("%s row %+v left behind", table, r)
			case !gone && (!ok || !reflect.DeepEqual(a, r)):
				t.Errorf("%s row %s changed: %+v → %+v", table, u, r, a)
			}
		}
	}
	if _, ok := after.Bindings["p1 100"]; ok {
		t.Error("binding p1 VLAN 100 left behind")
	}
	if got := c.LocalMACs(); len(got) != 1 || got[0].MAC != "02:00:00:00:0b:02" {
		t.Errorf("local MACs %+v", got)
	}
}

// What cannot be programmed is reported and left out; everything else is synced, and the
// blocking rows are not touched.
func TestProblemsAreReportedAndSkipped(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign()
	key := 6000
	m.peerCreate([]model.Model{&hwvtep.LogicalSwitch{UUID: "imp", Name: LogicalSwitchName(6000), Description: "not ours", TunnelKey: &key}},
		m.mutateOp(&hwvtep.PhysicalPort{UUID: m.portUUID("p1")}, "VLANBindings", map[int]string{150: "imp"}))
	c := m.connect()
	foreign := foreignRows(m.rows())
	d := desiredBase()
	d.LogicalSwitches = append(d.LogicalSwitches,
		LogicalSwitch{VNI: 6000, Network: "taken-name"},
		LogicalSwitch{VNI: 7000, Network: "taken-key"},
		LogicalSwitch{VNI: 5003, Network: "green"})
	d.Bindings = append(d.Bindings,
		Binding{Port: "p1", VLAN: 150, VNI: 5003}, // someone else's binding holds it
		Binding{Port: "p9", VLAN: 1, VNI: 5003},   // no such port
		Binding{Port: "p3", VLAN: 1, VNI: 6000},   // VNI not programmed
		Binding{Port: "p1", VLAN: 100, VNI: 5002}, // wanted twice
	)
	d.RemoteMACs = append(d.RemoteMACs, RemoteMAC{VNI: 9999, MAC: "02:00:00:00:09:99", Locator: ip(c1)})
	res := doSync(t, c, d)
	for _, want := range []string{
		"VNI 6000 (taken-name): logical switch ovsgw-6000 exists but is not ovsgw's",
		"VNI 7000 (taken-key): logical switch manual, not ovsgw's, already has tunnel_key 7000",
		"port p1 VLAN 150 is bound to logical switch ovsgw-6000, not ovsgw's",
		`port p9 VLAN 1: switch "tor1" has no such port`,
		"port p3 VLAN 1: VNI 6000 is not programmed on this switch",
		"port p1 VLAN 100 wanted twice",
		"remote MAC 02:00:00:00:09:99: no logical switch is wanted for VNI 9999",
	} {
		if !slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem %q in:\n  %s", want, strings.Join(res.Problems, "\n  "))
		}
	}
	if got := foreignRows(m.rows()); !reflect.DeepEqual(got, foreign) {
		t.Error("a blocking row was changed")
	}
	v := m.view()
	if v.Switches["ovsgw-5003"] == "" || v.Bindings["p1 100"] != "ovsgw-5001" || v.Bindings["p1 150"] != "ovsgw-6000" {
		t.Errorf("the rest was not synced: %v %v", v.Switches, v.Bindings)
	}
	st := c.Status()
	if st.InSync || len(st.Problems) != len(res.Problems) {
		t.Errorf("status with problems: InSync %v, problems %v", st.InSync, st.Problems)
	}
	if again := doSync(t, c, d); !again.Empty() {
		t.Errorf("resync with problems changed: %v", again.Changes)
	}
}

// A logical switch of ovsgw's that someone's logical router binds is emptied but kept, and
// deleted once the router lets go.
func TestRetainedWhileARouterBindsIt(t *testing.T) {
	m := newMemSwitch(t)
	c := m.connect()
	doSync(t, c, desiredBase())
	m.peerCreate([]model.Model{&hwvtep.LogicalRouter{Name: "lr2", SwitchBinding: map[string]string{"10.1.0.0/24": m.lsUUID("ovsgw-5002")}}})
	d := desiredBase()
	d.LogicalSwitches, d.Bindings, d.RemoteMACs = d.LogicalSwitches[:1], d.Bindings[:1], d.RemoteMACs[:2]
	res := doSync(t, c, d)
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "Logical_Router lr2 binds it: kept, emptied") {
		t.Errorf("problems %v", res.Problems)
	}
	v := m.view()
	if v.Switches["ovsgw-5002"] == "" || v.Bindings["p2 200"] != "" || v.Ucast["ovsgw-5002 02:00:00:00:02:03"] != "" || v.Mcast["ovsgw-5002 unknown-dst"] != nil {
		t.Errorf("not emptied and kept: %+v", v)
	}
	for u, r := range m.rows()[hwvtep.LogicalRouterTable] {
		if r.(*hwvtep.LogicalRouter).Name == "lr2" {
			ops, err := m.peer.Where(&hwvtep.LogicalRouter{UUID: u}).Delete()
			if err != nil {
				t.Fatal(err)
			}
			m.peerTransact(ops)
		}
	}
	waitUntil(t, "the client sees the router gone", func() bool {
		s, _ := c.snapshot(context.Background())
		return len(s.routers) == 0
	})
	if res := doSync(t, c, d); res.Counts()["delete Logical_Switch"] != 1 || len(res.Problems) != 0 {
		t.Errorf("after the router went: %v %v", res.Changes, res.Problems)
	}
}

// An existing locator (the index allows one per IP) is reused, not inserted again, and a changed
// flood list gets a new locator set while the old one is collected once unused.
func TestLocatorsAndSetsAreShared(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign() // locators to c1, c2, 10.0.0.9 and the switch exist
	c := m.connect()
	res := doSync(t, c, desiredBase())
	if n := res.Counts()["insert Physical_Locator"]; n != 1 { // only gw1's is new
		t.Errorf("%d locators inserted, want 1 (gw1's)", n)
	}
	d := desiredBase()
	d.LogicalSwitches[0].Flood = []netip.Addr{ip("10.0.0.9")} // the operator's set holds exactly that
	res = doSync(t, c, d)
	if got := res.Counts(); !reflect.DeepEqual(got, map[string]int{"update Mcast_Macs_Remote": 1}) {
		t.Errorf("changes %v, want the flood row pointed at the existing set", got)
	}
	d.LogicalSwitches[0].Flood = []netip.Addr{ip(c2), ip(gw1)}
	res = doSync(t, c, d)
	if got := res.Counts(); !reflect.DeepEqual(got, map[string]int{"update Mcast_Macs_Remote": 1, "insert Physical_Locator_Set": 1}) {
		t.Errorf("changes %v", got)
	}
	if v := m.view(); !slices.Equal(v.Mcast["ovsgw-5001 unknown-dst"], []string{c2, gw1}) && !slices.Equal(v.Mcast["ovsgw-5001 unknown-dst"], []string{gw1, c2}) {
		t.Errorf("flood %v", v.Mcast)
	}
}

// LocalMACs lists what the switch learned in ovsgw's logical switches only; Changed fires when it
// learns one.
func TestLocalMACsAndChanged(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign()
	c := m.connect()
	doSync(t, c, desiredBase())
	drain(c)
	m.learn("ovsgw-5001", "02:00:00:00:0B:01", "10.1.0.50")
	m.learn("manual", "02:00:00:00:0b:99", "")
	select {
	case <-c.Changed():
	case <-time.After(testWait):
		t.Fatal("Changed did not fire after the switch learned a MAC")
	}
	waitUntil(t, "learned MAC in cache", func() bool { return len(c.LocalMACs()) == 1 })
	want := LocalMAC{LogicalSwitch: "ovsgw-5001", VNI: 5001, MAC: "02:00:00:00:0b:01", IP: "10.1.0.50", Locator: switchTunnelIP}
	if got := c.LocalMACs(); got[0] != want {
		t.Errorf("local MACs %+v, want %+v", got, want)
	}
	if got := c.Status().MACsLearned; got != 1 {
		t.Errorf("MACsLearned %d", got)
	}
}

// Someone deleting or changing ovsgw's row shows as out of sync, Changed fires, and the next sync
// repairs exactly that row.
func TestTamperedRowsAreRepaired(t *testing.T) {
	m := newMemSwitch(t)
	c := m.connect()
	doSync(t, c, desiredBase())
	drain(c)
	for u, r := range m.rows()[hwvtep.UcastMacsRemoteTable] {
		if r.(*hwvtep.UcastMacsRemote).MAC == "02:00:00:00:02:01" {
			ops, err := m.peer.Where(&hwvtep.UcastMacsRemote{UUID: u}).Delete()
			if err != nil {
				t.Fatal(err)
			}
			m.peerTransact(ops)
		}
	}
	select {
	case <-c.Changed():
	case <-time.After(testWait):
		t.Fatal("Changed did not fire")
	}
	waitUntil(t, "out of sync", func() bool { return !c.Status().InSync })
	res := doSync(t, c, desiredBase())
	// c1's locator went with the only row that used it.
	if got := res.Counts(); !reflect.DeepEqual(got, map[string]int{"insert Ucast_Macs_Remote": 1, "insert Physical_Locator": 1}) {
		t.Errorf("repair %v", got)
	}
	if !c.Status().InSync {
		t.Error("not in sync after the repair")
	}
}

// The server goes away and comes back with the same database (ovsdb-server restarted on its
// file): the client reconnects by itself, Changed fires, and a resync writes nothing.
func TestReconnectAndResync(t *testing.T) {
	m := newMemSwitch(t)
	m.addForeign()
	c := m.connect()
	doSync(t, c, desiredBase())
	before := m.rows()
	m.stop()
	waitUntil(t, "disconnect noticed", func() bool { return !c.Connected() })
	if _, err := c.Sync(context.Background(), desiredBase()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("sync while disconnected: %v, want ErrNotConnected", err)
	}
	if st := c.Status(); st.Connected || st.InSync || st.LastSyncError == "" {
		t.Errorf("status while disconnected: %+v", st)
	}
	drain(c)
	start := time.Now()
	m.start()
	select {
	case <-c.Changed():
	case <-time.After(testWait):
		t.Fatal("Changed did not fire after the reconnect")
	}
	waitUntil(t, "reconnected", c.Connected)
	reconnect := time.Since(start)
	sent := c.transactions.Load()
	res := doSync(t, c, desiredBase())
	t.Logf("reconnect %v, resync %v after the server came back", reconnect, time.Since(start))
	if !res.Empty() || c.transactions.Load() != sent {
		t.Errorf("resync after reconnect changed %v", res.Changes)
	}
	if after := m.rows(); !reflect.DeepEqual(before, after) {
		t.Error("rows changed across the reconnect")
	}
}

// A switch that is not there when the client starts is connected to once it appears; until
// then Sync says ErrNotConnected and Status says not connected.
func TestConnectsWhenTheSwitchAppears(t *testing.T) {
	m := newMemSwitch(t)
	m.stop()
	c, err := New(Options{Endpoint: m.endpoint, Switch: switchName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.Sync(context.Background(), desiredBase()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("sync before connecting: %v", err)
	}
	if st := c.Status(); st.Connected || st.InSync {
		t.Errorf("status before connecting: %+v", st)
	}
	m.start()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	doSync(t, c, desiredBase())
	if st := c.Status(); !st.InSync {
		t.Errorf("not in sync: %+v", st)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no switch", Options{Endpoint: "tcp:127.0.0.1:6640"}, "no switch name"},
		{"bad endpoint", Options{Endpoint: "http://x", Switch: "s"}, "want tcp:HOST:PORT"},
		{"ssl without files", Options{Endpoint: "ssl:127.0.0.1:6640", Switch: "s"}, "needs a private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.opts)
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
	// Files are read by the client's own goroutine, never by New (which its caller may call
	// under a lock): one that cannot be read shows in the status.
	c, err := New(Options{Endpoint: "ssl:127.0.0.1:6640", Switch: "s", PrivateKey: "/nonexistent/k",
		Certificate: "/nonexistent/c", CACert: "/nonexistent/ca"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitUntil(t, "the status names the missing key", func() bool {
		return c.Status().ConnectError == "private key: stat /nonexistent/k: no such file or directory"
	})
}

// 1,000 remote MACs in one VN: one transaction, and how long it takes against the in-memory
// server (the e2e test measures it against ovsdb-server).
func TestSyncThousandMACs(t *testing.T) {
	m := newMemSwitch(t)
	c := m.connect()
	d := Thousand(1000)
	start := time.Now()
	res := doSync(t, c, d)
	first := time.Since(start)
	if got := res.Counts()["insert Ucast_Macs_Remote"]; got != 1000 || c.transactions.Load() != 1 {
		t.Fatalf("%d MACs inserted in %d transactions", got, c.transactions.Load())
	}
	start = time.Now()
	if res := doSync(t, c, d); !res.Empty() {
		t.Fatal("resync changed")
	}
	again := time.Since(start)
	d.RemoteMACs[500].Locator = ip(c2)
	start = time.Now()
	if res := doSync(t, c, d); len(res.Changes) != 1 {
		t.Fatalf("one move: %v", res.Changes)
	}
	t.Logf("1000 MACs: first sync %v, unchanged resync %v, one MAC moved %v", first, again, time.Since(start))
}

func drain(c *Client) {
	select {
	case <-c.Changed():
	default:
	}
}

// Thousand is a Desired with n remote MACs in VN 5001 spread over 10 nodes.
func Thousand(n int) Desired {
	d := Desired{LogicalSwitches: []LogicalSwitch{{VNI: 5001, Network: "blue", Flood: []netip.Addr{ip(gw1)}}},
		Bindings: []Binding{{Port: "p1", VLAN: 100, VNI: 5001}}}
	for i := range n {
		d.RemoteMACs = append(d.RemoteMACs, RemoteMAC{VNI: 5001, MAC: fmt.Sprintf("02:00:00:01:%02x:%02x", i/256, i%256),
			IP: netip.AddrFrom4([4]byte{10, 1, byte(i / 256), byte(i % 256)}), Locator: netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%10)})})
	}
	return d
}
