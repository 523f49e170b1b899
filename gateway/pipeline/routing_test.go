package pipeline

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// The compiler's one-pass gateways are the model's: Index.Gateway of every subnet, over the
// random worlds of the property test (VMIs taking and leaving default gateway addresses,
// gateways given, none, or by default).
func TestGatewaysAreTheModels(t *testing.T) {
	checked, yielded := 0, 0
	for seed := int64(1); seed <= 4; seed++ {
		w := newWorld(seed)
		for step := 0; step < 150; step++ {
			saved := clone(w.cfg)
			w.edit()
			in := w.input()
			if in == nil {
				w.cfg = saved
				continue
			}
			got := gatewaysOf(in.Index)
			for i := range in.Index.Config.VirtualNetworks {
				vn := &in.Index.Config.VirtualNetworks[i]
				var want []netip.Addr
				for _, s := range vn.Subnets {
					if gw, ok := in.Index.Gateway(vn, s); ok {
						want = append(want, gw)
					} else if _, def := s.GatewayAddr(); def {
						yielded++
					}
				}
				if !slices.Equal(got[vn.Name], want) {
					t.Fatalf("seed %d step %d: %s: gateways %v, the model says %v", seed, step, vn.Name, got[vn.Name], want)
				}
				checked++
			}
		}
	}
	if yielded == 0 {
		t.Fatalf("no default gateway yielded to a VMI in %d VNs checked", checked)
	}
}

// Status shows each served VN with its router, the router's other VNs and its gateways.
func TestNetworksShowRoutersAndGateways(t *testing.T) {
	e := NewEngine()
	e.Update(Input{Index: loadIndex(t, "routing.yaml"), Host: "gw1", GatewayMode: true, Ports: routingPorts, TunnelPort: 10, Peers: routingPeers},
		func(string, []openflow.Flow, []openflow.Group) {})
	got := e.Networks()
	want := []Network{
		{Name: "apple", VNI: 5101, Router: "r1", RouterNetworks: []string{"pear", "kiwi"}, Gateways: []string{"10.3.0.1", "2001:db8:3::1"}},
		{Name: "pear", VNI: 5102, Router: "r1", RouterNetworks: []string{"apple", "kiwi"}, Gateways: []string{"10.4.0.254"}},
		{Name: "plum", VNI: 5103},
	}
	if !slices.EqualFunc(got, want, func(a, b Network) bool {
		return a.Name == b.Name && a.VNI == b.VNI && a.Router == b.Router && slices.Equal(a.RouterNetworks, b.RouterNetworks) && slices.Equal(a.Gateways, b.Gateways)
	}) {
		t.Fatalf("networks %+v\nwant %+v", got, want)
	}
}

// The VNs of a router share its lowest VNI's conntrack zone on purpose (their subnets are
// apart); a VN on no router whose zone is the same still clashes with them, and is reported.
func TestRouterZonesAreSharedNotClashing(t *testing.T) {
	c, err := model.Parse([]byte(`
virtualNetworks:
  - {name: a, vni: 70001, subnets: [10.1.0.0/24]}
  - {name: b, vni: 5002, subnets: [10.2.0.0/24]}
  - {name: c, vni: 4465, subnets: [10.1.0.0/24]}
logicalRouters: [{name: r, networks: [a, b]}]
virtualMachineInterfaces:
  - {name: va, network: a, mac: "02:00:00:00:00:01"}
  - {name: vb, network: b, mac: "02:00:00:00:00:02"}
  - {name: vc, network: c, mac: "02:00:00:00:00:03"}
`))
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.ValidateIndex()
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Index: x, Host: "n1", Ports: []Port{{Name: "pa", OFPort: 1, IfaceID: "va"}, {Name: "pb", OFPort: 2, IfaceID: "vb"}}}
	out := Compile(in)
	zone := uint16(5002) // b's VNI is the router's lowest; a's own zone would be 70001 mod 65536 = 4465
	for _, e := range out.Flows {
		for _, a := range e.Actions {
			if ct, ok := a.(openflow.CT); ok && ct.Zone != zone {
				t.Errorf("flow of %s uses zone %d, want the router's %d: %s", e.Owner, ct.Zone, zone, e.Flow)
			}
		}
	}
	if len(out.Notices) != 0 {
		t.Errorf("a router's VNs sharing its zone reported: %v", out.Notices)
	}
	// c (VNI 4465) has a's own zone, not the router's: no clash. On the router's zone, it clashes.
	in.Ports = append(in.Ports, Port{Name: "pc", OFPort: 3, IfaceID: "vc"})
	if out := Compile(in); len(out.Notices) != 0 {
		t.Errorf("notices: %v", out.Notices)
	}
	c.VirtualNetworks[2].VNI = 5002 + 65536
	if out := Compile(Input{Index: model.NewIndex(c), Host: "n1", Ports: in.Ports}); len(out.Notices) != 1 ||
		!strings.Contains(out.Notices[0], `share conntrack zone 5002`) {
		t.Errorf("notices: %v", out.Notices)
	}
}
