package model_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/test/bench/scale"
)

// The fast validation must say exactly what the code before it said (legacy_test.go): the same
// errors, of the same objects and fields, with the same texts, in the same order; and, for a
// valid config, build the same Index.

// sameAsLegacy validates c both ways and fails t on any difference. It returns the errors.
func sameAsLegacy(t *testing.T, c *model.Config, what string) model.Errors {
	t.Helper()
	want := model.LegacyValidate(c)
	x, got := c.ValidateIndex()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: ValidateIndex says\n%v\nthe code before said\n%v", what, got, want)
	}
	if err := c.Validate(); !reflect.DeepEqual(err, want) {
		t.Fatalf("%s: Validate says\n%v\nthe code before said\n%v", what, err, want)
	}
	if want != nil {
		if x != nil {
			t.Fatalf("%s: an invalid config got an Index", what)
		}
		return want.(model.Errors)
	}
	old := model.LegacyNewIndex(c)
	if !reflect.DeepEqual(x, old) {
		t.Fatalf("%s: ValidateIndex's Index differs from the old NewIndex:\n%+v\n%+v", what, x, old)
	}
	if y := model.NewIndex(c); !reflect.DeepEqual(y, old) {
		t.Fatalf("%s: NewIndex differs from the old one:\n%+v\n%+v", what, y, old)
	}
	hosts := []string{"no-such-node"}
	for _, pr := range c.PhysicalRouters {
		hosts = append(hosts, pr.Name)
	}
	for _, h := range hosts {
		if got, want := x.NodeLIs(h), model.LegacyNodeLIs(old, h); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: NodeLIs(%s) = %v, was %v", what, h, got, want)
		}
		if got, want := x.InterfacesUsed(h), model.LegacyInterfacesUsed(old, h); got != want {
			t.Fatalf("%s: InterfacesUsed(%s) = %d, was %d", what, h, got, want)
		}
		if got, want := x.HAGroupOf(h), model.LegacyHAGroupOf(old, h); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: HAGroupOf(%s) = %+v, was %+v", what, h, got, want)
		}
		used := x.InterfacesUsed(h)
		for _, max := range []int{used, used - 1} {
			if got, want := x.CheckCapacity(h, max), model.LegacyCheckCapacity(old, h, max); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: CheckCapacity(%s, %d) = %v, was %v", what, h, max, got, want)
			}
		}
	}
	return nil
}

