package ovsdb

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/vswitchd"
)

var ownerTag = map[string]string{OwnerKey: OwnerValue}

// checkSettings asserts the columns EnsureBridge enforces on any bridge.
func checkSettings(t *testing.T, br *vswitchd.Bridge, datapath string) {
	t.Helper()
	if br == nil {
		t.Fatal("bridge missing")
	}
	if br.FailMode == nil || *br.FailMode != "secure" {
		t.Errorf("fail_mode = %v, want secure", br.FailMode)
	}
	if !slices.Equal(br.Protocols, []string{"OpenFlow13"}) {
		t.Errorf("protocols = %v, want [OpenFlow13]", br.Protocols)
	}
	if br.DatapathType != datapath {
		t.Errorf("datapath_type = %q, want %q", br.DatapathType, datapath)
	}
	if br.OtherConfig["disable-in-band"] != "true" {
		t.Errorf("other_config = %v, want disable-in-band=true", br.OtherConfig)
	}
	if br.ExternalIDs[OwnerKey] != OwnerValue {
		t.Errorf("external_ids = %v, want %s=%s", br.ExternalIDs, OwnerKey, OwnerValue)
	}
}

// portNames returns the names of the ports on bridge, sorted.
func portNames(m *memDB, bridge string) []string {
	ports := rows[vswitchd.Port](m, vswitchd.PortTable)
	var names []string
	for name, p := range ports {
		if slices.Contains(rows[vswitchd.Bridge](m, vswitchd.BridgeTable)[bridge].Ports, p.UUID) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func TestEnsureBridgeCreatesBridgeAndOwnedPorts(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ensure(t, c, BridgeSpec{Name: "br-int", DatapathType: "netdev", Ports: []string{"eth1", "eth2"}})

	br := rows[vswitchd.Bridge](m, vswitchd.BridgeTable)["br-int"]
	checkSettings(t, br, "netdev")
	if root := rows[vswitchd.OpenvSwitch](m, vswitchd.OpenvSwitchTable)["root"]; !slices.Equal(root.Bridges, []string{br.UUID}) {
		t.Errorf("Open_vSwitch.bridges = %v, want [%s]", root.Bridges, br.UUID)
	}
	if got, want := portNames(m, "br-int"), []string{"br-int", "eth1", "eth2"}; !slices.Equal(got, want) {
		t.Fatalf("ports = %v, want %v", got, want)
	}
	ports, ifaces := rows[vswitchd.Port](m, vswitchd.PortTable), rows[vswitchd.Interface](m, vswitchd.InterfaceTable)
	for name, wantType := range map[string]string{"br-int": "internal", "eth1": "", "eth2": ""} {
		p, i := ports[name], ifaces[name]
		if !maps.Equal(p.ExternalIDs, ownerTag) || !maps.Equal(i.ExternalIDs, ownerTag) {
			t.Errorf("%s: port external_ids %v, interface external_ids %v, want %v on both", name, p.ExternalIDs, i.ExternalIDs, ownerTag)
		}
		if !slices.Equal(p.Interfaces, []string{i.UUID}) {
			t.Errorf("%s: port interfaces = %v, want [%s]", name, p.Interfaces, i.UUID)
		}
		if i.Type != wantType {
			t.Errorf("%s: interface type = %q, want %q", name, i.Type, wantType)
		}
	}
}

func TestEnsureBridgeUnchangedSendsNoTransaction(t *testing.T) {
	spec := BridgeSpec{Name: "br-int", DatapathType: "netdev", Ports: []string{"eth1"}}
	for _, tc := range []struct {
		name    string
		restart bool // a new Client, as after an agent restart
	}{
		{"same client calls again", false},
		{"restarted agent finds its bridge", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemDB(t)
			c := m.connect()
			ensure(t, c, spec)
			if tc.restart {
				c.Close()
				c = m.connect()
			}
			before := c.transactions.Load()
			ensure(t, c, spec)
			if n := c.transactions.Load() - before; n != 0 {
				t.Errorf("sent %d transactions, want 0", n)
			}
		})
	}
}

func TestEnsureBridgeKeepsForeignPort(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ensure(t, c, BridgeSpec{Name: "br-int", Ports: []string{"eth1"}})
	m.addVMPort("br-int", "tap-vm1", "vm1")
	waitUntil(t, testWait, "client sees the VM port", func() bool { return len(c.Interfaces("br-int")) == 3 })

	ensure(t, c, BridgeSpec{Name: "br-int", Ports: nil})

	if got, want := portNames(m, "br-int"), []string{"br-int", "tap-vm1"}; !slices.Equal(got, want) {
		t.Errorf("ports = %v, want %v", got, want)
	}
	if i := rows[vswitchd.Interface](m, vswitchd.InterfaceTable)["tap-vm1"]; i == nil || i.ExternalIDs[IfaceIDKey] != "vm1" {
		t.Errorf("VM interface = %+v, want it kept with iface-id vm1", i)
	}
}

func TestEnsureBridgeRemovesOnlyDroppedOwnedPort(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ensure(t, c, BridgeSpec{Name: "br-int", Ports: []string{"eth1", "eth2"}})

	ensure(t, c, BridgeSpec{Name: "br-int", Ports: []string{"eth1"}})

	if got, want := portNames(m, "br-int"), []string{"br-int", "eth1"}; !slices.Equal(got, want) {
		t.Errorf("ports = %v, want %v", got, want)
	}
	if _, ok := rows[vswitchd.Port](m, vswitchd.PortTable)["eth2"]; ok {
		t.Error("Port eth2 still exists")
	}
	if _, ok := rows[vswitchd.Interface](m, vswitchd.InterfaceTable)["eth2"]; ok {
		t.Error("Interface eth2 still exists")
	}
}

func TestEnsureBridgeAdoptsExistingBridge(t *testing.T) {
	secure := "secure"
	// compliant is a bridge that already has everything EnsureBridge sets,
	// plus keys of someone else's that must survive.
	compliant := func() vswitchd.Bridge {
		return vswitchd.Bridge{
			Name: "br-int", DatapathType: "netdev", FailMode: &secure,
			Protocols:   []string{"OpenFlow13"},
			OtherConfig: map[string]string{"disable-in-band": "true", "hwaddr": "02:00:00:00:00:01"},
			ExternalIDs: map[string]string{OwnerKey: OwnerValue, "admin": "kept"},
		}
	}
	for _, tc := range []struct {
		name    string
		deviate func(*vswitchd.Bridge)
		txns    int64
	}{
		{"compliant bridge is left alone", func(*vswitchd.Bridge) {}, 0},
		{"system datapath becomes netdev", func(b *vswitchd.Bridge) { b.DatapathType = "system" }, 1},
		{"disable-in-band=false becomes true", func(b *vswitchd.Bridge) { b.OtherConfig["disable-in-band"] = "false" }, 1},
		{"untagged bridge gets owner tag", func(b *vswitchd.Bridge) { delete(b.ExternalIDs, OwnerKey) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemDB(t)
			br := compliant()
			tc.deviate(&br)
			m.addBridge(br)
			c := m.connect()

			ensure(t, c, BridgeSpec{Name: "br-int", DatapathType: "netdev"})

			if n := c.transactions.Load(); n != tc.txns {
				t.Errorf("sent %d transactions, want %d", n, tc.txns)
			}
			got := rows[vswitchd.Bridge](m, vswitchd.BridgeTable)["br-int"]
			checkSettings(t, got, "netdev")
			if got.OtherConfig["hwaddr"] != "02:00:00:00:00:01" || got.ExternalIDs["admin"] != "kept" {
				t.Errorf("foreign keys lost: other_config %v, external_ids %v", got.OtherConfig, got.ExternalIDs)
			}
			if p := rows[vswitchd.Port](m, vswitchd.PortTable)["br-int"]; p == nil || owned(p.ExternalIDs) {
				t.Errorf("local port = %+v, want the existing, untagged one", p)
			}
			if n := len(rows[vswitchd.Bridge](m, vswitchd.BridgeTable)); n != 1 {
				t.Errorf("%d bridges, want 1", n)
			}
		})
	}
}

// TestAdoptedBridgeKeepsProtocolsAndFailMode: a bridge that existed before ovsgw keeps the
// protocols it lists, with OpenFlow13 added when missing, and its fail_mode, which
// BridgeNotices reports when it is not secure (changing it would make ovs-vswitchd delete every
// flow of the bridge).
func TestAdoptedBridgeKeepsProtocolsAndFailMode(t *testing.T) {
	secure, standalone := "secure", "standalone"
	for _, tc := range []struct {
		name          string
		failMode      *string
		protocols     []string
		wantProtocols []string
		txns          int64
		notice        string
	}{
		{"standalone fail_mode stays, reported", &standalone, []string{"OpenFlow13"}, []string{"OpenFlow13"}, 0, "fail_mode is standalone, not secure"},
		{"unset fail_mode stays, reported", nil, []string{"OpenFlow13"}, []string{"OpenFlow13"}, 0, "fail_mode is standalone (unset), not secure"},
		{"OpenFlow13 is added to the protocols, the others stay", &secure, []string{"OpenFlow10", "OpenFlow14"},
			[]string{"OpenFlow10", "OpenFlow13", "OpenFlow14"}, 1, ""},
		{"protocols holding OpenFlow13 among others stay", &secure, []string{"OpenFlow10", "OpenFlow13"}, []string{"OpenFlow10", "OpenFlow13"}, 0, ""},
		{"no protocols (every version) stay so", &secure, nil, nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemDB(t)
			m.addBridge(vswitchd.Bridge{Name: "br-int", DatapathType: "netdev", FailMode: tc.failMode, Protocols: tc.protocols,
				OtherConfig: map[string]string{"disable-in-band": "true"}, ExternalIDs: map[string]string{OwnerKey: OwnerValue}})
			c := m.connect()
			ensure(t, c, BridgeSpec{Name: "br-int", DatapathType: "netdev"})
			if n := c.transactions.Load(); n != tc.txns {
				t.Errorf("sent %d transactions, want %d", n, tc.txns)
			}
			got := rows[vswitchd.Bridge](m, vswitchd.BridgeTable)["br-int"]
			if (got.FailMode == nil) != (tc.failMode == nil) || deref(got.FailMode) != deref(tc.failMode) {
				t.Errorf("fail_mode = %v, want %v", deref(got.FailMode), deref(tc.failMode))
			}
			if p := slices.Sorted(slices.Values(got.Protocols)); !slices.Equal(p, tc.wantProtocols) {
				t.Errorf("protocols = %v, want %v", p, tc.wantProtocols)
			}
			notices := c.BridgeNotices("br-int")
			if tc.notice == "" && len(notices) > 0 || tc.notice != "" && (len(notices) != 1 || !strings.Contains(notices[0], tc.notice)) {
				t.Errorf("notices %q, want one saying %q", notices, tc.notice)
			}
		})
	}
}

