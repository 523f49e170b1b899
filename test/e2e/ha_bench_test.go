package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/testbed"
)

// haPingInterval is the probe rate failover and failback are measured with (the issue asks for
// 20 ms).
const haPingInterval = 20 * time.Millisecond

var pingReply = regexp.MustCompile(`\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)`)

// reply is one echo reply: its sequence number and when it arrived.
type reply struct {
	seq int
	at  time.Time
}

// replies parses `ping -D` output into its replies, by sequence number (duplicates once).
func replies(out string) []reply {
	var rs []reply
	seen := map[int]bool{}
	for _, m := range pingReply.FindAllStringSubmatch(out, -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		seq, _ := strconv.Atoi(m[2])
		if !seen[seq] {
			seen[seq] = true
			rs = append(rs, reply{seq, time.Unix(0, int64(f*1e9))})
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].seq < rs[j].seq })
	return rs
}

// outage is the longest silence between two replies whose second one came after from and no
// later than to: last reply before it → first reply after, and the pings lost in between.
func outage(rs []reply, from, to time.Time) (gap time.Duration, lost int) {
	for i := 1; i < len(rs); i++ {
		if rs[i].at.After(from) && !rs[i].at.After(to) {
			if g := rs[i].at.Sub(rs[i-1].at); g > gap {
				gap, lost = g, rs[i].seq-rs[i-1].seq-1
			}
		}
	}
	return gap, lost
}

// pingFor pings from one host to an address every haPingInterval for d and returns the
// output of `ping -D` when done.
func pingFor(h *testbed.Host, to string, d time.Duration) func() string {
	var out string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		count := int(d / haPingInterval)
		out, _ = h.ExecTimeout(d+time.Minute, "ping", "-D", "-n", "-c", strconv.Itoa(count),
			"-i", strconv.FormatFloat(haPingInterval.Seconds(), 'f', 3, 64), "-W", "1", to)
	}()
	return func() string { wg.Wait(); return out }
}

// rstpEvent is a port role or state change in a switch's ovs-vswitchd log (rstp debug on).
type rstpEvent struct {
	at    time.Time
	tor   string
	port  string // the trunk's name
	what  string // "role Designated", "state Forwarding", ...
	trace string // the log line
}

var (
	rstpState = regexp.MustCompile(`^(\S+)\|\d+\|rstp\|DBG\|tor, port (\d+): set RSTP port state (\w+) -> (\w+)`)
	rstpRole  = regexp.MustCompile(`^(\S+)\|\d+\|rstp_sm\|DBG\|tor, port (\d+), port role \[\w+\] = (\w+)`)
)

