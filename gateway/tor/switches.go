package tor

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
)

var log = logrus.WithField(logging.Component, "tor")

// cleanupTimeout bounds the best-effort removal of ovsgw's rows from a switch that left the
// config: reaching it and one transaction; a switch that does not answer keeps its rows.
const cleanupTimeout = 15 * time.Second

// Switches keeps the database clients of the switches one node manages (those whose lease it
// holds, see gateway/torlease) and syncs them. It is what the agent drives: Configure with each
// config put in force and each change of the leases held, Sync whenever an input changed
// (config, bindings, node tunnel IPs, learned MACs, or Changed), then publish Statuses and
// Learned. Safe for concurrent use; no method holds the set's lock
// while a client does I/O (opens, closes, reports), so a switch that does not answer, or a TLS
// file that cannot be read, never holds up another caller.
type Switches struct {
	node    string
	changed chan struct{} // one slot: some switch's database changed or (re)connected

	configureMu sync.Mutex // serialises Configure and Close

	mu      sync.Mutex
	clients map[string]*managed // by switch name
	notices map[string][]string // the last Sync's notices per switch
	vmiMACs map[string]bool     // the config's VMI MACs, which no switch may claim
	ignored map[string]int      // per switch, learned MACs left out of the last Learned
}

type managed struct {
	sw   model.TorSwitch
	c    *vtep.Client
	stop chan struct{}
}

// NewSwitches returns an empty set for node.
func NewSwitches(node string) *Switches {
	return &Switches{node: node, changed: make(chan struct{}, 1), clients: map[string]*managed{}, notices: map[string][]string{}}
}

// Changed receives after any managed switch's database changed (a MAC learned, a row changed by
// someone) or its client (re)connected; coalesced into one slot. Sync after each receive.
func (s *Switches) Changed() <-chan struct{} { return s.changed }

// Configure opens a client for every switch of c that this node manages (held: the switches
// whose lease it holds), closes the others, and
// reopens a switch whose endpoint or SSL settings changed (files rotated under the same paths
// need no reopening: the client reads them at each connection). A switch that left the config
// has ovsgw's rows removed (best effort, in the background) before its client closes; one no
// longer held is simply let go, its rows left for the new manager to adopt. It
// returns the switches it could not open (SSL settings incomplete), by name; those are retried
// at the next Configure. Why a switch does not connect (a file that cannot be used, a refused
// certificate) is in its status.
func (s *Switches) Configure(c *model.Config, held map[string]bool) map[string]error {
	s.configureMu.Lock()
	defer s.configureMu.Unlock()
	errs := map[string]error{}
	want := map[string]model.TorSwitch{}
	inConfig := map[string]bool{}
	for _, sw := range c.TorSwitches {
		inConfig[sw.Name] = true
		if held[sw.Name] {
			want[sw.Name] = sw
		}
	}
	var owned map[string]bool
	if len(want) > 0 { // the learned MACs of no switch to check: no need to go over every VMI
		owned = vmiMACs(c)
	}
	var gone []*managed
	s.mu.Lock()
	s.vmiMACs = owned
	for name, m := range s.clients {
		w, ok := want[name]
		if ok && sameEndpoint(w, m.sw) {
			m.sw = w
			continue
		}
		delete(s.clients, name)
		delete(s.notices, name)
		delete(s.ignored, name)
		gone = append(gone, m)
	}
	var open []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if s.clients[name] == nil {
			open = append(open, name)
		}
	}
	s.mu.Unlock()
	for _, m := range gone {
		close(m.stop)
		if !inConfig[m.sw.Name] {
			go cleanup(m.c)
		} else {
			m.c.Close()
		}
	}
	for _, name := range open {
		sw := want[name]
		opts := vtep.Options{Endpoint: sw.Endpoint, Switch: sw.Name, Object: model.TorSwitchPath(sw.Name)}
		if sw.SSL != nil {
			opts.PrivateKey, opts.Certificate, opts.CACert = sw.SSL.PrivateKey, sw.SSL.Certificate, sw.SSL.CACert
			opts.PeerCommonName = sw.SSL.PeerCommonName
		}
		client, err := vtep.New(opts)
		if err != nil {
			errs[name] = err
			continue
		}
		m := &managed{sw: sw, c: client, stop: make(chan struct{})}
		s.mu.Lock()
		s.clients[name] = m
		s.mu.Unlock()
		go s.forward(m)
		log.WithFields(logrus.Fields{logging.Object: model.TorSwitchPath(name), logging.Endpoint: sw.Endpoint}).Info("managing ToR switch")
	}
	return errs
}

func sameEndpoint(a, b model.TorSwitch) bool {
	return a.Endpoint == b.Endpoint && (a.SSL == nil) == (b.SSL == nil) && (a.SSL == nil || *a.SSL == *b.SSL)
}

// forward relays one client's Changed to the set's.
func (s *Switches) forward(m *managed) {
	for {
		select {
		case <-m.stop:
			return
		case <-m.c.Changed():
			select {
			case s.changed <- struct{}{}:
			default:
			}
		}
	}
}

// cleanup removes ovsgw's rows from a switch that left the config, then closes its client.
func cleanup(c *vtep.Client) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	l := log.WithField(logging.Object, model.TorSwitchPath(c.Switch()))
	if err := c.WaitConnected(ctx); err != nil {
		l.WithError(err).Warn("switch left the config but cannot be reached: ovsgw's rows stay on it")
		return
	}
	if _, err := c.Sync(ctx, vtep.Desired{}); err != nil {
		l.WithError(err).Warn("switch left the config: could not remove ovsgw's rows")
		return
	}
	l.Info("switch left the config: ovsgw's rows removed")
}

