package configdb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
)

// DatabaseName is the name of the database in schemas/gateway.ovsschema.
const DatabaseName = "OVSGW"

// Timing. As in package ovsdb, none of these are protocol numbers; each
// bounds a wait so that a dead or hung member turns into a move to another
// member instead of a hang.
const (
	// handshakeTimeout bounds connecting to one member: dial, list_dbs,
	// two get_schema and the _Server leader check, milliseconds on a LAN.
	// A hung member (stopped process, partitioned host) costs this much
	// before the next member is tried.
	handshakeTimeout = 2 * time.Second
	// monitorTimeout bounds the initial dump of every table from the leader;
	// thousands of rows take well under a second on a LAN.
	monitorTimeout = 10 * time.Second
	// transactTimeout bounds one transaction, waiting for a leader included:
	// a Raft commit is a round trip to a majority, milliseconds here.
	transactTimeout = 10 * time.Second
	// echoInterval and echoTimeout probe the leader: a member that hangs
	// sends no RST and no _Server update, so without a probe the client
	// would stay on it forever reading a frozen cache. ovsdb-server probes
	// its clients every 5 s by default; 2 s + 2 s finds a hung leader
	// within 4 s, under StaleAfter.
	echoInterval = 2 * time.Second
	echoTimeout  = 2 * time.Second
	// pollInterval is how often the supervisor looks at the session. After
	// the leader dies the others elect a new one after their election timer
	// (ovsdb-tool's default 1 s, randomised up to 2 s), and until then every
	// member answers "not leader": 250 ms polls that window a few times a
	// second, cheap against three members.
	pollInterval = 250 * time.Millisecond
	// retryMaxInterval caps the backoff between rounds over all members.
	retryMaxInterval = 2 * time.Second
	// cacheSyncTimeout bounds the wait for a committed transaction to come
	// back through the monitor into the cache (normally milliseconds).
	cacheSyncTimeout = 5 * time.Second
	// stableReadAttempts bounds the re-reads of the cache while updates keep
	// landing (see read); a read copies the row pointers of the tables it
	// reads, about a millisecond for 10,000 rows.
	stableReadAttempts = 20
)

var log = logrus.WithField(logging.Component, "configdb")

// Client reads the OVSGW database from a monitored cache of every table and
// writes it in transactions, always through the cluster leader. Its methods
// are safe for concurrent use.
//
// It does its own reconnecting rather than libovsdb's: libovsdb tries the
// endpoints of one client in a fixed order under one deadline, so a hung
// member listed first makes every attempt fail, and it never probes a
// silent leader. Here a session is a libovsdb client of one member; the
// supervisor replaces it, trying the members in turn from the one after
// the current, each with its own handshake deadline.
type Client struct {
	endpoints []string
	tls       *ovstls.Client // for ssl: endpoints; nil without them
	tables    []string       // the tables the client reads and writes: every table, or the config's (ConfigOnly)
	monitor   bool           // whether it monitors them into a cache; else it reads them by select (ConfigOnly)
	// stopOnMismatch: Connect fails on a schema mismatch instead of retrying (StopOnSchemaMismatch).
	stopOnMismatch bool
	sig            *clientkit.Signals        // on each cache event and session change: Changed, and internal waiters
	configSig      *clientkit.Signals        // ConfigChanged
	stateSig       *clientkit.Signals        // StateChanged
	events         map[string]*atomic.Uint64 // cache events handled per table, for tests; keys fixed at Connect
	stop           chan struct{}
	done           chan struct{}
	closeOnce      sync.Once
	// onConnectFailure hears of each round of Connect that found no leader.
	onConnectFailure func(round int, err error, next time.Duration)
	writeMu          sync.Mutex // serialises this process's writers: plan, transact, wait for cache

	mu  sync.Mutex
	ovs *session // the current session; kept after it ends, so reads serve its last state

	transactions  atomic.Int64  // transactions sent, for tests
	leaderChanges atomic.Uint64 // moves to a new leader after the first session (see LeaderChanges)
	// skippedRows counts the state row versions refused by their checks (see SkippedState).
	skippedRows atomic.Uint64
	schemaLog   schemaLog // says a schema mismatch or difference once per member, not at every retry

	views views // what reads derived from the cache, kept until their tables change
}