// rstpEvents reads the role and state changes of the switches' gateway trunks from their logs.
func (l *haLab) rstpEvents(t testing.TB) []rstpEvent {
	var evs []rstpEvent
	for _, tor := range l.tors {
		ports := map[string]string{}
		for _, trunk := range []string{"trunk1", "trunk2", "isl"} {
			if n, err := tor.Vsctl("get", "interface", trunk, "ofport"); err == nil {
				ports[strings.TrimSpace(n)] = trunk
			}
		}
		f, err := os.Open(filepath.Join(tor.RunDir, "ovs-vswitchd.log"))
		if err != nil {
			t.Fatalf("the switch's log: %v", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var ts, port, what string
			if m := rstpState.FindStringSubmatch(line); m != nil && m[3] != m[4] {
				ts, port, what = m[1], m[2], "state "+m[4]
			} else if m := rstpRole.FindStringSubmatch(line); m != nil {
				ts, port, what = m[1], m[2], "role "+m[3]
			} else {
				continue
			}
			at, err := time.Parse("2006-01-02T15:04:05.000Z", ts)
			if err != nil || ports[port] == "" {
				continue
			}
			evs = append(evs, rstpEvent{at: at, tor: tor.Name, port: ports[port], what: what, trace: line})
		}
		f.Close()
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	return evs
}

// firstEvent is the first change of port to what at or after from, and how long after.
func firstEvent(evs []rstpEvent, port, what string, from time.Time) (time.Duration, bool) {
	for _, e := range evs {
		if e.port == port && e.what == what && !e.at.Before(from.Truncate(time.Millisecond)) {
			return e.at.Sub(from), true
		}
	}
	return 0, false
}

// BenchmarkHAFailover measures, from one run per topology and timer set, the active gateway's
// link cut (failover) and restored (failback): the outage as vm1 on a compute node sees it
// pinging bms1 every 20 ms (last reply → first reply), the pings lost, and the switches' own
// RSTP transitions from their logs; then a soak of 20 cuts and restores at random intervals
// with storm and duplicate detection.
func BenchmarkHAFailover(b *testing.B) {
	for _, sc := range []struct {
		name string
		o    haOptions
	}{
		{"one-switch/fast-timers/baseline-switch-timers-only", haOptions{rstpLog: true, switchTimersOnly: true}},
		{"one-switch/fast-timers", haOptions{rstpLog: true}},
		{"one-switch/default-timers/baseline-switch-timers-only", haOptions{rstpLog: true, defaultTimers: true, switchTimersOnly: true}},
		{"one-switch/default-timers", haOptions{rstpLog: true, defaultTimers: true}},
		{"two-switches/fast-timers", haOptions{rstpLog: true, twoSwitches: true}},
		{"two-switches/default-timers", haOptions{rstpLog: true, twoSwitches: true, defaultTimers: true}},
	} {
		b.Run(sc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runHAFailover(b, sc.o)
			}
		})
	}
	b.Run("soak-20-cuts", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			l := newHALab(b)
			l.active(b, 60*time.Second)
			res := l.flap(b, 20, 500*time.Millisecond, 3*time.Second)
			b.ReportMetric(float64(res.lost), "lost-pings")
			b.ReportMetric(float64(res.dups), "duplicates")
			b.ReportMetric(float64(len(res.storms)), "storms")
			b.Logf("soak: 20 cuts and restores of the active gateway's link at random intervals: %s", res)
			if res.dups > 0 || len(res.storms) > 0 {
				b.Errorf("duplicates or storms in the soak: %s", res)
			}
		}
	})
}

