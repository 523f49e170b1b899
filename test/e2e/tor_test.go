package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/tor"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// The ToR tests: a VXLAN top-of-rack switch emulated by ovs-vtep (Debian's openvswitch-vtep) in
// its own namespace, its ovsdb-server serving both its Open_vSwitch and its hardware_vtep
// database, on the same underlay as the nodes:
//
//	bms-t1 (VLAN 100, blue) ─┐                                  underlay 192.168.100.0/24
//	bms-t2 (VLAN 200, red)  ─┴ access ══ p1 ── tor1 (ovs-vtep) ── ul ── nodes
//
// TestToREmulator drives package vtep directly, as the managing agent would, against a plain
// OVS node with a VXLAN port; it needs no agent. TestToRAgent runs the agents.

// Underlay addresses of the ToR tests.
const (
	torTunnelCIDR = "192.168.100.10/24"
	torName       = "tor1" // the Physical_Switch
	torPort       = "p1"   // the switch port the servers' VLANs arrive on
)

// torLabYAML: blue and red share a subnet; vm1 (blue) and vm3 (red) live on compute c1, bms1 is
// a remote instance of blue behind gw1's eth1 VLAN 100; the switch binds p1 VLAN 100 into blue and
// VLAN 200 into red, and gw1 replicates (and, by default, manages) it. ENDPOINT is replaced.
const torLabYAML = `
virtualNetworks:
  - {name: blue, vni: 5001, subnets: ["10.1.0.0/24"]}
  - {name: red, vni: 5002, subnets: ["10.1.0.0/24"]}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-100, vlan: 100, vmi: bms1}
virtualMachineInterfaces:
  - {name: bms1, network: blue, mac: "02:00:00:00:01:0a", instanceIPs: [{address: 10.1.0.10}]}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.21}]}
  - {name: vm3, network: red, mac: "02:00:00:00:02:03", instanceIPs: [{address: 10.1.0.31}]}
torSwitches:
  - name: tor1
    endpoint: ENDPOINT
    replicationNode: gw1
    bindings:
      - {port: p1, vlan: 100, network: blue}
      - {port: p1, vlan: 200, network: red}
`

// Bare-metal servers behind the switch.
const (
	bmsT1MAC, bmsT1CIDR = "02:00:00:00:0b:01", "10.1.0.50/24" // blue, VLAN 100
	bmsT2MAC, bmsT2CIDR = "02:00:00:00:0b:02", "10.1.0.60/24" // red, VLAN 200
)

// emulatedSwitch builds the switch on the underlay with its two servers and starts ovs-vtep.
func emulatedSwitch(t *testing.T, underlay *testbed.ToR) (sw *testbed.VTEP, blue, red *testbed.Host) {
	t.Helper()
	sw = testbed.NewVTEP(t, "tor1", torName)
	sw.AttachUnderlay(t, underlay, "ul-tor1", torTunnelCIDR)
	sw.AddSwitchPort(t, torPort)
	blue = sw.AddServer(t, "bms-t1", 100, bmsT1MAC, bmsT1CIDR)
	red = sw.AddServer(t, "bms-t2", 200, bmsT2MAC, bmsT2CIDR)
	sw.StartEmulator(t)
	return sw, blue, red
}

func parseConfig(t *testing.T, yaml string) *model.Index {
	t.Helper()
	c, err := model.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return model.NewIndex(c)
}

// vtepDB is the switch's database read with vtep-ctl (an independent view): table → UUID → the
// row's columns as vtep-ctl prints them in JSON.
type vtepDB map[string]map[string]map[string]string

// vtepColumns are the columns compared; statistics and fault columns, which the emulator
// rewrites every second, are left out.
var vtepColumns = map[string][]string{
	"Logical_Switch":       {"name", "description", "tunnel_key"},
	"Ucast_Macs_Remote":    {"MAC", "logical_switch", "locator", "ipaddr"},
	"Mcast_Macs_Remote":    {"MAC", "logical_switch", "locator_set"},
	"Ucast_Macs_Local":     {"MAC", "logical_switch", "locator", "ipaddr"},
	"Physical_Port":        {"name", "vlan_bindings"},
	"Physical_Locator":     {"dst_ip"},
	"Physical_Locator_Set": {"locators"},
}

func readVTEP(t *testing.T, sw *testbed.VTEP) vtepDB {
	t.Helper()
	db := vtepDB{}
	for table, cols := range vtepColumns {
		out := sw.MustVtepctl(t, "--format=json", "--columns=_uuid,"+strings.Join(cols, ","), "list", table)
		var doc struct {
			Data [][]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("vtep-ctl list %s: %v\n%s", table, err, out)
		}
		db[table] = map[string]map[string]string{}
		for _, row := range doc.Data {
			var uuid []string
			if err := json.Unmarshal(row[0], &uuid); err != nil {
				t.Fatal(err)
			}
			r := map[string]string{}
			for i, c := range cols {
				r[c] = string(row[i+1])
			}
			db[table][uuid[1]] = r
		}
	}
	return db
}