// Option changes how Connect sets up a Client.
type Option func(*Client)

// StopOnSchemaMismatch makes Connect give up at once when every member has a schema that lacks
// what this binary needs (a SchemaMismatchError), instead of retrying until the database is
// converted: for a command, which an operator waits for.
func StopOnSchemaMismatch() Option {
	return func(c *Client) { c.stopOnMismatch = true }
}

// ConfigOnly makes a client for one-shot config writes (ovsgw db apply): it
// keeps no cache, so it neither downloads every node's published state nor
// follows changes, and reads the config tables, when ApplyRows, DeriveFromConfig or
// Generation needs them, in one select transaction (see select.go). Reads
// and writes of the state (Nodes, Bindings, PublishNode, View, ...) fail;
// no signal fires.
// OnConnectFailure has Connect call f after each round over the members that found no leader,
// with the round's number, its error and the wait before the next round: a caller can log it
// and say so in its status while it waits.
func OnConnectFailure(f func(round int, err error, next time.Duration)) Option {
	return func(c *Client) { c.onConnectFailure = f }
}

func ConfigOnly() Option {
	return func(c *Client) { c.tables, c.monitor = configTables, false }
}

// WithTLS is the TLS of ssl: endpoints: mutual, verified as Open vSwitch does (see package
// ovstls), with the files read at each connection, so that rotated ones are used from the next
// on. Required when an endpoint is ssl:.
func WithTLS(t *ovstls.Client) Option {
	return func(c *Client) { c.tls = t }
}

// Connect connects to the leader among endpoints (every cluster member,
// "tcp:127.0.0.1:6641", "ssl:10.0.0.1:6641"), monitors every table and
// returns once the cache holds the database's current state. It retries
// until ctx ends, since right after a leader change no member may be leader
// yet; afterwards the client moves to whichever member leads, by itself,
// forever. It gives up at once, though, when this side's TLS files cannot
// be used, or when every member was refused for TLS reasons (a certificate
// this side refused, or a handshake the member refused): waiting mends
// neither.
func Connect(ctx context.Context, endpoints []string, opts ...Option) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("connect to the config DB: no endpoint given")
	}
	c := &Client{
		endpoints: endpoints,
		tables:    allTables,
		monitor:   true,
		sig:       clientkit.NewSignals(),
		configSig: clientkit.NewSignals(),
		stateSig:  clientkit.NewSignals(),
		events:    map[string]*atomic.Uint64{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, o := range opts {
		o(c)
	}
	for _, t := range allTables {
		c.events[t] = new(atomic.Uint64)
	}
	for _, ep := range endpoints {
		if strings.HasPrefix(ep, "ssl:") && c.tls == nil {
			return nil, fmt.Errorf("connect to the config DB: %s is ssl:, and no TLS files were given", ep)
		}
	}
	if c.tls != nil {
		if err := c.tls.Load(); err != nil {
			return nil, fmt.Errorf("connect to the config DB: %w", err)
		}
	}
	bo := retryBackOff()
	for round := 1; ; round++ {
		ovs, err := c.dial(ctx, "")
		if err == nil {
			c.ovs = ovs
			break
		}
		if de, ok := err.(dialErrors); ok && de.refused() {
			return nil, fmt.Errorf("connect to the config DB leader among %s: %w", strings.Join(endpoints, ","), err)
		}
		if de, ok := err.(dialErrors); ok && c.stopOnMismatch && de.schemaMismatchOnly() {
			return nil, fmt.Errorf("connect to the config DB: %w", de[0])
		}
		next := bo.NextBackOff()
		if c.onConnectFailure != nil && ctx.Err() == nil {
			c.onConnectFailure(round, err, next)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to the config DB leader among %s: %w (last attempt: %v)",
				strings.Join(endpoints, ","), ctx.Err(), err)
		case <-time.After(next):
		}
	}
	go c.supervise()
	log.WithField(logging.Endpoint, c.Endpoint()).Info("connected to the config DB leader")
	return c, nil
}

