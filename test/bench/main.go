// Command bench is `make bench`: on a real userspace Open vSwitch it runs the ovsgw agent on
// generated configs of 1K, 4K and 16K remote instances (4K with max_interfaces = 8192, 16K
// with 32768), each with a few security groups, in each of the agent's three ways of reading
// its config, and prints one table:
//
//   - file mode: `[CONFIG] file = gateway.yaml`, one YAML document; changes rename a new
//     version over it;
//   - dir mode: `[CONFIG] file = DIR`, one file per remote instance (its VMI and its logical
//     interface under the router and NIC) beside a base file with everything else; changes
//     write, rewrite in place or remove one file;
//   - db mode: `[CONFIG] source = ovsdb:unix:…`, the shared config DB (one standalone
//     ovsdb-server on a unix socket in the bench's run directory); changes are
//     `ovsgw db apply -f FILE --db …` of the whole config, which writes what differs.
//
// For each size and mode, on a node of its own (network namespaces, nothing in the root
// namespace): the cold start by phase (the agent's status: configCheckSeconds,
// lastSyncSeconds), with, once per size, `ovs-ofctl --bundle replace-flows` of the same flows
// on a fresh bridge of the same switch as the baseline; one remote instance added, changed and
// removed, many times each: p50 and p99 of write complete → flows confirmed (the agent's
// lastSync of the config generation holding the change) and the flow mods each change sent;
// at 4K a security group rule change and a remoteGroup membership change; in db mode the time
// `ovsgw db apply` takes, and the agent's CPU over an idle minute while 50 simulated peer nodes
// heartbeat into the database; the agent's peak RSS (VmHWM). Targets are printed beside the
// figures they apply to, marked met (✓) or missed (✗). Then the file mode run of the security
// group size once more, with metrics served as shipped and scraped every second (metrics.go),
// beside the same run without: what metrics cost a sync.
//
// The bench drives the agent only through what users run: the agent binary and its INI, files
// in its config path, `ovsgw db apply`, and the agent's status document (what
// `ovsgw status -o json` prints, read from the same control socket without a process per
// poll). Only the simulated peers write into the database directly, with the configdb client
// an agent uses (PublishNode, PublishBindings).
//
// A second table, first in the run (l3.go), measures the node's services and routing on one
// gateway node: DHCPv4 leases answered per second with many remote instances asking at once
// (16 and 256 by default), beside the bound the packet-in meters set; and a TCP stream between
// two local VMs with iperf3, switched and routed through a logical router, alternately.
//
// Flags make a quick smoke run possible, or one table only (--sections config, --sections l3):
//
//	go run ./test/bench --ovsgw bin/ovsgw --sizes 1K --modes file --changes 5
//	go run ./test/bench --ovsgw bin/ovsgw --sections l3
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// The config modes, as --modes names them.
const (
	modeFile = "file"
	modeDir  = "dir"
	modeDB   = "db"
)

var allModes = []string{modeFile, modeDir, modeDB}

// Defaults of the flags, and what a full run (`make bench`) measures.
const (
	defaultSizes = "1K,4K,16K"
	// defaultRounds: each round times one add, one change and one remove (and, at the
	// security group size, one rule change and one membership change): 100 of each.
	defaultRounds = 100
	// bigSizeDivisor: at bigSize and above a round costs a parse of the whole config in file
	// and db mode (about 0.4 s at 16K), so a quarter of the rounds are run there.
	bigSize        = 16384
	bigSizeDivisor = 4
	// defaultBudget bounds the one-instance changes of one size and mode (and half of it its
	// security group changes); rounds stop early, and the table says so, when changes are so
	// slow that all of them would not fit. Nine size/mode runs of at most this much keep a
	// full run on 2 cores around 20 minutes.
	defaultBudget = 90 * time.Second
	// defaultIdle is the idle window of db mode over which the agent's CPU is measured.
	defaultIdle = 60 * time.Second
	// defaultPeers is how many peer nodes heartbeat into the database during the idle window.
	defaultPeers = 50
	// sgSize is the size whose runs also time security group changes (the largest size asked
	// for, when it is not among them).
	sgSize = 4096
)

// sizeSpec is one measured config size: remote instances and interface budget.
type sizeSpec struct {
	remote, budget int
	label          string
}

// options are the flags.
type options struct {
	bin, schema string
	sizes       []sizeSpec
	modes       []string
	rounds      int
	budget      time.Duration
	idle        time.Duration
	peers       int
	sections    []string
	l3          l3Options
	metrics     bool
	scrapeEvery time.Duration
}

