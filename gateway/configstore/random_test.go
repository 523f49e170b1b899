package configstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// randomSteps is how many configs TestIncrementalConfigMatchesOracle applies
// in a row: each step re-rolls a few of a few hundred dials, so that every
// kind of object is added, changed and removed many times over.
const randomSteps = 150

// configDials describe a config by small numbers, each a choice about one
// object (present or not, which network, which VLAN, ...); build makes a
// valid config of any setting, dropping references to absent objects.
// Re-rolling a few dials is a small edit of the config.
type configDials map[string]int

// The objects the dials choose from.
var (
	dialVNs      = []string{"vnA", "vnB", "vnC", "vnD"}
	dialVMIs     = 14
	dialRouters  = []string{"gw1", "gw2"}
	dialNICs     = []string{"eth1", "eth2", "eth3"}
	dialGroups   = []string{"sgA", "sgB", "sgC"}
	dialPolicies = []string{"npA", "npB"}
	dialSwitches = []string{"tor1", "tor2"}
	dialSubnets  = []string{"10.200.0.0/16", "fd00::/64", "192.168.0.0/24"}
	dialSGRules  = []model.SecurityGroupRule{
		{Direction: model.DirectionIngress, Protocol: "tcp", Ports: "80-81", RemoteCIDR: "0.0.0.0/0"},
		{Direction: model.DirectionEgress},
		{Direction: model.DirectionIngress, Ethertype: model.EthertypeIPv6, Protocol: "icmpv6", RemoteCIDR: "::/0"},
		{Direction: model.DirectionIngress, Protocol: "udp", Ports: "53"},
	}
	dialNPRules = []model.PolicyRule{
		{Action: model.ActionPass},
		{Action: model.ActionDeny, Protocol: "tcp", DestinationPorts: "22", Direction: model.BothWays},
		{Action: model.ActionPass, Protocol: "udp", Source: model.Endpoint{CIDR: "192.168.0.0/16"}},
	}
	dialPairs = []model.AddressPair{{IP: "10.250.0.0/24"}, {IP: "10.251.0.1/32", MAC: "02:00:00:00:09:09"}}
)

// dialRange is how many values each kind of dial takes.
func dialRange(name string) int {
	switch lastField(name) {
	case "present", "mac", "flood":
		return 2
	case "ps", "ssl": // ssl: none, files, files and a pinned name
		return 3
	case "net", "vlan", "ips":
		return 4
	default: // subsets and orders
		return 16
	}
}

func lastField(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == ':' {
			return name[i+1:]
		}
	}
	return name
}

// dialNames lists every dial.
func dialNames() []string {
	var out []string
	for _, vn := range dialVNs {
		out = append(out, "vn:"+vn+":present", "vn:"+vn+":subnets", "vn:"+vn+":policies", "vn:"+vn+":flood", "vn:"+vn+":options")
	}
	for i := range dialVMIs {
		v := fmt.Sprintf("vmi:vm%d:", i)
		out = append(out, v+"present", v+"net", v+"mac", v+"ips", v+"groups", v+"ps", v+"pairs", v+"link", v+"vlan")
	}
	for _, r := range dialRouters {
		out = append(out, "pr:"+r+":present")
		for _, n := range dialNICs {
			out = append(out, "pi:"+r+"/"+n+":present")
		}
	}
	for _, g := range dialGroups {
		out = append(out, "sg:"+g+":present", "sg:"+g+":rules")
	}
	for _, p := range dialPolicies {
		out = append(out, "np:"+p+":present", "np:"+p+":rules")
	}
	for _, s := range dialSwitches {
		out = append(out, "tor:"+s+":present", "tor:"+s+":bindings", "tor:"+s+":ssl", "tor:"+s+":mgr")
	}
	out = append(out, "lr:r1:present", "lr:r1:networks")
	return out
}

