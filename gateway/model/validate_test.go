package model

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const validYAML = `
virtualNetworks:
  - name: blue
    vni: 5001
    subnets: ["10.1.0.0/24"]
  - name: red
    vni: 5002
    networkPolicies: [no-ssh]
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - name: eth1-100
            vlan: 100
            type: l2
            vmi: bms1
          - name: eth1-0
            vlan: 0
            vmi: bms2
  - name: gw2
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - name: eth1-100
            vlan: 100
            vmi: bms4
virtualMachineInterfaces:
  - name: bms1
    network: blue
    mac: "02:00:00:00:01:0a"
    instanceIPs:
      - address: 10.1.0.10
        mode: active-backup
  - name: bms2
    network: red
    mac: "02:00:00:00:01:0b"
    instanceIPs:
      - address: 192.168.5.5
  - name: bms4
    network: blue
    mac: "02:00:00:00:01:0d"
  - name: vm1
    network: blue
    mac: "02:00:00:00:02:01"
    instanceIPs:
      - address: 10.1.0.20
    securityGroups: [web]
    allowedAddressPairs:
      - ip: 10.1.0.200/32
        mac: "02:00:00:00:09:09"
securityGroups:
  - name: web
    rules:
      - direction: ingress
        protocol: tcp
        ports: "80-81"
        remoteCIDR: 0.0.0.0/0
      - direction: ingress
        protocol: icmp
        remoteGroup: web
      - direction: egress
torSwitches:
  - name: tor1
    endpoint: tcp:192.168.100.50:6640
    replicationNode: gw1
    bindings:
      - {port: p1, vlan: 100, network: blue}
      - {port: p2, vlan: 0, network: red}
networkPolicies:
  - name: no-ssh
    rules:
      - action: deny
        protocol: tcp
        source: {network: blue}
        destination: {cidr: 10.1.0.0/24}
        destinationPorts: "22"
        direction: "<>"
      - action: pass
`