func TestEnsureBridgeRefusesPortOfAnotherBridge(t *testing.T) {
	m := newMemDB(t)
	m.addBridge(vswitchd.Bridge{Name: "br-ex"})
	m.addVMPort("br-ex", "eth1", "")
	c := m.connect()
	err := c.EnsureBridge(context.Background(), BridgeSpec{Name: "br-int", Ports: []string{"eth1"}})
	if err == nil || !strings.Contains(err.Error(), `already on bridge "br-ex"`) {
		t.Fatalf("err = %v, want one naming br-ex", err)
	}
	if c.transactions.Load() != 0 {
		t.Error("sent a transaction")
	}
}

func TestInterfacesReportsIfaceIDAndChangedFires(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ensure(t, c, BridgeSpec{Name: "br-int", Ports: []string{"eth1"}})
	select { // drain what the setup caused
	case <-c.Changed():
	default:
	}

	m.addVMPort("br-int", "tap-vm1", "vm1")

	select {
	case <-c.Changed():
	case <-time.After(testWait):
		t.Fatal("Changed did not fire after a port was added")
	}
	waitUntil(t, testWait, "client sees the VM port", func() bool { return len(c.Interfaces("br-int")) == 3 })
	want := []Interface{
		{Name: "br-int", Port: "br-int", Owned: true},
		{Name: "eth1", Port: "eth1", Owned: true},
		{Name: "tap-vm1", Port: "tap-vm1", IfaceID: "vm1"},
	}
	if got := c.Interfaces("br-int"); !slices.Equal(got, want) {
		t.Errorf("Interfaces =\n%+v\nwant\n%+v", got, want)
	}
	if got := c.Interfaces("no-such-bridge"); got != nil {
		t.Errorf("Interfaces of a missing bridge = %+v, want nil", got)
	}
	if !c.Connected() {
		t.Error("Connected() = false")
	}
}

