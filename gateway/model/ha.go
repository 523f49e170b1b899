package model

import (
	"fmt"
	"sort"
	"strings"
)

// HA groups. Gateways that link the same remote instance form a high-availability group: the
// switches' (R)STP picks the active one, because a VN with floodBPDU carries their BPDUs
// between the gateways. Each gateway of a group has, on every physical interface that carries
// the group's instances, a VLAN 0 logical interface linked to the group's BPDU VMI (a dummy VMI
// of the BPDU VN).

// HAGroup is the gateways serving the same remote instances, and their BPDU VMI.
type HAGroup struct {
	BPDUVMI string
	Routers []string // sorted
}

// BPDUVMI reports whether a VMI belongs to a floodBPDU network.
func (x *Index) BPDUVMI(name string) bool {
	v := x.VMIs[name]
	return v != nil && x.VNs[v.Network] != nil && x.VNs[v.Network].FloodBPDU
}

// HAGroupOf returns the HA group node host is in, or nil when it serves its remote instances
// alone.
func (x *Index) HAGroupOf(host string) *HAGroup {
	nodeLIs := make([][]LinkedLI, len(x.Config.PhysicalRouters))
	for i, pr := range x.Config.PhysicalRouters {
		nodeLIs[i] = x.NodeLIs(pr.Name)
	}
	for _, g := range haGroups(x, nodeLIs) {
		for _, r := range g.Routers {
			if r == host && len(g.Routers) > 1 {
				return g
			}
		}
	}
	return nil
}

// haGroups joins routers that link a common tenant VMI (connected components), and names each
// group's BPDU VMI (the first found; validation checks they agree). nodeLIs[i] are the
// logical interfaces of router i, as NodeLIs returns them.
func haGroups(x *Index, nodeLIs [][]LinkedLI) []*HAGroup {
	routers := x.Config.PhysicalRouters
	parent := make(map[string]string, len(routers))
	var find func(string) string
	find = func(r string) string {
		if parent[r] == "" || parent[r] == r {
			parent[r] = r
			return r
		}
		root := find(parent[r])
		parent[r] = root
		return root
	}
	for _, pr := range routers {
		find(pr.Name)
	}
	if len(routers) > 1 { // (every link of a VMI is on the one router otherwise)
		for vmi, lis := range x.LinkedBy {
			if len(lis) < 2 || x.BPDUVMI(vmi) {
				continue
			}
			for _, li := range lis[1:] {
				parent[find(li.Router)] = find(lis[0].Router)
			}
		}
	}
	byRoot := make(map[string]*HAGroup, len(routers))
	for i, pr := range routers {
		root := find(pr.Name)
		if byRoot[root] == nil {
			byRoot[root] = &HAGroup{}
		}
		g := byRoot[root]
		g.Routers = append(g.Routers, pr.Name)
		if g.BPDUVMI != "" {
			continue
		}
		for _, li := range nodeLIs[i] {
			if li.VLANID() == 0 && x.BPDUVMI(li.VMI) {
				g.BPDUVMI = li.VMI
				break
			}
		}
	}
	out := make([]*HAGroup, 0, len(byRoot))
	for _, g := range byRoot {
		sort.Strings(g.Routers)
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Routers[0] < out[j].Routers[0] })
	return out
}