// SyncInput is what Sync computes every managed switch's Desired from.
type SyncInput struct {
	Index     *model.Index
	Locations []Location
	// NodeTunnelIPs are the nodes' tunnel addresses (config DB Node rows); a switch's
	// replication node is looked up here.
	NodeTunnelIPs map[string]netip.Addr
	Learned       []LearnedMAC // every switch's learned MACs, as published
	// Until is, per switch, when this node must have stopped writing to it: its lease's fence
	// (gateway/torlease). A sync gets no later deadline, and a switch past it is not synced.
	Until map[string]time.Time
}

// Sync brings every managed switch that is connected to its Desired; a switch not connected is
// skipped (its client fires Changed once it connects). It returns the errors by switch.
func (s *Switches) Sync(ctx context.Context, in SyncInput) map[string]error {
	s.mu.Lock()
	list := slices.Collect(maps.Values(s.clients))
	s.mu.Unlock()
	errs := map[string]error{}
	for _, m := range list {
		until, fenced := in.Until[m.sw.Name]
		if !m.c.Connected() || !fenced || !time.Now().Before(until) {
			continue // not connected, or no longer this node's to write
		}
		out := Desired(Input{Index: in.Index, Switch: &m.sw, Locations: in.Locations,
			ReplicationTunnelIP: in.NodeTunnelIPs[m.sw.ReplicationNode], Learned: in.Learned})
		sctx, cancel := context.WithDeadline(ctx, until)
		res, err := m.c.Sync(sctx, out.Desired)
		cancel()
		s.mu.Lock()
		s.notices[m.sw.Name] = out.Notices
		s.mu.Unlock()
		l := log.WithField(logging.Object, model.TorSwitchPath(m.sw.Name))
		if err != nil {
			errs[m.sw.Name] = err
			l.WithError(err).Warn("ToR switch sync failed")
			continue
		}
		if !res.Empty() {
			l.WithField(logging.Changes, res.Counts()).Info("ToR switch synced")
		}
		for _, p := range res.Problems {
			l.Warn(p)
		}
	}
	return errs
}

// Statuses reports every managed switch, sorted by name; the Desired's notices (an unknown
// replication node tunnel IP, say) join its problems.
func (s *Switches) Statuses() []vtep.Status {
	s.mu.Lock()
	names := slices.Sorted(maps.Keys(s.clients))
	list := make([]*managed, len(names))
	notices := make([][]string, len(names))
	for i, name := range names {
		list[i], notices[i] = s.clients[name], slices.Clone(s.notices[name])
		if n := s.ignored[name]; n > 0 {
			notices[i] = append(notices[i], fmt.Sprintf("%d learned MACs ignored: not 6-byte unicast addresses, or a VMI's own", n))
		}
	}
	s.mu.Unlock()
	var out []vtep.Status
	for i, m := range list {
		st := m.c.Status()
		st.Problems = append(st.Problems, notices[i]...)
		out = append(out, st)
	}
	return out
}

// Learned returns, per managed switch, the MACs it learned in ovsgw's logical switches, to
// publish (config DB Tor_MAC rows) so that every node can send frames for them to the switch.
// A switch not connected is left out: the last published list stands until it is back. MACs no
// switch may claim (see usableLearnedMAC) are left out, counted in the switch's status, and
// logged when their number changes.
func (s *Switches) Learned() map[string][]LearnedMAC {
	s.mu.Lock()
	list := slices.Collect(maps.Values(s.clients))
	owned := s.vmiMACs
	s.mu.Unlock()
	out := map[string][]LearnedMAC{}
	ignored := map[string]int{}
	for _, m := range list {
		if !m.c.Connected() {
			continue
		}
		macs := []LearnedMAC{}
		for _, l := range m.c.LocalMACs() {
			ip, err := netip.ParseAddr(l.Locator)
			mac, ok := usableLearnedMAC(l.MAC, owned)
			if err != nil || !ok {
				ignored[m.sw.Name]++
				continue
			}
			macs = append(macs, LearnedMAC{Switch: m.sw.Name, VNI: l.VNI, MAC: mac, IP: l.IP, TunnelIP: ip})
		}
		out[m.sw.Name] = macs
	}
	s.mu.Lock()
	for name := range out {
		if s.clients[name] == nil {
			continue
		}
		if n := ignored[name]; n != s.ignored[name] {
			if n > 0 {
				log.WithFields(logrus.Fields{logging.Object: model.TorSwitchPath(name), "ignored": n}).Warn("learned MACs ignored: not 6-byte unicast addresses, or a VMI's own")
			}
			if s.ignored == nil {
				s.ignored = map[string]int{}
			}
			s.ignored[name] = n
		}
	}
	s.mu.Unlock()
	return out
}

// Any reports whether any switch is managed now.
func (s *Switches) Any() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients) > 0
}

// Managed reports whether node manages switch name now.
func (s *Switches) Managed(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[name] != nil
}

// Close closes every client (rows stay on the switches).
func (s *Switches) Close() {
	s.configureMu.Lock()
	defer s.configureMu.Unlock()
	s.mu.Lock()
	list := slices.Collect(maps.Values(s.clients))
	clear(s.clients)
	s.mu.Unlock()
	for _, m := range list {
		close(m.stop)
		m.c.Close()
	}
}

// String names the node and its switches, for logs.
func (s *Switches) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%s manages %v", s.node, slices.Sorted(maps.Keys(s.clients)))
}
