package agent

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// tunnelPortName is the bridge's flow-based VXLAN port.
const tunnelPortName = "vxlan0"

// livenessSlack is how long after a node's heartbeat crosses configdb.StaleAfter the agent looks
// again: past the instant, so that the node is stale by then, and short next to the 2 s
// heartbeat.
const livenessSlack = 10 * time.Millisecond

// peers are the VMIs other nodes published as active bindings, with their nodes' tunnel
// addresses, whether those nodes are stale and since when they hold the role: the compiler
// reaches a VMI bound on several nodes on the one package placement prefers. A node whose
// heartbeat stopped keeps its entries: its agent may be restarting while its datapath still
// forwards, and traffic must not stop for that; but a live node's binding of the same VMI wins.
func (a *Agent) peers() []pipeline.Peer {
	if a.db == nil {
		return nil
	}
	nodes := a.nodeLiveness(time.Now())
	var out []pipeline.Peer
	for _, b := range a.db.Bindings() {
		if n, ok := nodes[b.Node]; ok && n.tunnelIP.IsValid() && b.Node != a.conf.Hostname && b.Role != configdb.RoleStandby {
			out = append(out, pipeline.Peer{VMI: b.VMI, Node: b.Node, TunnelIP: n.tunnelIP, Stale: n.stale, Since: b.RoleSince})
		}
	}
	return out
}

// nodeInfo is what the agent reads of another node's row.
type nodeInfo struct {
	tunnelIP netip.Addr // invalid when it published none
	stale    bool
}

// nodeLiveness maps every node of the config DB to its tunnel address and whether it is stale
// at now (configdb.StaleAfter).
func (a *Agent) nodeLiveness(now time.Time) map[string]nodeInfo {
	out := map[string]nodeInfo{}
	for _, n := range a.db.Nodes() {
		ip, _ := netip.ParseAddr(n.TunnelIP)
		out[n.Hostname] = nodeInfo{tunnelIP: ip, stale: n.Stale(now, configdb.StaleAfter)}
	}
	return out
}

// watchLiveness asks for a sync (flows and ToR switches) whenever another node turns stale: that
// changes no row, only the clock, yet changes where traffic goes (package placement). A stale
// node coming back is a config DB state change (configdb.StateChanged) and needs no timer.
func (a *Agent) watchLiveness(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last map[string]bool // stale nodes at the last look
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		stale := map[string]bool{}
		next := now.Add(configdb.StaleAfter) // no live node: look again after a stale period
		for _, n := range a.db.Nodes() {
			if n.Hostname == a.conf.Hostname {
				continue
			}
			if n.Stale(now, configdb.StaleAfter) {
				stale[n.Hostname] = true
			} else if at := n.StaleAt(configdb.StaleAfter); at.Before(next) {
				next = at
			}
		}
		if last != nil && !maps.Equal(last, stale) {
			log.WithField("stale", slices.Sorted(maps.Keys(stale))).Info("nodes turned stale")
			a.kick()
			a.kickTors()
		}
		last = stale
		// Just past the moment the first live node turns stale (Stale is strict), unless it
		// publishes again meanwhile: then this finds it live and times the next.
		timer.Reset(max(next.Sub(now)+livenessSlack, livenessSlack))
	}
}

// Publishing bindings from the sync.
const (
	// publishTimeout: a healthy config DB confirms a write within milliseconds; one heartbeat
	// interval (configdb.HeartbeatInterval) without an answer is a DB in trouble.
	publishTimeout = configdb.HeartbeatInterval
	// publishRetry is when a failed publish is tried again (by a sync that compiles nothing new).
	publishRetry = time.Second
)

