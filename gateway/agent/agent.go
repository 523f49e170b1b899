package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/gateway/tor"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/unixctl"
)

// Timings of the loop.
const (
	configPollInterval = 250 * time.Millisecond // how soon an edited config file is noticed (a read and a hash: ~1 ms at 4K instances)
	ofRedialInterval   = 200 * time.Millisecond // ovs-vswitchd restarts must be healed within 1 s
	ovsdbRetryInterval = time.Second
	retryAfterError    = time.Second // a failed reconcile is retried after this
	opTimeout          = 30 * time.Second
)

var log = logrus.WithField("component", "agent")

// Agent serves one node.
type Agent struct {
	conf *agentconf.Config
	src  configSource
	db   *configdb.Client // the shared config/state DB; nil when the config is a file

	trigger    chan struct{} // one slot: pending reconciles coalesce
	publishNow chan struct{} // one slot: publish this node's row now (HA role changed)
	ha         *haState      // nil unless this node is a gateway of an HA group
	tors       *tor.Switches // the ToR switches this node manages (with the config DB)
	torKick    chan struct{} // one slot: sync the ToR switches now

	mu        sync.Mutex
	idx       *model.Index // the config in force
	cfgHash   [32]byte     // of the file content last evaluated (valid or not)
	loadedAt  time.Time
	cfgGen    int // counts configs put in force; the first is 1
	syncedGen int // the config generation the bridge was last brought to
	cfgErr    string
	cfgErrAt  *time.Time
	ovs       *ovsdb.Client
	of        *openflow.Conn
	out       *pipeline.Output
	needDump  bool                     // the cache below is unknown: read the switch first
	installed []openflow.InstalledFlow // what the switch holds (ours and others')
	groups    []openflow.Group
	lastSync  *time.Time
	timings   map[string]float64 // seconds per phase of the last sync that changed something
	checkSecs float64            // parse + validate + capacity of the config in force
	syncN     int
	syncErr   string
}

// New loads the gateway config (from the config DB, waiting for it as long as ctx allows);
// an invalid one is refused before anything is touched.
func New(ctx context.Context, conf *agentconf.Config) (*Agent, error) {
	a := &Agent{conf: conf, trigger: make(chan struct{}, 1), publishNow: make(chan struct{}, 1), torKick: make(chan struct{}, 1), needDump: true,
		src: fileSource{conf.ConfigFile}}
	if conf.ConfigDB != nil {
		db, err := connectConfigDB(ctx, conf.ConfigDB)
		if err != nil {
			return nil, fmt.Errorf("config DB %v: %w", conf.ConfigDB, err)
		}
		a.db, a.src = db, dbSource{db, conf.ConfigDB}
	}
	start := time.Now()
	data, err := a.src.Raw()
	var c *model.Config
	if err == nil {
		c, err = a.src.Parse(data)
	}
	if err == nil {
		a.idx, err = a.check(c)
	}
	a.checkSecs = time.Since(start).Seconds()
	if err != nil {
		if a.db != nil {
			a.db.Close()
		}
		return nil, fmt.Errorf("gateway config from %s refused, nothing changed: %w", a.src, err)
	}
	a.cfgHash, a.loadedAt, a.cfgGen = sha256.Sum256(data), time.Now(), 1
	if !conf.GatewayEnabled() {
		log.Warnf("gateway mode is off: [DEFAULT] gateway_mode = server is not set in %s; this node serves local VMIs only and ignores its logical interfaces", conf.Path)
	}
	return a, nil
}

// check validates a config for this node.
func (a *Agent) check(c *model.Config) (*model.Index, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	idx := model.NewIndex(c)
	if a.conf.GatewayEnabled() {
		if err := idx.CheckCapacity(a.conf.Hostname, a.conf.MaxInterfaces); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// Run serves until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if err := control.Serve(ctx, a.conf.ControlSocket, a); err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"node": a.conf.Hostname, "bridge": a.conf.Bridge, "gatewayMode": a.conf.GatewayEnabled(),
		"config": a.src.String(), "socket": a.conf.ControlSocket}).Info("agent starting")
	if a.db != nil {
		defer a.db.Close()
		go a.heartbeat(ctx)
		a.mu.Lock()
		a.tors = tor.NewSwitches(a.conf.Hostname)
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
	go a.haLoop(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-ovs.Changed():
				a.kick()
			}
		}
	}()
	resync := time.NewTicker(time.Duration(a.conf.ResyncInterval) * time.Second)
	defer resync.Stop()
	a.kick()
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			if a.of != nil {
				a.of.Close()
			}
			a.mu.Unlock()
			log.Info("agent stopped; flows stay installed")
			return nil
		case <-resync.C:
			a.mu.Lock()
			a.needDump = true
			a.mu.Unlock()
			a.kick()
		case <-a.trigger:
			if err := a.reconcile(ctx); err != nil {
				log.WithError(err).Warn("reconcile failed; retrying")
				time.AfterFunc(retryAfterError, a.kick)
			}
		}
	}
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
		a.of, a.needDump = conn, true
		a.mu.Unlock()
		a.kick()
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

// watchConfig reloads the config when its file changes or on SIGHUP.
func (a *Agent) watchConfig(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(configPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			a.reload(true)
		case <-tick.C:
			a.reload(false)
		case <-a.src.Changed(): // the DB's config, or other nodes' bindings, changed
			a.reload(false)
			a.kick()
			select {
			case a.torKick <- struct{}{}:
			default:
			}
		}
	}
}

