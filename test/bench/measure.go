package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/test/bench/scale"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// What one run measures, and how it waits.
const (
	host           = "gw1"
	bridge         = "br-int"
	baselineBridge = "br-base"
	// syncTimeout bounds one cold start or one change.
	syncTimeout = 3 * time.Minute
	// pollFirst and pollMax pace the status polls that wait for a sync (each 1.5 times the
	// last); the times reported come from the agent's own lastSync timestamp, not from when a
	// poll noticed it. The first poll comes soon, as a change takes milliseconds; later ones
	// are spaced out, as serving a status of thousands of bindings costs the agent CPU.
	pollFirst = 5 * time.Millisecond
	pollMax   = 250 * time.Millisecond
	// statusTimeout bounds one status request (16K bindings are a few MB of JSON).
	statusTimeout = 20 * time.Second
	// clkTck is the kernel's USER_HZ: /proc/PID/stat counts CPU time in these ticks.
	clkTck = 100
	// spread picks the instance a round changes: a prime stride spreads the rounds over NICs,
	// VLANs and VNs.
	spread = 7919
)

// The kinds of timed change, in table order.
const (
	kindAdd      = "add"
	kindChange   = "change"
	kindRemove   = "remove"
	kindSGRule   = "sg-rule"
	kindSGMember = "sg-member"
)

var basicKinds = []string{kindAdd, kindChange, kindRemove}

// result is what one size/mode run measured.
type result struct {
	size sizeSpec
	mode string
	err  string // the run failed: why (what it measured before is kept)

	started        bool // the cold start completed
	flows, groups  int
	coldStart      time.Duration
	coldStartBound bool // coldStart is an upper bound (a sync that changed nothing came after)
	checkSecs      float64
	phases         map[string]float64
	fullApply      time.Duration // db mode: ovsgw db apply of the whole config, before the start
	rssStart       int64         // kB, VmHWM after the cold start
	cpuStart       float64

	changes                map[string]*changeStats // by kind
	rounds, roundsWanted   int
	sgRounds, sgWanted     int
	budgetHit, sgBudgetHit bool
	applies                []time.Duration // db mode: ovsgw db apply of each timed change

	idle *idleResult // db mode

	metrics bool // the metrics run (see metrics.go)
	// changesCPU is the agent's CPU seconds over the one-instance changes (security group
	// changes excluded), changesN how many changes that was.
	changesCPU float64
	changesN   int
	budget     time.Duration // of the one-instance changes
	scrapes    *scrapes      // what its scraper saw

	rssEnd int64 // kB, VmHWM at the end of the run
	cpuEnd float64
}

type changeStats struct {
	latencies []time.Duration
	bounds    int // how many latencies are upper bounds (see waitSynced)
	mods      []int
	phases    map[string][]float64 // check, and each lastSyncSeconds phase
	uncounted int                  // changes that took more than one config generation
}

func (r *result) stats(kind string) *changeStats {
	c := r.changes[kind]
	if c == nil {
		c = &changeStats{phases: map[string][]float64{}}
		r.changes[kind] = c
	}
	return c
}

// measure runs one size in one mode on a node of its own; sg adds the security group changes.
func (b *bench) measure(t *runT, r *result, sg bool) {
	n := r.size.remote
	node := testbed.NewNode(t, "bench")
	far := testbed.NewNS(t, "nics")
	for i, nic := range scale.NICs(n) {
		testbed.Link(t, far, "far"+strconv.Itoa(i+1), node.NS, nic)
	}
	opts := testbed.AgentOptions{Hostname: host, GatewayMode: true, Bridge: bridge}
	if r.size.budget != model.DefaultMaxInterfaces {
		opts.MaxInterfaces = r.size.budget
	}
	if r.metrics {
		opts.MetricsAddress = metricsAddress // metrics_interval: the agent's default
	}
	var db *testbed.ConfigDB
	switch r.mode {
	case modeDir:
		opts.ConfigDir = true
	case modeDB:
		db = testbed.NewConfigDB(t, node.NS, b.opts.schema)
		opts.ConfigDB = db.Endpoint
	}
	spec := scale.Spec{Host: host, Remote: n, SecurityGroups: true}
	none := spec.Clone()
	for i := 0; i < n; i++ {
		none.Removed[i] = true
	}
	// The bridge with its NICs, from an agent run on the config without remote instances: the
	// timed start then reaches the switch in one sync, whose phases add up.
	a := testbed.PrepareAgent(t, b.opts.bin, node, opts, "")
	w := newWriter(r.mode, a, b.opts.bin, db)
	w.write(t, none)
	a.Start(t)
	waitSynced(t, a, 0, 1)
	if err := a.Proc.Stop(); err != nil {
		t.Fatalf("stop the preparing agent: %v", err)
	}

	// The timed cold start, from the whole config in place.
	_, r.fullApply = w.write(t, spec)
	start := time.Now()
	a.Start(t)
	if r.metrics {
		r.scrapes = scrape(node, b.opts.scrapeEvery)
		defer r.scrapes.end()
	}
	s, end, exact := waitSynced(t, a, n, 1)
	r.started = true
	r.coldStart, r.coldStartBound = end.Sub(start), !exact
	r.checkSecs, r.phases = s.ConfigCheckSeconds, s.LastSyncSeconds
	r.flows, r.groups = s.Flows, s.Groups
	r.rssStart, r.cpuStart = procStats(t, a.Proc.Pid)
	fmt.Fprintf(os.Stderr, "  cold start %.3f s, %d flows, %d groups\n", r.coldStart.Seconds(), s.Flows, s.Groups)

	if b.baseline[n] == nil {
		b.baseline[n] = measureBaseline(t, node, a.Dir, s.Flows, s.Groups, r.mode)
	}

	b.changes(t, r, a, w, spec, sg)
	if r.mode == modeDB && b.opts.idle > 0 {
		r.idle = measureIdle(t, a, db, b.opts.peers, b.opts.idle)
	}
	r.rssEnd, r.cpuEnd = procStats(t, a.Proc.Pid)
}

