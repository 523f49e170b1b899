package pipeline

import (
	"fmt"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// TestPolicyRuleAtNamesTheRuleOfEachPolicyFlow: every network-policy flow the compiler emits
// is traced back (by its priority, as ovsgw trace does) to the rule it came from, across the
// VN's policies in order; each rule here denies its own TCP port, so the flow's match tells.
func TestPolicyRuleAtNamesTheRuleOfEachPolicyFlow(t *testing.T) {
	c, err := model.Parse([]byte(`
virtualNetworks:
  - {name: blue, vni: 5001, networkPolicies: [first, second]}
physicalRouters: []
virtualMachineInterfaces:
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.20}]}
networkPolicies:
  - name: first
    rules:
      - {action: deny, protocol: tcp, destinationPorts: "1000"}
      - {action: pass, protocol: tcp, destinationPorts: "1001"}
  - name: second
    rules:
      - {action: deny, protocol: tcp, destinationPorts: "2000"}
      - {action: deny, protocol: tcp, destinationPorts: "2001", direction: "<>"}
`))
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.ValidateIndex()
	if err != nil {
		t.Fatal(err)
	}
	out := Compile(Input{Index: x, Host: "gw1", Ports: []Port{{Name: "vm1p", OFPort: 1, IfaceID: "vm1"}}})
	port := map[string]int{"first/0": 1000, "first/1": 1001, "second/0": 2000, "second/1": 2001}
	seen := map[string]bool{}
	for _, f := range out.Flows {
		if f.Table != TablePolicy || f.Owner.Kind != KindNetworkPolicy {
			continue
		}
		policy, rule, ok := PolicyRuleAt(x, "blue", f.Priority)
		key := fmt.Sprintf("%s/%d", policy, rule)
		m, hasPort := f.Match.Get(openflow.FieldTCPDst)
		if !hasPort {
			m, hasPort = f.Match.Get(openflow.FieldTCPSrc) // the reverse direction of a "<>" rule
		}
		if !ok || policy != f.Owner.Name || !hasPort || int(m.Value[0])<<8|int(m.Value[1]) != port[key] {
			t.Errorf("flow %s: PolicyRuleAt says %s (ok %v)", f.Flow, key, ok)
		}
		seen[key] = true
	}
	if len(seen) != len(port) {
		t.Errorf("rules traced back: %v, want all of %v", seen, port)
	}
	for _, prio := range []uint16{PrioPolicyFirst + 1, PrioPolicyFirst - 4, PrioPolicyLast - 1} {
		if p, r, ok := PolicyRuleAt(x, "blue", prio); ok {
			t.Errorf("priority %d: no rule has it, PolicyRuleAt says %s rule %d", prio, p, r)
		}
	}
	if _, _, ok := PolicyRuleAt(x, "nosuch", PrioPolicyFirst); ok {
		t.Error("PolicyRuleAt found a rule of an unknown VN")
	}
}
