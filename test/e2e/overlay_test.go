package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// overlayYAML: VN blue spans the gateway gw1 (remote instance bms1 on VLAN 100), compute c1
// (vm1) and compute c2 (vm2); VN red, in the same subnet, has bms2 (VLAN 200) and vm3 on c2.
// vm2 accepts TCP only on ports 8080-8081 (and ICMP): policies hold across nodes.
const overlayYAML = `
virtualNetworks:
  - {name: blue, vni: 5001, subnets: ["10.1.0.0/24"]}
  - {name: red, vni: 5002, subnets: ["10.1.0.0/24"]}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-100, vlan: 100, vmi: bms1}
          - {name: eth1-200, vlan: 200, vmi: bms2}
virtualMachineInterfaces:
  - {name: bms1, network: blue, mac: "02:00:00:00:01:0a", instanceIPs: [{address: 10.1.0.10}]}
  - {name: bms2, network: red, mac: "02:00:00:00:01:0b", instanceIPs: [{address: 10.1.0.30}]}
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.21}]}
  - {name: vm2, network: blue, mac: "02:00:00:00:02:02", instanceIPs: [{address: 10.1.0.22}], securityGroups: [web]}
  - {name: vm3, network: red, mac: "02:00:00:00:02:03", instanceIPs: [{address: 10.1.0.31}]}
securityGroups:
  - name: web
    rules:
      - {direction: ingress, protocol: tcp, ports: "8080-8081"}
      - {direction: ingress, protocol: icmp}
      - {direction: egress}
`

// overlayLab is three nodes, each its own namespace with its own OVS and agent, joined by an
// underlay switch, following one config in a 3-member Raft cluster. The cluster's database
// is created with this schema stripped of its constraints, as 1.2.0's had none, and converted
// to this one while the agents run (an upgrade): what runs before the conversion runs on a
// database that takes any value.
type overlayLab struct {
	cluster          *raftCluster
	nodes            map[string]*testbed.Node
	agents           map[string]*testbed.Agent
	tor              *testbed.ToR
	bms1, bms2       *testbed.Host
	vm1, vm2, vm3    *testbed.Host
	configFile, dbCL string
}

func newOverlayLab(t testing.TB) *overlayLab {
	l := &overlayLab{cluster: startClusterWith(t, configdbtest.Unconstrained(t)), nodes: map[string]*testbed.Node{}, agents: map[string]*testbed.Agent{}}
	l.dbCL = l.cluster.endpoints()
	dir := t.TempDir()
	l.configFile = filepath.Join(dir, "gateway.yaml")
	l.apply(t, overlayYAML)

	names := []string{"gw1", "c1", "c2"}
	l.nodes = overlayNodes(t, testbed.NewToR(t, "ul"), names...)
	l.tor = testbed.NewToR(t, "tor")
	testbed.Link(t, l.tor.NS, "trunk0", l.nodes["gw1"].NS, "eth1")
	l.tor.TrunkPort(t, "trunk0")
	l.bms1 = l.tor.AddHost(t, "bms1", 100, "02:00:00:00:01:0a", "10.1.0.10/24")
	l.bms2 = l.tor.AddHost(t, "bms2", 200, "02:00:00:00:01:0b", "10.1.0.30/24")
	l.vm1 = testbed.NewHost(t, "vm1", l.nodes["c1"], "vm1p", "02:00:00:00:02:01", "10.1.0.21/24")
	l.vm2 = testbed.NewHost(t, "vm2", l.nodes["c2"], "vm2p", "02:00:00:00:02:02", "10.1.0.22/24")
	l.vm3 = testbed.NewHost(t, "vm3", l.nodes["c2"], "vm3p", "02:00:00:00:02:03", "10.1.0.31/24")
	l.agents = startAgents(t, l.nodes, names, l.cluster, "gw1")
	plug(t, l.nodes["c1"], "vm1p", "vm1")
	plug(t, l.nodes["c2"], "vm2p", "vm2")
	plug(t, l.nodes["c2"], "vm3p", "vm3")
	l.waitBindings(t, map[string][]string{
		"gw1": {"bms1", "bms2", "vm1", "vm2", "vm3"}, "c1": {"vm1", "bms1", "vm2"}, "c2": {"vm2", "vm3", "bms1", "bms2", "vm1"}})
	return l
}

// overlayNodes starts one node per name, linked to the underlay switch; the i-th has tunnel
// address 192.168.100.(i+1) on its br-phy.
func overlayNodes(t testing.TB, underlay *testbed.ToR, names ...string) map[string]*testbed.Node {
	nodes := map[string]*testbed.Node{}
	for i, name := range names {
		n := testbed.NewNode(t, name)
		testbed.AttachUnderlay(t, n, underlay, "ul-"+name, fmt.Sprintf("%s/24", tunnelIP(i)))
		nodes[name] = n
	}
	return nodes
}