// reload evaluates the config file; force re-evaluates unchanged content (SIGHUP). A refused
// config changes nothing: the one in force stays, and the error is kept for status.
func (a *Agent) reload(force bool) {
	start := time.Now()
	data, err := a.src.Raw()
	sum := sha256.Sum256(data)
	a.mu.Lock()
	same := sum == a.cfgHash
	a.cfgHash = sum
	a.mu.Unlock()
	if same && !force {
		return
	}
	var c *model.Config
	if err == nil {
		c, err = a.src.Parse(data)
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
	a.mu.Unlock()
	log.Infof("config reloaded from %s", a.src)
	a.kick()
}

func (a *Agent) refuse(err error) {
	now := time.Now()
	a.mu.Lock()
	a.cfgErr, a.cfgErrAt = err.Error(), &now
	a.mu.Unlock()
	log.Error(err)
}

// reconcile brings the bridge to the compiled state.
func (a *Agent) reconcile(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	a.mu.Lock()
	idx, gen, ovs, conn := a.idx, a.cfgGen, a.ovs, a.of
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
	out := pipeline.Compile(in)
	lap("compile")
	a.publishBindings(ctx, out)
	lap("publish")
	a.mu.Lock()
	a.out = out
	needDump, installed, groups := a.needDump, a.installed, a.groups
	a.mu.Unlock()
	if needDump {
		var err error
		if installed, err = conn.DumpFlows(ctx, nil); err != nil {
			return a.syncFailed(fmt.Errorf("read flows: %w", err))
		}
		if groups, err = conn.DumpGroups(ctx); err != nil {
			return a.syncFailed(fmt.Errorf("read groups: %w", err))
		}
		lap("dump")
	}
	desired := make([]openflow.Flow, len(out.Flows))
	for i, e := range out.Flows {
		desired[i] = e.Flow
	}
	desiredGroups := make([]openflow.Group, len(out.Groups))
	for i, g := range out.Groups {
		desiredGroups[i] = g.Group
	}
	changes, err := openflow.Plan(desired, installed, pipeline.OwnedCookie, desiredGroups, groups, pipeline.OwnedGroup)
	if err != nil {
		return a.syncFailed(err)
	}
	lap("diff")
	if len(changes) > 0 {
		if err := conn.Apply(ctx, changes); err != nil {
			a.mu.Lock()
			a.needDump = true // a failed bundle is rolled back, but be sure what is there
			a.mu.Unlock()
			return a.syncFailed(err)
		}
		lap("openflow")
		log.WithField("changes", len(changes)).Info("bridge updated")
		if onRecirculationPath(changes) {
			a.purgeDatapathFlows(ctx)
			lap("purge")
		}
	}
	now := time.Now()
	a.mu.Lock()
	a.installed, a.groups = afterApply(installed, desired, pipeline.OwnedCookie), append(foreignGroups(groups), desiredGroups...)
	a.needDump, a.lastSync, a.syncN, a.syncErr, a.syncedGen = false, &now, len(changes), "", gen
	if len(changes) > 0 {
		a.timings = timings
	}
	a.mu.Unlock()
	return nil
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

// purgeDatapathFlows makes ovs-vswitchd drop its datapath flow cache. Open vSwitch 3.1 was seen
// to keep a stale cached flow for a recirculated (post-conntrack) packet of a remote instance
// after a flow change, allowing a connection the new flows deny, until a purge; the next
// packets of each flow are translated afresh instead.
func (a *Agent) purgeDatapathFlows(ctx context.Context) {
	sock := a.conf.VswitchdCtl
	if sock == "" && a.conf.RunDir != "" {
		var err error
		if sock, err = unixctl.VswitchdSocket(a.conf.RunDir); err != nil {
			log.WithError(err).Warn("cannot purge the datapath flow cache; set [OVS] vswitchd_ctl")
			return
		}
	}
	if sock == "" {
		return
	}
	if _, err := unixctl.Call(ctx, sock, "revalidator/purge"); err != nil {
		log.WithError(err).Warn("cannot purge the datapath flow cache")
	}
}

func (a *Agent) syncFailed(err error) error {
	a.mu.Lock()
	a.syncErr = err.Error()
	a.mu.Unlock()
	return err
}

// afterApply is the switch's content once desired is installed: others' flows stay as read.
func afterApply(installed []openflow.InstalledFlow, desired []openflow.Flow, owned func(uint64) bool) []openflow.InstalledFlow {
	out := make([]openflow.InstalledFlow, 0, len(desired)+8)
	for _, f := range installed {
		if !owned(f.Cookie) {
			out = append(out, f)
		}
	}
	for _, f := range desired {
		out = append(out, openflow.InstalledFlow{Flow: f})
	}
	return out
}

func foreignGroups(groups []openflow.Group) []openflow.Group {
	var out []openflow.Group
	for _, g := range groups {
		if !pipeline.OwnedGroup(g.ID) {
			out = append(out, g)
		}
	}
	return out
}

// errNotConnected is returned to CLI requests that need the switch.
var errNotConnected = errors.New("the agent is not connected to the bridge over OpenFlow")
