package agent

import (
	"context"
	"errors"

	"github.com/ovsgw/ovsgw/gateway/trace"
	"github.com/ovsgw/ovsgw/ovsdb/unixctl"
)

// Trace implements control.Backend: the packet a VMI would send, traced through the bridge by
// ovs-vswitchd and explained with what the agent knows (package trace).
func (a *Agent) Trace(ctx context.Context, r trace.Request) (*trace.Result, error) {
	a.mu.Lock()
	idx, view, db := a.idx, a.view, a.db
	a.mu.Unlock()
	if idx == nil || view == nil {
		return nil, errors.New("the agent has not programmed the bridge yet: nothing to trace")
	}
	sock, err := a.vswitchdCtl()
	if err != nil {
		return nil, err
	}
	s := &trace.Snapshot{Node: a.conf.Hostname, Bridge: a.conf.Bridge, Index: idx, Bindings: view.bindings,
		Names: view.names, Nodes: map[string]string{}}
	if db != nil {
		for _, n := range db.Nodes() {
			if n.Hostname != a.conf.Hostname && n.TunnelIP != "" {
				s.Nodes[n.TunnelIP] = n.Hostname
			}
		}
	}
	return trace.Run(ctx, r, s, func(ctx context.Context, bridge, flow string) (string, error) {
		return unixctl.Call(ctx, sock, "ofproto/trace", bridge, flow)
	})
}

// vswitchdCtl is ovs-vswitchd's control socket: [OVS] vswitchd_ctl, or the one its pid file in
// the run directory names.
func (a *Agent) vswitchdCtl() (string, error) {
	if a.conf.VswitchdCtl != "" {
		return a.conf.VswitchdCtl, nil
	}
	if a.conf.RunDir == "" {
		return "", errors.New("ovs-vswitchd's control socket is unknown (OVSDB is not a unix socket): set [OVS] vswitchd_ctl")
	}
	return unixctl.VswitchdSocket(a.conf.RunDir)
}