// tunnelIP is the tunnel address of the i-th node of overlayNodes.
func tunnelIP(i int) string { return fmt.Sprintf("192.168.100.%d", i+1) }

// startAgents starts an agent on each named node, following the cluster, in gateway mode on
// the nodes gateway names.
func startAgents(t testing.TB, nodes map[string]*testbed.Node, names []string, cluster *raftCluster, gateway ...string) map[string]*testbed.Agent {
	agents := map[string]*testbed.Agent{}
	for i, name := range names {
		agents[name] = testbed.NewAgent(t, ovsgwBin, nodes[name], testbed.AgentOptions{
			Hostname: name, GatewayMode: slices.Contains(gateway, name), TunnelIP: tunnelIP(i),
			ConfigDB: cluster.unixEndpoints(), MetricsAddress: lab.MetricsAddress}, "")
	}
	return agents
}

// plug adds a VM's port to br-int with its VMI's name as iface-id, as a hypervisor would.
func plug(t testing.TB, n *testbed.Node, port, vmi string) {
	t.Helper()
	lab.Eventually(t, 15*time.Second, "br-int created by the agent", func() error {
		_, err := n.Vsctl("br-exists", "br-int")
		return err
	})
	n.MustVsctl(t, "add-port", "br-int", port, "--", "set", "interface", port, "external_ids:iface-id="+vmi)
}

