package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/filesource"
	"github.com/ovsgw/ovsgw/gateway/metrics"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/gateway/tor"
	"github.com/ovsgw/ovsgw/gateway/torlease"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/unixctl"
)

// Timings of the loop.
const (
	ofRedialInterval   = 200 * time.Millisecond // ovs-vswitchd restarts must be healed within 1 s
	burstGap           = 10 * time.Millisecond  // config changes closer than this are one burst
	maxBundle          = 16384                  // flow changes per bundle: a cold start of 4K instances (100K flows) takes 7
	recompileEvery     = 10                     // resyncs per full recompile (10 × 120 s by default)
	burstMax           = 200 * time.Millisecond // a burst is put in force at least this often
	ovsdbRetryInterval = time.Second
	retryFirst         = time.Second      // a failed reconcile is retried after this, doubling
	retryMax           = 30 * time.Second // up to this, so that a broken switch is not hammered
	opTimeout          = 30 * time.Second
)

var log = logrus.WithField(logging.Component, "agent")

// Agent serves one node.
type Agent struct {
	conf *agentconf.Config
	src  configSource
	db   *configdb.Client // the shared config/state DB; nil when the config is a file

	trigger    chan struct{}     // one slot: pending reconciles coalesce
	publishNow chan struct{}     // one slot: publish this node's row now (HA role changed)
	ha         *haState          // nil unless this node is a gateway of an HA group
	haGroup    haGroupMemo       // this node's HA group under the config in force (ha.go)
	hub        *haHub            // the group's ports as the switch's spanning tree sees them
	prevHA     map[string]string // the HA status the previous run published (this node's row)
	haObserved bool              // observeHA has run: a.ha is this run's (under mu)
	tors       *tor.Switches     // the ToR switches this node manages (with the config DB)
	leases     *torlease.Keeper  // which switches this node manages: the leases it holds
	torKick    chan struct{}     // one slot: sync the ToR switches now

	// Owned by the reconcile loop (one goroutine): the incremental compiler, the flow table
	// (desired and installed), and what was last published.
	engine            *pipeline.Engine
	table             *openflow.FlowTable
	published         map[string]configdb.BindingState // by VMI; nil: not known (start, a failed write)
	publishedFrom     []pipeline.Binding               // the engine's bindings that published came from
	publishedSession  uint64                           // the config DB's LeaderChanges at that publish
	reportedConflicts int
	maxBundle         int // flow changes per bundle; 0: maxBundle (tests set fewer)
	// foreignGroups are notices about groups in ovsgw's id ranges that are not ovsgw's, from the
	// last read of the switch.
	foreignGroups []string
	// purgePending: flows changed that need the datapath flow cache purged, and no purge has
	// succeeded since; every sync tries it until one does.
	purgePending bool
	// flushSeq is set when the bridge's settings changed under the agent (its fail mode: then
	// ovs-vswitchd deletes every flow of the bridge): the switch is read again once
	// ovs-vswitchd has applied the database up to this configuration sequence number.
	flushSeq     int
	flushPending bool
	svc          serviceState

	controlUp bool // the control socket serves already (New brings it up before waiting for the config DB)

	metrics *metrics.Metrics // nil unless [DEFAULT] metrics_address is set (a nil one does nothing)

	mu        sync.Mutex
	waiting   string       // what the agent waits for before it can serve, for status
	idx       *model.Index // the config in force
	loadedAt  time.Time
	cfgGen    int       // counts configs put in force; the first is 1
	cfgSeenAt time.Time // when the agent began reading the config in force (for change latency)
	syncedGen int       // the config generation the bridge was last brought to
	cfgErr    string
	cfgErrAt  *time.Time
	ovs       bridgeDB
	of        flowSession
	view      *compiledView        // of the last sync
	needDump  bool                 // what the switch holds is unknown: read it first
	torHeld   map[string]time.Time // the switches whose lease this node holds, with their fences
	// needRecompile asks the next sync to compile every unit afresh (the fallback that heals
	// whatever an incremental update could have missed).
	needRecompile bool
	lastSync      *time.Time
	timings       map[string]float64 // seconds per phase of the last sync that changed something
	checkSecs     float64            // parse + validate + capacity of the config in force
	syncN         int
	syncErr       string
	syncFailures  int // in a row, since the last sync that succeeded
	// bridgeNotices are the bridge's settings ovsgw found and left alone (a fail mode other than
	// secure), as of the last sync.
	bridgeNotices []string
	purgeFailures int // failed datapath flow cache purges in a row
	// The last sync that sent the bridge anything.
	lastChange                    *time.Time
	lastChangeGen, lastChangeMods int
}

