package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/test/bench/scale"
)

// The targets printed beside the figures (the issue's): a cell they apply to is marked ✓ when
// it meets its target, ✗ when it misses it.
const (
	targetColdStart4K  = 1.0 // seconds, at 4K
	targetColdStart16K = 4.0 // seconds, at 16K
	targetChangeDir    = 10 * time.Millisecond
	targetChangeDB     = 50 * time.Millisecond
	targetIdlePercent  = 1.0      // of one core
	targetRSS4K        = 64 << 10 // kB (64 MiB), at 4K
	targetDBApply      = 200 * time.Millisecond
	targetSize         = sgSize  // where the change, RSS and db apply targets apply
	bigTargetSize      = bigSize // where the second cold start target applies
)

var modeTitles = map[string]string{
	modeFile: "file mode: [CONFIG] file = one YAML file",
	modeDir:  "dir mode: [CONFIG] file = a directory, one file per remote instance",
	modeDB:   "db mode: [CONFIG] source = ovsdb:… (one standalone ovsdb-server)",
}

var kindTitles = map[string]string{
	kindAdd:      "add one instance",
	kindChange:   "change one instance (MAC, address)",
	kindRemove:   "remove one instance",
	kindSGRule:   "security group rule change",
	kindSGMember: "remoteGroup membership change",
}

func mark(ok bool) string {
	if ok {
		return " ✓"
	}
	return " ✗"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }
func fsecs(f float64) string      { return fmt.Sprintf("%.3f s", f) }
func ms(d time.Duration) string   { return msf(d.Seconds()) }

