package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

// haLab: a ToR running RSTP, trunked to two gateways (or two ToRs joined by a link, each
// trunked to one gateway); a compute node; all three agents on the shared database.
type haLab struct {
	cluster *raftCluster
	nodes   map[string]*testbed.Node
	agents  map[string]*testbed.Agent
	tor     *testbed.ToR   // bms1's switch
	tors    []*testbed.ToR // every switch: tor first
	trunkOf map[string]*testbed.ToR
	bms1    *testbed.Host
	vm1     *testbed.Host
}

// haOptions shape a haLab.
type haOptions struct {
	// timers are the switches' RSTP settings; nil: torRSTPTimers. defaultTimers: none at all.
	timers        []string
	defaultTimers bool
	// twoSwitches: gw1 on switch tor, gw2 on switch torb, the switches joined by link isl.
	twoSwitches bool
	// rstpLog turns on the switches' RSTP debug log (for the transition times).
	rstpLog bool
	// switchTimersOnly runs the gateways with ha_rapid = false: the baseline, the switch's own
	// RSTP timers move the traffic.
	switchTimersOnly bool
}

// Two switches: tor is the root (its priority is the lower); the gateway trunks cost more than
// the link between the switches (the README's HA section says why: the BPDU network carries
// no traffic between switches, so it must never be a switch's way to the root).
const (
	rootPriority     = "other_config:rstp-priority=4096"
	otherPriority    = "other_config:rstp-priority=8192"
	gatewayTrunkCost = "other_config:rstp-path-cost=200000"
)

func newHALab(t testing.TB) *haLab { return newHALabWith(t, haOptions{}) }

