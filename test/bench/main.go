// Command bench is `make bench`: on a real userspace Open vSwitch (each size on a node of its
// own, in network namespaces) it runs the ovsgw agent on generated configs of 1K, 2K and 4K
// remote instances (4K with max_interfaces = 8192) and prints one table:
//
//   - cold start: agent start to every flow installed and confirmed (the agent's bundle is
//     committed and answered), split into the phases the agent reports in its status
//     (configCheckSeconds; lastSyncSeconds: ovsdb, compile, openflow, …);
//   - the same flows and groups written by `ovs-ofctl --bundle replace-flows` on a fresh
//     bridge of the same switch, and the ratio of the agent's OpenFlow phase to it;
//   - at 4K: adding, changing and removing one remote instance, each many times: p50 and p99
//     of config written → flows confirmed, and the flow and group mods each change sent;
//   - the agent's peak RSS (VmHWM) and CPU seconds.
//
// The bridge is prepared before each timed start by an agent run on the same config without
// remote instances (its NICs only): the timed start then reaches the switch in one sync, whose
// phases add up. The timed changes are config file writes, as an operator makes them: the
// agent notices them within a second (its file poll); that wait is part of what is measured.
// (SIGHUP would skip the wait, but races the poll: both reload the same file, and the change
// then takes two generations.)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/test/bench/scale"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// What one run measures.
const (
	host           = "gw1"
	bridge         = "br-int"
	baselineBridge = "br-base"
	// bigBudget is the interface budget of the largest size (4096 remote instances need 8192).
	bigBudget = 8192
	// changesPerKind is how many times each of add, change and remove is timed.
	changesPerKind = 100
	// incrementalBudget stops the timed changes early (and says so in the table) when each
	// change takes so long that changesPerKind of each would not finish in a few minutes.
	incrementalBudget = 10 * time.Minute
	// syncTimeout bounds one cold start or one change.
	syncTimeout = 3 * time.Minute
	// pollFirst and pollMax pace the status polls that wait for a sync; the times reported
	// come from the agent's own lastSync timestamp, not from when a poll noticed it.
	pollFirst = 20 * time.Millisecond
	pollMax   = 250 * time.Millisecond
	// clkTck is the kernel's USER_HZ: /proc/PID/stat counts CPU time in these ticks.
	clkTck = 100
)

// sizes are the measured configs: remote instances and interface budget.
var sizes = []struct {
	remote, budget int
	label          string
}{
	{1024, model.DefaultMaxInterfaces, "1K"},
	{2048, model.DefaultMaxInterfaces, "2K"},
	{4096, bigBudget, "4K (budget 8192)"},
}

// benchT runs the testbed outside `go test`, like the demo: cleanups run at the end, or at the
// first fatal error, or on SIGINT/SIGTERM.
type benchT struct {
	cleanups []func()
	failed   bool
}

func (b *benchT) Helper()                         {}
func (b *benchT) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "  "+format+"\n", args...) }
func (b *benchT) Failed() bool                    { return b.failed }
func (b *benchT) Cleanup(f func())                { b.cleanups = append(b.cleanups, f) }
func (b *benchT) Fatalf(format string, args ...any) {
	b.failed = true
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	b.teardown()
	os.Exit(1)
}

func (b *benchT) teardown() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
}

// result is one column of the table.
type result struct {
	remote, budget   int
	flows, groups    int
	coldStart        time.Duration
	coldStartBound   bool // coldStart is an upper bound (a no-op sync came after the real one)
	checkSecs        float64
	phases           map[string]float64
	replaceFlows     time.Duration
	rssKB, rssKBIncr int64
	cpu, cpuIncr     float64
	incr             map[string]*changeStats // add, change, remove (4K only)
}

type changeStats struct {
	latencies []time.Duration
	mods      []int
	phases    map[string][]float64 // check, and each lastSyncSeconds phase
}

func main() {
	bin := flag.String("ovsgw", "bin/ovsgw", "the ovsgw binary")
	flag.Parse()
	t := &benchT{}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		t.Fatalf("interrupted")
	}()
	abs, err := filepath.Abs(*bin)
	if err != nil {
		t.Fatalf("%v", err)
	}
	testbed.Require(t)
	began := time.Now()
	var results []*result
	for i, sz := range sizes {
		fmt.Fprintf(os.Stderr, "bench: %d remote instances (max_interfaces %d)\n", sz.remote, sz.budget)
		r := measureSize(t, abs, sz.remote, sz.budget, i == len(sizes)-1)
		results = append(results, r)
		// Each size's node goes before the next starts: one switch at a time on the cores.
		t.teardown()
	}
	printTable(results, time.Since(began))
}

