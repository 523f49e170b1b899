package control

import (
	"time"

	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/ovsdb/vtep"
)

// Status is what `ovsgw status` shows.
type Status struct {
	Node              string     `json:"node"`
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
	// LastSyncSeconds splits the last sync that changed the bridge into phases: ovsdb, compile,
	// publish, dump, diff, openflow (bundle committed and confirmed), purge.
	LastSyncSeconds map[string]float64 `json:"lastSyncSeconds,omitempty"`
	// ConfigCheckSeconds is what reading, parsing and validating the config in force took.
	ConfigCheckSeconds float64            `json:"configCheckSeconds"`
	LastSyncError      string             `json:"lastSyncError,omitempty"`
	Bindings           []pipeline.Binding `json:"bindings"`
	Drops              *Drops             `json:"drops,omitempty"` // nil while the bridge cannot be read
	HA                 *HAStatus          `json:"ha,omitempty"`
	TorSwitches        []vtep.Status      `json:"torSwitches,omitempty"` // the ToR switches this node manages
	Notices            []string           `json:"notices,omitempty"`
}

// HAStatus is this gateway's place in its HA group, and what the group's gateways published.
type HAStatus struct {
	Group      string      `json:"group"` // the group's BPDU VMI
	Role       string      `json:"role"`  // active or standby
	Since      time.Time   `json:"since"`
	Forwarding bool        `json:"forwarding"` // the switch forwards to this gateway
	Ports      []string    `json:"ports"`
	Gateways   []HAGateway `json:"gateways,omitempty"`
}

// HAGateway is one gateway of the group as the shared database shows it.
type HAGateway struct {
	Node       string    `json:"node"`
	Role       string    `json:"role"`
	Since      time.Time `json:"since"`
	Forwarding bool      `json:"forwarding"`
	Stale      bool      `json:"stale"`
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
	OwnerKind string   `json:"ownerKind"` // vmi, vn, physical-interface, pipeline, or foreign
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