// reroll sets n dials at random, each of a kind of object picked first, so
// that kinds with few dials change as often as VMIs do.
func (d configDials) reroll(rng *rand.Rand, names []string, n int) {
	byKind := map[string][]string{}
	var kinds []string
	for _, name := range names {
		kind := name[:strings.Index(name, ":")]
		if byKind[kind] == nil {
			kinds = append(kinds, kind)
		}
		byKind[kind] = append(byKind[kind], name)
	}
	for range n {
		list := byKind[kinds[rng.IntN(len(kinds))]]
		name := list[rng.IntN(len(list))]
		d[name] = rng.IntN(dialRange(name))
		if strings.HasSuffix(name, ":present") && rng.IntN(3) > 0 { // mostly there: richer configs
			d[name] = 1
		}
	}
}

// subset picks the elements of list whose bit is set in mask, in an order
// that also depends on mask.
func subset[T any](list []T, mask int) []T {
	var out []T
	for i, x := range list {
		if mask&(1<<i) != 0 {
			out = append(out, x)
		}
	}
	if mask&8 != 0 && len(out) > 1 { // another order
		out[0], out[len(out)-1] = out[len(out)-1], out[0]
	}
	return out
}

// build makes the config the dials describe.
func (d configDials) build() *model.Config {
	c := &model.Config{}
	on := func(name string) bool { return d[name+":present"] == 1 }
	var groups, policies []string
	for _, g := range dialGroups {
		if on("sg:" + g) {
			groups = append(groups, g)
			c.SecurityGroups = append(c.SecurityGroups, model.SecurityGroup{Name: g, Rules: subset(dialSGRules, d["sg:"+g+":rules"])})
		}
	}
	for _, p := range dialPolicies {
		if on("np:" + p) {
			policies = append(policies, p)
			c.NetworkPolicies = append(c.NetworkPolicies, model.NetworkPolicy{Name: p, Rules: subset(dialNPRules, d["np:"+p+":rules"])})
		}
	}
	var vns []string // networks a VMI may join: not BPDU ones
	for i, vn := range dialVNs {
		if !on("vn:" + vn) {
			continue
		}
		flood := d["vn:"+vn+":flood"] == 1 && i == len(dialVNs)-1 // only the last, which no VMI joins
		subnets := model.SubnetsOf(append(subset(dialSubnets, d["vn:"+vn+":subnets"]), "10.0.0.0/8")...)
		if opt := d["vn:"+vn+":options"] % 3; opt > 0 { // the last subnet with options
			off := opt == 2
			s := &subnets[len(subnets)-1]
			s.Gateway, s.DNSServers, s.DomainName, s.DHCP = "10.0.0.254", []string{"10.0.0.53", "10.0.0.54"}, vn+".example", &off
			if off {
				s.Gateway = model.NoGateway
			}
		}
		c.VirtualNetworks = append(c.VirtualNetworks, model.VirtualNetwork{Name: vn, VNI: uint32(5000 + i),
			Subnets: subnets, FloodBPDU: flood, NetworkPolicies: subset(policies, d["vn:"+vn+":policies"])})
		if i < len(dialVNs)-1 {
			vns = append(vns, vn)
		}
	}
	type nic struct{ router, name string }
	var nics []nic
	for _, r := range dialRouters {
		if !on("pr:" + r) {
			continue
		}
		pr := model.PhysicalRouter{Name: r}
		for _, n := range dialNICs {
			if on("pi:" + r + "/" + n) {
				pr.PhysicalInterfaces = append(pr.PhysicalInterfaces, model.PhysicalInterface{Name: n})
				nics = append(nics, nic{r, n})
			}
		}
		c.PhysicalRouters = append(c.PhysicalRouters, pr)
	}
	for i := range dialVMIs {
		name := fmt.Sprintf("vm%d", i)
		v := fmt.Sprintf("vmi:%s:", name)
		if d[v+"present"] == 0 || len(vns) == 0 {
			continue
		}
		vmi := model.VirtualMachineInterface{Name: name, Network: vns[d[v+"net"]%len(vns)],
			MAC:            fmt.Sprintf("02:00:00:00:%02x:%02x", d[v+"mac"], i),
			SecurityGroups: subset(groups, d[v+"groups"]), AllowedAddressPairs: subset(dialPairs, d[v+"pairs"])}
		for k := range d[v+"ips"] {
			mode := ""
			if k == 1 {
				mode = model.ModeActiveBackup
			}
			vmi.InstanceIPs = append(vmi.InstanceIPs, model.InstanceIP{Address: fmt.Sprintf("10.%d.0.%d", i, k+1), Mode: mode})
		}
		if ps := d[v+"ps"]; ps > 0 {
			on := ps == 1
			vmi.PortSecurity = &on
		}
		c.VirtualMachineInterfaces = append(c.VirtualMachineInterfaces, vmi)
		if link := d[v+"link"] % (len(nics) + 1); link > 0 { // one logical interface at most: no HA group
			at := nics[link-1]
			vlan := 10*i + d[v+"vlan"] // unique per VMI, so per interface
			for p := range c.PhysicalRouters {
				pr := &c.PhysicalRouters[p]
				for q := range pr.PhysicalInterfaces {
					if pr.Name == at.router && pr.PhysicalInterfaces[q].Name == at.name {
						typ := ""
						if vlan%2 == 0 {
							typ = model.TypeL2
						}
						pi := &pr.PhysicalInterfaces[q]
						pi.LogicalInterfaces = append(pi.LogicalInterfaces, model.LogicalInterface{
							Name: fmt.Sprintf("%s-%d", at.name, vlan), VLAN: &vlan, Type: typ, VMI: name})
					}
				}
			}
		}
	}
	for i, s := range dialSwitches {
		if !on("tor:" + s) {
			continue
		}
		sw := model.TorSwitch{Name: s, Endpoint: fmt.Sprintf("tcp:192.0.2.%d:6640", 10+i), ReplicationNode: "gw1"}
		if d["tor:"+s+":ssl"] == 1 {
			sw.Endpoint = fmt.Sprintf("ssl:192.0.2.%d:6640", 10+i)
			sw.SSL = &model.TorSSL{PrivateKey: "/k.pem", Certificate: "/c.pem", CACert: "/ca.pem"}
		}
		if d["tor:"+s+":ssl"] == 2 {
			sw.Endpoint = fmt.Sprintf("ssl:192.0.2.%d:6640", 10+i)
			sw.SSL = &model.TorSSL{PrivateKey: "/k.pem", Certificate: "/c.pem", CACert: "/ca.pem", PeerCommonName: s}
		}
		switch d["tor:"+s+":mgr"] % 3 {
		case 1:
			sw.ManagedBy = model.NodeList{"gw2"}
		case 2:
			sw.ManagedBy = model.NodeList{"gw2", "gw3"}
		}
		if len(vns) > 0 {
			mask := d["tor:"+s+":bindings"]
			for k, port := range []string{"Ethernet1/1", "p2", "p3"} {
				if mask&(1<<k) != 0 {
					vlan := (mask + k) % 3 * 100
					sw.Bindings = append(sw.Bindings, model.TorBinding{Port: port, VLAN: &vlan, Network: vns[(mask+k)%len(vns)]})
				}
			}
		}
		c.TorSwitches = append(c.TorSwitches, sw)
	}
	if on("lr:r1") && len(vns) > 0 { // one VN: every VN has 10.0.0.0/8, so two would overlap
		c.LogicalRouters = []model.LogicalRouter{{Name: "r1", Networks: []string{vns[d["lr:r1:networks"]%len(vns)]}}}
	}
	return c
}

