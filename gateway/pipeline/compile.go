package pipeline

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// Port is an interface observed on the bridge.
type Port struct {
	Name    string
	OFPort  int32  // ≤ 0 while OVS has not assigned one (or the device is missing)
	IfaceID string // external_ids:iface-id, set by whoever plugged a VM
}

// Input is everything the compiler reads.
type Input struct {
	Index       *model.Index
	Host        string // this node; its physical router's objects are programmed here
	GatewayMode bool   // gateway_mode = server: program this node's logical interfaces
	Ports       []Port
	// TunnelPort is the ofport of the bridge's flow-based VXLAN port; ≤ 0: no overlay.
	TunnelPort int32
	// Peers are the VMIs bound on other nodes, with the tunnel IP of their node.
	Peers []Peer
	// Tors are the VXLAN ToR switches (hardware_vtep) whose servers share VNs with this node.
	Tors []Tor
	// Standby names the physical interfaces on which this node is a standby gateway of its HA
	// group: their tenant logical interfaces deliver nothing to or from the switch; only the
	// BPDU network runs there.
	Standby map[string]bool
}

// Tor is a ToR switch that terminates VXLAN itself: its tunnel address, the VNs its ports
// are bound to, the MACs its servers use (as it learned them), and its replication node, which
// exchanges the VNs' broadcast, unknown and multicast traffic with it (a switch floods its own
// BUM traffic only to that node, and takes BUM traffic only from it).
type Tor struct {
	Name          string
	TunnelIP      netip.Addr
	VNIs          []uint32
	MACs          []TorMAC
	Replicator    bool       // this node is the switch's replication node
	ReplicationIP netip.Addr // the replication node's tunnel address
}

// TorMAC is a server MAC a ToR switch learned, in the VN of VNI.
type TorMAC struct {
	VNI uint32
	MAC net.HardwareAddr
}

// Peer is a VMI bound on another node of the overlay (an active binding: standby ones are left
// out). A VMI with peers on several nodes is reached on the one package placement prefers.
type Peer struct {
	VMI      string
	Node     string
	TunnelIP netip.Addr
	// Stale: the node's heartbeat is older than the config DB's StaleAfter.
	Stale bool
	// Since is the binding's role_since (milliseconds since the epoch).
	Since int64
}

// Owner is the object a flow or group serves.
type Owner struct {
	Kind Kind
	Name string
}

func (o Owner) String() string { return o.Kind.String() + " " + o.Name }

// Entry is a desired flow with the object it serves and what it is for.
type Entry struct {
	openflow.Flow
	Owner   Owner
	Purpose Purpose
}

// GroupEntry is a desired group with the object it serves.
type GroupEntry struct {
	openflow.Group
	Owner Owner
}

// Where a VMI is bound on this node.
const (
	BindingRemote = "remote" // a logical interface: physical interface + VLAN
	BindingLocal  = "local"  // an OVS port with its iface-id
	BindingPeer   = "peer"   // on another node, reached through the overlay
)

// Binding says where a VMI of this node is attached, or why it is not.
type Binding struct {
	VMI               string `json:"vmi"`
	VN                string `json:"vn"`
	Kind              string `json:"kind"`
	Port              string `json:"port,omitempty"`
	OFPort            int32  `json:"ofport,omitempty"`
	PhysicalInterface string `json:"physicalInterface,omitempty"`
	LogicalInterface  string `json:"logicalInterface,omitempty"`
	VLAN              uint16 `json:"vlan"`
	Node              string `json:"node,omitempty"` // for a peer binding: the node it is on
	Bound             bool   `json:"bound"`
	Standby           bool   `json:"standby,omitempty"` // on a standby gateway of an HA group
	Reason            string `json:"reason,omitempty"`  // why not bound
}

// Output is the desired state of the bridge.
type Output struct {
	Flows    []Entry
	Groups   []GroupEntry
	Bindings []Binding
	Notices  []string // conditions an operator must know about (gateway mode off, conflicts)
	// Names maps owner kind and id back to names, to annotate flows read from the switch.
	Names map[Kind]map[uint32]string
}

// bound is a VMI attached on this node, with what the flows need of it.
type bound struct {
	vmi    *model.VirtualMachineInterface
	name   string
	id     uint32
	vni    uint32
	mac    net.HardwareAddr // set when its unit is compiled
	ofport uint32
	vlan   uint16 // remote only
	remote bool
	bpdu   bool // the untagged logical interface of an HA group's BPDU network
}

// Compile computes the desired flows and groups from scratch. It never fails: what cannot be
// programmed is reported in Bindings and Notices, and the rest is. It is the full compile an
// Engine's incremental updates must always agree with, and the form the golden tests pin.
func Compile(in Input) *Output { return compileAll(in) }

