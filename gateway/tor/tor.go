// Package tor computes what a VXLAN top-of-rack switch's hardware_vtep database must hold for the
// config in force: a pure function of the model, the switch, where each VMI is bound and the
// replication node's tunnel address (package ovsdb/vtep writes the result).
//
// For a switch with bindings into VNs it yields:
//
//   - one logical switch per VN it binds (tunnel_key = VNI), whose broadcast, unknown unicast and
//     multicast go to the replication node (Mcast_Macs_Remote unknown-dst), once that node's
//     tunnel address is known;
//   - each binding as a port + VLAN of that logical switch;
//   - a remote MAC for every VMI of those VNs that is bound somewhere: its MAC, its first IPv4
//     instance IP, and the tunnel address of the node where it is bound; and a remote MAC for
//     every MAC another switch learned in those VNs, at that switch's tunnel address, so servers
//     behind two switches reach each other directly.
//
// [Desired] reads nothing and writes nothing. [Switches] is the part the agent drives: the
// database clients of the switches a node manages, synced from the same inputs, with their
// status and learned MACs for the agent to show and publish.
package tor

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/placement"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
)

// Location is where a VMI is bound: the node, and the node's tunnel address (from the config
// DB's Binding and Node rows; standby bindings left out).
type Location struct {
	VMI      string
	Node     string
	TunnelIP netip.Addr
	Stale    bool  // the node's heartbeat is older than the config DB's StaleAfter
	Since    int64 // the binding's role_since
}

// LearnedMAC is a MAC a switch learned on one of its ports, as the agent managing that switch
// publishes it.
type LearnedMAC struct {
	Switch   string
	VNI      uint32
	MAC      string
	IP       string // often empty: switches learn MACs, rarely IPs
	TunnelIP netip.Addr
}

// Input is everything Desired depends on.
type Input struct {
	Index  *model.Index
	Switch *model.TorSwitch
	// Locations are the VMIs bound somewhere. A VMI listed for several nodes (more than one
	// active binding) is placed where package placement says: a live node before a stale one,
	// then the newer role, then the first by name; the answer does not depend on order.
	Locations []Location
	// ReplicationTunnelIP is the tunnel address of Switch.ReplicationNode; invalid while unknown
	// (the node has not published one yet), and then the switch gets no flood entries.
	ReplicationTunnelIP netip.Addr
	// Learned are MACs switches learned (any switch; this switch's own entries are skipped).
	Learned []LearnedMAC
}

// Output is the switch's desired database content, with notes on what was left out and why.
type Output struct {
	Desired vtep.Desired
	Notices []string
}

