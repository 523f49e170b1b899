// Package scale generates gateway configs with many remote instances, for the benchmark
// (test/bench) and the capacity tests (test/e2e): as one YAML document, or as a directory of
// documents, one per remote instance (the layout the agent's `[CONFIG] file = DIR` merges).
package scale

import (
	"fmt"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// Layout of a generated config.
const (
	// VLANsPerNIC is how many remote instances one physical interface carries: VLANs 1..4094.
	VLANsPerNIC = model.MaxVLAN
	// DefaultPerVN is how many remote instances share a virtual network.
	DefaultPerVN = 64
	firstVNI     = 10000
	// Every VN has subnet 10.0.0.0/8 (VNs may share a subnet); instance i has 10.1.0.1 + i,
	// or 10.2.0.1 + i when moved, so instances up to 65535.
	subnet = "10.0.0.0/8"
)

// The security groups of a Spec with SecurityGroups set: every instance is in GroupWeb, every
// AdminEvery-th one also in GroupAdmin, and the first PeerMembers (and those Joined) also in
// GroupPeers, whose one rule allows ICMP from its own members (a remoteGroup rule). A
// remoteGroup rule costs each member one flow per member address, so the group stays small:
// a membership change then touches every member's flows, a few dozen flow mods.
const (
	GroupWeb   = "web"
	GroupAdmin = "admin"
	GroupPeers = "peers"
	// AdminEvery: 1 instance in 16 is in GroupAdmin (256 of 4,096), so that a change of its
	// rule recompiles a realistic share of the instances, not all of them.
	AdminEvery = 16
	// PeerMembers is how many instances GroupPeers has before any joins.
	PeerMembers = 16
	adminPort   = "22"
	altAdmin    = "2222" // GroupAdmin's rule with Spec.AltRule
	adminCIDR   = "10.255.0.0/16"
)

// BaseFile is the name of the directory form's file that holds everything but the remote
// instances: VNs, security groups, and the router with its NICs (without logical interfaces).
// It sorts before every instance file, so the merged config lists it first.
const BaseFile = "00-base.yaml"

// Spec describes a config of one gateway node with Remote remote instances r0000, r0001, …:
// instance i is VLAN i%4094+1 of NIC i/4094 (eth1, eth2, …), in virtual network vnNNN of
// PerVN instances, with a MAC and an address of its own.
type Spec struct {
	Host   string
	Remote int
	PerVN  int // 0: DefaultPerVN

	Removed map[int]bool // instances left out (their VN stays)
	Moved   map[int]bool // instances whose MAC and address are their alternative ones

	// SecurityGroups gives the config the groups GroupWeb, GroupAdmin and GroupPeers and puts
	// the instances in them (see the constants); without it no instance has a group.
	SecurityGroups bool
	AltRule        bool         // GroupAdmin's rule allows port 2222 instead of 22
	Joined         map[int]bool // instances in GroupPeers beside the first PeerMembers
}

// NICs returns the physical interfaces n remote instances need: eth1, eth2, …
func NICs(n int) []string {
	var out []string
	for i := 0; i*VLANsPerNIC < n; i++ {
		out = append(out, fmt.Sprintf("eth%d", i+1))
	}
	return out
}

// Name is the VMI name of instance i.
func Name(i int) string { return fmt.Sprintf("r%04d", i) }

// FileName is the directory form's file of instance i.
func FileName(i int) string { return Name(i) + ".yaml" }

// VLAN returns instance i's NIC and VLAN.
func VLAN(i int) (nic string, vlan int) {
	return fmt.Sprintf("eth%d", i/VLANsPerNIC+1), i%VLANsPerNIC + 1
}

func (s Spec) perVN() int {
	if s.PerVN <= 0 {
		return DefaultPerVN
	}
	return s.PerVN
}

// addr returns instance i's MAC and IPv4 address (the alternative ones when moved).
func (s Spec) addr(i int) (mac, ip string) {
	alt := 0
	if s.Moved[i] {
		alt = 1
	}
	mac = fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", alt, i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff)
	a := 10<<24 | (1+alt)<<16 + 1 + i
	return mac, fmt.Sprintf("%d.%d.%d.%d", a>>24&0xff, a>>16&0xff, a>>8&0xff, a&0xff)
}

// Groups returns instance i's security groups (none without SecurityGroups).
func (s Spec) Groups(i int) []string {
	if !s.SecurityGroups {
		return nil
	}
	g := []string{GroupWeb}
	if i%AdminEvery == 0 {
		g = append(g, GroupAdmin)
	}
	if i < PeerMembers || s.Joined[i] {
		g = append(g, GroupPeers)
	}
	return g
}

// YAML renders the config as one document.
func (s Spec) YAML() string {
	var b strings.Builder
	b.Grow(200 * s.Remote)
	s.writeVNs(&b)
	fmt.Fprintf(&b, "physicalRouters:\n  - name: %s\n    physicalInterfaces:\n", s.Host)
	for n, nic := range NICs(s.Remote) {
		var lis strings.Builder
		for i := n * VLANsPerNIC; i < s.Remote && i < (n+1)*VLANsPerNIC; i++ {
			if !s.Removed[i] {
				s.writeLI(&lis, "          ", i)
			}
		}
		if lis.Len() == 0 {
			fmt.Fprintf(&b, "      - {name: %s, logicalInterfaces: []}\n", nic)
			continue
		}
		fmt.Fprintf(&b, "      - name: %s\n        logicalInterfaces:\n%s", nic, lis.String())
	}
	b.WriteString("virtualMachineInterfaces:\n")
	for i := 0; i < s.Remote; i++ {
		if !s.Removed[i] {
			s.writeVMI(&b, i)
		}
	}
	s.writeGroups(&b)
	return b.String()
}

// Files renders the config as a directory: BaseFile, and FileName(i) for each instance i
// present, holding its VMI and its logical interface under the router and NIC (the agent
// merges routers and NICs of the same name). The merged config equals YAML's.
func (s Spec) Files() map[string]string {
	out := make(map[string]string, s.Remote+1)
	out[BaseFile] = s.BaseYAML()
	for i := 0; i < s.Remote; i++ {
		if !s.Removed[i] {
			out[FileName(i)] = s.InstanceYAML(i)
		}
	}
	return out
}

// BaseYAML is the directory form's BaseFile.
func (s Spec) BaseYAML() string {
	var b strings.Builder
	s.writeVNs(&b)
	fmt.Fprintf(&b, "physicalRouters:\n  - name: %s\n    physicalInterfaces:\n", s.Host)
	for _, nic := range NICs(s.Remote) {
		fmt.Fprintf(&b, "      - {name: %s, logicalInterfaces: []}\n", nic)
	}
	s.writeGroups(&b)
	return b.String()
}

// InstanceYAML is the directory form's file of instance i.
func (s Spec) InstanceYAML(i int) string {
	var b strings.Builder
	nic, _ := VLAN(i)
	fmt.Fprintf(&b, "physicalRouters:\n  - name: %s\n    physicalInterfaces:\n      - name: %s\n        logicalInterfaces:\n", s.Host, nic)
	s.writeLI(&b, "          ", i)
	b.WriteString("virtualMachineInterfaces:\n")
	s.writeVMI(&b, i)
	return b.String()
}

func (s Spec) writeVNs(b *strings.Builder) {
	vns := (s.Remote + s.perVN() - 1) / s.perVN()
	b.WriteString("virtualNetworks:\n")
	for v := 0; v < vns; v++ {
		fmt.Fprintf(b, "  - {name: vn%03d, vni: %d, subnets: [%q]}\n", v, firstVNI+v, subnet)
	}
}

func (s Spec) writeLI(b *strings.Builder, indent string, i int) {
	nic, vlan := VLAN(i)
	fmt.Fprintf(b, "%s- {name: %s-%d, vlan: %d, vmi: %s}\n", indent, nic, vlan, vlan, Name(i))
}

func (s Spec) writeVMI(b *strings.Builder, i int) {
	mac, ip := s.addr(i)
	groups := ""
	if g := s.Groups(i); len(g) > 0 {
		groups = ", securityGroups: [" + strings.Join(g, ", ") + "]"
	}
	fmt.Fprintf(b, "  - {name: %s, network: vn%03d, mac: \"%s\", instanceIPs: [{address: %s}]%s}\n", Name(i), i/s.perVN(), mac, ip, groups)
}

func (s Spec) writeGroups(b *strings.Builder) {
	if !s.SecurityGroups {
		return
	}
	port := adminPort
	if s.AltRule {
		port = altAdmin
	}
	b.WriteString("securityGroups:\n")
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", GroupWeb)
	b.WriteString("      - {direction: ingress, protocol: tcp, ports: \"80-81\", remoteCIDR: 0.0.0.0/0}\n")
	b.WriteString("      - {direction: egress}\n")
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", GroupAdmin)
	fmt.Fprintf(b, "      - {direction: ingress, protocol: tcp, ports: %q, remoteCIDR: %s}\n", port, adminCIDR)
	fmt.Fprintf(b, "  - name: %s\n    rules:\n", GroupPeers)
	fmt.Fprintf(b, "      - {direction: ingress, protocol: icmp, remoteGroup: %s}\n", GroupPeers)
}

// Clone returns a copy of s whose maps may be changed without touching s's.
func (s Spec) Clone() Spec {
	c := s
	c.Removed, c.Moved, c.Joined = cloneSet(s.Removed), cloneSet(s.Moved), cloneSet(s.Joined)
	return c
}

func cloneSet(m map[int]bool) map[int]bool {
	out := make(map[int]bool, len(m))
	for k, v := range m {
		if v {
			out[k] = true
		}
	}
	return out
}