// New loads the gateway config (from the config DB, waiting for it as long as ctx allows);
// an invalid one is refused before anything is touched.
func New(ctx context.Context, conf *agentconf.Config) (*Agent, error) {
	a := &Agent{conf: conf, trigger: make(chan struct{}, 1), publishNow: make(chan struct{}, 1), torKick: make(chan struct{}, 1), needDump: true, hub: newHAHub(),
		engine: pipeline.NewEngine(), table: openflow.NewFlowTable(pipeline.OwnedCookie, pipeline.OwnedGroup)}
	if conf.MetricsAddress != "" {
		a.metrics = metrics.New(metrics.Options{PerVMI: conf.MetricsPerVMI}, a.metricsState)
	}
	start := time.Now()
	if conf.ConfigDB != nil {
		// The control socket comes up first: while the agent waits for the database, status
		// says so (and why) instead of finding no agent at all.
		ctlCtx, cancel := context.WithCancel(ctx)
		if err := control.Serve(ctlCtx, conf.ControlSocket, a); err != nil {
			cancel()
			return nil, err
		}
		a.controlUp = true
		db, err := a.connectConfigDB(ctx)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("config DB %v: %w", conf.ConfigDB, err)
		}
		a.mu.Lock() // status reads them meanwhile
		a.db, a.src = db, &dbSource{db: db, endpoints: conf.ConfigDB}
		a.mu.Unlock()
		defer func() {
			if a.idx == nil { // refused: nothing serves, the socket goes
				cancel()
			}
		}()
	} else {
		src, err := filesource.Open(conf.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("gateway config refused, nothing changed: %w", err)
		}
		a.src = fileSource{src}
	}
	c, _, err := a.src.Load(false)
	var idx *model.Index
	if err == nil {
		idx, err = a.check(c)
	}
	if err != nil {
		if a.db != nil {
			a.db.Close()
		}
		return nil, fmt.Errorf("gateway config from %s refused, nothing changed: %w", a.src, err)
	}
	a.mu.Lock()
	a.idx, a.checkSecs = idx, time.Since(start).Seconds()
	a.loadedAt, a.cfgGen, a.cfgSeenAt, a.waiting = time.Now(), 1, start, ""
	a.mu.Unlock()
	if !conf.GatewayEnabled() {
		log.Warnf("gateway mode is off: [DEFAULT] gateway_mode = server is not set in %s; this node serves local VMIs only and ignores its logical interfaces", conf.Path)
	}
	return a, nil
}

// check validates a config for this node, and returns the index validation built.
func (a *Agent) check(c *model.Config) (*model.Index, error) {
	idx, err := c.ValidateIndex()
	if err != nil {
		return nil, err
	}
	if a.conf.GatewayEnabled() {
		if err := idx.CheckCapacity(a.conf.Hostname, a.conf.MaxInterfaces); err != nil {
			return nil, err
		}
	}
	if err := pipeline.CheckFlowBudget(idx, a.conf.Hostname, a.boundHere(idx), a.conf.MaxFlows); err != nil {
		return nil, err
	}
	return idx, nil
}