// measureSize runs one size on a node of its own; incremental adds the timed changes.
func measureSize(t *benchT, bin string, n, budget int, incremental bool) *result {
	r := &result{remote: n, budget: budget}
	node := testbed.NewNode(t, "bench")
	far := testbed.NewNS(t, "nics")
	for i, nic := range scale.NICs(n) {
		testbed.Link(t, far, "far"+strconv.Itoa(i+1), node.NS, nic)
	}
	spec := scale.Spec{Host: host, Remote: n}
	full := spec.YAML()
	opts := testbed.AgentOptions{Hostname: host, GatewayMode: true, Bridge: bridge}
	if budget != model.DefaultMaxInterfaces {
		opts.MaxInterfaces = budget
	}

	// The bridge with its NICs, from an agent run on the config without remote instances.
	none := spec
	none.Removed = map[int]bool{}
	for i := 0; i < n; i++ {
		none.Removed[i] = true
	}
	a := testbed.PrepareAgent(t, bin, node, opts, none.YAML())
	a.Start(t)
	waitSynced(t, a, 0, 0)
	if err := a.Proc.Stop(); err != nil {
		t.Fatalf("stop the preparing agent: %v", err)
	}

	// The timed cold start.
	a.WriteConfig(t, full)
	start := time.Now()
	a.Start(t)
	s, end, exact := waitSynced(t, a, n, 1)
	r.coldStart, r.coldStartBound = end.Sub(start), !exact
	r.checkSecs, r.phases = s.ConfigCheckSeconds, s.LastSyncSeconds
	r.flows, r.groups = s.Flows, s.Groups
	flowsText := node.MustOfctl(t, "dump-flows", bridge, "--no-stats")
	groupsText := node.MustOfctl(t, "dump-groups", bridge)
	if got := strings.Count(flowsText, "actions="); got != s.Flows {
		t.Fatalf("the bridge holds %d flows, the agent computed %d", got, s.Flows)
	}
	r.rssKB, r.cpu = procStats(t, a.Proc.Pid)

	// The baseline: the same flows and groups, by ovs-ofctl, on a fresh bridge.
	r.replaceFlows = replaceFlows(t, node, a.Dir, flowsText, groupsText, s.Flows)

	if incremental {
		r.incr = changes(t, a, spec)
		r.rssKBIncr, r.cpuIncr = procStats(t, a.Proc.Pid)
	}
	return r
}

// waitSynced waits until the agent has bound n remote instances and brought the bridge to a
// generation of at least gen. It returns the status, when the sync that did it ended (the
// agent's lastSync) and whether that time is exact (false: a sync that changed nothing came
// after it; the time is then when a poll saw the state, an upper bound).
func waitSynced(t *benchT, a *testbed.Agent, n, gen int) (control.Status, time.Time, bool) {
	client := control.NewClient(a.Socket)
	deadline := time.Now().Add(syncTimeout)
	wait := pollFirst
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := client.Status(ctx, false)
		cancel()
		seen := time.Now()
		if err == nil && s.LastSyncError == "" && s.LastSync != nil && s.SyncedGeneration == s.ConfigGeneration && s.ConfigGeneration >= gen {
			bound := 0
			for _, b := range s.Bindings {
				if b.Bound {
					bound++
				}
			}
			if bound == n {
				if s.LastSyncChanges > 0 {
					return *s, *s.LastSync, true
				}
				return *s, seen, false
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprint(err)
			if err == nil {
				msg = fmt.Sprintf("generation %d of %d, sync error %.300q", s.SyncedGeneration, s.ConfigGeneration, s.LastSyncError)
			}
			t.Fatalf("agent on %s not synced within %v: %s", a.Node.Name, syncTimeout, msg)
		}
		time.Sleep(wait)
		wait = min(wait*3/2, pollMax)
	}
}

