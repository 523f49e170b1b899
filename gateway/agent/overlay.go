package agent

import (
	"context"
	"net/netip"
	"time"

	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// tunnelPortName is the bridge's flow-based VXLAN port.
const tunnelPortName = "vxlan0"

// peers are the VMIs other nodes published as bound, with their nodes' tunnel addresses. A node
// whose heartbeat stopped keeps its entries: its agent may be restarting while its datapath
// still forwards, and traffic must not stop for that.
func (a *Agent) peers() []pipeline.Peer {
	if a.db == nil {
		return nil
	}
	tunnels := map[string]netip.Addr{}
	for _, n := range a.db.Nodes() {
		if ip, err := netip.ParseAddr(n.TunnelIP); err == nil {
			tunnels[n.Hostname] = ip
		}
	}
	var out []pipeline.Peer
	for _, b := range a.db.Bindings() {
		if ip, ok := tunnels[b.Node]; ok && b.Node != a.conf.Hostname && b.Role != configdb.RoleStandby {
			out = append(out, pipeline.Peer{VMI: b.VMI, Node: b.Node, TunnelIP: ip})
		}
	}
	return out
}

// publishBindings makes this node's Binding rows say where its VMIs are bound.
func (a *Agent) publishBindings(ctx context.Context, out *pipeline.Output) {
	if a.db == nil {
		return
	}
	var list []configdb.BindingState
	for _, b := range out.Bindings {
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
		list = append(list, configdb.BindingState{VMI: b.VMI, Node: a.conf.Hostname, Kind: kind, Port: b.Port,
			PhysicalInterface: b.PhysicalInterface, VLAN: int(b.VLAN), Role: role})
	}
	if err := a.db.PublishBindings(ctx, a.conf.Hostname, list); err != nil {
		log.WithError(err).Warn("cannot publish bindings to the config DB; retrying with the next sync")
	}
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