func retryBackOff() backoff.BackOff {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = pollInterval, retryMaxInterval, 0
	return bo
}

// session is a libovsdb client of one member.
type session struct {
	client.Client
	endpoint string
	// cache is the client's cache, kept here because libovsdb forgets it
	// (Cache returns nil) once the connection ends, while reads go on
	// serving its last state until the next session replaces it.
	cache *cache.TableCache
	// monitored are the tables the session monitors (the cache has every
	// table of the schema, the others empty); readable those it may read,
	// from the server when they are not monitored.
	monitored, readable map[string]bool
	// tls is the session's TLS for those reads of an ssl: member; nil otherwise.
	tls *tls.Config
	// schemaVersion is the version of the member's schema.
	schemaVersion string
}

// live reports whether the session is connected.
func (s *session) live() bool { return clientkit.Live(s.Client) }

// dial tries the members in turn, starting after the one named after, and
// returns a monitoring session of the first that is the leader.
func (c *Client) dial(ctx context.Context, after string) (*session, error) {
	i := slices.Index(c.endpoints, after) + 1 // 0 when after is "" or unknown
	order := append(slices.Clone(c.endpoints[i:]), c.endpoints[:i]...)
	var errs dialErrors
	for _, ep := range order {
		ovs, err := c.session(ctx, ep)
		if err == nil {
			s := &session{Client: ovs, endpoint: ep, cache: ovs.Cache(), monitored: map[string]bool{}, readable: map[string]bool{},
				schemaVersion: ovs.Schema().Version}
			if c.tls != nil && strings.HasPrefix(ep, "ssl:") {
				s.tls = c.tls.Config()
			}
			for _, t := range c.tables {
				s.readable[t], s.monitored[t] = true, c.monitor
			}
			c.schemaLog.connected(SchemaNotice(s.schemaVersion, ep))
			return s, nil
		}
		if !c.stopOnMismatch { // else Connect returns it
			c.schemaLog.mismatch(err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errs
}

// dialErrors are the failures of one round over the members.
type dialErrors []error

func (es dialErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (es dialErrors) Unwrap() []error { return es }

// schemaMismatchOnly reports whether every member that answered has a schema that lacks what
// this binary needs (and at least one answered).
func (es dialErrors) schemaMismatchOnly() bool {
	for _, e := range es {
		var mm *SchemaMismatchError
		if !errors.As(e, &mm) {
			return false
		}
	}
	return len(es) > 0
}

// refused reports whether every member tried was refused for TLS reasons (see ovstls.Refused).
func (es dialErrors) refused() bool {
	for _, err := range es {
		if !ovstls.Refused(err) {
			return false
		}
	}
	return len(es) > 0
}

// session connects to one member, refused unless it is the leader (a
// follower serves its own, possibly lagging, copy; libovsdb's WithLeaderOnly
// checks _Server.Database on connect and drops the connection when the
// member later loses leadership), and monitors c.tables unless c.monitor
// is off.
func (c *Client) session(ctx context.Context, endpoint string) (client.Client, error) {
	dbModel, err := clientModel(c.tables)
	if err != nil {
		return nil, fmt.Errorf("build %s client model: %w", DatabaseName, err)
	}
	logger := clientkit.Logger(log.WithFields(logrus.Fields{"lib": "libovsdb", logging.Endpoint: endpoint}))
	opts := []client.Option{client.WithEndpoint(endpoint), client.WithLeaderOnly(true), client.WithLogger(&logger)}
	if c.tls != nil {
		opts = append(opts, client.WithTLSConfig(c.tls.Config()))
	}
	ovs, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", endpoint, err)
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := ovs.Connect(hctx); err != nil {
		return nil, asSchemaMismatch(ctx, endpoint, err) // libovsdb's error names the endpoint
	}
	if !c.monitor {
		return ovs, nil
	}
	// The handler must be in place before the monitor's initial dump.
	ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(table string, row model.Model) { c.onEvent(table, nil, row) },
		UpdateFunc: func(table string, old, row model.Model) { c.onEvent(table, old, row) },
		DeleteFunc: func(table string, old model.Model) { c.onEvent(table, old, nil) },
	})
	mctx, cancel := context.WithTimeout(ctx, monitorTimeout)
	defer cancel()
	if _, err := ovs.MonitorAll(mctx); err != nil {
		ovs.Close()
		return nil, fmt.Errorf("%s: monitor: %w", endpoint, err)
	}
	return ovs, nil
}

// supervise probes the session and replaces it when it ends: the member
// died, hung, or lost leadership. A replacement is announced on every
// signal (Changed, ConfigChanged, StateChanged): the cache was rebuilt from
// another member, and rows deleted meanwhile produced no event of their own.
func (c *Client) supervise() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-c.stop; cancel() }()
	bo := retryBackOff()
	wait, lastEcho, dead := pollInterval, time.Now(), false
	lastRefusal := ""
	for {
		select {
		case <-c.stop:
			return
		case <-time.After(wait):
		}
		cur := c.conn()
		switch {
		case dead: // still looking for the leader
		case cur.live() && time.Since(lastEcho) < echoInterval:
			continue
		case cur.live():
			lastEcho = time.Now()
			ectx, ecancel := context.WithTimeout(ctx, echoTimeout)
			err := cur.Echo(ectx)
			ecancel()
			if err == nil {
				continue
			}
			log.WithError(err).WithField(logging.Endpoint, cur.endpoint).Warn("the config DB leader does not answer, moving to another member")
			dead = true
			// Closed so that writers wait for the next leader instead of
			// sending to this one; not inline, as libovsdb's Close waits for
			// calls in flight, which on a hung member last until their deadline.
			go cur.Close()
		default:
			log.WithField(logging.Endpoint, cur.endpoint).Warn("lost the config DB leader, moving to another member")
			dead = true
		}
		next, err := c.dial(ctx, cur.endpoint)
		if err != nil {
			wait = bo.NextBackOff()
			// A TLS refusal (a rotated file that does not fit, a certificate refused) lasts
			// until someone acts: said once as a warning, not at each retry.
			if de, ok := err.(dialErrors); ok && de.refused() {
				if err.Error() != lastRefusal {
					log.WithError(err).Warn("TLS with every config DB member failed; retrying until that is mended")
					lastRefusal = err.Error()
				}
				continue
			}
			log.WithError(err).Debug("no config DB leader yet")
			continue
		}
		lastRefusal = ""
		c.mu.Lock()
		c.ovs = next
		c.mu.Unlock()
		bo.Reset()
		wait, lastEcho, dead = pollInterval, time.Now(), false
		c.leaderChanges.Add(1)
		log.WithField(logging.Endpoint, next.endpoint).Info("connected to the new config DB leader")
		c.configSig.Notify()
		c.stateSig.Notify()
		c.sig.Signal()
	}
}