// boundHere names the VMIs a config would bind on this node: its remote instances (in gateway
// mode) and the local VMs bound at the last sync (which VMs are plugged is not in the config).
func (a *Agent) boundHere(idx *model.Index) []string {
	var out []string
	if a.conf.GatewayEnabled() {
		out = idx.RemoteInstances(a.conf.Hostname)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.view != nil {
		for _, b := range a.view.bindings {
			if b.Bound && b.Kind == pipeline.BindingLocal {
				out = append(out, b.VMI)
			}
		}
	}
	return out
}

// Run serves until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if !a.controlUp {
		if err := control.Serve(ctx, a.conf.ControlSocket, a); err != nil {
			return err
		}
	}
	log.WithFields(logrus.Fields{logging.Node: a.conf.Hostname, logging.Bridge: a.conf.Bridge, "gatewayMode": a.conf.GatewayEnabled(),
		logging.Config: a.src.String(), "socket": a.conf.ControlSocket}).Info("agent starting")
	if a.metrics != nil {
		if _, err := a.metrics.Serve(ctx, a.conf.MetricsAddress); err != nil {
			return err
		}
		go a.sampleLoop(ctx, time.Duration(a.conf.MetricsInterval)*time.Second)
	}
	if a.db != nil {
		defer a.db.Close()
		a.prevHA = a.previousHA() // before the first heartbeat replaces it
		go a.heartbeat(ctx)
		go a.watchLiveness(ctx)
		a.mu.Lock()
		a.tors = tor.NewSwitches(a.conf.Hostname)
		a.leases = torlease.NewKeeper(a.db, a.conf.Hostname, torlease.DefaultTiming)
		a.mu.Unlock()
		go a.torLoop(ctx)
	}
	ovs, err := a.connectOVSDB(ctx)
	if err != nil {
		return err
	}
	defer ovs.Close()
	a.mu.Lock()
	a.ovs = ovs
	a.mu.Unlock()

	go a.watchConfig(ctx)
	go a.keepOpenFlow(ctx)
	a.observeHA(ctx) // the role before the first sync: a restart must not flip it
	go a.haLoop(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-ovs.Changed():
				a.kick()
				a.hub.poke() // a gateway port's link may have changed
			}
		}
	}()
	resync := time.NewTicker(time.Duration(a.conf.ResyncInterval) * time.Second)
	defer resync.Stop()
	// One retry timer, however many triggers arrive while syncs fail: failures back off
	// instead of starting a new retry chain each.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	failures, resyncs := 0, 0
	a.kick()
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			conn := a.of
			a.mu.Unlock()
			if conn != nil {
				conn.Close()
			}
			log.Info("agent stopped; flows stay installed")
			return nil
		case <-resync.C:
			// Every resync reads the switch back (foreign edits, lost flows); every
			// recompileEvery-th one also compiles everything afresh, the fallback that heals
			// whatever an incremental update could have missed, without paying a full compile
			// (about half a second at 4K instances) every resync interval.
			resyncs++
			// And compares every binding row of this node with what it publishes, so that
			// a row changed or deleted behind its back is written again.
			a.published = nil
			a.mu.Lock()
			a.needDump = true
			a.needRecompile = a.needRecompile || resyncs%recompileEvery == 0
			a.mu.Unlock()
			a.kick()
		case <-retry.C:
			a.kick()
		case <-a.trigger:
			began := time.Now()
			err := a.reconcile(ctx)
			a.metrics.SyncDone(time.Since(began), err)
			if err == nil {
				if failures > 0 {
					retry.Stop()
					failures = 0
					a.mu.Lock()
					a.syncFailures = 0
					a.mu.Unlock()
				}
				continue
			}
			failures++
			delay := retryDelay(failures)
			a.mu.Lock()
			a.syncFailures = failures
			a.mu.Unlock()
			log.WithError(err).WithField(logging.Failures, failures).Warnf("reconcile failed; retrying in %v", delay.Round(time.Millisecond))
			retry.Reset(delay)
		}
	}
}

// retryDelay is how long to wait after the n-th failure in a row: retryFirst doubling up to
// retryMax, less up to a fifth at random, so that nodes failing together do not retry together.
func retryDelay(n int) time.Duration {
	d := retryMax
	if n < 16 {
		d = min(retryFirst<<(n-1), retryMax)
	}
	return d - time.Duration(rand.Int64N(int64(d/5)+1))
}

// kick asks for a reconcile; pending requests coalesce.
func (a *Agent) kick() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

func (a *Agent) connectOVSDB(ctx context.Context) (*ovsdb.Client, error) {
	for {
		c, err := ovsdb.Connect(ctx, a.conf.OVSDB)
		if err == nil {
			return c, nil
		}
		log.WithError(err).Warnf("cannot reach OVSDB at %s; retrying", a.conf.OVSDB)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(ovsdbRetryInterval):
		}
	}
}

