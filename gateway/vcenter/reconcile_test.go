package vcenter

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
)

const testOwner = "vcenter:vc1"

func testParams() Params {
	return Params{Owner: testOwner, Prefix: "vc1-", Uplinks: []Uplink{{"gw1", "eth1"}, {"gw2", "eth1"}},
		VLANMin: 100, VLANMax: 103, MaxInterfaces: model.DefaultMaxInterfaces,
		Network: func(pg string) (string, bool) {
			vn, ok := strings.CutPrefix(pg, "ovsgw-")
			return vn, ok && vn != ""
		}}
}

func testState() State {
	return State{
		Networks:   map[string][]model.Subnet{"blue": model.SubnetsOf("10.1.0.0/24"), "red": model.SubnetsOf("10.2.0.0/24")},
		Interfaces: map[Uplink]bool{{"gw1", "eth1"}: true, {"gw2", "eth1"}: true},
		Limits:     map[string]int{},
	}
}

func testInventory(vms ...VM) Inventory {
	return Inventory{PortGroups: map[string]string{"pg-b": "ovsgw-blue", "pg-r": "ovsgw-red", "pg-x": "other"}, VMs: vms}
}

func nic(key int32, mac, pg, port string, ips ...string) NIC {
	n := NIC{Key: key, MAC: mac, PortgroupKey: pg, PortKey: port}
	for _, s := range ips {
		n.IPs = append(n.IPs, netip.MustParseAddr(s))
	}
	return n
}

// applyPlan makes st's own rows the plan's, as a write would (UUIDs from names).
func applyPlan(st State, plan Plan) State {
	var lis []LI
	for _, l := range st.LIs {
		if l.Owner != testOwner {
			lis = append(lis, l)
		}
	}
	for _, l := range plan.LIs {
		l.UUID = "li-" + l.Router + "-" + l.Name
		lis = append(lis, l)
	}
	var vmis []VMI
	for _, v := range st.VMIs {
		if v.Owner != testOwner {
			vmis = append(vmis, v)
		}
	}
	for _, v := range plan.VMIs {
		v.UUID = "vmi-" + v.Name
		vmis = append(vmis, v)
	}
	st.LIs, st.VMIs = lis, vmis
	return st
}

func vlanOf(plan Plan, name string) int {
	for _, l := range plan.LIs {
		if l.Name == name {
			return l.VLAN
		}
	}
	return -1
}

func vmiOf(plan Plan, name string) *VMI {
	for i := range plan.VMIs {
		if plan.VMIs[i].Name == name {
			return &plan.VMIs[i]
		}
	}
	return nil
}

func TestReconcileMapsNICsOfMappedPortGroups(t *testing.T) {
	inv := testInventory(
		VM{UUID: "u1", Name: "web", NICs: []NIC{nic(4000, "00:50:56:00:00:01", "pg-b", "10"), nic(4001, "00:50:56:00:00:02", "pg-x", "11")}},
		VM{UUID: "u2", Name: "db", NICs: []NIC{nic(4000, "00:50:56:00:00:03", "pg-r", "12", "10.2.0.77", "fe80::1")}},
	)
	plan := Reconcile(testParams(), inv, testState())
	if len(plan.Reports) != 0 {
		t.Fatalf("reports: %v", plan.Reports)
	}
	if plan.VMsSeen != 2 || plan.NICsMapped != 2 || plan.VLANsUsed != 2 || plan.VLANsFree != 2 {
		t.Errorf("counts %d %d %d %d", plan.VMsSeen, plan.NICsMapped, plan.VLANsUsed, plan.VLANsFree)
	}
	if v := vmiOf(plan, "vc1-u1-4000"); v == nil || v.Network != "blue" || !slices.Equal(v.IPs, []string{"10.1.0.2"}) {
		t.Errorf("web's VMI %+v: want blue, allocated 10.1.0.2 (10.1.0.1 is the gateway)", v)
	}
	if v := vmiOf(plan, "vc1-u2-4000"); v == nil || !slices.Equal(v.IPs, []string{"10.2.0.77"}) {
		t.Errorf("db's VMI %+v: want guest tools' 10.2.0.77", v)
	}
	if len(plan.LIs) != 4 || vlanOf(plan, "vc1-u1-4000") != 100 || vlanOf(plan, "vc1-u2-4000") != 101 {
		t.Errorf("LIs %+v", plan.LIs)
	}
	if plan.PortVLANs["10"] != 100 || plan.PortVLANs["12"] != 101 || len(plan.PortVLANs) != 2 {
		t.Errorf("port VLANs %v", plan.PortVLANs)
	}
}