func (c *Client) conn() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ovs
}

// Close ends the session; no reconnect follows. Calling it again does nothing.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.conn().Close()
	})
}

// Connected reports whether the client has a session with the leader now.
func (c *Client) Connected() bool { return c.conn().live() }

// LeaderChanges counts the client's moves to another session with the leader after the
// first: the leader died, hung or lost leadership (or the member dropped the connection), and
// the client found the cluster's leader again.
func (c *Client) LeaderChanges() uint64 { return c.leaderChanges.Load() }

// Endpoint is the member the client is connected to ("" while it has none).
func (c *Client) Endpoint() string {
	if s := c.conn(); s.live() {
		return s.endpoint
	}
	return ""
}

// Changed receives after any cache change, a heartbeat included, and after
// a move to another member. Signals are coalesced into one slot, so a
// reader must re-read the whole state after each receive. A reader of the
// config or of other nodes' state wants ConfigChanged or StateChanged: a
// database with many nodes changes every few seconds by heartbeats alone.
func (c *Client) Changed() <-chan struct{} { return c.sig.Changed() }

// ConfigChanged receives after a config row (a table ApplyRows writes, the root
// row included) was added, removed or changed, and after a move to another
// member (the cache was rebuilt). One slot, coalesced: after a receive, read
// the config once (DeriveFromConfig, or configstore's Store.Config); it
// shows at least every change that fired the signal.
func (c *Client) ConfigChanged() <-chan struct{} { return c.configSig.Changed() }