// keepOpenFlow holds a connection to the bridge, redialling when it drops. Every new
// connection starts with a read of the switch's state (it may have restarted empty).
func (a *Agent) keepOpenFlow(ctx context.Context) {
	logged := false
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, opTimeout)
		conn, err := openflow.Dial(dctx, a.conf.OpenFlow)
		cancel()
		if err != nil {
			if !logged {
				log.WithError(err).Warnf("cannot reach the bridge over OpenFlow at %s; retrying", a.conf.OpenFlow)
				logged = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(ofRedialInterval):
			}
			continue
		}
		logged = false
		log.Infof("OpenFlow connected to %s", a.conf.OpenFlow)
		a.mu.Lock()
		a.of, a.needDump, a.needRecompile = conn, true, true
		a.mu.Unlock()
		a.kick()
		go a.serve(ctx, conn)
		select {
		case <-ctx.Done():
		case <-conn.Done():
			log.Warn("OpenFlow connection lost; redialling")
		}
		a.mu.Lock()
		a.of = nil
		a.mu.Unlock()
		conn.Close()
	}
}

// watchConfig reloads the config when the source says it changed, or on SIGHUP (re-read
// whole), and asks for a sync when published state that the flows depend on changed.
func (a *Agent) watchConfig(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if f, ok := a.src.(fileSource); ok {
		go f.src.Run(ctx)
	}
	var state <-chan struct{} // other nodes' bindings and ToR switches' state
	if a.db != nil {
		state = a.db.StateChanged()
	}
	// A change is put in force at once; changes that follow each other closer than burstGap
	// are a burst, put in force once the source has been quiet for burstGap (or burstMax after
	// the burst began): a thousand writes in a second make a few configs, not a thousand.
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	var lastEvent, burstStart time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			a.reload(true)
		case <-a.src.Changed():
			now := time.Now()
			inBurst := now.Sub(lastEvent) < burstGap
			lastEvent = now
			if !inBurst && burstStart.IsZero() {
				a.reload(false)
				a.kickTors()
				continue
			}
			if burstStart.IsZero() {
				burstStart = now
			}
			settle.Reset(max(0, min(burstGap, burstStart.Add(burstMax).Sub(now))))
		case <-settle.C:
			burstStart = time.Time{}
			a.reload(false)
			a.kickTors()
		case <-state:
			a.kick()
			a.kickTors()
		}
	}
}

func (a *Agent) kickTors() {
	select {
	case a.torKick <- struct{}{}:
	default:
	}
}

// reload evaluates what changed at the source; force re-reads it whole (SIGHUP). A refused
// config changes nothing: the one in force stays, and the error is kept for status.
func (a *Agent) reload(force bool) {
	start := time.Now()
	c, changed, err := a.src.Load(force)
	if err == nil && !changed {
		return
	}
	var idx *model.Index
	if err == nil {
		idx, err = a.check(c)
	}
	if err != nil {
		a.refuse(fmt.Errorf("new config from %s refused, the previous one stays in force: %w", a.src, err))
		return
	}
	a.mu.Lock()
	a.idx, a.loadedAt, a.cfgErr, a.cfgErrAt = idx, time.Now(), "", nil
	a.checkSecs = time.Since(start).Seconds()
	a.cfgGen++
	a.cfgSeenAt = start
	a.mu.Unlock()
	log.Infof("config reloaded from %s", a.src)
	a.kick()
}

func (a *Agent) refuse(err error) {
	now := time.Now()
	a.mu.Lock()
	a.cfgErr, a.cfgErrAt = err.Error(), &now
	a.mu.Unlock()
	a.metrics.ConfigRefused()
	log.Error(err)
}

