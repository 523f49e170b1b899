package agent

import (
	"context"
	"net"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/gateway/rstp"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// HA timing.
const (
	// haInterval is how often a gateway of an HA group ages what it knows of the other
	// gateways' ports and looks at its own; BPDUs and port changes are acted on at once.
	haInterval = 250 * time.Millisecond
	// haHoldPrevious: a restarted agent keeps the role its previous run published for this
	// long, unless a BPDU or the link says otherwise first: three hello times (2 s), the
	// longest a forwarding switch port stays silent.
	haHoldPrevious = 6 * time.Second
)

// haState is this gateway's view of its HA group. observeHA replaces it whole; readers hold
// the old one.
type haState struct {
	group      string // the group's BPDU VMI
	routers    []string
	ports      []string // this node's physical interfaces in the group
	role       string   // configdb.RoleActive or RoleStandby
	since      time.Time
	forwarding bool
	reason     string // the spanning tree information the role comes from
}

// clone copies the state, so that a new observation never writes what readers hold.
func (s *haState) clone() *haState {
	c := *s
	c.routers, c.ports = slices.Clone(s.routers), slices.Clone(s.ports)
	return &c
}

// haHub holds, for each gateway port of the group on this node, what the switch's spanning
// tree does with it (package rstp). The packet-in handler and the HA loop share it.
type haHub struct {
	mu      sync.Mutex
	group   string
	ports   map[string]*hubPort // by physical interface
	started time.Time
	kick    chan struct{} // one slot: a BPDU or a port change asks the HA loop to look now
}

type hubPort struct {
	rstp   *rstp.Port
	ofport uint32
}

func newHAHub() *haHub {
	return &haHub{ports: map[string]*hubPort{}, started: time.Now(), kick: make(chan struct{}, 1)}
}

func (h *haHub) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// haLoop decides, from the switch's BPDUs, whether this node is the active gateway of its HA
// group: it is active while the switch's spanning tree forwards to its port (package rstp
// says why). The switch, seeing the loop the BPDU network closes, forwards to one port only.
func (a *Agent) haLoop(ctx context.Context) {
	tick := time.NewTicker(haInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-a.hub.kick:
		}
		if changed := a.observeHA(ctx); changed {
			a.kick()
			a.publishSoon()
		}
	}
}

// haGroupMemo is the HA group of this node under one config, its gateway ports (the physical
// interfaces with a VLAN 0 logical interface to the group's BPDU VMI) and the BPDU VMI's MAC.
type haGroupMemo struct {
	idx   *model.Index
	group *model.HAGroup
	ports []string
	mac   net.HardwareAddr
}

// haGroupOf finds the memo for idx: it depends on the config alone, and finding it sorts every
// logical interface of every gateway (most of an idle agent's CPU at 4K when done each tick).
func (a *Agent) haGroupOf(idx *model.Index, memo haGroupMemo) haGroupMemo {
	if idx != nil && memo.idx == idx {
		return memo
	}
	memo = haGroupMemo{idx: idx, group: idx.HAGroupOf(a.conf.Hostname)}
	if g := memo.group; g != nil && g.BPDUVMI != "" {
		for _, li := range idx.NodeLIs(a.conf.Hostname) {
			if li.VLANID() == 0 && li.VMI == g.BPDUVMI && !slices.Contains(memo.ports, li.PhysicalInterface) {
				memo.ports = append(memo.ports, li.PhysicalInterface)
			}
		}
		if v := idx.VMIs[g.BPDUVMI]; v != nil {
			memo.mac, _ = net.ParseMAC(v.MAC)
		}
	}
	a.mu.Lock()
	a.haGroup = memo
	a.mu.Unlock()
	return memo
}

