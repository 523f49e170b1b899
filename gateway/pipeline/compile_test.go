package pipeline

import (
	"flag"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func loadIndex(t *testing.T, name string) *model.Index {
	t.Helper()
	c, _, err := model.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return model.NewIndex(c)
}

// ports of node gw1: two gateway NICs, a VM port, a port of someone else's with no iface-id,
// and eth2 whose device is missing (no ofport).
var gw1Ports = []Port{
	{Name: "eth1", OFPort: 1},
	{Name: "eth2", OFPort: -1},
	{Name: "vm1p", OFPort: 5, IfaceID: "vm1"},
	{Name: "vm2p", OFPort: 6, IfaceID: "vm2"},
	{Name: "mgmt0", OFPort: 9},
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// haPeers: gw2 has the BPDU VMI bound too (it is in the group); vm1 is on compute3.
var haPeers = []Peer{
	{VMI: "stp", Node: "gw2", TunnelIP: netip.MustParseAddr("192.168.50.2")},
	{VMI: "vm1", Node: "compute3", TunnelIP: netip.MustParseAddr("192.168.50.3")},
}

var policyPorts = []Port{
	{Name: "eth1", OFPort: 1},
	{Name: "vm1p", OFPort: 5, IfaceID: "vm1"},
	{Name: "vm2p", OFPort: 6, IfaceID: "vm2"},
	{Name: "vm3p", OFPort: 7, IfaceID: "vm3"},
}

// routingPorts and routingPeers place routing.yaml's VMIs: bmsA, vmP and plum1 on gw1, farP
// on gw2, kiwi1 on compute3.
var (
	routingPorts = []Port{{Name: "eth1", OFPort: 1}, {Name: "vmPp", OFPort: 5, IfaceID: "vmP"}, {Name: "plum1p", OFPort: 6, IfaceID: "plum1"}}
	routingPeers = []Peer{
		{VMI: "farP", Node: "gw2", TunnelIP: netip.MustParseAddr("192.168.50.2")},
		{VMI: "kiwi1", Node: "compute3", TunnelIP: netip.MustParseAddr("192.168.50.3")},
	}
)

// render prints the compiler's output as text: the golden form.
func render(out *Output) string {
	var b strings.Builder
	for _, e := range out.Flows {
		why := ""
		if e.Purpose != Forward {
			why = " drop:" + DropReasons[e.Purpose]
		}
		fmt.Fprintf(&b, "%s  # %s %s%s\n", e.Flow, TableNames[e.Table], e.Owner, why)
	}
	for _, g := range out.Groups {
		fmt.Fprintf(&b, "%s  # %s\n", g.Group, g.Owner)
	}
	for _, bd := range out.Bindings {
		fmt.Fprintf(&b, "binding %+v\n", bd)
	}
	for _, n := range out.Notices {
		fmt.Fprintf(&b, "notice %s\n", n)
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it after review):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	x := loadIndex(t, "two-vns.yaml")
	cases := []struct {
		name, golden string
		in           Input
	}{
		{"gateway node programs its logical interfaces and local VMs", "gw1-gateway.golden",
			Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports}},
		{"gateway mode off: local VMs only, logical interfaces ignored with a notice", "gw1-no-gateway-mode.golden",
			Input{Index: x, Host: "gw1", GatewayMode: false, Ports: gw1Ports}},
		{"a node with no ports has only the default drop", "empty-node.golden",
			Input{Index: x, Host: "compute9", GatewayMode: true}},
		{"overlay: tunnel ingress per served VN, peers' MACs into the tunnel, head-end replication", "gw1-overlay.golden",
			Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports, TunnelPort: 10, Peers: []Peer{
				{VMI: "far1", Node: "gw2", TunnelIP: netip.MustParseAddr("192.168.50.2")},
				{VMI: "vm-elsewhere", Node: "compute3", TunnelIP: netip.MustParseAddr("192.168.50.3")},
				{VMI: "vm1", Node: "compute3", TunnelIP: netip.MustParseAddr("192.168.50.3")}, // bound here too: local wins
			}}},
		{"ToR switches: learned MACs into the tunnel, floods to switches, replication of a switch's BUM", "gw1-tor.golden",
			Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports, TunnelPort: 10, Peers: []Peer{
				{VMI: "far1", Node: "gw2", TunnelIP: netip.MustParseAddr("192.168.50.2")}},
				Tors: []Tor{
					{Name: "tor1", TunnelIP: netip.MustParseAddr("192.168.50.9"), VNIs: []uint32{5001, 7777}, Replicator: true,
						ReplicationIP: netip.MustParseAddr("192.168.50.1"),
						MACs:          []TorMAC{{VNI: 5001, MAC: mustMAC("02:00:00:00:09:01")}, {VNI: 7777, MAC: mustMAC("02:00:00:00:09:02")}}},
					{Name: "tor2", TunnelIP: netip.MustParseAddr("192.168.50.10"), VNIs: []uint32{5002},
						MACs: []TorMAC{{VNI: 5002, MAC: mustMAC("02:00:00:00:0a:01")}}, ReplicationIP: netip.MustParseAddr("192.168.50.7")},
				}}},
		{"HA, active gateway: BPDUs flooded to the group, bms1 served", "ha-active.golden",
			Input{Index: loadIndex(t, "ha.yaml"), Host: "gw1", GatewayMode: true, Ports: gw1Ports[:1], TunnelPort: 10, Peers: haPeers}},
		{"HA, standby gateway: BPDUs flooded, bms1 neither delivered nor accepted", "ha-standby.golden",
			Input{Index: loadIndex(t, "ha.yaml"), Host: "gw1", GatewayMode: true, Ports: gw1Ports[:1], TunnelPort: 10, Peers: haPeers,
				Standby: map[string]bool{"eth1": true}}},
		{"services: DHCPv4, router and gateway neighbour solicitations punted through the VMI's and the shared meter", "services.golden",
			Input{Index: loadIndex(t, "services.yaml"), Host: "gw1", GatewayMode: true, Ports: gw1Ports}},
		{"every security group and network policy rule kind", "policies.golden",
			Input{Index: loadIndex(t, "policies.yaml"), Host: "gw1", GatewayMode: true, Ports: policyPorts}},
		{"gateways and routing: ARP and echo answers, route-classify, routes to VMIs here, on other nodes and in a VN only routed to, policies of routed traffic", "routing.golden",
			Input{Index: loadIndex(t, "routing.yaml"), Host: "gw1", GatewayMode: true, Ports: routingPorts, TunnelPort: 10, Peers: routingPeers}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { golden(t, tc.golden, render(Compile(tc.in))) })
	}
}

