package vcenter

import (
	"maps"
	"slices"

	"github.com/ovsgw/ovsgw/gateway/configstore"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// The external_ids keys of the rows the sync generates, besides configdb.OwnerKey.
const (
	keyNIC = "vcenter-nic" // VM instance UUID/device key
	keyVM  = "vcenter-vm"  // the VM's name when written, for people reading the rows
)

// StateOf is the State of a config DB read.
func StateOf(v *configdb.OwnedView) State {
	st := State{Networks: map[string][]model.Subnet{}, Interfaces: map[Uplink]bool{}, Limits: map[string]int{}}
	for _, vn := range v.Networks {
		st.Networks[vn.Name] = configstore.SubnetsOfColumn(vn.Subnets)
		if st.Networks[vn.Name] == nil {
			st.Networks[vn.Name] = []model.Subnet{} // present, without subnets
		}
	}
	for _, pi := range v.PhysicalInterfaces {
		st.Interfaces[Uplink{pi.Router, pi.Name}] = true
	}
	for _, li := range v.LogicalInterfaces {
		st.LIs = append(st.LIs, LI{UUID: li.UUID, Router: li.Router, Interface: li.PhysicalInterface, Name: li.Name,
			VLAN: li.VLAN, VMI: li.Vmi, Owner: li.ExternalIDs[configdb.OwnerKey], NIC: li.ExternalIDs[keyNIC]})
	}
	for _, vmi := range v.VMIs {
		ips := slices.Sorted(maps.Keys(vmi.InstanceIPs))
		st.VMIs = append(st.VMIs, VMI{UUID: vmi.UUID, Name: vmi.Name, Network: vmi.Network, MAC: vmi.MAC, IPs: ips,
			Owner: vmi.ExternalIDs[configdb.OwnerKey], NIC: vmi.ExternalIDs[keyNIC], VM: vmi.ExternalIDs[keyVM]})
	}
	for _, n := range v.Nodes {
		if n.InterfacesLimit > 0 {
			st.Limits[n.Hostname] = n.InterfacesLimit
		}
	}
	return st
}

// Diff is the write that turns the sync's own rows in st into the plan's.
// Rows are matched by key (a VMI by name, a logical interface by router and
// name); only rows that differ are written.
func Diff(owner string, st State, plan Plan) *configdb.OwnedWrite {
	w := &configdb.OwnedWrite{}
	haveVMI := map[string]VMI{}
	for _, v := range st.VMIs {
		if v.Owner == owner {
			haveVMI[v.Name] = v
		}
	}
	for _, v := range plan.VMIs {
		h, ok := haveVMI[v.Name]
		delete(haveVMI, v.Name)
		row := vmiRow(v)
		switch {
		case !ok:
			row.UUID = ""
			w.InsertVMIs = append(w.InsertVMIs, row)
		case h.Network != v.Network || h.MAC != v.MAC || !slices.Equal(h.IPs, v.IPs) || h.NIC != v.NIC || h.VM != v.VM:
			row.UUID = h.UUID
			w.UpdateVMIs = append(w.UpdateVMIs, row)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(haveVMI)) {
		w.DeleteVMIs = append(w.DeleteVMIs, haveVMI[k].UUID)
	}
	haveLI := map[string]LI{}
	for _, l := range st.LIs {
		if l.Owner == owner {
			haveLI[l.Router+"/"+l.Name] = l
		}
	}
	for _, l := range plan.LIs {
		k := l.Router + "/" + l.Name
		h, ok := haveLI[k]
		delete(haveLI, k)
		row := liRow(l)
		switch {
		case !ok:
			w.InsertLIs = append(w.InsertLIs, row)
		case h.VLAN != l.VLAN || h.Interface != l.Interface || h.VMI != l.VMI || h.NIC != l.NIC:
			row.UUID = h.UUID
			w.UpdateLIs = append(w.UpdateLIs, row)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(haveLI)) {
		w.DeleteLIs = append(w.DeleteLIs, haveLI[k].UUID)
	}
	return w
}

func vmiRow(v VMI) gatewaydb.VirtualMachineInterface {
	row := gatewaydb.VirtualMachineInterface{Name: v.Name, Network: v.Network, MAC: v.MAC,
		ExternalIDs: map[string]string{configdb.OwnerKey: v.Owner, keyNIC: v.NIC, keyVM: v.VM}}
	if len(v.IPs) > 0 {
		row.InstanceIPs = map[string]string{}
		for _, ip := range v.IPs {
			row.InstanceIPs[ip] = model.ModeActiveBackup
		}
	}
	return row
}

func liRow(l LI) gatewaydb.LogicalInterface {
	return gatewaydb.LogicalInterface{Router: l.Router, PhysicalInterface: l.Interface, Name: l.Name, VLAN: l.VLAN,
		Type: model.TypeL2, Vmi: l.VMI, ExternalIDs: map[string]string{configdb.OwnerKey: l.Owner, keyNIC: l.NIC}}
}