// observeHA brings the group's ports up to date with the node's interfaces, ages the hub and
// takes the role the BPDUs give; it reports a role change.
func (a *Agent) observeHA(ctx context.Context) bool {
	a.mu.Lock()
	idx, ovs, st, memo := a.idx, a.ovs, a.ha, a.haGroup
	a.mu.Unlock()
	memo = a.haGroupOf(idx, memo)
	g := memo.group
	if !a.conf.GatewayEnabled() || g == nil || g.BPDUVMI == "" {
		a.mu.Lock()
		a.ha, a.haObserved = nil, true
		a.mu.Unlock()
		return st != nil
	}
	now := time.Now()
	if st == nil || st.group != g.BPDUVMI {
		st = &haState{group: g.BPDUVMI, role: configdb.RoleStandby, since: now, reason: "starting: no BPDU from the switch yet"}
		if prev := a.prevHA; prev[configdb.StatusHAGroup] == st.group && prev[configdb.StatusHARole] == configdb.RoleActive {
			st.role, st.forwarding, st.reason = configdb.RoleActive, true, "starting: the role the previous run published, until the switch's BPDUs say"
			if since, err := time.Parse(time.RFC3339Nano, prev[configdb.StatusHASince]); err == nil {
				st.since = since
			}
		}
	} else {
		st = st.clone() // others read a.ha under the lock while this one is worked on
	}
	st.routers, st.ports = g.Routers, slices.Clone(memo.ports)
	mac := memo.mac
	var links []ovsdb.Interface
	if ovs != nil {
		links = ovs.Interfaces(a.conf.Bridge)
	}
	h := a.hub
	var out []haSend
	linkDown := false
	h.mu.Lock()
	if h.group != st.group {
		h.group, h.ports = st.group, map[string]*hubPort{}
	}
	for name := range h.ports {
		if !slices.Contains(st.ports, name) {
			delete(h.ports, name)
		}
	}
	for n, name := range st.ports {
		hp := h.ports[name]
		if hp == nil {
			hp = &hubPort{rstp: rstp.NewPort(mac, uint16(n+1), !a.conf.HARapid)}
			h.ports[name] = hp
		}
		for _, i := range links {
			// An interface OVS has not opened yet (no ofport: the agent or ovs-vswitchd is
			// starting) says nothing about the link.
			if i.Name == name && i.OFPort > 0 {
				up := i.LinkState == "up"
				hp.ofport, linkDown = uint32(i.OFPort), linkDown || !up
				out = append(out, haSend{hp.ofport, hp.rstp.SetLink(up, now)})
			}
		}
		out = append(out, haSend{hp.ofport, hp.rstp.Tick(now)})
	}
	forwarding, reason := false, "no gateway port of the group on this node"
	for _, name := range st.ports {
		if fwd, why := h.ports[name].rstp.Verdict(now); fwd || !forwarding {
			forwarding, reason = fwd, name+": "+why
		}
	}
	known := false
	for _, name := range st.ports {
		known = known || h.ports[name].rstp.Heard() || h.ports[name].rstp.Contested(now)
	}
	h.mu.Unlock()
	a.sendHA(ctx, st.group, out)
	// The role held from the previous run gives way to the first BPDU of the switch, a link
	// down, or another gateway's port that forwards or is better.
	if !known && !linkDown && st.role == configdb.RoleActive && now.Sub(h.started) < haHoldPrevious {
		forwarding, reason = true, st.reason // held from the previous run
	}
	role := configdb.RoleStandby
	if forwarding {
		role = configdb.RoleActive
	}
	st.forwarding = forwarding
	changed := role != st.role
	if changed || reason != st.reason {
		if changed {
			st.role, st.since = role, now
			a.metrics.HARoleChanged(st.group)
		}
		st.reason = reason
		// The group is named by its BPDU VMI, as validation names the groups it refuses.
		log.WithFields(logrus.Fields{logging.Object: model.VMIPath(st.group), "role": role, "changed": changed}).Info("HA: " + reason)
	}
	a.mu.Lock()
	a.ha, a.haObserved = st, true
	a.mu.Unlock()
	return changed
}