// TestEnsureBridgeTunnelPort creates the flow-based VXLAN port, leaves it alone when nothing
// changed, and corrects its options when the node's tunnel address changes.
func TestEnsureBridgeTunnelPort(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	spec := BridgeSpec{Name: "br-int", DatapathType: "netdev", Tunnel: &Tunnel{Name: "vxlan0", LocalIP: "192.168.100.1"}}
	ensure(t, c, spec)
	want := map[string]string{"remote_ip": "flow", "key": "flow", "local_ip": "192.168.100.1"}
	iface := rows[vswitchd.Interface](m, vswitchd.InterfaceTable)["vxlan0"]
	if iface.Type != "vxlan" || !maps.Equal(iface.Options, want) || !maps.Equal(iface.ExternalIDs, ownerTag) {
		t.Fatalf("tunnel interface: type %q options %v external_ids %v", iface.Type, iface.Options, iface.ExternalIDs)
	}
	before := c.transactions.Load()
	ensure(t, c, spec)
	if n := c.transactions.Load() - before; n != 0 {
		t.Errorf("unchanged tunnel: sent %d transactions, want 0", n)
	}
	spec.Tunnel.LocalIP = "192.168.100.9"
	ensure(t, c, spec)
	if got := rows[vswitchd.Interface](m, vswitchd.InterfaceTable)["vxlan0"].Options["local_ip"]; got != "192.168.100.9" {
		t.Errorf("local_ip = %q after the tunnel address changed", got)
	}
	spec.Tunnel = nil
	ensure(t, c, spec)
	if slices.Contains(portNames(m, "br-int"), "vxlan0") {
		t.Error("the tunnel port stayed after the overlay was turned off")
	}
}
