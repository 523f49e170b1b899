package model

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const subnetsYAML = `
virtualNetworks:
  - name: blue
    vni: 5001
    subnets:
      - 10.1.0.0/24
      - cidr: 10.2.0.0/24
        gateway: 10.2.0.254
        dnsServers: [10.2.0.53]
        domainName: blue.example
        dhcp: false
      - {cidr: "2001:db8:1::/64"}
  - {name: red, vni: 5002, subnets: ["10.3.0.0/24", {cidr: 10.4.0.0/30, gateway: none}]}
  - {name: green, vni: 5003, subnets: [10.5.0.0/24]}
logicalRouters:
  - {name: r1, networks: [blue, red]}
virtualMachineInterfaces:
  - {name: vm1, network: blue, mac: "02:00:00:00:00:01", instanceIPs: [{address: 10.1.0.1}]}
`

// A subnet is a CIDR or a mapping; the plain form keeps every default; both survive JSON.
func TestSubnetsParse(t *testing.T) {
	c, err := Parse([]byte(subnetsYAML))
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.ValidateIndex()
	if err != nil {
		t.Fatal(err)
	}
	blue := c.VirtualNetworks[0]
	if len(blue.Subnets) != 3 || !blue.Subnets[0].Equal(Subnet{CIDR: "10.1.0.0/24"}) {
		t.Fatalf("blue's subnets %+v", blue.Subnets)
	}
	for _, tc := range []struct {
		vn     *VirtualNetwork
		s      Subnet
		gw     string // "" none
		dhcp   bool
		prefix string
	}{
		{&c.VirtualNetworks[0], blue.Subnets[0], "", true, "10.1.0.0/24"}, // .1 is vm1's: the default yields
		{&c.VirtualNetworks[0], blue.Subnets[1], "10.2.0.254", false, "10.2.0.0/24"},
		{&c.VirtualNetworks[0], blue.Subnets[2], "2001:db8:1::1", true, "2001:db8:1::/64"},
		{&c.VirtualNetworks[1], c.VirtualNetworks[1].Subnets[0], "10.3.0.1", true, "10.3.0.0/24"},
		{&c.VirtualNetworks[1], c.VirtualNetworks[1].Subnets[1], "", true, "10.4.0.0/30"},
	} {
		gw, ok := x.Gateway(tc.vn, tc.s)
		if got := map[bool]string{true: gw.String(), false: ""}[ok]; got != tc.gw {
			t.Errorf("%s: gateway %q, want %q", tc.s, got, tc.gw)
		}
		if p, _ := tc.s.Prefix(); p.String() != tc.prefix || tc.s.DHCPEnabled() != tc.dhcp {
			t.Errorf("%s: prefix %s dhcp %v", tc.s, p, tc.s.DHCPEnabled())
		}
	}
	if r := x.RouterOf["red"]; r == nil || r.Name != "r1" || x.RouterOf["green"] != nil {
		t.Errorf("routers: %v", x.RouterOf)
	}
	data, err := json.Marshal(c.VirtualNetworks[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"subnets":["10.1.0.0/24",{"cidr":"10.2.0.0/24","gateway":"10.2.0.254"`) {
		t.Errorf("JSON: %s", data)
	}
	var back VirtualNetwork
	if err := json.Unmarshal(data, &back); err != nil || len(back.Subnets) != 3 || !back.Subnets[1].Equal(blue.Subnets[1]) {
		t.Errorf("JSON round trip: %v %+v", err, back.Subnets)
	}
	out, err := yaml.Marshal(c.VirtualNetworks[1])
	if err != nil || !strings.Contains(string(out), "- 10.3.0.0/24\n") {
		t.Errorf("YAML: %v\n%s", err, out)
	}
	if _, err := Parse([]byte("virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: 10.0.0.0/8, gw: 10.0.0.1}]}]")); err == nil ||
		!strings.Contains(err.Error(), "field gw not found in a subnet") {
		t.Errorf("unknown subnet field: %v", err)
	}
}

// Subnet options and routers that cannot work are refused, naming object and field.
func TestSubnetAndRouterValidation(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: 10.0.0.0/24, gateway: 10.0.1.1}]}]`,
			"virtualNetworks[b].subnets[0].gateway: 10.0.1.1 is outside the subnet 10.0.0.0/24"},
		{`virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: 10.0.0.0/24, gateway: 10.0.0.255}]}]`,
			"10.0.0.255 is the subnet's broadcast address"},
		{`virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: 10.0.0.0/24, gateway: 10.0.0.0}]}]`,
			"10.0.0.0 is the subnet's network address"},
		{`virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: 10.0.0.0/24, gateway: gw}]}]`,
			`virtualNetworks[b].subnets[0].gateway: "gw" is not an IP address`},
		{`virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: "2001:db8::/64", dnsServers: [10.0.0.53]}]}]`,
			"virtualNetworks[b].subnets[0].dnsServers[0]: 10.0.0.53 is not an IPv6 address, as the subnet 2001:db8::/64 is"},
		{`virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: 10.0.0.0/24, domainName: "bad_name.example"}]}]`,
			`virtualNetworks[b].subnets[0].domainName: "bad_name.example" is not a domain name`},
		{`virtualNetworks: [{name: b, vni: 1, subnets: [{cidr: 10.0.0.0/24, gateway: 10.0.0.9}]}]
virtualMachineInterfaces: [{name: v, network: b, mac: "02:00:00:00:00:01", instanceIPs: [{address: 10.0.0.9}]}]`,
			"virtualMachineInterfaces[v].instanceIPs[0].address: 10.0.0.9 is the gateway address a subnet of virtual network \"b\" names"},
		{`virtualNetworks: [{name: a, vni: 1, subnets: [10.0.0.0/16]}, {name: b, vni: 2, subnets: [10.0.1.0/24]}]
logicalRouters: [{name: r, networks: [a, b]}]`,
			`logicalRouters[r].networks[1]: subnet 10.0.1.0/24 of "b" overlaps subnet 10.0.0.0/16 of "a", on the same router`},
		{`virtualNetworks: [{name: a, vni: 1, subnets: [10.0.0.0/24]}]
logicalRouters: [{name: r, networks: [a, nope]}, {name: s, networks: [a]}]`,
			`logicalRouters[r].networks[1]: "nope" is not a virtual network of this config`},
		{`virtualNetworks: [{name: a, vni: 1, subnets: [10.0.0.0/24]}]
logicalRouters: [{name: r, networks: [a]}, {name: s, networks: [a]}]`,
			`logicalRouters[s].networks[0]: "a" is already on logical router "r": a VN has one router`},
		{`virtualNetworks: [{name: a, vni: 1, subnets: [10.0.0.0/24]}, {name: b, vni: 2}]
logicalRouters: [{name: r, networks: [a, b]}]`,
			`logicalRouters[r].networks[1]: "b" has no subnet: a VN on a router needs one`},
		{`virtualNetworks: [{name: a, vni: 1}]
virtualMachineInterfaces: [{name: v, network: a, mac: "00:00:5e:00:01:00"}]`,
			`virtualMachineInterfaces[v].mac: 00:00:5e:00:01:00 is the router MAC of every gateway (RouterMAC)`},
		{`virtualNetworks: [{name: a, vni: 1}]
virtualMachineInterfaces: [{name: v, network: a, mac: "02:00:00:00:00:01", allowedAddressPairs: [{ip: 10.0.0.5, mac: "00-00-5E-00-01-00"}]}]`,
			`virtualMachineInterfaces[v].allowedAddressPairs[0].mac: 00:00:5e:00:01:00 is the router MAC of every gateway (RouterMAC)`},
		{`virtualNetworks: [{name: a, vni: 1, floodBPDU: true}]
logicalRouters: [{name: r, networks: [a]}]`,
			`"a" is a BPDU network (floodBPDU): it carries no routed traffic`},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
	// Overlapping subnets in VNs on different routers, or on none, are fine.
	c, _ := Parse([]byte(`virtualNetworks: [{name: a, vni: 1, subnets: [10.0.0.0/16]}, {name: b, vni: 2, subnets: [10.0.1.0/24]}]
logicalRouters: [{name: r, networks: [a]}, {name: s, networks: [b]}]`))
	if err := c.Validate(); err != nil {
		t.Errorf("VNs with overlapping subnets on different routers: %v", err)
	}
	if gw, ok := (Subnet{CIDR: "10.9.0.4/31"}).GatewayAddr(); ok {
		t.Errorf("a /31 has a default gateway %s", gw)
	}
}