func main() {
	var o options
	var sizes, modes string
	flag.StringVar(&o.bin, "ovsgw", "bin/ovsgw", "the ovsgw binary")
	flag.StringVar(&o.schema, "schema", "schemas/gateway.ovsschema", "the config DB schema (db mode)")
	flag.StringVar(&sizes, "sizes", defaultSizes, "remote instances per run, comma-separated (1K = 1024; 16K runs a quarter of the change rounds)")
	flag.StringVar(&modes, "modes", strings.Join(allModes, ","), "config modes, comma-separated: file (one YAML file), dir (a directory, one file per instance), db (the config DB)")
	flag.IntVar(&o.rounds, "changes", defaultRounds, "rounds of changes per size and mode: each times one add, one change and one remove (and at 4K one security group rule and one membership change)")
	flag.DurationVar(&o.budget, "budget", defaultBudget, "time limit of the one-instance changes of one size and mode (the security group changes get half as much besides)")
	flag.DurationVar(&o.idle, "idle", defaultIdle, "db mode: the idle window over which the agent's CPU is measured (0: none)")
	flag.IntVar(&o.peers, "peers", defaultPeers, "db mode: simulated peer nodes heartbeating during the idle window")
	flag.BoolVar(&o.metrics, "metrics", true, "also run file mode at the security group size (4K, or the largest) with metrics served and scraped, beside the same run without")
	flag.DurationVar(&o.scrapeEvery, "scrape-every", defaultScrapeEvery, "the metrics run: how often the agent's metrics are scraped")
	flag.StringVar(&idleProfile, "profile-idle", "", "db mode: also save a CPU profile of the agent over the idle window to this file (go tool pprof)")
	var sections, clients string
	flag.StringVar(&sections, "sections", strings.Join(allSections, ","), "what to measure, comma-separated: config (the table of sizes and modes), l3 (DHCP leases per second; routed vs switched TCP)")
	flag.StringVar(&clients, "dhcp-clients", defaultDHCPClients, "l3: DHCP clients at once, one run per count, comma-separated (at most 2000)")
	flag.DurationVar(&o.l3.window, "dhcp-window", defaultDHCPWindow, "l3: the window over which leases are counted, per count of clients")
	flag.DurationVar(&o.l3.iperfTime, "iperf-time", defaultIperfTime, "l3: the length of one iperf3 stream (whole seconds)")
	flag.IntVar(&o.l3.iperfRounds, "iperf-rounds", defaultIperfRounds, "l3: iperf3 streams per path (switched, routed), alternating")
	flag.Parse()
	var err error
	if o.sections, err = parseSections(sections); err == nil {
		o.l3.clients, err = parseClients(clients)
	}
	if err == nil {
		o.sizes, err = parseSizes(sizes)
	}
	if err == nil {
		o.modes, err = parseModes(modes)
	}
	if err == nil && (o.l3.window <= 0 || o.l3.iperfTime < time.Second || o.l3.iperfRounds < 1) {
		err = fmt.Errorf("--dhcp-window %v, --iperf-time %v, --iperf-rounds %d: want a window, at least 1s and 1 round", o.l3.window, o.l3.iperfTime, o.l3.iperfRounds)
	}
	if err == nil && slices.Contains(o.sections, sectionL3) {
		if _, lerr := exec.LookPath("iperf3"); lerr != nil {
			err = fmt.Errorf("--sections l3 needs iperf3: scripts/install-deps.sh installs it")
		}
	}
	if err == nil && o.rounds < 1 {
		err = fmt.Errorf("--changes %d: want at least 1", o.rounds)
	}
	if err == nil {
		o.bin, err = filepath.Abs(o.bin)
	}
	if err == nil && slices.Contains(o.sections, sectionConfig) && slices.Contains(o.modes, modeDB) {
		o.schema, err = filepath.Abs(o.schema)
		if err == nil {
			_, err = os.Stat(o.schema)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	// The configdb client of the simulated peers logs every (re)connection at info.
	logrus.SetLevel(logrus.WarnLevel)

	pre := &runT{}
	testbed.Require(pre)
	if pre.failed {
		os.Exit(1)
	}
	var current sync.Mutex
	var cur *runT
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "bench: interrupted; tearing down")
		current.Lock()
		if cur != nil {
			cur.teardown()
		}
		os.Exit(1)
	}()

	began := time.Now()
	sgAt := sgSizeOf(o.sizes)
	b := &bench{opts: o, baseline: map[int]*baseline{}, metricsAt: sgAt}
	// run runs f with t as the current run, in a goroutine that a fatal error ends, and tears
	// down what it made.
	runOne := func(t *runT, f func()) {
		current.Lock()
		cur = t
		current.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			f()
		}()
		<-done
		current.Lock()
		t.teardown()
		cur = nil
		current.Unlock()
	}
	if slices.Contains(o.sections, sectionL3) {
		fmt.Fprintf(os.Stderr, "bench: node services and routing\n")
		t := &runT{}
		b.l3 = &l3Result{}
		runOne(t, func() { b.measureL3(t, b.l3) })
		b.l3.err = t.err
	}
	l3Took := time.Since(began)
	for _, sz := range o.sizes {
		if !slices.Contains(o.sections, sectionConfig) {
			break
		}
		var runs []sizeRun
		for _, mode := range o.modes {
			runs = append(runs, sizeRun{mode: mode})
			if mode == modeFile && o.metrics && sz.remote == sgAt {
				runs = append(runs, sizeRun{mode: mode, metrics: true})
			}
		}
		for _, run := range runs {
			mode := run.mode
			with := ""
			if run.metrics {
				with = ", metrics on"
			}
			fmt.Fprintf(os.Stderr, "bench: %s mode%s, %d remote instances (max_interfaces %d)\n", mode, with, sz.remote, sz.budget)
			t := &runT{}
			r := &result{size: sz, mode: mode, changes: map[string]*changeStats{}, metrics: run.metrics}
			// A fatal error ends the run's goroutine (runtime.Goexit) and this run only; each
			// run's node goes before the next starts: one switch at a time on the cores. The
			// metrics run times one-instance changes only.
			runOne(t, func() { b.measure(t, r, sz.remote == sgAt && !run.metrics) })
			r.err = t.err
			b.results = append(b.results, r)
		}
	}
	if slices.Contains(o.sections, sectionConfig) {
		b.printTable(time.Since(began), sgAt)
	}
	if b.l3 != nil {
		b.printL3(l3Took)
	}
}