// procStats reads a process's peak resident set (kB) and CPU seconds (user + system).
func procStats(t *benchT, pid int) (rssKB int64, cpu float64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			rssKB, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("%v", err)
	}
	// Fields after the command (which may hold spaces) start at ")"; utime and stime are the
	// 14th and 15th fields of the line, the 12th and 13th after ") ".
	rest := string(stat)[strings.LastIndexByte(string(stat), ')')+2:]
	f := strings.Fields(rest)
	if len(f) < 13 || rssKB == 0 {
		t.Fatalf("cannot read /proc/%d/status or stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return rssKB, (ut + st) / clkTck
}

// replaceFlows writes the agent's flows and groups, as dumped, to a fresh bridge of the same
// switch: groups first (flows refer to them), then the flows, timed, with
// `ovs-ofctl --bundle replace-flows`.
func replaceFlows(t *benchT, node *testbed.Node, dir, flows, groups string, want int) time.Duration {
	node.AddBridge(t, baselineBridge, "fail_mode=secure", "protocols=OpenFlow13")
	flowsFile, groupsFile := filepath.Join(dir, "flows.txt"), filepath.Join(dir, "groups.txt")
	var gl []string
	for _, line := range strings.Split(groups, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "group_id=") {
			gl = append(gl, line)
		}
	}
	for file, text := range map[string]string{flowsFile: flows, groupsFile: strings.Join(gl, "\n") + "\n"} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatalf("%v", err)
		}
	}
	node.MustOfctl(t, "add-groups", baselineBridge, groupsFile)
	start := time.Now()
	node.MustOfctl(t, "--bundle", "replace-flows", baselineBridge, flowsFile)
	d := time.Since(start)
	if got := strings.Count(node.MustOfctl(t, "dump-flows", baselineBridge, "--no-stats"), "actions="); got != want {
		t.Fatalf("replace-flows installed %d flows, want %d", got, want)
	}
	return d
}

