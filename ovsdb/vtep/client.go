package vtep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
	"github.com/ovsgw/ovsgw/ovsdb/vtep/hwvtep"
)

// DatabaseName is the name of the database in vtep.ovsschema.
const DatabaseName = "hardware_vtep"

// Timing. As in package ovsdb, none of these are protocol numbers; each bounds a wait so that a
// dead or hung switch turns into an error and a retry instead of a hang.
const (
	// dialTimeout bounds one connection attempt (dial, TLS, list_dbs, get_schema, monitor with
	// the initial dump). A switch's database is small; thousands of MACs dump in well under a
	// second, 10 s leaves room for a slow switch CPU.
	dialTimeout = 10 * time.Second
	// transactTimeout bounds one transaction; a switch's ovsdb-server commits in milliseconds.
	transactTimeout = 10 * time.Second
	// retryMaxInterval caps the backoff between connection attempts (first connection and
	// libovsdb's reconnects): a restarted ovsdb-server is back within seconds, and 5 s keeps the
	// gap after it returns short, as in package ovsdb.
	retryMaxInterval = 5 * time.Second
	// inactivityProbe: this often the client sends the switch an echo (probe) and reconnects if
	// none comes back within dialTimeout. A switch reached over a network may go away without a
	// FIN or RST (power loss, partition).
	inactivityProbe = 15 * time.Second
	// connectedPoll is how often the connection state is sampled to report reconnects (libovsdb
	// has no reconnect callback); the backoff's first interval (cenkalti/backoff's default 500 ms).
	connectedPoll = 500 * time.Millisecond
	// cacheSyncTimeout bounds the wait for a committed transaction to come back through the
	// monitor into the cache (normally milliseconds).
	cacheSyncTimeout = 5 * time.Second
	// stableReadAttempts bounds the re-reads of the cache while updates keep landing (see
	// snapshot); a read takes microseconds per hundred rows.
	stableReadAttempts = 20
)

// ErrNotConnected is returned by Sync while the client has no session with the switch.
var ErrNotConnected = errors.New("not connected to the switch's OVSDB")

var baseLog = logrus.WithField(logging.Component, "vtep")

// Options say which switch to serve and how to reach its database.
type Options struct {
	// Endpoint is the database: "tcp:HOST:PORT", "ssl:HOST:PORT" or "unix:PATH".
	Endpoint string
	// Switch is the Physical_Switch's name; bindings name ports of this switch.
	Switch string
	// PrivateKey, Certificate and CACert are PEM files, needed by an ssl: endpoint. As Open
	// vSwitch does, the switch's certificate must be signed by CACert; no host name is checked
	// (OVS PKI certificates name a switch, not a host). The files are read at each connection
	// attempt (see package ovstls): rotated files are used from the next one on.
	PrivateKey, Certificate, CACert string
	// PeerCommonName, when not empty, pins the switch: its certificate's common name must be it.
	PeerCommonName string
	// Object names the switch in log lines, as the caller's config names it (logging.Object);
	// empty: Physical_Switch[NAME], the database's own name for it.
	Object string
}

func (o *Options) logObject() string {
	if o.Object != "" {
		return o.Object
	}
	return "Physical_Switch[" + o.Switch + "]"
}

// Client keeps one switch's hardware_vtep database in a monitored cache and writes ovsgw's rows
// there. Its methods are safe for concurrent use.
type Client struct {
	opts    Options
	log     *logrus.Entry
	tls     *ovstls.Client // nil unless ssl:
	backoff *clientkit.ClosableBackOff
	sig     *clientkit.Signals // on each cache event and reconnect
	stop    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
	syncMu    sync.Mutex // serialises Sync: plan, transact, wait for cache

	mu       sync.Mutex
	ovs      client.Client // nil until the first connection succeeded
	desired  *Desired      // what the last Sync wanted
	lastSync *time.Time
	syncErr  string
	problems []string
	dialErr  string // why the first connection has not been made yet

	// connected is the connection state as last sampled (see Connected).
	connected atomic.Bool

	transactions atomic.Int64 // transactions sent, for tests
}

