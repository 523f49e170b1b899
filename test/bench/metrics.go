package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// The metrics run: the file mode run of one size again, with the agent serving metrics as
// shipped (per-VMI series on, the switch's counters read every metrics_interval, its default)
// and scraped every --scrape-every (by default Prometheus' customary 15 s; 1s shows what a
// far keener scraper costs). Its cold start and one-instance changes are printed beside the
// file mode run's, which had metrics off.
const (
	metricsAddress = "127.0.0.1:9476" // in the node's namespace
	// defaultScrapeEvery is Prometheus' customary scrape interval.
	defaultScrapeEvery = 15 * time.Second
	// metricsBudgetDivisor: the metrics run gets a third of the changes' time budget, enough
	// for p50 and p99 of a hundred or more changes at 4K, to keep the added run short.
	metricsBudgetDivisor = 3
)

// scrapes is what the scraper saw during a metrics run.
type scrapes struct {
	mu         sync.Mutex
	n, errs    int
	bytes      int
	series     int
	took       []time.Duration // each scrape, curl in the node's namespace included
	sampleMS   []float64       // the agent's ovsgw_counters_sample_duration_seconds, in ms, per scrape
	lastSample float64
	stop       chan struct{}
	done       chan struct{}
}

// scrape reads the agent's metrics every scrapeEvery until stopped.
func scrape(node *testbed.Node, every time.Duration) *scrapes {
	s := &scrapes{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for first := true; ; first = false {
			if !first { // the first right away: a short run still sees one
				select {
				case <-s.stop:
					return
				case <-tick.C:
				}
			}
			start := time.Now()
			out, err := node.Exec("curl", "-sSf", "--max-time", "10", "http://"+metricsAddress+"/metrics")
			took := time.Since(start)
			s.mu.Lock()
			s.n++
			if err != nil {
				s.errs++
			} else {
				s.took = append(s.took, took)
				s.bytes, s.series = len(out), countSeries(out)
				if v, ok := seriesValue(out, "ovsgw_counters_sample_duration_seconds"); ok {
					s.sampleMS = append(s.sampleMS, 1000*v) // each sample, as often as it is scraped
					s.lastSample = 1000 * v
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *scrapes) end() {
	close(s.stop)
	<-s.done
}

// countSeries counts the sample lines of a scrape.
func countSeries(text string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

func seriesValue(text, name string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// metricsRows prints the metrics run beside the file mode run of the same size.
func (b *bench) printMetrics() {
	var on, off *result
	for _, r := range b.results {
		if r.mode == modeFile && r.size.remote == b.metricsAt {
			if r.metrics {
				on = r
			} else {
				off = r
			}
		}
	}
	if on == nil || off == nil {
		return
	}
	tb := &table{}
	tb.section(fmt.Sprintf("metrics: file mode at %s, metrics off (the run above) and on (metrics_address set, metrics_interval = %d s (default), per-VMI series, scraped every %v)",
		on.size.label, agentconf.DefaultMetricsInterval, b.opts.scrapeEvery))
	tb.rows = append(tb.rows, []string{"", "metrics off", "metrics on", ""})
	both := func(label string, cell func(r *result) string) {
		cells := []string{}
		for _, r := range []*result{off, on} {
			switch {
			case !r.started:
				cells = append(cells, "failed")
			default:
				cells = append(cells, cell(r))
			}
		}
		tb.add(label, cells, "")
	}
	both("cold start: agent start → flows confirmed", func(r *result) string { return secs(r.coldStart) })
	for _, kind := range basicKinds {
		both(kindTitles[kind]+": p50 / p99 ms (timed)", func(r *result) string {
			c := r.changes[kind]
			if c == nil || len(c.latencies) == 0 {
				return "—"
			}
			return fmt.Sprintf("%s / %s (%d)", ms(percentile(c.latencies, 0.50)), ms(percentile(c.latencies, 0.99)), len(c.latencies))
		})
	}
	both("  p50 ms of compile/diff/OpenFlow/publish", func(r *result) string {
		var parts []string
		for _, p := range []string{"compile", "diff", "openflow", "publish"} {
			var all []float64
			for _, kind := range basicKinds {
				if c := r.changes[kind]; c != nil {
					all = append(all, c.phases[p]...)
				}
			}
			parts = append(parts, msf(median(all)))
		}
		return strings.Join(parts, "/")
	})
	both("agent CPU per one-instance change (status polls, scrapes, samples included)", func(r *result) string {
		if r.changesN == 0 {
			return "—"
		}
		return msf(r.changesCPU/float64(r.changesN)) + " ms"
	})
	both("peak RSS (VmHWM), at the end", func(r *result) string { return mib(r.rssEnd) })
	s := on.scrapes
	if s != nil {
		s.mu.Lock()
		tb.add("scrapes (failed) / series / bytes, last", []string{"—", fmt.Sprintf("%d (%d) / %d / %d", s.n, s.errs, s.series, s.bytes)}, "")
		tb.add("scrape time p50 / max ms (curl in the namespace)", []string{"—", fmt.Sprintf("%s / %s", ms(percentile(s.took, 0.5)), ms(percentile(s.took, 1)))}, "")
		tb.add(fmt.Sprintf("switch counters read (every %d s), last / max ms", agentconf.DefaultMetricsInterval), []string{"—", fmt.Sprintf("%s / %s", msf(s.lastSample/1000), msf(maxOf(s.sampleMS)/1000))}, "")
		s.mu.Unlock()
	}
	var out strings.Builder
	tb.print(&out)
	fmt.Print(out.String())
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
