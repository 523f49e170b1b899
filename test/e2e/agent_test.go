package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// Without gateway_mode = server the node serves its local VMs and ignores its logical
// interfaces, and says so.
func TestGatewayModeOff(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, false)
	s := l.Status(t)
	if s.GatewayMode || !strings.Contains(s.GatewayModeReason, "gateway_mode = server is not set") {
		t.Errorf("status does not say gateway mode is off and why: %+v", s)
	}
	if len(s.Notices) == 0 || !strings.Contains(s.Notices[0], "the 3 logical interfaces of physical router \"gw1\" are ignored") {
		t.Errorf("no notice about the ignored logical interfaces: %q", s.Notices)
	}
	if s.InterfacesUsed != 0 {
		t.Errorf("interfaces used %d with gateway mode off, want 0", s.InterfacesUsed)
	}
	ports := l.GW.MustVsctl(t, "list-ports", "br-int")
	if strings.Contains(ports, "eth1") {
		t.Errorf("physical interface eth1 added to the bridge with gateway mode off: %s", ports)
	}
	l.BMS1.MustNotPing(t, l.VM.IP)
	log := l.Agent.LogText()
	if !strings.Contains(log, "gateway mode is off") {
		t.Errorf("agent log does not say gateway mode is off:\n%s", log)
	}
}

// A config over the node's interface budget is refused before anything is touched.
func TestCapacityRefusedAtStart(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "gw1")
	a := testbed.PrepareAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true, MaxInterfaces: 4}, lab.GatewayYAML)
	out, err := node.ExecTimeout(20*time.Second, a.Bin, "agent", "--config", a.Conf)
	if err == nil {
		t.Fatalf("agent started with 3 remote instances on a budget of 4 interfaces:\n%s", out)
	}
	for _, want := range []string{"physicalRouters[gw1]", "3 remote instances need 6 interfaces", "max_interfaces = 4", "nothing changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("error lacks %q:\n%s", want, out)
		}
	}
	if _, err := node.Vsctl("br-exists", "br-int"); err == nil {
		t.Error("a refused config created the bridge")
	}
}

// A misspelt agent config key is an error naming section and key, and the agent does not start.
func TestAgentConfigErrorsNameTheKey(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "gw1")
	a := testbed.PrepareAgent(t, ovsgwBin, node, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}, lab.GatewayYAML)
	a.AppendConf(t, "[DEFAULT]\nmax_interface = 10\n")
	out, err := node.ExecTimeout(20*time.Second, a.Bin, "agent", "--config", a.Conf)
	if err == nil || !strings.Contains(out, "[DEFAULT].max_interface: unknown key") {
		t.Fatalf("want an unknown-key error, got %v:\n%s", err, out)
	}
}
