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
	for _, g := range haGroups(x) {
		for _, r := range g.Routers {
			if r == host && len(g.Routers) > 1 {
				return g
			}
		}
	}
	return nil
}

// haGroups joins routers that link a common tenant VMI (connected components), and names each
// group's BPDU VMI (the first found; validation checks they agree).
func haGroups(x *Index) []*HAGroup {
	parent := map[string]string{}
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
	for _, pr := range x.Config.PhysicalRouters {
		find(pr.Name)
	}
	for vmi, lis := range x.LinkedBy {
		if x.BPDUVMI(vmi) {
			continue
		}
		for _, li := range lis[1:] {
			parent[find(li.Router)] = find(lis[0].Router)
		}
	}
	byRoot := map[string]*HAGroup{}
	for _, pr := range x.Config.PhysicalRouters {
		root := find(pr.Name)
		if byRoot[root] == nil {
			byRoot[root] = &HAGroup{}
		}
		g := byRoot[root]
		g.Routers = append(g.Routers, pr.Name)
		for _, li := range x.NodeLIs(pr.Name) {
			if li.VLANID() == 0 && x.BPDUVMI(li.VMI) && g.BPDUVMI == "" {
				g.BPDUVMI = li.VMI
			}
		}
	}
	var out []*HAGroup
	for _, g := range byRoot {
		sort.Strings(g.Routers)
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Routers[0] < out[j].Routers[0] })
	return out
}

// validateHA checks the HA rules on an otherwise valid config.
func validateHA(c *Config) Errors {
	x := NewIndex(c)
	var errs Errors
	add := func(obj, field, format string, args ...any) {
		errs = append(errs, FieldError{Object: obj, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	// A BPDU network carries nothing but BPDUs: its VMIs are dummies on VLAN 0 interfaces.
	for i, v := range c.VirtualMachineInterfaces {
		if !x.BPDUVMI(v.Name) {
			continue
		}
		obj := objectPath("", "virtualMachineInterfaces", i, v.Name)
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
	groups := haGroups(x)
	bpduOwner := map[string]*HAGroup{}
	for _, g := range groups {
		if len(g.Routers) < 2 {
			continue
		}
		shared := sharedInterfaces(x, g)
		for _, r := range g.Routers {
			bpdu := map[string]string{} // physical interface → BPDU VMI on its VLAN 0
			for _, li := range x.NodeLIs(r) {
				if li.VLANID() == 0 && x.BPDUVMI(li.VMI) {
					bpdu[li.PhysicalInterface] = li.VMI
				}
			}
			for _, pi := range shared[r] {
				obj := fmt.Sprintf("physicalRouters[%s].physicalInterfaces[%s]", r, pi)
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
		for _, r := range g.Routers {
			for _, li := range x.NodeLIs(r) {
				if li.VLANID() != 0 || !x.BPDUVMI(li.VMI) {
					continue
				}
				if owner := bpduOwner[li.VMI]; owner != nil && owner != g {
					add(fmt.Sprintf("physicalRouters[%s].physicalInterfaces[%s].logicalInterfaces[%s]", r, li.PhysicalInterface, li.Name), "vmi",
						"BPDU VMI %q already serves the HA group of %s, which shares no remote instance with %s: each HA group needs its own BPDU VMI", li.VMI, strings.Join(owner.Routers, ", "), r)
				}
			}
		}
	}
	return errs
}

// sharedInterfaces lists, per router of g, the physical interfaces carrying a remote instance
// that another router of g serves too.
func sharedInterfaces(x *Index, g *HAGroup) map[string][]string {
	out := map[string][]string{}
	for vmi, lis := range x.LinkedBy {
		if x.BPDUVMI(vmi) || len(lis) < 2 {
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
