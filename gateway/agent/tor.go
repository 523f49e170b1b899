package agent

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/gateway/tor"
	"github.com/ovsgw/ovsgw/gateway/torlease"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// torRetry is how soon a failed ToR switch sync is tried again.
const torRetry = time.Second

// torLoop keeps the ToR switches this node manages in step with the config and the bindings,
// and publishes their state and the MACs they learned. It runs apart from the flow reconcile:
// a switch that does not answer must not hold up the bridge. Which switches this node manages
// is its lease keeper's answer, asked every torlease.StepInterval; the lease steps, the
// switches' configuration and their syncs all run in this one goroutine, so that nothing is
// written to a switch while its lease is given up, and no sync outlives its lease's fence.
func (a *Agent) torLoop(ctx context.Context) {
	defer a.tors.Close()
	retry := time.NewTimer(torRetry)
	defer retry.Stop()
	step := time.NewTicker(torlease.StepInterval)
	defer step.Stop()
	var held map[string]time.Time
	syncDue := true // a sync is asked for (a change, a retry); a lease step alone needs none
	for {
		a.mu.Lock()
		idx := a.idx
		a.mu.Unlock()
		next := a.leases.Step(ctx, idx.Config)
		if !sameKeys(next, held) {
			syncDue = true // a switch taken over or given up
		}
		held = next
		a.mu.Lock()
		a.torHeld = held
		a.mu.Unlock()
		if syncDue {
			syncDue = false
			if !a.syncTors(ctx, idx, held) {
				retry.Reset(torRetry)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.tors.Changed():
			syncDue = true
		case <-a.torKick:
			syncDue = true
		case <-retry.C:
			syncDue = true
		case <-step.C:
		}
	}
}

// sameKeys reports whether two maps have the same keys.
func sameKeys[V any](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// syncTors runs one round; it reports whether every switch synced.
func (a *Agent) syncTors(ctx context.Context, idx *model.Index, held map[string]time.Time) bool {
	ok := true
	manage := map[string]bool{}
	for name := range held {
		manage[name] = true
	}
	for name, err := range a.tors.Configure(idx.Config, manage) {
		log.WithError(err).WithField(logging.Object, model.TorSwitchPath(name)).Warn("cannot manage ToR switch")
		ok = false
	}
	if !a.tors.Any() && !a.publishesTorState() {
		return ok // no switch to sync, nothing of ours to withdraw: no need to read every binding
	}
	nodes := a.nodeTunnels()
	live := a.nodeLiveness(time.Now())
	var locations []tor.Location
	for _, b := range a.db.Bindings() {
		if n, found := live[b.Node]; found && n.tunnelIP.IsValid() && b.Role != configdb.RoleStandby {
			locations = append(locations, tor.Location{VMI: b.VMI, Node: b.Node, TunnelIP: n.tunnelIP, Stale: n.stale, Since: b.RoleSince})
		}
	}
	var learned []tor.LearnedMAC
	for _, m := range a.db.TorMACs() {
		if ip, err := netip.ParseAddr(m.TunnelIP); err == nil {
			learned = append(learned, tor.LearnedMAC{Switch: m.Switch, VNI: m.VNI, MAC: m.MAC, IP: m.IP, TunnelIP: ip})
		}
	}
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if errs := a.tors.Sync(sctx, tor.SyncInput{Index: idx, Locations: locations, NodeTunnelIPs: nodes, Learned: learned, Until: held}); len(errs) > 0 {
		ok = false
	}
	for _, st := range a.tors.Statuses() {
		err := a.db.PublishTorState(sctx, configdb.TorState{Switch: st.Name, Node: a.conf.Hostname, Connected: st.Connected,
			InSync: st.InSync, TunnelIPs: st.TunnelIPs, MACsLearned: st.MACsLearned})
		if err != nil {
			ok = false
		}
	}
	for sw, macs := range a.tors.Learned() {
		list := make([]configdb.TorMACState, 0, len(macs))
		for _, m := range macs {
			list = append(list, configdb.TorMACState{Switch: sw, VNI: m.VNI, MAC: m.MAC, IP: m.IP, TunnelIP: m.TunnelIP.String()})
		}
		if err := a.db.PublishTorMACs(sctx, sw, list); err != nil {
			ok = false
		}
	}
	for _, st := range a.db.TorStates() {
		if st.Node == a.conf.Hostname && !a.tors.Managed(st.Switch) {
			if err := a.db.RemoveTorState(sctx, st.Switch); err != nil {
				ok = false
			}
		}
	}
	return ok
}

// publishesTorState reports whether the config DB holds a ToR state row of this node.
func (a *Agent) publishesTorState() bool {
	return slices.ContainsFunc(a.db.TorStates(), func(st configdb.TorState) bool { return st.Node == a.conf.Hostname })
}

// nodeTunnels maps every node that published a tunnel address to it.
func (a *Agent) nodeTunnels() map[string]netip.Addr {
	out := map[string]netip.Addr{}
	for _, n := range a.db.Nodes() {
		if ip, err := netip.ParseAddr(n.TunnelIP); err == nil {
			out[n.Hostname] = ip
		}
	}
	return out
}

// torInputs tells the compiler about the config's ToR switches: their tunnel addresses (as
// their managers published them), the VNs they carry, the MACs they learned, and their
// replication nodes.
func (a *Agent) torInputs(idx *model.Index) []pipeline.Tor {
	if a.db == nil || len(idx.Config.TorSwitches) == 0 {
		return nil
	}
	nodes := a.nodeTunnels()
	switchIP := map[string]netip.Addr{}
	for _, st := range a.db.TorStates() {
		for _, s := range st.TunnelIPs {
			if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
				switchIP[st.Switch] = ip
				break
			}
		}
	}
	macs := map[string][]pipeline.TorMAC{}
	for _, m := range a.db.TorMACs() {
		mac, err := net.ParseMAC(m.MAC)
		if err != nil {
			continue
		}
		macs[m.Switch] = append(macs[m.Switch], pipeline.TorMAC{VNI: m.VNI, MAC: mac})
		if ip, err := netip.ParseAddr(m.TunnelIP); err == nil && !switchIP[m.Switch].IsValid() {
			switchIP[m.Switch] = ip
		}
	}
	var out []pipeline.Tor
	for i := range idx.Config.TorSwitches {
		sw := &idx.Config.TorSwitches[i]
		out = append(out, pipeline.Tor{Name: sw.Name, TunnelIP: switchIP[sw.Name], VNIs: tor.VNIs(idx, sw), MACs: macs[sw.Name],
			Replicator: sw.ReplicationNode == a.conf.Hostname, ReplicationIP: nodes[sw.ReplicationNode]})
	}
	return out
}