// The oracle test: after every step of a random walk of configs, applied by
// one client and followed by another, each client's incremental Config
// equals the config applied and a fresh full read and conversion of the
// reader's cache; meanwhile the state tables change too, which must leave
// the config alone. Against a real ovsdb-server, whose update messages the
// reader's cache applies as production does. The writer is a ConfigOnly
// client, as ovsgw db apply's: it reads by select, without a cache.
func TestIncrementalConfigMatchesOracle(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	srv := newStandalone(t)
	writer, reader := connectTo(t, []string{srv.Endpoint}, configdb.ConfigOnly()), connectTo(t, []string{srv.Endpoint})
	ctx := context.Background()
	names := dialNames()
	dials := configDials{}
	for _, name := range names { // start with everything set at random
		d := configDials{}
		d.reroll(rng, []string{name}, 1)
		dials[name] = d[name]
	}
	kinds := map[string]int{} // objects seen added, removed or changed, by kind
	for step := range randomSteps {
		if step > 0 {
			dials.reroll(rng, names, 1+rng.IntN(4))
		}
		want := dials.build()
		if err := want.Validate(); err != nil {
			t.Fatalf("step %d: the generator made an invalid config: %v", step, err)
		}
		sum, err := writer.Apply(ctx, want, false)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, l := range [][]configdb.Change{sum.Added, sum.Removed, sum.Changed} {
			for _, ch := range l {
				kinds[string(ch.Kind)]++
			}
		}
		if rng.IntN(3) == 0 { // state moves too; the config must not
			vmi := fmt.Sprintf("vm%d", rng.IntN(dialVMIs))
			if err := reader.PublishBindings(ctx, "gw1", []configdb.BindingState{{VMI: vmi, Kind: configdb.BindingLocal, Port: "p-" + vmi, Role: configdb.RoleActive}}); err != nil {
				t.Fatal(err)
			}
			if err := reader.PublishNode(ctx, configdb.NodeState{Hostname: "gw1", InterfacesUsed: step}); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, "the reader sees the generation", func() bool { g, _ := reader.Generation(); return g == sum.Generation })
		Normalize(want)
		oracle := oracleConfig(t, reader)
		for _, c := range []struct {
			name string
			*testClient
		}{{"writer", writer}, {"reader", reader}} {
			got, gen, err := c.ConfigWithGeneration()
			if err != nil {
				t.Fatal(err)
			}
			if gen != sum.Generation {
				t.Fatalf("step %d: %s's generation %d, want %d", step, c.name, gen, sum.Generation)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d (seed %d): %s's Config differs from the config applied:\n%s", step, seed, c.name, diffJSON(got, want))
			}
			if !reflect.DeepEqual(got, oracle) {
				t.Fatalf("step %d (seed %d): %s's Config differs from the oracle:\n%s", step, seed, c.name, diffJSON(got, oracle))
			}
		}
	}
	for _, k := range []configdb.Kind{configdb.KindVirtualNetwork, configdb.KindPhysicalRouter, configdb.KindPhysicalInterface,
		configdb.KindLogicalInterface, configdb.KindVirtualMachineInterface, configdb.KindSecurityGroup,
		configdb.KindNetworkPolicy, configdb.KindTorSwitch} {
		if kinds[string(k)] < 3 {
			t.Errorf("the walk added, removed or changed only %d %s objects: widen it", kinds[string(k)], k)
		}
	}
	t.Logf("objects added, removed or changed by kind: %v", kinds)
}

// diffJSON shows two configs side by side, as indented JSON lines that differ.
func diffJSON(got, want *model.Config) string {
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	gl, wl := splitLines(string(g)), splitLines(string(w))
	var out []string
	for i := range max(len(gl), len(wl)) {
		a, b := at(gl, i), at(wl, i)
		if a != b {
			out = append(out, fmt.Sprintf("line %d: got %q want %q", i+1, a, b))
		}
		if len(out) > 10 {
			break
		}
	}
	return fmt.Sprintf("%s\ngot:\n%s", slices.Clone(out), g)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return ""
}
