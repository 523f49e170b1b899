package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/ovsdb/vswitchd"
)

// Ownership and convention keys in external_ids.
const (
	// OwnerKey marks a row as created by ovsgw; a sync deletes only rows
	// whose OwnerKey is OwnerValue. ovsgw's own convention.
	OwnerKey = "ovsgw-owner"
	// OwnerValue is the value of OwnerKey on rows ovsgw created.
	OwnerValue = "ovsgw"
	// IfaceIDKey names the logical port (for ovsgw: the VMI) an Interface
	// stands for. The key comes from Open vSwitch's integration guide
	// (Documentation/topics/integration.rst), which hypervisor plug code
	// such as Nova/os-vif and the OVN/OpenStack agents follow.
	IfaceIDKey = "iface-id"
)

// Timing. None of these are protocol numbers; each is a bound chosen so a
// wedged ovsdb-server turns into an error instead of a hang.
const (
	// transactTimeout bounds one transaction. ovsdb-server answers a local
	// transaction in milliseconds; 10 s leaves room for a busy host.
	transactTimeout = 10 * time.Second
	// reconnectTimeout bounds one reconnect attempt (dial + schema +
	// monitor), the same budget as a transaction.
	reconnectTimeout = 10 * time.Second
	// reconnectMaxInterval caps the exponential backoff between attempts:
	// a restarted ovsdb-server is usually back within seconds, and 5 s
	// keeps the gap after it returns short.
	reconnectMaxInterval = 5 * time.Second
	// connectedPoll is how often the client's connection state is sampled
	// to report reconnects (libovsdb has no reconnect callback). It is the
	// backoff's first interval (cenkalti/backoff's default 500 ms), so no
	// reconnect happens between two samples unnoticed for long.
	connectedPoll = 500 * time.Millisecond
	// cacheSyncTimeout bounds the wait for a committed transaction to come
	// back through the monitor into the cache (normally milliseconds).
	cacheSyncTimeout = 5 * time.Second
)

var log = logrus.WithField("component", "ovsdb")

// Client reads the Open_vSwitch database from a monitored cache and writes
// it in transactions. Its methods are safe for concurrent use.
type Client struct {
	ovs     client.Client
	backoff *closableBackOff
	changed chan struct{} // one slot: coalesced "cache moved" signal
	stop    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
	ensureMu  sync.Mutex // serialises EnsureBridge: plan, transact, wait for cache

	updMu   sync.Mutex
	updated chan struct{} // closed and replaced on each cache event; internal waits

	transactions atomic.Int64 // transactions sent, for tests
}

// Connect connects to endpoint ("unix:/run/openvswitch/db.sock",
// "tcp:127.0.0.1:6640"), starts monitoring and returns once the cache holds
// the database's current state. The first connection must succeed; after
// that libovsdb reconnects by itself, forever, with backoff.
func Connect(ctx context.Context, endpoint string) (*Client, error) {
	dbModel, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitchd.OpenvSwitchTable: &vswitchd.OpenvSwitch{},
		vswitchd.BridgeTable:      &vswitchd.Bridge{},
		vswitchd.PortTable:        &vswitchd.Port{},
		vswitchd.InterfaceTable:   &vswitchd.Interface{},
	})
	if err != nil {
		return nil, fmt.Errorf("build Open_vSwitch client model: %w", err)
	}
	exp := backoff.NewExponentialBackOff()
	exp.MaxInterval = reconnectMaxInterval
	// libovsdb panics when its backoff gives up (the default gives up
	// after 15 minutes), so never give up.
	exp.MaxElapsedTime = 0
	bo := &closableBackOff{BackOff: exp}
	logger := logr.New(logrusSink{entry: log.WithField("lib", "libovsdb")})
	ovs, err := client.NewOVSDBClient(dbModel,
		client.WithEndpoint(endpoint),
		client.WithReconnect(reconnectTimeout, bo),
		client.WithLogger(&logger))
	if err != nil {
		return nil, fmt.Errorf("create OVSDB client for %s: %w", endpoint, err)
	}
	if err := ovs.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect to OVSDB at %s: %w", endpoint, err)
	}
	c := &Client{
		ovs:     ovs,
		backoff: bo,
		changed: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		updated: make(chan struct{}),
	}
	// The handler must be in place before the monitor's initial dump.
	onEvent := func(table string) {
		if table != vswitchd.OpenvSwitchTable {
			c.notify()
		}
		c.broadcast()
	}
	ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(table string, _ model.Model) { onEvent(table) },
		UpdateFunc: func(table string, _, _ model.Model) { onEvent(table) },
		DeleteFunc: func(table string, _ model.Model) { onEvent(table) },
	})
	if err := c.monitor(ctx); err != nil {
		ovs.Close()
		return nil, fmt.Errorf("monitor OVSDB at %s: %w", endpoint, err)
	}
	go c.watchConnection()
	log.WithField("endpoint", endpoint).Info("connected to OVSDB")
	return c, nil
}