func TestReconcileKeepsVLANsAndAddressesOfMappedNICs(t *testing.T) {
	p := testParams()
	st := testState()
	a := VM{UUID: "ua", Name: "a", NICs: []NIC{nic(1, "00:50:56:00:00:0a", "pg-b", "1")}}
	b := VM{UUID: "ub", Name: "b", NICs: []NIC{nic(1, "00:50:56:00:00:0b", "pg-b", "2")}}
	plan := Reconcile(p, testInventory(a, b), st)
	st = applyPlan(st, plan)
	// A new VM sorting before both, and a's removal: b keeps VLAN 101 and 10.1.0.3.
	z := VM{UUID: "u0", Name: "z", NICs: []NIC{nic(1, "00:50:56:00:00:0c", "pg-b", "3")}}
	plan = Reconcile(p, testInventory(z, b), st)
	if vlanOf(plan, "vc1-ub-1") != 101 || !slices.Equal(vmiOf(plan, "vc1-ub-1").IPs, []string{"10.1.0.3"}) {
		t.Errorf("b moved: %+v %+v", plan.LIs, plan.VMIs)
	}
	if vlanOf(plan, "vc1-u0-1") != 100 || vmiOf(plan, "vc1-ua-1") != nil {
		t.Errorf("z should take a's released VLAN 100, a be gone: %+v", plan.LIs)
	}
	w := Diff(testOwner, st, plan)
	if len(w.InsertVMIs) != 1 || len(w.DeleteVMIs) != 1 || len(w.UpdateVMIs) != 0 || len(w.InsertLIs) != 2 || len(w.DeleteLIs) != 2 || len(w.UpdateLIs) != 0 {
		t.Errorf("diff %+v", w)
	}
}

func TestReconcileReplugMovesVMIToNewVN(t *testing.T) {
	p := testParams()
	st := testState()
	a := VM{UUID: "ua", Name: "a", NICs: []NIC{nic(1, "00:50:56:00:00:0a", "pg-b", "1")}}
	st = applyPlan(st, Reconcile(p, testInventory(a), st))
	a.NICs[0].PortgroupKey, a.NICs[0].PortKey = "pg-r", "7"
	plan := Reconcile(p, testInventory(a), st)
	v := vmiOf(plan, "vc1-ua-1")
	if v == nil || v.Network != "red" || !slices.Equal(v.IPs, []string{"10.2.0.2"}) || vlanOf(plan, "vc1-ua-1") != 100 || plan.PortVLANs["7"] != 100 {
		t.Errorf("replugged: %+v %+v %v", v, plan.LIs, plan.PortVLANs)
	}
	if w := Diff(testOwner, st, plan); len(w.UpdateVMIs) != 1 || len(w.UpdateLIs)+len(w.InsertLIs)+len(w.DeleteLIs) != 0 {
		t.Errorf("diff %+v", w)
	}
}

func TestReconcileNeverTouchesHandWrittenRows(t *testing.T) {
	p := testParams()
	st := testState()
	st.VMIs = []VMI{{UUID: "h1", Name: "bms1", Network: "blue", MAC: "00:50:56:00:00:0B", IPs: []string{"10.1.0.2"}}}
	st.LIs = []LI{{UUID: "h2", Router: "gw1", Interface: "eth1", Name: "eth1-100", VLAN: 100, VMI: "bms1"}}
	a := VM{UUID: "ua", Name: "a", NICs: []NIC{nic(1, "00:50:56:00:00:0a", "pg-b", "1")}}
	b := VM{UUID: "ub", Name: "b", NICs: []NIC{nic(1, "00:50:56:00:00:0b", "pg-b", "2")}} // bms1's MAC
	plan := Reconcile(p, testInventory(a, b), st)
	if vlanOf(plan, "vc1-ua-1") != 101 || !slices.Equal(vmiOf(plan, "vc1-ua-1").IPs, []string{"10.1.0.3"}) {
		t.Errorf("a must avoid VLAN 100 and 10.1.0.2: %+v %+v", plan.LIs, plan.VMIs)
	}
	if vmiOf(plan, "vc1-ub-1") != nil || len(plan.Reports) != 1 || !strings.Contains(plan.Reports[0], "MAC 00:50:56:00:00:0b is VMI bms1's") {
		t.Errorf("b must be left out and reported: %v", plan.Reports)
	}
	// A hand-written row takes the VLAN of a generated one: the generated one moves, reported.
	st = applyPlan(st, plan)
	st.LIs = append(st.LIs, LI{UUID: "h3", Router: "gw2", Interface: "eth1", Name: "x", VLAN: 101, VMI: "bms1"})
	plan = Reconcile(p, testInventory(a, b), st)
	if vlanOf(plan, "vc1-ua-1") != 102 || !slices.ContainsFunc(plan.Reports, func(r string) bool { return strings.Contains(r, "VLAN 101 is taken by logical interface gw2/x") }) {
		t.Errorf("a must move off VLAN 101: %+v %v", plan.LIs, plan.Reports)
	}
	w := Diff(testOwner, st, plan)
	for _, u := range w.UpdateLIs {
		if u.UUID == "h2" || u.UUID == "h3" || u.VLAN != 102 {
			t.Errorf("update %+v", u)
		}
	}
	if len(w.DeleteLIs)+len(w.DeleteVMIs) != 0 {
		t.Errorf("deletes %+v", w)
	}
}

