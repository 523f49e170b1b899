package configdb

import (
	"context"
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

	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
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
	// landing (see snapshot); each read is microseconds per hundred rows.
	stableReadAttempts = 20
)

var log = logrus.WithField("component", "configdb")

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
	sig       *clientkit.Signals // on each cache event and session change
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	writeMu   sync.Mutex // serialises this process's writers: plan, transact, wait for cache

	mu  sync.Mutex
	ovs *session // the current session; kept after it ends, so reads serve its last state

	transactions atomic.Int64 // transactions sent, for tests
}

// Connect connects to the leader among endpoints (every cluster member,
// "tcp:127.0.0.1:6641"), monitors every table and returns once the cache
// holds the database's current state. It retries until ctx ends, since
// right after a leader change no member may be leader yet; afterwards the
// client moves to whichever member leads, by itself, forever.
func Connect(ctx context.Context, endpoints []string) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("connect to the config DB: no endpoint given")
	}
	c := &Client{
		endpoints: endpoints,
		sig:       clientkit.NewSignals(),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	bo := retryBackOff()
	for {
		ovs, err := c.dial(ctx, "")
		if err == nil {
			c.ovs = ovs
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to the config DB leader among %s: %w (last attempt: %v)",
				strings.Join(endpoints, ","), ctx.Err(), err)
		case <-time.After(bo.NextBackOff()):
		}
	}
	go c.supervise()
	log.WithField("endpoint", c.Endpoint()).Info("connected to the config DB leader")
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
}

// live reports whether the session is connected.
func (s *session) live() bool { return clientkit.Live(s.Client) }

// dial tries the members in turn, starting after the one named after, and
// returns a monitoring session of the first that is the leader.
func (c *Client) dial(ctx context.Context, after string) (*session, error) {
	i := slices.Index(c.endpoints, after) + 1 // 0 when after is "" or unknown
	order := append(slices.Clone(c.endpoints[i:]), c.endpoints[:i]...)
	var errs []string
	for _, ep := range order {
		ovs, err := c.session(ctx, ep)
		if err == nil {
			return &session{Client: ovs, endpoint: ep}, nil
		}
		errs = append(errs, err.Error())
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

// session connects to one member, refused unless it is the leader (a
// follower serves its own, possibly lagging, copy; libovsdb's WithLeaderOnly
// checks _Server.Database on connect and drops the connection when the
// member later loses leadership), and monitors every table.
func (c *Client) session(ctx context.Context, endpoint string) (client.Client, error) {
	dbModel, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		return nil, fmt.Errorf("build %s client model: %w", DatabaseName, err)
	}
	logger := clientkit.Logger(log.WithFields(logrus.Fields{"lib": "libovsdb", "endpoint": endpoint}))
	ovs, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(endpoint),
		client.WithLeaderOnly(true), client.WithLogger(&logger))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", endpoint, err)
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := ovs.Connect(hctx); err != nil {
		return nil, err // libovsdb's error names the endpoint
	}
	// The handler must be in place before the monitor's initial dump.
	ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { c.sig.Signal() },
		UpdateFunc: func(string, model.Model, model.Model) { c.sig.Signal() },
		DeleteFunc: func(string, model.Model) { c.sig.Signal() },
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
// died, hung, or lost leadership. A replacement is announced on Changed:
// the cache was rebuilt from another member, and rows deleted meanwhile
// produced no event of their own.
func (c *Client) supervise() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-c.stop; cancel() }()
	bo := retryBackOff()
	wait, lastEcho, dead := pollInterval, time.Now(), false
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
			log.WithError(err).WithField("endpoint", cur.endpoint).Warn("the config DB leader does not answer, moving to another member")
			dead = true
			// Closed so that writers wait for the next leader instead of
			// sending to this one; not inline, as libovsdb's Close waits for
			// calls in flight, which on a hung member last until their deadline.
			go cur.Close()
		default:
			log.WithField("endpoint", cur.endpoint).Warn("lost the config DB leader, moving to another member")
			dead = true
		}
		next, err := c.dial(ctx, cur.endpoint)
		if err != nil {
			wait = bo.NextBackOff()
			log.WithError(err).Debug("no config DB leader yet")
			continue
		}
		c.mu.Lock()
		c.ovs = next
		c.mu.Unlock()
		bo.Reset()
		wait, lastEcho, dead = pollInterval, time.Now(), false
		log.WithField("endpoint", next.endpoint).Info("connected to the new config DB leader")
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

// Endpoint is the member the client is connected to ("" while it has none).
func (c *Client) Endpoint() string {
	if s := c.conn(); s.live() {
		return s.endpoint
	}
	return ""
}

// Changed receives after any cache change and after a move to another
// member. Signals are coalesced into one slot, so a reader must re-read the
// whole state (Config, Nodes, Bindings) after each receive.
func (c *Client) Changed() <-chan struct{} { return c.sig.Changed() }

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