func parse(t *testing.T, yaml string) *model.Config {
	t.Helper()
	c, err := model.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestValidateSameErrorsAsBefore: configs broken where the fast code takes shortcuts (object
// paths made on error, names, MACs and addresses looked up in its own tables, packed keys,
// logical interfaces whose VMIs are not in the order of the VMIs, HA checks skipped when no VN
// floods BPDUs), each named after what it breaks.
func TestValidateSameErrorsAsBefore(t *testing.T) {
	cases := []struct {
		name, base string
		edits      []string // old, new, old, new…: replacements in base
		errors     int      // how many errors the code before reported (a check of the case)
	}{
		{"valid", model.ValidYAML, nil, 0},
		{"valid HA", model.HAYAML, nil, 0},
		{"every object unnamed", model.ValidYAML, []string{"name: blue", `name: ""`, "name: gw1", `name: ""`, "name: eth1\n", "name: \"\"\n", "name: eth1-100", `name: ""`, "name: bms1", `name: ""`, "name: web", `name: ""`, "name: tor1", `name: ""`, "name: no-ssh", `name: ""`}, 17},
		{"names with a space, a comma, '=' and '/'", model.ValidYAML, []string{"name: blue", `name: "bl ue"`, "name: gw2", `name: "gw,2"`, "name: bms4", `name: "bms=4"`, "name: eth1-0", `name: "eth1/0"`}, 10},
		{"VNI of an unnamed VN", model.ValidYAML, []string{"name: blue", `name: ""`, "vni: 5002", "vni: 5001"}, 6},
		{"VLAN of an unnamed logical interface", model.ValidYAML, []string{"name: eth1-100", `name: ""`, "vlan: 0", "vlan: 100"}, 1},
		{"VLAN thrice on one interface", model.ValidYAML, []string{"vlan: 0\n            vmi: bms2", "vlan: 100\n            vmi: bms2\n          - {name: eth1-x, vlan: 100, vmi: vm1}"}, 2},
		{"MAC twice, in upper case", model.ValidYAML, []string{`"02:00:00:00:02:01"`, `"02:00:00:00:01:0A"`}, 1},
		{"MAC twice, with dashes", model.ValidYAML, []string{`"02:00:00:00:02:01"`, `"02-00-00-00-01-0a"`}, 1},
		{"MAC twice, dotted", model.ValidYAML, []string{`"02:00:00:00:02:01"`, `"0200.0000.010a"`}, 1},
		{"MAC of 8 bytes", model.ValidYAML, []string{`"02:00:00:00:02:01"`, `"02:00:00:00:00:00:02:01"`}, 1},
		{"MAC all zeros", model.ValidYAML, []string{`"02:00:00:00:02:01"`, `"00:00:00:00:00:00"`}, 1},
		{"MAC with a bad digit", model.ValidYAML, []string{`"02:00:00:00:02:01"`, `"02:00:00:00:02:0g"`}, 1},
		{"MAC with a bad separator", model.ValidYAML, []string{`"02:00:00:00:02:01"`, `"02:00:00:00:02-01"`}, 1},
		{"MAC twice in a network that does not exist", model.ValidYAML, []string{"network: red", "network: green", `"02:00:00:00:02:01"`, `"02:00:00:00:01:0b"`, "name: vm1\n    network: blue", "name: vm1\n    network: green"}, 3},
		{"MAC twice without a network", model.ValidYAML, []string{"network: red\n    mac", "network: \"\"\n    mac", `"02:00:00:00:02:01"`, `"02:00:00:00:01:0b"`, "name: vm1\n    network: blue", "name: vm1\n    network: \"\""}, 3},
		{"same MAC in two networks", model.ValidYAML, []string{`"02:00:00:00:01:0b"`, `"02:00:00:00:01:0a"`}, 0},
		{"address twice, once as IPv4-mapped IPv6", model.ValidYAML, []string{"      - address: 192.168.5.5", "      - address: 192.168.5.5\n      - address: \"::ffff:192.168.5.5\""}, 0},
		{"address with a leading zero", model.ValidYAML, []string{"address: 10.1.0.20", "address: 10.1.0.020"}, 1},
		{"address with a zone", model.ValidYAML, []string{"address: 10.1.0.20", `address: "fe80::1%eth0"`}, 1},
		{"address with five bytes", model.ValidYAML, []string{"address: 10.1.0.20", "address: 10.1.0.20.1"}, 1},
		{"address ending in a dot", model.ValidYAML, []string{"address: 10.1.0.20", "address: 10.1.0."}, 1},
		{"IPv6 address twice", model.ValidYAML, []string{"    instanceIPs:\n      - address: 192.168.5.5", "    instanceIPs:\n      - address: fd00::5\n      - address: \"fd00:0::5\""}, 1},
		{"address twice in one VMI", model.ValidYAML, []string{"      - address: 192.168.5.5", "      - address: 192.168.5.5\n      - address: 192.168.5.5"}, 1},
		{"address twice in a network that does not exist", model.ValidYAML, []string{"network: red", "network: green", "address: 10.1.0.20", "address: 192.168.5.5", "name: vm1\n    network: blue", "name: vm1\n    network: green"}, 3},
		{"address outside subnets of which one is bad", model.ValidYAML, []string{`["10.1.0.0/24"]`, `["10.1.0.0/33", "10.9.0.0/16"]`}, 3},
		{"addresses in a VN whose subnets are all bad", model.ValidYAML, []string{`["10.1.0.0/24"]`, `["10.1.0.0/33", "x"]`}, 2},
		{"security group listed twice, and an unknown one twice", model.ValidYAML, []string{"securityGroups: [web]", "securityGroups: [web, db, web, db]"}, 3},
		{"VMI listed twice", model.ValidYAML, []string{"  - name: bms4\n", "  - name: bms1\n"}, 2},
		{"logical interface to a VMI listed twice", model.ValidYAML, []string{"  - name: bms4\n    network: blue\n    mac: \"02:00:00:00:01:0d\"", "  - name: bms4\n    network: blue\n    mac: \"02:00:00:00:01:0d\"\n  - name: bms4\n    network: blue\n    mac: \"02:00:00:00:01:0e\""}, 1},
		{"logical interface to a VMI whose name is bad", model.ValidYAML, []string{"  - name: bms2\n", "  - name: \"bms 2\"\n", "vmi: bms2", `vmi: "bms 2"`}, 2},
		{"logical interfaces in another order than their VMIs, one VMI twice", model.ValidYAML, []string{"vmi: bms1", "vmi: bms2", "vmi: bms2\n", "vmi: bms1\n          - {name: eth1-7, vlan: 7, vmi: bms2}\n"}, 1},
		{"two routers of one name link one VMI", model.ValidYAML, []string{"name: gw2", "name: gw1", "vmi: bms4", "vmi: bms1"}, 1},
		{"interface name too long, unnamed router", model.ValidYAML, []string{"name: gw2", `name: ""`, "name: eth1\n        logicalInterfaces:\n          - name: eth1-100\n            vlan: 100\n            vmi: bms4", "name: eth1234567890123456\n        logicalInterfaces:\n          - name: eth1-100\n            vlan: 100\n            vmi: bms4"}, 2},
		{"ToR bindings of ports with '/' and a dangling network", model.ValidYAML, []string{"{port: p1, vlan: 100, network: blue}", "{port: \"p/1\", vlan: 100, network: blue}\n      - {port: p, vlan: 1, network: blue}\n      - {port: \"p/1\", vlan: 100, network: x}"}, 2},
		{"ToR switch unnamed, tcp with ssl", model.ValidYAML, []string{"name: tor1", `name: ""`, "    replicationNode: gw1\n", "    replicationNode: gw1\n    ssl: {privateKey: a, certificate: b, caCert: c}\n"}, 2},
		{"rules of unnamed groups and policies", model.ValidYAML, []string{"name: web", `name: ""`, "name: no-ssh", `name: ""`, "direction: egress", "direction: out", "action: pass", "action: allow"}, 7},
		{"HA: BPDU VMI on a tagged VLAN, and a VM in the BPDU VN", model.HAYAML, []string{"{name: vm1, network: blue,", "{name: vm1, network: bpdu,", "{name: eth1-100, vlan: 100, vmi: bms1}\n  - name: gw2", "{name: eth1-100, vlan: 100, vmi: bms1}\n          - {name: eth1-7, vlan: 7, vmi: stp-b}\n  - name: gw2"}, 2},
		{"HA: two groups, one BPDU VMI", model.HAYAML, []string{"{name: eth1-0, vlan: 0, vmi: stp-b}", "{name: eth1-0, vlan: 0, vmi: stp-a}"}, 2},
		{"HA: a group without BPDUs", model.HAYAML, []string{"floodBPDU: true", "floodBPDU: false"}, 2},
		{"HA: one gateway on two BPDU VMIs", model.HAYAML, []string{"{name: eth1-0, vlan: 0, vmi: stp-a}\n          - {name: eth1-100, vlan: 100, vmi: bms1}\n  - name: gw3", "{name: eth1-0, vlan: 0, vmi: stp-b}\n          - {name: eth1-100, vlan: 100, vmi: bms1}\n  - name: gw3"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.base
			for i := 0; i < len(tc.edits); i += 2 {
				if !strings.Contains(y, tc.edits[i]) {
					t.Fatalf("test bug: %q is not in the config", tc.edits[i])
				}
				y = strings.Replace(y, tc.edits[i], tc.edits[i+1], 1)
			}
			if errs := sameAsLegacy(t, parse(t, y), tc.name); len(errs) != tc.errors {
				t.Fatalf("test bug: the config has %d errors, not %d: %v", len(errs), tc.errors, errs)
			}
		})
	}
}

// bases are the configs the random edits start from.
func bases(t testing.TB) map[string]string {
	out := map[string]string{
		"valid":  model.ValidYAML,
		"ha":     model.HAYAML,
		"scale":  scale.Spec{Host: "gw1", Remote: 100, PerVN: 16}.YAML(),
		"scale2": twoGateways(scale.Spec{Host: "gw1", Remote: 50, PerVN: 8}),
	}
	for _, pattern := range configSeeds {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = string(data)
		}
	}
	return out
}

// twoGateways is a generated config whose node is duplicated as gw2, sharing every instance:
// an HA group, without its BPDU network until an edit adds one.
func twoGateways(s scale.Spec) string {
	y := s.YAML()
	start := strings.Index(y, "physicalRouters:\n") + len("physicalRouters:\n")
	end := strings.Index(y, "virtualMachineInterfaces:")
	gw2 := strings.Replace(y[start:end], "name: "+s.Host, "name: gw2", 1)
	return y[:end] + gw2 + y[end:]
}

// TestValidateSameAsBeforeAfterRandomEdits: random edits of every kind of object and field,
// from names taken from the config itself (so that they collide) and from bad values; after
// each batch the fast code and the code before must agree on every error, and on the Index.
func TestValidateSameAsBeforeAfterRandomEdits(t *testing.T) {
	rounds, kindsWanted := 300, 70
	if testing.Short() {
		rounds, kindsWanted = 50, 45
	}
	template := regexp.MustCompile(`"[^"]*"|[0-9a-f:.]*[0-9][0-9a-f:.]*`)
	kinds := map[string]bool{} // error texts without their values: what the edits reached
	valid := 0
	for name, yaml := range bases(t) {
		base := parse(t, yaml)
		for seed := range rounds {
			r := rand.New(rand.NewPCG(uint64(seed), 7))
			c := clone(base)
			var done []string
			for range 1 + r.IntN(3) {
				done = append(done, edit(r, c))
			}
			errs := sameAsLegacy(t, c, fmt.Sprintf("%s, seed %d, after %s", name, seed, strings.Join(done, "; ")))
			if errs == nil {
				valid++
			}
			for _, e := range errs {
				kinds[template.ReplaceAllString(e.Field+": "+e.Reason, "_")] = true
			}
		}
	}
	// The edits must reach most checks, and leave some configs valid (so that the Index and
	// the HA rules are compared too).
	if len(kinds) < kindsWanted || valid < rounds/10 {
		t.Fatalf("the edits reached %d kinds of error and left %d configs valid: %v", len(kinds), valid, kinds)
	}
	t.Logf("%d kinds of error, %d valid configs", len(kinds), valid)
}

// clone copies a config deeply: edits of the copy leave the original as it was.
func clone(c *model.Config) *model.Config {
	n := *c
	n.VirtualNetworks = slices.Clone(c.VirtualNetworks)
	for i := range n.VirtualNetworks {
		vn := &n.VirtualNetworks[i]
		vn.Subnets, vn.NetworkPolicies = slices.Clone(vn.Subnets), slices.Clone(vn.NetworkPolicies)
	}
	n.PhysicalRouters = slices.Clone(c.PhysicalRouters)
	for i := range n.PhysicalRouters {
		pr := &n.PhysicalRouters[i]
		pr.PhysicalInterfaces = slices.Clone(pr.PhysicalInterfaces)
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			pi.LogicalInterfaces = slices.Clone(pi.LogicalInterfaces)
			for k := range pi.LogicalInterfaces {
				if li := &pi.LogicalInterfaces[k]; li.VLAN != nil {
					vlan := *li.VLAN
					li.VLAN = &vlan
				}
			}
		}
	}
	n.VirtualMachineInterfaces = slices.Clone(c.VirtualMachineInterfaces)
	for i := range n.VirtualMachineInterfaces {
		v := &n.VirtualMachineInterfaces[i]
		v.InstanceIPs, v.SecurityGroups, v.AllowedAddressPairs = slices.Clone(v.InstanceIPs), slices.Clone(v.SecurityGroups), slices.Clone(v.AllowedAddressPairs)
		if v.PortSecurity != nil {
			ps := *v.PortSecurity
			v.PortSecurity = &ps
		}
	}
	n.SecurityGroups = slices.Clone(c.SecurityGroups)
	for i := range n.SecurityGroups {
		n.SecurityGroups[i].Rules = slices.Clone(n.SecurityGroups[i].Rules)
	}
	n.NetworkPolicies = slices.Clone(c.NetworkPolicies)
	for i := range n.NetworkPolicies {
		n.NetworkPolicies[i].Rules = slices.Clone(n.NetworkPolicies[i].Rules)
	}
	n.TorSwitches = slices.Clone(c.TorSwitches)
	for i := range n.TorSwitches {
		sw := &n.TorSwitches[i]
		sw.Bindings = slices.Clone(sw.Bindings)
		for j := range sw.Bindings {
			if b := &sw.Bindings[j]; b.VLAN != nil {
				vlan := *b.VLAN
				b.VLAN = &vlan
			}
		}
		if sw.SSL != nil {
			ssl := *sw.SSL
			sw.SSL = &ssl
		}
	}
	return &n
}