// reconcile brings the bridge to the compiled state. The engine recompiles only what the
// inputs' changes touch, the flow table diffs only those units against what is installed, and
// one bundle carries the difference; bindings are published once their flows are confirmed.
func (a *Agent) reconcile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	a.mu.Lock()
	idx, gen, seenAt, ovs, conn := a.idx, a.cfgGen, a.cfgSeenAt, a.ovs, a.of
	needDump, recompile := a.needDump, a.needRecompile
	a.mu.Unlock()
	if ovs == nil || !ovs.Connected() {
		return nil // the reconnect notification triggers the next attempt
	}
	timings := map[string]float64{}
	phase := time.Now()
	lap := func(name string) {
		now := time.Now()
		timings[name] += now.Sub(phase).Seconds()
		phase = now
	}
	spec := ovsdb.BridgeSpec{Name: a.conf.Bridge, DatapathType: a.conf.DatapathType}
	if a.conf.TunnelIP != "" {
		spec.Tunnel = &ovsdb.Tunnel{Name: tunnelPortName, LocalIP: a.conf.TunnelIP}
	}
	if a.conf.GatewayEnabled() {
		if pr := idx.Router(a.conf.Hostname); pr != nil {
			for _, pi := range pr.PhysicalInterfaces {
				spec.Ports = append(spec.Ports, pi.Name)
			}
		}
	}
	if err := ovs.EnsureBridge(ctx, spec); err != nil {
		return a.syncFailed(err)
	}
	changed := a.noteBridge(ovs.BridgeNotices(a.conf.Bridge))
	next, cur := ovs.ConfigSeq() // read after: a change seen above is at or before next
	if changed {
		a.flushSeq, a.flushPending = next, true
	}
	if a.flushPending && cur >= a.flushSeq {
		a.flushPending, needDump = false, true
	}
	lap("ovsdb")
	if conn == nil {
		return nil // flows follow once OpenFlow connects (keepOpenFlow asks for a sync)
	}
	in := pipeline.Input{Index: idx, Host: a.conf.Hostname, GatewayMode: a.conf.GatewayEnabled(), Peers: a.peers(),
		Standby: a.standbyPorts(), Tors: a.torInputs(idx)}
	for _, i := range ovs.Interfaces(a.conf.Bridge) {
		if spec.Tunnel != nil && i.Name == spec.Tunnel.Name {
			in.TunnelPort = i.OFPort
			continue
		}
		in.Ports = append(in.Ports, pipeline.Port{Name: i.Name, OFPort: i.OFPort, IfaceID: i.IfaceID})
	}
	if recompile {
		a.engine.Recompile(in, a.table.SetUnit)
	} else {
		a.engine.Update(in, a.table.SetUnit)
	}
	view := compiledView{bindings: a.engine.Bindings(), notices: a.engine.Notices(), names: a.engine.Names(), networks: a.engine.Networks()}
	lap("compile")
	if needDump {
		installed, err := conn.DumpFlows(ctx, nil)
		if err != nil {
			return a.syncFailed(fmt.Errorf("read flows: %w", err))
		}
		groups, err := conn.DumpGroups(ctx)
		if err != nil {
			return a.syncFailed(fmt.Errorf("read groups: %w", err))
		}
		a.table.Reset(installed, groups)
		a.noteForeignGroups(groups)
		lap("dump")
	}
	// Usually one bundle. A sync of more than maxBundle flow changes (a cold start of
	// thousands of instances, a resync after the switch lost everything) goes in parts, each
	// one bundle, groups first and group deletions last, so that the changes are never all in
	// memory at once; the parts committed before a failure stay, and the retry goes on from
	// what it then reads from the switch.
	if err := a.addMeters(ctx, conn, needDump); err != nil {
		return a.syncFailed(err)
	}
	sent, first, usersRead := 0, true, false
	var conflicts []*openflow.ConflictError
	for {
		changes, cs, more := a.table.ChangesUpTo(a.bundleLimit())
		conflicts = cs
		// A group to delete takes the flows that use it along: read from the switch which do
		// (flows added since the last dump included), and keep it when any is someone else's.
		if !usersRead && deletesGroups(changes) {
			usersRead = true
			kept, err := a.noteGroupUsers(ctx, conn, changes)
			if err != nil {
				return a.syncFailed(fmt.Errorf("read what uses the groups to delete: %w", err))
			}
			if kept {
				continue // those deletions are conflicts now
			}
		}
		if first {
			lap("diff")
			first = false
		}
		if len(changes) == 0 {
			break
		}
		if err := conn.Apply(ctx, changes); err != nil {
			a.mu.Lock()
			a.needDump = true // a failed bundle is rolled back, but be sure what is there
			a.mu.Unlock()
			return a.syncFailed(err)
		}
		a.table.Committed(changes)
		a.metrics.FlowModsSent(len(changes))
		sent += len(changes)
		lap("openflow")
		if onRecirculationPath(changes) || sent > len(changes) {
			a.purgePending = true
		}
		if !more {
			log.WithField(logging.Changes, sent).Info("bridge updated")
			break
		}
	}
	for _, c := range conflicts {
		view.notices = append(view.notices, conflictNotice(c))
	}
	for _, d := range a.table.Duplicates() {
		view.notices = append(view.notices, "internal: "+d.String())
	}
	view.notices = append(view.notices, a.foreignGroups...)
	if len(conflicts) > 0 && a.reportedConflicts != len(conflicts) {
		log.WithField("conflicts", len(conflicts)).Warnf("foreign flows or groups hold places ovsgw needs; they are left alone: %v", conflicts[0])
	}
	a.reportedConflicts = len(conflicts)
	// A purge that failed is retried by the next sync, which the failure schedules with the
	// sync backoff (the error is returned below), whether or not that sync changes flows.
	purging := a.purgePending
	purgeErr := a.purgeIfPending(ctx)
	if purging {
		lap("purge")
	}
	a.deleteMeters(ctx, conn)
	confirmed := time.Now() // flows in place (and the datapath cache purged): what a change waits for
	// Peers learn of a binding only once its flows are in place.
	a.publishBindings(ctx, view.bindings)
	lap("publish")
	view.flows, view.groups, _, _ = a.table.Len()
	now := time.Now()
	a.mu.Lock()
	a.view = &view
	if needDump {
		a.needDump = false
	}
	if recompile {
		a.needRecompile = false
	}
	// The first sync to complete at a generation brings its change, when it sends anything;
	// later ones (resyncs repairing foreign edits, peers' bindings) are not config changes.
	newChange := sent > 0 && gen != a.syncedGen
	a.lastSync, a.syncN, a.syncErr, a.syncedGen = &now, sent, "", gen
	if sent > 0 {
		a.timings = timings
		a.lastChange, a.lastChangeGen, a.lastChangeMods = &confirmed, gen, sent
	}
	a.mu.Unlock()
	if newChange {
		a.metrics.ChangeConfirmed(confirmed.Sub(seenAt))
	}
	if purgeErr != nil {
		return a.syncFailed(purgeErr)
	}
	return nil
}

