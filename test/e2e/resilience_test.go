package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// Resilience: every part of a gateway node restarts, or misbehaves, while pings run.
const (
	pingInterval = 100 * time.Millisecond
	pingWait     = time.Second // how long ping waits for the last reply
	// flowsBackWithin is how soon after ovs-vswitchd's return the agent must have restored
	// every flow.
	flowsBackWithin = time.Second
	// resyncSeconds is the agent's resync_interval in the test of flows changed behind its back.
	resyncSeconds = 2
	// burstWrites config writes are made within burstWindow.
	burstWrites = 1000
	burstWindow = 900 * time.Millisecond
)

// pinger is a ping running in the background.
type pinger struct {
	done           chan struct{}
	sent, received int
	out            string
}

// startPings sends count pings from h to dst, pingInterval apart, in the background.
func startPings(h *testbed.Host, dst string, count int) *pinger {
	p := &pinger{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.sent, p.received, p.out = h.PingCount(dst, count, pingInterval, pingWait)
	}()
	return p
}

// wait returns once the pings are over.
func (p *pinger) wait() *pinger { <-p.done; return p }

// requireNoLoss fails unless every ping was answered.
func (p *pinger) requireNoLoss(t *testing.T, what string) {
	t.Helper()
	p.wait()
	if p.sent == 0 || p.received != p.sent {
		t.Errorf("pings during %s: %d sent, %d received\n%s", what, p.sent, p.received, p.out)
	}
}

// requireSameFlows fails unless after holds exactly the flows of before, none re-added (a
// flow's duration only grows).
func requireSameFlows(t *testing.T, what string, before, after map[string]dumpedFlow) {
	t.Helper()
	if gone, added := flowDiff(before, after); len(gone)+len(added) > 0 {
		t.Errorf("%s changed flows: removed %v, added %v", what, gone, added)
	}
	for k, f := range after {
		if b, ok := before[k]; ok && f.Duration < b.Duration {
			t.Errorf("%s re-added a flow (duration %.3f s, was %.3f s): %s", what, f.Duration, b.Duration, k)
		}
	}
}

// groupLines returns a bridge's groups as ovs-ofctl prints them, sorted.
func groupLines(t *testing.T, node *testbed.Node, bridge string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(node.MustOfctl(t, "dump-groups", bridge), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "group_id=") {
			out = append(out, line)
		}
	}
	sort.Strings(out)
	return out
}

// requireNoDuplicates fails unless the node has one bridge, br-int, and every port and
// interface exactly once.
func requireNoDuplicates(t *testing.T, node *testbed.Node, ports []string) {
	t.Helper()
	if brs := strings.Fields(node.MustVsctl(t, "list-br")); strings.Join(brs, " ") != "br-int" {
		t.Errorf("bridges %v, want br-int only", brs)
	}
	got := strings.Fields(node.MustVsctl(t, "list-ports", "br-int"))
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(ports, " ") {
		t.Errorf("ports of br-int %v, want %v", got, ports)
	}
	for _, table := range []string{"Port", "Interface"} {
		names := strings.Fields(strings.ReplaceAll(node.MustVsctl(t, "--format=csv", "--no-headings", "--columns=name", "list", table), `"`, ""))
		seen := map[string]int{}
		for _, n := range names {
			seen[n]++
		}
		for n, c := range seen {
			if c > 1 {
				t.Errorf("%d %s rows named %s", c, table, n)
			}
		}
	}
}

// lastSyncChanges is what the agent's last sync sent.
func lastSyncChanges(t *testing.T, l *lab.Gateway) int {
	t.Helper()
	return l.Status(t).LastSyncChanges
}

// kill -9 of the agent, and a restart: traffic never notices, and the new agent finds every
// flow in place and sends nothing.
func TestResilienceAgentKill9(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, true)
	l.BMS1.MustPing(t, l.VM.IP) // ARP and MAC learning done before counting
	before := dumpFlows(t, l.GW, "br-int")
	groups := groupLines(t, l.GW, "br-int")
	pings := startPings(l.BMS1, l.VM.IP, 60)
	time.Sleep(500 * time.Millisecond)
	if err := l.Agent.Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // no agent at all for a while
	l.Agent.Start(t)
	l.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
	pings.requireNoLoss(t, "kill -9 and restart of the agent")
	requireSameFlows(t, "kill -9 and restart of the agent", before, dumpFlows(t, l.GW, "br-int"))
	if g := groupLines(t, l.GW, "br-int"); strings.Join(g, "\n") != strings.Join(groups, "\n") {
		t.Errorf("groups changed across the restart:\n%v\nwant\n%v", g, groups)
	}
	if n := lastSyncChanges(t, l); n != 0 {
		t.Errorf("the restarted agent's sync sent %d changes, want none", n)
	}
}

