package control

import (
	"time"

	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
)

// Status is what `ovsgw status` shows.
type Status struct {
	Node string `json:"node"`
	// Waiting says what the agent waits for before it can serve (the config DB), and why.
	Waiting           string     `json:"waiting,omitempty"`
	GatewayMode       bool       `json:"gatewayMode"`
	GatewayModeReason string     `json:"gatewayModeReason,omitempty"`
	Bridge            string     `json:"bridge"`
	InterfacesUsed    int        `json:"interfacesUsed"`
	InterfacesLimit   int        `json:"interfacesLimit"`
	ConfigFile        string     `json:"configFile"`
	ConfigLoadedAt    time.Time  `json:"configLoadedAt"`
	ConfigGeneration  int        `json:"configGeneration"` // counts configs put in force
	SyncedGeneration  int        `json:"syncedGeneration"` // the generation the bridge holds
	LastConfigError   string     `json:"lastConfigError,omitempty"`
	LastConfigErrorAt *time.Time `json:"lastConfigErrorAt,omitempty"`
	OVSDBConnected    bool       `json:"ovsdbConnected"`
	OpenFlowConnected bool       `json:"openflowConnected"`
	Flows             int        `json:"flows"`
	Groups            int        `json:"groups"`
	LastSync          *time.Time `json:"lastSync,omitempty"`
	LastSyncChanges   int        `json:"lastSyncChanges"`
	// LastChange is when the last sync that sent the bridge anything had its flows confirmed
	// (before it published bindings),
	// with the config generation it brought the bridge to and the flow and group mods it sent;
	// later syncs that found nothing to do leave it alone.
	LastChange           *time.Time `json:"lastChange,omitempty"`
	LastChangeGeneration int        `json:"lastChangeGeneration,omitempty"`
	LastChangeMods       int        `json:"lastChangeMods,omitempty"`
	// LastSyncSeconds splits the last sync that changed the bridge into phases: ovsdb, compile,
	// publish, dump, diff, openflow (bundle committed and confirmed), purge.
	LastSyncSeconds map[string]float64 `json:"lastSyncSeconds,omitempty"`
	// ConfigCheckSeconds is what reading, parsing and validating the config in force took.
	ConfigCheckSeconds float64 `json:"configCheckSeconds"`
	LastSyncError      string  `json:"lastSyncError,omitempty"`
	// SyncFailures counts failed syncs since the last one that succeeded; the next attempt
	// waits longer after each (exponential backoff with jitter, capped).
	SyncFailures  int                `json:"syncFailures,omitempty"`
	Bindings      []pipeline.Binding `json:"bindings"`        // empty when asked without them
	BindingsBound int                `json:"bindingsBound"`   // how many VMIs are bound on this node
	BindingsTotal int                `json:"bindingsTotal"`   // and how many it knows of
	Drops         *Drops             `json:"drops,omitempty"` // nil while the bridge cannot be read
	HA            *HAStatus          `json:"ha,omitempty"`
	TorSwitches   []vtep.Status      `json:"torSwitches,omitempty"` // the ToR switches this node manages
	TorLeases     []TorLease         `json:"torLeases,omitempty"`   // who manages each switch of the config
	Notices       []string           `json:"notices,omitempty"`
	// PurgeFailures counts failed purges of ovs-vswitchd's datapath flow cache (asked for after
	// flow changes past conntrack) since the last one that succeeded; each failure fails its
	// sync, so the purge is retried with the sync backoff.
	PurgeFailures int `json:"purgeFailures,omitempty"`
	// SkippedStateRows are the rows of the state the agents publish in the config DB (nodes,
	// bindings, ToR states and MACs) that this agent skips now, each with why (a value out of
	// what the schema allows); SkippedStateRowsTotal counts the row versions it skipped since
	// it started.
	SkippedStateRows      []string        `json:"skippedStateRows,omitempty"`
	SkippedStateRowsTotal uint64          `json:"skippedStateRowsTotal,omitempty"`
	Services              *ServicesStatus `json:"services,omitempty"` // with counters only
	// Networks are the VNs this node serves, each with its logical router (and the router's
	// other VNs) and its subnets' gateway addresses.
	Networks []pipeline.Network `json:"networks,omitempty"`
}