// noteBridge records the notices about the bridge's settings for status, logs them when they
// change, and reports whether they changed. A change of the fail mode (which ovsgw leaves to
// the bridge's owner) makes ovs-vswitchd delete the bridge's flows once it applies it, so the
// caller then reads the switch again rather than trust the flows it believes installed.
func (a *Agent) noteBridge(notices []string) bool {
	a.mu.Lock()
	changed := strings.Join(notices, "\n") != strings.Join(a.bridgeNotices, "\n")
	a.bridgeNotices = notices
	a.mu.Unlock()
	if changed {
		for _, n := range notices {
			log.Warn(n)
		}
		if len(notices) == 0 {
			log.WithField(logging.Bridge, a.conf.Bridge).Info("bridge settings as ovsgw needs them now")
		}
	}
	return changed
}

// deletesGroups reports whether changes delete a group.
func deletesGroups(changes []openflow.Change) bool {
	for _, c := range changes {
		if g, ok := c.(openflow.GroupMod); ok && g.Command == openflow.GroupDelete {
			return true
		}
	}
	return false
}

// noteGroupUsers reads from the switch the flows that would go with each group that changes
// delete, and the groups that hand packets to it, records the foreign ones in the flow table,
// and reports whether there were any (those groups are then kept).
func (a *Agent) noteGroupUsers(ctx context.Context, conn flowSession, changes []openflow.Change) (bool, error) {
	groups, err := conn.DumpGroups(ctx)
	if err != nil {
		return false, err
	}
	kept := false
	for _, c := range changes {
		g, ok := c.(openflow.GroupMod)
		if !ok || g.Command != openflow.GroupDelete {
			continue
		}
		flows, err := conn.DumpFlowsToGroup(ctx, g.Group.ID)
		if err != nil {
			return false, err
		}
		if a.table.NoteGroupUsers(g.Group.ID, flows, groups) {
			kept = true
		}
	}
	return kept, nil
}