// measureBaseline dumps the agent's flows and groups and writes them to a fresh bridge of the
// same switch: groups and meters first (flows refer to them), then the flows, timed, with
// `ovs-ofctl --bundle replace-flows`.
func measureBaseline(t *runT, node *testbed.Node, dir string, flows, groups int, mode string) *baseline {
	// Only the flow and group lines: the output holds ovs-ofctl's log lines too (its stderr).
	var fl []string
	for _, line := range strings.Split(node.MustOfctl(t, "dump-flows", bridge, "--no-stats"), "\n") {
		if strings.Contains(line, "actions=") {
			fl = append(fl, line)
		} else if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "OFPST_FLOW") {
			t.Logf("dump-flows: %s", line)
		}
	}
	if len(fl) != flows {
		t.Fatalf("the bridge holds %d flows, the agent computed %d", len(fl), flows)
	}
	flowsText := strings.Join(fl, "\n") + "\n"
	groupsText := node.MustOfctl(t, "dump-groups", bridge)
	node.AddBridge(t, baselineBridge, "fail_mode=secure", "protocols=OpenFlow13")
	flowsFile, groupsFile := filepath.Join(dir, "flows.txt"), filepath.Join(dir, "groups.txt")
	var gl []string
	for _, line := range strings.Split(groupsText, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "group_id=") {
			gl = append(gl, line)
		}
	}
	for file, text := range map[string]string{flowsFile: flowsText, groupsFile: strings.Join(gl, "\n") + "\n"} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatalf("%v", err)
		}
	}
	node.MustOfctl(t, "add-groups", baselineBridge, groupsFile)
	copyMeters(t, node)
	start := time.Now()
	node.MustOfctl(t, "--bundle", "replace-flows", baselineBridge, flowsFile)
	d := time.Since(start)
	if got := strings.Count(node.MustOfctl(t, "dump-flows", baselineBridge, "--no-stats"), "actions="); got != flows {
		t.Fatalf("replace-flows installed %d flows, want %d", got, flows)
	}
	// The baseline bridge goes: the changes that follow must not share the switch with it.
	node.MustVsctl(t, "del-br", baselineBridge)
	return &baseline{flows: flows, groups: groups, replaceFlows: d, mode: mode}
}

// copyMeters puts the agent's meters (the services' punt rate limits) on the baseline bridge:
// OVS refuses a flow whose meter is missing. ovs-ofctl adds one meter per process, so they go
// over one OpenFlow connection instead, as the agent adds them.
func copyMeters(t *runT, node *testbed.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	var meters []openflow.Meter
	for _, br := range []string{bridge, baselineBridge} {
		conn, err := openflow.Dial(ctx, node.MgmtSocket(br))
		if err != nil {
			t.Fatalf("copy meters: %v", err)
		}
		if br == bridge {
			meters, err = conn.DumpMeters(ctx)
		} else {
			mods := make([]openflow.MeterMod, len(meters))
			for i, m := range meters {
				mods[i] = openflow.MeterMod{Command: openflow.MeterAdd, Meter: m}
			}
			err = conn.ModMeters(ctx, mods...)
		}
		conn.Close()
		if err != nil {
			t.Fatalf("copy meters from %s to %s: %v", bridge, baselineBridge, err)
		}
	}
}