// New checks opts and starts connecting in the background; it does not wait for the switch.
// The client retries the first connection, and reconnects after any loss, forever, until Close.
func New(opts Options) (*Client, error) {
	what := fmt.Sprintf("switch %q", opts.Switch)
	if opts.Switch == "" {
		return nil, errors.New("vtep client: no switch name")
	}
	c := &Client{
		opts: opts,
		log:  baseLog.WithFields(logrus.Fields{logging.Object: opts.logObject(), logging.Endpoint: opts.Endpoint}),
		sig:  clientkit.NewSignals(),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	switch {
	case strings.HasPrefix(opts.Endpoint, "tcp:"), strings.HasPrefix(opts.Endpoint, "unix:"):
	case strings.HasPrefix(opts.Endpoint, "ssl:"):
		files := ovstls.Files{PrivateKey: opts.PrivateKey, Certificate: opts.Certificate, CACert: opts.CACert}
		if opts.PeerCommonName != "" {
			files.PeerCommonNames = []string{opts.PeerCommonName}
		}
		t, err := ovstls.NewClient("switch", files)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		c.tls = t
	default:
		return nil, fmt.Errorf("%s: endpoint %q: want tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH", what, opts.Endpoint)
	}
	c.backoff = clientkit.NewClosableBackOff(retryMaxInterval)
	go c.run()
	return c, nil
}

// run makes the first connection, retrying forever, then reports reconnects on Changed.
func (c *Client) run() {
	defer close(c.done)
	bo := backoff.NewExponentialBackOff()
	bo.MaxInterval, bo.MaxElapsedTime = retryMaxInterval, 0
	warned := false
	for {
		ovs, err := c.dial()
		c.mu.Lock()
		if err == nil {
			c.ovs, c.dialErr = ovs, ""
			c.mu.Unlock()
			break
		}
		c.dialErr = err.Error()
		c.mu.Unlock()
		if !warned {
			c.log.WithError(err).Warn("cannot reach the switch's OVSDB; retrying")
			warned = true
		} else {
			c.log.WithError(err).Debug("cannot reach the switch's OVSDB; retrying")
		}
		select {
		case <-c.stop:
			return
		case <-time.After(bo.NextBackOff()):
		}
	}
	c.log.Info("connected to the switch's OVSDB")
	c.connected.Store(true)
	c.sig.Signal()
	c.watchConnection()
}

// dial makes one libovsdb client, connects it and starts the monitor. libovsdb reconnects it
// from then on and re-subscribes the monitor.
func (c *Client) dial() (client.Client, error) {
	if c.tls != nil {
		// The files first: a file that cannot be used is named even while the switch is away.
		if err := c.tls.Load(); err != nil {
			return nil, err
		}
	}
	dbModel, err := clientModel()
	if err != nil {
		return nil, err
	}
	logger := clientkit.Logger(c.log.WithField("lib", "libovsdb"))
	opts := []client.Option{client.WithEndpoint(c.opts.Endpoint),
		// Plain reconnect, and our own echo probe (probe): libovsdb's inactivity check sends on a
		// channel that its disconnect handler closes, a race (seen by go test -race) that can
		// panic a transaction made as the connection drops.
		client.WithReconnect(dialTimeout, c.backoff), client.WithLogger(&logger)}
	if c.tls != nil {
		opts = append(opts, client.WithTLSConfig(c.tls.Config()))
	}
	ovs, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("create OVSDB client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	go func() { // Close ends an attempt in progress
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := ovs.Connect(ctx); err != nil {
		ovs.Close()
		return nil, err
	}
	// The handler must be in place before the monitor's initial dump.
	ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { c.sig.Signal() },
		UpdateFunc: func(string, model.Model, model.Model) { c.sig.Signal() },
		DeleteFunc: func(string, model.Model) { c.sig.Signal() },
	})
	if err := monitor(ctx, ovs); err != nil {
		ovs.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return ovs, nil
}

// clientModel is the part of hardware_vtep ovsgw reads and writes.
func clientModel() (model.ClientDBModel, error) {
	m, err := model.NewClientDBModel(DatabaseName, map[string]model.Model{
		hwvtep.PhysicalSwitchTable:     &hwvtep.PhysicalSwitch{},
		hwvtep.PhysicalPortTable:       &hwvtep.PhysicalPort{},
		hwvtep.LogicalSwitchTable:      &hwvtep.LogicalSwitch{},
		hwvtep.UcastMacsLocalTable:     &hwvtep.UcastMacsLocal{},
		hwvtep.UcastMacsRemoteTable:    &hwvtep.UcastMacsRemote{},
		hwvtep.McastMacsLocalTable:     &hwvtep.McastMacsLocal{},
		hwvtep.McastMacsRemoteTable:    &hwvtep.McastMacsRemote{},
		hwvtep.PhysicalLocatorTable:    &hwvtep.PhysicalLocator{},
		hwvtep.PhysicalLocatorSetTable: &hwvtep.PhysicalLocatorSet{},
		hwvtep.LogicalRouterTable:      &hwvtep.LogicalRouter{},
	})
	if err != nil {
		return model.ClientDBModel{}, fmt.Errorf("build %s client model: %w", DatabaseName, err)
	}
	return m, nil
}

// monitor subscribes to the columns ovsgw reads. Not monitored: statistics and fault status
// columns, and the Tunnel and Logical_Binding_Stats tables, which an emulator or switch rewrites
// every second and which would wake the agent for nothing.
func monitor(ctx context.Context, ovs client.Client) error {
	ps, pp, ls := &hwvtep.PhysicalSwitch{}, &hwvtep.PhysicalPort{}, &hwvtep.LogicalSwitch{}
	ul, ur := &hwvtep.UcastMacsLocal{}, &hwvtep.UcastMacsRemote{}
	ml, mr := &hwvtep.McastMacsLocal{}, &hwvtep.McastMacsRemote{}
	loc, set, lr := &hwvtep.PhysicalLocator{}, &hwvtep.PhysicalLocatorSet{}, &hwvtep.LogicalRouter{}
	_, err := ovs.Monitor(ctx, ovs.NewMonitor(
		client.WithTable(ps, &ps.Name, &ps.Ports, &ps.TunnelIPs),
		client.WithTable(pp, &pp.Name, &pp.VLANBindings),
		client.WithTable(ls, &ls.Name, &ls.Description, &ls.TunnelKey),
		client.WithTable(ul, &ul.MAC, &ul.LogicalSwitch, &ul.Locator, &ul.Ipaddr),
		client.WithTable(ur, &ur.MAC, &ur.LogicalSwitch, &ur.Locator, &ur.Ipaddr),
		client.WithTable(ml, &ml.MAC, &ml.LogicalSwitch, &ml.LocatorSet),
		client.WithTable(mr, &mr.MAC, &mr.LogicalSwitch, &mr.LocatorSet),
		client.WithTable(loc, &loc.EncapsulationType, &loc.DstIP, &loc.TunnelKey),
		client.WithTable(set, &set.Locators),
		client.WithTable(lr, &lr.Name, &lr.SwitchBinding),
	))
	return err
}

// watchConnection reports a completed reconnect on Changed: the cache was rebuilt, and rows
// deleted meanwhile produced no event of their own.
func (c *Client) watchConnection() {
	sample := func() bool {
		now := c.live()
		c.connected.Store(now)
		return now
	}
	go c.probe()
	clientkit.WatchConnection(c.stop, connectedPoll, sample, func(up bool) {
		if !up {
			c.log.Warn("lost the connection to the switch's OVSDB, reconnecting")
			return
		}
		c.log.Info("reconnected to the switch's OVSDB")
		c.sig.Signal()
	})
}

// probe sends the switch an echo every inactivityProbe while connected, and drops a connection
// whose echo goes unanswered (a hung switch, a silently dead peer): libovsdb then reconnects.
func (c *Client) probe() {
	tick := time.NewTicker(inactivityProbe)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		ovs := c.conn()
		if ovs == nil || !c.live() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		err := ovs.Echo(ctx)
		cancel()
		if err != nil && c.live() {
			c.log.WithError(err).Warn("the switch's OVSDB does not answer an echo; reconnecting")
			ovs.Disconnect()
		}
	}
}

