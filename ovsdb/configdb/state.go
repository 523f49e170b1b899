package configdb

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ovsgw/ovsgw/logging"
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

// StaleAt is when the node turns stale (Stale with after) unless it publishes again.
func (n NodeState) StaleAt(after time.Duration) time.Time {
	return n.Heartbeat.Add(after)
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
	// RoleSince is when the node took the binding's role, in milliseconds since the epoch, as
	// a hybrid logical clock: the node's clock, but never less than one past any RoleSince of
	// the same VMI the node had seen (see NextRoleSince). A node that takes the role after
	// another has, and saw it, is thus always newer, whatever the clocks say; clocks kept in
	// step (NTP) only make the times right to read. 0: a row of an older agent.
	RoleSince int64
}

// NextRoleSince is the RoleSince of a role taken at now by a node that saw the bindings seen
// of the same VMI (other nodes' included): now, or one past the newest of them.
func NextRoleSince(now time.Time, seen ...int64) int64 {
	next := now.UnixMilli()
	for _, s := range seen {
		next = max(next, s+1)
	}
	return next
}

// Keys of NodeState.Status that a gateway of an HA group publishes.
const (
	StatusHAGroup      = "ha-group"      // the group's BPDU VMI
	StatusHARole       = "ha-role"       // RoleActive or RoleStandby
	StatusHASince      = "ha-since"      // RFC 3339 time the role was taken
	StatusHAForwarding = "ha-forwarding" // "true" while the switch forwards to this gateway
	StatusHAReason     = "ha-reason"     // the spanning tree information the role comes from
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
	if errs := checkRow(gatewaydb.NodeTable, "", &row); errs != nil { // every reader would skip it
		return fmt.Errorf("%s: %w", what, errs)
	}
	return c.write(ctx, what, []string{gatewaydb.NodeTable}, func(s *snapshot, p *planner) {
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
// are not touched. It returns once the cache shows the result. It compares
// every row of node: a writer that knows what it published last sends the
// difference with UpdateBindings instead.
func (c *Client) PublishBindings(ctx context.Context, node string, list []BindingState) error {
	what := fmt.Sprintf("publish bindings of node %q", node)
	want, err := bindingRows(what, node, list)
	if err != nil {
		return err
	}
	return c.write(ctx, what, []string{gatewaydb.BindingTable}, func(s *snapshot, p *planner) {
		var have []gatewaydb.Binding
		for _, r := range s.bindings {
			if r.Node == node {
				have = append(have, r)
			}
		}
		syncRows(p, have, slices.Clone(want), func(r *gatewaydb.Binding) string { return r.Vmi })
	})
}

// UpdateBindings changes some of node's Binding rows: each of upsert is
// created, or has the columns that differ updated; the row of each VMI of
// remove is deleted. It reads only those rows (by the schema's node+vmi
// index), so a change costs what it touches however many rows node has. It
// returns once the cache shows the result.
func (c *Client) UpdateBindings(ctx context.Context, node string, upsert []BindingState, remove []string) error {
	what := fmt.Sprintf("update bindings of node %q", node)
	want, err := bindingRows(what, node, upsert)
	if err != nil {
		return err
	}
	for _, vmi := range remove {
		if vmi == "" || slices.ContainsFunc(want, func(r gatewaydb.Binding) bool { return r.Vmi == vmi }) {
			return fmt.Errorf("%s: VMI %q to remove is empty or also updated", what, vmi)
		}
	}
	return c.writePlanned(ctx, what, func(p *planner) {
		s := c.conn()
		if !s.monitored[gatewaydb.BindingTable] {
			p.err = fmt.Errorf("this client does not cache the %s table (ConfigOnly)", gatewaydb.BindingTable)
			return
		}
		rc := s.cache.Table(gatewaydb.BindingTable)
		find := func(vmi string) *gatewaydb.Binding {
			_, m, err := rc.RowByModel(&gatewaydb.Binding{Node: node, Vmi: vmi})
			if err != nil && p.err == nil {
				p.err = err
			}
			if m == nil {
				return nil
			}
			return m.(*gatewaydb.Binding)
		}
		for i := range want {
			w := want[i] // planned anew at each call: keep want as given
			h := find(w.Vmi)
			if h == nil {
				p.add(s.Create(&w))
				continue
			}
			if _, ptrs := differingColumns(h, &w); len(ptrs) > 0 {
				w.UUID = h.UUID
				p.add(s.Where(&w).Update(&w, ptrs...))
			}
		}
		for _, vmi := range remove {
			if h := find(vmi); h != nil {
				p.add(s.Where(h).Delete())
			}
		}
	})
}

// bindingRows checks node's bindings and makes them rows.
func bindingRows(what, node string, list []BindingState) ([]gatewaydb.Binding, error) {
	if node == "" {
		return nil, fmt.Errorf("%s: empty node name", what)
	}
	want := make([]gatewaydb.Binding, 0, len(list))
	seen := map[string]bool{}
	for _, b := range list {
		switch {
		case b.VMI == "" || seen[b.VMI]:
			return nil, fmt.Errorf("%s: VMI %q is empty or listed twice", what, b.VMI)
		case b.Node != "" && b.Node != node:
			return nil, fmt.Errorf("%s: binding of VMI %q names node %q", what, b.VMI, b.Node)
		case b.Kind != BindingLocal && b.Kind != BindingRemote:
			return nil, fmt.Errorf("%s: binding of VMI %q: kind %q, want %s or %s", what, b.VMI, b.Kind, BindingLocal, BindingRemote)
		case b.Role != RoleActive && b.Role != RoleStandby:
			return nil, fmt.Errorf("%s: binding of VMI %q: role %q, want %s or %s", what, b.VMI, b.Role, RoleActive, RoleStandby)
		}
		seen[b.VMI] = true
		row := gatewaydb.Binding{Vmi: b.VMI, Node: node, Kind: b.Kind, Port: b.Port,
			PhysicalInterface: b.PhysicalInterface, VLAN: b.VLAN, Role: b.Role, RoleSince: int(b.RoleSince)}
		if errs := checkRow(gatewaydb.BindingTable, "", &row); errs != nil { // every reader would skip it
			return nil, fmt.Errorf("%s: %w", what, errs)
		}
		want = append(want, row)
	}
	return want, nil
}

// NewestRoleSince is the newest role_since any node published for each of vmis (absent: none),
// from one pass over the Binding rows of the cache, which it does not convert.
func (c *Client) NewestRoleSince(vmis ...string) map[string]int64 {
	s := c.conn()
	if !s.monitored[gatewaydb.BindingTable] {
		return nil
	}
	newest := make(map[string]int64, len(vmis))
	want := make(map[string]bool, len(vmis))
	for _, vmi := range vmis {
		want[vmi] = true
	}
	for _, m := range s.cache.Table(gatewaydb.BindingTable).RowsShallow() {
		if r := m.(*gatewaydb.Binding); want[r.Vmi] {
			newest[r.Vmi] = max(newest[r.Vmi], int64(r.RoleSince))
		}
	}
	return newest
}

// write plans with plan against tables of the cache, sends the operations
// if there are any, and waits until planning against the cache yields none.
func (c *Client) write(ctx context.Context, what string, tables []string, plan func(*snapshot, *planner)) error {
	return c.writePlanned(ctx, what, func(p *planner) {
		s, err := c.snapshot(tables...)
		if err != nil {
			p.err = err
			return
		}
		plan(s, p)
	})
}

// writePlanned sends the operations plan makes, if any, and waits until
// planning again (against the cache) yields none.
func (c *Client) writePlanned(ctx context.Context, what string, plan func(*planner)) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ops := func() (*planner, error) {
		p := &planner{c: c}
		plan(p)
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

// Nodes lists the Node rows of the cache, sorted by hostname. While no
// Node row changed since the last call, it costs a copy of the list.
func (c *Client) Nodes() []NodeState {
	list, err := c.nodeList()
	if err != nil {
		log.WithError(err).Warn("cannot read nodes from cache")
		return nil
	}
	out := slices.Clone(list)
	for i := range out {
		out[i].Status = maps.Clone(out[i].Status)
	}
	return out
}

// nodeList is the kept list of Nodes: shared, read-only.
func (c *Client) nodeList() ([]NodeState, error) {
	return getList(c, &c.views.nodes, gatewaydb.NodeTable, nodeState, func(a, b *NodeState) int {
		return strings.Compare(a.Hostname, b.Hostname)
	})
}

func nodeState(r *gatewaydb.Node) NodeState {
	return NodeState{Hostname: r.Hostname, TunnelIP: r.TunnelIP, GatewayMode: r.GatewayMode,
		InterfacesUsed: r.InterfacesUsed, InterfacesLimit: r.InterfacesLimit,
		Heartbeat: time.UnixMilli(int64(r.Heartbeat)), Status: maps.Clone(r.Status)}
}

// Bindings lists the Binding rows of the cache, sorted by VMI, then node.
// While no Binding row changed since the last call, it costs a copy of the
// list.
func (c *Client) Bindings() []BindingState {
	list, err := c.bindingList()
	if err != nil {
		log.WithError(err).Warn("cannot read bindings from cache")
		return nil
	}
	return slices.Clone(list)
}

// bindingList is the kept list of Bindings: shared, read-only.
func (c *Client) bindingList() ([]BindingState, error) {
	return getList(c, &c.views.bindings, gatewaydb.BindingTable, bindingState, func(a, b *BindingState) int {
		return cmp.Or(strings.Compare(a.VMI, b.VMI), strings.Compare(a.Node, b.Node))
	})
}

func bindingState(r *gatewaydb.Binding) BindingState {
	return BindingState{VMI: r.Vmi, Node: r.Node, Kind: r.Kind, Port: r.Port,
		PhysicalInterface: r.PhysicalInterface, VLAN: r.VLAN, Role: r.Role, RoleSince: int64(r.RoleSince)}
}

// Skipped is what a client leaves out of the state the agents publish (Nodes, Bindings,
// TorStates, TorMACs): the problems of the rows refused by their checks now (see check.go),
// and how many row versions it has refused since it started.
type Skipped struct {
	Rows  RowErrors
	Total uint64
}

// SkippedState brings the lists of the state tables up to date, as Nodes, Bindings, TorStates
// and TorMACs do (it costs nothing while no row changed), and returns what they leave out. A
// ConfigOnly client reads no state: it skips nothing.
func (c *Client) SkippedState() Skipped {
	if !c.monitor {
		return Skipped{}
	}
	// Errors are the lists' own to log; a list that cannot be read keeps what it refused.
	_, _ = c.nodeList()
	_, _ = c.bindingList()
	_, _ = c.torStateList()
	_, _ = c.torMACList()
	var out Skipped
	out.Rows = append(out.Rows, refusedOf(&c.views.nodes)...)
	out.Rows = append(out.Rows, refusedOf(&c.views.bindings)...)
	out.Rows = append(out.Rows, refusedOf(&c.views.torState)...)
	out.Rows = append(out.Rows, refusedOf(&c.views.torMACs)...)
	out.Rows.sort()
	out.Total = c.skippedRows.Load()
	return out
}

func refusedOf[T any](d *derived[tableView[T]]) RowErrors {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.val.refused.errors()
}

// skipped logs and counts the state rows a list has just refused: once per row version, and
// not again while a changed version keeps the same errors (a peer's bad Node row heartbeats
// every 2 s).
func (c *Client) skipped(fresh []*Refusal) {
	for _, x := range fresh {
		c.skippedRows.Add(1)
		log.WithError(x.Errs).WithField(logging.Object, x.Errs.Object()).Warn("skipping a row of the state the agents publish: a value is out of what the schema allows")
	}
}