// ovs-vswitchd restarts with an empty flow table: the agent puts every flow and group back
// within a second of the switch's return, and traffic recovers.
func TestResilienceVswitchdRestart(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, true)
	l.BMS1.MustPing(t, l.VM.IP)
	before := dumpFlows(t, l.GW, "br-int")
	groups := groupLines(t, l.GW, "br-int")
	pings := startPings(l.BMS1, l.VM.IP, 100)
	time.Sleep(500 * time.Millisecond)
	l.GW.StopVswitchd(t)
	time.Sleep(time.Second)
	called := time.Now()
	l.GW.StartVswitchd(t)
	returned := time.Now()
	var restored time.Time
	for deadline := returned.Add(10 * time.Second); ; {
		out, err := l.GW.Ofctl("dump-flows", "br-int")
		if err == nil {
			now := time.Now()
			gone, _ := flowDiff(before, parseDump(out))
			if len(gone) == 0 && strings.Join(groupLines(t, l.GW, "br-int"), "\n") == strings.Join(groups, "\n") {
				restored = now
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("flows not restored within 10 s of ovs-vswitchd's return; dump: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("ovs-vswitchd started in %v; every flow back %v after StartVswitchd returned (%v after it was called)",
		returned.Sub(called).Round(time.Millisecond), restored.Sub(returned).Round(time.Millisecond), restored.Sub(called).Round(time.Millisecond))
	if d := restored.Sub(returned); d > flowsBackWithin {
		t.Errorf("flows restored %v after ovs-vswitchd returned, want within %v", d, flowsBackWithin)
	}
	after := dumpFlows(t, l.GW, "br-int")
	if gone, added := flowDiff(before, after); len(gone)+len(added) > 0 {
		t.Errorf("flows after the restart differ: missing %v, extra %v", gone, added)
	}
	pings.wait()
	t.Logf("pings across the restart: %d sent, %d received", pings.sent, pings.received)
	if pings.received == 0 {
		t.Errorf("no ping answered across the restart:\n%s", pings.out)
	}
	l.BMS1.MustPing(t, l.VM.IP)
	l.VM.MustPing(t, l.BMS2.IP)
	l.BMS1.MustNotPing(t, l.BMS3.IP)
}

// parseDump is dumpFlows on text already read.
func parseDump(out string) map[string]dumpedFlow {
	flows := map[string]dumpedFlow{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.Contains(line, "actions=") {
			continue
		}
		text := strings.TrimSpace(counterField.ReplaceAllString(line, ""))
		flows[text] = dumpedFlow{Text: text}
	}
	return flows
}

// ovsdb-server restarts: the agent reconnects and resynchronises (it sees ports plugged after
// the restart), and nothing is duplicated: bridges, ports, interfaces, flows.
func TestResilienceOVSDBRestart(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, true)
	l.BMS1.MustPing(t, l.VM.IP)
	ports := []string{"eth1", "vm1p"}
	requireNoDuplicates(t, l.GW, ports)
	before := dumpFlows(t, l.GW, "br-int")
	pings := startPings(l.BMS1, l.VM.IP, 80)
	time.Sleep(500 * time.Millisecond)
	l.GW.StopDB(t)
	time.Sleep(time.Second)
	l.GW.StartDB(t)
	lab.Eventually(t, 15*time.Second, "agent reconnected to OVSDB", func() error {
		if s := l.Status(t); !s.OVSDBConnected || s.LastSyncError != "" {
			return fmt.Errorf("ovsdb connected %v, sync error %q", s.OVSDBConnected, s.LastSyncError)
		}
		return nil
	})
	l.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
	pings.wait()
	t.Logf("pings across the ovsdb-server restart (a netdev datapath stops while the database is down): %d sent, %d received", pings.sent, pings.received)
	l.BMS1.MustPing(t, l.VM.IP)
	requireNoDuplicates(t, l.GW, ports)
	requireSameFlows(t, "an ovsdb-server restart", before, dumpFlows(t, l.GW, "br-int"))

	// The agent's view of the database is live again: a VM unplugged and plugged back after
	// the restart is unbound and bound again.
	l.GW.MustVsctl(t, "del-port", "br-int", "vm1p")
	lab.Eventually(t, 10*time.Second, "vm1 unbound after its port went", func() error {
		for _, b := range l.Status(t).Bindings {
			if b.VMI == "vm1" && b.Bound {
				return fmt.Errorf("vm1 still bound to %s", b.Port)
			}
		}
		return nil
	})
	l.GW.MustVsctl(t, "add-port", "br-int", "vm1p", "--", "set", "interface", "vm1p", "external_ids:iface-id=vm1")
	l.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
	l.BMS1.MustPing(t, l.VM.IP)
	requireNoDuplicates(t, l.GW, ports)
}

// Flows changed behind the agent's back: within one resync interval a flow with ovsgw's
// cookie that ovsgw does not want is removed and a deleted one is put back; a flow of another
// cookie is never touched.
func TestResilienceResyncUndoesForeignChanges(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, true)
	l.Agent.AppendConf(t, fmt.Sprintf("[DEFAULT]\nresync_interval = %d\n", resyncSeconds))
	if err := l.Agent.Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	l.Agent.Start(t)
	l.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
	l.BMS1.MustPing(t, l.VM.IP)
	before := dumpFlows(t, l.GW, "br-int")
	var bms2Classify string
	for k := range before {
		if strings.Contains(k, "dl_vlan=101") && strings.Contains(k, "table=0") {
			bms2Classify = k
		}
	}
	if bms2Classify == "" {
		t.Fatal("test bug: no classify flow for bms2 (VLAN 101)")
	}
	const (
		stray   = "cookie=0x6f67030012345678,table=50,priority=5,reg1=0x9999,actions=drop" // ovsgw's cookie, no object of ovsgw's
		foreign = "cookie=0x1234,table=50,priority=6,reg1=0x9999,actions=drop"
	)
	pings := startPings(l.BMS1, l.VM.IP, 10*resyncSeconds*3)
	changed := time.Now()
	l.GW.MustOfctl(t, "add-flow", "br-int", stray)
	l.GW.MustOfctl(t, "add-flow", "br-int", foreign)
	spec, _, _ := strings.Cut(bms2Classify, " actions=")
	_, spec, _ = strings.Cut(spec, ", ") // without its cookie
	l.GW.MustOfctl(t, "del-flows", "--strict", "br-int", spec)
	has := func(flows map[string]dumpedFlow, cookie uint64, part string) (dumpedFlow, bool) {
		for k, f := range flows {
			if f.Cookie == cookie && strings.Contains(k, part) {
				return f, true
			}
		}
		return dumpedFlow{}, false
	}
	undone := func() error {
		flows := dumpFlows(t, l.GW, "br-int")
		if _, ok := has(flows, 0x6f67030012345678, "reg1=0x9999"); ok {
			return fmt.Errorf("the stray ovsgw-cookie flow is still there")
		}
		if _, ok := flows[bms2Classify]; !ok {
			return fmt.Errorf("bms2's classify flow is not back")
		}
		return nil
	}
	lab.Eventually(t, resyncSeconds*time.Second+3*time.Second, "changes behind the agent's back undone", undone)
	took := time.Since(changed)
	t.Logf("undone %v after the changes (resync_interval %d s)", took.Round(time.Millisecond), resyncSeconds)
	if took > resyncSeconds*time.Second+time.Second {
		t.Errorf("undone only after %v, want within one resync interval (%d s) and the sync", took, resyncSeconds)
	}
	f1, ok := has(dumpFlows(t, l.GW, "br-int"), 0x1234, "reg1=0x9999")
	if !ok {
		t.Fatal("the flow with another cookie was removed")
	}
	time.Sleep(2 * resyncSeconds * time.Second) // two more resyncs
	after := dumpFlows(t, l.GW, "br-int")
	if f2, ok := has(after, 0x1234, "reg1=0x9999"); !ok || f2.Duration < f1.Duration {
		t.Errorf("the flow with another cookie was touched by a resync: %v -> %v (present %v)", f1, f2, ok)
	}
	delete(after, f1.Text)
	if gone, added := flowDiff(before, after); len(gone)+len(added) > 0 {
		t.Errorf("after the resyncs the flows differ from before: missing %v, extra %v", gone, added)
	}
	pings.requireNoLoss(t, "the resyncs")
	l.BMS2.MustPing(t, l.VM.IP)
}

