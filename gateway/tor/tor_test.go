package tor

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
)

// cfgYAML: blue and red; the switch tor1 binds p1 VLAN 100 into blue and p2 VLAN 200 into red,
// tor2 binds blue only; VMIs on gw1 (a remote instance), c1 and c2; green is on no switch.
const cfgYAML = `
virtualNetworks:
  - {name: blue, vni: 5001}
  - {name: red, vni: 5002}
  - {name: green, vni: 5003}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-100, vlan: 100, vmi: bms1}
virtualMachineInterfaces:
  - {name: bms1, network: blue, mac: "02:00:00:00:01:0A", instanceIPs: [{address: "2001:db8::10"}, {address: 10.1.0.10}]}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.21}]}
  - {name: vm2, network: blue, mac: "02:00:00:00:02:02"}
  - {name: vm3, network: red, mac: "02:00:00:00:02:03", instanceIPs: [{address: 10.1.0.31}]}
  - {name: vm4, network: green, mac: "02:00:00:00:02:04"}
torSwitches:
  - name: tor1
    endpoint: tcp:192.168.100.10:6640
    replicationNode: gw1
    bindings:
      - {port: p1, vlan: 100, network: blue}
      - {port: p2, vlan: 200, network: red}
      - {port: p1, vlan: 101, network: blue}
  - name: tor2
    endpoint: tcp:192.168.100.11:6640
    replicationNode: gw1
    managedBy: c1
    bindings:
      - {port: eth3, vlan: 0, network: blue}
`