// validateHA checks the HA rules on an otherwise valid config, through its index.
func validateHA(x *Index) Errors {
	c := x.Config
	flood := false // some VN is a BPDU network
	for i := range c.VirtualNetworks {
		flood = flood || c.VirtualNetworks[i].FloodBPDU
	}
	if !flood && len(c.PhysicalRouters) < 2 {
		return nil // no BPDU VMI, no HA group: nothing below can fail
	}
	var errs Errors
	add := func(obj, field, format string, args ...any) {
		errs = append(errs, FieldError{Object: obj, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	// A BPDU network carries nothing but BPDUs: its VMIs are dummies on VLAN 0 interfaces.
	for i := range c.VirtualMachineInterfaces {
		v := &c.VirtualMachineInterfaces[i]
		if !flood || !x.BPDUVMI(v.Name) {
			continue
		}
		obj := (&loc{list: ListVirtualMachineInterfaces, i: i, name: v.Name}).String()
		lis := x.LinkedBy[v.Name]
		if len(lis) == 0 {
			add(obj, "network", "%q is a floodBPDU network, which carries only BPDUs between gateways: a VM cannot join it (link this VMI only from VLAN 0 logical interfaces)", v.Network)
		}
		for _, li := range lis {
			if li.VLANID() != 0 {
				add(obj, "network", "%q is a floodBPDU network, but logical interface %s of %s/%s links this VMI on VLAN %d: BPDU VMIs belong on VLAN 0 only", v.Network, li.Name, li.Router, li.PhysicalInterface, li.VLANID())
			}
		}
	}
	// Router names are unique here: NodeLIs(name) is the router's, sorted once.
	nodeLIs := make([][]LinkedLI, len(c.PhysicalRouters))
	byName := make(map[string][]LinkedLI, len(c.PhysicalRouters))
	for i := range c.PhysicalRouters {
		nodeLIs[i] = sortedLIs(&c.PhysicalRouters[i])
		byName[c.PhysicalRouters[i].Name] = nodeLIs[i]
	}
	groups := haGroups(x, nodeLIs)
	bpduOwner := map[string]*HAGroup{}
	var shared map[string][]string
	for _, g := range groups {
		if len(g.Routers) < 2 {
			continue
		}
		if shared == nil {
			shared = sharedInterfaces(x)
		}
		for _, r := range g.Routers {
			bpdu := map[string]string{} // physical interface → BPDU VMI on its VLAN 0
			for _, li := range byName[r] {
				if li.VLANID() == 0 && x.BPDUVMI(li.VMI) {
					bpdu[li.PhysicalInterface] = li.VMI
				}
			}
			for _, pi := range shared[r] {
				obj := PhysicalInterfacePath(r, pi)
				switch vmi := bpdu[pi]; {
				case vmi == "":
					add(obj, "logicalInterfaces", "carries remote instances that %s also serve, but has no VLAN 0 logical interface linked to a VMI of a floodBPDU network: the switches could not see the loop and would forward to every gateway", others(g.Routers, r))
				case g.BPDUVMI != "" && vmi != g.BPDUVMI:
					add(obj, "logicalInterfaces", "its VLAN 0 logical interface links BPDU VMI %q, but its HA group (%s) uses %q: one group, one BPDU VMI", vmi, strings.Join(g.Routers, ", "), g.BPDUVMI)
				}
			}
		}
		if g.BPDUVMI != "" {
			bpduOwner[g.BPDUVMI] = g
		}
	}
	// Two groups on one BPDU VMI would flood each other's BPDUs and join unrelated loops.
	for _, g := range groups {
		if len(bpduOwner) == 0 {
			break
		}
		for _, r := range g.Routers {
			for _, li := range byName[r] {
				if li.VLANID() != 0 || !x.BPDUVMI(li.VMI) {
					continue
				}
				if owner := bpduOwner[li.VMI]; owner != nil && owner != g {
					add(PhysicalInterfacePath(r, li.PhysicalInterface)+"."+ObjectPath(ListLogicalInterfaces, li.Name), "vmi",
						"BPDU VMI %q already serves the HA group of %s, which shares no remote instance with %s: each HA group needs its own BPDU VMI", li.VMI, strings.Join(owner.Routers, ", "), r)
				}
			}
		}
	}
	return errs
}

// sharedInterfaces lists, per router, the physical interfaces carrying a remote instance that
// another router serves too (in an HA group, then).
func sharedInterfaces(x *Index) map[string][]string {
	out := map[string][]string{}
	for vmi, lis := range x.LinkedBy {
		if len(lis) < 2 || x.BPDUVMI(vmi) {
			continue
		}
		for _, li := range lis {
			if !contains(out[li.Router], li.PhysicalInterface) {
				out[li.Router] = append(out[li.Router], li.PhysicalInterface)
			}
		}
	}
	for r := range out {
		sort.Strings(out[r])
	}
	return out
}

func others(list []string, me string) string {
	var out []string
	for _, s := range list {
		if s != me {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