// ServicesStatus counts the node's DHCPv4 and neighbour discovery answers and what the
// packet-in rate limits dropped.
type ServicesStatus struct {
	// Outcomes counts the packet-ins answered, by netsvc outcome: offered, acked, naked,
	// informed, released, declined, router-advertised, neighbor-advertised, ignored.
	Outcomes   map[string]uint64 `json:"outcomes"`
	SendErrors uint64            `json:"sendErrors,omitempty"` // replies the switch refused
	// PacketIns the agent received, and those dropped because its queue was full.
	PacketIns        uint64 `json:"packetIns"`
	PacketInsDropped uint64 `json:"packetInsDropped"`
	// Meters is how many VMI meters the switch has; VMIMeterDrops what they dropped together,
	// FloodingVMIs how many dropped anything; SharedMeterDrops what the shared meter dropped.
	Meters           int    `json:"meters"`
	VMIMeterDrops    uint64 `json:"vmiMeterDrops"`
	FloodingVMIs     int    `json:"floodingVMIs"`
	SharedMeterDrops uint64 `json:"sharedMeterDrops"`
}

// TorLease is who manages one ToR switch of the config: the holder of its lease in the config DB.
type TorLease struct {
	Switch   string   `json:"switch"`
	Managers []string `json:"managers"` // the nodes that may manage it, most preferred first
	Holder   string   `json:"holder"`   // "" while nobody holds it
	Epoch    int      `json:"epoch"`
	// Expires is when the holder's lease runs out unless renewed, by the holder's clock.
	Expires *time.Time `json:"expires,omitempty"`
	// WriteUntil, on the holder, is when this node stops writing to the switch unless it renews
	// (its fence, by its own clock).
	WriteUntil *time.Time `json:"writeUntil,omitempty"`
}

// HAStatus is this gateway's place in its HA group, and what the group's gateways published.
type HAStatus struct {
	Group      string      `json:"group"` // the group's BPDU VMI
	Role       string      `json:"role"`  // active or standby
	Since      time.Time   `json:"since"`
	Forwarding bool        `json:"forwarding"` // the switch forwards to this gateway
	Ports      []string    `json:"ports"`
	Reason     string      `json:"reason"` // the switch's spanning tree information the role comes from
	Gateways   []HAGateway `json:"gateways,omitempty"`
}

// HAGateway is one gateway of the group as the shared database shows it.
type HAGateway struct {
	Node       string    `json:"node"`
	Role       string    `json:"role"`
	Since      time.Time `json:"since"`
	Forwarding bool      `json:"forwarding"`
	Stale      bool      `json:"stale"`
	Reason     string    `json:"reason,omitempty"`
}

// Drops counts dropped packets by reason and by VMI, from the drop flows' counters.
type Drops struct {
	ByReason map[string]uint64            `json:"byReason"`
	ByVMI    map[string]map[string]uint64 `json:"byVMI,omitempty"` // VMI → reason → packets
}

// Flow is one installed flow with the table and object it serves.
type Flow struct {
	Table     uint8    `json:"table"`
	TableName string   `json:"tableName"`
	Priority  uint16   `json:"priority"`
	Cookie    string   `json:"cookie"`
	Match     string   `json:"match"`
	Actions   string   `json:"actions"`
	Packets   uint64   `json:"packets"`
	Bytes     uint64   `json:"bytes"`
	Duration  float64  `json:"durationSeconds"`
	OwnerKind string   `json:"ownerKind"` // vmi, vn, logical-router, physical-interface, pipeline, ..., or foreign
	OwnerName string   `json:"ownerName,omitempty"`
	Drop      string   `json:"drop,omitempty"`    // the reason, for a flow that drops
	VMIs      []string `json:"vmis,omitempty"`    // VMIs it serves (owner, or matched by register)
	Network   string   `json:"network,omitempty"` // VN of the owning VMI or VN
	Text      string   `json:"text"`              // canonical ovs-ofctl form
}

// Group is one installed group with the object it serves.
type Group struct {
	ID        uint32 `json:"id"`
	OwnerKind string `json:"ownerKind"`
	OwnerName string `json:"ownerName,omitempty"`
	Text      string `json:"text"`
}

// Flows is the answer to a flows request.
type Flows struct {
	Bridge string  `json:"bridge"`
	Flows  []Flow  `json:"flows"`
	Groups []Group `json:"groups"`
}

// FlowFilter selects flows; empty fields select everything.
type FlowFilter struct {
	VMI   string
	VN    string
	Table string // name or number
}