// sortEntries orders flows by table, priority (highest first) and match text; each match is
// printed once, not at every comparison (at 70K flows that was most of the compile time).
func sortEntries(flows []Entry) []Entry {
	keys := make([]string, len(flows))
	idx := make([]int, len(flows))
	for i, e := range flows {
		keys[i], idx[i] = e.Match.String(), i
	}
	sort.Slice(idx, func(i, j int) bool {
		a, b := flows[idx[i]], flows[idx[j]]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return keys[idx[i]] < keys[idx[j]]
	})
	sorted := make([]Entry, len(idx))
	for i, k := range idx {
		sorted[i] = flows[k]
	}
	return sorted
}

// dedupe keeps one flow per key: two sources can ask for the same flow (an address pair that
// repeats an instance IP); different actions for one key would be a compiler bug, so they are
// reported rather than silently resolved.
func dedupe(flows []Entry) (out []Entry, notices []string) {
	seen := make(map[openflow.Key]int, len(flows))
	out = make([]Entry, 0, len(flows))
	for _, e := range flows {
		k := e.Key()
		if i, dup := seen[k]; dup {
			if !out[i].Equal(e.Flow) {
				notices = append(notices, fmt.Sprintf("internal: conflicting flows for one match, kept %s, dropped %s", out[i].Flow, e.Flow))
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, e)
	}
	return out, notices
}

// compiler emits the flows and groups of one unit from a prepared state.
type compiler struct {
	*state
	out *unit
}

// flow adds a forwarding flow.
func (c *compiler) flow(table uint8, prio uint16, owner Owner, id uint32, m openflow.Match, actions ...openflow.Action) {
	c.add(table, prio, owner, Forward, id, m, actions...)
}

// drop adds a flow that drops, counted under its reason.
func (c *compiler) drop(table uint8, prio uint16, owner Owner, why Purpose, id uint32, m openflow.Match) {
	c.add(table, prio, owner, why, id, m)
}

func (c *compiler) add(table uint8, prio uint16, owner Owner, why Purpose, id uint32, m openflow.Match, actions ...openflow.Action) {
	c.out.flows = append(c.out.flows, Entry{
		Flow:    openflow.Flow{Table: table, Priority: prio, Cookie: Cookie(owner.Kind, why, id), Match: m, Actions: actions},
		Owner:   owner,
		Purpose: why,
	})
}

func (c *compiler) notice(format string, args ...any) {
	c.out.notices = append(c.out.notices, fmt.Sprintf(format, args...))
}

var pipelineOwner = Owner{KindPipeline, "default"}

// pipelineFlows are the flows no object owns: table misses, and what every VN shares.
func (c *compiler) pipelineFlows() {
	c.drop(TableClassify, PrioTableMiss, pipelineOwner, DropUnknownPort, 0, nil)
	for _, next := range [][2]uint8{
		{TablePortSecurity, TableARPResponder}, // frames from no VMI (none yet) are not checked
		{TableARPResponder, TableRouteClassify},
		{TableRouteClassify, TableConntrack},
		{TableConntrack, TableL2Lookup}, // not IP: no connection tracking, no ACLs
		{TableCTState, TablePolicy},
		{TablePolicy, TableEgressACL},
		{TableEgressACL, TableL2Lookup},
		{TableIngressACL, TableCTCommit},
		{TableCTCommit, TableOutput},
	} {
		c.flow(next[0], PrioTableMiss, pipelineOwner, 0, nil, openflow.GotoTable{Table: next[1]})
	}
	if c.in.TunnelPort > 0 {
		c.drop(TableClassify, PrioTunnelMiss, pipelineOwner, DropUnknownVNI, 0,
			openflow.Match{}.WithUint(openflow.FieldInPort, uint64(c.in.TunnelPort)))
	}
	c.conntrackShared()
	c.routingShared()
	c.flow(TableIngressACL, PrioACLEstablished, pipelineOwner, 0,
		openflow.Match{}.WithMasked(RegEstablished, RegEstablished.Uint(1), RegEstablished.Uint(1)),
		openflow.GotoTable{Table: TableCTCommit})
}

// guard drops what no logical interface of a gateway port claims, and the reserved link-local
// multicast (802.1D: never forwarded by a bridge) that no BPDU network carries.
func (c *compiler) guard(p Port) {
	id := nameID(p.Name)
	owner := Owner{KindPhysicalInterface, p.Name}
	port := openflow.Match{}.WithUint(openflow.FieldInPort, uint64(p.OFPort))
	c.drop(TableClassify, PrioGatewayPortMiss, owner, DropUnknownVLAN, id, port)
	c.drop(TableClassify, PrioReservedGuard, owner, DropReserved, id, port.WithMasked(openflow.FieldEthDst, bpduMAC, reservedMask))
}

// vmiFlows are every flow of one VMI: where it is bound here, its port security, address
// answers, security groups and forwarding; or, bound on another node, the way there.
func (c *compiler) vmiFlows(name string) {
	v := c.x.VMIs[name]
	if v == nil {
		return
	}
	if b := c.members[name]; b != nil {
		b.mac, _ = model.ParseMAC(v.MAC) // here, not in prepare: only the units compiled need it
		c.classify(b)
		c.portSecurity(b)
		c.services(b)
		c.arpOwn(b)
		c.securityGroups(b)
		c.forwarding(b)
	}
	vn := c.x.VNs[v.Network]
	if vn == nil {
		return
	}
	p, isPeer := c.peerOf[name]
	switch {
	case c.served[vn.VNI]:
		c.arpReply(v, vn.VNI)
		if isPeer {
			c.peerFlows(v, vn.VNI, p)
		}
	case isPeer: // only routed to: the way to its node, no L2 lookup of its VN
		c.outputToTunnel(Owner{KindVMI, name}, c.ids[name], c.ids[name], vn.VNI, p.TunnelIP, uint32(c.in.TunnelPort))
	}
	if c.reached[vn.VNI] && (c.members[name] != nil || isPeer) {
		c.routes(v, vn.VNI)
	}
}

// classify takes a bound VMI's frames into the pipeline.
func (c *compiler) classify(b *bound) {
	owner := Owner{KindVMI, b.name}
	match := openflow.Match{}.WithUint(openflow.FieldInPort, uint64(b.ofport))
	switch {
	case !b.remote:
		c.flow(TableClassify, PrioLocalPort, owner, b.id, match, c.enter(b)...)
	case b.bpdu:
		// The switch's BPDUs, untagged, into the BPDU network and straight to its flood:
		// they are nobody's traffic, so port security and ACLs do not apply. A copy goes to
		// the agent, which derives the gateway's HA role from them (package rstp).
		c.flow(TableClassify, PrioBPDU, owner, b.id,
			match.WithUint(openflow.FieldVlanVID, 0).With(openflow.FieldEthDst, bpduMAC),
			openflow.Controller{Userdata: []byte{ServiceBPDU}, MeterID: SharedMeterID},
			openflow.SetUint(RegSrcVMI, uint64(b.id)), openflow.SetUint(RegVN, uint64(b.vni)),
			openflow.GotoTable{Table: TableL2Lookup})
	case b.vlan == 0:
		c.flow(TableClassify, PrioGatewayVLAN, owner, b.id, match.WithUint(openflow.FieldVlanVID, 0), // OFPVID_NONE: no tag at all
			c.enter(b)...)
	default:
		c.flow(TableClassify, PrioGatewayVLAN, owner, b.id, match.WithUint(openflow.FieldVlanVID, uint64(b.vlan)|openflow.VlanPresent),
			append([]openflow.Action{openflow.PopVLAN{}}, c.enter(b)...)...)
	}
}

// enter tags a frame with its source VMI and VN and hands it to port security.
func (c *compiler) enter(b *bound) []openflow.Action {
	return []openflow.Action{
		openflow.SetUint(RegSrcVMI, uint64(b.id)),
		openflow.SetUint(RegVN, uint64(b.vni)),
		openflow.GotoTable{Table: TablePortSecurity},
	}
}

// forwarding programs the L2 lookup and output of a bound VMI.
func (c *compiler) forwarding(b *bound) {
	owner := Owner{KindVMI, b.name}
	for _, mac := range vmiMACs(b) {
		c.flow(TableL2Lookup, PrioKnownMAC, owner, b.id,
			openflow.Match{}.WithUint(RegVN, uint64(b.vni)).With(openflow.FieldEthDst, mac),
			openflow.SetUint(RegDstVMI, uint64(b.id)), openflow.GotoTable{Table: TableIngressACL})
	}
	c.drop(TableOutput, PrioHairpin, owner, DropHairpin, b.id,
		openflow.Match{}.WithUint(RegSrcVMI, uint64(b.id)).WithUint(RegDstVMI, uint64(b.id)))
	toVMI := openflow.Match{}.WithUint(RegDstVMI, uint64(b.id))
	var tag []openflow.Action
	if b.remote && b.vlan != 0 {
		tag = []openflow.Action{openflow.PushVLAN{}, openflow.SetVlanVID(b.vlan)}
	}
	// OVS drops an output to the frame's own in_port, but remote instances on other VLANs of
	// the same physical interface must still receive it, and so must a VMI that the ARP
	// responder answers: send it back with IN_PORT.
	c.flow(TableOutput, PrioOutputInPort, owner, b.id,
		toVMI.WithUint(openflow.FieldInPort, uint64(b.ofport)),
		append(append([]openflow.Action{}, tag...), openflow.Output{Port: openflow.PortInPort})...)
	var relay []openflow.Action
	if b.bpdu {
		// What the BPDU network brings to this port from the other gateways' ports, the
		// switch receives here too: a copy goes to the agent (package rstp).
		relay = []openflow.Action{openflow.Controller{Userdata: []byte{ServiceBPDURelay}, MeterID: SharedMeterID}}
	}
	c.flow(TableOutput, PrioOutputDefault, owner, b.id, toVMI,
		append(append(relay, tag...), openflow.Output{Port: b.ofport})...)
}

// vnFlows are a served VN's conntrack zone, its tunnel ingress and its flood groups: a bucket
// per local member, and the buckets that reach other nodes and ToR switches.
func (c *compiler) vnFlows(vn *model.VirtualNetwork) {
	if !c.served[vn.VNI] {
		return
	}
	owner := Owner{KindVN, vn.Name}
	c.conntrack(vn)
	inVN := openflow.Match{}.WithUint(RegVN, uint64(vn.VNI))
	port := c.in.TunnelPort
	if port > 0 {
		c.flow(TableClassify, PrioTunnelVNI, owner, vn.VNI, openflow.Match{}.WithUint(openflow.FieldInPort, uint64(port)).WithUint(openflow.FieldTunID, uint64(vn.VNI)),
			openflow.SetUint(RegVN, uint64(vn.VNI)), openflow.SetUint(RegFromTunnel, 1), openflow.GotoTable{Table: TablePortSecurity})
	}
	var local []openflow.Bucket
	for _, b := range c.byVN[vn.VNI] {
		local = append(local, openflow.Bucket{Actions: []openflow.Action{
			openflow.SetUint(RegDstVMI, uint64(b.id)), openflow.Resubmit{Table: TableIngressACL},
		}})
	}
	var nodes, tors []openflow.Bucket // tors: switches this node replicates for
	for _, ip := range c.floodNodes[vn.VNI] {
		nodes = append(nodes, openflow.Bucket{Actions: toNode(vn.VNI, ip, uint32(port))})
	}
	for _, ip := range c.torIPs[vn.VNI] {
		tors = append(tors, openflow.Bucket{Actions: toNode(vn.VNI, ip, uint32(port))})
	}
	c.group(openflow.Group{ID: FloodGroupID(vn.VNI), Type: openflow.GroupAll, Buckets: concat(local, nodes, tors)}, owner)
	c.flow(TableL2Lookup, PrioFlood, owner, vn.VNI, inVN, openflow.GroupAction{ID: FloodGroupID(vn.VNI)})
	if port <= 0 {
		return
	}
	// From another node: local members, and the switches this node replicates for.
	c.group(openflow.Group{ID: LocalFloodGroupID(vn.VNI), Type: openflow.GroupAll, Buckets: concat(local, backIntoTunnel(tors))}, owner)
	c.flow(TableL2Lookup, PrioFloodLocal, owner, vn.VNI, inVN.WithUint(RegFromTunnel, FromNode), openflow.GroupAction{ID: LocalFloodGroupID(vn.VNI)})
	if c.replicates[vn.VNI] {
		c.group(openflow.Group{ID: TorFloodGroupID(vn.VNI), Type: openflow.GroupAll, Buckets: concat(local, backIntoTunnel(nodes))}, owner)
		c.flow(TableL2Lookup, PrioFloodTor, owner, vn.VNI, inVN.WithUint(RegFromTunnel, FromTor), openflow.GroupAction{ID: TorFloodGroupID(vn.VNI)})
	}
}

func concat(lists ...[]openflow.Bucket) []openflow.Bucket {
	var out []openflow.Bucket
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// group adds a flood group, split into a chain of groups of at most floodGroupChunk buckets
// when it has more: each hands packets on to the next with one extra bucket. Every group is
// marked as ovsgw's (markGroup).
func (c *compiler) group(g openflow.Group, owner Owner) {
	add := func(g openflow.Group) {
		c.out.groups = append(c.out.groups, GroupEntry{Group: markGroup(g), Owner: owner})
	}
	if len(g.Buckets) <= floodGroupChunk {
		add(g)
		return
	}
	rest := g.Buckets
	id := g.ID
	for k := 1; ; k++ {
		if k > maxChainGroups {
			c.notice("%s: more than %d flood members; the rest get no broadcast", owner, floodGroupChunk*maxChainGroups)
			return
		}
		n := min(len(rest), floodGroupChunk-1)
		part := openflow.Group{ID: id, Type: g.Type, Buckets: append([]openflow.Bucket(nil), rest[:n]...)}
		rest = rest[n:]
		if len(rest) == 0 {
			add(part)
			return
		}
		next := chainGroupID(g.ID, k)
		part.Buckets = append(part.Buckets, openflow.Bucket{Actions: []openflow.Action{openflow.GroupAction{ID: next}}})
		add(part)
		id = next
	}
}