func TestValidConfigPasses(t *testing.T) {
	c, err := Parse([]byte(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}

// TestValidationErrors replaces one piece of the valid config and expects exactly one error,
// naming the object and field.
func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           string // substring of the only error
	}{
		{"duplicate VN name", "  - name: red\n    vni: 5002\n", "  - name: red\n    vni: 5002\n  - name: blue\n    vni: 5003\n", `virtualNetworks[blue].name: "blue" is used by another virtual network`},
		{"duplicate VNI", "vni: 5002", "vni: 5001", "virtualNetworks[red].vni: 5001 is already the VNI"},
		{"VNI zero", "vni: 5002", "vni: 0", "virtualNetworks[red].vni: 0 is out of range"},
		{"VNI too large", "vni: 5002", "vni: 16777216", "virtualNetworks[red].vni: 16777216 is out of range"},
		{"bad subnet", `["10.1.0.0/24"]`, `["10.1.0.0/33"]`, "virtualNetworks[blue].subnets[0]"},
		{"VLAN too large", "vlan: 100\n            type", "vlan: 4095\n            type", "logicalInterfaces[eth1-100].vlan: 4095 is out of range"},
		{"VLAN negative", "vlan: 0", "vlan: -1", "logicalInterfaces[eth1-0].vlan: -1 is out of range"},
		{"VLAN reused on one PI", "vlan: 0", "vlan: 100", `logicalInterfaces[eth1-0].vlan: 100 is already used by logical interface "eth1-100"`},
		{"VLAN missing", "            vlan: 0\n", "", "logicalInterfaces[eth1-0].vlan: missing"},
		{"type not l2", "type: l2", "type: l3", `logicalInterfaces[eth1-100].type: "l3" is not supported`},
		{"LI to missing VMI", "vmi: bms2", "vmi: nosuch", `logicalInterfaces[eth1-0].vmi: "nosuch" is not a virtual machine interface`},
		{"two LIs of one node to one VMI", "vmi: bms2", "vmi: bms1", `logicalInterfaces[eth1-0].vmi: "bms1" is already linked`},
		{"duplicate LI name", "name: eth1-0", "name: eth1-100", `"eth1-100" is used by another logical interface`},
		{"duplicate PR name", "name: gw2", "name: gw1", `physicalRouters[gw1].name: "gw1" is used by another physical router`},
		{"malformed MAC", `"02:00:00:00:01:0b"`, `"02:00:00:00:01"`, `virtualMachineInterfaces[bms2].mac: "02:00:00:00:01" is not a 48-bit MAC`},
		{"multicast MAC", `"02:00:00:00:01:0b"`, `"03:00:00:00:01:0b"`, "virtualMachineInterfaces[bms2].mac: 03:00:00:00:01:0b is a multicast address"},
		{"MAC twice in a VN", `"02:00:00:00:02:01"`, `"02:00:00:00:01:0a"`, `virtualMachineInterfaces[vm1].mac: 02:00:00:00:01:0a is already the MAC of "bms1"`},
		{"address outside subnets", "address: 10.1.0.20", "address: 10.2.0.20", "virtualMachineInterfaces[vm1].instanceIPs[0].address: 10.2.0.20 is outside the subnets"},
		{"address twice in a VN", "address: 10.1.0.20", "address: 10.1.0.10", `virtualMachineInterfaces[vm1].instanceIPs[0].address: 10.1.0.10 is already an address of "bms1"`},
		{"malformed address", "address: 10.1.0.20", "address: 10.1.0.300", `virtualMachineInterfaces[vm1].instanceIPs[0].address: "10.1.0.300" is not an IP address`},
		{"VMI in unknown VN", "network: red", "network: green", `virtualMachineInterfaces[bms2].network: "green" is not a virtual network`},
		{"unknown instance IP mode", "mode: active-backup", "mode: active-active", `virtualMachineInterfaces[bms1].instanceIPs[0].mode: "active-active" is not a known instance IP mode`},
		{"duplicate VMI name", "name: vm1", "name: bms2", `virtualMachineInterfaces[bms2].name: "bms2" is used by another`},
		{"missing VMI name", "  - name: vm1\n", "  - name: \"\"\n", "virtualMachineInterfaces[#3].name: missing"},
		{"VMI with unknown security group", "securityGroups: [web]", "securityGroups: [db]", `virtualMachineInterfaces[vm1].securityGroups[0]: "db" is not a security group`},
		{"bad allowed address pair", "ip: 10.1.0.200/32", "ip: 10.1.0/8", `virtualMachineInterfaces[vm1].allowedAddressPairs[0].ip: "10.1.0/8" is not an address or CIDR`},
		{"bad SG rule CIDR", "remoteCIDR: 0.0.0.0/0", "remoteCIDR: 0.0.0.0/40", `securityGroups[web].rules[0].remoteCIDR: "0.0.0.0/40" is not a CIDR`},
		{"SG rule CIDR of the other family", "remoteCIDR: 0.0.0.0/0", "remoteCIDR: ::/0", `securityGroups[web].rules[0].remoteCIDR: ::/0 is not an IPv4 prefix`},
		{"SG port range reversed", `ports: "80-81"`, `ports: "81-80"`, `securityGroups[web].rules[0].ports: "81-80" is reversed`},
		{"SG ports on icmp", "protocol: icmp\n", "protocol: icmp\n        ports: \"8\"\n", `securityGroups[web].rules[1].ports: "8" given, but protocol "icmp" has no ports`},
		{"SG unknown remote group", "remoteGroup: web", "remoteGroup: db", `securityGroups[web].rules[1].remoteGroup: "db" is not a security group`},
		{"SG bad direction", "direction: egress", "direction: outbound", `securityGroups[web].rules[2].direction: "outbound"`},
		{"SG bad protocol", "protocol: icmp\n", "protocol: gre\n", `securityGroups[web].rules[1].protocol: "gre" is not a protocol`},
		{"policy unknown VN", "source: {network: blue}", "source: {network: green}", `networkPolicies[no-ssh].rules[0].source.network: "green" is not a virtual network`},
		{"policy bad CIDR", "destination: {cidr: 10.1.0.0/24}", "destination: {cidr: 10.1.0.0}", `networkPolicies[no-ssh].rules[0].destination.cidr: "10.1.0.0" is not a CIDR`},
		{"policy port range reversed", `destinationPorts: "22"`, `destinationPorts: "23-22"`, `networkPolicies[no-ssh].rules[0].destinationPorts: "23-22" is reversed`},
		{"policy bad action", "action: pass", "action: allow", `networkPolicies[no-ssh].rules[1].action: "allow"`},
		{"policy bad direction", `direction: "<>"`, `direction: "<"`, `networkPolicies[no-ssh].rules[0].direction: "<"`},
		{"VN with unknown policy", "networkPolicies: [no-ssh]", "networkPolicies: [nope]", `virtualNetworks[red].networkPolicies[0]: "nope" is not a network policy`},
		{"two ToR switches on one endpoint", "torSwitches:\n  - name: tor1", "torSwitches:\n  - {name: tor0, endpoint: \"tcp:192.168.100.50:6640\", replicationNode: gw1}\n  - name: tor1", `torSwitches[tor1].endpoint: "tcp:192.168.100.50:6640" is already the endpoint of switch "tor0"`},
		{"ToR bad endpoint", "endpoint: tcp:192.168.100.50:6640", "endpoint: http://tor1", `torSwitches[tor1].endpoint: "http://tor1"`},
		{"ToR ssl without files", "endpoint: tcp:192.168.100.50:6640", "endpoint: ssl:192.168.100.50:6640", "torSwitches[tor1].ssl: an ssl: endpoint needs"},
		{"ToR without replication node", "    replicationNode: gw1\n", "", "torSwitches[tor1].replicationNode: missing"},
		{"ToR binding to unknown VN", "{port: p1, vlan: 100, network: blue}", "{port: p1, vlan: 100, network: green}", `torSwitches[tor1].bindings[0].network: "green"`},
		{"ToR binding VLAN reused on a port", "{port: p2, vlan: 0, network: red}", "{port: p1, vlan: 100, network: red}", "torSwitches[tor1].bindings[1].vlan: port p1 VLAN 100 is already bound"},
		{"ToR managedBy names a node twice", "    replicationNode: gw1\n", "    replicationNode: gw1\n    managedBy: [gw2, gw1, gw2]\n", `torSwitches[tor1].managedBy[2]: "gw2" is already managedBy[0]`},
		{"ToR managedBy with an empty name", "    replicationNode: gw1\n", "    replicationNode: gw1\n    managedBy: [gw2, \"\"]\n", "torSwitches[tor1].managedBy[1]: empty"},
		{"ToR managedBy name with a comma", "    replicationNode: gw1\n", "    replicationNode: gw1\n    managedBy: \"gw1,gw2\"\n", `torSwitches[tor1].managedBy[0]: "gw1,gw2": a node name has no comma`},
		{"ToR binding VLAN out of range", "{port: p1, vlan: 100, network: blue}", "{port: p1, vlan: 4095, network: blue}", "torSwitches[tor1].bindings[0].vlan: 4095 is out of range"},
		{"physical interface name too long", "name: eth1\n        logicalInterfaces:\n          - name: eth1-100\n            vlan: 100\n            type", "name: eth1-far-too-long-name\n        logicalInterfaces:\n          - name: eth1-100\n            vlan: 100\n            type", "longer than 15 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validYAML, tc.old) {
				t.Fatalf("test bug: %q not in the base config", tc.old)
			}
			c, err := Parse([]byte(strings.Replace(validYAML, tc.old, tc.new, 1)))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = c.Validate()
			errs, ok := err.(Errors)
			if !ok || len(errs) != 1 {
				t.Fatalf("want exactly one error containing %q, got %v", tc.want, err)
			}
			if !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", errs[0].Error(), tc.want)
			}
		})
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(validYAML, "vni: 5002", "vni: 5002\n    colour: red", 1)))
	if err == nil || !strings.Contains(err.Error(), "field colour not found") || !strings.Contains(err.Error(), "line") {
		t.Fatalf("want an unknown-field error with its line, got %v", err)
	}
}