// The sections of a run, as --sections names them: the config table, and the node's services
// and routing (l3.go).
const (
	sectionConfig = "config"
	sectionL3     = "l3"
)

var allSections = []string{sectionConfig, sectionL3}

func parseSections(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case !slices.Contains(allSections, f):
			return nil, fmt.Errorf("--sections: %q is not one of %s", f, strings.Join(allSections, ", "))
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--sections: none given")
	}
	return out, nil
}

// parseClients reads --dhcp-clients: counts of DHCP clients, 1 to l3MaxClients.
func parseClients(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > l3MaxClients {
			return nil, fmt.Errorf("--dhcp-clients: %q is not a count of clients from 1 to %d", f, l3MaxClients)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--dhcp-clients: none given")
	}
	return out, nil
}

// sizeRun is one run at a size: its config mode, and whether it is the metrics run.
type sizeRun struct {
	mode    string
	metrics bool
}

// bench is one whole run: its options and what the size/mode runs measured.
type bench struct {
	opts     options
	l3       *l3Result // the l3 section, if run
	results  []*result
	baseline map[int]*baseline // by remote instances: measured by the first run of the size
	// metricsAt is the size of the metrics run (see metrics.go).
	metricsAt int
}

// baseline is the switch's own bulk load of the agent's flows, once per size.
type baseline struct {
	flows, groups int
	replaceFlows  time.Duration
	mode          string // the run whose flows were dumped and replayed
}

// runT is the testbed.T of one size/mode run, outside `go test`: its cleanups tear down the
// run's node, agent and database, in reverse order, at the run's end, or at its first fatal
// error (which ends the run's goroutine, not the bench), or on SIGINT/SIGTERM.
type runT struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	err      string
}

func (r *runT) Helper()                         {}
func (r *runT) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "  "+format+"\n", args...) }
func (r *runT) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}
func (r *runT) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *runT) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.failed = true
	if r.err == "" {
		r.err = msg
	}
	r.mu.Unlock()
	fmt.Fprintf(os.Stderr, "bench: %s\n", msg)
	r.teardown()
	runtime.Goexit()
}

// teardown runs the cleanups registered so far, last first; it may be called more than once.
func (r *runT) teardown() {
	r.mu.Lock()
	cs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// parseSizes reads --sizes: counts of remote instances, "1K" meaning 1024. Each gets the
// default interface budget if it fits, else the next power of two (4K: 8192, 16K: 32768).
func parseSizes(s string) ([]sizeSpec, error) {
	var out []sizeSpec
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		mult := 1
		num := f
		if v, ok := strings.CutSuffix(strings.ToUpper(f), "K"); ok {
			mult, num = 1024, v
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--sizes: %q is not a count of remote instances (1K, 4096, …)", f)
		}
		n *= mult
		budget := model.DefaultMaxInterfaces
		need := n * model.InterfacesPerRemoteVMI
		if need > budget {
			budget = 1
			for budget < need {
				budget *= 2
			}
		}
		label := f
		if n%1024 == 0 {
			label = fmt.Sprintf("%dK", n/1024)
		}
		out = append(out, sizeSpec{remote: n, budget: budget, label: label})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--sizes: none given")
	}
	return out, nil
}

func parseModes(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case !slices.Contains(allModes, f):
			return nil, fmt.Errorf("--modes: %q is not one of %s", f, strings.Join(allModes, ", "))
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--modes: none given")
	}
	return out, nil
}

// sgSizeOf is the size whose runs time security group changes: sgSize if asked for, else the
// largest size.
func sgSizeOf(sizes []sizeSpec) int {
	largest := 0
	for _, s := range sizes {
		if s.remote == sgSize {
			return sgSize
		}
		largest = max(largest, s.remote)
	}
	return largest
}

// sgBudget bounds the security group changes of one run: half the budget of the one-instance
// changes, as a round has two changes instead of three.
func (o options) sgBudget() time.Duration { return o.budget / 2 }

// roundsFor is how many rounds of changes a size runs.
func (o options) roundsFor(n int) int {
	if n >= bigSize {
		return max(1, o.rounds/bigSizeDivisor)
	}
	return o.rounds
}