// configOnTmpfs moves the agent's gateway config to a tmpfs and restarts the agent on it: a
// write and rename there takes microseconds, on a disk up to a millisecond, too slow for 1,000
// writes within a second.
func configOnTmpfs(t *testing.T, l *lab.Gateway) {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "ovsgw-burst-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf, err := os.ReadFile(l.Agent.Conf)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(dir, "gateway.yaml")
	text := strings.Replace(string(conf), "file = "+l.Agent.YAML+"\n", "file = "+moved+"\n", 1)
	if text == string(conf) {
		t.Fatalf("test bug: no [CONFIG] file = %s in the agent config:\n%s", l.Agent.YAML, conf)
	}
	yaml, err := os.ReadFile(l.Agent.YAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Agent.Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	l.Agent.YAML = moved
	l.Agent.WriteConfig(t, string(yaml))
	if err := os.WriteFile(l.Agent.Conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	l.Agent.Start(t)
	l.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
	if s := l.Status(t); s.ConfigFile != moved {
		t.Fatalf("the agent reads %s, want %s", s.ConfigFile, moved)
	}
}

// burstYAML is the lab's config, varied by i: bms3's address and a number of extra local VMIs
// of blue (each with an address the ARP responder answers).
func burstYAML(i int) string {
	y := strings.Replace(lab.GatewayYAML, "{address: 10.1.0.30}", fmt.Sprintf("{address: 10.1.0.%d}", 100+i%150), 1)
	for e := 0; e < i%4; e++ {
		y += fmt.Sprintf("  - {name: extra%d, network: blue, mac: \"02:00:00:00:0e:%02x\", instanceIPs: [{address: 10.1.0.%d}]}\n", e, e, 60+e+i%7)
	}
	return y
}

// 1,000 config writes within a second are coalesced, and the bridge ends in exactly the state
// of the last: the flows and groups a freshly started agent gives that config on another node
// with the same ports.
func TestResilienceConfigBurst(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, true)
	configOnTmpfs(t, l)
	l.BMS1.MustPing(t, l.VM.IP)
	configs := make([]string, burstWrites)
	for i := range configs {
		configs[i] = burstYAML(i)
	}
	final := configs[burstWrites-1]
	if final == configs[burstWrites-2] || final == lab.GatewayYAML {
		t.Fatal("test bug: the last config is not different from the one before")
	}
	genBefore := l.Status(t).ConfigGeneration
	pings := startPings(l.BMS1, l.VM.IP, 40)
	start := time.Now()
	for i := 0; i < burstWrites; i++ {
		l.Agent.WriteConfig(t, configs[i])
		if d := time.Until(start.Add(burstWindow * time.Duration(i+1) / burstWrites)); d > 0 {
			time.Sleep(d)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("test bug: %d writes took %v, more than a second", burstWrites, took)
	}
	// Settled: the bridge at the config in force, and no reload for longer than the agent
	// takes to notice a file change.
	var gens int
	lab.Eventually(t, 20*time.Second, "agent settled on the last config", func() error {
		s := l.Status(t)
		if s.SyncedGeneration != s.ConfigGeneration || s.LastSyncError != "" || s.LastConfigError != "" {
			return fmt.Errorf("generation %d of %d, errors %q %q", s.SyncedGeneration, s.ConfigGeneration, s.LastSyncError, s.LastConfigError)
		}
		time.Sleep(1500 * time.Millisecond)
		if again := l.Status(t); again.ConfigGeneration != s.ConfigGeneration || again.SyncedGeneration != again.ConfigGeneration {
			return fmt.Errorf("still reloading: generation %d -> %d", s.ConfigGeneration, again.ConfigGeneration)
		}
		gens = s.ConfigGeneration - genBefore
		return nil
	})
	t.Logf("%d config writes in %v put %d configs in force", burstWrites, burstWindow, gens)
	if gens < 1 || gens > 10 {
		t.Errorf("%d writes put %d configs in force, want them coalesced into a few (1..10)", burstWrites, gens)
	}
	pings.requireNoLoss(t, "the config burst")

	// The reference: a fresh agent on another node with the same ports, on the last config.
	ref := testbed.NewNode(t, "ref")
	far := testbed.NewNS(t, "reffar")
	testbed.Link(t, far, "p-eth1", ref.NS, "eth1")
	testbed.Link(t, far, "p-vm1p", ref.NS, "vm1p")
	ref.AddBridge(t, "br-int", "fail_mode=secure", "protocols=OpenFlow13")
	for _, port := range []string{"eth1", "vm1p"} {
		ofport := strings.TrimSpace(l.GW.MustVsctl(t, "get", "interface", port, "ofport"))
		settings := []string{"--", "set", "interface", port, "ofport_request=" + ofport}
		if port == "vm1p" {
			settings = append(settings, "external_ids:iface-id=vm1")
		}
		ref.AddPort(t, "br-int", port, settings...)
	}
	refAgent := testbed.NewAgent(t, ovsgwBin, ref, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true}, final)
	refLab := &lab.Gateway{GW: ref, Agent: refAgent}
	refLab.WaitBound(t, "vm1", "bms1", "bms2", "bms3")
	got, want := dumpFlows(t, l.GW, "br-int"), dumpFlows(t, ref, "br-int")
	if missing, extra := flowDiff(want, got); len(missing)+len(extra) > 0 {
		t.Errorf("after the burst the flows differ from a fresh agent's on the last config:\nmissing %v\nextra %v", missing, extra)
	}
	if g, w := groupLines(t, l.GW, "br-int"), groupLines(t, ref, "br-int"); strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("after the burst the groups differ from a fresh agent's:\n%v\nwant\n%v", g, w)
	}
}

