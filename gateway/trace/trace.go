package trace

import (
	"context"
	"fmt"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
)

// Snapshot is what the agent knows that a trace needs, taken at one moment.
type Snapshot struct {
	Node     string // this node's name
	Bridge   string
	Index    *model.Index       // the config in force
	Bindings []pipeline.Binding // where each VMI is bound, as of the last sync
	Names    map[pipeline.Kind]map[uint32]string
	Nodes    map[string]string // tunnel IP → the other node's name
}

// Tracer runs ofproto/trace of flow on bridge in ovs-vswitchd and returns its text.
type Tracer func(ctx context.Context, bridge, flow string) (string, error)

// Result is a trace, explained.
type Result struct {
	Node    string  `json:"node"`
	Bridge  string  `json:"bridge"`
	Packet  Packet  `json:"packet"`
	Steps   []Step  `json:"steps"`
	Verdict Verdict `json:"verdict"`
	// Resumed says, per conntrack recirculation, how the trace went on: as a new connection
	// (ofproto/trace's default).
	Resumed []string `json:"resumed,omitempty"`
	// DatapathActions are ovs-vswitchd's datapath actions, per pass.
	DatapathActions []string `json:"datapathActions"`
	// OfprotoTrace is ovs-vswitchd's own output, whole.
	OfprotoTrace string `json:"ofprotoTrace"`
}

// Step is one flow table lookup, annotated.
type Step struct {
	Pass      int      `json:"pass"`  // 0: as sent; n: after the n-th conntrack recirculation
	Depth     int      `json:"depth"` // nesting: inside a group bucket or a resubmit
	Bridge    string   `json:"bridge"`
	Table     uint8    `json:"table"`
	TableName string   `json:"tableName,omitempty"`
	Priority  int      `json:"priority"`
	Cookie    string   `json:"cookie,omitempty"`
	Match     string   `json:"match,omitempty"`
	NoMatch   string   `json:"noMatch,omitempty"` // no flow matched: ofproto/trace's words
	Actions   []string `json:"actions,omitempty"`
	OwnerKind string   `json:"ownerKind,omitempty"` // vmi, vn, ..., foreign; empty on another bridge
	OwnerName string   `json:"ownerName,omitempty"`
	Drop      string   `json:"drop,omitempty"` // the flow's drop reason
	Why       string   `json:"why,omitempty"`  // what the flow stands for: a policy rule, a VMI's groups
}

// Verdict is where the packet ends: delivered (to one destination, or several when flooded),
// or dropped.
type Verdict struct {
	Delivered []Delivery `json:"delivered,omitempty"`
	Dropped   *Drop      `json:"dropped,omitempty"`
	Text      string     `json:"text"`
}

// Delivery is one copy of the packet leaving the bridge.
type Delivery struct {
	VMI      string `json:"vmi,omitempty"`
	Via      string `json:"via"` // port, vlan (a remote instance's physical interface), or tunnel
	Port     string `json:"port,omitempty"`
	VLAN     int    `json:"vlan,omitempty"`
	TunnelIP string `json:"tunnelIP,omitempty"`
	VNI      uint32 `json:"vni,omitempty"`
	Node     string `json:"node,omitempty"`      // the node at the tunnel's end
	Tor      string `json:"torSwitch,omitempty"` // the ToR switch at the tunnel's end
	Text     string `json:"text"`
}

// Drop is the step that dropped the packet.
type Drop struct {
	Reason    string `json:"reason"` // a drop reason of ovsgw's flows, or no-match, foreign-flow, no-output
	Table     uint8  `json:"table"`
	TableName string `json:"tableName,omitempty"`
	OwnerKind string `json:"ownerKind,omitempty"`
	OwnerName string `json:"ownerName,omitempty"`
	// Policy and Rule name the network policy rule that denied it (Rule counts from 0).
	Policy string `json:"policy,omitempty"`
	Rule   *int   `json:"rule,omitempty"`
	// SecurityGroups are the groups of the VMI none of whose rules allowed it, in Direction.
	SecurityGroups []string `json:"securityGroups,omitempty"`
	Direction      string   `json:"direction,omitempty"` // ingress or egress
	Text           string   `json:"text"`
}

// Run traces the packet of a request through the bridge and explains it.
func Run(ctx context.Context, r Request, s *Snapshot, trace Tracer) (*Result, error) {
	p, err := buildPacket(r, s)
	if err != nil {
		return nil, err
	}
	text, err := trace(ctx, s.Bridge, p.Flow)
	if err != nil {
		return nil, fmt.Errorf("ofproto/trace %s %s: %w", s.Bridge, p.Flow, err)
	}
	return explain(text, p, s), nil
}
