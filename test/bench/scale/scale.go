// Package scale generates gateway configs with many remote instances, for the benchmark
// (test/bench) and the capacity tests (test/e2e).
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

// Spec describes a config of one gateway node with Remote remote instances r0000, r0001, …:
// instance i is VLAN i%4094+1 of NIC i/4094 (eth1, eth2, …), in virtual network vnNNN of
// PerVN instances, with a MAC and an address of its own.
type Spec struct {
	Host   string
	Remote int
	PerVN  int // 0: DefaultPerVN

	Removed map[int]bool // instances left out (their VN stays)
	Moved   map[int]bool // instances whose MAC and address are their alternative ones
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

// YAML renders the config.
func (s Spec) YAML() string {
	var b strings.Builder
	b.Grow(200 * s.Remote)
	vns := (s.Remote + s.perVN() - 1) / s.perVN()
	b.WriteString("virtualNetworks:\n")
	for v := 0; v < vns; v++ {
		fmt.Fprintf(&b, "  - {name: vn%03d, vni: %d, subnets: [%q]}\n", v, firstVNI+v, subnet)
	}
	fmt.Fprintf(&b, "physicalRouters:\n  - name: %s\n    physicalInterfaces:\n", s.Host)
	for n, nic := range NICs(s.Remote) {
		var lis strings.Builder
		for i := n * VLANsPerNIC; i < s.Remote && i < (n+1)*VLANsPerNIC; i++ {
			if !s.Removed[i] {
				_, vlan := VLAN(i)
				fmt.Fprintf(&lis, "          - {name: %s-%d, vlan: %d, vmi: %s}\n", nic, vlan, vlan, Name(i))
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
		if s.Removed[i] {
			continue
		}
		mac, ip := s.addr(i)
		fmt.Fprintf(&b, "  - {name: %s, network: vn%03d, mac: \"%s\", instanceIPs: [{address: %s}]}\n", Name(i), i/s.perVN(), mac, ip)
	}
	return b.String()
}