// apply writes a config into the cluster with the CLI, as an operator does.
func (l *overlayLab) apply(t testing.TB, yaml string) {
	t.Helper()
	if err := os.WriteFile(l.configFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ovsgwCLI("db", "apply", "-f", l.configFile, "--db", l.dbCL); err != nil {
		t.Fatalf("db apply: %v\n%s", err, out)
	}
}

func agentStatus(t testing.TB, a *testbed.Agent) control.Status {
	t.Helper()
	out, err := a.CLI("status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s control.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitBindings waits until each node's agent knows each listed VMI as bound (locally, or on
// a peer node) and has synced.
func (l *overlayLab) waitBindings(t testing.TB, want map[string][]string) {
	t.Helper()
	for node, vmis := range want {
		lab.Eventually(t, 30*time.Second, node+" knows where the VMIs are", func() error {
			s := agentStatus(t, l.agents[node])
			bound := map[string]string{}
			for _, b := range s.Bindings {
				if b.Bound {
					bound[b.VMI] = b.Kind + " " + b.Node
				}
			}
			for _, v := range vmis {
				if bound[v] == "" {
					return fmt.Errorf("%s not bound; bindings %v; sync error %q", v, bound, s.LastSyncError)
				}
			}
			if s.SyncedGeneration < s.ConfigGeneration || s.LastSyncError != "" {
				return fmt.Errorf("not synced: %q", s.LastSyncError)
			}
			return nil
		})
	}
}

func TestOverlayThreeNodes(t *testing.T) {
	l := newOverlayLab(t)

	t.Run("remote instance reaches VMs on both compute nodes", func(t *testing.T) {
		l.bms1.MustPing(t, l.vm1.IP)
		l.bms1.MustPing(t, l.vm2.IP)
		l.vm1.MustPing(t, l.vm2.IP)
		l.bms2.MustPing(t, l.vm3.IP)
	})
	t.Run("TCP passes across nodes, and policies hold there", func(t *testing.T) {
		l.bms1.MustTCP(t, l.vm1, 9000)
		if err := l.bms1.TCP(t, l.vm2, 8080); err != nil {
			t.Fatal(err)
		}
		if err := l.bms1.TCPBlocked(t, l.vm2, 9000); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ovsgw trace follows a packet into the tunnel to the node of its destination", func(t *testing.T) {
		r := traceOK(t, l.agents["gw1"], "--vmi", "bms1", "--dst-ip", l.vm1.IP)
		if want := "delivered to VMI vm1 on node c1 via the tunnel to " + tunnelIP(1) + " (VNI 5001)"; r.Verdict.Text != want {
			t.Errorf("verdict %q, want %q\n%s", r.Verdict.Text, want, r.OfprotoTrace)
		}
		if d := r.Verdict.Delivered; len(d) != 1 || d[0].Via != "tunnel" || d[0].Node != "c1" || d[0].TunnelIP != tunnelIP(1) || d[0].VNI != 5001 {
			t.Errorf("delivery %+v", d)
		}
		// A broadcast is flooded to both other nodes with members of blue.
		r = traceOK(t, l.agents["gw1"], "--vmi", "bms1", "--dst-ip", "10.1.0.99", "--dst-mac", "ff:ff:ff:ff:ff:ff")
		var nodes []string
		for _, d := range r.Verdict.Delivered {
			nodes = append(nodes, d.Node)
		}
		if !slices.Equal(nodes, []string{"c1", "c2"}) {
			t.Errorf("broadcast delivered to nodes %v, want c1 and c2: %s", nodes, r.Verdict.Text)
		}
		if out, err := l.agents["gw1"].CLI("trace", "--vmi", "vm1", "--dst-ip", l.bms1.IP); err == nil ||
			!strings.Contains(out, "--vmi vm1 is bound on node c1, not on gw1: trace it there") {
			t.Errorf("trace of a VMI bound on another node: %v\n%s", err, out)
		}
	})
	t.Run("VNs stay isolated across nodes", func(t *testing.T) {
		l.bms1.MustNotPing(t, l.vm3.IP)
		l.vm1.MustNotPing(t, l.vm3.IP)
		l.bms2.MustNotPing(t, l.vm2.IP)
	})
	t.Run("db show lists nodes and bindings", func(t *testing.T) {
		out, err := ovsgwCLI("db", "show", "--db", l.dbCL)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"gw1", "c1", "c2", "192.168.100.1", "eth1", "vm1p"} {
			if !strings.Contains(out, want) {
				t.Errorf("db show lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("a config row out of range is refused whole: agents keep the config in force and say why", func(t *testing.T) {
		l.configRowOutOfRange(t)
	})
	t.Run("a peer's rows out of range are skipped and counted; syncing goes on", func(t *testing.T) {
		l.peerRowsOutOfRange(t)
	})
	t.Run("the database is converted to this schema while the agents run; traffic never stops", func(t *testing.T) {
		l.convertSchema(t)
	})
	t.Run("routing between VNs across nodes, from the config DB", func(t *testing.T) {
		l.routeAcrossNodes(t)
	})
	t.Run("a VM moved to another node keeps working", func(t *testing.T) {
		c1, c2 := l.nodes["c1"], l.nodes["c2"]
		c1.MustVsctl(t, "del-port", "br-int", "vm1p")
		c1.MustExec(t, "ip", "link", "del", "vm1p")
		testbed.Link(t, l.vm1.NS, "eth0", c2.NS, "vm1p")
		l.vm1.MustExec(t, "ip", "link", "set", "eth0", "address", "02:00:00:00:02:01")
		l.vm1.MustExec(t, "ip", "addr", "add", "10.1.0.21/24", "dev", "eth0")
		plug(t, c2, "vm1p", "vm1")
		l.waitBindings(t, map[string][]string{"gw1": {"vm1"}, "c2": {"vm1"}})
		lab.Eventually(t, 15*time.Second, "gw1 sees vm1 on c2", func() error {
			for _, b := range agentStatus(t, l.agents["gw1"]).Bindings {
				if b.VMI == "vm1" && b.Node == "c2" {
					return nil
				}
			}
			return fmt.Errorf("not yet")
		})
		l.bms1.MustPing(t, l.vm1.IP)
		l.vm2.MustPing(t, l.vm1.IP)
	})
	t.Run("the cluster leader dies: a later change reaches every agent and traffic never stops", func(t *testing.T) {
		var wg sync.WaitGroup
		var sent, received int
		var out string
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, received, out = l.bms1.PingCount(l.vm2.IP, 80, 100*time.Millisecond, time.Second)
		}()
		leader := l.cluster.leader(t)
		if leader == nil {
			t.Fatal("no leader")
		}
		leader.cmd.Process.Kill()
		gens := map[string]int{}
		for name, a := range l.agents {
			gens[name] = agentStatus(t, a).ConfigGeneration
		}
		l.apply(t, strings.Replace(overlayYAML, `ports: "8080-8081"`, `ports: "8080-8082"`, 1))
		for name, a := range l.agents {
			lab.Eventually(t, 20*time.Second, name+" follows the change made after the leader died", func() error {
				s := agentStatus(t, a)
				if s.ConfigGeneration <= gens[name] || s.SyncedGeneration < s.ConfigGeneration {
					return fmt.Errorf("generation %d, synced %d (was %d)", s.ConfigGeneration, s.SyncedGeneration, gens[name])
				}
				return nil
			})
		}
		if err := l.bms1.TCP(t, l.vm2, 8082); err != nil {
			t.Errorf("the change did not take effect on c2: %v", err)
		}
		wg.Wait()
		if sent == 0 || received != sent {
			t.Errorf("pings during the leader's death: %d sent, %d received\n%s", sent, received, out)
		}
	})
	t.Run("a node whose agent stopped is shown stale", func(t *testing.T) {
		if err := l.agents["c1"].Proc.Stop(); err != nil {
			t.Fatal(err)
		}
		lab.Eventually(t, 20*time.Second, "c1 stale in db show", func() error {
			out, err := ovsgwCLI("db", "show", "--db", l.dbCL)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "c1") && strings.Contains(line, "STALE") {
					return nil
				}
			}
			return fmt.Errorf("c1 not stale yet:\n%s", out)
		})
	})
}