// publishBindings makes this node's Binding rows say where its VMIs are bound; it writes only
// when they changed since the last successful publish, and then only the rows that changed
// (configdb's UpdateBindings); the whole list is compared with the node's rows
// (PublishBindings) only when what stands in the DB is not known: at start, after an error or
// a reconnect, and at each resync (see Run).
func (a *Agent) publishBindings(ctx context.Context, bindings []pipeline.Binding) {
	if a.db == nil {
		return
	}
	// After a move to another session (a new leader, a member that came back), the rows may
	// not be what this node wrote last: compare them all once.
	session := a.db.LeaderChanges()
	full := a.published == nil || session != a.publishedSession
	// The engine hands out a new bindings slice only when it derived the node's state anew:
	// the same slice as last published means nothing to compare, let alone write.
	if !full && len(bindings) > 0 && len(a.publishedFrom) == len(bindings) && &a.publishedFrom[0] == &bindings[0] {
		return
	}
	// Since when each binding holds its role: kept while the role stays (across restarts too:
	// from this node's row), else now, or one past the newest role_since of the VMI published
	// anywhere (configdb.NextRoleSince), so that a role taken after another's is newer.
	now := time.Now()
	mine := a.published
	if full {
		mine = map[string]configdb.BindingState{}
		for _, b := range a.db.Bindings() {
			if b.Node == a.conf.Hostname {
				mine[b.VMI] = b
			}
		}
	}
	next := make(map[string]configdb.BindingState, len(mine))
	var renew []string // VMIs whose role is new here: their role_since comes after every other
	for _, b := range bindings {
		if (!b.Bound && !b.Standby) || b.Kind == pipeline.BindingPeer {
			continue
		}
		kind, role := configdb.BindingLocal, configdb.RoleActive
		if b.Kind == pipeline.BindingRemote {
			kind = configdb.BindingRemote
		}
		if b.Standby {
			role = configdb.RoleStandby
		}
		st := configdb.BindingState{VMI: b.VMI, Node: a.conf.Hostname, Kind: kind, Port: b.Port,
			PhysicalInterface: b.PhysicalInterface, VLAN: int(b.VLAN), Role: role}
		if prev, had := mine[b.VMI]; had && prev.Role == role && prev.RoleSince > 0 {
			st.RoleSince = prev.RoleSince
		} else {
			renew = append(renew, b.VMI)
		}
		next[b.VMI] = st
	}
	if len(renew) > 0 { // one pass over the published rows, however many roles are new
		newest := a.db.NewestRoleSince(renew...)
		for _, vmi := range renew {
			st := next[vmi]
			st.RoleSince = configdb.NextRoleSince(now, newest[vmi])
			next[vmi] = st
		}
	}
	var changed []configdb.BindingState
	for vmi, st := range next {
		if prev, had := mine[vmi]; !had || prev != st {
			changed = append(changed, st)
		}
	}
	var removed []string
	for vmi := range mine {
		if _, ok := next[vmi]; !ok {
			removed = append(removed, vmi)
		}
	}
	if !full && len(changed) == 0 && len(removed) == 0 {
		a.publishedFrom = bindings
		return
	}
	// The flows are in place already; a config DB that hangs must not hold the next sync (an HA
	// role change) back: wait a little, then try again later.
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	var err error
	if full {
		err = a.db.PublishBindings(pctx, a.conf.Hostname, slices.Collect(maps.Values(next)))
	} else {
		// Sorted: a stable transaction.
		slices.SortFunc(changed, func(x, y configdb.BindingState) int { return strings.Compare(x.VMI, y.VMI) })
		slices.Sort(removed)
		err = a.db.UpdateBindings(pctx, a.conf.Hostname, changed, removed)
	}
	if err != nil {
		a.published = nil
		log.WithError(err).Warnf("cannot publish bindings to the config DB; retrying in %v", publishRetry)
		time.AfterFunc(publishRetry, a.kick)
		return
	}
	a.published, a.publishedFrom, a.publishedSession = next, bindings, session
}

// heartbeat publishes this node's row every configdb.HeartbeatInterval.
func (a *Agent) heartbeat(ctx context.Context) {
	tick := time.NewTicker(configdb.HeartbeatInterval)
	defer tick.Stop()
	for {
		a.mu.Lock()
		n := configdb.NodeState{Hostname: a.conf.Hostname, TunnelIP: a.conf.TunnelIP, GatewayMode: a.conf.GatewayEnabled(),
			InterfacesLimit: a.conf.MaxInterfaces, Status: a.haNodeStatus()}
		if n.GatewayMode {
			n.InterfacesUsed = a.idx.InterfacesUsed(a.conf.Hostname)
		}
		a.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, configdb.HeartbeatInterval)
		if err := a.db.PublishNode(pctx, n); err != nil && ctx.Err() == nil {
			log.WithError(err).Warn("cannot publish this node's heartbeat")
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-a.publishNow:
		}
	}
}
