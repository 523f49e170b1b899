package agent

import (
	"context"
	"time"

	"github.com/ovsgw/ovsgw/gateway/metrics"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/openflow"
)

// sampleTimeout bounds one read of the switch's counters for the metrics: a dozen flow stats
// requests answered in milliseconds; a switch that hangs costs a stale sample, not a stuck
// goroutine.
const sampleTimeout = 10 * time.Second

// counterSession is what sampling counters needs of the OpenFlow connection (an
// *openflow.Conn): flows' counters by cookie, of one table or all.
type counterSession interface {
	DumpFlowCounters(ctx context.Context, table uint8, cookie, mask uint64) ([]openflow.FlowCounters, error)
}

// metricsState is what a scrape reports of the agent's memory: copied under the lock, the
// rest (connections' and clients' own counters and caches) read after it, with no I/O.
func (a *Agent) metricsState() metrics.State {
	a.mu.Lock()
	s := metrics.State{ConfigGeneration: a.cfgGen, SyncedGeneration: a.syncedGen, InterfacesLimit: a.conf.MaxInterfaces,
		OpenFlow: a.of != nil, SyncFailures: a.syncFailures}
	if a.view != nil {
		s.Flows, s.Groups = a.view.flows, a.view.groups
		for _, b := range a.view.bindings {
			if b.Bound && b.Kind != pipeline.BindingPeer {
				s.VMIsBound++
			}
		}
	}
	if a.conf.GatewayEnabled() && a.idx != nil {
		s.InterfacesUsed = a.idx.InterfacesUsed(a.conf.Hostname)
	}
	ovs, conn, ha, tors := a.ovs, a.of, a.ha, a.tors
	a.mu.Unlock()
	s.OVSDB = ovs != nil && ovs.Connected()
	if ha != nil { // replaced whole by observeHA, never changed
		s.HA = &metrics.HA{Group: ha.group, Role: ha.role, Forwarding: ha.forwarding}
	}
	if tors != nil {
		for _, st := range tors.Statuses() {
			s.Tors = append(s.Tors, metrics.Tor{Switch: st.Name, Connected: st.Connected, InSync: st.InSync, MACsLearned: st.MACsLearned})
		}
	}
	if a.db != nil {
		s.ConfigDB = &metrics.ConfigDB{Connected: a.db.Connected(), LeaderChanges: a.db.LeaderChanges()}
	}
	if c, ok := conn.(*openflow.Conn); ok {
		st := c.PacketInStats()
		s.PacketIns, s.PacketInsDropped = st.Received, st.Dropped
	}
	a.svc.mu.Lock()
	s.ServiceOutcomes = a.svc.counters.Map()
	a.svc.mu.Unlock()
	return s
}

// sampleLoop reads the switch's counters for the metrics every interval, apart from the
// syncs: a sync never waits for it, and it holds no lock while it asks the switch.
func (a *Agent) sampleLoop(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// A read that fails keeps the last sample: its timestamp tells how old it is.
		if s := a.sampleCounters(ctx); s != nil {
			a.metrics.SetSample(s)
		}
	}
}

// sampleCounters reads ovsgw's drop counters, the per-VMI traffic (with per-VMI series on)
// and the punt meters' drops; nil when the bridge cannot be read.
func (a *Agent) sampleCounters(ctx context.Context) *metrics.Sample {
	a.mu.Lock()
	conn, view := a.of, a.view
	a.mu.Unlock()
	if conn == nil || view == nil {
		return nil
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	cs, ok := conn.(counterSession)
	if !ok {
		return nil
	}
	var dropFlows []openflow.FlowCounters
	for _, sel := range pipeline.DropCookies() {
		part, err := cs.DumpFlowCounters(ctx, openflow.AllTables, sel[0], sel[1])
		if err != nil {
			return nil
		}
		dropFlows = append(dropFlows, part...)
	}
	drops := countDrops(dropFlows, view)
	s := &metrics.Sample{DropsByReason: drops.ByReason}
	if a.metrics.PerVMI() {
		s.DropsByVMI = drops.ByVMI
		cookie, mask := pipeline.KindCookie(pipeline.KindVMI, pipeline.Forward)
		in, err := cs.DumpFlowCounters(ctx, pipeline.TableClassify, cookie, mask)
		if err != nil {
			return nil
		}
		out, err := cs.DumpFlowCounters(ctx, pipeline.TableOutput, cookie, mask)
		if err != nil {
			return nil
		}
		s.VMIs = countTraffic(in, out, view)
	}
	if c, ok := conn.(*openflow.Conn); ok {
		stats, err := c.DumpMeterStats(ctx)
		if err != nil {
			return nil
		}
		s.MeterDrops = meterDrops(stats)
	}
	s.At = time.Now()
	s.Duration = s.At.Sub(start)
	return s
}

// countTraffic adds up, per VMI bound here, the counters of its classify flow (what it sent
// into the pipeline) and of its output flows (what the pipeline delivered to it). VMIs on
// other nodes have output flows here too (into the tunnel): they are left out, so that the
// series are those of this node's VMIs only.
func countTraffic(in, out []openflow.FlowCounters, view *compiledView) map[string]metrics.Traffic {
	t := map[string]metrics.Traffic{}
	for _, b := range view.bindings {
		if b.Bound && b.Kind != pipeline.BindingPeer {
			t[b.VMI] = metrics.Traffic{}
		}
	}
	add := func(flows []openflow.FlowCounters, into func(*metrics.Traffic, openflow.FlowCounters)) {
		for _, f := range flows {
			kind, why, id, ok := pipeline.ParseCookie(f.Cookie)
			if !ok || kind != pipeline.KindVMI || why != pipeline.Forward {
				continue
			}
			name := view.names[pipeline.KindVMI][id]
			x, here := t[name]
			if !here {
				continue
			}
			into(&x, f)
			t[name] = x
		}
	}
	add(in, func(x *metrics.Traffic, f openflow.FlowCounters) { x.InPackets += f.Packets; x.InBytes += f.Bytes })
	add(out, func(x *metrics.Traffic, f openflow.FlowCounters) { x.OutPackets += f.Packets; x.OutBytes += f.Bytes })
	return t
}

// meterDrops adds up what the punt meters dropped: the shared meter, and the VMIs' own.
func meterDrops(stats []openflow.MeterStats) map[string]uint64 {
	d := map[string]uint64{"shared": 0, "vmi": 0}
	for _, m := range stats {
		switch {
		case m.ID == pipeline.SharedMeterID:
			d["shared"] += m.Dropped()
		case m.ID <= pipeline.MaxVMIMeterID:
			d["vmi"] += m.Dropped()
		}
	}
	return d
}