func index(t *testing.T, yaml string) *model.Index {
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

var (
	gw1 = netip.MustParseAddr("192.168.100.1")
	c1  = netip.MustParseAddr("192.168.100.2")
	c2  = netip.MustParseAddr("192.168.100.3")
	t2  = netip.MustParseAddr("192.168.100.11") // tor2's tunnel IP
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func everywhere() []Location {
	return []Location{
		{VMI: "bms1", Node: "gw1", TunnelIP: gw1},
		{VMI: "vm1", Node: "c1", TunnelIP: c1},
		{VMI: "vm2", Node: "c2", TunnelIP: c2},
		{VMI: "vm3", Node: "c2", TunnelIP: c2},
		{VMI: "vm4", Node: "c1", TunnelIP: c1},
	}
}

func TestDesired(t *testing.T) {
	idx := index(t, cfgYAML)
	tor1, tor2 := &idx.Config.TorSwitches[0], &idx.Config.TorSwitches[1]
	blueRed := []vtep.LogicalSwitch{{VNI: 5001, Network: "blue", Flood: []netip.Addr{gw1}}, {VNI: 5002, Network: "red", Flood: []netip.Addr{gw1}}}
	tor1Bindings := []vtep.Binding{{Port: "p1", VLAN: 100, VNI: 5001}, {Port: "p1", VLAN: 101, VNI: 5001}, {Port: "p2", VLAN: 200, VNI: 5002}}
	allMACs := []vtep.RemoteMAC{
		{VNI: 5001, MAC: "02:00:00:00:01:0a", IP: ip("10.1.0.10"), Locator: gw1},
		{VNI: 5001, MAC: "02:00:00:00:02:01", IP: ip("10.1.0.21"), Locator: c1},
		{VNI: 5001, MAC: "02:00:00:00:02:02", Locator: c2},
		{VNI: 5002, MAC: "02:00:00:00:02:03", IP: ip("10.1.0.31"), Locator: c2},
	}
	for _, tc := range []struct {
		name        string
		in          Input
		want        vtep.Desired
		wantNotices []string
	}{
		{
			name: "every VMI of the bound VNs at its node, VMIs of other VNs left out, lower-case MACs, first IPv4",
			in:   Input{Index: idx, Switch: tor1, Locations: everywhere(), ReplicationTunnelIP: gw1},
			want: vtep.Desired{LogicalSwitches: blueRed, Bindings: tor1Bindings, RemoteMACs: allMACs},
		},
		{
			name:        "a VMI bound nowhere gets no remote MAC, and the notice counts it",
			in:          Input{Index: idx, Switch: tor1, Locations: everywhere()[1:], ReplicationTunnelIP: gw1},
			want:        vtep.Desired{LogicalSwitches: blueRed, Bindings: tor1Bindings, RemoteMACs: allMACs[1:]},
			wantNotices: []string{"1 VMIs of the switch's VNs are bound nowhere yet"},
		},
		{
			name: "without the replication node's tunnel IP there is no flood entry, and a notice",
			in:   Input{Index: idx, Switch: tor1, Locations: everywhere()},
			want: vtep.Desired{LogicalSwitches: []vtep.LogicalSwitch{{VNI: 5001, Network: "blue"}, {VNI: 5002, Network: "red"}},
				Bindings: tor1Bindings, RemoteMACs: allMACs},
			wantNotices: []string{"replication node gw1 has no tunnel IP yet"},
		},
		{
			name: "a VMI bound on two live nodes with equal roles is placed at the first by name, whatever the order",
			in: Input{Index: idx, Switch: tor2, ReplicationTunnelIP: gw1,
				Locations: []Location{{VMI: "vm1", Node: "c2", TunnelIP: c2}, {VMI: "vm1", Node: "c1", TunnelIP: c1}, {VMI: "vm2", Node: "x", TunnelIP: netip.Addr{}}}},
			want: vtep.Desired{LogicalSwitches: blueRed[:1], Bindings: []vtep.Binding{{Port: "eth3", VLAN: 0, VNI: 5001}},
				RemoteMACs: []vtep.RemoteMAC{{VNI: 5001, MAC: "02:00:00:00:02:01", IP: ip("10.1.0.21"), Locator: c1}}},
			wantNotices: []string{"2 VMIs of the switch's VNs are bound nowhere yet"},
		},
		{
			name: "MACs other switches learned in the switch's VNs join, at their switch; its own, other VNs' and VMIs' MACs do not",
			in: Input{Index: idx, Switch: tor1, Locations: everywhere(), ReplicationTunnelIP: gw1, Learned: []LearnedMAC{
				{Switch: "tor2", VNI: 5001, MAC: "02:00:00:00:0B:02", IP: "10.1.0.52", TunnelIP: t2},
				{Switch: "tor2", VNI: 5001, MAC: "02:00:00:00:02:01", TunnelIP: t2}, // vm1's: the VMI wins
				{Switch: "tor2", VNI: 5003, MAC: "02:00:00:00:0b:03", TunnelIP: t2}, // green: not on tor1
				{Switch: "tor1", VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: ip("192.168.100.10")},
			}},
			want: vtep.Desired{LogicalSwitches: blueRed, Bindings: tor1Bindings, RemoteMACs: []vtep.RemoteMAC{
				allMACs[0], allMACs[1], allMACs[2], {VNI: 5001, MAC: "02:00:00:00:0b:02", IP: ip("10.1.0.52"), Locator: t2}, allMACs[3]}},
			wantNotices: []string{"1 MACs other switches learned ignored"},
		},
		{
			name: "a switch without bindings wants nothing (everything of ovsgw's goes)",
			in:   Input{Index: idx, Switch: &model.TorSwitch{Name: "tor3", ReplicationNode: "gw1"}, Locations: everywhere(), ReplicationTunnelIP: gw1},
			want: vtep.Desired{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Desired(tc.in)
			if !reflect.DeepEqual(out.Desired, tc.want) {
				t.Errorf("desired:\n got %+v\nwant %+v", out.Desired, tc.want)
			}
			if len(out.Notices) != len(tc.wantNotices) {
				t.Errorf("notices %q, want %q", out.Notices, tc.wantNotices)
			}
			for i, n := range tc.wantNotices {
				if i < len(out.Notices) && !strings.Contains(out.Notices[i], n) {
					t.Errorf("notice %q, want %q", out.Notices[i], n)
				}
			}
			if again := Desired(tc.in); !reflect.DeepEqual(again, out) {
				t.Error("not deterministic")
			}
		})
	}
}

func TestManagedReplicatedVNIs(t *testing.T) {
	idx := index(t, cfgYAML)
	for _, tc := range []struct {
		node string
		want []string
	}{{"gw1", []string{"tor1", "tor2"}}, {"c1", []string{"tor2"}}, {"c2", nil}} {
		var got []string
		for _, sw := range Eligible(idx.Config, tc.node) {
			got = append(got, sw.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Eligible(%s) = %v, want %v", tc.node, got, tc.want)
		}
	}
	t1 := ip("192.168.100.10")
	rep := Replicated(idx, "gw1", map[string]netip.Addr{"tor1": t1, "tor2": t2})
	want := map[uint32][]netip.Addr{5001: {t1, t2}, 5002: {t1}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("Replicated(gw1) = %v, want %v", rep, want)
	}
	if rep := Replicated(idx, "gw1", map[string]netip.Addr{"tor2": t2}); !reflect.DeepEqual(rep, map[uint32][]netip.Addr{5001: {t2}}) {
		t.Errorf("Replicated without tor1's address = %v", rep)
	}
	if rep := Replicated(idx, "c1", map[string]netip.Addr{"tor1": t1, "tor2": t2}); len(rep) != 0 {
		t.Errorf("Replicated(c1) = %v, want none", rep)
	}
	if got := VNIs(idx, &idx.Config.TorSwitches[0]); !reflect.DeepEqual(got, []uint32{5001, 5002}) {
		t.Errorf("VNIs(tor1) = %v", got)
	}
}

// A MAC another switch reported (as published in the config DB) reaches this switch only when it
// is a 6-byte unicast address no VMI owns: a server must not take over a VMI's MAC or the
// broadcast address on other switches, and one malformed row (net.ParseMAC accepts 8-byte
// forms) would fail every later sync of the switch.
func TestToRLearnedMACsCannotHijackOtherSwitches(t *testing.T) {
	idx := index(t, cfgYAML)
	good := LearnedMAC{Switch: "tor2", VNI: 5001, MAC: "02:00:00:00:0b:02", TunnelIP: t2}
	in := Input{Index: idx, Switch: &idx.Config.TorSwitches[0], Locations: everywhere(), ReplicationTunnelIP: gw1, Learned: []LearnedMAC{good}}
	want := Desired(in).Desired
	for _, bad := range []string{
		"ff:ff:ff:ff:ff:ff",       // the broadcast
		"01:00:5e:00:00:01",       // a multicast group
		"00:00:00:00:00:00",       // nobody
		"02:00:00:00:02:01",       // vm1's
		"02:00:00:00:01:0A",       // bms1's, upper case
		"02:00:00:00:0b:09:aa:bb", // 8 bytes
		"not a mac",
	} {
		in.Learned = append(in.Learned, LearnedMAC{Switch: "tor2", VNI: 5001, MAC: bad, TunnelIP: t2})
	}
	out := Desired(in)
	if !reflect.DeepEqual(out.Desired, want) {
		t.Errorf("with bad learned MACs:\n got %+v\nwant %+v", out.Desired.RemoteMACs, want.RemoteMACs)
	}
	if !slices.ContainsFunc(out.Notices, func(n string) bool { return strings.Contains(n, "7 MACs other switches learned ignored") }) {
		t.Errorf("notices %q do not count the 7 ignored MACs", out.Notices)
	}
}

// TestToRSendsNoTrafficToDeadGateway: a VMI bound on a node whose heartbeat stopped and on a live
// one gets the live one's locator, whichever sorts first by name; a stale node's binding is kept
// when it is the VMI's only one (its datapath may still forward).
func TestToRSendsNoTrafficToDeadGateway(t *testing.T) {
	idx := index(t, cfgYAML)
	for _, locs := range [][]Location{
		{{VMI: "vm1", Node: "c1", TunnelIP: c1, Stale: true, Since: 900}, {VMI: "vm1", Node: "c2", TunnelIP: c2, Since: 100},
			{VMI: "vm2", Node: "c1", TunnelIP: c1, Stale: true, Since: 5}},
		{{VMI: "vm2", Node: "c1", TunnelIP: c1, Stale: true, Since: 5}, {VMI: "vm1", Node: "c2", TunnelIP: c2, Since: 100},
			{VMI: "vm1", Node: "c1", TunnelIP: c1, Stale: true, Since: 900}},
	} {
		out := Desired(Input{Index: idx, Switch: &idx.Config.TorSwitches[1], ReplicationTunnelIP: gw1, Locations: locs})
		want := []vtep.RemoteMAC{{VNI: 5001, MAC: "02:00:00:00:02:01", IP: ip("10.1.0.21"), Locator: c2}, {VNI: 5001, MAC: "02:00:00:00:02:02", Locator: c1}}
		if !reflect.DeepEqual(out.Desired.RemoteMACs, want) {
			t.Errorf("locations %v:\n got %+v\nwant %+v", locs, out.Desired.RemoteMACs, want)
		}
	}
}
