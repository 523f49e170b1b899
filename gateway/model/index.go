package model

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
)

// Index answers the lookups the compiler and the agent make, over a validated Config.
type Index struct {
	Config   *Config
	VNs      map[string]*VirtualNetwork
	VMIs     map[string]*VirtualMachineInterface
	LinkedBy map[string][]LinkedLI     // VMI name → logical interfaces linked to it, on any node
	RouterOf map[string]*LogicalRouter // VN name → the logical router it is attached to
	// HeldGateways lists per VN the default gateway addresses (a subnet's first host, when the
	// subnet names none) that a VMI of the VN holds as an instance IP: those subnets then have
	// no gateway. Built with the index, so that Gateway is a lookup and not a scan of every VMI
	// (once per VMI compiled, that scan made a sync quadratic in the instances).
	HeldGateways map[string][]netip.Addr
}

// NewIndex indexes a validated config. (Config.ValidateIndex validates and indexes at once.)
func NewIndex(c *Config) *Index {
	x := &Index{
		Config: c,
		VNs:    make(map[string]*VirtualNetwork, len(c.VirtualNetworks)),
		VMIs:   make(map[string]*VirtualMachineInterface, len(c.VirtualMachineInterfaces)),
	}
	for i := range c.VirtualNetworks {
		x.VNs[c.VirtualNetworks[i].Name] = &c.VirtualNetworks[i]
	}
	for i := range c.VirtualMachineInterfaces {
		x.VMIs[c.VirtualMachineInterfaces[i].Name] = &c.VirtualMachineInterfaces[i]
	}
	total := 0
	for i := range c.PhysicalRouters {
		total += countLIs(&c.PhysicalRouters[i])
	}
	links := newLinker(total)
	for i := range c.PhysicalRouters {
		pr := &c.PhysicalRouters[i]
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			for k := range pi.LogicalInterfaces {
				links.add(pr, pi, &pi.LogicalInterfaces[k])
			}
		}
	}
	x.LinkedBy = links.m
	x.RouterOf = routerOf(c)
	x.HeldGateways = heldGateways(c)
	return x
}

// heldGateways builds Index.HeldGateways: nil when no VMI holds a default gateway address.
func heldGateways(c *Config) map[string][]netip.Addr {
	defaults := map[string][]netip.Addr{}
	for i := range c.VirtualNetworks {
		vn := &c.VirtualNetworks[i]
		for _, s := range vn.Subnets {
			if gw, ok := s.GatewayAddr(); ok && s.Gateway == "" {
				defaults[vn.Name] = append(defaults[vn.Name], gw)
			}
		}
	}
	var out map[string][]netip.Addr
	for i := range c.VirtualMachineInterfaces {
		v := &c.VirtualMachineInterfaces[i]
		ds := defaults[v.Network]
		if len(ds) == 0 {
			continue
		}
		for _, ip := range v.InstanceIPs {
			a, err := netip.ParseAddr(ip.Address)
			if err != nil || !slices.Contains(ds, a) || slices.Contains(out[v.Network], a) {
				continue
			}
			if out == nil {
				out = map[string][]netip.Addr{}
			}
			out[v.Network] = append(out[v.Network], a)
		}
	}
	return out
}

// routerOf maps each VN attached to a logical router to it.
func routerOf(c *Config) map[string]*LogicalRouter {
	if len(c.LogicalRouters) == 0 {
		return nil
	}
	out := map[string]*LogicalRouter{}
	for i := range c.LogicalRouters {
		for _, n := range c.LogicalRouters[i].Networks {
			out[n] = &c.LogicalRouters[i]
		}
	}
	return out
}

// linker builds Index.LinkedBy. A VMI's first link is taken from one array allocated for all
// (a remote instance has one logical interface per node, most have one in all); a VMI's
// slice has no room beyond its own links, so appending to it copies rather than overwrites
// the next VMI's.
type linker struct {
	m    map[string][]LinkedLI
	free []LinkedLI
}