func TestCompileIsDeterministic(t *testing.T) {
	x := loadIndex(t, "two-vns.yaml")
	in := Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports}
	first := render(Compile(in))
	for i := 0; i < 20; i++ {
		if got := render(Compile(in)); got != first {
			t.Fatalf("run %d differs from the first", i)
		}
	}
}

// TestChangingOneVMITouchesOnlyItsFlows moves bms1 to another VLAN and checks that every flow
// that changed is bms1's.
func TestChangingOneVMITouchesOnlyItsFlows(t *testing.T) {
	before := Compile(Input{Index: loadIndex(t, "two-vns.yaml"), Host: "gw1", GatewayMode: true, Ports: gw1Ports})
	c, _, err := model.Load(filepath.Join("testdata", "two-vns.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vlan := 150
	c.PhysicalRouters[0].PhysicalInterfaces[0].LogicalInterfaces[0].VLAN = &vlan
	after := Compile(Input{Index: model.NewIndex(c), Host: "gw1", GatewayMode: true, Ports: gw1Ports})
	changed := diffFlows(before.Flows, after.Flows)
	if len(changed) == 0 {
		t.Fatal("moving bms1 to VLAN 150 changed no flow")
	}
	for _, e := range changed {
		if e.Owner != (Owner{KindVMI, "bms1"}) {
			t.Errorf("flow of %s changed: %s", e.Owner, e.Flow)
		}
	}
}

func diffFlows(a, b []Entry) []Entry {
	in := func(list []Entry, f openflow.Flow) bool {
		for _, e := range list {
			if e.Flow.Equal(f) {
				return true
			}
		}
		return false
	}
	var out []Entry
	for _, e := range a {
		if !in(b, e.Flow) {
			out = append(out, e)
		}
	}
	for _, e := range b {
		if !in(a, e.Flow) {
			out = append(out, e)
		}
	}
	return out
}

func TestCookiesRoundTrip(t *testing.T) {
	c := Cookie(KindVMI, DropSpoofing, 0xdeadbeef)
	k, why, id, ok := ParseCookie(c)
	if !ok || k != KindVMI || why != DropSpoofing || id != 0xdeadbeef {
		t.Fatalf("ParseCookie(%#x) = %v %v %#x %v", c, k, why, id, ok)
	}
	if OwnedCookie(0x1234) || OwnedCookie(0) {
		t.Fatal("a foreign cookie was taken for ovsgw's")
	}
}

func TestIDsAreUniqueAndNeverRenumbered(t *testing.T) {
	config := func(names ...string) *model.Index {
		c := &model.Config{}
		for _, n := range names {
			c.VirtualMachineInterfaces = append(c.VirtualMachineInterfaces, model.VirtualMachineInterface{Name: n})
		}
		return model.NewIndex(c)
	}
	var a idAllocator
	var names []string
	for i := 0; i < 5000; i++ {
		names = append(names, fmt.Sprintf("vmi-%05d", i))
	}
	ids := maps.Clone(a.assign(config(names...)))
	seen := map[uint32]string{}
	for n, id := range ids {
		if other, dup := seen[id]; dup || id == 0 {
			t.Fatalf("%s and %s share id %#x", n, other, id)
		}
		seen[id] = n
	}
	// Names whose ids collide (every name hashes alike here) get distinct ids, and a newcomer
	// never takes over an existing name's id, whatever its place in sorted order.
	b := idAllocator{hash: func(string) uint32 { return 7 }}
	first := maps.Clone(b.assign(config("m", "z")))
	if first["m"] != 7 || first["z"] != 8 {
		t.Fatalf("colliding ids %v, want m=7 z=8", first)
	}
	after := b.assign(config("a", "m", "z"))
	if after["m"] != 7 || after["z"] != 8 || after["a"] != 9 {
		t.Fatalf("a newcomer renumbered: %v, want m=7 z=8 a=9", after)
	}
	if again := b.assign(config("a", "z")); again["z"] != 8 || again["a"] != 9 {
		t.Fatalf("a removal renumbered: %v", again)
	}
}

// TestPolicyChangesTouchOnlyTheirFlows edits one rule of each kind and checks that every flow
// that changed belongs to the edited security group or policy.
func TestPolicyChangesTouchOnlyTheirFlows(t *testing.T) {
	cases := []struct {
		name, old, new string
		owner          Owner
	}{
		{"security group port range", `ports: "80-81"`, `ports: "80-82"`, Owner{KindSecurityGroup, "web"}},
		{"security group remote CIDR", "remoteCIDR: 192.168.0.0/16", "remoteCIDR: 192.168.0.0/24", Owner{KindSecurityGroup, "web"}},
		{"security group protocol", "{direction: egress, protocol: tcp}", "{direction: egress, protocol: udp}", Owner{KindSecurityGroup, "client"}},
		{"policy rule port", `destinationPorts: "22"`, `destinationPorts: "2222"`, Owner{KindNetworkPolicy, "no-ssh"}},
		{"policy rule action", "{action: deny, protocol: udp}", "{action: pass, protocol: udp}", Owner{KindNetworkPolicy, "dns-only"}},
	}
	data, err := os.ReadFile(filepath.Join("testdata", "policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	compile := func(text string) *Output {
		c, err := model.Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		return Compile(Input{Index: model.NewIndex(c), Host: "gw1", GatewayMode: true, Ports: policyPorts})
	}
	before := compile(string(data))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(data), tc.old) {
				t.Fatalf("test bug: %q not in policies.yaml", tc.old)
			}
			changed := diffFlows(before.Flows, compile(strings.Replace(string(data), tc.old, tc.new, 1)).Flows)
			if len(changed) == 0 {
				t.Fatal("the edit changed no flow")
			}
			for _, e := range changed {
				if e.Owner != tc.owner {
					t.Errorf("flow of %s changed: %s", e.Owner, e.Flow)
				}
			}
		})
	}
}