func TestParseRejectsSecondDocument(t *testing.T) {
	if _, err := Parse([]byte(validYAML + "---\nvirtualNetworks: []\n")); err == nil {
		t.Fatal("a second YAML document was accepted")
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	bad := strings.NewReplacer("vni: 5002", "vni: 0", `"02:00:00:00:01:0b"`, `"zz"`, "type: l2", "type: l3").Replace(validYAML)
	c, err := Parse([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	errs, _ := c.Validate().(Errors)
	if len(errs) != 3 {
		t.Fatalf("want 3 errors, got %v", errs)
	}
}

func TestCapacity(t *testing.T) {
	c, _ := Parse([]byte(validYAML))
	x := NewIndex(c)
	if got := x.InterfacesUsed("gw1"); got != 4 {
		t.Fatalf("gw1 uses %d interfaces, want 4", got)
	}
	if err := x.CheckCapacity("gw1", 4); err != nil {
		t.Fatalf("exactly at the limit refused: %v", err)
	}
	err := x.CheckCapacity("gw1", 3)
	if err == nil || !strings.Contains(err.Error(), "2 remote instances need 4 interfaces") || !strings.Contains(err.Error(), "max_interfaces = 3") {
		t.Fatalf("over the limit: %v", err)
	}
	if x.InterfacesUsed("gw2") != 2 || x.InterfacesUsed("nosuch") != 0 {
		t.Fatal("per-node accounting is wrong")
	}
}

// haYAML is an HA group: gw1 and gw2 both serve bms1, and flood BPDUs through VN bpdu between
// their VLAN 0 logical interfaces, linked to the group's BPDU VMI.
const haYAML = `
virtualNetworks:
  - {name: blue, vni: 5001}
  - {name: bpdu, vni: 9000, floodBPDU: true}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-0, vlan: 0, vmi: stp-a}
          - {name: eth1-100, vlan: 100, vmi: bms1}
  - name: gw2
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-0, vlan: 0, vmi: stp-a}
          - {name: eth1-100, vlan: 100, vmi: bms1}
  - name: gw3
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-0, vlan: 0, vmi: stp-b}
          - {name: eth1-100, vlan: 100, vmi: bms3}
virtualMachineInterfaces:
  - {name: stp-a, network: bpdu, mac: "02:00:00:00:ff:01"}
  - {name: stp-b, network: bpdu, mac: "02:00:00:00:ff:02"}
  - {name: bms1, network: blue, mac: "02:00:00:00:01:0a"}
  - {name: bms3, network: blue, mac: "02:00:00:00:01:0c"}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01"}
`

func TestHAGroupValidation(t *testing.T) {
	c, err := Parse([]byte(haYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid HA config refused: %v", err)
	}
	x := NewIndex(c)
	if g := x.HAGroupOf("gw2"); g == nil || g.BPDUVMI != "stp-a" || strings.Join(g.Routers, ",") != "gw1,gw2" {
		t.Fatalf("HA group of gw2: %+v", g)
	}
	if g := x.HAGroupOf("gw3"); g != nil {
		t.Fatalf("gw3 serves bms3 alone, yet is in group %+v", g)
	}
	cases := []struct{ name, old, new, want string }{
		{"gateway of a group without a VLAN 0 interface",
			"          - {name: eth1-0, vlan: 0, vmi: stp-a}\n          - {name: eth1-100, vlan: 100, vmi: bms1}\n  - name: gw3",
			"          - {name: eth1-100, vlan: 100, vmi: bms1}\n  - name: gw3",
			"physicalRouters[gw2].physicalInterfaces[eth1].logicalInterfaces: carries remote instances that gw1 also serve, but has no VLAN 0"},
		{"BPDU network with a tenant VMI", "{name: vm1, network: blue,", "{name: vm1, network: bpdu,",
			`virtualMachineInterfaces[vm1].network: "bpdu" is a floodBPDU network, which carries only BPDUs`},
		{"BPDU VMI on a tagged VLAN", "{name: eth1-100, vlan: 100, vmi: bms1}\n  - name: gw2", "{name: eth1-100, vlan: 100, vmi: bms1}\n          - {name: eth1-7, vlan: 7, vmi: stp-b}\n  - name: gw2",
			"logical interface eth1-7 of gw1/eth1 links this VMI on VLAN 7"},
		// One port per gateway in its group's spanning tree (what the RSTP handshake serves): a
		// second physical interface would need the BPDU VMI twice on one node.
		{"a gateway in its HA group through two physical interfaces",
			"          - {name: eth1-100, vlan: 100, vmi: bms1}\n  - name: gw2",
			"          - {name: eth1-100, vlan: 100, vmi: bms1}\n      - name: eth2\n        logicalInterfaces:\n          - {name: eth2-0, vlan: 0, vmi: stp-a}\n  - name: gw2",
			`physicalRouters[gw1].physicalInterfaces[eth2].logicalInterfaces[eth2-0].vmi: "stp-a" is already linked to physicalRouters[gw1].physicalInterfaces[eth1].logicalInterfaces[eth1-0] on this node`},
		{"two HA groups sharing a BPDU VMI", "{name: eth1-0, vlan: 0, vmi: stp-b}", "{name: eth1-0, vlan: 0, vmi: stp-a}",
			`physicalRouters[gw3].physicalInterfaces[eth1].logicalInterfaces[eth1-0].vmi: BPDU VMI "stp-a" already serves the HA group of gw1, gw2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(haYAML, tc.old) {
				t.Fatalf("test bug: %q not in haYAML", tc.old)
			}
			c, err := Parse([]byte(strings.Replace(haYAML, tc.old, tc.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

// Names are printable and of sane length: a name with a control character (a terminal escape
// in `ovsgw status`, a newline in a log line) or of megabytes was accepted and went into logs,
// OVSDB rows and flow annotations.
func TestNamesMustBePrintableAndShort(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"blue\x1b[2J", `virtualNetworks[#0].name: "blue\x1b[2J" contains a character that does not print (U+001B at byte 4)`},
		{"red\u200b", `contains a character that does not print (U+200B at byte 3)`},
		{"bad\xff", `"bad\xff" is not valid UTF-8`},
		{strings.Repeat("n", 129), "is 129 bytes long, more than 128"},
	} {
		c := &Config{VirtualNetworks: []VirtualNetwork{{Name: tc.name, VNI: 5001}}}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("name %q: error %v, want %q", tc.name, err, tc.want)
		}
	}
	ok := &Config{VirtualNetworks: []VirtualNetwork{{Name: "réseau-" + strings.Repeat("b", 120), VNI: 5001}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("a printable name of 128 bytes: %v", err)
	}
}

// managedBy is one node name, as before lists existed, or a list; one name reads and writes back
// as one name; anything else is refused with its line.
func TestManagedByOneOrMany(t *testing.T) {
	base := "torSwitches:\n  - {name: tor1, endpoint: \"tcp:192.0.2.1:6640\", replicationNode: gw3, managedBy: X}\n"
	for _, tc := range []struct {
		managedBy string
		want      []string // Managers()
	}{
		{"gw1", []string{"gw1", "gw3"}},
		{"[gw1, gw2]", []string{"gw1", "gw2", "gw3"}},
		{"[gw3, gw1]", []string{"gw3", "gw1"}},
	} {
		c, err := Parse([]byte(strings.Replace(base, "X", tc.managedBy, 1)))
		if err != nil {
			t.Fatalf("%s: %v", tc.managedBy, err)
		}
		if got := c.TorSwitches[0].Managers(); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("managedBy %s: managers %v, want %v", tc.managedBy, got, tc.want)
		}
	}
	c, _ := Parse([]byte(strings.Replace(base, "X", "gw1", 1)))
	out, err := yaml.Marshal(c.TorSwitches[0])
	if err != nil || !strings.Contains(string(out), "managedBy: gw1\n") {
		t.Errorf("one name written back as %q (%v)", out, err)
	}
	_, err = Parse([]byte(strings.Replace(base, "X", "{node: gw1}", 1)))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "node name") {
		t.Errorf("a mapping as managedBy: %v, want an error naming line 2", err)
	}
}