// ovsgwLS returns the UUIDs of ovsgw's logical switches, name → UUID.
func (db vtepDB) ovsgwLS() map[string]string {
	out := map[string]string{}
	for u, r := range db["Logical_Switch"] {
		name := strings.Trim(r["name"], `"`)
		if strings.HasPrefix(name, vtep.NamePrefix) && strings.Contains(r["description"], vtep.DescriptionPrefix) {
			out[name] = u
		}
	}
	return out
}

// lsOf is the UUID a row's logical_switch column holds.
func lsOf(r map[string]string) string {
	var ref []string
	_ = json.Unmarshal([]byte(r["logical_switch"]), &ref)
	if len(ref) == 2 {
		return ref[1]
	}
	return ""
}

// foreign keeps the rows of db that are not ovsgw's: others' logical switches and their MAC
// rows, and each port with only its bindings to others' logical switches.
func (db vtepDB) foreign() vtepDB {
	ours := map[string]bool{}
	for _, u := range db.ovsgwLS() {
		ours[u] = true
	}
	out := vtepDB{}
	for _, table := range []string{"Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote"} {
		out[table] = map[string]map[string]string{}
		for u, r := range db[table] {
			if !ours[u] && !ours[lsOf(r)] {
				out[table][u] = r
			}
		}
	}
	out["Physical_Port"] = map[string]map[string]string{}
	for u, r := range db["Physical_Port"] {
		var m []any
		_ = json.Unmarshal([]byte(r["vlan_bindings"]), &m)
		var keep []string
		if len(m) == 2 {
			for _, pair := range m[1].([]any) {
				kv := pair.([]any)
				ref := kv[1].([]any)
				if !ours[ref[1].(string)] {
					keep = append(keep, fmt.Sprint(kv[0], "→", ref[1]))
				}
			}
		}
		slices.Sort(keep)
		out["Physical_Port"][u] = map[string]string{"name": r["name"], "foreign_bindings": strings.Join(keep, ",")}
	}
	return out
}

// changed lists the rows of the tables given that differ between a and b: "table uuid
// added|removed|changed".
func changed(a, b vtepDB, tables ...string) []string {
	var out []string
	for _, table := range tables {
		for u, r := range a[table] {
			if s, ok := b[table][u]; !ok {
				out = append(out, table+" "+u+" removed")
			} else if !reflect.DeepEqual(r, s) {
				out = append(out, table+" "+u+" changed")
			}
		}
		for u := range b[table] {
			if _, ok := a[table][u]; !ok {
				out = append(out, table+" "+u+" added")
			}
		}
	}
	slices.Sort(out)
	return out
}

