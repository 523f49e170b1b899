package model

import (
	"fmt"
	"sort"
)

// Index answers the lookups the compiler and the agent make, over a validated Config.
type Index struct {
	Config   *Config
	VNs      map[string]*VirtualNetwork
	VMIs     map[string]*VirtualMachineInterface
	LinkedBy map[string][]LinkedLI // VMI name → logical interfaces linked to it, on any node
}

// NewIndex indexes a validated config.
func NewIndex(c *Config) *Index {
	x := &Index{
		Config:   c,
		VNs:      map[string]*VirtualNetwork{},
		VMIs:     map[string]*VirtualMachineInterface{},
		LinkedBy: map[string][]LinkedLI{},
	}
	for i := range c.VirtualNetworks {
		x.VNs[c.VirtualNetworks[i].Name] = &c.VirtualNetworks[i]
	}
	for i := range c.VirtualMachineInterfaces {
		x.VMIs[c.VirtualMachineInterfaces[i].Name] = &c.VirtualMachineInterfaces[i]
	}
	for _, pr := range c.PhysicalRouters {
		for _, pi := range pr.PhysicalInterfaces {
			for _, li := range pi.LogicalInterfaces {
				x.LinkedBy[li.VMI] = append(x.LinkedBy[li.VMI], LinkedLI{Router: pr.Name, PhysicalInterface: pi.Name, LogicalInterface: li})
			}
		}
	}
	return x
}

// Router returns the physical router named host, or nil.
func (x *Index) Router(host string) *PhysicalRouter {
	for i := range x.Config.PhysicalRouters {
		if x.Config.PhysicalRouters[i].Name == host {
			return &x.Config.PhysicalRouters[i]
		}
	}
	return nil
}

// IsRemote reports whether a VMI stands for a remote instance (some logical interface links to
// it), as opposed to a local VM bound by iface-id.
func (x *Index) IsRemote(vmi string) bool { return len(x.LinkedBy[vmi]) > 0 }

// NodeLIs returns the logical interfaces of node host, sorted by physical interface and VLAN.
func (x *Index) NodeLIs(host string) []LinkedLI {
	pr := x.Router(host)
	if pr == nil {
		return nil
	}
	var out []LinkedLI
	for _, pi := range pr.PhysicalInterfaces {
		for _, li := range pi.LogicalInterfaces {
			out = append(out, LinkedLI{Router: pr.Name, PhysicalInterface: pi.Name, LogicalInterface: li})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PhysicalInterface != out[j].PhysicalInterface {
			return out[i].PhysicalInterface < out[j].PhysicalInterface
		}
		return out[i].VLANID() < out[j].VLANID()
	})
	return out
}

// InterfacesUsed is what node host's logical interfaces cost from its interface budget.
func (x *Index) InterfacesUsed(host string) int {
	return InterfacesPerRemoteVMI * len(x.NodeLIs(host))
}

// CheckCapacity refuses a config whose remote instances on node host exceed max interfaces.
func (x *Index) CheckCapacity(host string, max int) error {
	used := x.InterfacesUsed(host)
	if used <= max {
		return nil
	}
	return Errors{{
		Object: fmt.Sprintf("physicalRouters[%s]", host),
		Reason: fmt.Sprintf("%d remote instances need %d interfaces (%d each: logical interface + VMI), more than max_interfaces = %d allows (%d remote instances)",
			used/InterfacesPerRemoteVMI, used, InterfacesPerRemoteVMI, max, max/InterfacesPerRemoteVMI),
	}}
}

// VNIKnown reports whether a VN of the config has this VNI.
func (x *Index) VNIKnown(vni uint32) bool {
	for _, vn := range x.Config.VirtualNetworks {
		if vn.VNI == vni {
			return true
		}
	}
	return false
}
