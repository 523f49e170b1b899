package vcenter

import (
	"fmt"
	"slices"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// withPlan is cfg (the config in the database, the sync's rows included) with the sync's own
// rows (owner's, in st) replaced by the plan's: the config the agents would read after the
// write. cfg is changed in place.
func withPlan(cfg *model.Config, owner string, st State, plan Plan) *model.Config {
	mineVMI, mineLI := map[string]bool{}, map[string]bool{}
	for _, v := range st.VMIs {
		if v.Owner == owner {
			mineVMI[v.Name] = true
		}
	}
	for _, l := range st.LIs {
		if l.Owner == owner {
			mineLI[l.Router+"/"+l.Name] = true
		}
	}
	cfg.VirtualMachineInterfaces = slices.DeleteFunc(cfg.VirtualMachineInterfaces, func(v model.VirtualMachineInterface) bool { return mineVMI[v.Name] })
	for _, v := range plan.VMIs {
		m := model.VirtualMachineInterface{Name: v.Name, Network: v.Network, MAC: v.MAC}
		for _, ip := range v.IPs {
			m.InstanceIPs = append(m.InstanceIPs, model.InstanceIP{Address: ip, Mode: model.ModeActiveBackup})
		}
		cfg.VirtualMachineInterfaces = append(cfg.VirtualMachineInterfaces, m)
	}
	pis := map[Uplink]*model.PhysicalInterface{}
	for i := range cfg.PhysicalRouters {
		pr := &cfg.PhysicalRouters[i]
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			pi.LogicalInterfaces = slices.DeleteFunc(pi.LogicalInterfaces, func(l model.LogicalInterface) bool { return mineLI[pr.Name+"/"+l.Name] })
			pis[Uplink{pr.Name, pi.Name}] = pi
		}
	}
	for _, l := range plan.LIs {
		if pi := pis[Uplink{l.Router, l.Interface}]; pi != nil { // Reconcile plans only on existing uplinks
			vlan := l.VLAN
			pi.LogicalInterfaces = append(pi.LogicalInterfaces, model.LogicalInterface{Name: l.Name, VLAN: &vlan, Type: model.TypeL2, VMI: l.VMI})
		}
	}
	return cfg
}

// checkPlan validates the config the agents would read after writing plan, as they validate
// it: a write that would make them refuse the whole config (and keep the one in force) is not
// made. The error names the rows, as validation does.
func checkPlan(cfg *model.Config, owner string, st State, plan Plan) error {
	if err := withPlan(cfg, owner, st, plan).Validate(); err != nil {
		return fmt.Errorf("the rows planned from vCenter would make the config invalid, so nothing is written (the agents would refuse the whole config): %w", err)
	}
	return nil
}
