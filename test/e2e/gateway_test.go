package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// gatewayYAML is the config of the one-node lab: remote instances bms1 (VLAN 100) and bms2
// (VLAN 101) in blue, bms3 (VLAN 200) in red, and vm1, a local VM in blue. Red reuses blue's
// subnet so that only the VNs keep the two apart.
const gatewayYAML = `
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

// gatewayLab is one gateway node behind a ToR switch:
//
//	bms1 (VLAN 100) ─┐
//	bms2 (VLAN 101) ─┤
//	bms3 (VLAN 200) ─┤ ToR ── trunk0 ═══ eth1 ── gw1: br-int ── vm1p ── vm1
//	stranger (VLAN 300, no logical interface) ─┤
//	untagged (native VLAN of the trunk) ───────┘
type gatewayLab struct {
	gw, tor                                  *testbed.Node
	agent                                    *testbed.Agent
	bms1, bms2, bms3, stranger, untagged, vm *testbed.Host
}

func newGatewayLab(t *testing.T) *gatewayLab {
	testbed.Require(t)
	tor := testbed.NewToR(t, "tor")
	gw := testbed.NewNode(t, "gw1")
	testbed.Link(t, tor.NS, "trunk0", gw.NS, "eth1")
	tor.TrunkPort(t, "trunk0")
	// Frames of the native VLAN 999 leave the trunk untagged.
	tor.MustVsctl(t, "set", "port", "trunk0", "vlan_mode=native-untagged", "tag=999")
	l := &gatewayLab{gw: gw, tor: tor.Node}
	l.bms1 = tor.AddHost(t, "bms1", 100, "02:00:00:00:01:0a", "10.1.0.10/24")
	l.bms2 = tor.AddHost(t, "bms2", 101, "02:00:00:00:01:0b", "10.1.0.11/24")
	l.bms3 = tor.AddHost(t, "bms3", 200, "02:00:00:00:01:0c", "10.1.0.30/24")
	l.stranger = tor.AddHost(t, "stranger", 300, "02:00:00:00:01:0f", "10.1.0.99/24")
	l.untagged = tor.AddHost(t, "untagged", 999, "02:00:00:00:01:0e", "10.1.0.98/24")
	l.vm = testbed.NewHost(t, "vm1", gw, "vm1p", "02:00:00:00:02:01", "10.1.0.20/24")
	l.agent = testbed.NewAgent(t, ovsgwBin, gw, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}, gatewayYAML)
	// Plug the VM the way a hypervisor does: a port carrying the VMI's name as iface-id.
	eventually(t, 10*time.Second, "bridge br-int created by the agent", func() error {
		_, err := gw.Vsctl("br-exists", "br-int")
		return err
	})
	gw.MustVsctl(t, "add-port", "br-int", "vm1p", "--", "set", "interface", "vm1p", "external_ids:iface-id=vm1")
	l.waitBound(t, "vm1", "bms1", "bms2", "bms3")
	return l
}

func (l *gatewayLab) status(t *testing.T) control.Status {
	t.Helper()
	out, err := l.agent.CLI("status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s control.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	return s
}

// waitBound waits until status shows every named VMI bound and the last sync clean.
func (l *gatewayLab) waitBound(t *testing.T, vmis ...string) {
	t.Helper()
	eventually(t, 15*time.Second, "VMIs bound", func() error {
		s := l.status(t)
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

// setConfig writes a new gateway config and waits until the agent has applied it.
func (l *gatewayLab) setConfig(t *testing.T, yaml string) {
	t.Helper()
	before := l.status(t).ConfigLoadedAt
	l.agent.WriteConfig(t, yaml)
	eventually(t, 10*time.Second, "config reloaded", func() error {
		s := l.status(t)
		if !s.ConfigLoadedAt.After(before) {
			return fmt.Errorf("still the config loaded at %s (error: %s)", before, s.LastConfigError)
		}
		if s.LastSync == nil || s.LastSync.Before(s.ConfigLoadedAt) || s.LastSyncError != "" {
			return fmt.Errorf("not synced since reload: %q", s.LastSyncError)
		}
		return nil
	})
}

func TestGatewayNode(t *testing.T) {
	l := newGatewayLab(t)

	t.Run("remote instance reaches local VM", func(t *testing.T) {
		l.bms1.MustPing(t, l.vm.IP)
		l.vm.MustPing(t, l.bms1.IP)
	})
	t.Run("remote instances on different VLANs of one VN reach each other", func(t *testing.T) {
		l.bms1.MustPing(t, l.bms2.IP)
	})
	t.Run("TCP passes between remote and local", func(t *testing.T) {
		l.bms1.MustTCP(t, l.vm, 5001)
	})
	t.Run("VNs are isolated", func(t *testing.T) {
		l.bms1.MustNotPing(t, l.bms3.IP)
		l.vm.MustNotPing(t, l.bms3.IP)
		l.bms3.MustNotPing(t, l.vm.IP)
	})
	t.Run("unknown VLAN and untagged frames are dropped and counted", func(t *testing.T) {
		missFlow := func() dumpedFlow {
			for _, f := range dumpFlows(t, l.gw, "br-int") {
				if strings.Contains(f.Text, "priority=10,in_port=") && strings.Contains(f.Text, "actions=drop") {
					return f
				}
			}
			t.Fatal("no drop flow for the gateway port")
			return dumpedFlow{}
		}
		before := missFlow().Packets
		l.stranger.MustNotPing(t, l.vm.IP)
		l.untagged.MustNotPing(t, l.vm.IP)
		if after := missFlow().Packets; after <= before {
			t.Fatalf("gateway port drop counter did not grow: %d -> %d", before, after)
		}
	})
	t.Run("flows are annotated with their owners", func(t *testing.T) {
		out, err := l.agent.CLI("flows", "--vmi", "bms1", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var fl control.Flows
		if err := json.Unmarshal([]byte(out), &fl); err != nil {
			t.Fatal(err)
		}
		tables := map[string]bool{}
		for _, f := range fl.Flows {
			if f.OwnerKind != "vmi" || f.OwnerName != "bms1" || f.Network != "blue" {
				t.Errorf("--vmi bms1 returned a flow of %s %s: %s", f.OwnerKind, f.OwnerName, f.Text)
			}
			tables[f.TableName] = true
		}
		for _, want := range []string{"classify", "l2-lookup", "output"} {
			if !tables[want] {
				t.Errorf("no %s flow for bms1 in %s", want, out)
			}
		}
		text, err := l.agent.CLI("flows", "--table", "classify")
		if err != nil || !strings.Contains(text, "[vmi bms1]") || !strings.Contains(text, "dl_vlan=100") {
			t.Errorf("text flows of table classify lack bms1's VLAN 100 flow: %v\n%s", err, text)
		}
		if _, err := l.agent.CLI("flows", "--vmi", "nosuch"); err == nil {
			t.Error("flows --vmi of an unknown VMI succeeded")
		}
	})
	t.Run("status shows node, mode, budget and bindings", func(t *testing.T) {
		s := l.status(t)
		if s.Node != "gw1" || !s.GatewayMode || s.InterfacesUsed != 6 || s.InterfacesLimit != 4352 {
			t.Fatalf("status: %+v", s)
		}
		text, err := l.agent.CLI("status")
		if err != nil || !strings.Contains(text, "eth1 vlan 100 (eth1-100)") || !strings.Contains(text, "6 / 4352") {
			t.Fatalf("status text: %v\n%s", err, text)
		}
	})
	t.Run("agent restart keeps every flow and loses no ping", func(t *testing.T) {
		before := dumpFlows(t, l.gw, "br-int")
		var wg sync.WaitGroup
		var sent, received int
		var pingOut string
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, received, pingOut = l.bms1.PingCount(l.vm.IP, 40, 100*time.Millisecond, time.Second)
		}()
		time.Sleep(500 * time.Millisecond)
		if err := l.agent.Proc.Stop(); err != nil {
			t.Fatal(err)
		}
		l.agent.Start(t)
		l.waitBound(t, "vm1", "bms1", "bms2", "bms3")
		wg.Wait()
		if sent == 0 || received != sent {
			t.Errorf("pings across the restart: %d sent, %d received\n%s", sent, received, pingOut)
		}
		after := dumpFlows(t, l.gw, "br-int")
		if gone, added := flowDiff(before, after); len(gone)+len(added) > 0 {
			t.Fatalf("restart changed flows: removed %v, added %v", gone, added)
		}
		for k, f := range after {
			if f.Duration < before[k].Duration {
				t.Errorf("flow re-added (duration %.3f < %.3f): %s", f.Duration, before[k].Duration, k)
			}
		}
	})
	t.Run("invalid reload keeps the running config", func(t *testing.T) {
		flows := dumpFlows(t, l.gw, "br-int")
		good, err := os.ReadFile(l.agent.YAML)
		if err != nil {
			t.Fatal(err)
		}
		l.agent.WriteConfig(t, strings.Replace(gatewayYAML, "vlan: 101", "vlan: 5000", 1))
		eventually(t, 10*time.Second, "config error in status", func() error {
			if e := l.status(t).LastConfigError; !strings.Contains(e, "logicalInterfaces[eth1-101].vlan: 5000 is out of range") {
				return fmt.Errorf("last config error %q", e)
			}
			return nil
		})
		l.bms2.MustPing(t, l.vm.IP)
		if gone, added := flowDiff(flows, dumpFlows(t, l.gw, "br-int")); len(gone)+len(added) > 0 {
			t.Fatalf("a refused config changed flows: removed %v, added %v", gone, added)
		}
		l.setConfig(t, string(good))
		if e := l.status(t).LastConfigError; e != "" {
			t.Fatalf("error stays after a good config: %s", e)
		}
	})
	t.Run("moving a remote instance to another VLAN moves its traffic", func(t *testing.T) {
		l.tor.MustVsctl(t, "set", "port", "bms2", "tag=102")
		l.bms2.MustNotPing(t, l.vm.IP)
		l.setConfig(t, strings.Replace(gatewayYAML, "vlan: 101", "vlan: 102", 1))
		l.bms2.MustPing(t, l.vm.IP)
		for k := range dumpFlows(t, l.gw, "br-int") {
			if strings.Contains(k, "dl_vlan=101") || strings.Contains(k, "set_field:4197->vlan_vid") {
				t.Errorf("VLAN 101 flow left behind: %s", k)
			}
		}
	})
	t.Run("removing a VMI removes exactly its flows and stops its traffic", func(t *testing.T) {
		moved := strings.Replace(gatewayYAML, "vlan: 101", "vlan: 102", 1)
		before := dumpFlows(t, l.gw, "br-int")
		bms2Cookie := uint64(0)
		for k, f := range before {
			if strings.Contains(k, "dl_vlan=102") {
				bms2Cookie = f.Cookie
			}
		}
		without := strings.Replace(moved, "          - {name: eth1-101, vlan: 102, type: l2, vmi: bms2}\n", "", 1)
		without = strings.Replace(without, `  - {name: bms2, network: blue, mac: "02:00:00:00:01:0b", instanceIPs: [{address: 10.1.0.11}]}`+"\n", "", 1)
		if without == moved {
			t.Fatal("test bug: bms2 not removed from the config")
		}
		l.setConfig(t, without)
		gone, added := flowDiff(before, dumpFlows(t, l.gw, "br-int"))
		if len(added) > 0 {
			t.Errorf("removing bms2 added flows: %v", added)
		}
		if len(gone) != 5 { // classify, l2-lookup, hairpin, output, output back out of its port
			t.Errorf("removing bms2 removed %d flows, want its 5: %v", len(gone), gone)
		}
		for _, f := range gone {
			if f.Cookie != bms2Cookie {
				t.Errorf("removed a flow not of bms2: %s", f.Text)
			}
		}
		l.bms2.MustNotPing(t, l.vm.IP)
		l.bms1.MustPing(t, l.vm.IP)
	})
}