// edit changes one thing in c at random and says what.
func edit(r *rand.Rand, c *model.Config) string {
	pick := func(n int) int { return r.IntN(n) }
	oneOf := func(vals ...string) string { return vals[pick(len(vals))] }
	intp := func(v int) *int { return &v }
	var vnNames, vmiNames, sgNames, polNames, routerNames []string
	for _, v := range c.VirtualNetworks {
		vnNames = append(vnNames, v.Name)
	}
	for _, v := range c.VirtualMachineInterfaces {
		vmiNames = append(vmiNames, v.Name)
	}
	for _, g := range c.SecurityGroups {
		sgNames = append(sgNames, g.Name)
	}
	for _, p := range c.NetworkPolicies {
		polNames = append(polNames, p.Name)
	}
	for _, pr := range c.PhysicalRouters {
		routerNames = append(routerNames, pr.Name)
	}
	// name is a bad name, a taken one (from taken), or a new one.
	name := func(taken []string) string {
		switch pick(6) {
		case 0:
			return ""
		case 1:
			return oneOf("a b", "a,b", "a=b", "a/b", "a\tb")
		case 2, 3:
			if len(taken) > 0 {
				return taken[pick(len(taken))]
			}
		}
		return fmt.Sprintf("new%d", pick(1000))
	}
	vmi := func() *model.VirtualMachineInterface {
		return &c.VirtualMachineInterfaces[pick(len(c.VirtualMachineInterfaces))]
	}
	var lis []*model.LogicalInterface
	for i := range c.PhysicalRouters {
		for j := range c.PhysicalRouters[i].PhysicalInterfaces {
			pi := &c.PhysicalRouters[i].PhysicalInterfaces[j]
			for k := range pi.LogicalInterfaces {
				lis = append(lis, &pi.LogicalInterfaces[k])
			}
		}
	}
	hasVMIs, hasVNs, hasLIs := len(c.VirtualMachineInterfaces) > 0, len(c.VirtualNetworks) > 0, len(lis) > 0
	for {
		switch pick(24) {
		case 0:
			if hasVNs {
				vn := &c.VirtualNetworks[pick(len(c.VirtualNetworks))]
				vn.Name = name(vnNames)
				return "VN name " + vn.Name
			}
		case 1:
			if hasVNs {
				vn := &c.VirtualNetworks[pick(len(c.VirtualNetworks))]
				switch pick(3) {
				case 0:
					vn.VNI = []uint32{0, model.MaxVNI + 1, 7}[pick(3)]
				default:
					vn.VNI = c.VirtualNetworks[pick(len(c.VirtualNetworks))].VNI
				}
				return fmt.Sprintf("VN %s VNI %d", vn.Name, vn.VNI)
			}
		case 2:
			if hasVNs {
				vn := &c.VirtualNetworks[pick(len(c.VirtualNetworks))]
				vn.Subnets = model.SubnetsOf([][]string{nil, {"10.0.0.0/33"}, {"x", "10.0.0.0/8"}, {"192.168.0.0/16"}, {"fd00::/64", "10.1.0.0/16"}}[pick(5)]...)
				return fmt.Sprintf("VN %s subnets %v", vn.Name, vn.Subnets)
			}
		case 3:
			if hasVNs {
				vn := &c.VirtualNetworks[pick(len(c.VirtualNetworks))]
				if pick(2) == 0 {
					vn.FloodBPDU = !vn.FloodBPDU
					return fmt.Sprintf("VN %s floodBPDU %v", vn.Name, vn.FloodBPDU)
				}
				vn.NetworkPolicies = append(vn.NetworkPolicies, name(polNames))
				return fmt.Sprintf("VN %s policies %v", vn.Name, vn.NetworkPolicies)
			}
		case 4:
			if hasVMIs {
				v := vmi()
				v.Name = name(vmiNames)
				return "VMI name " + v.Name
			}
		case 5:
			if hasVMIs {
				v := vmi()
				v.Network = name(append(vnNames, vnNames...))
				return fmt.Sprintf("VMI %s network %q", v.Name, v.Network)
			}
		case 6, 7:
			if hasVMIs {
				v, other := vmi(), vmi()
				switch pick(4) {
				case 0:
					v.MAC = other.MAC
				case 1:
					v.MAC = strings.ToUpper(other.MAC)
				case 2:
					v.MAC = strings.ReplaceAll(other.MAC, ":", "-")
				default:
					v.MAC = oneOf("", "zz", "03:00:00:00:00:01", "00:00:00:00:00:00", "02:00:00:00:00:00:00:01", "0200.5e00.0001", "02:00:5e:00:00:01", "02:00:5E:00:00:0g")
				}
				return fmt.Sprintf("VMI %s MAC %q", v.Name, v.MAC)
			}
		case 8, 9:
			if hasVMIs {
				v, other := vmi(), vmi()
				addr := oneOf("10.1.0.300", "10.01.0.1", "fe80::1%eth0", "fd00::1", "10.2.0.5", "192.168.5.5", "10.1.0.10", "1.2.3", "")
				if len(other.InstanceIPs) > 0 && pick(2) == 0 {
					addr = other.InstanceIPs[0].Address
					if pick(3) == 0 && !strings.Contains(addr, ":") {
						addr = "::ffff:" + addr
					}
				}
				if len(v.InstanceIPs) == 0 || pick(3) == 0 {
					v.InstanceIPs = append(v.InstanceIPs, model.InstanceIP{Address: addr})
				} else {
					v.InstanceIPs[0].Address = addr
				}
				if pick(5) == 0 {
					v.InstanceIPs[0].Mode = oneOf("active-active", "active-backup", "")
				}
				return fmt.Sprintf("VMI %s addresses %v", v.Name, v.InstanceIPs)
			}
		case 10:
			if hasVMIs {
				v := vmi()
				switch pick(2) {
				case 0:
					v.SecurityGroups = append(v.SecurityGroups, name(append(sgNames, sgNames...)))
				default:
					v.AllowedAddressPairs = append(v.AllowedAddressPairs, model.AddressPair{IP: oneOf("10.1.0.0/8", "10.1.0/8", "fd00::1", "x"), MAC: oneOf("", "zz", "02:00:00:00:09:09", "01:00:00:00:00:01")})
				}
				return fmt.Sprintf("VMI %s groups %v pairs %v", v.Name, v.SecurityGroups, v.AllowedAddressPairs)
			}
		case 11:
			if hasVMIs { // a copy: the same name, MAC and addresses
				v := *vmi()
				at := pick(len(c.VirtualMachineInterfaces) + 1)
				c.VirtualMachineInterfaces = append(c.VirtualMachineInterfaces[:at], append([]model.VirtualMachineInterface{v}, c.VirtualMachineInterfaces[at:]...)...)
				return "VMI copied: " + v.Name
			}
		case 12:
			if hasVMIs { // VMIs out of the order of their logical interfaces, or one gone
				i, j := pick(len(c.VirtualMachineInterfaces)), pick(len(c.VirtualMachineInterfaces))
				if pick(3) == 0 {
					gone := c.VirtualMachineInterfaces[i].Name
					c.VirtualMachineInterfaces = append(c.VirtualMachineInterfaces[:i], c.VirtualMachineInterfaces[i+1:]...)
					return "VMI removed: " + gone
				}
				vs := c.VirtualMachineInterfaces
				vs[i], vs[j] = vs[j], vs[i]
				return fmt.Sprintf("VMIs %d and %d swapped", i, j)
			}
		case 13:
			if len(c.PhysicalRouters) > 0 {
				pr := &c.PhysicalRouters[pick(len(c.PhysicalRouters))]
				if pick(2) == 0 {
					pr.Name = name(routerNames)
					return "router name " + pr.Name
				}
				if len(pr.PhysicalInterfaces) > 0 {
					pi := &pr.PhysicalInterfaces[pick(len(pr.PhysicalInterfaces))]
					pi.Name = oneOf("", "eth1", "eth2", "a b", "eth-far-too-long-name")
					return "physical interface name " + pi.Name
				}
			}
		case 14:
			if len(c.PhysicalRouters) > 0 { // another gateway, with some of this one's interfaces
				pr := c.PhysicalRouters[pick(len(c.PhysicalRouters))]
				gw := model.PhysicalRouter{Name: oneOf("gwx", "gwy", pr.Name)}
				for _, pi := range pr.PhysicalInterfaces {
					var keep []model.LogicalInterface
					for _, li := range pi.LogicalInterfaces {
						if pick(2) == 0 {
							keep = append(keep, li)
						}
					}
					gw.PhysicalInterfaces = append(gw.PhysicalInterfaces, model.PhysicalInterface{Name: pi.Name, LogicalInterfaces: keep})
				}
				c.PhysicalRouters = append(c.PhysicalRouters, gw)
				return "router added: " + gw.Name
			}
		case 15, 16:
			if hasLIs {
				li := lis[pick(len(lis))]
				var taken []string
				for _, o := range lis {
					taken = append(taken, o.Name)
				}
				li.Name = name(taken)
				return "logical interface name " + li.Name
			}
		case 17, 18:
			if hasLIs {
				li := lis[pick(len(lis))]
				switch pick(4) {
				case 0:
					li.VLAN = []*int{nil, intp(-1), intp(model.MaxVLAN + 1), intp(0)}[pick(4)]
				default:
					li.VLAN = lis[pick(len(lis))].VLAN
				}
				if pick(4) == 0 {
					li.Type = oneOf("l3", "l2", "")
				}
				return fmt.Sprintf("logical interface %s VLAN %v type %q", li.Name, li.VLAN, li.Type)
			}
		case 19, 20:
			if hasLIs {
				li := lis[pick(len(lis))]
				li.VMI = name(append(vmiNames, vmiNames...))
				return fmt.Sprintf("logical interface %s VMI %q", li.Name, li.VMI)
			}
		case 21:
			if hasLIs { // logical interfaces out of order: NodeLIs sorts them
				pr := &c.PhysicalRouters[pick(len(c.PhysicalRouters))]
				if len(pr.PhysicalInterfaces) > 0 {
					pi := &pr.PhysicalInterfaces[pick(len(pr.PhysicalInterfaces))]
					r.Shuffle(len(pi.LogicalInterfaces), func(i, j int) {
						pi.LogicalInterfaces[i], pi.LogicalInterfaces[j] = pi.LogicalInterfaces[j], pi.LogicalInterfaces[i]
					})
					r.Shuffle(len(pr.PhysicalInterfaces), func(i, j int) {
						pr.PhysicalInterfaces[i], pr.PhysicalInterfaces[j] = pr.PhysicalInterfaces[j], pr.PhysicalInterfaces[i]
					})
					return "logical interfaces of " + pr.Name + " shuffled"
				}
			}
		case 22:
			switch pick(3) {
			case 0:
				c.SecurityGroups = append(c.SecurityGroups, model.SecurityGroup{Name: name(sgNames), Rules: []model.SecurityGroupRule{
					{Direction: oneOf("ingress", "egress", "out"), Ethertype: oneOf("", "IPv6", "IPv5"), Protocol: oneOf("tcp", "icmp", "gre", "300"),
						Ports: oneOf("", "80", "81-80", "x"), RemoteCIDR: oneOf("", "::/0", "10.0.0.0/40"), RemoteGroup: name(sgNames)}}})
				return "security group added"
			case 1:
				c.NetworkPolicies = append(c.NetworkPolicies, model.NetworkPolicy{Name: name(polNames), Rules: []model.PolicyRule{
					{Action: oneOf("pass", "deny", "allow"), Protocol: oneOf("", "udp", "icmp"), Direction: oneOf("", ">", "<>", "<"),
						Source: model.Endpoint{Network: name(vnNames)}, Destination: model.Endpoint{CIDR: oneOf("", "10.0.0.0/8", "10.0.0.0")},
						SourcePorts: oneOf("", "53", "x"), DestinationPorts: oneOf("", "any", "2-1")}}})
				return "network policy added"
			default:
				sw := model.TorSwitch{Name: name([]string{"tor1", "tor2"}), Endpoint: oneOf("tcp:10.0.0.1:6640", "ssl:10.0.0.1:6640", "http://x", ""),
					ReplicationNode: oneOf("", "gw1")}
				for range pick(4) {
					sw.Bindings = append(sw.Bindings, model.TorBinding{Port: oneOf("", "p1", "p/1"), VLAN: []*int{nil, intp(1), intp(4095)}[pick(3)], Network: name(vnNames)})
				}
				c.TorSwitches = append(c.TorSwitches, sw)
				return "ToR switch added"
			}
		case 23:
			if hasVMIs && hasLIs { // a BPDU VMI on VLAN 0
				v := vmi()
				for i := range c.VirtualNetworks {
					if c.VirtualNetworks[i].Name == v.Network {
						c.VirtualNetworks[i].FloodBPDU = true
					}
				}
				li := lis[pick(len(lis))]
				li.VMI, li.VLAN = v.Name, intp(0)
				return fmt.Sprintf("VMI %s of a BPDU network on VLAN 0 of %s", v.Name, li.Name)
			}
		}
	}
}

// FuzzValidateSameAsBefore: for any config that parses, the fast code and the code before agree.
func FuzzValidateSameAsBefore(f *testing.F) {
	for _, yaml := range bases(f) {
		f.Add([]byte(yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := model.Parse(data)
		if err != nil {
			return
		}
		sameAsLegacy(t, c, "fuzzed config")
	})
}
