package ovsdb

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
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

var log = logrus.WithField(logging.Component, "ovsdb")

// Client reads the Open_vSwitch database from a monitored cache and writes
// it in transactions. Its methods are safe for concurrent use.
type Client struct {
	ovs     client.Client
	backoff *clientkit.ClosableBackOff
	sig     *clientkit.Signals // Changed and Updated: every cache event
	stop    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
	ensureMu  sync.Mutex // serialises EnsureBridge: plan, transact, wait for cache

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
	bo := clientkit.NewClosableBackOff(reconnectMaxInterval)
	logger := clientkit.Logger(log.WithField("lib", "libovsdb"))
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
		sig:     clientkit.NewSignals(),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	// The handler must be in place before the monitor's initial dump.
	onEvent := func() {
		c.sig.Notify()
		c.sig.Broadcast()
	}
	ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { onEvent() },
		UpdateFunc: func(string, model.Model, model.Model) { onEvent() },
		DeleteFunc: func(string, model.Model) { onEvent() },
	})
	if err := c.monitor(ctx); err != nil {
		ovs.Close()
		return nil, fmt.Errorf("monitor OVSDB at %s: %w", endpoint, err)
	}
	go c.watchConnection()
	log.WithField(logging.Endpoint, endpoint).Info("connected to OVSDB")
	return c, nil
}

// monitor subscribes to the columns ovsgw reads; libovsdb re-subscribes
// after a reconnect.
func (c *Client) monitor(ctx context.Context) error {
	ovsRow, br, port, iface := &vswitchd.OpenvSwitch{}, &vswitchd.Bridge{}, &vswitchd.Port{}, &vswitchd.Interface{}
	_, err := c.ovs.Monitor(ctx, c.ovs.NewMonitor(
		client.WithTable(ovsRow, &ovsRow.Bridges, &ovsRow.NextCfg, &ovsRow.CurCfg),
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
	clientkit.WatchConnection(c.stop, connectedPoll, c.Connected, func(up bool) {
		if !up {
			log.Warn("lost connection to OVSDB, reconnecting")
			return
		}
		log.Info("reconnected to OVSDB")
		c.sig.Signal()
	})
}

// Close stops monitoring and closes the connection; no reconnect follows.
// Calling it again does nothing.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.backoff.Close()
		c.ovs.Close()
	})
}

// Connected reports whether the client is connected right now, which
// libovsdb's own Connected does not (see [clientkit.Live]).
func (c *Client) Connected() bool { return clientkit.Live(c.ovs) }

// Changed receives after any cache change of Bridge, Port or Interface, or
// of the root row's bridges and configuration sequence numbers (next_cfg,
// cur_cfg: ovs-vswitchd applied a change), and after a reconnect. Signals are coalesced into one slot, so a reader must
// re-read the whole state (e.g. Interfaces) after each receive.
func (c *Client) Changed() <-chan struct{} { return c.sig.Changed() }