// Desired computes what the switch's database must hold. Same input, same output.
func Desired(in Input) Output {
	var out Output
	sw := in.Switch
	vnis := map[string]uint32{} // VN name → VNI, of the VNs the switch binds
	for _, b := range sw.Bindings {
		vn := in.Index.VNs[b.Network]
		if vn == nil || b.VLAN == nil { // Validate refuses both
			out.Notices = append(out.Notices, fmt.Sprintf("binding %s VLAN %v: VN %q unknown or VLAN missing; skipped", b.Port, b.VLAN, b.Network))
			continue
		}
		vnis[vn.Name] = vn.VNI
		out.Desired.Bindings = append(out.Desired.Bindings, vtep.Binding{Port: b.Port, VLAN: *b.VLAN, VNI: vn.VNI})
	}
	if len(vnis) > 0 && !in.ReplicationTunnelIP.IsValid() {
		out.Notices = append(out.Notices, fmt.Sprintf("replication node %s has no tunnel IP yet: the switch's broadcast and unknown traffic goes nowhere until it has", sw.ReplicationNode))
	}
	for name, vni := range vnis {
		ls := vtep.LogicalSwitch{VNI: vni, Network: name}
		if in.ReplicationTunnelIP.IsValid() {
			ls.Flood = []netip.Addr{in.ReplicationTunnelIP}
		}
		out.Desired.LogicalSwitches = append(out.Desired.LogicalSwitches, ls)
	}

	where := map[string]Location{}
	for _, l := range in.Locations {
		if !l.TunnelIP.IsValid() {
			continue
		}
		if have, ok := where[l.VMI]; !ok || placement.Prefer(l.claim(), have.claim()) {
			where[l.VMI] = l
		}
	}
	type key struct {
		vni uint32
		mac string
	}
	seen := map[key]bool{}
	unbound, ignored := 0, 0
	for _, v := range in.Index.Config.VirtualMachineInterfaces {
		vni, ok := vnis[v.Network]
		if !ok {
			continue
		}
		loc, ok := where[v.Name]
		if !ok {
			unbound++
			continue
		}
		m := vtep.RemoteMAC{VNI: vni, MAC: strings.ToLower(v.MAC), IP: firstIPv4(v.InstanceIPs), Locator: loc.TunnelIP}
		seen[key{vni, m.MAC}] = true
		out.Desired.RemoteMACs = append(out.Desired.RemoteMACs, m)
	}
	if unbound > 0 {
		out.Notices = append(out.Notices, fmt.Sprintf("%d VMIs of the switch's VNs are bound nowhere yet: no remote MAC for them", unbound))
	}
	owned := vmiMACs(in.Index.Config)
	for _, l := range in.Learned {
		mac, ok := usableLearnedMAC(l.MAC, owned)
		if !ok {
			// Published by a node that did not check it (or written by hand): never put on a
			// switch, where one malformed row would fail every later sync.
			ignored++
			continue
		}
		k := key{l.VNI, mac}
		if l.Switch == sw.Name || !l.TunnelIP.IsValid() || seen[k] || !bindsVNI(vnis, l.VNI) {
			continue // its own, unreachable, already there, or a VN it does not carry
		}
		seen[k] = true
		m := vtep.RemoteMAC{VNI: l.VNI, MAC: k.mac, Locator: l.TunnelIP}
		if a, err := netip.ParseAddr(l.IP); err == nil && a.Is4() {
			m.IP = a
		}
		out.Desired.RemoteMACs = append(out.Desired.RemoteMACs, m)
	}
	if ignored > 0 {
		out.Notices = append(out.Notices, fmt.Sprintf("%d MACs other switches learned ignored: not 6-byte unicast addresses, or a VMI's own", ignored))
	}

	d := &out.Desired
	slices.SortFunc(d.LogicalSwitches, func(a, b vtep.LogicalSwitch) int { return cmp.Compare(a.VNI, b.VNI) })
	slices.SortFunc(d.Bindings, func(a, b vtep.Binding) int {
		return cmp.Or(strings.Compare(a.Port, b.Port), cmp.Compare(a.VLAN, b.VLAN))
	})
	slices.SortFunc(d.RemoteMACs, func(a, b vtep.RemoteMAC) int {
		return cmp.Or(cmp.Compare(a.VNI, b.VNI), strings.Compare(a.MAC, b.MAC))
	})
	return out
}

// claim is what package placement compares of a location.
func (l Location) claim() placement.Claim {
	return placement.Claim{Node: l.Node, Stale: l.Stale, Since: l.Since}
}

func bindsVNI(vnis map[string]uint32, vni uint32) bool {
	for _, v := range vnis {
		if v == vni {
			return true
		}
	}
	return false
}

// firstIPv4 is the first IPv4 instance IP in config order (Ucast_Macs_Remote holds one ipaddr;
// hardware_vtep's locators and ARP suppression are IPv4).
func firstIPv4(ips []model.InstanceIP) netip.Addr {
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip.Address); err == nil && a.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// Eligible returns the switches node's agent may manage (node is one of TorSwitch.Managers()).
func Eligible(c *model.Config, node string) []*model.TorSwitch {
	var out []*model.TorSwitch
	for i := range c.TorSwitches {
		if slices.Contains(c.TorSwitches[i].Managers(), node) {
			out = append(out, &c.TorSwitches[i])
		}
	}
	return out
}

// Replicated returns, per VNI, the tunnel addresses of the switches whose replication node is
// node: the VNs whose broadcast and unknown traffic that node must exchange with those switches.
// tunnelIPs maps a switch name to its tunnel address (from its published learned MACs or its
// database); switches without one are left out.
func Replicated(idx *model.Index, node string, tunnelIPs map[string]netip.Addr) map[uint32][]netip.Addr {
	out := map[uint32][]netip.Addr{}
	for _, sw := range idx.Config.TorSwitches {
		ip, ok := tunnelIPs[sw.Name]
		if sw.ReplicationNode != node || !ok || !ip.IsValid() {
			continue
		}
		for _, b := range sw.Bindings {
			if vn := idx.VNs[b.Network]; vn != nil && !slices.Contains(out[vn.VNI], ip) {
				out[vn.VNI] = append(out[vn.VNI], ip)
			}
		}
	}
	for vni := range out {
		slices.SortFunc(out[vni], func(a, b netip.Addr) int { return a.Compare(b) })
	}
	return out
}

// VNIs returns the VNIs a switch carries (the VNs of its bindings), sorted: every node floods
// these VNs' broadcast and unknown traffic to the switch's replication node.
func VNIs(idx *model.Index, sw *model.TorSwitch) []uint32 {
	var out []uint32
	for _, b := range sw.Bindings {
		if vn := idx.VNs[b.Network]; vn != nil && !slices.Contains(out, vn.VNI) {
			out = append(out, vn.VNI)
		}
	}
	slices.Sort(out)
	return out
}
