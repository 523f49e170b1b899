package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// haYAML: gateways gw1 and gw2 both serve the remote instance bms1 (VLAN 100) and flood the
// switch's BPDUs between their VLAN 0 logical interfaces through the BPDU network; vm1 is a VM
// on compute node c1.
const haYAML = `
virtualNetworks:
  - {name: blue, vni: 5001, subnets: ["10.1.0.0/24"]}
  - {name: bpdu, vni: 9000, floodBPDU: true}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-0, vlan: 0, vmi: stp}
          - {name: eth1-100, vlan: 100, vmi: bms1}
  - name: gw2
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-0, vlan: 0, vmi: stp}
          - {name: eth1-100, vlan: 100, vmi: bms1}
virtualMachineInterfaces:
  - {name: stp, network: bpdu, mac: "02:00:00:00:ff:01"}
  - {name: bms1, network: blue, mac: "02:00:00:00:01:0a", instanceIPs: [{address: 10.1.0.10}]}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.21}]}
`

// Fast RSTP timers on the ToR: max age 6 s and forward delay 4 s, the smallest 802.1D-2004
// allows (the hello time is fixed at 2 s). With the defaults (20 s, 15 s) a failover waits out
// a 15 s forward delay twice over.
var torRSTPTimers = []string{"other_config:rstp-max-age=6", "other_config:rstp-forward-delay=4"}

// haLab: a ToR running RSTP, trunked to two gateways; a compute node; all three agents on the
// shared database.
type haLab struct {
	cluster *raftCluster
	nodes   map[string]*testbed.Node
	agents  map[string]*testbed.Agent
	tor     *testbed.ToR
	bms1    *testbed.Host
	vm1     *testbed.Host
}

