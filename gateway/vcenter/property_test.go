package vcenter

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// applyWrite applies a Diff to st as the database would (UUIDs for inserts from names), so
// that the next Reconcile sees what the write made.
func applyWrite(st State, w *configdb.OwnedWrite) State {
	delLI, delVMI := map[string]bool{}, map[string]bool{}
	for _, u := range w.DeleteLIs {
		delLI[u] = true
	}
	for _, u := range w.DeleteVMIs {
		delVMI[u] = true
	}
	upLI, upVMI := map[string]LI{}, map[string]VMI{}
	for _, r := range w.UpdateLIs {
		upLI[r.UUID] = LI{UUID: r.UUID, Router: r.Router, Interface: r.PhysicalInterface, Name: r.Name, VLAN: r.VLAN, VMI: r.Vmi,
			Owner: r.ExternalIDs[configdb.OwnerKey], NIC: r.ExternalIDs[keyNIC]}
	}
	for _, r := range w.UpdateVMIs {
		upVMI[r.UUID] = vmiOfRow(r.UUID, r.Name, r.Network, r.MAC, r.InstanceIPs, r.ExternalIDs)
	}
	var lis []LI
	for _, l := range st.LIs {
		if delLI[l.UUID] {
			continue
		}
		if u, ok := upLI[l.UUID]; ok {
			l = u
		}
		lis = append(lis, l)
	}
	for _, r := range w.InsertLIs {
		lis = append(lis, LI{UUID: "li-" + r.Router + "-" + r.Name, Router: r.Router, Interface: r.PhysicalInterface, Name: r.Name,
			VLAN: r.VLAN, VMI: r.Vmi, Owner: r.ExternalIDs[configdb.OwnerKey], NIC: r.ExternalIDs[keyNIC]})
	}
	var vmis []VMI
	for _, v := range st.VMIs {
		if delVMI[v.UUID] {
			continue
		}
		if u, ok := upVMI[v.UUID]; ok {
			v = u
		}
		vmis = append(vmis, v)
	}
	for _, r := range w.InsertVMIs {
		vmis = append(vmis, vmiOfRow("vmi-"+r.Name, r.Name, r.Network, r.MAC, r.InstanceIPs, r.ExternalIDs))
	}
	st.LIs, st.VMIs = lis, vmis
	return st
}

func vmiOfRow(uuid, name, network, mac string, ips map[string]string, ext map[string]string) VMI {
	v := VMI{UUID: uuid, Name: name, Network: network, MAC: mac, Owner: ext[configdb.OwnerKey], NIC: ext[keyNIC], VM: ext[keyVM]}
	for ip := range ips {
		v.IPs = append(v.IPs, ip)
	}
	slices.Sort(v.IPs)
	return v
}

