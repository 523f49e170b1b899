package configdb

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// Heartbeats. An agent publishes its Node row every HeartbeatInterval; a
// reader calls a node stale once StaleAfter passed without one.
const (
	// HeartbeatInterval: 2 s, as the issue suggests; it marks a dead node
	// STALE within seconds for one small Raft commit per node every 2 s
	// (100 nodes: 50 one-row commits a second).
	HeartbeatInterval = 2 * time.Second
	// StaleAfter is three missed heartbeats. One or two are missed without
	// the node being gone when the cluster leader fails: writes wait for
	// the election (election timer 1 s, randomised up to 2 s) and the move
	// to the new leader. TestConfigDBRaftCluster measured, on loopback,
	// 1.5-2.4 s after the leader was killed and 4 s after it hung (found by
	// the echo probe), both under 6 s.
	StaleAfter = 3 * HeartbeatInterval
)

// Binding kinds and roles, as the Binding table's enums spell them.
const (
	BindingLocal  = "local"   // a local VM's VMI, bound to the OVS port with its iface-id
	BindingRemote = "remote"  // a remote instance, behind a physical interface and VLAN
	RoleActive    = "active"  // the node forwards for the VMI
	RoleStandby   = "standby" // the node could, but another is active (HA)
)

// NodeState is what one agent publishes about its node.
type NodeState struct {
	Hostname        string
	TunnelIP        string
	GatewayMode     bool
	InterfacesUsed  int
	InterfacesLimit int
	// Heartbeat is when the node last published, by the node's clock
	// (stored as milliseconds since the epoch); PublishNode sets it. Stale
	// compares it with the reader's clock, so nodes must keep time (NTP):
	// skew adds to or takes from the stale time.
	Heartbeat time.Time
	// Status is free-form key/value state for later use, like external_ids.
	Status map[string]string
}

// Stale reports whether the node's last heartbeat is older than after at now.
func (n NodeState) Stale(now time.Time, after time.Duration) bool {
	return now.Sub(n.Heartbeat) > after
}

// BindingState is one VMI bound on one node.
type BindingState struct {
	VMI               string
	Node              string
	Kind              string // BindingLocal or BindingRemote
	Port              string // local: the OVS port
	PhysicalInterface string // remote: the NIC
	VLAN              int    // remote: the logical interface's VLAN (0 = untagged)
	Role              string // RoleActive or RoleStandby
}

// Keys of NodeState.Status that a gateway of an HA group publishes.
const (
	StatusHAGroup      = "ha-group"      // the group's BPDU VMI
	StatusHARole       = "ha-role"       // RoleActive or RoleStandby
	StatusHASince      = "ha-since"      // RFC 3339 time the role was taken
	StatusHAForwarding = "ha-forwarding" // "true" while the switch forwards to this gateway
)

// PublishNode creates or updates the Node row of n.Hostname, with the
// heartbeat set to now. It returns once the cache shows the row.
func (c *Client) PublishNode(ctx context.Context, n NodeState) error {
	if n.Hostname == "" {
		return fmt.Errorf("publish node: empty hostname")
	}
	n.Heartbeat = time.Now()
	row := gatewaydb.Node{Hostname: n.Hostname, TunnelIP: n.TunnelIP, GatewayMode: n.GatewayMode,
		InterfacesUsed: n.InterfacesUsed, InterfacesLimit: n.InterfacesLimit,
		Heartbeat: int(n.Heartbeat.UnixMilli()), Status: n.Status}
	what := fmt.Sprintf("publish node %q", n.Hostname)
	return c.write(ctx, what, func(s *snapshot, p *planner) {
		var have []gatewaydb.Node
		for _, r := range s.nodes {
			if r.Hostname == n.Hostname {
				have = append(have, r)
			}
		}
		syncRows(p, have, []gatewaydb.Node{row}, func(r *gatewaydb.Node) string { return r.Hostname })
	})
}

