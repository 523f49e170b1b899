package model

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Subnet is one address range of a VN, with what the distributed gateway and DHCP serve in
// it. In YAML a subnet is either a CIDR ("10.1.0.0/24": gateway at the first host address,
// DHCP on) or a mapping with these fields.
type Subnet struct {
	CIDR string `yaml:"cidr" json:"cidr"`
	// Gateway is the gateway's address in the subnet: "" for the first host address, NoGateway
	// for none (no ARP/ND answer, no router option, no router advertisement).
	Gateway    string   `yaml:"gateway,omitempty" json:"gateway,omitempty"`
	DNSServers []string `yaml:"dnsServers,omitempty" json:"dnsServers,omitempty"`
	DomainName string   `yaml:"domainName,omitempty" json:"domainName,omitempty"`
	// DHCP serves the subnet's VMIs their addresses: DHCPv4 in an IPv4 subnet, router
	// advertisements for SLAAC in an IPv6 one. Default on.
	DHCP *bool `yaml:"dhcp,omitempty" json:"dhcp,omitempty"`
}

// NoGateway as a subnet's gateway says it has none.
const NoGateway = "none"

// String is the subnet's CIDR, as errors and logs name it.
func (s Subnet) String() string { return s.CIDR }

// plain reports whether the subnet is only a CIDR, with every default.
func (s Subnet) plain() bool {
	return s.Gateway == "" && len(s.DNSServers) == 0 && s.DomainName == "" && s.DHCP == nil
}

// Equal reports whether two subnets are the same.
func (s Subnet) Equal(o Subnet) bool {
	return s.CIDR == o.CIDR && s.Gateway == o.Gateway && slices.Equal(s.DNSServers, o.DNSServers) &&
		s.DomainName == o.DomainName && (s.DHCP == nil) == (o.DHCP == nil) && (s.DHCP == nil || *s.DHCP == *o.DHCP)
}

// Clone copies a subnet deeply.
func (s Subnet) Clone() Subnet {
	s.DNSServers = slices.Clone(s.DNSServers)
	if s.DHCP != nil {
		on := *s.DHCP
		s.DHCP = &on
	}
	return s
}

// Prefix is the subnet's prefix, masked; ok is false when the CIDR does not parse.
func (s Subnet) Prefix() (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s.CIDR)
	return p.Masked(), err == nil
}

// DHCPEnabled reports whether the subnet's VMIs are served addresses (the default).
func (s Subnet) DHCPEnabled() bool { return s.DHCP == nil || *s.DHCP }

// GatewayAddr is the subnet's gateway address: the one given, or the first host address of
// the prefix; ok is false for a subnet without one (NoGateway, a malformed CIDR, or a prefix
// too small to have a host address besides: /31 and /32, /127 and /128). A default gateway
// yields to a VMI that holds its address (configs from before gateways existed keep working;
// Index.Gateway decides that); a given one is the gateway's alone (validation).
func (s Subnet) GatewayAddr() (netip.Addr, bool) {
	if s.Gateway == NoGateway {
		return netip.Addr{}, false
	}
	if s.Gateway != "" {
		a, err := netip.ParseAddr(s.Gateway)
		return a, err == nil
	}
	p, ok := s.Prefix()
	if !ok || p.Bits() >= p.Addr().BitLen()-1 {
		return netip.Addr{}, false
	}
	return p.Addr().Next(), true
}

// CIDRs lists the subnets' CIDRs.
func CIDRs(list []Subnet) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.CIDR
	}
	return out
}

// SubnetsOf makes plain subnets of CIDRs.
func SubnetsOf(cidrs ...string) []Subnet {
	out := make([]Subnet, len(cidrs))
	for i, c := range cidrs {
		out[i] = Subnet{CIDR: c}
	}
	return out
}

// subnetFields are the keys a subnet mapping may have.
var subnetFields = []string{"cidr", "gateway", "dnsServers", "domainName", "dhcp"}

// UnmarshalYAML takes a CIDR or a mapping; unknown keys are errors, as elsewhere in the config.
func (s *Subnet) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = Subnet{CIDR: n.Value}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !slices.Contains(subnetFields, k.Value) {
				return fmt.Errorf("line %d: field %s not found in a subnet (want %s)", k.Line, k.Value, strings.Join(subnetFields, ", "))
			}
		}
		type plainSubnet Subnet
		var p plainSubnet
		if err := n.Decode(&p); err != nil {
			return err
		}
		*s = Subnet(p)
		return nil
	}
	return fmt.Errorf("line %d: a subnet is a CIDR or a mapping with %s", n.Line, strings.Join(subnetFields, ", "))
}

// MarshalYAML writes a plain subnet as its CIDR.
func (s Subnet) MarshalYAML() (any, error) {
	if s.plain() {
		return s.CIDR, nil
	}
	type plainSubnet Subnet
	return plainSubnet(s), nil
}

// UnmarshalJSON takes a CIDR string or an object.
func (s *Subnet) UnmarshalJSON(data []byte) error {
	var cidr string
	if err := json.Unmarshal(data, &cidr); err == nil {
		*s = Subnet{CIDR: cidr}
		return nil
	}
	type plainSubnet Subnet
	var p plainSubnet
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*s = Subnet(p)
	return nil
}

// MarshalJSON writes a plain subnet as its CIDR.
func (s Subnet) MarshalJSON() ([]byte, error) {
	if s.plain() {
		return json.Marshal(s.CIDR)
	}
	type plainSubnet Subnet
	return json.Marshal(plainSubnet(s))
}

// LogicalRouter routes between the VNs attached to it, on every node, with the anycast
// RouterMAC: a VMI's traffic to its subnet's gateway for an address in another of the router's
// VNs is routed on the node where it enters. Each of its VNs needs a subnet.
type LogicalRouter struct {
	Name     string   `yaml:"name" json:"name"`
	Networks []string `yaml:"networks" json:"networks"`
}

// RouterMAC is the MAC of every subnet's gateway, the same on every node: ARP for a gateway
// address is answered with it, and routed packets leave with it as their source. One address
// everywhere makes the gateway distributed (anycast): an instance that moves to another node
// keeps a valid ARP cache. It is the MAC Contrail's vRouter uses (IANA's VRRP range,
// 00:00:5e:00:01:VRID); no VMI or address pair may use it.
const RouterMAC = "00:00:5e:00:01:00"

// routerMACBits is RouterMAC as parseMAC48 packs it.
const routerMACBits uint64 = 0x00005e000100
