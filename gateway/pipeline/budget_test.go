package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
)

// The estimate bounds what the compiler emits (ToR switches' learned MACs aside, which the
// config does not hold), and not by much, over the random worlds the engine is tested on.
func TestFlowEstimateBoundsTheCompile(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		w := newWorld(seed)
		for step := 0; step < 60; step++ {
			saved := clone(w.cfg)
			w.edit()
			in := w.input()
			if in == nil {
				w.cfg = saved
				continue
			}
			in.Tors = nil
			out := Compile(*in)
			var bound []string
			for _, b := range out.Bindings {
				if b.Bound && b.Kind != BindingPeer {
					bound = append(bound, b.VMI)
				}
			}
			est := EstimateFlows(in.Index, bound)
			if got := len(out.Flows); est.Flows < got || est.Flows > 3*got+100 {
				t.Fatalf("seed %d step %d: estimate %d flows for %d bound VMIs, the compile has %d", seed, step, est.Flows, len(bound), got)
			}
		}
	}
}

// The outside review's case: one remoteGroup rule over a wide port range with 400 members
// compiled to 4.8 M flows in 34 s and 10.9 GB before it could be refused. Remote groups are
// conjunctions now (linear), and a config whose flows exceed the node's budget is refused at
// validation, from the config alone, with the numbers and the rules that cost the most.
func TestQuadraticFlowGrowthRefusedAtValidation(t *testing.T) {
	var b strings.Builder
	b.WriteString("virtualNetworks: [{name: blue, vni: 5001}]\n")
	b.WriteString("securityGroups:\n  - name: web\n    rules:\n")
	b.WriteString("      - {direction: ingress, protocol: tcp, ports: \"1-65000\", remoteGroup: web}\n")
	b.WriteString("      - {direction: ingress, protocol: udp, ports: \"1-65000\", remoteCIDR: 10.0.0.0/8}\n")
	b.WriteString("virtualMachineInterfaces:\n")
	var bound []string
	for i := range 400 {
		name := fmt.Sprintf("vm%d", i)
		bound = append(bound, name)
		fmt.Fprintf(&b, "  - {name: %s, network: blue, mac: \"02:00:00:00:%02x:%02x\", instanceIPs: [{address: 10.1.%d.%d}], securityGroups: [web]}\n",
			name, i/256, i%256, i/200, 1+i%200)
	}
	c, err := model.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.ValidateIndex()
	if err != nil {
		t.Fatal(err)
	}
	est := EstimateFlows(x, bound)
	out := Compile(Input{Index: x, Host: "c1", Ports: localPorts(bound)})
	if est.Flows < len(out.Flows) {
		t.Fatalf("estimate %d below the compile's %d flows", est.Flows, len(out.Flows))
	}
	if len(out.Flows) > 50_000 {
		t.Errorf("400 members of one remote-group rule compile to %d flows: not linear", len(out.Flows))
	}
	err = CheckFlowBudget(x, "c1", bound, 10_000)
	if err == nil {
		t.Fatalf("a budget of 10000 flows accepted an estimate of %d", est.Flows)
	}
	for _, want := range []string{"node c1", fmt.Sprintf("up to %d flows", est.Flows), "400 VMIs bound here", "max_flows = 10000",
		"securityGroups[web].rules[0] 10401", "securityGroups[web].rules[1] 10400"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := CheckFlowBudget(x, "c1", bound, model.DefaultMaxFlows); err != nil {
		t.Errorf("the default budget refused %d flows: %v", est.Flows, err)
	}
}

// localPorts plugs each VMI into a local port of its own.
func localPorts(vmis []string) []Port {
	out := make([]Port, len(vmis))
	for i, v := range vmis {
		out[i] = Port{Name: "tap" + v, OFPort: int32(i + 1), IfaceID: v}
	}
	return out
}

// The estimate covers routing: gateway answers, route-classify flows, and the routes and
// tunnel outputs of every VMI of a router's VNs, those of a VN the node only routes to too.
func TestFlowEstimateBoundsRouting(t *testing.T) {
	x := loadIndex(t, "routing.yaml")
	out := Compile(Input{Index: x, Host: "gw1", GatewayMode: true, Ports: routingPorts, TunnelPort: 10, Peers: routingPeers})
	est := EstimateFlows(x, []string{"bmsA", "vmP", "plum1"})
	if est.Flows < len(out.Flows) {
		t.Fatalf("estimate %d below the compile's %d flows", est.Flows, len(out.Flows))
	}
	t.Logf("estimate %d, compile %d", est.Flows, len(out.Flows))
}