// TestLargeFloodGroupsAreChained splits a flood group of 2,500 members into a chain of groups
// that each fit in one OpenFlow message, losing no member.
func TestLargeFloodGroupsAreChained(t *testing.T) {
	c := &compiler{out: &unit{}}
	g := openflow.Group{ID: FloodGroupID(5001), Type: openflow.GroupAll}
	for i := 0; i < 2500; i++ {
		g.Buckets = append(g.Buckets, openflow.Bucket{Actions: []openflow.Action{
			openflow.SetUint(RegDstVMI, uint64(i+1)), openflow.Resubmit{Table: TableIngressACL}}})
	}
	c.group(g, Owner{KindVN, "blue"})
	if len(c.out.groups) != 3 {
		t.Fatalf("%d groups, want 3", len(c.out.groups))
	}
	members := 0
	for i, e := range c.out.groups {
		if len(e.Buckets) > floodGroupChunk || !OwnedGroup(e.Group) || GroupVNI(e.ID) != 5001 {
			t.Errorf("group %d: id %#x, %d buckets", i, e.ID, len(e.Buckets))
		}
		for j, b := range e.Buckets {
			if ga, ok := b.Actions[0].(openflow.GroupAction); ok {
				if j != len(e.Buckets)-1 || i == len(c.out.groups)-1 || ga.ID != c.out.groups[i+1].ID {
					t.Errorf("group %#x: bucket %d hands on to %#x", e.ID, j, ga.ID)
				}
				continue
			}
			members++
		}
	}
	if c.out.groups[0].ID != g.ID || members != 2500 {
		t.Fatalf("head %#x, %d members reached", c.out.groups[0].ID, members)
	}
}