// newLinker makes a linker for n logical interfaces.
func newLinker(n int) linker {
	return linker{m: make(map[string][]LinkedLI, n), free: make([]LinkedLI, n)}
}

func (l *linker) add(pr *PhysicalRouter, pi *PhysicalInterface, li *LogicalInterface) {
	link := LinkedLI{Router: pr.Name, PhysicalInterface: pi.Name, LogicalInterface: *li}
	if lis, ok := l.m[li.VMI]; ok {
		l.m[li.VMI] = append(lis, link)
		return
	}
	if len(l.free) == 0 { // more calls than announced
		l.m[li.VMI] = []LinkedLI{link}
		return
	}
	l.free[0] = link
	l.m[li.VMI] = l.free[:1:1]
	l.free = l.free[1:]
}

// countLIs is the number of logical interfaces of a router.
func countLIs(pr *PhysicalRouter) int {
	n := 0
	for j := range pr.PhysicalInterfaces {
		n += len(pr.PhysicalInterfaces[j].LogicalInterfaces)
	}
	return n
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
	return sortedLIs(pr)
}

// sortedLIs returns the logical interfaces of a router, sorted by physical interface and VLAN.
func sortedLIs(pr *PhysicalRouter) []LinkedLI {
	n := countLIs(pr)
	if n == 0 {
		return nil
	}
	out := make([]LinkedLI, 0, n)
	for j := range pr.PhysicalInterfaces {
		pi := &pr.PhysicalInterfaces[j]
		for _, li := range pi.LogicalInterfaces {
			out = append(out, LinkedLI{Router: pr.Name, PhysicalInterface: pi.Name, LogicalInterface: li})
		}
	}
	less := func(a, b *LinkedLI) bool {
		if a.PhysicalInterface != b.PhysicalInterface {
			return a.PhysicalInterface < b.PhysicalInterface
		}
		return a.VLANID() < b.VLANID()
	}
	// Configs list their interfaces in order, as a rule; a strictly increasing list is what
	// any sort returns, so it is left as it is.
	for i := 1; i < len(out); i++ {
		if !less(&out[i-1], &out[i]) {
			sort.Slice(out, func(i, j int) bool { return less(&out[i], &out[j]) })
			break
		}
	}
	return out
}

// InterfacesUsed is what node host's logical interfaces cost from its interface budget.
func (x *Index) InterfacesUsed(host string) int {
	pr := x.Router(host)
	if pr == nil {
		return 0
	}
	return InterfacesPerRemoteVMI * countLIs(pr)
}

// RemoteInstances names the VMIs linked to node host's logical interfaces.
func (x *Index) RemoteInstances(host string) []string {
	pr := x.Router(host)
	if pr == nil {
		return nil
	}
	out := make([]string, 0, countLIs(pr))
	for _, pi := range pr.PhysicalInterfaces {
		for _, li := range pi.LogicalInterfaces {
			if li.VMI != "" {
				out = append(out, li.VMI)
			}
		}
	}
	return out
}

// CheckCapacity refuses a config whose remote instances on node host exceed max interfaces.
func (x *Index) CheckCapacity(host string, max int) error {
	used := x.InterfacesUsed(host)
	if used <= max {
		return nil
	}
	return Errors{{
		Object: ObjectPath(ListPhysicalRouters, host),
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

// Gateway is the gateway address of subnet s of VN vn, if it has one: the subnet's
// GatewayAddr, unless that is the default one and a VMI of the VN holds it.
func (x *Index) Gateway(vn *VirtualNetwork, s Subnet) (netip.Addr, bool) {
	gw, ok := s.GatewayAddr()
	if !ok || s.Gateway != "" {
		return gw, ok
	}
	if slices.Contains(x.HeldGateways[vn.Name], gw) {
		return netip.Addr{}, false
	}
	return gw, true
}