// changes times one-instance changes while all n are installed: per round, instance k is
// removed, added back, and moved to its alternative MAC and address (or back); with sg, per
// round, group admin's rule switches port and one instance joins (or leaves) group peers.
func (b *bench) changes(t *runT, r *result, a *testbed.Agent, w *writer, spec scale.Spec, sg bool) {
	n := r.size.remote
	client := control.NewClient(a.Socket)
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	st, err := client.StatusBrief(ctx)
	cancel()
	if err != nil {
		t.Fatalf("%v", err)
	}
	gen := st.ConfigGeneration
	cur := spec.Clone()
	apply := func(kind string, next scale.Spec) {
		done, applyTime := w.write(t, next)
		cur = next
		gen++
		want := n - len(next.Removed)
		st, end, exact := waitSynced(t, a, want, gen)
		c := r.stats(kind)
		if st.ConfigGeneration != gen {
			// Not this change's generation alone (the write was seen in two steps, or
			// something else changed the config): its time is not this change's.
			c.uncounted++
			t.Logf("%s: config generation %d, want %d: change not counted", kind, st.ConfigGeneration, gen)
			gen = st.ConfigGeneration
			return
		}
		c.latencies = append(c.latencies, end.Sub(done))
		if exact {
			c.mods = append(c.mods, st.LastSyncChanges)
		} else {
			c.bounds++
		}
		c.phases["check"] = append(c.phases["check"], st.ConfigCheckSeconds)
		for p, v := range st.LastSyncSeconds {
			c.phases[p] = append(c.phases[p], v)
		}
		if w.mode == modeDB {
			r.applies = append(r.applies, applyTime)
		}
	}

	r.roundsWanted = b.opts.roundsFor(n)
	budget := b.opts.budget
	if r.metrics {
		budget /= metricsBudgetDivisor
	}
	r.budget = budget
	began := time.Now()
	_, cpu0 := procStats(t, a.Proc.Pid)
	for round := 0; round < r.roundsWanted; round++ {
		if round > 0 && time.Since(began) > budget {
			r.budgetHit = true
			fmt.Fprintf(os.Stderr, "  time budget of %v spent after %d rounds of changes\n", budget, round)
			break
		}
		k := round * spread % n
		next := cur.Clone()
		next.Removed[k] = true
		apply(kindRemove, next)
		next = cur.Clone()
		delete(next.Removed, k)
		apply(kindAdd, next)
		next = cur.Clone()
		next.Moved[k] = !next.Moved[k]
		apply(kindChange, next)
		r.rounds = round + 1
	}
	_, cpu1 := procStats(t, a.Proc.Pid)
	r.changesCPU, r.changesN = cpu1-cpu0, 3*r.rounds
	if !sg || n <= scale.PeerMembers {
		return
	}
	r.sgWanted = b.opts.roundsFor(n)
	began = time.Now()
	for round := 0; round < r.sgWanted; round++ {
		if round > 0 && time.Since(began) > b.opts.sgBudget() {
			r.sgBudgetHit = true
			fmt.Fprintf(os.Stderr, "  time budget of %v spent after %d rounds of security group changes\n", b.opts.sgBudget(), round)
			break
		}
		next := cur.Clone()
		next.AltRule = !next.AltRule
		apply(kindSGRule, next)
		// Instance k joins group peers in one round and leaves it in the next.
		k := scale.PeerMembers + round/2*spread%(n-scale.PeerMembers)
		next = cur.Clone()
		next.Joined[k] = !next.Joined[k]
		apply(kindSGMember, next)
		r.sgRounds = round + 1
	}
}

// waitSynced waits until the agent has bound n remote instances and brought the bridge to a
// config generation of at least gen. It returns the status, when the sync that did it ended
// (the agent's lastChange, when it is of this generation), and whether that time is exact:
// false when the agent reports no change of this generation (a config change that changed no
// flow); lastSync is then used, an upper bound.
func waitSynced(t *runT, a *testbed.Agent, n, gen int) (control.Status, time.Time, bool) {
	client := control.NewClient(a.Socket)
	deadline := time.Now().Add(syncTimeout)
	wait := pollFirst
	for {
		time.Sleep(wait)
		wait = min(wait*3/2, pollMax)
		ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		s, err := client.StatusBrief(ctx) // no bindings list: at 4K its encoding would load the agent
		cancel()
		if err == nil && s.LastSyncError == "" && s.LastSync != nil && s.SyncedGeneration == s.ConfigGeneration && s.ConfigGeneration >= gen {
			if s.BindingsBound == n {
				// The sync that sent this generation's changes, even when syncs that changed
				// nothing came after it (the agent's own binding publish, say).
				if s.LastChange != nil && s.LastChangeGeneration == s.ConfigGeneration {
					s.LastSyncChanges = s.LastChangeMods
					return *s, *s.LastChange, true
				}
				return *s, *s.LastSync, s.LastSyncChanges > 0
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprint(err)
			if err == nil {
				msg = fmt.Sprintf("generation %d of %d (want %d), sync error %.300q, config error %.300q",
					s.SyncedGeneration, s.ConfigGeneration, gen, s.LastSyncError, s.LastConfigError)
			}
			t.Fatalf("agent on %s not synced within %v: %s\n%s", a.Node.Name, syncTimeout, msg, lastLines(a.LogText(), 20))
		}
	}
}

// procStats reads a process's peak resident set (kB) and CPU seconds (user + system).
func procStats(t *runT, pid int) (rssKB int64, cpu float64) {
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
