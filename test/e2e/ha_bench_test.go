package e2e

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// haPingInterval is the probe rate the failover is measured with (the issue asks for 100 ms).
const haPingInterval = 100 * time.Millisecond

var pingReply = regexp.MustCompile(`\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)`)

// replyTimes parses `ping -D` output into the arrival times of the replies, in order.
func replyTimes(out string) []time.Time {
	var ts []time.Time
	for _, m := range pingReply.FindAllStringSubmatch(out, -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		ts = append(ts, time.Unix(0, int64(f*1e9)))
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// BenchmarkHAFailover cuts the active gateway's link and reports, from one run: the failover
// time (last reply before the cut to first reply after, pings every 100 ms), the pings lost,
// and the ToR's own RSTP convergence (cut to the other trunk forwarding) measured in the same
// run, so that the share ovsgw adds on top of the spanning tree is visible.
func BenchmarkHAFailover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runHAFailover(b)
	}
}

func runHAFailover(b *testing.B) {
	var failover, rstp, lost float64
	l := newHALab(b)
	first := l.active(b, 60*time.Second)
	trunks := map[string]string{"gw1": "trunk1", "gw2": "trunk2"}
	var wg sync.WaitGroup
	var out string
	count := int(60 * time.Second / haPingInterval)
	wg.Add(1)
	go func() {
		defer wg.Done()
		out, _ = l.vm1.ExecTimeout(2*time.Minute, "ping", "-D", "-n", "-c", strconv.Itoa(count), "-i", "0.1", "-W", "1", l.bms1.IP)
	}()
	time.Sleep(2 * time.Second)
	cut := time.Now()
	l.nodes[first].MustExec(b, "ip", "link", "set", "eth1", "down")
	other := trunks["gw1"]
	if first == "gw1" {
		other = trunks["gw2"]
	}
	for time.Since(cut) < time.Minute {
		if fwd := l.forwardingTrunks(b); len(fwd) == 1 && fwd[0] == other {
			rstp = time.Since(cut).Seconds()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	replies := replyTimes(out)
	// The outage is the longest silence between two replies from just before the cut on: its
	// ends are the last reply before the failover and the first after it.
	var gap time.Duration
	for i := 1; i < len(replies); i++ {
		if replies[i].After(cut) && replies[i].Sub(replies[i-1]) > gap {
			gap = replies[i].Sub(replies[i-1])
		}
	}
	if gap == 0 {
		b.Fatalf("no replies after the cut:\n%s", out)
	}
	failover = gap.Seconds()
	lost = float64(count - len(replies))
	b.ReportMetric(failover, "failover-s")
	b.ReportMetric(rstp, "tor-rstp-s")
	b.ReportMetric(failover-rstp, "ovsgw-added-s")
	b.ReportMetric(lost, "lost-pings")
	b.Logf("ToR RSTP at the end:\n%s", l.tor.MustAppctl(b, "rstp/show", "tor"))
	b.Logf("failover %.2fs (ToR RSTP %.2fs, ovsgw on top %.2fs), %d of %d pings lost; ToR timers %s",
		failover, rstp, failover-rstp, int(lost), count, strings.Join(torRSTPTimers, " "))
}