func newHALabWith(t testing.TB, o haOptions) *haLab {
	l := &haLab{cluster: startCluster(t), nodes: map[string]*testbed.Node{}, agents: map[string]*testbed.Agent{},
		trunkOf: map[string]*testbed.ToR{}}
	file := filepath.Join(t.TempDir(), "ha.yaml")
	if err := os.WriteFile(file, []byte(haYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ovsgwCLI("db", "apply", "-f", file, "--db", l.cluster.endpoints()); err != nil {
		t.Fatalf("db apply: %v\n%s", err, out)
	}
	names := []string{"gw1", "gw2", "c1"}
	l.nodes = overlayNodes(t, testbed.NewToR(t, "ul"), names...)
	timers := o.timers
	if timers == nil && !o.defaultTimers {
		timers = torRSTPTimers
	}
	l.tor = testbed.NewToR(t, "tor")
	l.tors = []*testbed.ToR{l.tor}
	if o.twoSwitches {
		l.tors = append(l.tors, testbed.NewToR(t, "torb"))
	}
	for i, tor := range l.tors {
		if o.rstpLog {
			tor.MustAppctl(t, "vlog/set", "rstp:file:dbg", "rstp_sm:file:dbg")
		}
		settings := append([]string{"set", "bridge", testbed.ToRBridge, "rstp_enable=true"}, timers...)
		if o.twoSwitches {
			settings = append(settings, []string{rootPriority, otherPriority}[i])
		}
		tor.MustVsctl(t, settings...)
	}
	if o.twoSwitches {
		testbed.Link(t, l.tors[0].NS, "isl", l.tors[1].NS, "isl")
		l.tors[0].TrunkPort(t, "isl")
		l.tors[1].TrunkPort(t, "isl")
	}
	for i, gw := range []string{"gw1", "gw2"} {
		tor := l.tors[min(i, len(l.tors)-1)]
		trunk := fmt.Sprintf("trunk%d", i+1)
		testbed.Link(t, tor.NS, trunk, l.nodes[gw].NS, "eth1")
		tor.TrunkPort(t, trunk)
		if o.twoSwitches {
			tor.MustVsctl(t, "set", "port", trunk, gatewayTrunkCost)
		}
		l.trunkOf[gw] = tor
	}
	l.bms1 = l.tor.AddHost(t, "bms1", 100, "02:00:00:00:01:0a", "10.1.0.10/24")
	l.vm1 = testbed.NewHost(t, "vm1", l.nodes["c1"], "vm1p", "02:00:00:00:02:01", "10.1.0.21/24")
	l.agents = startAgents(t, l.nodes, names, l.cluster, "gw1", "gw2")
	if o.switchTimersOnly {
		for _, gw := range []string{"gw1", "gw2"} {
			if err := l.agents[gw].Proc.Kill(); err != nil {
				t.Fatal(err)
			}
			l.agents[gw].AppendConf(t, "\n[DEFAULT]\nha_rapid = false\n")
			l.agents[gw].Start(t)
		}
	}
	plug(t, l.nodes["c1"], "vm1p", "vm1")
	return l
}

// activeWhy is what an active gateway's status says it acts on: the switch's BPDUs.
var activeWhy = regexp.MustCompile(`the switch's port is designated and forwarding: RST BPDU|the group agreed to the switch's proposal`)

var rstpPort = regexp.MustCompile(`(?m)^\s*(trunk\d)\s+(\w+)\s+(\w+)`)

// forwardingTrunks lists the switches' trunk ports to gateways whose RSTP state is forwarding.
func (l *haLab) forwardingTrunks(t testing.TB) []string {
	var fwd []string
	for _, tor := range l.tors {
		out := tor.MustAppctl(t, "rstp/show", testbed.ToRBridge)
		for _, m := range rstpPort.FindAllStringSubmatch(out, -1) {
			if strings.EqualFold(m[3], "forwarding") {
				fwd = append(fwd, m[1])
			}
		}
	}
	return fwd
}

// rstpShow is every switch's rstp/show, for failure messages.
func (l *haLab) rstpShow(t testing.TB) string {
	var b strings.Builder
	for _, tor := range l.tors {
		b.WriteString(tor.MustAppctl(t, "rstp/show", testbed.ToRBridge))
	}
	return b.String()
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
			return fmt.Errorf("the switches forward on %v; RSTP:\n%s", fwd, l.rstpShow(t))
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

// noDuplicates waits until to answers (the nodes may still be following a role change), then
// pings and fails on a lost or duplicate reply.
func noDuplicates(t testing.TB, from *testbed.Host, to string) {
	t.Helper()
	lab.Eventually(t, 30*time.Second, from.Name+" reaches "+to, func() error {
		_, err := from.Ping(to, 1, time.Second)
		return err
	})
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
		noDuplicates(t, l.vm1, l.bms1.IP)
		noDuplicates(t, l.bms1, l.vm1.IP)
	})
	t.Run("status and db show name each gateway's role", func(t *testing.T) {
		s := agentStatus(t, l.agents[first])
		if s.HA == nil || s.HA.Group != "stp" || len(s.HA.Gateways) != 2 || !activeWhy.MatchString(s.HA.Reason) {
			t.Fatalf("HA status: %+v", s.HA)
		}
		if out, err := l.agents[first].CLI("status"); err != nil || !regexp.MustCompile(`why: eth1: `+activeWhy.String()).MatchString(out) {
			t.Fatalf("status does not say why: %v\n%s", err, out)
		}
		out, err := ovsgwCLI("db", "show", "--db", l.cluster.endpoints())
		if err != nil || !strings.Contains(out, "active of group stp since") || !strings.Contains(out, "standby of group stp since") ||
			!regexp.MustCompile(`active of group stp since \S+ \(eth1: `+activeWhy.String()).MatchString(out) {
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
			sent, received, out = l.vm1.PingCount(l.bms1.IP, 100, 100*time.Millisecond, time.Second)
		}()
		time.Sleep(time.Second)
		cut := time.Now()
		l.nodes[first].MustExec(t, "ip", "link", "set", "eth1", "down")
		defer l.nodes[first].MustExec(t, "ip", "link", "set", "eth1", "up") // whatever happens: the next events need both
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
	t.Run("metrics show each gateway's role and count its changes", func(t *testing.T) {
		if second == "" {
			t.Fatal("no failover")
		}
		// The link is back: the roles may still be moving (failback), so metrics and status
		// are compared until they agree.
		lab.Eventually(t, 20*time.Second, "metrics agree with status on the roles", func() error {
			cur := l.active(t, 60*time.Second)
			for _, gw := range []string{first, second} {
				text := lab.Scrape(t, l.nodes[gw])
				promtoolCheck(t, text)
				want := 0.0
				if gw == cur {
					want = 1
				}
				if v, ok := metricValue(text, `ovsgw_ha_role{group="stp",role="active"}`); !ok || v != want {
					return fmt.Errorf("%s: ovsgw_ha_role active %v (found %v), want %v (status: %s active)", gw, v, ok, want, cur)
				}
				if v, ok := metricValue(text, `ovsgw_ha_role{group="stp",role="standby"}`); !ok || v != 1-want {
					return fmt.Errorf("%s: ovsgw_ha_role standby %v (found %v), want %v", gw, v, ok, 1-want)
				}
				// first went active, then standby at the cut; second standby, then active.
				if v, _ := metricValue(text, `ovsgw_ha_role_changes_total{group="stp"}`); v < 1 {
					return fmt.Errorf("%s: ovsgw_ha_role_changes_total %v, want at least 1", gw, v)
				}
				if v, _ := metricValue(text, "ovsgw_configdb_connected"); v != 1 {
					return fmt.Errorf("%s: ovsgw_configdb_connected %v, want 1", gw, v)
				}
			}
			return nil
		})
	})
	// The events of the "never a loop" list, in one topology run; every one is watched
	// for storms on the switch's access port to bms1 and for duplicate replies.
	storms := watchStorms(t, l.tor.NS, "bms1")
	noStorm := func(t *testing.T) {
		t.Helper()
		if s := storms.Storms(); len(s) > 0 {
			t.Fatalf("storm on the switch's access port to bms1:\n%s", strings.Join(s, "\n"))
		}
	}
	settled := func(t *testing.T) string {
		t.Helper()
		gw := l.active(t, 60*time.Second)
		noDuplicates(t, l.vm1, l.bms1.IP)
		noDuplicates(t, l.bms1, l.vm1.IP)
		noStorm(t)
		return gw
	}
	// during runs event while vm1 pings bms1 every 20 ms for d and fails on a duplicate.
	during := func(t *testing.T, d time.Duration, event func()) {
		t.Helper()
		wait := pingFor(l.vm1, l.bms1.IP, d)
		time.Sleep(time.Second)
		event()
		out := wait()
		rs := replies(out)
		gap, lost := outage(rs, time.Time{}, time.Now())
		t.Logf("pings every %v for %v: %d replies, longest outage %.3fs (%d lost)", haPingInterval, d, len(rs), gap.Seconds(), lost)
		if strings.Contains(out, "DUP!") {
			t.Fatalf("duplicate replies:\n%s", out)
		}
	}
	var back string
	t.Run("the link is cut and restored 5 times at random intervals: no loop, no duplicates", func(t *testing.T) {
		res := l.flap(t, 5, 300*time.Millisecond, 2*time.Second)
		t.Logf("%s", res)
		if res.dups > 0 || len(res.storms) > 0 {
			t.Fatalf("%s", res)
		}
		back = settled(t)
	})
	t.Run("the active gateway's agent is killed with -9 and restarted", func(t *testing.T) {
		gw := settled(t)
		during(t, 10*time.Second, func() {
			if err := l.agents[gw].Proc.Kill(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			l.agents[gw].Start(t)
		})
		settled(t)
	})
	t.Run("the active gateway node's Open vSwitch is restarted", func(t *testing.T) {
		gw := settled(t)
		during(t, 15*time.Second, func() {
			l.nodes[gw].StopVswitchd(t)
			l.nodes[gw].StartVswitchd(t)
		})
		settled(t)
	})
	t.Run("the config DB is unavailable during a failover", func(t *testing.T) {
		gw := settled(t)
		other := map[string]string{"gw1": "gw2", "gw2": "gw1"}[gw]
		for _, m := range l.cluster.members {
			if err := m.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
		}
		resume := func() {
			for _, m := range l.cluster.members {
				_ = m.cmd.Process.Signal(syscall.SIGCONT)
			}
		}
		defer resume()
		l.nodes[gw].MustExec(t, "ip", "link", "set", "eth1", "down")
		restored := false
		defer func() {
			if !restored {
				l.nodes[gw].MustExec(t, "ip", "link", "set", "eth1", "up")
			}
		}()
		lab.Eventually(t, 30*time.Second, other+" active without the config DB", func() error {
			if s := agentStatus(t, l.agents[other]); s.HA == nil || s.HA.Role != "active" {
				return fmt.Errorf("%s: %+v", other, s.HA)
			}
			if fwd := l.forwardingTrunks(t); len(fwd) != 1 {
				return fmt.Errorf("the switches forward on %v", fwd)
			}
			return nil
		})
		l.nodes[gw].MustExec(t, "ip", "link", "set", "eth1", "up")
		restored = true
		time.Sleep(2 * time.Second)
		noStorm(t)
		resume()
		// The other nodes follow once the database is back: the gateways publish again (a
		// failed publish is retried after a second, heartbeats every two).
		time.Sleep(3 * time.Second)
		settled(t)
	})
	t.Run("both gateways boot at once", func(t *testing.T) {
		for _, gw := range []string{"gw1", "gw2"} {
			if err := l.agents[gw].Proc.Kill(); err != nil {
				t.Fatal(err)
			}
			l.nodes[gw].StopVswitchd(t)
		}
		var wg sync.WaitGroup
		for _, gw := range []string{"gw1", "gw2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.nodes[gw].StartVswitchd(t)
				l.agents[gw].Launch(t)
			}()
		}
		wg.Wait()
		for _, gw := range []string{"gw1", "gw2"} {
			lab.Eventually(t, 30*time.Second, gw+"'s agent answers", func() error {
				_, err := l.agents[gw].CLI("status", "--no-bindings", "--no-counters")
				return err
			})
		}
		back = settled(t)
	})
	// TestDeadGatewayGetsNoTraffic, end to end: the active gateway dies whole (agent and
	// ovs-vswitchd). Its binding of bms1 stays in the database, active; the other gateway takes
	// over once the ToR's RSTP forwards to it, and c1 must follow it although the dead one may
	// sort first by name (the ToR's first trunk is gw1's, so RSTP makes gw1 active here, the
	// case the old first-by-name rule got wrong).
	t.Run("the active gateway dies (agent killed, OVS stopped): traffic moves to the other", func(t *testing.T) {
		if back == "" {
			t.Fatal("no active gateway after the link came back")
		}
		other := "gw1"
		if back == "gw1" {
			other = "gw2"
		}
		t.Logf("killing %s (active; %s standby)", back, other)
		kill := time.Now()
		if err := l.agents[back].Proc.Kill(); err != nil {
			t.Fatal(err)
		}
		l.nodes[back].StopVswitchd(t)
		// One ping at a time, each waiting at most 200 ms, until one is answered.
		var resumed time.Duration
		lab.Eventually(t, 60*time.Second, "vm1 reaches bms1 again", func() error {
			if _, err := l.vm1.Ping(l.bms1.IP, 1, 200*time.Millisecond); err != nil {
				return err
			}
			resumed = time.Since(kill)
			return nil
		})
		t.Logf("FIGURE dead active gateway %s: traffic from vm1 on c1 to bms1 back through %s %.1fs after the kill", back, other, resumed.Seconds())
		var where string
		for _, b := range agentStatus(t, l.agents["c1"]).Bindings {
			if b.VMI == "bms1" {
				where = b.Node
			}
		}
		if where != other {
			t.Errorf("c1 sends bms1's traffic to %q, want %s", where, other)
		}
		if s := agentStatus(t, l.agents[other]); s.HA == nil || s.HA.Role != "active" {
			t.Errorf("%s's HA status %+v, want active", other, s.HA)
		}
		noDuplicates(t, l.vm1, l.bms1.IP)
		noDuplicates(t, l.bms1, l.vm1.IP)
	})
}

// stormWatch counts, on one interface, every frame seen more than stormRepeats times within
// stormWindow: a loop makes the same frame come round again and again, a duplicate path
// delivers it twice.
type stormWatch struct {
	mu     sync.Mutex
	seen   map[string][]time.Time
	storms []string
	frames int
	stop   chan struct{}
	done   chan struct{}
}

const (
	// stormRepeats and stormWindow: the definition of a storm, any frame seen more than
	// twice on the switch's access port within a second. A capture sees each frame once per
	// direction, and hosts do not repeat a frame byte for byte within a second (ARP retries
	// come a second apart, pings carry their sequence number).
	stormRepeats = 2
	stormWindow  = time.Second
)

// watchStorms captures ifname in ns until the test ends or stop is called.
func watchStorms(t testing.TB, ns *testbed.NS, ifname string) *stormWatch {
	fd := rawSocketIn(t, ns, ifname)
	w := &stormWatch{seen: map[string][]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		buf := make([]byte, 9000)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue // the receive timeout: look at stop again
			}
			now, key := time.Now(), string(buf[:n])
			w.mu.Lock()
			w.frames++
			times := w.seen[key]
			kept := times[:0]
			for _, at := range times {
				if now.Sub(at) < stormWindow {
					kept = append(kept, at)
				}
			}
			kept = append(kept, now)
			w.seen[key] = kept
			if len(kept) == stormRepeats+1 && len(w.storms) < 10 {
				w.storms = append(w.storms, fmt.Sprintf("%s: a %d-byte frame %x... seen %d times within %v",
					now.Format("15:04:05.000"), n, buf[:min(n, 34)], len(kept), stormWindow))
			}
			if len(w.seen) > 100000 {
				w.seen = map[string][]time.Time{} // bound the memory of a long soak
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

// Stop ends the capture; Storms are the frames seen too often so far.
func (w *stormWatch) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *stormWatch) Storms() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.storms)
}
