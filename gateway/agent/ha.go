package agent

import (
	"context"
	"sort"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// HA timing.
const (
	// haInterval is how often a gateway of an HA group looks at its ports.
	haInterval = 500 * time.Millisecond
	// haRxWindow: a port that received nothing from the switch for this long is not forwarding.
	// A switch sends a BPDU every hello time (RSTP default 2 s) on a port it forwards on, so
	// this is two and a half hellos.
	haRxWindow = 5 * time.Second
)

// haState is this gateway's view of its HA group.
type haState struct {
	group      string // the group's BPDU VMI
	routers    []string
	ports      []string // this node's physical interfaces in the group
	role       string   // configdb.RoleActive or RoleStandby
	since      time.Time
	forwarding bool
	lastRx     map[string]time.Time
	lastCount  map[string]uint64
}

// haLoop decides, from what this gateway observes, whether it is the active gateway of its HA
// group: it is active while the switch forwards to it (its port is up and frames, at least the
// switch's BPDUs, arrive on it) and no other live gateway of the group already is. The switches'
// spanning tree, seeing the loop the BPDU network closes, forwards to exactly one gateway port.
func (a *Agent) haLoop(ctx context.Context) {
	tick := time.NewTicker(haInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if changed := a.observeHA(ctx); changed {
			a.kick()
			a.publishSoon()
		}
	}
}

// observeHA samples the group's ports and updates the role; it reports a role change.
func (a *Agent) observeHA(ctx context.Context) bool {
	a.mu.Lock()
	idx, conn, ovs, st := a.idx, a.of, a.ovs, a.ha
	a.mu.Unlock()
	g := idx.HAGroupOf(a.conf.Hostname)
	if !a.conf.GatewayEnabled() || g == nil || g.BPDUVMI == "" {
		a.mu.Lock()
		a.ha = nil
		a.mu.Unlock()
		return st != nil
	}
	if st == nil || st.group != g.BPDUVMI {
		st = &haState{group: g.BPDUVMI, role: configdb.RoleStandby, since: time.Now(),
			lastRx: map[string]time.Time{}, lastCount: map[string]uint64{}}
	}
	st.routers, st.ports = g.Routers, nil
	for _, li := range idx.NodeLIs(a.conf.Hostname) {
		if li.VLANID() == 0 && li.VMI == g.BPDUVMI {
			st.ports = append(st.ports, li.PhysicalInterface)
		}
	}
	if conn == nil || ovs == nil {
		return false
	}
	table := pipeline.TableClassify
	flows, err := conn.DumpFlows(ctx, &table)
	if err != nil {
		return false
	}
	now := time.Now()
	forwarding := false
	for _, i := range ovs.Interfaces(a.conf.Bridge) {
		if !contains(st.ports, i.Name) || i.OFPort <= 0 {
			continue
		}
		n := receivedOn(flows, uint32(i.OFPort))
		if n > st.lastCount[i.Name] {
			st.lastRx[i.Name] = now
		}
		st.lastCount[i.Name] = n
		if i.LinkState == "up" && now.Sub(st.lastRx[i.Name]) < haRxWindow {
			forwarding = true
		}
	}
	st.forwarding = forwarding
	role := configdb.RoleStandby
	switch {
	case !forwarding:
	case st.role == configdb.RoleActive && !a.otherActive(st, true):
		role = configdb.RoleActive
	case st.role == configdb.RoleStandby && !a.otherActive(st, false):
		role = configdb.RoleActive
	}
	changed := role != st.role
	if changed {
		log.WithFields(map[string]any{"group": st.group, "role": role, "forwarding": forwarding}).Info("HA role changed")
		st.role, st.since = role, now
	}
	a.mu.Lock()
	a.ha = st
	a.mu.Unlock()
	return changed
}

// receivedOn adds up the packets the classify table saw from one port: every frame from the
// switch lands on one of them.
func receivedOn(flows []openflow.InstalledFlow, port uint32) uint64 {
	var n uint64
	for _, f := range flows {
		if m, ok := f.Match.Get(openflow.FieldInPort); ok && uint32(toUint(m.Value)) == port {
			n += f.Packets
		}
	}
	return n
}

// otherActive reports whether another live gateway of the group is active and forwarding.
// With tieBreak, only one whose name sorts before ours counts: when two gateways both came up
// active, the first by name stays and the other steps down.
func (a *Agent) otherActive(st *haState, tieBreak bool) bool {
	if a.db == nil {
		return false
	}
	now := time.Now()
	for _, n := range a.db.Nodes() {
		if n.Hostname == a.conf.Hostname || !contains(st.routers, n.Hostname) || n.Stale(now, configdb.StaleAfter) {
			continue
		}
		if n.Status[configdb.StatusHAGroup] != st.group || n.Status[configdb.StatusHARole] != configdb.RoleActive ||
			n.Status[configdb.StatusHAForwarding] != "true" {
			continue
		}
		if !tieBreak || n.Hostname < a.conf.Hostname {
			return true
		}
	}
	return false
}

// standbyPorts are the physical interfaces on which this node is not the active gateway.
func (a *Agent) standbyPorts() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ha == nil {
		return nil
	}
	out := map[string]bool{}
	for _, p := range a.ha.ports {
		out[p] = a.ha.role != configdb.RoleActive
	}
	return out
}

// haStatus is the HA section of status and of this node's published row.
func (a *Agent) haStatus() *control.HAStatus {
	if a.ha == nil {
		return nil
	}
	s := &control.HAStatus{Group: a.ha.group, Role: a.ha.role, Since: a.ha.since, Forwarding: a.ha.forwarding,
		Ports: a.ha.ports}
	if a.db != nil {
		now := time.Now()
		for _, n := range a.db.Nodes() {
			if contains(a.ha.routers, n.Hostname) && n.Status[configdb.StatusHAGroup] == a.ha.group {
				since, _ := time.Parse(time.RFC3339Nano, n.Status[configdb.StatusHASince])
				s.Gateways = append(s.Gateways, control.HAGateway{Node: n.Hostname, Role: n.Status[configdb.StatusHARole],
					Since: since, Forwarding: n.Status[configdb.StatusHAForwarding] == "true", Stale: n.Stale(now, configdb.StaleAfter)})
			}
		}
		sort.Slice(s.Gateways, func(i, j int) bool { return s.Gateways[i].Node < s.Gateways[j].Node })
	}
	return s
}

// haNodeStatus is what goes into this node's published Status map.
func (a *Agent) haNodeStatus() map[string]string {
	if a.ha == nil {
		return nil
	}
	fwd := "false"
	if a.ha.forwarding {
		fwd = "true"
	}
	return map[string]string{configdb.StatusHAGroup: a.ha.group, configdb.StatusHARole: a.ha.role,
		configdb.StatusHASince: a.ha.since.Format(time.RFC3339Nano), configdb.StatusHAForwarding: fwd}
}

// publishSoon asks the heartbeat loop to publish now.
func (a *Agent) publishSoon() {
	select {
	case a.publishNow <- struct{}{}:
	default:
	}
}