// msf prints seconds as milliseconds: a decimal below 10 ms, none above.
func msf(secs float64) string {
	if m := 1000 * secs; m < 10 {
		return fmt.Sprintf("%.1f", m)
	}
	return fmt.Sprintf("%.0f", 1000*secs)
}
func mib(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

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

// table is rows of cells: a label, one cell per size, the target.
type table struct {
	sizes []sizeSpec
	rows  [][]string
}

func (tb *table) add(label string, cells []string, target string) {
	tb.rows = append(tb.rows, append(append([]string{label}, cells...), target))
}

// section is a line with a title only.
func (tb *table) section(title string) { tb.rows = append(tb.rows, []string{title}) }

// print writes the rows with the label column left-aligned, the size columns right-aligned and
// the target column left-aligned; a section line spans the row.
func (tb *table) print(b *strings.Builder) {
	width := map[int]int{}
	for _, line := range tb.rows {
		if len(line) == 1 {
			continue
		}
		for i, c := range line {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, line := range tb.rows {
		if len(line) == 1 {
			fmt.Fprintf(b, "\n%s\n", line[0])
			continue
		}
		var l strings.Builder
		for i, c := range line {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			switch i {
			case 0:
				l.WriteString(c + pad)
			case len(line) - 1:
				l.WriteString("   " + c)
			default:
				l.WriteString("   " + pad + c)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
}

func (b *bench) printTable(took time.Duration, sgAt int) {
	var out strings.Builder
	fmt.Fprintf(&out, "ovsgw bench: one run on %s, userspace datapath, %d CPUs (%s)\n", ovsVersion(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	sizes := b.opts.sizes
	tb := &table{sizes: sizes}
	head := []string{""}
	for _, sz := range sizes {
		head = append(head, sz.label)
	}
	tb.rows = append(tb.rows, append(head, "target"))
	perSize := func(f func(sz sizeSpec) string) []string {
		var cells []string
		for _, sz := range sizes {
			cells = append(cells, f(sz))
		}
		return cells
	}
	tb.add("remote instances / max_interfaces", perSize(func(sz sizeSpec) string { return fmt.Sprintf("%d / %d", sz.remote, sz.budget) }), "")
	tb.add("flows / groups installed", perSize(func(sz sizeSpec) string {
		if bl := b.baseline[sz.remote]; bl != nil {
			return fmt.Sprintf("%d / %d", bl.flows, bl.groups)
		}
		return "—"
	}), "")
	tb.add("ovs-ofctl --bundle replace-flows, same flows", perSize(func(sz sizeSpec) string {
		if bl := b.baseline[sz.remote]; bl != nil {
			return secs(bl.replaceFlows)
		}
		return "—"
	}), "")

	for _, mode := range b.opts.modes {
		b.modeRows(tb, mode, sgAt)
	}
	tb.print(&out)
	fmt.Print(out.String())
	b.printMetrics()
	b.printNotes(took, sgAt)
}

// modeRows adds one mode's section.
func (b *bench) modeRows(tb *table, mode string, sgAt int) {
	tb.section(modeTitles[mode])
	get := func(sz sizeSpec) *result {
		for _, r := range b.results {
			if r.mode == mode && r.size.remote == sz.remote && !r.metrics {
				return r
			}
		}
		return nil
	}
	// row adds a row whose cells come from the runs that completed their cold start.
	row := func(label, target string, cell func(r *result) string) {
		var cells []string
		for _, sz := range tb.sizes {
			r := get(sz)
			switch {
			case r == nil:
				cells = append(cells, "—")
			case !r.started:
				cells = append(cells, "failed")
			default:
				cells = append(cells, cell(r))
			}
		}
		tb.add(label, cells, target)
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
	row("cold start: agent start → flows confirmed", fmt.Sprintf("≤ %.1f s at 4K, ≤ %.0f s at 16K", targetColdStart4K, targetColdStart16K), func(r *result) string {
		c := secs(r.coldStart)
		if r.coldStartBound {
			c = "≤ " + c
		}
		switch r.size.remote {
		case targetSize:
			c += mark(r.coldStart.Seconds() <= targetColdStart4K)
		case bigTargetSize:
			c += mark(r.coldStart.Seconds() <= targetColdStart16K)
		}
		return c
	})
	row("  config check: read, parse, validate", "", func(r *result) string { return fsecs(r.checkSecs) })
	row("  compile", "", phase("compile"))
	row("  OVSDB", "", phase("ovsdb"))
	row("  OpenFlow: bundle committed, confirmed", "", phase("openflow"))
	row("  dump + diff + purge + publish", "", phase("dump", "diff", "purge", "publish"))
	row("  rest: process start, connecting", "", func(r *result) string {
		s := r.coldStart.Seconds() - r.checkSecs
		for _, v := range r.phases {
			s -= v
		}
		return fsecs(s)
	})
	row("OpenFlow phase / replace-flows", "", func(r *result) string {
		bl := b.baseline[r.size.remote]
		if bl == nil || bl.replaceFlows <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", r.phases["openflow"]/bl.replaceFlows.Seconds())
	})
	if mode == modeDB {
		row("ovsgw db apply of the whole config (before the start)", "", func(r *result) string { return secs(r.fullApply) })
	}
	row("peak RSS (VmHWM) / CPU, after the cold start", "", func(r *result) string {
		return fmt.Sprintf("%s / %s", mib(r.rssStart), fsecs(r.cpuStart))
	})

	changeTarget := ""
	var limit time.Duration
	switch mode {
	case modeDir:
		limit = targetChangeDir
	case modeDB:
		limit = targetChangeDB
	}
	if limit > 0 {
		changeTarget = fmt.Sprintf("p99 ≤ %s ms at 4K", ms(limit))
	}
	kinds := append([]string(nil), basicKinds...)
	anySG := false
	for _, r := range b.results {
		if r.mode == mode && r.sgRounds > 0 {
			anySG = true
		}
	}
	if anySG {
		kinds = append(kinds, kindSGRule, kindSGMember)
	}
	for _, kind := range kinds {
		target := changeTarget
		if kind == kindSGRule || kind == kindSGMember {
			target = fmt.Sprintf("(at %s only)", sizeLabel(sgAt))
		}
		row(kindTitles[kind]+": p50 / p99 ms", target, func(r *result) string {
			c := r.changes[kind]
			if c == nil || len(c.latencies) == 0 {
				return "—"
			}
			p99 := percentile(c.latencies, 0.99)
			cell := ms(percentile(c.latencies, 0.50)) + " / " + ms(p99)
			if c.bounds > 0 {
				// Upper bounds of some samples make upper bounds of the percentiles.
				cell = "≤ " + cell
			}
			if limit > 0 && r.size.remote == targetSize && kind != kindSGRule && kind != kindSGMember {
				switch {
				case p99 <= limit:
					cell += mark(true)
				case c.bounds > 0:
					cell += " ?" // over the target, but only as a bound
				default:
					cell += mark(false)
				}
			}
			return cell
		})
		row("  timed (≤: end is an upper bound)", "", func(r *result) string {
			c := r.changes[kind]
			if c == nil {
				return "—"
			}
			cell := strconv.Itoa(len(c.latencies))
			if c.bounds > 0 {
				cell += fmt.Sprintf(" (%d ≤)", c.bounds)
			}
			if c.uncounted > 0 {
				cell += fmt.Sprintf(" +%d not counted", c.uncounted)
			}
			return cell
		})
		row("  flow+group mods sent, median (min–max)", "", func(r *result) string {
			if c := r.changes[kind]; c != nil {
				return intRange(c.mods)
			}
			return "—"
		})
		if mode == modeFile {
			row("  of which parsing the whole file (config check), p50 ms", "", func(r *result) string {
				if c := r.changes[kind]; c != nil && len(c.latencies) > 0 {
					return msf(median(c.phases["check"]))
				}
				return "—"
			})
		}
		row("  p50 ms of check/compile/diff/OpenFlow/publish", "", func(r *result) string {
			c := r.changes[kind]
			if c == nil || len(c.latencies) == 0 {
				return "—"
			}
			var parts []string
			for _, p := range []string{"check", "compile", "diff", "openflow", "publish"} {
				parts = append(parts, msf(median(c.phases[p])))
			}
			return strings.Join(parts, "/")
		})
	}
	if mode == modeDB {
		row("ovsgw db apply, one changed instance: p50 / p99 ms", fmt.Sprintf("p99 ≤ %s ms at 4K", ms(targetDBApply)), func(r *result) string {
			if len(r.applies) == 0 {
				return "—"
			}
			p99 := percentile(r.applies, 0.99)
			cell := ms(percentile(r.applies, 0.50)) + " / " + ms(p99)
			if r.size.remote == targetSize {
				cell += mark(p99 <= targetDBApply)
			}
			return cell
		})
		row(fmt.Sprintf("idle CPU, %d peers heartbeating, %% of a core", b.opts.peers), fmt.Sprintf("≤ %.0f %%", targetIdlePercent), func(r *result) string {
			if r.idle == nil {
				return "—"
			}
			return fmt.Sprintf("%.2f %% (median %v: %.1f %%)", r.idle.percent(), idleSlice, r.idle.medianSlice()) + mark(r.idle.percent() <= targetIdlePercent)
		})
	}
	row("peak RSS (VmHWM) / CPU, at the end", fmt.Sprintf("RSS ≤ %s at 4K", mib(targetRSS4K)), func(r *result) string {
		if r.rssEnd == 0 {
			return "—"
		}
		cell := fmt.Sprintf("%s / %s", mib(r.rssEnd), fsecs(r.cpuEnd))
		if r.size.remote == targetSize {
			cell += mark(r.rssEnd <= targetRSS4K)
		}
		return cell
	})
}

func sizeLabel(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%dK", n/1024)
	}
	return strconv.Itoa(n)
}

// printNotes says how the figures were taken, and what did not go as planned.
func (b *bench) printNotes(took time.Duration, sgAt int) {
	o := b.opts
	var notes []string
	add := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	add("Cold start: agent start on a bridge already holding its NICs, to the end of the sync that installed every flow (the agent's lastSync; ≤: a later sync that changed nothing came first, its end is given). Phases are the agent's status: configCheckSeconds, lastSyncSeconds.")
	add("A change is timed from its write to the end of the agent's sync of the config generation holding it (status lastSync: bundle committed and confirmed, bindings published). The write is the system call that shows the agent the new content — file mode: the new file renamed over the old; dir mode: the close of the instance's file written in place, or its unlink — or, in db mode, `ovsgw db apply` returning (transaction committed). A change seen as more than one generation is not counted. ≤: for some changes the status showed a later sync that changed nothing (after the agent's own binding publish, say); its end is used, an upper bound, so the percentiles are upper bounds too (?: over the target only as a bound). Flow mods are counted from exact samples only.")
	add("Rounds: each times one remove, one add and one change (alternative MAC and address, or back) of a different instance; %d rounds per size and mode, %d at %s and above (each change parses the whole config in file and db mode).", o.rounds, o.roundsFor(bigSize), sizeLabel(bigSize))
	add("Security groups: %s (every instance: TCP 80-81 in, anything out), %s (1 in %d instances: TCP 22 from %s), %s (%d members: ICMP from its own members, a remoteGroup rule). At %s only: rule change = %s's port 22 ↔ 2222; membership change = one instance joins %s, or leaves it.",
		scale.GroupWeb, scale.GroupAdmin, scale.AdminEvery, "10.255.0.0/16", scale.GroupPeers, scale.PeerMembers, sizeLabel(sgAt), scale.GroupAdmin, scale.GroupPeers)
	if slices.Contains(o.modes, modeDB) {
		add("The config DB is one standalone ovsdb-server (schemas/gateway.ovsschema) on a unix socket in the bench's run directory, not a Raft cluster: a cluster adds a commit round trip to a majority to each write and each heartbeat.")
		if o.idle > 0 {
			add("Idle CPU: the agent's user+system time (/proc/PID/stat) over %v while %d peer nodes, simulated by the bench with the configdb client, write their Node row's heartbeat every %v (one every %v) after publishing %d Binding rows each; the status is not polled during the window. The agent's own heartbeat falls in the window, and a periodic resync (resync_interval, 120 s by default) may; the median of the window's %v slices leaves a resync out.",
				o.idle, o.peers, configdb.HeartbeatInterval, configdb.HeartbeatInterval/time.Duration(max(o.peers, 1)), peerBindings, idleSlice)
		}
	}
	for _, r := range b.results {
		where := fmt.Sprintf("%s mode at %s", r.mode, r.size.label)
		if r.metrics {
			where += " with metrics on"
		}
		if r.err != "" {
			add("%s failed: %s", where, firstLine(r.err))
		}
		if r.budgetHit {
			add("%s: the time budget of %v ran out after %d of %d rounds of changes (each change is slow; see the p50).", where, r.budget, r.rounds, r.roundsWanted)
		}
		if r.sgBudgetHit {
			add("%s: the time budget of %v ran out after %d of %d rounds of security group changes.", where, o.sgBudget(), r.sgRounds, r.sgWanted)
		}
		if r.idle != nil && (r.idle.generations != 0 || r.idle.failures != 0) {
			add("%s, idle window: %d config generations, %d of %d peer heartbeats failed.", where, r.idle.generations, r.idle.failures, r.idle.heartbeats)
		}
		if bl := b.baseline[r.size.remote]; bl != nil && r.started && (r.flows != bl.flows || r.groups != bl.groups) {
			add("%s installed %d flows / %d groups, %s mode %d / %d: the modes' configs differ.", where, r.flows, r.groups, bl.mode, bl.flows, bl.groups)
		}
	}
	add("Whole run: %s.", took.Round(time.Second))
	fmt.Println()
	for _, n := range notes {
		fmt.Println(wrap("- "+n, 100))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// wrap breaks text into lines of at most width runes at spaces, indenting the continuation.
func wrap(text string, width int) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(text) {
		n := len([]rune(w))
		if i > 0 {
			if line+1+n > width {
				b.WriteString("\n  ")
				line = 2
			} else {
				b.WriteString(" ")
				line++
			}
		}
		b.WriteString(w)
		line += n
	}
	return b.String()
}