// Close stops connecting and closes the session; calling it again does nothing.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.connected.Store(false)
		c.backoff.Close()
		if ovs := c.conn(); ovs != nil {
			ovs.Close()
		}
	})
}

func (c *Client) conn() client.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ovs
}

// Switch is the Physical_Switch this client serves; Endpoint its database.
func (c *Client) Switch() string   { return c.opts.Switch }
func (c *Client) Endpoint() string { return c.opts.Endpoint }

// Connected reports whether the client has a session with the switch's database, as sampled
// every connectedPoll: libovsdb holds its connection lock through a whole reconnect attempt
// (up to dialTimeout against a switch that does not answer), and a status request must not
// wait for that. A reconnect is announced on Changed after this turns true, with the cache
// already rebuilt (libovsdb restores the monitor before it lets go of the lock).
func (c *Client) Connected() bool { return c.connected.Load() }

// live asks libovsdb (see [clientkit.Live]).
func (c *Client) live() bool {
	ovs := c.conn()
	return ovs != nil && clientkit.Live(ovs)
}

// WaitConnected waits until the client is connected and its cache filled, or ctx ends.
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		ch := c.sig.Updated()
		if c.Connected() {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(connectedPoll):
		case <-ctx.Done():
			return fmt.Errorf("switch %q at %s: %w", c.opts.Switch, c.opts.Endpoint, ErrNotConnected)
		}
	}
}

// Changed receives after any change of the monitored tables (a MAC learned, a row changed by
// someone) and after a (re)connect. Signals coalesce into one slot: a reader re-reads
// (LocalMACs, TunnelIPs) and re-syncs after each receive.
func (c *Client) Changed() <-chan struct{} { return c.sig.Changed() }