// changes times adding, changing and removing one remote instance while all n are installed:
// per round, instance k is removed, added back, moved to its alternative MAC and address, and
// moved back (two changes).
func changes(t *benchT, a *testbed.Agent, spec scale.Spec) map[string]*changeStats {
	out := map[string]*changeStats{}
	for _, kind := range []string{"add", "change", "remove"} {
		out[kind] = &changeStats{phases: map[string][]float64{}}
	}
	client := control.NewClient(a.Socket)
	ctx := context.Background()
	st, err := client.Status(ctx, false)
	if err != nil {
		t.Fatalf("%v", err)
	}
	gen := st.ConfigGeneration
	apply := func(kind string, s scale.Spec) {
		yaml := s.YAML()
		start := time.Now()
		a.WriteConfig(t, yaml)
		gen++
		n := spec.Remote - len(s.Removed)
		st, end, exact := waitSynced(t, a, n, gen)
		if !exact || st.ConfigGeneration != gen {
			// Not this change's sync alone (another reload or sync came between): say so.
			t.Logf("%s: generation %d (want %d), exact time %v: change not counted", kind, st.ConfigGeneration, gen, exact)
			gen = st.ConfigGeneration
			return
		}
		c := out[kind]
		c.latencies = append(c.latencies, end.Sub(start))
		c.mods = append(c.mods, st.LastSyncChanges)
		c.phases["check"] = append(c.phases["check"], st.ConfigCheckSeconds)
		for _, p := range []string{"compile", "diff", "openflow", "purge"} {
			c.phases[p] = append(c.phases[p], st.LastSyncSeconds[p])
		}
	}
	began := time.Now()
	for round := 0; round < changesPerKind; round++ {
		if round > 0 && time.Since(began) > incrementalBudget {
			fmt.Fprintf(os.Stderr, "bench: time budget of %v spent after %d rounds of changes\n", incrementalBudget, round)
			break
		}
		k := round * 7919 % spec.Remote // spread over NICs, VLANs and VNs
		removed, moved := spec, spec
		removed.Removed = map[int]bool{k: true}
		moved.Moved = map[int]bool{k: true}
		apply("remove", removed)
		apply("add", spec)
		apply("change", moved)
		apply("change", spec)
	}
	return out
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func intRange(xs []int) string {
	if len(xs) == 0 {
		return "—"
	}
	s := append([]int(nil), xs...)
	sort.Ints(s)
	if s[0] == s[len(s)-1] {
		return strconv.Itoa(s[0])
	}
	return fmt.Sprintf("%d (%d–%d)", s[len(s)/2], s[0], s[len(s)-1])
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }
func fsecs(f float64) string      { return fmt.Sprintf("%.3f s", f) }

func ovsVersion() string {
	out, err := exec.Command("ovs-vswitchd", "--version").Output()
	if err != nil {
		if p, perr := exec.LookPath("/usr/sbin/ovs-vswitchd"); perr == nil {
			out, err = exec.Command(p, "--version").Output()
		}
	}
	if err != nil {
		return "Open vSwitch (version unknown)"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.NewReplacer("ovs-vswitchd ", "", "(", "", ")", "").Replace(line)
}

func printTable(rs []*result, took time.Duration) {
	fmt.Printf("ovsgw bench: one run on %s, userspace datapath, %d CPUs (%s)\n\n", ovsVersion(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	var table [][]string
	head := []string{""}
	for _, sz := range sizes {
		head = append(head, sz.label)
	}
	table = append(table, head)
	row := func(name string, cell func(r *result) string) {
		line := []string{name}
		for _, r := range rs {
			line = append(line, cell(r))
		}
		table = append(table, line)
	}
	phase := func(names ...string) func(r *result) string {
		return func(r *result) string {
			var s float64
			for _, n := range names {
				s += r.phases[n]
			}
			return fsecs(s)
		}
	}
	row("remote instances", func(r *result) string { return strconv.Itoa(r.remote) })
	row("max_interfaces", func(r *result) string { return strconv.Itoa(r.budget) })
	row("flows / groups installed", func(r *result) string { return fmt.Sprintf("%d / %d", r.flows, r.groups) })
	row("cold start: agent start → flows confirmed", func(r *result) string {
		if r.coldStartBound {
			return "≤ " + secs(r.coldStart)
		}
		return secs(r.coldStart)
	})
	row("  parse + validate (configCheckSeconds)", func(r *result) string { return fsecs(r.checkSecs) })
	row("  compile", phase("compile"))
	row("  OVSDB", phase("ovsdb"))
	row("  OpenFlow: bundle committed, confirmed", phase("openflow"))
	row("  dump + diff + purge + publish", phase("dump", "diff", "purge", "publish"))
	row("  rest: process start, connecting", func(r *result) string {
		s := r.coldStart.Seconds() - r.checkSecs
		for _, v := range r.phases {
			s -= v
		}
		return fsecs(s)
	})
	row("ovs-ofctl --bundle replace-flows, same flows", func(r *result) string { return secs(r.replaceFlows) })
	row("OpenFlow phase / replace-flows", func(r *result) string {
		return fmt.Sprintf("%.2f", r.phases["openflow"]/r.replaceFlows.Seconds())
	})
	row("agent peak RSS (VmHWM), after start", func(r *result) string { return fmt.Sprintf("%.0f MiB", float64(r.rssKB)/1024) })
	row("agent CPU (user+sys), after start", func(r *result) string { return fsecs(r.cpu) })
	for _, kind := range []string{"add", "change", "remove"} {
		cell := func(f func(c *changeStats) string) func(r *result) string {
			return func(r *result) string {
				if r.incr == nil || len(r.incr[kind].latencies) == 0 {
					return "—"
				}
				return f(r.incr[kind])
			}
		}
		row(fmt.Sprintf("%s one instance: changes timed", kind), cell(func(c *changeStats) string { return strconv.Itoa(len(c.latencies)) }))
		row("  config written → flows confirmed, p50", cell(func(c *changeStats) string { return secs(percentile(c.latencies, 0.50)) }))
		row("  p99", cell(func(c *changeStats) string { return secs(percentile(c.latencies, 0.99)) }))
		row("  flow+group mods sent, median (min–max)", cell(func(c *changeStats) string { return intRange(c.mods) }))
		row("  p50 check / compile / diff / OpenFlow / purge", cell(func(c *changeStats) string {
			var parts []string
			for _, p := range []string{"check", "compile", "diff", "openflow", "purge"} {
				parts = append(parts, fmt.Sprintf("%.2f", median(c.phases[p])))
			}
			return strings.Join(parts, " / ") + " s"
		}))
	}
	row("agent peak RSS, after the changes", func(r *result) string {
		if r.incr == nil {
			return "—"
		}
		return fmt.Sprintf("%.0f MiB", float64(r.rssKBIncr)/1024)
	})
	row("agent CPU, after the changes", func(r *result) string {
		if r.incr == nil {
			return "—"
		}
		return fsecs(r.cpuIncr)
	})
	printAligned(table)
	fmt.Printf("\nA change is a write of the config file; the agent looks at it every 250 ms, and that wait is included.\n")
	fmt.Printf("The cold start's rest is process start and connecting to OVSDB and OpenFlow.\n")
	for _, r := range rs {
		if r.incr != nil && len(r.incr["add"].latencies) < changesPerKind {
			fmt.Printf("Fewer than %d changes of each kind: the time budget of %v ran out (each change is slow; see the p50).\n", changesPerKind, incrementalBudget)
		}
	}
	fmt.Printf("Whole run: %s.\n", took.Round(time.Second))
}

// printAligned prints rows with the first column left-aligned and the others right-aligned.
func printAligned(table [][]string) {
	width := map[int]int{}
	for _, line := range table {
		for i, c := range line {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, line := range table {
		var b strings.Builder
		for i, c := range line {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("   " + pad + c)
			}
		}
		fmt.Println(strings.TrimRight(b.String(), " "))
	}
}
