package lab

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// T is what the lab needs of a test (or of the demo program).
type T = testbed.T

// Eventually retries cond every 100 ms until it holds, or fails t after timeout.
func Eventually(t T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// GatewayYAML is the config of the one-node lab: remote instances bms1 (VLAN 100) and bms2
// (VLAN 101) in blue, bms3 (VLAN 200) in red, and vm1, a local VM in blue. Red reuses blue's
// subnet so that only the VNs keep the two apart.
const GatewayYAML = `
virtualNetworks:
  - {name: blue, vni: 5001, subnets: ["10.1.0.0/24"]}
  - {name: red, vni: 5002, subnets: ["10.1.0.0/24"]}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-100, vlan: 100, type: l2, vmi: bms1}
          - {name: eth1-101, vlan: 101, type: l2, vmi: bms2}
          - {name: eth1-200, vlan: 200, type: l2, vmi: bms3}
virtualMachineInterfaces:
  - {name: bms1, network: blue, mac: "02:00:00:00:01:0a", instanceIPs: [{address: 10.1.0.10}]}
  - {name: bms2, network: blue, mac: "02:00:00:00:01:0b", instanceIPs: [{address: 10.1.0.11}]}
  - {name: bms3, network: red, mac: "02:00:00:00:01:0c", instanceIPs: [{address: 10.1.0.30}]}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.20}]}
`

// MetricsAddress is where the lab's agent serves its metrics, in gw1's namespace (its own
// loopback: nothing listens in the root namespace).
const MetricsAddress = "127.0.0.1:9476"

// metricsInterval (seconds) is the shortest metrics_interval, so that a test sees the switch's
// counters move in the metrics within a second or two.
const metricsInterval = 1

// Gateway is one gateway node behind a ToR switch:
//
//	bms1 (VLAN 100) ─┐
//	bms2 (VLAN 101) ─┤
//	bms3 (VLAN 200) ─┤ ToR ── trunk0 ═══ eth1 ── gw1: br-int ── vm1p ── vm1
//	stranger (VLAN 300, no logical interface) ─┤
//	untagged (native VLAN of the trunk) ───────┘
type Gateway struct {
	GW, ToR                                  *testbed.Node
	Agent                                    *testbed.Agent
	BMS1, BMS2, BMS3, Stranger, Untagged, VM *testbed.Host
}

// NewGateway builds the one-gateway lab, starts the agent (binary bin) with the gateway config
// yaml, plugs vm1, and waits until the agent has bound vm1 and, in gateway mode, bms1..3.
func NewGateway(t T, bin, yaml string, gatewayMode bool) *Gateway {
	t.Helper()
	testbed.Require(t)
	tor := testbed.NewToR(t, "tor")
	gw := testbed.NewNode(t, "gw1")
	testbed.Link(t, tor.NS, "trunk0", gw.NS, "eth1")
	tor.TrunkPort(t, "trunk0")
	// Frames of the native VLAN 999 leave the trunk untagged.
	tor.MustVsctl(t, "set", "port", "trunk0", "vlan_mode=native-untagged", "tag=999")
	l := &Gateway{GW: gw, ToR: tor.Node}
	l.BMS1 = tor.AddHost(t, "bms1", 100, "02:00:00:00:01:0a", "10.1.0.10/24")
	l.BMS2 = tor.AddHost(t, "bms2", 101, "02:00:00:00:01:0b", "10.1.0.11/24")
	l.BMS3 = tor.AddHost(t, "bms3", 200, "02:00:00:00:01:0c", "10.1.0.30/24")
	l.Stranger = tor.AddHost(t, "stranger", 300, "02:00:00:00:01:0f", "10.1.0.99/24")
	l.Untagged = tor.AddHost(t, "untagged", 999, "02:00:00:00:01:0e", "10.1.0.98/24")
	l.VM = testbed.NewHost(t, "vm1", gw, "vm1p", "02:00:00:00:02:01", "10.1.0.20/24")
	l.Agent = testbed.NewAgent(t, bin, gw, testbed.AgentOptions{Hostname: "gw1", GatewayMode: gatewayMode,
		MetricsAddress: MetricsAddress, MetricsInterval: metricsInterval}, yaml)
	// Plug the VM the way a hypervisor does: a port carrying the VMI's name as iface-id.
	Eventually(t, 10*time.Second, "bridge br-int created by the agent", func() error {
		_, err := gw.Vsctl("br-exists", "br-int")
		return err
	})
	gw.MustVsctl(t, "add-port", "br-int", "vm1p", "--", "set", "interface", "vm1p", "external_ids:iface-id=vm1")
	if gatewayMode {
		l.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
	} else {
		l.WaitBound(t, "vm1")
	}
	return l
}

// Metrics scrapes the agent's metrics and returns the text.
func (l *Gateway) Metrics(t T) string {
	t.Helper()
	return Scrape(t, l.GW)
}

// Scrape reads the metrics of the agent on node, served at MetricsAddress, with curl inside the
// node's namespace.
func Scrape(t T, node *testbed.Node) string {
	t.Helper()
	out, err := node.Exec("curl", "-sSf", "--max-time", "10", "http://"+MetricsAddress+"/metrics")
	if err != nil {
		t.Fatalf("scrape the metrics of the agent on %s: %v", node.Name, err)
	}
	return out
}

// Status asks the agent for its status.
func (l *Gateway) Status(t T) control.Status {
	t.Helper()
	out, err := l.Agent.CLI("status", "-o", "json")
	if err != nil {
		t.Fatalf("%v", err)
	}
	var s control.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	return s
}

// WaitBound waits until status shows every named VMI bound and the last sync clean.
func (l *Gateway) WaitBound(t T, vmis ...string) {
	t.Helper()
	Eventually(t, 15*time.Second, "VMIs bound", func() error {
		s := l.Status(t)
		bound := map[string]bool{}
		for _, b := range s.Bindings {
			bound[b.VMI] = b.Bound
		}
		for _, v := range vmis {
			if !bound[v] {
				return fmt.Errorf("%s not bound; status: %+v", v, s.Bindings)
			}
		}
		if s.LastSync == nil || s.LastSyncError != "" {
			return fmt.Errorf("not synced: %q", s.LastSyncError)
		}
		return nil
	})
}

// SetConfig writes a new gateway config and waits until the agent has put it in force and
// brought the bridge to it.
func (l *Gateway) SetConfig(t T, yaml string) {
	t.Helper()
	before := l.Status(t).ConfigGeneration
	l.Agent.WriteConfig(t, yaml)
	Eventually(t, 10*time.Second, "config applied", func() error {
		s := l.Status(t)
		if s.ConfigGeneration <= before {
			return fmt.Errorf("still config generation %d (error: %s)", before, s.LastConfigError)
		}
		if s.SyncedGeneration < s.ConfigGeneration || s.LastSyncError != "" {
			return fmt.Errorf("bridge at generation %d of %d: %q", s.SyncedGeneration, s.ConfigGeneration, s.LastSyncError)
		}
		return nil
	})
}