// PublishBindings makes node's Binding rows equal list (each entry's Node
// is set to node), writing only the rows that differ; other nodes' rows
// are not touched. It returns once the cache shows the result.
func (c *Client) PublishBindings(ctx context.Context, node string, list []BindingState) error {
	what := fmt.Sprintf("publish bindings of node %q", node)
	if node == "" {
		return fmt.Errorf("%s: empty node name", what)
	}
	want := make([]gatewaydb.Binding, 0, len(list))
	seen := map[string]bool{}
	for _, b := range list {
		switch {
		case b.VMI == "" || seen[b.VMI]:
			return fmt.Errorf("%s: VMI %q is empty or listed twice", what, b.VMI)
		case b.Node != "" && b.Node != node:
			return fmt.Errorf("%s: binding of VMI %q names node %q", what, b.VMI, b.Node)
		case b.Kind != BindingLocal && b.Kind != BindingRemote:
			return fmt.Errorf("%s: binding of VMI %q: kind %q, want %s or %s", what, b.VMI, b.Kind, BindingLocal, BindingRemote)
		case b.Role != RoleActive && b.Role != RoleStandby:
			return fmt.Errorf("%s: binding of VMI %q: role %q, want %s or %s", what, b.VMI, b.Role, RoleActive, RoleStandby)
		}
		seen[b.VMI] = true
		want = append(want, gatewaydb.Binding{Vmi: b.VMI, Node: node, Kind: b.Kind, Port: b.Port,
			PhysicalInterface: b.PhysicalInterface, VLAN: b.VLAN, Role: b.Role})
	}
	return c.write(ctx, what, func(s *snapshot, p *planner) {
		var have []gatewaydb.Binding
		for _, r := range s.bindings {
			if r.Node == node {
				have = append(have, r)
			}
		}
		syncRows(p, have, slices.Clone(want), func(r *gatewaydb.Binding) string { return r.Vmi })
	})
}

// write plans with plan against the cache, sends the operations if there
// are any, and waits until planning against the cache yields none.
func (c *Client) write(ctx context.Context, what string, plan func(*snapshot, *planner)) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ops := func() (*planner, error) {
		s, err := c.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		p := &planner{c: c}
		plan(s, p)
		return p, p.err
	}
	p, err := ops()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(p.ops) == 0 {
		return nil
	}
	if err := c.transact(ctx, what, p.ops); err != nil {
		return err
	}
	return clientkit.WaitCache(ctx, cacheSyncTimeout, what, c.sig.Updated, func() (bool, error) {
		p, err := ops()
		return err == nil && len(p.ops) == 0, err
	})
}

// Nodes lists the Node rows of the cache, sorted by hostname.
func (c *Client) Nodes() []NodeState {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		log.WithError(err).Warn("cannot read nodes from cache")
		return nil
	}
	return s.nodeStates()
}

func (s *snapshot) nodeStates() []NodeState {
	out := make([]NodeState, 0, len(s.nodes))
	for _, r := range s.nodes {
		out = append(out, NodeState{Hostname: r.Hostname, TunnelIP: r.TunnelIP, GatewayMode: r.GatewayMode,
			InterfacesUsed: r.InterfacesUsed, InterfacesLimit: r.InterfacesLimit,
			Heartbeat: time.UnixMilli(int64(r.Heartbeat)), Status: maps.Clone(r.Status)})
	}
	slices.SortFunc(out, func(a, b NodeState) int { return strings.Compare(a.Hostname, b.Hostname) })
	return out
}

// Bindings lists the Binding rows of the cache, sorted by VMI, then node.
func (c *Client) Bindings() []BindingState {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		log.WithError(err).Warn("cannot read bindings from cache")
		return nil
	}
	return s.bindingStates()
}

func (s *snapshot) bindingStates() []BindingState {
	out := make([]BindingState, 0, len(s.bindings))
	for _, r := range s.bindings {
		out = append(out, BindingState{VMI: r.Vmi, Node: r.Node, Kind: r.Kind, Port: r.Port,
			PhysicalInterface: r.PhysicalInterface, VLAN: r.VLAN, Role: r.Role})
	}
	slices.SortFunc(out, func(a, b BindingState) int {
		return cmp.Or(strings.Compare(a.VMI, b.VMI), strings.Compare(a.Node, b.Node))
	})
	return out
}