// monitor subscribes to the columns ovsgw reads; libovsdb re-subscribes
// after a reconnect.
func (c *Client) monitor(ctx context.Context) error {
	ovsRow, br, port, iface := &vswitchd.OpenvSwitch{}, &vswitchd.Bridge{}, &vswitchd.Port{}, &vswitchd.Interface{}
	_, err := c.ovs.Monitor(ctx, c.ovs.NewMonitor(
		client.WithTable(ovsRow, &ovsRow.Bridges),
		client.WithTable(br, &br.Name, &br.Ports, &br.FailMode, &br.Protocols,
			&br.DatapathType, &br.OtherConfig, &br.ExternalIDs),
		client.WithTable(port, &port.Name, &port.Interfaces, &port.ExternalIDs),
		client.WithTable(iface, &iface.Name, &iface.Type, &iface.Ofport, &iface.Options,
			&iface.LinkState, &iface.AdminState, &iface.ExternalIDs),
	))
	return err
}

// watchConnection reports a completed reconnect through Changed: the cache
// was rebuilt, and rows deleted meanwhile produced no event of their own.
func (c *Client) watchConnection() {
	defer close(c.done)
	t := time.NewTicker(connectedPoll)
	defer t.Stop()
	was := true
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		now := c.Connected()
		switch {
		case was && !now:
			log.Warn("lost connection to OVSDB, reconnecting")
		case !was && now:
			log.Info("reconnected to OVSDB")
			c.notify()
			c.broadcast()
		}
		was = now
	}
}

// Close stops monitoring and closes the connection; no reconnect follows.
// Calling it again does nothing.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.backoff.closed.Store(true)
		c.ovs.Close()
	})
}

// Connected reports whether the client is connected right now.
// libovsdb's Connected stays true while it reconnects after the server
// went away (it clears the flag only on a local Disconnect); its
// CurrentEndpoint is empty exactly while there is no connection.
func (c *Client) Connected() bool { return c.ovs.Connected() && c.ovs.CurrentEndpoint() != "" }

// Changed receives after any cache change of Bridge, Port or Interface and
// after a reconnect. Signals are coalesced into one slot, so a reader must
// re-read the whole state (e.g. Interfaces) after each receive.
func (c *Client) Changed() <-chan struct{} { return c.changed }

// notify never blocks: it runs in libovsdb's event goroutine.
func (c *Client) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// broadcast wakes every internal waiter (see waitCache) without touching
// the user's Changed slot.
func (c *Client) broadcast() {
	c.updMu.Lock()
	close(c.updated)
	c.updated = make(chan struct{})
	c.updMu.Unlock()
}

func (c *Client) updatedCh() <-chan struct{} {
	c.updMu.Lock()
	defer c.updMu.Unlock()
	return c.updated
}

// transact sends ops as one transaction and checks every result; what
// names the attempt in errors and logs.
func (c *Client) transact(ctx context.Context, what string, ops []libovsdb.Operation) error {
	ctx, cancel := context.WithTimeout(ctx, transactTimeout)
	defer cancel()
	c.transactions.Add(1)
	res, err := c.ovs.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("%s: transact: %w", what, err)
	}
	if opErrs, err := libovsdb.CheckOperationResults(res, ops); err != nil {
		for _, e := range opErrs {
			err = errors.Join(err, e)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	log.WithFields(logrus.Fields{"what": what, "operations": len(ops)}).Debug("transaction committed")
	return nil
}

// waitCache waits until done reports that the cache reflects what was
// committed; the monitor update may arrive after the transaction reply.
func (c *Client) waitCache(ctx context.Context, what string, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancel()
	for {
		ch := c.updatedCh() // taken before checking, so no update is missed
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: committed, but the cache did not show it: %w", what, ctx.Err())
		}
	}
}

// closableBackOff stops libovsdb's reconnect loop after Close: libovsdb's
// Close does nothing while it is reconnecting, and its loop panics when a
// backoff gives up, so after Close the loop is parked instead (one idle
// goroutine until the process exits).
type closableBackOff struct {
	backoff.BackOff
	closed atomic.Bool
}

func (b *closableBackOff) NextBackOff() time.Duration {
	if b.closed.Load() {
		return math.MaxInt64
	}
	return b.BackOff.NextBackOff()
}

// logrusSink routes libovsdb's logr output to logrus: its info lines at
// debug level (libovsdb is chatty), its errors as warnings (it retries).
type logrusSink struct{ entry *logrus.Entry }

func (s logrusSink) Init(logr.RuntimeInfo) {}
func (s logrusSink) Enabled(int) bool      { return s.entry.Logger.IsLevelEnabled(logrus.DebugLevel) }
func (s logrusSink) Info(_ int, msg string, kv ...any) {
	s.with(kv).Debug(msg)
}
func (s logrusSink) Error(err error, msg string, kv ...any) {
	s.with(kv).WithError(err).Warn(msg)
}
func (s logrusSink) WithValues(kv ...any) logr.LogSink { return logrusSink{entry: s.with(kv)} }
func (s logrusSink) WithName(name string) logr.LogSink {
	return logrusSink{entry: s.entry.WithField("logger", name)}
}
func (s logrusSink) with(kv []any) *logrus.Entry {
	f := logrus.Fields{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return s.entry.WithFields(f)
}