// previousHA is the HA part of this node's row in the shared database: what the previous run
// published. Read before this run's first heartbeat overwrites it.
func (a *Agent) previousHA() map[string]string {
	if a.db == nil {
		return nil
	}
	for _, n := range a.db.Nodes() {
		if n.Hostname != a.conf.Hostname {
			continue
		}
		out := map[string]string{}
		for _, k := range []string{configdb.StatusHAGroup, configdb.StatusHARole, configdb.StatusHASince,
			configdb.StatusHAForwarding, configdb.StatusHAReason} {
			if v, ok := n.Status[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	return nil
}

// haSend is what one port's rstp.Port asks to send.
type haSend struct {
	ofport uint32
	act    rstp.Actions
}

// onBPDU takes a BPDU the pipeline sent up: from the switch on a gateway port (ServiceBPDU),
// or brought to it by the BPDU network (ServiceBPDURelay).
func (a *Agent) onBPDU(ctx context.Context, pi openflow.PacketIn) {
	in, _ := pi.InPort()
	now := time.Now()
	h := a.hub
	var out []haSend
	h.mu.Lock()
	for _, hp := range h.ports {
		var act rstp.Actions
		var err error
		switch {
		case pi.Userdata[0] == pipeline.ServiceBPDU && hp.ofport == in:
			act, err = hp.rstp.FromSwitch(pi.Data, now)
		case pi.Userdata[0] == pipeline.ServiceBPDURelay && hp.ofport != in:
			act, err = hp.rstp.FromGroup(pi.Data, now)
		default:
			continue
		}
		if err != nil {
			log.WithError(err).WithField(logging.Object, model.VMIPath(h.group)).Debug("HA: ignoring a frame to the spanning tree's address")
		}
		out = append(out, haSend{hp.ofport, act})
	}
	group := h.group
	h.mu.Unlock()
	a.sendHA(ctx, group, out)
	h.poke()
}

// sendHA sends what the ports asked: agreements out of their port, withdrawals and refreshes
// into the group's BPDU network as if they came from this node's port (the flood leaves it
// out: source and destination are the same VMI).
func (a *Agent) sendHA(ctx context.Context, group string, sends []haSend) {
	var pkts []openflow.PacketOut
	for _, s := range sends {
		if s.act.Agreement != nil && s.ofport > 0 {
			pkts = append(pkts, openflow.PacketOut{Data: s.act.Agreement, Actions: []openflow.Action{openflow.Output{Port: s.ofport}}})
		}
		for _, f := range [][]byte{s.act.Withdrawal, s.act.Refresh} {
			if f == nil {
				continue
			}
			id, vni, ok := a.bpduVMI(group)
			if !ok {
				continue
			}
			pkts = append(pkts, openflow.PacketOut{Data: f, Actions: []openflow.Action{
				openflow.SetUint(pipeline.RegSrcVMI, uint64(id)), openflow.SetUint(pipeline.RegVN, uint64(vni)),
				openflow.Resubmit{Table: pipeline.TableL2Lookup}}})
		}
	}
	if len(pkts) == 0 {
		return
	}
	a.mu.Lock()
	conn, _ := a.of.(packetSender)
	a.mu.Unlock()
	if conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := conn.SendPackets(ctx, pkts...); err != nil {
		log.WithError(err).WithField(logging.Object, model.VMIPath(group)).Warn("HA: cannot send BPDUs")
	}
}

// packetSender is the part of the OpenFlow session that sends packets.
type packetSender interface {
	SendPackets(ctx context.Context, pkts ...openflow.PacketOut) error
}

// bpduVMI is the id and VNI of the group's BPDU VMI as the last sync compiled them.
func (a *Agent) bpduVMI(group string) (uint32, uint32, bool) {
	a.mu.Lock()
	idx, view := a.idx, a.view
	a.mu.Unlock()
	if idx == nil || view == nil || idx.VMIs[group] == nil || idx.VNs[idx.VMIs[group].Network] == nil {
		return 0, 0, false
	}
	for id, name := range view.names[pipeline.KindVMI] {
		if name == group {
			return id, idx.VNs[idx.VMIs[group].Network].VNI, true
		}
	}
	return 0, 0, false
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

// haStatus is the HA section of status, from ha (a.ha as read under the lock: observeHA
// replaces it whole, never changes it) and the other gateways' published rows.
func (a *Agent) haStatus(ha *haState) *control.HAStatus {
	if ha == nil {
		return nil
	}
	s := &control.HAStatus{Group: ha.group, Role: ha.role, Since: ha.since, Forwarding: ha.forwarding,
		Ports: ha.ports, Reason: ha.reason}
	if a.db != nil {
		now := time.Now()
		for _, n := range a.db.Nodes() {
			if contains(ha.routers, n.Hostname) && n.Status[configdb.StatusHAGroup] == ha.group {
				since, _ := time.Parse(time.RFC3339Nano, n.Status[configdb.StatusHASince])
				s.Gateways = append(s.Gateways, control.HAGateway{Node: n.Hostname, Role: n.Status[configdb.StatusHARole],
					Since: since, Forwarding: n.Status[configdb.StatusHAForwarding] == "true", Stale: n.Stale(now, configdb.StaleAfter),
					Reason: n.Status[configdb.StatusHAReason]})
			}
		}
		sort.Slice(s.Gateways, func(i, j int) bool { return s.Gateways[i].Node < s.Gateways[j].Node })
	}
	return s
}

// haNodeStatus is what goes into this node's published Status map.
func (a *Agent) haNodeStatus() map[string]string {
	if a.ha == nil {
		if !a.haObserved {
			return a.prevHA // not looked yet: leave the row as the previous run left it
		}
		return nil
	}
	fwd := "false"
	if a.ha.forwarding {
		fwd = "true"
	}
	return map[string]string{configdb.StatusHAGroup: a.ha.group, configdb.StatusHARole: a.ha.role,
		configdb.StatusHASince: a.ha.since.Format(time.RFC3339Nano), configdb.StatusHAForwarding: fwd,
		configdb.StatusHAReason: a.ha.reason}
}

// publishSoon asks the heartbeat loop to publish now.
func (a *Agent) publishSoon() {
	select {
	case a.publishNow <- struct{}{}:
	default:
	}
}
