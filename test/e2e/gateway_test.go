package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

func TestGatewayNode(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, servicesYAML(t), true)

	t.Run("remote instance reaches local VM", func(t *testing.T) {
		l.BMS1.MustPing(t, l.VM.IP)
		l.VM.MustPing(t, l.BMS1.IP)
	})
	t.Run("remote instances on different VLANs of one VN reach each other", func(t *testing.T) {
		l.BMS1.MustPing(t, l.BMS2.IP)
	})
	t.Run("TCP passes between remote and local", func(t *testing.T) {
		l.BMS1.MustTCP(t, l.VM, 5001)
	})
	t.Run("IPv6 neighbour discovery and pings pass (link-local)", func(t *testing.T) {
		ll := linkLocal(t, l.VM)
		lab.Eventually(t, 10*time.Second, "bms1 pings vm1 over IPv6", func() error {
			_, err := l.BMS1.Exec("ping", "-6", "-c", "2", "-W", "1", ll+"%eth0")
			return err
		})
	})
	t.Run("node services", func(t *testing.T) { testServices(t, l) })
	t.Run("VNs are isolated", func(t *testing.T) {
		l.BMS1.MustNotPing(t, l.BMS3.IP)
		l.VM.MustNotPing(t, l.BMS3.IP)
		l.BMS3.MustNotPing(t, l.VM.IP)
	})
	t.Run("unknown VLAN and untagged frames are dropped and counted", func(t *testing.T) {
		missFlow := func() dumpedFlow {
			for _, f := range dumpFlows(t, l.GW, "br-int") {
				if strings.Contains(f.Text, "priority=10,in_port=") && strings.Contains(f.Text, "actions=drop") {
					return f
				}
			}
			t.Fatal("no drop flow for the gateway port")
			return dumpedFlow{}
		}
		before := missFlow().Packets
		l.Stranger.MustNotPing(t, l.VM.IP)
		l.Untagged.MustNotPing(t, l.VM.IP)
		if after := missFlow().Packets; after <= before {
			t.Fatalf("gateway port drop counter did not grow: %d -> %d", before, after)
		}
	})
	t.Run("flows are annotated with their owners", func(t *testing.T) {
		out, err := l.Agent.CLI("flows", "--vmi", "bms1", "-o", "json")
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
		text, err := l.Agent.CLI("flows", "--table", "classify")
		if err != nil || !strings.Contains(text, "[vmi bms1]") || !strings.Contains(text, "dl_vlan=100") {
			t.Errorf("text flows of table classify lack bms1's VLAN 100 flow: %v\n%s", err, text)
		}
		if _, err := l.Agent.CLI("flows", "--vmi", "nosuch"); err == nil {
			t.Error("flows --vmi of an unknown VMI succeeded")
		}
	})
	t.Run("status shows node, mode, budget and bindings", func(t *testing.T) {
		s := l.Status(t)
		if s.Node != "gw1" || !s.GatewayMode || s.InterfacesUsed != 6 || s.InterfacesLimit != 4352 {
			t.Fatalf("status: %+v", s)
		}
		text, err := l.Agent.CLI("status")
		if err != nil || !strings.Contains(text, "eth1 vlan 100 (eth1-100)") || !strings.Contains(text, "6 / 4352") {
			t.Fatalf("status text: %v\n%s", err, text)
		}
	})
	// The restarted agent runs confined as the packaged systemd unit confines it (its
	// capability bounding set, no_new_privs): what the unit grants is all the agent needs.
	t.Run("agent restart, confined as the packaged unit confines it, keeps every flow and loses no ping", func(t *testing.T) {
		before := dumpFlows(t, l.GW, "br-int")
		confined, want := confinedLikeUnit(t, l.Agent.Dir, l.Agent.Bin) // the agent's directory outlives this subtest
		var wg sync.WaitGroup
		var sent, received int
		var pingOut string
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, received, pingOut = l.BMS1.PingCount(l.VM.IP, 40, 100*time.Millisecond, time.Second)
		}()
		time.Sleep(500 * time.Millisecond)
		if err := l.Agent.Proc.Stop(); err != nil {
			t.Fatal(err)
		}
		l.Agent.Bin = confined
		l.Agent.Start(t)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", l.Agent.Proc.Pid))
		if got := statusFields(string(status), "CapBnd", "NoNewPrivs"); err != nil || got["CapBnd"] != want["CapBnd"] || got["NoNewPrivs"] != want["NoNewPrivs"] {
			t.Fatalf("the agent is not confined like the unit: %v %v, want %v", err, got, want)
		}
		l.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
		wg.Wait()
		if sent == 0 || received != sent {
			t.Errorf("pings across the restart: %d sent, %d received\n%s", sent, received, pingOut)
		}
		after := dumpFlows(t, l.GW, "br-int")
		if gone, added := flowDiff(before, after); len(gone)+len(added) > 0 {
			t.Fatalf("restart changed flows: removed %v, added %v", gone, added)
		}
		for k, f := range after {
			if f.Duration < before[k].Duration {
				t.Errorf("flow re-added (duration %.3f < %.3f): %s", f.Duration, before[k].Duration, k)
			}
		}
	})
	t.Run("ovsgw trace follows a VMI's packet to its verdict", func(t *testing.T) {
		// Delivered locally: every step named, golden; the verdicts the pings above proved.
		r := traceOK(t, l.Agent, "--vmi", "bms1", "--dst-ip", l.VM.IP)
		wantSteps := []string{"classify vmi bms1", "port-security vmi bms1", "arp-responder pipeline default",
			"route-classify pipeline default", "conntrack vn blue", "ct-state pipeline default", "network-policy pipeline default", "egress-acl pipeline default",
			"l2-lookup vmi vm1", "ingress-acl pipeline default", "ct-commit vn blue", "output vmi vm1"}
		if got := stepNames(r); !slices.Equal(got, wantSteps) {
			t.Errorf("steps %q,\nwant %q", got, wantSteps)
		}
		for _, c := range []struct {
			args    []string
			verdict string
		}{
			{[]string{"--vmi", "bms1", "--dst-ip", l.VM.IP}, "delivered to VMI vm1 via port vm1p"},
			{[]string{"--vmi", "vm1", "--dst-ip", l.BMS2.IP}, "delivered to VMI bms2 via eth1 VLAN 101"},
			{[]string{"--vmi", "bms1", "--dst-ip", l.BMS2.IP, "--proto", "udp", "--dst-port", "53"}, "delivered to VMI bms2 via eth1 VLAN 101"},
			{[]string{"--vmi", "bms1", "--dst-ip", "fe80::2:1", "--dst-mac", l.VM.MAC, "--src-ip", "fe80::1:a", "--proto", "icmpv6"},
				"delivered to VMI vm1 via port vm1p"},
			{[]string{"--vmi", "bms1", "--dst-ip", l.BMS2.IP, "--src-ip", "10.1.0.77"},
				"dropped by port security of VMI bms1: the source MAC, IP or ARP claim is not the VMI's"},
			{[]string{"--vmi", "bms1", "--dst-ip", l.BMS2.IP, "--src-mac", "02:00:00:00:0f:0f"},
				"dropped by port security of VMI bms1: the source MAC, IP or ARP claim is not the VMI's"},
			{[]string{"--vmi", "bms1", "--dst-ip", l.VM.IP, "--from-vlan", "300"},
				"dropped: unknown VLAN: no logical interface of physical interface eth1 claims VLAN 300"},
			{[]string{"--vmi", "bms1", "--dst-ip", l.VM.IP, "--from-vlan", "0"},
				"dropped: unknown VLAN: no logical interface of physical interface eth1 claims untagged frames"},
		} {
			if r := traceOK(t, l.Agent, c.args...); r.Verdict.Text != c.verdict {
				t.Errorf("trace %v: verdict %q,\nwant %q\n%s", c.args, r.Verdict.Text, c.verdict, r.OfprotoTrace)
			}
		}
		text, err := l.Agent.CLI("trace", "--vmi", "vm1", "--dst-ip", l.BMS2.IP)
		if err != nil || !strings.Contains(text, "output         [vmi bms2]") || !strings.HasSuffix(text, "\nverdict: delivered to VMI bms2 via eth1 VLAN 101\n") {
			t.Errorf("text trace: %v\n%s", err, text)
		}
		if out, err := l.Agent.CLI("trace", "--vmi", "nosuch", "--dst-ip", l.VM.IP); err == nil || !strings.Contains(out, "--vmi nosuch: no such VMI in the config in force") {
			t.Errorf("trace of an unknown VMI: %v\n%s", err, out)
		}
	})
	t.Run("invalid reload keeps the running config", func(t *testing.T) {
		flows := dumpFlows(t, l.GW, "br-int")
		good, err := os.ReadFile(l.Agent.YAML)
		if err != nil {
			t.Fatal(err)
		}
		l.Agent.WriteConfig(t, strings.Replace(lab.GatewayYAML, "vlan: 101", "vlan: 5000", 1))
		lab.Eventually(t, 10*time.Second, "config error in status", func() error {
			if e := l.Status(t).LastConfigError; !strings.Contains(e, "logicalInterfaces[eth1-101].vlan: 5000 is out of range") {
				return fmt.Errorf("last config error %q", e)
			}
			return nil
		})
		l.BMS2.MustPing(t, l.VM.IP)
		if gone, added := flowDiff(flows, dumpFlows(t, l.GW, "br-int")); len(gone)+len(added) > 0 {
			t.Fatalf("a refused config changed flows: removed %v, added %v", gone, added)
		}
		l.SetConfig(t, string(good))
		if e := l.Status(t).LastConfigError; e != "" {
			t.Fatalf("error stays after a good config: %s", e)
		}
	})
	t.Run("moving a remote instance to another VLAN moves its traffic", func(t *testing.T) {
		l.ToR.MustVsctl(t, "set", "port", "bms2", "tag=102")
		l.BMS2.MustNotPing(t, l.VM.IP)
		l.SetConfig(t, strings.Replace(lab.GatewayYAML, "vlan: 101", "vlan: 102", 1))
		l.BMS2.MustPing(t, l.VM.IP)
		for k := range dumpFlows(t, l.GW, "br-int") {
			if strings.Contains(k, "dl_vlan=101") || strings.Contains(k, "set_field:4197->vlan_vid") {
				t.Errorf("VLAN 101 flow left behind: %s", k)
			}
		}
	})
	t.Run("removing a VMI removes exactly its flows and stops its traffic", func(t *testing.T) {
		moved := strings.Replace(lab.GatewayYAML, "vlan: 101", "vlan: 102", 1)
		before := dumpFlows(t, l.GW, "br-int")
		var bms2Owner uint64
		for k, f := range before {
			if strings.Contains(k, "dl_vlan=102") {
				bms2Owner = owner(f.Cookie)
			}
		}
		var bms2Flows []string
		for k, f := range before {
			if owner(f.Cookie) == bms2Owner {
				bms2Flows = append(bms2Flows, k)
			}
		}
		without := strings.Replace(moved, "          - {name: eth1-101, vlan: 102, type: l2, vmi: bms2}\n", "", 1)
		without = strings.Replace(without, `  - {name: bms2, network: blue, mac: "02:00:00:00:01:0b", instanceIPs: [{address: 10.1.0.11}]}`+"\n", "", 1)
		if without == moved || bms2Owner == 0 {
			t.Fatal("test bug: bms2 not found in the config or the flows")
		}
		l.SetConfig(t, without)
		gone, added := flowDiff(before, dumpFlows(t, l.GW, "br-int"))
		if len(added) > 0 {
			t.Errorf("removing bms2 added flows: %v", added)
		}
		if len(gone) != len(bms2Flows) {
			t.Errorf("removing bms2 removed %d flows, want its %d: %v", len(gone), len(bms2Flows), gone)
		}
		for _, f := range gone {
			if owner(f.Cookie) != bms2Owner {
				t.Errorf("removed a flow not of bms2: %s", f.Text)
			}
		}
		l.BMS2.MustNotPing(t, l.VM.IP)
		l.BMS1.MustPing(t, l.VM.IP)
	})
	t.Run("routing between VNs on one node", func(t *testing.T) { testRoutingOnOneNode(t, l) })
}

// linkLocal is a host's IPv6 link-local address on eth0.
func linkLocal(t *testing.T, h *testbed.Host) string {
	t.Helper()
	var addr string
	lab.Eventually(t, 10*time.Second, h.Name+" has a link-local address", func() error {
		out := h.MustExec(t, "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
		m := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`).FindStringSubmatch(out)
		if m == nil || strings.Contains(out, "tentative") {
			return fmt.Errorf("%s", out)
		}
		addr = m[1]
		return nil
	})
	return addr
}