func syncSwitch(t *testing.T, c *vtep.Client, d vtep.Desired) (*vtep.Result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	res, err := c.Sync(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return res, time.Since(start)
}

// realized waits until the emulator has built logical switch ls with a VXLAN port to each of
// remotes (key = VNI) and has a flow for each MAC, and returns how long that took.
func realized(t *testing.T, sw *testbed.VTEP, ls string, vni uint32, remotes []string, macs []string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	lab.Eventually(t, within, "the emulator realizes "+ls, func() error {
		if err := sw.EmulatorDown(); err != nil {
			t.Fatal(err)
		}
		br, err := emulatorBridge(sw, ls)
		if err != nil {
			return err
		}
		// One line per VXLAN interface: its options, "key=5001 remote_ip=192.168.100.2".
		ifaces, err := sw.Vsctl("--format=csv", "--data=bare", "--no-headings", "--columns=options", "find", "Interface", "type=vxlan")
		if err != nil {
			return err
		}
		for _, r := range remotes {
			found := false
			for _, line := range strings.Split(ifaces, "\n") {
				opts := strings.Fields(line)
				found = found || slices.Contains(opts, fmt.Sprintf("key=%d", vni)) && slices.Contains(opts, "remote_ip="+r)
			}
			if !found {
				return fmt.Errorf("no VXLAN port to %s with key %d:\n%s", r, vni, ifaces)
			}
		}
		flows, err := sw.Ofctl("dump-flows", br, "table=1")
		if err != nil {
			return err
		}
		for _, m := range macs {
			if !strings.Contains(flows, "dl_dst="+m) {
				return fmt.Errorf("no flow for %s on %s", m, br)
			}
		}
		return nil
	})
	return time.Since(start)
}

// emulatorBridge is the bridge ovs-vtep built for logical switch ls.
func emulatorBridge(sw *testbed.VTEP, ls string) (string, error) {
	out, err := sw.Vsctl("--data=bare", "--no-headings", "--columns=name", "find", "Bridge", "external_ids:logical_switch_name="+ls)
	if err != nil {
		return "", err
	}
	br := strings.TrimSpace(out)
	if br == "" {
		return "", fmt.Errorf("no bridge for %s yet", ls)
	}
	return br, nil
}

// TestToREmulator drives package vtep against the emulator the way the managing agent would
// (no agent runs): the rows it writes, the emulator realizing them (a VLAN binding carrying a
// server's frames over VXLAN to a VM on a plain OVS node, the server's MAC learned), others'
// rows surviving, a binding's removal removing exactly its rows, and a resync after the switch's
// ovsdb-server restarted changing nothing. It measures sync and resync times, 1,000 MACs included.
func TestToREmulator(t *testing.T) {
	underlay := testbed.NewToR(t, "ul")
	sw, bmsBlue, bmsRed := emulatedSwitch(t, underlay)
	// n1 stands for a compute node with vm1 in blue, and for the replication node: a learning
	// bridge with a VXLAN port to the switch for VNI 5001.
	n1 := testbed.NewNode(t, "n1")
	n1IP := testbed.AttachUnderlay(t, n1, underlay, "ul-n1", "192.168.100.2/24")
	n1.AddBridge(t, "br0", "fail_mode=standalone")
	vm1 := testbed.NewHost(t, "vm1", n1, "vm1p", "02:00:00:00:02:01", "10.1.0.21/24")
	n1.AddPort(t, "br0", "vm1p")
	n1.AddPort(t, "br0", "vx5001", "--", "set", "interface", "vx5001", "type=vxlan",
		"options:remote_ip="+sw.TunnelIP.String(), "options:key=5001")

	idx := parseConfig(t, strings.Replace(torLabYAML, "ENDPOINT", sw.DBEndpoint(), 1))
	locations := []tor.Location{{VMI: "vm1", Node: "n1", TunnelIP: n1IP},
		{VMI: "bms1", Node: "gw1", TunnelIP: netip.MustParseAddr("192.168.100.1")},
		{VMI: "vm3", Node: "c2", TunnelIP: netip.MustParseAddr("192.168.100.3")}}
	desired := func(yaml string) vtep.Desired {
		x := idx
		if yaml != "" {
			x = parseConfig(t, strings.Replace(yaml, "ENDPOINT", sw.DBEndpoint(), 1))
		}
		return tor.Desired(tor.Input{Index: x, Switch: &x.Config.TorSwitches[0], Locations: locations, ReplicationTunnelIP: n1IP}).Desired
	}

	c, err := vtep.New(vtep.Options{Endpoint: sw.DBEndpoint(), Switch: torName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}

	// Someone else's rows: an operator's logical switch bound on p1 VLAN 300 with a remote MAC
	// and a flood entry.
	sw.MustVtepctl(t, "add-ls", "manual", "--", "set", "Logical_Switch", "manual", "tunnel_key=7000", `description="an operator's"`)
	sw.MustVtepctl(t, "add-ucast-remote", "manual", "02:aa:00:00:00:01", "192.168.100.9")
	sw.MustVtepctl(t, "add-mcast-remote", "manual", "unknown-dst", "192.168.100.9")
	sw.MustVtepctl(t, "bind-ls", torName, torPort, "300", "manual")
	foreign := readVTEP(t, sw).foreign()
	checkForeign := func(t *testing.T, when string) {
		t.Helper()
		if ch := changed(foreign, readVTEP(t, sw).foreign(), "Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote", "Physical_Port"); len(ch) > 0 {
			t.Errorf("%s: others' rows changed: %v", when, ch)
		}
	}

	t.Run("sync writes the rows", func(t *testing.T) {
		res, took := syncSwitch(t, c, desired(""))
		t.Logf("FIGURE first sync (2 VNs, 3 remote MACs, 2 bindings): %v, %d changes", took, len(res.Changes))
		if len(res.Problems) > 0 {
			t.Errorf("problems: %v", res.Problems)
		}
		bindings := sw.MustVtepctl(t, "list-bindings", torName, torPort)
		for _, want := range []string{"0100 ovsgw-5001", "0200 ovsgw-5002", "0300 manual"} {
			if !strings.Contains(bindings, want) {
				t.Errorf("bindings of p1 lack %q:\n%s", want, bindings)
			}
		}
		macs := sw.MustVtepctl(t, "list-remote-macs", "ovsgw-5001")
		for _, want := range []string{"02:00:00:00:02:01 -> vxlan_over_ipv4/192.168.100.2", "02:00:00:00:01:0a -> vxlan_over_ipv4/192.168.100.1",
			"unknown-dst -> vxlan_over_ipv4/192.168.100.2"} {
			if !strings.Contains(macs, want) {
				t.Errorf("remote MACs of ovsgw-5001 lack %q:\n%s", want, macs)
			}
		}
		if st := c.Status(); !st.Connected || !st.InSync || st.Rows != (vtep.RowCounts{LogicalSwitches: 2, Bindings: 2, RemoteMACs: 3, FloodEntries: 2}) {
			t.Errorf("status %+v", st)
		}
		checkForeign(t, "after the first sync")
	})

	t.Run("the emulator realizes them: a server on VLAN 100 reaches the VM, its MAC is learned", func(t *testing.T) {
		took := realized(t, sw, "ovsgw-5001", 5001, []string{"192.168.100.1", n1IP.String()}, []string{"02:00:00:00:02:01", "02:00:00:00:01:0a"}, 30*time.Second)
		t.Logf("FIGURE the emulator realized blue %v after the sync returned", took)
		bmsBlue.MustPing(t, vm1.IP)
		lab.Eventually(t, 15*time.Second, "the server's MAC in Ucast_Macs_Local", func() error {
			for _, m := range c.LocalMACs() {
				if m.MAC == bmsT1MAC && m.VNI == 5001 && m.Locator == sw.TunnelIP.String() {
					return nil
				}
			}
			return fmt.Errorf("learned: %+v", c.LocalMACs())
		})
		// bms-t2 may have been learned in red too (its IPv6 neighbour discovery, say).
		if st, local := c.Status(), c.LocalMACs(); st.MACsLearned != len(local) || len(local) > 2 {
			t.Errorf("MACs learned %d, local MACs %+v", st.MACsLearned, local)
		}
	})

	t.Run("a server in another VN is isolated", func(t *testing.T) {
		realized(t, sw, "ovsgw-5002", 5002, []string{"192.168.100.3"}, []string{"02:00:00:00:02:03"}, 30*time.Second)
		bmsRed.MustNotPing(t, vm1.IP)
		bmsRed.MustNotPing(t, bmsBlue.IP)
	})

	t.Run("nodes reach the switch's database over the underlay (tcp)", func(t *testing.T) {
		ep := sw.ListenTCP(t, 6640)
		out, err := n1.Exec("ovsdb-client", "--timeout=10", "list-dbs", ep)
		if err != nil || !strings.Contains(out, vtep.DatabaseName) {
			t.Fatalf("ovsdb-client list-dbs %s from n1: %v\n%s", ep, err, out)
		}
	})

	t.Run("removing a binding removes exactly its rows and stops its traffic", func(t *testing.T) {
		second := strings.Replace(torLabYAML, "      - {port: p1, vlan: 200, network: red}\n",
			"      - {port: p1, vlan: 200, network: red}\n      - {port: p1, vlan: 101, network: blue}\n", 1)
		syncSwitch(t, c, desired(second))
		before := readVTEP(t, sw)
		res, _ := syncSwitch(t, c, desired("")) // p1 VLAN 101 goes; blue stays for VLAN 100
		if got := res.Counts(); !reflect.DeepEqual(got, map[string]int{"unbind Physical_Port": 1}) {
			t.Errorf("removing one of blue's two bindings: %v", res.Changes)
		}
		if ch := changed(before, readVTEP(t, sw), "Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote"); len(ch) > 0 {
			t.Errorf("rows changed: %v", ch)
		}

		// Now blue's last binding: its logical switch goes with everything in it.
		before = readVTEP(t, sw)
		blue := before.ovsgwLS()["ovsgw-5001"]
		res, took := syncSwitch(t, c, desired(strings.Replace(torLabYAML, "      - {port: p1, vlan: 100, network: blue}\n", "", 1)))
		t.Logf("FIGURE removing blue from the switch: %v, changes %v", took, res.Counts())
		after := readVTEP(t, sw)
		for _, table := range []string{"Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote", "Ucast_Macs_Local"} {
			for u, r := range before[table] {
				_, still := after[table][u]
				isBlue := u == blue || lsOf(r) == blue
				// Others' learned MACs come and go by themselves (ovs-vtep ages them out).
				switch {
				case isBlue && still:
					t.Errorf("%s row %s of blue left behind: %v", table, u, r)
				case !isBlue && table != "Ucast_Macs_Local" && (!still || !reflect.DeepEqual(after[table][u], r)):
					t.Errorf("%s row %s not of blue changed: %v → %v", table, u, r, after[table][u])
				}
			}
		}
		if b := sw.MustVtepctl(t, "list-bindings", torName, torPort); strings.Contains(b, "0100") || !strings.Contains(b, "0200 ovsgw-5002") {
			t.Errorf("bindings after removing blue's:\n%s", b)
		}
		checkForeign(t, "after removing blue")
		lab.Eventually(t, 30*time.Second, "the emulator drops blue", func() error {
			if br, err := emulatorBridge(sw, "ovsgw-5001"); err == nil {
				return fmt.Errorf("bridge %s still there", br)
			}
			return nil
		})
		bmsBlue.MustNotPing(t, vm1.IP)

		res, _ = syncSwitch(t, c, desired(""))
		if res.Counts()["insert Logical_Switch"] != 1 {
			t.Errorf("re-adding blue: %v", res.Changes)
		}
		realized(t, sw, "ovsgw-5001", 5001, []string{n1IP.String()}, []string{"02:00:00:00:02:01"}, 30*time.Second)
		bmsBlue.MustPing(t, vm1.IP)
	})

	t.Run("after the switch's ovsdb-server restarts the client reconnects and a resync changes nothing", func(t *testing.T) {
		before := readVTEP(t, sw)
		sent := c.Status()
		sw.StopDB(t)
		lab.Eventually(t, 10*time.Second, "the client notices", func() error {
			if c.Connected() {
				return fmt.Errorf("still connected")
			}
			return nil
		})
		start := time.Now()
		sw.StartDB(t)
		dbUp := time.Since(start)
		lab.Eventually(t, 20*time.Second, "the client reconnects", func() error {
			if !c.Connected() {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		reconnected := time.Since(start)
		res, took := syncSwitch(t, c, desired(""))
		t.Logf("FIGURE ovsdb-server restart: serving again after %v, client reconnected %v after the start, resync took %v (%d changes)",
			dbUp, reconnected, took, len(res.Changes))
		if !res.Empty() {
			t.Errorf("resync after the restart changed: %v", res.Changes)
		}
		if ch := changed(before, readVTEP(t, sw), "Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote"); len(ch) > 0 {
			t.Errorf("rows changed across the restart: %v", ch)
		}
		if st := c.Status(); !st.Connected || !st.InSync || st.LastSync == nil || !st.LastSync.After(*sent.LastSync) {
			t.Errorf("status after the restart: %+v", st)
		}
		checkForeign(t, "after the restart")
		start = time.Now()
		if _, err := bmsBlue.Ping(vm1.IP, 3, 30*time.Second); err != nil {
			t.Fatalf("traffic did not come back after the restart: %v", err)
		}
		t.Logf("FIGURE traffic back %v after the resync", time.Since(start))
	})

	t.Run("1,000 remote MACs", func(t *testing.T) {
		d := desired("")
		for i := range 1000 {
			d.RemoteMACs = append(d.RemoteMACs, vtep.RemoteMAC{VNI: 5001, MAC: fmt.Sprintf("02:00:00:01:%02x:%02x", i/256, i%256),
				IP: netip.AddrFrom4([4]byte{10, 1, 1 + byte(i/256), byte(i % 256)}), Locator: netip.AddrFrom4([4]byte{192, 168, 100, byte(101 + i%10)})})
		}
		res, took := syncSwitch(t, c, d)
		if res.Counts()["insert Ucast_Macs_Remote"] != 1000 {
			t.Fatalf("changes %v", res.Counts())
		}
		t.Logf("FIGURE sync of 1,000 new remote MACs (10 new locators): %v", took)
		res, took = syncSwitch(t, c, d)
		if !res.Empty() {
			t.Errorf("resync changed %v", res.Counts())
		}
		t.Logf("FIGURE resync of 1,003 unchanged remote MACs: %v", took)
		var macs []string
		for _, m := range d.RemoteMACs[len(d.RemoteMACs)-5:] {
			macs = append(macs, m.MAC)
		}
		// The emulator builds its tunnels before the restart: ovs-vtep records a tunnel it
		// tried to create while its database was down as made, without a port, and never
		// programs the MACs behind it (a defect of the emulator, not of the client).
		t.Logf("FIGURE the emulator programmed the 1,000 MACs' flows %v after the sync", realized(t, sw, "ovsgw-5001", 5001, nil, macs, 3*time.Minute))
		start := time.Now()
		sw.StopDB(t)
		sw.StartDB(t)
		lab.Eventually(t, 20*time.Second, "the client reconnects", func() error {
			if !c.Connected() {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		reconnected := time.Since(start)
		res, took = syncSwitch(t, c, d)
		if !res.Empty() {
			t.Errorf("resync after restart changed %v", res.Counts())
		}
		t.Logf("FIGURE with 1,003 MACs: restart to reconnected %v, resync %v", reconnected, took)
		t.Logf("FIGURE the emulator's flows for the 1,000 MACs checked %v after the restart", realized(t, sw, "ovsgw-5001", 5001, nil, macs, time.Minute))
		res, took = syncSwitch(t, c, desired(""))
		t.Logf("FIGURE removing the 1,000 MACs: %v (%d changes)", took, len(res.Changes))
		checkForeign(t, "after 1,000 MACs came and went")
	})

	t.Run("nothing wanted: every row of ovsgw's goes, others' stay", func(t *testing.T) {
		syncSwitch(t, c, vtep.Desired{})
		if ls := readVTEP(t, sw).ovsgwLS(); len(ls) != 0 {
			t.Errorf("logical switches left: %v", ls)
		}
		checkForeign(t, "after removing everything")
	})
}

// torAgentLab: the Raft cluster with the config, gw1 (gateway mode; bms1 behind its VLAN ToR;
// the switch's replication node and manager) and c1 (vm1 in blue, vm3 in red), and the emulated
// switch, all on one underlay. The agents know of the switch from the config only.
type torAgentLab struct {
	cluster          *raftCluster
	dbCL, configFile string
	nodes            map[string]*testbed.Node
	agents           map[string]*testbed.Agent
	sw               *testbed.VTEP
	endpoint         string // the switch's database, as the config names it
	bmsT1, bmsT2     *testbed.Host
	bms1, vm1, vm3   *testbed.Host
}

func newTorAgentLab(t *testing.T) *torAgentLab {
	l := &torAgentLab{cluster: startCluster(t), nodes: map[string]*testbed.Node{}, agents: map[string]*testbed.Agent{}}
	l.dbCL = l.cluster.endpoints()
	l.configFile = filepath.Join(t.TempDir(), "gateway.yaml")
	underlay := testbed.NewToR(t, "ul")
	l.sw, l.bmsT1, l.bmsT2 = emulatedSwitch(t, underlay)
	// A real switch is managed over its management network: here, the underlay.
	l.endpoint = l.sw.ListenTCP(t, 6640)
	l.apply(t, l.yaml(""))
	names := []string{"gw1", "c1"}
	l.nodes = overlayNodes(t, underlay, names...)
	vlans := testbed.NewToR(t, "vlans")
	testbed.Link(t, vlans.NS, "trunk0", l.nodes["gw1"].NS, "eth1")
	vlans.TrunkPort(t, "trunk0")
	l.bms1 = vlans.AddHost(t, "bms1", 100, "02:00:00:00:01:0a", "10.1.0.10/24")
	l.vm1 = testbed.NewHost(t, "vm1", l.nodes["c1"], "vm1p", "02:00:00:00:02:01", "10.1.0.21/24")
	l.vm3 = testbed.NewHost(t, "vm3", l.nodes["c1"], "vm3p", "02:00:00:00:02:03", "10.1.0.31/24")
	l.agents = startAgents(t, l.nodes, names, l.cluster, "gw1")
	plug(t, l.nodes["c1"], "vm1p", "vm1")
	plug(t, l.nodes["c1"], "vm3p", "vm3")
	return l
}

// yaml is torLabYAML for this lab, with edit applied (old → new pairs).
func (l *torAgentLab) yaml(edits ...string) string {
	y := strings.Replace(torLabYAML, "ENDPOINT", l.endpoint, 1)
	for i := 0; i+1 < len(edits); i += 2 {
		y = strings.Replace(y, edits[i], edits[i+1], 1)
	}
	return y
}

func (l *torAgentLab) apply(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(l.configFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ovsgwCLI("db", "apply", "-f", l.configFile, "--db", l.dbCL); err != nil {
		t.Fatalf("db apply: %v\n%s", err, out)
	}
}

// torStatus is the part of `ovsgw status -o json` the ToR tests read: the switches the agent
// manages, each a vtep.Status.
type torStatus struct {
	Node        string        `json:"node"`
	TorSwitches []vtep.Status `json:"torSwitches"`
}

func (l *torAgentLab) switchStatus(t *testing.T, node string) (vtep.Status, error) {
	t.Helper()
	out, err := l.agents[node].CLI("status", "-o", "json")
	if err != nil {
		return vtep.Status{}, err
	}
	var s torStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return vtep.Status{}, err
	}
	for _, st := range s.TorSwitches {
		if st.Name == torName {
			return st, nil
		}
	}
	return vtep.Status{}, fmt.Errorf("%s's status shows no switch %s (torSwitches: %+v)", node, torName, s.TorSwitches)
}

// waitInSync waits until gw1 reports the switch connected and in sync.
func (l *torAgentLab) waitInSync(t *testing.T, within time.Duration) vtep.Status {
	t.Helper()
	var st vtep.Status
	lab.Eventually(t, within, "gw1 has the switch in sync", func() error {
		var err error
		if st, err = l.switchStatus(t, "gw1"); err != nil {
			return err
		}
		if !st.Connected || !st.InSync || st.LastSyncError != "" {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	return st
}

// TestToRAgent: the agents program the switch from the config alone and route to and from its
// servers. It needs the agent's ToR integration; what it expects of the agents:
//
//   - No new INI key: the switch comes from the config DB (torSwitches, endpoint tcp: over the
//     underlay); gw1 manages it because it is its replicationNode (no managedBy).
//   - `ovsgw status -o json` of the managing agent has "torSwitches": a list of vtep.Status
//     (name, endpoint, connected, inSync, rows, macsLearned, tunnelIPs, lastSync, lastSyncError,
//     problems), as tor.Switches.Statuses returns it; an agent that manages no switch lists none.
//   - The managing agent publishes Tor_State (configdb.PublishTorState) and Tor_MAC
//     (configdb.PublishTorMACs) rows, so `ovsgw db show` prints "tor1 gw1 192.168.100.10 yes yes N".
//   - Every node sends frames for a MAC the switch learned into a tunnel to the switch; the
//     replication node (gw1) floods the switch's BUM frames into the VN (to c1) and the VN's
//     BUM frames from the overlay to the switch, also for red, where gw1 has no VMI.
func TestToRAgent(t *testing.T) {
	l := newTorAgentLab(t)

	t.Run("the managing agent shows the switch connected and in sync; c1 does not manage it", func(t *testing.T) {
		l.waitInSync(t, 60*time.Second)
		// Every VMI's binding reaches the database on its own schedule: wait for all three.
		lab.Eventually(t, 30*time.Second, "the switch has every VMI of its VNs", func() error {
			st, err := l.switchStatus(t, "gw1")
			if err != nil {
				return err
			}
			if st.Endpoint != l.endpoint || !slices.Equal(st.TunnelIPs, []string{l.sw.TunnelIP.String()}) || !st.InSync ||
				st.Rows != (vtep.RowCounts{LogicalSwitches: 2, Bindings: 2, RemoteMACs: 3, FloodEntries: 2}) {
				return fmt.Errorf("gw1's status of the switch: %+v", st)
			}
			return nil
		})
		if _, err := l.switchStatus(t, "c1"); err == nil {
			t.Error("c1 shows the switch, which gw1 manages")
		}
		macs := l.sw.MustVtepctl(t, "list-remote-macs", "ovsgw-5001")
		for _, want := range []string{"02:00:00:00:02:01 -> vxlan_over_ipv4/192.168.100.2", "02:00:00:00:01:0a -> vxlan_over_ipv4/192.168.100.1",
			"unknown-dst -> vxlan_over_ipv4/192.168.100.1"} {
			if !strings.Contains(macs, want) {
				t.Errorf("the switch lacks %q:\n%s", want, macs)
			}
		}
	})

	t.Run("a server behind the switch reaches a VM on a compute node and a remote instance on a gateway", func(t *testing.T) {
		realized(t, l.sw, "ovsgw-5001", 5001, []string{"192.168.100.1", "192.168.100.2"}, []string{"02:00:00:00:02:01"}, 30*time.Second)
		l.bmsT1.MustPing(t, l.vm1.IP)
		l.bmsT1.MustPing(t, l.bms1.IP)
		l.vm1.MustPing(t, l.bmsT1.IP)
		l.bms1.MustPing(t, l.bmsT1.IP)
		l.bmsT1.MustTCP(t, l.vm1, 9000)
		l.bmsT2.MustPing(t, l.vm3.IP)
	})

	t.Run("the server's MAC is learned, published and shown", func(t *testing.T) {
		lab.Eventually(t, 20*time.Second, "gw1 counts the learned MACs", func() error {
			st, err := l.switchStatus(t, "gw1")
			if err != nil {
				return err
			}
			if st.MACsLearned < 2 {
				return fmt.Errorf("MACs learned %d, want both servers'", st.MACsLearned)
			}
			return nil
		})
		out, err := ovsgwCLI("db", "show", "--db", l.dbCL)
		if err != nil {
			t.Fatal(err)
		}
		var line string
		for _, s := range strings.Split(out, "\n") {
			if strings.HasPrefix(s, torName+" ") {
				line = strings.Join(strings.Fields(s), " ")
			}
		}
		if want := "tor1 gw1 " + l.sw.TunnelIP.String() + " yes yes"; !strings.HasPrefix(line, want) {
			t.Errorf("db show's switch line %q, want it to start with %q:\n%s", line, want, out)
		}
	})
	t.Run("the managing agent's metrics show the switch connected, in sync, with its learned MACs", func(t *testing.T) {
		text := lab.Scrape(t, l.nodes["gw1"])
		promtoolCheck(t, text)
		for series, want := range map[string]float64{
			`ovsgw_tor_connected{switch="` + torName + `"}`: 1, `ovsgw_tor_in_sync{switch="` + torName + `"}`: 1,
			"ovsgw_configdb_connected": 1,
		} {
			if v, ok := metricValue(text, series); !ok || v != want {
				t.Errorf("%s %v (found %v), want %v", series, v, ok, want)
			}
		}
		if v, _ := metricValue(text, `ovsgw_tor_macs_learned{switch="`+torName+`"}`); v < 2 {
			t.Errorf("ovsgw_tor_macs_learned %v, want both servers'", v)
		}
		if _, ok := metricValue(lab.Scrape(t, l.nodes["c1"]), `ovsgw_tor_connected{switch="`+torName+`"}`); ok {
			t.Error("c1's metrics show the switch, which gw1 manages")
		}
	})

	t.Run("a server in another VN is isolated", func(t *testing.T) {
		l.bmsT2.MustNotPing(t, l.vm1.IP)
		l.bmsT2.MustNotPing(t, l.bms1.IP)
		l.bmsT2.MustNotPing(t, l.bmsT1.IP)
		l.vm3.MustNotPing(t, l.bmsT1.IP)
	})

	t.Run("removing the binding stops its traffic and removes exactly the rows it needed", func(t *testing.T) {
		before := readVTEP(t, l.sw)
		blue := before.ovsgwLS()["ovsgw-5001"]
		l.apply(t, l.yaml("      - {port: p1, vlan: 100, network: blue}\n", ""))
		lab.Eventually(t, 30*time.Second, "blue gone from the switch", func() error {
			if _, ok := readVTEP(t, l.sw).ovsgwLS()["ovsgw-5001"]; ok {
				return fmt.Errorf("ovsgw-5001 still there")
			}
			return nil
		})
		after := readVTEP(t, l.sw)
		for _, table := range []string{"Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote"} {
			for u, r := range before[table] {
				_, still := after[table][u]
				isBlue := u == blue || lsOf(r) == blue
				if isBlue && still || !isBlue && (!still || !reflect.DeepEqual(after[table][u], r)) {
					t.Errorf("%s row %s (blue: %v) wrong after the removal: %v → %v", table, u, isBlue, r, after[table][u])
				}
			}
		}
		l.waitInSync(t, 30*time.Second)
		l.bmsT1.MustNotPing(t, l.vm1.IP)
		l.bmsT2.MustPing(t, l.vm3.IP)

		l.apply(t, l.yaml())
		l.waitInSync(t, 30*time.Second)
		realized(t, l.sw, "ovsgw-5001", 5001, []string{"192.168.100.2"}, []string{"02:00:00:00:02:01"}, 30*time.Second)
		l.bmsT1.MustPing(t, l.vm1.IP)
	})

	t.Run("the switch's ovsdb-server restarts: resync without rewriting, traffic returns", func(t *testing.T) {
		before := readVTEP(t, l.sw)
		l.sw.StopDB(t)
		lab.Eventually(t, 20*time.Second, "gw1 sees the switch disconnected", func() error {
			st, err := l.switchStatus(t, "gw1")
			if err != nil {
				return err
			}
			if st.Connected {
				return fmt.Errorf("still connected")
			}
			return nil
		})
		start := time.Now()
		l.sw.StartDB(t)
		l.waitInSync(t, 30*time.Second)
		t.Logf("FIGURE agent: switch connected and in sync again %v after its ovsdb-server started", time.Since(start))
		if ch := changed(before, readVTEP(t, l.sw), "Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote"); len(ch) > 0 {
			t.Errorf("rows changed across the restart: %v", ch)
		}
		if _, err := l.bmsT1.Ping(l.vm1.IP, 3, 30*time.Second); err != nil {
			t.Fatalf("traffic did not return: %v", err)
		}
		t.Logf("FIGURE agent: traffic back %v after the switch's ovsdb-server started", time.Since(start))
	})

	// TestDeadManagerSwitchTakenOver, end to end: c1 may manage the switch after gw1
	// (managedBy: [gw1, c1]); gw1's agent is killed, and c1 takes the switch over once gw1's
	// lease ran out, leaving every row as it was (gw1's bindings stay: its datapath forwards).
	t.Run("the managing node's agent dies: the next node of managedBy takes the switch over", func(t *testing.T) {
		l.apply(t, l.yaml("    replicationNode: gw1\n", "    replicationNode: gw1\n    managedBy: [gw1, c1]\n"))
		l.waitInSync(t, 30*time.Second)
		lab.Eventually(t, 10*time.Second, "gw1's status shows its lease", func() error {
			s := agentStatus(t, l.agents["gw1"])
			if len(s.TorLeases) != 1 || s.TorLeases[0].Holder != "gw1" || s.TorLeases[0].WriteUntil == nil ||
				!slices.Equal(s.TorLeases[0].Managers, []string{"gw1", "c1"}) {
				return fmt.Errorf("gw1's leases %+v", s.TorLeases)
			}
			return nil
		})
		if s := agentStatus(t, l.agents["c1"]); len(s.TorLeases) != 1 || s.TorLeases[0].Holder != "gw1" || s.TorLeases[0].WriteUntil != nil {
			t.Errorf("c1's view of the lease %+v, want gw1's and not c1's to write", s.TorLeases)
		}
		before := readVTEP(t, l.sw)
		kill := time.Now()
		if err := l.agents["gw1"].Proc.Kill(); err != nil {
			t.Fatal(err)
		}
		var st vtep.Status
		lab.Eventually(t, 30*time.Second, "c1 manages the switch, in sync", func() error {
			var err error
			if st, err = l.switchStatus(t, "c1"); err != nil {
				return err
			}
			if !st.Connected || !st.InSync || st.LastSyncError != "" {
				return fmt.Errorf("c1's status of the switch %+v", st)
			}
			return nil
		})
		took := time.Since(kill)
		t.Logf("FIGURE ToR lease: c1 manages the switch, in sync, %.1fs after gw1's agent was killed (lease term 6 s + margin 2 s)", took.Seconds())
		if took < 6*time.Second {
			t.Errorf("c1 took over %v after the kill: before gw1's lease could have run out", took)
		}
		if st.Rows != (vtep.RowCounts{LogicalSwitches: 2, Bindings: 2, RemoteMACs: 3, FloodEntries: 2}) {
			t.Errorf("c1's rows of the switch %+v", st.Rows)
		}
		if ch := changed(before, readVTEP(t, l.sw), "Logical_Switch", "Ucast_Macs_Remote", "Mcast_Macs_Remote", "Physical_Port"); len(ch) > 0 {
			t.Errorf("rows changed across the takeover: %v", ch)
		}
		out, err := ovsgwCLI("db", "show", "--db", l.dbCL)
		if err != nil {
			t.Fatal(err)
		}
		var line string
		for _, s := range strings.Split(out, "\n") {
			if strings.HasPrefix(s, torName+" ") {
				line = strings.Join(strings.Fields(s), " ")
			}
		}
		if want := "tor1 c1 " + l.sw.TunnelIP.String() + " yes yes"; !strings.HasPrefix(line, want) || !strings.Contains(line, " c1 (epoch 2) until ") {
			t.Errorf("db show's switch line %q, want it to start with %q and show c1's lease at epoch 2:\n%s", line, want, out)
		}
		l.bmsT1.MustPing(t, l.vm1.IP)
		l.bmsT1.MustPing(t, l.bms1.IP) // gw1's datapath still forwards for bms1

		// gw1 comes back: it does not take the switch back (c1 renews its lease).
		l.agents["gw1"].Start(t)
		time.Sleep(3 * time.Second)
		if _, err := l.switchStatus(t, "gw1"); err == nil {
			t.Error("gw1 manages the switch again while c1 holds its lease")
		}
		if st, err := l.switchStatus(t, "c1"); err != nil || !st.InSync {
			t.Errorf("c1 after gw1's return: %+v, %v", st, err)
		}
	})
}