// TestOwnedGroupNeedsItsMarker: a group is ovsgw's only when its id is in ovsgw's ranges and it
// carries GroupMarker first in its first bucket; an id alone proves nothing.
func TestOwnedGroupNeedsItsMarker(t *testing.T) {
	port1 := openflow.Output{Port: 1}
	marked := markGroup(openflow.Group{ID: FloodGroupID(5001), Buckets: []openflow.Bucket{{Actions: []openflow.Action{port1}}}})
	for _, tc := range []struct {
		name  string
		g     openflow.Group
		owned bool
	}{
		{"compiled flood group", marked, true},
		{"empty group, marked", markGroup(openflow.Group{ID: LocalFloodGroupID(7)}), true},
		{"chain continuation, marked", markGroup(openflow.Group{ID: chainGroupID(TorFloodGroupID(7), 3)}), true},
		{"in range, no marker", openflow.Group{ID: FloodGroupID(5001), Buckets: []openflow.Bucket{{Actions: []openflow.Action{port1}}}}, false},
		{"in range, no buckets", openflow.Group{ID: FloodGroupID(5001)}, false},
		{"marker in a later bucket", openflow.Group{ID: FloodGroupID(5001), Buckets: []openflow.Bucket{{Actions: []openflow.Action{port1}}, {Actions: []openflow.Action{GroupMarker}}}}, false},
		{"marker after another action", openflow.Group{ID: FloodGroupID(5001), Buckets: []openflow.Bucket{{Actions: []openflow.Action{port1, GroupMarker}}}}, false},
		{"another note", openflow.Group{ID: FloodGroupID(5001), Buckets: []openflow.Bucket{{Actions: []openflow.Action{openflow.Note{Data: []byte("ovsgw\x02")}}}}}, false},
		{"marked, out of range", markGroup(openflow.Group{ID: 7}), false},
	} {
		if got := OwnedGroup(tc.g); got != tc.owned {
			t.Errorf("%s: OwnedGroup(%s) = %v", tc.name, tc.g, got)
		}
	}
	// Every group the compiler emits is marked, and marking copies: the input is unchanged.
	in := openflow.Group{ID: FloodGroupID(1), Buckets: []openflow.Bucket{{Actions: []openflow.Action{port1}}}}
	if markGroup(in); len(in.Buckets[0].Actions) != 1 {
		t.Errorf("markGroup changed its input: %s", in)
	}
	out := Compile(Input{Index: loadIndex(t, "two-vns.yaml"), Host: "gw1", GatewayMode: true, Ports: gw1Ports, TunnelPort: 10,
		Peers: []Peer{{VMI: "far1", Node: "gw2", TunnelIP: netip.MustParseAddr("192.168.50.2")}}})
	if len(out.Groups) < 2 {
		t.Fatalf("%d groups compiled", len(out.Groups))
	}
	for _, g := range out.Groups {
		if !OwnedGroup(g.Group) {
			t.Errorf("compiled group not owned: %s", g.Group)
		}
	}
}