func newHALab(t testing.TB) *haLab {
	l := &haLab{cluster: startCluster(t), nodes: map[string]*testbed.Node{}, agents: map[string]*testbed.Agent{}}
	file := filepath.Join(t.TempDir(), "ha.yaml")
	if err := os.WriteFile(file, []byte(haYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ovsgwCLI("db", "apply", "-f", file, "--db", l.cluster.endpoints()); err != nil {
		t.Fatalf("db apply: %v\n%s", err, out)
	}
	names := []string{"gw1", "gw2", "c1"}
	l.nodes = overlayNodes(t, testbed.NewToR(t, "ul"), names...)
	l.tor = testbed.NewToR(t, "tor")
	l.tor.MustVsctl(t, append([]string{"set", "bridge", testbed.ToRBridge, "rstp_enable=true"}, torRSTPTimers...)...)
	for i, gw := range []string{"gw1", "gw2"} {
		trunk := fmt.Sprintf("trunk%d", i+1)
		testbed.Link(t, l.tor.NS, trunk, l.nodes[gw].NS, "eth1")
		l.tor.TrunkPort(t, trunk)
	}
	l.bms1 = l.tor.AddHost(t, "bms1", 100, "02:00:00:00:01:0a", "10.1.0.10/24")
	l.vm1 = testbed.NewHost(t, "vm1", l.nodes["c1"], "vm1p", "02:00:00:00:02:01", "10.1.0.21/24")
	l.agents = startAgents(t, l.nodes, names, l.cluster, "gw1", "gw2")
	plug(t, l.nodes["c1"], "vm1p", "vm1")
	return l
}

var rstpPort = regexp.MustCompile(`(?m)^\s*(trunk\d)\s+(\w+)\s+(\w+)`)

// forwardingTrunks lists the ToR's trunk ports whose RSTP state is forwarding.
func (l *haLab) forwardingTrunks(t testing.TB) []string {
	out := l.tor.MustAppctl(t, "rstp/show", testbed.ToRBridge)
	var fwd []string
	for _, m := range rstpPort.FindAllStringSubmatch(out, -1) {
		if strings.EqualFold(m[3], "forwarding") {
			fwd = append(fwd, m[1])
		}
	}
	return fwd
}

// active waits until exactly one gateway is active, the ToR forwards to exactly one trunk, and
// c1 knows where bms1 is; it returns the active gateway.
func (l *haLab) active(t testing.TB, within time.Duration) string {
	t.Helper()
	var active string
	lab.Eventually(t, within, "one active gateway", func() error {
		var actives []string
		for _, gw := range []string{"gw1", "gw2"} {
			if s := agentStatus(t, l.agents[gw]); s.HA != nil && s.HA.Role == "active" {
				actives = append(actives, gw)
			}
		}
		if len(actives) != 1 {
			return fmt.Errorf("active gateways %v", actives)
		}
		if fwd := l.forwardingTrunks(t); len(fwd) != 1 {
			return fmt.Errorf("ToR forwards on %v; RSTP:\n%s", fwd, l.tor.MustAppctl(t, "rstp/show", testbed.ToRBridge))
		}
		for _, b := range agentStatus(t, l.agents["c1"]).Bindings {
			if b.VMI == "bms1" && b.Node == actives[0] {
				active = actives[0]
				return nil
			}
		}
		return fmt.Errorf("c1 does not send bms1's traffic to %s yet", actives[0])
	})
	return active
}

// noDuplicates pings and fails on a lost or duplicate reply.
func noDuplicates(t testing.TB, from *testbed.Host, to string) {
	t.Helper()
	sent, received, out := from.PingCount(to, 10, 100*time.Millisecond, time.Second)
	if sent == 0 || received != sent || strings.Contains(out, "DUP!") {
		t.Fatalf("%s -> %s: %d sent, %d received, duplicates: %v\n%s", from.Name, to, sent, received, strings.Contains(out, "DUP!"), out)
	}
}

func TestHAFailover(t *testing.T) {
	l := newHALab(t)
	first := l.active(t, 60*time.Second)
	t.Logf("active gateway: %s", first)

	t.Run("VM and remote instance reach each other with no duplicates", func(t *testing.T) {
		l.vm1.MustPing(t, l.bms1.IP)
		noDuplicates(t, l.vm1, l.bms1.IP)
		noDuplicates(t, l.bms1, l.vm1.IP)
	})
	t.Run("status and db show name each gateway's role", func(t *testing.T) {
		s := agentStatus(t, l.agents[first])
		if s.HA == nil || s.HA.Group != "stp" || len(s.HA.Gateways) != 2 {
			t.Fatalf("HA status: %+v", s.HA)
		}
		out, err := ovsgwCLI("db", "show", "--db", l.cluster.endpoints())
		if err != nil || !strings.Contains(out, "active of group stp since") || !strings.Contains(out, "standby of group stp since") {
			t.Fatalf("db show lacks the roles: %v\n%s", err, out)
		}
	})
	var second string
	t.Run("cutting the active gateway's link moves traffic to the other", func(t *testing.T) {
		var wg sync.WaitGroup
		var sent, received int
		var out string
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, received, out = l.vm1.PingCount(l.bms1.IP, 300, 100*time.Millisecond, time.Second)
		}()
		time.Sleep(time.Second)
		cut := time.Now()
		l.nodes[first].MustExec(t, "ip", "link", "set", "eth1", "down")
		second = l.active(t, 60*time.Second)
		if second == first {
			t.Fatalf("%s is still active with its link down", first)
		}
		t.Logf("failover %s -> %s: converged %.1fs after the cut", first, second, time.Since(cut).Seconds())
		noDuplicates(t, l.vm1, l.bms1.IP)
		wg.Wait()
		if strings.Contains(out, "DUP!") {
			t.Errorf("duplicate replies during the failover:\n%s", out)
		}
		t.Logf("pings across the failover: %d sent, %d received", sent, received)
	})
	t.Run("the link comes back: no loop, no duplicates, traffic flows", func(t *testing.T) {
		l.nodes[first].MustExec(t, "ip", "link", "set", "eth1", "up")
		time.Sleep(10 * time.Second) // RSTP sees the returned port and settles (2 forward delays)
		l.active(t, 60*time.Second)
		noDuplicates(t, l.vm1, l.bms1.IP)
		noDuplicates(t, l.bms1, l.vm1.IP)
	})
}