func runHAFailover(b *testing.B, o haOptions) {
	l := newHALabWith(b, o)
	first := l.active(b, 90*time.Second)
	other := map[string]string{"gw1": "gw2", "gw2": "gw1"}[first]
	trunk := map[string]string{"gw1": "trunk1", "gw2": "trunk2"}
	// Long enough for the switch's own timers to move the traffic without ovsgw's handshake
	// (the baseline): OVS's backup port waits out the forward delay, then a hello time, and the
	// gateway's role follows within three hello times (default: 15 + 2 + 6 s).
	settle := 12 * time.Second
	if o.defaultTimers {
		settle = 30 * time.Second
	}
	storms := watchStorms(b, l.tor.NS, "bms1")
	wait := pingFor(l.vm1, l.bms1.IP, 2*time.Second+2*settle)
	time.Sleep(2 * time.Second)
	cut := time.Now()
	l.nodes[first].MustExec(b, "ip", "link", "set", "eth1", "down")
	time.Sleep(settle)
	restore := time.Now()
	l.nodes[first].MustExec(b, "ip", "link", "set", "eth1", "up")
	out := wait()
	end := time.Now()
	rs := replies(out)
	over, lostOver := outage(rs, cut, restore)
	back, lostBack := outage(rs, restore, end)
	dups := strings.Count(out, "DUP!")
	evs := l.rstpEvents(b)
	torOver, okOver := firstEvent(evs, trunk[other], "state Forwarding", cut)
	torBack, okBack := firstEvent(evs, trunk[first], "state Forwarding", restore)
	torBlock, okBlock := firstEvent(evs, trunk[other], "state Discarding", restore)
	b.ReportMetric(over.Seconds(), "failover-s")
	b.ReportMetric(float64(lostOver), "failover-lost")
	b.ReportMetric(back.Seconds(), "failback-s")
	b.ReportMetric(float64(lostBack), "failback-lost")
	b.ReportMetric(float64(dups), "duplicates")
	b.ReportMetric(float64(len(storms.Storms())), "storms")
	show := func(d time.Duration, ok bool) string {
		if !ok {
			return "none logged"
		}
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
	mode := "ovsgw's RSTP handshake (ha_rapid = true)"
	if o.switchTimersOnly {
		mode = "baseline: the switch's timers only (ha_rapid = false)"
	}
	b.Logf("%s; timers %q, two switches %v; active %s, then %s", mode, timersOf(o), o.twoSwitches, first, other)
	b.Logf("failover: %.3fs (last reply → first reply), %d pings lost; the switch's %s forwarding %s after the cut",
		over.Seconds(), lostOver, trunk[other], show(torOver, okOver))
	b.Logf("failback: %.3fs, %d pings lost; the switch's %s forwarding %s after the restore, %s discarding %s after",
		back.Seconds(), lostBack, trunk[first], show(torBack, okBack), trunk[other], show(torBlock, okBlock))
	b.Logf("duplicates %d, storms %v", dups, storms.Storms())
	var trace strings.Builder
	for _, e := range evs {
		if !e.at.Before(cut.Add(-time.Second)) {
			fmt.Fprintf(&trace, "  %+.3fs %s %s %s\n", e.at.Sub(cut).Seconds(), e.tor, e.port, e.what)
		}
	}
	b.Logf("the switches' RSTP transitions, from the cut (s):\n%s", trace.String())
	if dups > 0 || len(storms.Storms()) > 0 {
		b.Errorf("duplicates (%d) or storms (%v)", dups, storms.Storms())
	}
}

func timersOf(o haOptions) string {
	switch {
	case o.defaultTimers:
		return "default (max-age 20, forward-delay 15)"
	case o.timers != nil:
		return strings.Join(o.timers, " ")
	}
	return strings.Join(torRSTPTimers, " ")
}

// flapResult is what a run of cuts and restores saw.
type flapResult struct {
	cuts, sent, lost, dups int
	storms                 []string
}

func (r flapResult) String() string {
	return fmt.Sprintf("%d cuts, %d pings sent every %v, %d lost, %d duplicates, storms %v",
		r.cuts, r.sent, haPingInterval, r.lost, r.dups, r.storms)
}

// flap cuts and restores the active gateway's link n times, each state held for a random time
// in [lo, hi), while vm1 pings bms1 every 20 ms and the switch's access port to bms1 is watched
// for storms; it ends with traffic flowing through one gateway.
func (l *haLab) flap(t testing.TB, n int, lo, hi time.Duration) flapResult {
	t.Helper()
	storms := watchStorms(t, l.tor.NS, "bms1")
	var holds []time.Duration
	total := 5 * time.Second
	for i := 0; i < 2*n; i++ {
		d := lo + time.Duration(rand.Int64N(int64(hi-lo)))
		holds = append(holds, d)
		total += d
	}
	wait := pingFor(l.vm1, l.bms1.IP, total)
	time.Sleep(2 * time.Second)
	for i := 0; i < n; i++ {
		gw := l.activeNow(t)
		if gw == "" {
			t.Logf("cut %d: no active gateway at this moment; cutting gw1", i+1)
			gw = "gw1"
		}
		l.nodes[gw].MustExec(t, "ip", "link", "set", "eth1", "down")
		time.Sleep(holds[2*i])
		l.nodes[gw].MustExec(t, "ip", "link", "set", "eth1", "up")
		time.Sleep(holds[2*i+1])
	}
	out := wait()
	storms.Stop()
	rs := replies(out)
	sent := int(total / haPingInterval)
	return flapResult{cuts: n, sent: sent, lost: sent - len(rs), dups: strings.Count(out, "DUP!"), storms: storms.Storms()}
}

// activeNow is the gateway whose status says active now ("" if none or both).
func (l *haLab) activeNow(t testing.TB) string {
	var actives []string
	for _, gw := range []string{"gw1", "gw2"} {
		if s := agentStatus(t, l.agents[gw]); s.HA != nil && s.HA.Role == "active" {
			actives = append(actives, gw)
		}
	}
	if len(actives) != 1 {
		return ""
	}
	return actives[0]
}