// After random sequences of inventory changes, each plan written through Diff: the database
// holds exactly the plan's rows (Diff is right), VLANs are unique per uplink and in range and
// the same on every uplink, addresses unique in their VN and inside its subnet, and a NIC that
// stayed on its port group kept its VLAN and address.
func TestReconcileRandomChanges(t *testing.T) {
	p := testParams()
	p.VLANMax = 150
	pgs := []string{"pg-b", "pg-r", "pg-x"}
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 1))
		st := testState()
		st.VMIs = []VMI{{UUID: "h1", Name: "bms1", Network: "blue", MAC: "02:00:00:00:01:0a", IPs: []string{"10.1.0.10"}}}
		st.LIs = []LI{{UUID: "h2", Router: "gw1", Interface: "eth1", Name: "eth1-120", VLAN: 120, VMI: "bms1"}}
		var vms []VM
		macs := 0
		prev := map[string]string{} // NIC → "pg vlan ip"
		for step := range 30 {
			switch op := r.IntN(5); {
			case op <= 1 || len(vms) == 0: // a VM created
				macs++
				vm := VM{UUID: fmt.Sprintf("u%03d", r.IntN(1000)), Name: fmt.Sprintf("vm%d", macs)}
				if slices.ContainsFunc(vms, func(x VM) bool { return x.UUID == vm.UUID }) {
					continue
				}
				for k := range r.IntN(3) + 1 {
					macs++
					vm.NICs = append(vm.NICs, nic(int32(4000+k), fmt.Sprintf("00:50:56:00:%02x:%02x", macs>>8, macs&0xff), pgs[r.IntN(3)], fmt.Sprintf("p%d", macs)))
				}
				vms = append(vms, vm)
			case op == 2: // a VM deleted
				i := r.IntN(len(vms))
				vms = slices.Delete(vms, i, i+1)
			case op == 3: // a NIC re-plugged
				vm := &vms[r.IntN(len(vms))]
				n := &vm.NICs[r.IntN(len(vm.NICs))]
				macs++
				n.PortgroupKey, n.PortKey = pgs[r.IntN(3)], fmt.Sprintf("p%d", macs)
			default: // a vMotion: nothing that matters changes
				vms[r.IntN(len(vms))].Host = fmt.Sprintf("host-%d", r.IntN(3))
			}
			plan := Reconcile(p, testInventory(vms...), st)
			st = applyWrite(st, Diff(testOwner, st, plan))
			checkInvariants(t, fmt.Sprintf("seed %d step %d", seed, step), p, st, plan)
			// A NIC mapped before and still on the same port group keeps its VLAN and address.
			now := map[string]string{}
			for _, vm := range vms {
				for _, n := range vm.NICs {
					id := NICID(vm.UUID, n.Key)
					for _, v := range plan.VMIs {
						if v.NIC == id {
							now[id] = fmt.Sprintf("%s vlan=%d ips=%v", n.PortgroupKey, vlanOf(plan, v.Name), v.IPs)
						}
					}
				}
			}
			for id, was := range prev {
				if is, ok := now[id]; ok && strings.Fields(is)[0] == strings.Fields(was)[0] && is != was {
					t.Fatalf("seed %d step %d: NIC %s was %s, is %s", seed, step, id, was, is)
				}
			}
			prev = now
		}
	}
}

func checkInvariants(t *testing.T, at string, p Params, st State, plan Plan) {
	t.Helper()
	var own []VMI
	for _, v := range st.VMIs {
		if v.Owner == testOwner {
			own = append(own, v)
		}
	}
	slices.SortFunc(own, func(a, b VMI) int { return strings.Compare(a.Name, b.Name) })
	for i := range own {
		own[i].UUID = ""
	}
	want := slices.Clone(plan.VMIs)
	for i := range want {
		want[i].UUID = ""
	}
	if !slices.EqualFunc(own, want, func(a, b VMI) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
		t.Fatalf("%s: database VMIs %v, plan %v", at, own, want)
	}
	vlans := map[string]string{}
	nicVLAN := map[string]int{}
	n := 0
	for _, l := range st.LIs {
		k := fmt.Sprintf("%s/%s/%d", l.Router, l.Interface, l.VLAN)
		if other, dup := vlans[k]; dup {
			t.Fatalf("%s: VLAN %s given to %s and %s", at, k, other, l.Name)
		}
		vlans[k] = l.Name
		if l.Owner != testOwner {
			continue
		}
		n++
		if l.VLAN < p.VLANMin || l.VLAN > p.VLANMax {
			t.Fatalf("%s: %s VLAN %d out of range", at, l.Name, l.VLAN)
		}
		if v, ok := nicVLAN[l.NIC]; ok && v != l.VLAN {
			t.Fatalf("%s: %s has VLANs %d and %d", at, l.NIC, v, l.VLAN)
		}
		nicVLAN[l.NIC] = l.VLAN
	}
	if n != 2*len(plan.VMIs) {
		t.Fatalf("%s: %d logical interfaces for %d VMIs", at, n, len(plan.VMIs))
	}
	ips := map[string]bool{}
	for _, v := range st.VMIs {
		for _, s := range v.IPs {
			k := v.Network + " " + s
			if ips[k] {
				t.Fatalf("%s: address %s twice", at, k)
			}
			ips[k] = true
			a := netip.MustParseAddr(s)
			if pfx, _ := testState().Networks[v.Network][0].Prefix(); !pfx.Contains(a) || a == pfx.Addr().Next() {
				t.Fatalf("%s: %s outside %s or the gateway", at, k, pfx)
			}
		}
	}
}