func TestReconcileRespectsInterfaceBudget(t *testing.T) {
	p := testParams()
	st := testState()
	st.Limits["gw2"] = 4 // two remote instances
	a := VM{UUID: "ua", Name: "a", NICs: []NIC{nic(1, "00:50:56:00:00:0a", "pg-b", "1")}}
	b := VM{UUID: "ub", Name: "b", NICs: []NIC{nic(1, "00:50:56:00:00:0b", "pg-b", "2"), nic(2, "00:50:56:00:00:0c", "pg-r", "3")}}
	c := VM{UUID: "uc", Name: "c", NICs: []NIC{nic(1, "00:50:56:00:00:0d", "pg-b", "4")}}
	plan := Reconcile(p, testInventory(a, b, c), st)
	if vmiOf(plan, "vc1-ua-1") == nil || vmiOf(plan, "vc1-uc-1") == nil || vmiOf(plan, "vc1-ub-1") != nil {
		t.Errorf("a and c fit, b (2 NICs) does not: %+v", plan.VMIs)
	}
	if len(plan.Reports) != 1 || !strings.Contains(plan.Reports[0], "VM b: its 2 NICs exceed the interface budget (node gw2 would use 6 of its 4 interfaces)") {
		t.Errorf("reports %v", plan.Reports)
	}
	// A mapped VM keeps its place when a new one sorts before it.
	st = applyPlan(st, plan)
	z := VM{UUID: "u0", Name: "z", NICs: []NIC{nic(1, "00:50:56:00:00:0e", "pg-b", "5")}}
	plan = Reconcile(p, testInventory(z, a, b, c), st)
	if vmiOf(plan, "vc1-u0-1") != nil || vmiOf(plan, "vc1-ua-1") == nil || vmiOf(plan, "vc1-uc-1") == nil {
		t.Errorf("z must wait, a and c stay: %+v", plan.VMIs)
	}
}

func TestReconcileRunsOutOfVLANs(t *testing.T) {
	p := testParams()
	var vms []VM
	for i := range 5 {
		vms = append(vms, VM{UUID: "u" + string(rune('a'+i)), Name: "vm" + string(rune('a'+i)),
			NICs: []NIC{nic(1, "00:50:56:00:01:0"+string(rune('0'+i)), "pg-b", "")}})
	}
	plan := Reconcile(p, testInventory(vms...), testState())
	if plan.NICsMapped != 4 || plan.VLANsFree != 0 || len(plan.Reports) != 1 || !strings.Contains(plan.Reports[0], "VM vme NIC 1: no VLAN left in 100-103") {
		t.Errorf("mapped %d free %d reports %v", plan.NICsMapped, plan.VLANsFree, plan.Reports)
	}
	if len(plan.PortVLANs) != 0 {
		t.Errorf("NICs without a port key have no port VLAN: %v", plan.PortVLANs)
	}
}

func TestReconcileWaitsForMissingUplinkAndVN(t *testing.T) {
	p := testParams()
	st := testState()
	delete(st.Networks, "red")
	a := VM{UUID: "ua", Name: "a", NICs: []NIC{nic(1, "00:50:56:00:00:0a", "pg-r", "1")}}
	plan := Reconcile(p, testInventory(a), st)
	if len(plan.VMIs) != 0 || len(plan.Reports) != 1 || !strings.Contains(plan.Reports[0], "maps to VN red, which is not in the config DB") {
		t.Errorf("%+v", plan)
	}
	delete(st.Interfaces, Uplink{"gw2", "eth1"})
	plan = Reconcile(p, testInventory(a), st)
	if len(plan.VMIs) != 0 || !strings.Contains(strings.Join(plan.Reports, "\n"), "uplink gw2/eth1: no such physical interface") {
		t.Errorf("%+v", plan)
	}
}