// inPlaceRewrites is how many times TestResilienceConfigRewrittenInPlace rewrites the file.
const inPlaceRewrites = 100

// rewriteInPlace writes text over path the way `cp` or an editor saving in place does: open
// with truncation, write in pieces with pauses between them, close. In between, the file is
// empty or a prefix of text, which may well parse as a smaller, valid config.
func rewriteInPlace(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{text[:len(text)/3], text[len(text)/3 : 2*len(text)/3], text[2*len(text)/3:]} {
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// A config file rewritten in place many times while traffic flows is never put in force half
// written: no ping is lost, no config is refused, and the bridge ends on the last content.
func TestResilienceConfigRewrittenInPlace(t *testing.T) {
	l := lab.NewGateway(t, ovsgwBin, lab.GatewayYAML, true)
	l.BMS1.MustPing(t, l.VM.IP)
	even, odd := burstYAML(1), burstYAML(2) // bms3 at 10.1.0.101 or 10.1.0.102, and extra VMIs
	genBefore := l.Status(t).ConfigGeneration
	pings := startPings(l.BMS1, l.VM.IP, 40)
	for i := 0; i < inPlaceRewrites; i++ {
		text := even
		if i%2 == 1 {
			text = odd
		}
		rewriteInPlace(t, l.Agent.YAML, text)
		time.Sleep(30 * time.Millisecond) // longer than the agent's burst gap: each rewrite is seen on its own
	}
	pings.requireNoLoss(t, "the in-place rewrites")
	var gens int
	lab.Eventually(t, 20*time.Second, "agent settled on the last config", func() error {
		s := l.Status(t)
		if s.SyncedGeneration != s.ConfigGeneration || s.LastSyncError != "" {
			return fmt.Errorf("generation %d of %d, sync error %q", s.SyncedGeneration, s.ConfigGeneration, s.LastSyncError)
		}
		gens = s.ConfigGeneration - genBefore
		return nil
	})
	s := l.Status(t)
	t.Logf("%d in-place rewrites put %d configs in force", inPlaceRewrites, gens)
	if s.LastConfigError != "" || strings.Contains(l.Agent.LogText(), "refused") {
		t.Errorf("a config was refused during the rewrites (a partial file was read): %q", s.LastConfigError)
	}
	if gens < inPlaceRewrites/10 {
		t.Errorf("%d rewrites put only %d configs in force: the agent did not follow them", inPlaceRewrites, gens)
	}
	flows := l.GW.MustOfctl(t, "dump-flows", "br-int")
	if !strings.Contains(flows, "arp_tpa=10.1.0.102") || strings.Contains(flows, "arp_tpa=10.1.0.101") {
		t.Errorf("the bridge does not hold the last config (bms3 at 10.1.0.102):\n%s", flows)
	}
}
