package pipeline

import (
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// world is a random node and its surroundings that the property test edits step by step.
type world struct {
	r     *rand.Rand
	cfg   *model.Config
	in    Input
	ports map[string]Port
}

const (
	worldVNs   = 5
	worldVMIs  = 24
	worldNICs  = 2
	worldNodes = 3
	worldTors  = 2
)

func newWorld(seed int64) *world {
	w := &world{r: rand.New(rand.NewSource(seed)), ports: map[string]Port{}}
	c := &model.Config{}
	// VN k has 10.k.0.0/16 and 2001:db8:k::/64 (their gateways the first addresses, by
	// default); vn0 and vn1 are on router r1, vn3 on r2.
	for i := 0; i < worldVNs; i++ {
		c.VirtualNetworks = append(c.VirtualNetworks, model.VirtualNetwork{Name: fmt.Sprintf("vn%d", i), VNI: uint32(5000 + i),
			Subnets: model.SubnetsOf(fmt.Sprintf("10.%d.0.0/16", i), fmt.Sprintf("2001:db8:%d::/64", i))})
	}
	c.LogicalRouters = []model.LogicalRouter{{Name: "r1", Networks: []string{"vn0", "vn1"}}, {Name: "r2", Networks: []string{"vn3"}}}
	c.SecurityGroups = []model.SecurityGroup{
		{Name: "web", Rules: []model.SecurityGroupRule{{Direction: "ingress", Protocol: "tcp", Ports: "80-81"}, {Direction: "ingress", Protocol: "icmp", RemoteGroup: "web"}}},
		{Name: "db", Rules: []model.SecurityGroupRule{{Direction: "ingress", Protocol: "tcp", Ports: "5432", RemoteGroup: "web"}, {Direction: "egress"}}},
		{Name: "any", Rules: []model.SecurityGroupRule{{Direction: "egress"}, {Direction: "ingress", Ethertype: "IPv6", Protocol: "udp", RemoteGroup: "db"}}},
	}
	c.NetworkPolicies = []model.NetworkPolicy{
		{Name: "no-ssh", Rules: []model.PolicyRule{{Action: "deny", Protocol: "tcp", DestinationPorts: "22", Direction: "<>"}}},
		{Name: "dns", Rules: []model.PolicyRule{{Action: "pass", Protocol: "udp", DestinationPorts: "53"}, {Action: "deny", Protocol: "udp"}}},
		{Name: "routed", Rules: []model.PolicyRule{{Action: "deny", Protocol: "tcp", Destination: model.Endpoint{Network: "vn1"}},
			{Action: "pass", Source: model.Endpoint{Network: "vn0"}, Destination: model.Endpoint{Network: "vn3"}, Direction: "<>"},
			{Action: "deny", Destination: model.Endpoint{Network: "vn0"}}}},
	}
	pr := model.PhysicalRouter{Name: "gw1"}
	for n := 0; n < worldNICs; n++ {
		pr.PhysicalInterfaces = append(pr.PhysicalInterfaces, model.PhysicalInterface{Name: fmt.Sprintf("eth%d", n+1)})
		w.ports[fmt.Sprintf("eth%d", n+1)] = Port{Name: fmt.Sprintf("eth%d", n+1), OFPort: int32(n + 1)}
	}
	c.PhysicalRouters = []model.PhysicalRouter{pr}
	w.cfg = c
	for i := 0; i < worldVMIs; i++ {
		w.addVMI(i)
	}
	w.in = Input{Host: "gw1", GatewayMode: true, TunnelPort: 50}
	return w
}

func (w *world) pick(list []string) string { return list[w.r.Intn(len(list))] }

// addresses gives VMI number i instance IPs in VN k: an IPv4 one, and an IPv6 one a third of the
// time. The IPv4 one of VMI 0 in its third of the draws is the VN's default gateway address.
func (w *world) addresses(k, i int) []model.InstanceIP {
	out := []model.InstanceIP{{Address: fmt.Sprintf("10.%d.%d.%d", k, 4*(i/250)+w.r.Intn(4), 1+i%250)}}
	if w.r.Intn(3) == 0 {
		out = append(out, model.InstanceIP{Address: fmt.Sprintf("2001:db8:%d::%x", k, i+1)})
	}
	return out
}

// vnIndex is k of VN vnk.
func vnIndex(name string) int {
	var k int
	fmt.Sscanf(name, "vn%d", &k)
	return k
}

func (w *world) addVMI(i int) {
	k := w.r.Intn(worldVNs)
	v := model.VirtualMachineInterface{Name: fmt.Sprintf("v%02d", i), Network: fmt.Sprintf("vn%d", k),
		MAC: fmt.Sprintf("02:00:00:%02x:%02x:%02x", i>>8, w.r.Intn(4), i&0xff), InstanceIPs: w.addresses(k, i)}
	for _, g := range []string{"web", "db", "any"} {
		if w.r.Intn(3) == 0 {
			v.SecurityGroups = append(v.SecurityGroups, g)
		}
	}
	if w.r.Intn(5) == 0 {
		v.AllowedAddressPairs = []model.AddressPair{{IP: fmt.Sprintf("10.9.%d.%d", i/250, 1+i%250)}}
	}
	w.cfg.VirtualMachineInterfaces = append(w.cfg.VirtualMachineInterfaces, v)
	switch w.r.Intn(3) {
	case 0: // a remote instance on this gateway
		w.addLI(v.Name)
	case 1: // a local VM, plugged here
		w.ports["tap-"+v.Name] = Port{Name: "tap-" + v.Name, OFPort: int32(100 + i), IfaceID: v.Name}
	}
}

func (w *world) addLI(vmi string) {
	pis := w.cfg.PhysicalRouters[0].PhysicalInterfaces
	pi := &pis[w.r.Intn(len(pis))]
	vlan := 1 + w.r.Intn(40)
	for w.vlanUsed(pi, vlan) {
		vlan++
	}
	pi.LogicalInterfaces = append(pi.LogicalInterfaces, model.LogicalInterface{Name: fmt.Sprintf("%s-li%d", vmi, vlan), VLAN: &vlan, VMI: vmi})
}

// edit makes one random change of any kind the engine has a handler for.
func (w *world) edit() string {
	c := w.cfg
	vmis := c.VirtualMachineInterfaces
	vi := w.r.Intn(len(vmis))
	v := &vmis[vi]
	switch w.r.Intn(23) { // cases 0..21, and the default
	case 0:
		v.MAC = fmt.Sprintf("02:00:00:01:%02x:%02x", w.r.Intn(256), vi)
		return "vmi mac " + v.Name
	case 1:
		v.InstanceIPs = w.addresses(vnIndex(v.Network), vi)
		return "vmi address " + v.Name
	case 2: // to another VN (of the same router, or not), with addresses there
		k := w.r.Intn(worldVNs)
		v.Network, v.InstanceIPs = fmt.Sprintf("vn%d", k), w.addresses(k, vi)
		return "vmi network " + v.Name
	case 3:
		g := w.pick([]string{"web", "db", "any"})
		if contains(v.SecurityGroups, g) {
			var keep []string
			for _, x := range v.SecurityGroups {
				if x != g {
					keep = append(keep, x)
				}
			}
			v.SecurityGroups = keep
		} else {
			v.SecurityGroups = append(v.SecurityGroups, g)
		}
		return "vmi groups " + v.Name
	case 4:
		c.VirtualMachineInterfaces = append(vmis[:vi:vi], vmis[vi+1:]...)
		w.unlink(v.Name)
		return "vmi removed " + v.Name
	case 5:
		w.addVMI(len(vmis) + w.r.Intn(1000))
		return "vmi added"
	case 6:
		if !w.unlink(v.Name) {
			w.addLI(v.Name)
			return "li added " + v.Name
		}
		return "li removed " + v.Name
	case 7:
		for p := range c.PhysicalRouters[0].PhysicalInterfaces {
			pi := &c.PhysicalRouters[0].PhysicalInterfaces[p]
			for l := range pi.LogicalInterfaces {
				vlan := 1 + w.r.Intn(60)
				if w.r.Intn(len(pi.LogicalInterfaces)) == 0 {
					pi.LogicalInterfaces[l].VLAN = &vlan
					return "li vlan " + pi.LogicalInterfaces[l].VMI
				}
			}
		}
		return "no li to move"
	case 8:
		g := &c.SecurityGroups[w.r.Intn(len(c.SecurityGroups))]
		g.Rules = append(g.Rules, model.SecurityGroupRule{Direction: w.pick([]string{"ingress", "egress"}), Protocol: "udp",
			Ports: fmt.Sprint(1000 + w.r.Intn(100)), RemoteGroup: w.pick([]string{"", "web", "db"})})
		return "sg rule " + g.Name
	case 9:
		p := &c.NetworkPolicies[w.r.Intn(len(c.NetworkPolicies))]
		p.Rules[0].DestinationPorts = fmt.Sprint(20 + w.r.Intn(10))
		return "policy rule " + p.Name
	case 10:
		vn := &c.VirtualNetworks[w.r.Intn(len(c.VirtualNetworks))]
		if len(vn.NetworkPolicies) > 0 {
			vn.NetworkPolicies = nil
		} else {
			vn.NetworkPolicies = []string{w.pick([]string{"no-ssh", "dns", "routed"})}
		}
		return "vn policies " + vn.Name
	case 17: // a VN joins a router, or leaves its own
		vn := w.pick([]string{"vn0", "vn1", "vn2", "vn3", "vn4"})
		for r := range c.LogicalRouters {
			lr := &c.LogicalRouters[r]
			if i := slices.Index(lr.Networks, vn); i >= 0 {
				lr.Networks = slices.Delete(slices.Clone(lr.Networks), i, i+1)
				return "router leave " + vn
			}
		}
		lr := &c.LogicalRouters[w.r.Intn(len(c.LogicalRouters))]
		lr.Networks = append(slices.Clone(lr.Networks), vn)
		return "router join " + vn + " " + lr.Name
	case 18: // a subnet's gateway: the default, another address, or none
		vn := &c.VirtualNetworks[w.r.Intn(len(c.VirtualNetworks))]
		j := w.r.Intn(len(vn.Subnets))
		p, _ := vn.Subnets[j].Prefix()
		vn.Subnets[j].Gateway = w.pick([]string{"", model.NoGateway, p.Addr().Next().Next().String()})
		return "gateway " + vn.Name
	case 19: // a VMI takes its subnet's default gateway address, or gives it up
		k := vnIndex(v.Network)
		gw := fmt.Sprintf("10.%d.0.1", k)
		if v.InstanceIPs[0].Address == gw {
			v.InstanceIPs = w.addresses(k, vi)
			return "vmi leaves the gateway address " + v.Name
		}
		v.InstanceIPs = append([]model.InstanceIP{{Address: gw}}, v.InstanceIPs[1:]...)
		return "vmi takes the gateway address " + v.Name
	case 20: // a VN's VNI: on a router, its zone is the router's lowest
		vn := &c.VirtualNetworks[w.r.Intn(len(c.VirtualNetworks))]
		k := vnIndex(vn.Name)
		vn.VNI = uint32(5000 + k + 10*w.r.Intn(3))
		return "vni " + vn.Name
	case 21: // a VN gains or loses a subnet (another VN of its router routes to it)
		vn := &c.VirtualNetworks[w.r.Intn(len(c.VirtualNetworks))]
		if len(vn.Subnets) > 2 {
			vn.Subnets = vn.Subnets[:2]
		} else {
			vn.Subnets = append(slices.Clone(vn.Subnets), model.Subnet{CIDR: fmt.Sprintf("10.%d.0.0/24", 50+vnIndex(vn.Name))})
		}
		return "subnets " + vn.Name
	case 11: // a port vanishes, appears or is renumbered
		name := w.pick(append(w.portNames(), "eth1", "eth2"))
		p, ok := w.ports[name]
		switch {
		case !ok:
			w.ports[name] = Port{Name: name, OFPort: int32(1 + w.r.Intn(2))}
		case w.r.Intn(2) == 0:
			delete(w.ports, name)
		default:
			p.OFPort = int32(w.r.Intn(300) - 1)
			w.ports[name] = p
		}
		return "port " + name
	case 12: // a local VM plugged or unplugged
		name := "tap-" + v.Name
		if _, ok := w.ports[name]; ok {
			delete(w.ports, name)
		} else {
			w.ports[name] = Port{Name: name, OFPort: int32(200 + vi), IfaceID: v.Name}
		}
		return "plug " + v.Name
	case 13: // a peer joins or leaves
		node := fmt.Sprintf("node%d", w.r.Intn(worldNodes))
		for i, p := range w.in.Peers {
			if p.VMI == v.Name && p.Node == node {
				w.in.Peers = append(w.in.Peers[:i:i], w.in.Peers[i+1:]...)
				return "peer left " + v.Name
			}
		}
		w.in.Peers = append(w.in.Peers, Peer{VMI: v.Name, Node: node, TunnelIP: netip.AddrFrom4([4]byte{192, 168, 0, byte(10 + w.r.Intn(worldNodes))})})
		return "peer joined " + v.Name
	case 14: // a ToR switch learns or forgets a MAC, or changes its VNs
		if len(w.in.Tors) == 0 {
			for i := 0; i < worldTors; i++ {
				w.in.Tors = append(w.in.Tors, Tor{Name: fmt.Sprintf("tor%d", i), TunnelIP: netip.AddrFrom4([4]byte{192, 168, 1, byte(i + 1)}),
					Replicator: i == 0, ReplicationIP: netip.MustParseAddr("192.168.0.10"), VNIs: []uint32{5000, uint32(5001 + i)}})
			}
			return "tors"
		}
		tors := append([]Tor(nil), w.in.Tors...)
		t := &tors[w.r.Intn(len(tors))]
		mac := net.HardwareAddr{2, 0, 9, 0, byte(w.r.Intn(256)), byte(len(t.MACs))}
		if w.r.Intn(3) == 0 { // a server claiming a VMI's MAC: ignored while the VMI has it
			mac, _ = net.ParseMAC(v.MAC)
		}
		t.MACs = append(append([]TorMAC(nil), t.MACs...), TorMAC{VNI: uint32(5000 + w.r.Intn(worldVNs)), MAC: mac})
		if w.r.Intn(3) == 0 {
			t.VNIs = []uint32{uint32(5000 + w.r.Intn(worldVNs))}
		}
		w.in.Tors = tors
		return "tor " + t.Name
	case 15: // HA role of a gateway port
		st := map[string]bool{}
		if len(w.in.Standby) == 0 {
			st["eth1"] = true
		}
		w.in.Standby = st
		return "standby"
	case 16: // a peer's node goes stale or comes back, or its binding takes its role anew
		if len(w.in.Peers) == 0 {
			return "no peer"
		}
		peers := slices.Clone(w.in.Peers)
		p := &peers[w.r.Intn(len(peers))]
		w.in.Peers = peers
		if w.r.Intn(2) == 0 {
			p.Stale = !p.Stale
			return fmt.Sprintf("peer %s on %s stale %v", p.VMI, p.Node, p.Stale)
		}
		p.Since = int64(w.r.Intn(5))
		return fmt.Sprintf("peer %s on %s since %d", p.VMI, p.Node, p.Since)
	default:
		if w.r.Intn(4) == 0 {
			if w.in.TunnelPort > 0 {
				w.in.TunnelPort = 0
			} else {
				w.in.TunnelPort = 50
			}
			return "tunnel port"
		}
		return "nothing"
	}
}

func (w *world) vlanUsed(pi *model.PhysicalInterface, vlan int) bool {
	for _, li := range pi.LogicalInterfaces {
		if li.VLANID() == uint16(vlan) {
			return true
		}
	}
	return false
}

// unlink removes the logical interface of a VMI; false when it had none.
func (w *world) unlink(vmi string) bool {
	for p := range w.cfg.PhysicalRouters[0].PhysicalInterfaces {
		pi := &w.cfg.PhysicalRouters[0].PhysicalInterfaces[p]
		for l, li := range pi.LogicalInterfaces {
			if li.VMI == vmi {
				pi.LogicalInterfaces = append(pi.LogicalInterfaces[:l:l], pi.LogicalInterfaces[l+1:]...)
				return true
			}
		}
	}
	return false
}

func (w *world) portNames() []string {
	var out []string
	for n := range w.ports {
		out = append(out, n)
	}
	return out
}

// input is the world as the compiler sees it, or nil when the config is invalid (the agent
// refuses such a config, and the engine never sees it).
func (w *world) input() *Input {
	if err := w.cfg.Validate(); err != nil {
		return nil
	}
	in := w.in
	in.Index = model.NewIndex(w.cfg)
	in.Ports = nil
	for _, p := range w.ports {
		in.Ports = append(in.Ports, p)
	}
	return &in
}

// clone copies the config deeply enough that later edits do not reach the engine's copy.
func clone(c *model.Config) *model.Config {
	out := &model.Config{NetworkPolicies: append([]model.NetworkPolicy(nil), c.NetworkPolicies...)}
	for _, vn := range c.VirtualNetworks {
		vn.NetworkPolicies = append([]string(nil), vn.NetworkPolicies...)
		vn.Subnets = append([]model.Subnet(nil), vn.Subnets...)
		out.VirtualNetworks = append(out.VirtualNetworks, vn)
	}
	for _, r := range c.LogicalRouters {
		r.Networks = append([]string(nil), r.Networks...)
		out.LogicalRouters = append(out.LogicalRouters, r)
	}
	for i := range out.NetworkPolicies {
		out.NetworkPolicies[i].Rules = append([]model.PolicyRule(nil), out.NetworkPolicies[i].Rules...)
	}
	for _, g := range c.SecurityGroups {
		g.Rules = append([]model.SecurityGroupRule(nil), g.Rules...)
		out.SecurityGroups = append(out.SecurityGroups, g)
	}
	for _, v := range c.VirtualMachineInterfaces {
		v.SecurityGroups = append([]string(nil), v.SecurityGroups...)
		v.InstanceIPs = append([]model.InstanceIP(nil), v.InstanceIPs...)
		out.VirtualMachineInterfaces = append(out.VirtualMachineInterfaces, v)
	}
	for _, pr := range c.PhysicalRouters {
		npr := model.PhysicalRouter{Name: pr.Name}
		for _, pi := range pr.PhysicalInterfaces {
			pi.LogicalInterfaces = append([]model.LogicalInterface(nil), pi.LogicalInterfaces...)
			npr.PhysicalInterfaces = append(npr.PhysicalInterfaces, pi)
		}
		out.PhysicalRouters = append(out.PhysicalRouters, npr)
	}
	return out
}

// TestIncrementalEqualsFullCompile is the engine's oracle: long random sequences of edits of
// every kind (VMIs, logical interfaces, groups, policies, VNs, ports, local VMs, peers, ToR
// switches, HA roles, the tunnel port; logical routers joined and left, subnets and their
// gateways, VMIs taking a default gateway's address, VNIs of routed VNs, VMIs moving between
// VNs of a router), and after each step the engine's incremental output
// must equal a full compile of the same input, flows, groups, bindings and notices alike; and
// an edit must recompile only a few units, not the node.
func TestIncrementalEqualsFullCompile(t *testing.T) {
	const seeds, steps = 8, 120
	for seed := int64(1); seed <= seeds; seed++ {
		w := newWorld(seed)
		e := NewEngine()
		table := openflow.NewFlowTable(OwnedCookie, OwnedGroup)
		var history []string
		partial, recompiled := 0, 0
		for step := 0; step < steps; step++ {
			what := "initial"
			if step > 0 {
				saved := clone(w.cfg)
				what = w.edit()
				if w.input() == nil {
					w.cfg = saved // refused: the config in force stays
					what += " (refused)"
				}
			}
			history = append(history, what)
			in := w.input()
			if in == nil {
				t.Fatalf("seed %d: the initial world is invalid: %v", seed, w.cfg.Validate())
			}
			in.Index = model.NewIndex(clone(w.cfg))
			n, all := e.Update(*in, table.SetUnit)
			if !all {
				partial++
				recompiled += n
			}
			if got, want := renderTable(table, e), renderOutput(Compile(*in)); got != want {
				t.Fatalf("seed %d step %d: incremental differs from full compile after %s\nhistory: %s\n%s",
					seed, step, what, strings.Join(history, "; "), lineDiff(want, got))
			}
			if got, want := fmt.Sprint(e.Meters()), fmt.Sprint(e.st.wantedMeters()); got != want {
				t.Fatalf("seed %d step %d: meters kept as units compile differ from the VMIs' after %s\nhistory: %s\n got %s\nwant %s",
					seed, step, what, strings.Join(history, "; "), got, want)
			}
		}
		if partial == 0 || recompiled/partial > worldVMIs/2 {
			t.Errorf("seed %d: %d incremental updates recompiled %d units: not incremental", seed, partial, recompiled)
		}
	}
}

// renderTable prints what an engine fed into a flow table: the table's desired flows and
// groups, and the engine's bindings and notices.
func renderTable(t *openflow.FlowTable, e *Engine) string {
	var b strings.Builder
	flows, groups := t.Desired()
	for _, f := range flows {
		fmt.Fprintln(&b, f)
	}
	for _, g := range groups {
		fmt.Fprintln(&b, g)
	}
	var dups []string
	for _, d := range t.Duplicates() {
		dups = append(dups, "duplicate "+d.Dropped)
	}
	sort.Strings(dups)
	for _, d := range dups {
		fmt.Fprintln(&b, d)
	}
	renderState(&b, e.Bindings(), e.Notices())
	return b.String()
}

// renderOutput prints a full compile the way renderTable prints an engine's.
func renderOutput(out *Output) string {
	var b strings.Builder
	var notices, dups []string
	for _, f := range out.Flows {
		fmt.Fprintln(&b, f.Flow)
	}
	for _, g := range out.Groups {
		fmt.Fprintln(&b, g.Group)
	}
	for _, n := range out.Notices {
		if _, dropped, ok := strings.Cut(n, ", dropped "); ok && strings.HasPrefix(n, "internal: conflicting flows") {
			dups = append(dups, "duplicate "+dropped)
			continue
		}
		notices = append(notices, n)
	}
	sort.Strings(dups)
	for _, d := range dups {
		fmt.Fprintln(&b, d)
	}
	renderState(&b, out.Bindings, notices)
	return b.String()
}

func renderState(b *strings.Builder, bindings []Binding, notices []string) {
	for _, bd := range bindings {
		fmt.Fprintf(b, "binding %+v\n", bd)
	}
	for _, n := range notices {
		fmt.Fprintf(b, "notice %s\n", n)
	}
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var b strings.Builder
	for l, n := range count {
		switch {
		case n > 0:
			fmt.Fprintf(&b, "- %s\n", l)
		case n < 0:
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// wantedMeters derives the meters from the VMIs, one by one (how Meters was computed before
// the engine kept them as units compile): the oracle of the meters.
func (s *state) wantedMeters() []openflow.Meter {
	c := &compiler{state: s, out: &unit{}}
	var out []openflow.Meter
	shared := false
	for _, b := range s.members {
		if id := s.meters[b.name]; id != 0 && len(c.punts(b)) > 0 {
			out = append(out, openflow.PacketRateMeter(id, VMIMeterRate, VMIMeterBurst))
		}
		shared = shared || b.bpdu
	}
	if len(out) == 0 && !shared {
		return nil
	}
	out = append(out, openflow.PacketRateMeter(SharedMeterID, SharedMeterRate, SharedMeterBurst))
	slices.SortFunc(out, func(a, b openflow.Meter) int { return int(a.ID) - int(b.ID) })
	return out
}
