package pipeline

import (
	"slices"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// TestServiceMetersFollowPunts: the engine wants a meter for each bound VMI with punt flows
// (with the id those flows use) plus the shared one, and none for a VMI without services.
func TestServiceMetersFollowPunts(t *testing.T) {
	x := loadIndex(t, "services.yaml")
	in := Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports}
	e := NewEngine()
	e.Update(in, func(string, []openflow.Flow, []openflow.Group) {})
	used := map[uint32]bool{}
	for _, f := range Compile(in).Flows {
		for _, a := range f.Actions {
			if m, ok := a.(openflow.MeterAction); ok {
				used[m.ID] = true
			}
		}
	}
	var got []uint32
	for _, m := range e.Meters() {
		got = append(got, m.ID)
		if m.ID != SharedMeterID && !used[m.ID] {
			t.Errorf("meter %d wanted, but no flow uses it", m.ID)
		}
	}
	if len(got) != 3 || !slices.Contains(got, SharedMeterID) {
		t.Fatalf("meters %v: want bms1's, vm1's and the shared one", got)
	}
	if len(used) != 2 {
		t.Fatalf("flows use meters %v: want bms1's and vm1's", used)
	}
}

// TestSubnetDHCPFlagRecompilesItsVMIs: turning DHCP off in a subnet removes its VMIs' punts in
// an incremental update exactly as in a full compile, and their meters with them.
func TestSubnetDHCPFlagRecompilesItsVMIs(t *testing.T) {
	x := loadIndex(t, "services.yaml")
	in := Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports}
	e := NewEngine()
	table := openflow.NewFlowTable(OwnedCookie, OwnedGroup)
	e.Update(in, table.SetUnit)
	cfg := clone(x.Config)
	off := false
	vn := &cfg.VirtualNetworks[0]
	vn.Subnets = slices.Clone(vn.Subnets) // clone leaves them shared
	vn.Subnets[0].DHCP, vn.Subnets[1].DHCP = &off, &off
	in.Index = model.NewIndex(cfg)
	e.Update(in, table.SetUnit)
	if got, want := renderTable(table, e), renderOutput(Compile(in)); got != want {
		t.Fatalf("incremental differs from full compile:\n%s", lineDiff(want, got))
	}
	for _, f := range Compile(in).Flows {
		if f.Priority == PrioServicePunt && f.Owner.Name == "bms1" {
			if _, ns := f.Match.Get(openflow.FieldNDTarget); !ns {
				t.Errorf("DHCP off, yet punted: %s", f.Flow)
			}
		}
	}
	if n := len(e.Meters()); n != 3 { // bms1 keeps its gateway's neighbour solicitations
		t.Errorf("%d meters, want 3", n)
	}
}

// TestMeterIDsWrapAndRunOut: meter ids stay within 1..limit, probe past collisions, wrap, and
// give none once all are taken.
func TestMeterIDsWrapAndRunOut(t *testing.T) {
	a := idAllocator{hash: func(string) uint32 { return 3 }, limit: 3}
	cfg := &model.Config{VirtualNetworks: []model.VirtualNetwork{{Name: "vn", VNI: 1}}}
	for _, n := range []string{"a", "b", "c", "d"} {
		cfg.VirtualMachineInterfaces = append(cfg.VirtualMachineInterfaces, model.VirtualMachineInterface{Name: n, Network: "vn", MAC: "02:00:00:00:00:01"})
	}
	ids := a.assign(model.NewIndex(cfg))
	if ids["a"] != 3 || ids["b"] != 1 || ids["c"] != 2 || ids["d"] != 0 {
		t.Fatalf("ids %v: want a=3, b=1 (wrapped), c=2, d none", ids)
	}
}

// TestVMITakingDefaultGatewayRecompilesItsVN: when a VMI takes its VN's default gateway
// address, the VN has no gateway any more (model.Index.Gateway), so every other VMI's neighbour
// solicitation punt for it must go in the incremental update too, as in a full compile.
func TestVMITakingDefaultGatewayRecompilesItsVN(t *testing.T) {
	x := loadIndex(t, "services.yaml")
	in := Input{Index: x, Host: "gw1", GatewayMode: true, Ports: gw1Ports}
	e := NewEngine()
	table := openflow.NewFlowTable(OwnedCookie, OwnedGroup)
	e.Update(in, table.SetUnit)
	cfg := clone(x.Config)
	for i := range cfg.VirtualMachineInterfaces {
		if v := &cfg.VirtualMachineInterfaces[i]; v.Name == "vm2" { // red's 2001:db8:2::/64 has the default gateway ::1
			v.InstanceIPs = append(v.InstanceIPs, model.InstanceIP{Address: "2001:db8:2::1"})
		}
	}
	in.Index = model.NewIndex(cfg)
	e.Update(in, table.SetUnit)
	if got, want := renderTable(table, e), renderOutput(Compile(in)); got != want {
		t.Fatalf("incremental differs from full compile:\n%s", lineDiff(want, got))
	}
}