// conflictNotice is how status words a conflict: what ovsgw did not do, and why.
func conflictNotice(c *openflow.ConflictError) string {
	if c.Kind == openflow.ConflictInUse {
		return "kept: " + c.Error()
	}
	return "not programmed: " + c.Error()
}

// noteForeignGroups records, from a read of the switch, the groups in ovsgw's id ranges that
// are not ovsgw's (they lack its marker) and what uses them, for status and the log. Before
// groups were marked, such a group was taken for ovsgw's and deleted, and OpenFlow deleted the
// other controller's flows that used it with it.
func (a *Agent) noteForeignGroups(groups []openflow.Group) {
	var notices []string
	for _, g := range groups {
		if !pipeline.InGroupRange(g.ID) || pipeline.OwnedGroup(g) {
			continue
		}
		n := fmt.Sprintf("foreign group %d left alone: its id is in ovsgw's ranges, but it does not carry ovsgw's marker (%s first in its first bucket)", g.ID, pipeline.GroupMarker)
		if user, users := a.table.ForeignGroupUsers(g.ID); users > 0 {
			n += fmt.Sprintf("; used by %d foreign flows or groups, such as %q", users, user)
		}
		notices = append(notices, n)
	}
	if strings.Join(notices, "\n") != strings.Join(a.foreignGroups, "\n") {
		for _, n := range notices {
			log.Warn(n)
		}
	}
	a.foreignGroups = notices
}

// bundleLimit is how many flow changes one bundle carries at most.
func (a *Agent) bundleLimit() int {
	if a.maxBundle > 0 {
		return a.maxBundle
	}
	return maxBundle
}

// compiledView is what status and flow dumps need of the last compile; it is replaced whole,
// never changed, so readers may keep it without the lock.
type compiledView struct {
	bindings      []pipeline.Binding
	networks      []pipeline.Network
	notices       []string
	names         map[pipeline.Kind]map[uint32]string
	flows, groups int
}

// onRecirculationPath reports whether changes touch what packets meet after connection
// tracking recirculates them (the tables after conntrack, and the flood groups).
func onRecirculationPath(changes []openflow.Change) bool {
	for _, c := range changes {
		switch c := c.(type) {
		case openflow.FlowMod:
			if c.Flow.Table > pipeline.TableConntrack {
				return true
			}
		case openflow.GroupMod:
			return true
		}
	}
	return false
}

// purgeIfPending purges the datapath flow cache when flow changes asked for it and no purge
// has succeeded since, and counts the failures in a row for status.
func (a *Agent) purgeIfPending(ctx context.Context) error {
	if !a.purgePending {
		return nil
	}
	err := a.purgeDatapathFlows(ctx)
	a.mu.Lock()
	if err != nil {
		a.purgeFailures++
	} else {
		a.purgeFailures = 0
	}
	failures := a.purgeFailures
	a.mu.Unlock()
	if err != nil {
		log.WithError(err).WithField(logging.Failures, failures).Warn("cannot purge the datapath flow cache; retrying with the next sync")
		return fmt.Errorf("purge of the datapath flow cache: %w", err)
	}
	a.purgePending = false
	return nil
}

// purgeDatapathFlows makes ovs-vswitchd drop its datapath flow cache. Open vSwitch 3.1 was seen
// to keep a stale cached flow for a recirculated (post-conntrack) packet of a remote instance
// after a flow change, allowing a connection the new flows deny, until a purge; the next
// packets of each flow are translated afresh instead. Without a control socket to use (no
// run directory known, none configured) there is nothing to do.
func (a *Agent) purgeDatapathFlows(ctx context.Context) error {
	if a.conf.VswitchdCtl == "" && a.conf.RunDir == "" {
		return nil
	}
	sock, err := a.vswitchdCtl()
	if err != nil {
		return fmt.Errorf("%w (set [OVS] vswitchd_ctl)", err)
	}
	_, err = unixctl.Call(ctx, sock, "revalidator/purge")
	return err
}

func (a *Agent) syncFailed(err error) error {
	a.mu.Lock()
	a.syncErr = err.Error()
	a.mu.Unlock()
	return err
}

// errNotConnected is returned to CLI requests that need the switch.
var errNotConnected = errors.New("the agent is not connected to the bridge over OpenFlow")