// StateChanged receives after a change of what nodes publish for each
// other's forwarding: a Binding, Tor_State or Tor_MAC row added, removed or
// changed, a Node row added or removed, or a Node row changed in anything
// but its heartbeat (tunnel IP, gateway mode, interfaces, status), or in a
// heartbeat that brings back a node that was stale; and after a move to
// another member. Any other heartbeat fires nothing, and a node going stale
// changes no row: a reader that judges staleness (NodeState.Stale) times it
// on its own clock (NodeState.StaleAt). One
// slot, coalesced: after a receive, read Nodes, Bindings, TorStates and
// TorMACs as needed.
func (c *Client) StateChanged() <-chan struct{} { return c.stateSig.Changed() }

// onEvent runs in libovsdb's event goroutine for every row the cache adds
// (old nil), changes, or removes (row nil), after the cache did: a reader
// woken by a signal finds the change in the cache.
func (c *Client) onEvent(table string, old, row model.Model) {
	if n := c.events[table]; n != nil {
		n.Add(1)
	}
	switch {
	case isConfigTable[table]:
		c.configSig.Notify()
	case table == gatewaydb.NodeTable && old != nil && row != nil && heartbeatOnly(old, row):
		// A heartbeat alone changes nothing forwarded, unless it brings back a node that was
		// stale: its bindings win over a stale node's again (package placement). A node going
		// stale changes no row at all: readers time that themselves (NodeState.StaleAt).
		if revived(old, row, time.Now()) {
			c.stateSig.Notify()
		}
	case table == gatewaydb.TorLeaseTable, table == gatewaydb.VcenterSyncTable:
		// A vCenter sync's status changes nothing forwarded: what it writes to the config
		// tables fires ConfigChanged by itself.
		// Renewed every few seconds per switch, like a heartbeat; the lease keepers time
		// leases on their own clock (see lease.go).
	default:
		c.stateSig.Notify()
	}
	c.sig.Signal()
}

// heartbeatOnly reports whether two versions of a Node row differ in their
// heartbeat at most.
func heartbeatOnly(old, row model.Model) bool {
	a, okA := old.(*gatewaydb.Node)
	b, okB := row.(*gatewaydb.Node)
	if !okA || !okB {
		return false
	}
	x, y := *a, *b
	x.Heartbeat, y.Heartbeat = 0, 0
	cols, _ := differingColumns(&x, &y)
	return len(cols) == 0
}

// revived reports whether a Node row's new heartbeat brings back a node that was stale at now.
func revived(old, row model.Model, now time.Time) bool {
	a, okA := old.(*gatewaydb.Node)
	b, okB := row.(*gatewaydb.Node)
	return okA && okB && nodeState(a).Stale(now, StaleAfter) && !nodeState(b).Stale(now, StaleAfter)
}

// transact sends ops as one transaction to the leader, waiting for one
// while the client moves, and checks every result; what names the attempt
// in errors and logs. transactTimeout bounds the wait and the transaction
// together.
func (c *Client) transact(ctx context.Context, what string, ops []libovsdb.Operation) error {
	ctx, cancel := context.WithTimeout(ctx, transactTimeout)
	defer cancel()
	var ovs *session
	for {
		ch := c.sig.Updated()
		if ovs = c.conn(); ovs.live() {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: no config DB leader: %w", what, ctx.Err())
		}
	}
	c.transactions.Add(1)
	// Transact's timeout cannot extend ctx's: the leader wait above counts.
	return clientkit.Transact(ctx, log, ovs, transactTimeout, what, ops)
}
