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

// Peer is a VMI bound on another node of the overlay.
type Peer struct {
	VMI      string
	Node     string
	TunnelIP netip.Addr
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
	mac    net.HardwareAddr
	ofport uint32
	vlan   uint16 // remote only
	remote bool
}

// Compile computes the desired flows and groups. It never fails: what cannot be programmed is
// reported in Bindings and Notices, and the rest is.
func Compile(in Input) *Output {
	x := in.Index
	c := &compiler{in: in, out: &Output{Names: map[Kind]map[uint32]string{
		KindPipeline: {0: "default"}, KindVN: {}, KindVMI: {}, KindPhysicalInterface: {},
		KindSecurityGroup: {}, KindNetworkPolicy: {}, KindNode: {}, KindTor: {},
	}}}
	names := make([]string, 0, len(x.VMIs))
	for n := range x.VMIs {
		names = append(names, n)
	}
	sort.Strings(names)
	c.ids = assignIDs(names)
	for n, id := range c.ids {
		c.out.Names[KindVMI][id] = n
	}
	for _, vn := range x.Config.VirtualNetworks {
		c.out.Names[KindVN][vn.VNI] = vn.Name
	}
	for _, g := range x.Config.SecurityGroups {
		c.out.Names[KindSecurityGroup][nameID(g.Name)] = g.Name
	}
	for _, p := range x.Config.NetworkPolicies {
		c.out.Names[KindNetworkPolicy][nameID(p.Name)] = p.Name
	}

	c.tableMisses()
	var members []bound
	members = append(members, c.remote()...)
	members = append(members, c.local(names)...)
	sort.Slice(members, func(i, j int) bool { return members[i].name < members[j].name })
	c.setServed(members)
	c.portSecurity(members)
	c.arpResponder(members)
	c.conntrack(members)
	c.policies(members)
	c.securityGroups(members)
	c.forwarding(members, c.overlay(members))

	c.dedupe()
	c.sortFlows()
	sort.Slice(c.out.Groups, func(i, j int) bool { return c.out.Groups[i].ID < c.out.Groups[j].ID })
	sort.Slice(c.out.Bindings, func(i, j int) bool { return c.out.Bindings[i].VMI < c.out.Bindings[j].VMI })
	return c.out
}

// sortFlows orders the flows by table, priority (highest first) and match text; each match is
// printed once, not at every comparison (at 70K flows that was most of the compile time).
func (c *compiler) sortFlows() {
	keys := make([]string, len(c.out.Flows))
	idx := make([]int, len(c.out.Flows))
	for i, e := range c.out.Flows {
		keys[i], idx[i] = e.Match.String(), i
	}
	sort.Slice(idx, func(i, j int) bool {
		a, b := c.out.Flows[idx[i]], c.out.Flows[idx[j]]
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
		sorted[i] = c.out.Flows[k]
	}
	c.out.Flows = sorted
}

// dedupe keeps one flow per key: two sources can ask for the same flow (an address pair that
// repeats an instance IP); different actions for one key would be a compiler bug, so they are
// reported rather than silently resolved.
func (c *compiler) dedupe() {
	seen := make(map[openflow.Key]int, len(c.out.Flows))
	out := c.out.Flows[:0]
	for _, e := range c.out.Flows {
		k := e.Key()
		if i, dup := seen[k]; dup {
			if !out[i].Equal(e.Flow) {
				c.out.Notices = append(c.out.Notices, fmt.Sprintf("internal: conflicting flows for one match, kept %s, dropped %s", out[i].Flow, e.Flow))
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, e)
	}
	c.out.Flows = out
}

type compiler struct {
	in         Input
	out        *Output
	ids        map[string]uint32
	groupCache map[string][]netip.Prefix // security group + family → member addresses
	served     map[uint32]bool           // VNIs this node serves (setServed)
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
	c.out.Flows = append(c.out.Flows, Entry{
		Flow:    openflow.Flow{Table: table, Priority: prio, Cookie: Cookie(owner.Kind, why, id), Match: m, Actions: actions},
		Owner:   owner,
		Purpose: why,
	})
}

var pipelineOwner = Owner{KindPipeline, "default"}

// tableMisses sends what no flow of a table claims on to the next stage, or drops it.
func (c *compiler) tableMisses() {
	c.drop(TableClassify, PrioTableMiss, pipelineOwner, DropUnknownPort, 0, nil)
	for _, next := range [][2]uint8{
		{TablePortSecurity, TableARPResponder}, // frames from no VMI (none yet) are not checked
		{TableARPResponder, TableConntrack},
		{TableConntrack, TableL2Lookup}, // not IP: no connection tracking, no ACLs
		{TableCTState, TablePolicy},
		{TablePolicy, TableEgressACL},
		{TableEgressACL, TableL2Lookup},
		{TableIngressACL, TableCTCommit},
		{TableCTCommit, TableOutput},
	} {
		c.flow(next[0], PrioTableMiss, pipelineOwner, 0, nil, openflow.GotoTable{Table: next[1]})
	}
}

func (c *compiler) portsByName() map[string]Port {
	m := make(map[string]Port, len(c.in.Ports))
	for _, p := range c.in.Ports {
		m[p.Name] = p
	}
	return m
}

// remote binds this node's logical interfaces and guards its gateway ports.
func (c *compiler) remote() []bound {
	x := c.in.Index
	lis := x.NodeLIs(c.in.Host)
	if !c.in.GatewayMode {
		if len(lis) > 0 {
			c.out.Notices = append(c.out.Notices, fmt.Sprintf(
				"gateway mode is off (gateway_mode = server is not set in [DEFAULT] of the agent config): the %d logical interfaces of physical router %q are ignored; set it and restart the agent to serve them",
				len(lis), c.in.Host))
		}
		for _, li := range lis {
			vmi := x.VMIs[li.VMI]
			c.out.Bindings = append(c.out.Bindings, Binding{VMI: vmi.Name, VN: vmi.Network, Kind: BindingRemote,
				PhysicalInterface: li.PhysicalInterface, LogicalInterface: li.Name, VLAN: li.VLANID(),
				Reason: "gateway mode is off on this node"})
		}
		return nil
	}
	ports := c.portsByName()
	guarded := map[string]bool{}
	var out []bound
	for _, li := range lis {
		vmi := x.VMIs[li.VMI]
		b := Binding{VMI: vmi.Name, VN: vmi.Network, Kind: BindingRemote, Port: li.PhysicalInterface,
			PhysicalInterface: li.PhysicalInterface, LogicalInterface: li.Name, VLAN: li.VLANID()}
		p, ok := ports[li.PhysicalInterface]
		if !ok || p.OFPort <= 0 {
			b.Reason = fmt.Sprintf("physical interface %s has no OpenFlow port yet (is the NIC present on this node?)", li.PhysicalInterface)
			c.out.Bindings = append(c.out.Bindings, b)
			continue
		}
		b.OFPort = p.OFPort
		bpdu := li.VLANID() == 0 && x.BPDUVMI(vmi.Name)
		if c.in.Standby[p.Name] && !bpdu {
			b.Standby, b.Reason = true, "standby gateway of its HA group: the switches' spanning tree chose another"
			c.out.Bindings = append(c.out.Bindings, b)
			c.guard(p, guarded)
			continue
		}
		b.Bound = true
		c.out.Bindings = append(c.out.Bindings, b)
		c.guard(p, guarded)
		m, _ := model.ParseMAC(vmi.MAC)
		bd := bound{vmi: vmi, name: vmi.Name, id: c.ids[vmi.Name], vni: x.VNs[vmi.Network].VNI, mac: m,
			ofport: uint32(p.OFPort), vlan: li.VLANID(), remote: true}
		match := openflow.Match{}.WithUint(openflow.FieldInPort, uint64(bd.ofport))
		if bpdu {
			// The switch's BPDUs, untagged, into the BPDU network and straight to its flood:
			// they are nobody's traffic, so port security and ACLs do not apply.
			c.flow(TableClassify, PrioBPDU, Owner{KindVMI, bd.name}, bd.id,
				match.WithUint(openflow.FieldVlanVID, 0).With(openflow.FieldEthDst, bpduMAC),
				openflow.SetUint(RegSrcVMI, uint64(bd.id)), openflow.SetUint(RegVN, uint64(bd.vni)),
				openflow.GotoTable{Table: TableL2Lookup})
			out = append(out, bd)
			continue
		}
		var actions []openflow.Action
		if bd.vlan == 0 {
			match = match.WithUint(openflow.FieldVlanVID, 0) // OFPVID_NONE: no tag at all
		} else {
			match = match.WithUint(openflow.FieldVlanVID, uint64(bd.vlan)|openflow.VlanPresent)
			actions = append(actions, openflow.PopVLAN{})
		}
		actions = append(actions, c.enter(bd)...)
		c.flow(TableClassify, PrioGatewayVLAN, Owner{KindVMI, bd.name}, bd.id, match, actions...)
		out = append(out, bd)
	}
	return out
}

// guard drops, once per gateway port, what no logical interface claims, and the reserved
// link-local multicast (802.1D: never forwarded by a bridge) that no BPDU network carries.
func (c *compiler) guard(p Port, done map[string]bool) {
	if done[p.Name] {
		return
	}
	done[p.Name] = true
	id := nameID(p.Name)
	c.out.Names[KindPhysicalInterface][id] = p.Name
	owner := Owner{KindPhysicalInterface, p.Name}
	port := openflow.Match{}.WithUint(openflow.FieldInPort, uint64(p.OFPort))
	c.drop(TableClassify, PrioGatewayPortMiss, owner, DropUnknownVLAN, id, port)
	c.drop(TableClassify, PrioReservedGuard, owner, DropReserved, id, port.WithMasked(openflow.FieldEthDst, bpduMAC, reservedMask))
}

// local binds VMIs that no logical interface links to, to the port whose iface-id names them.
func (c *compiler) local(names []string) []bound {
	x := c.in.Index
	byIfaceID := map[string][]Port{}
	for _, p := range c.in.Ports {
		if p.IfaceID != "" {
			byIfaceID[p.IfaceID] = append(byIfaceID[p.IfaceID], p)
		}
	}
	var out []bound
	for _, name := range names {
		vmi := x.VMIs[name]
		ports := byIfaceID[name]
		if x.IsRemote(name) {
			if len(ports) > 0 {
				c.out.Notices = append(c.out.Notices, fmt.Sprintf(
					"port %s claims iface-id %q, but that VMI is a remote instance (a logical interface links to it): port ignored", ports[0].Name, name))
			}
			continue
		}
		if len(ports) == 0 {
			continue // not on this node (yet)
		}
		sort.Slice(ports, func(i, j int) bool { return ports[i].Name < ports[j].Name })
		p := ports[0]
		if len(ports) > 1 {
			c.out.Notices = append(c.out.Notices, fmt.Sprintf(
				"%d ports claim iface-id %q; bound to %s, the first by name", len(ports), name, p.Name))
		}
		b := Binding{VMI: name, VN: vmi.Network, Kind: BindingLocal, Port: p.Name, OFPort: p.OFPort}
		if p.OFPort <= 0 {
			b.Reason = fmt.Sprintf("port %s has no OpenFlow port number yet", p.Name)
			c.out.Bindings = append(c.out.Bindings, b)
			continue
		}
		b.Bound = true
		c.out.Bindings = append(c.out.Bindings, b)
		m, _ := model.ParseMAC(vmi.MAC)
		bd := bound{vmi: vmi, name: name, id: c.ids[name], vni: x.VNs[vmi.Network].VNI, mac: m, ofport: uint32(p.OFPort)}
		c.flow(TableClassify, PrioLocalPort, Owner{KindVMI, name}, bd.id,
			openflow.Match{}.WithUint(openflow.FieldInPort, uint64(bd.ofport)), c.enter(bd)...)
		out = append(out, bd)
	}
	return out
}

// enter tags a frame with its source VMI and VN and hands it to port security.
func (c *compiler) enter(b bound) []openflow.Action {
	return []openflow.Action{
		openflow.SetUint(RegSrcVMI, uint64(b.id)),
		openflow.SetUint(RegVN, uint64(b.vni)),
		openflow.GotoTable{Table: TablePortSecurity},
	}
}

// forwarding programs L2 lookup, output and the flood groups for the bound VMIs; remote holds
// the buckets that reach other nodes and ToR switches.
func (c *compiler) forwarding(members []bound, remote replication) {
	byVN := map[uint32][]bound{}
	for _, b := range members {
		byVN[b.vni] = append(byVN[b.vni], b)
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
		c.flow(TableOutput, PrioOutputDefault, owner, b.id, toVMI,
			append(append([]openflow.Action{}, tag...), openflow.Output{Port: b.ofport})...)
	}
	for _, vn := range c.servedVNs(members) {
		local := openflow.Group{ID: LocalFloodGroupID(vn.VNI), Type: openflow.GroupAll}
		for _, b := range byVN[vn.VNI] {
			local.Buckets = append(local.Buckets, openflow.Bucket{Actions: []openflow.Action{
				openflow.SetUint(RegDstVMI, uint64(b.id)), openflow.Resubmit{Table: TableIngressACL},
			}})
		}
		nodes, tors := remote.nodes[vn.VNI], remote.tors[vn.VNI] // tors: switches this node replicates for
		full := openflow.Group{ID: FloodGroupID(vn.VNI), Type: openflow.GroupAll,
			Buckets: concat(local.Buckets, nodes, tors)}
		owner := Owner{KindVN, vn.Name}
		c.group(full, owner)
		inVN := openflow.Match{}.WithUint(RegVN, uint64(vn.VNI))
		c.flow(TableL2Lookup, PrioFlood, owner, vn.VNI, inVN, openflow.GroupAction{ID: full.ID})
		if c.in.TunnelPort <= 0 {
			continue
		}
		// From another node: local members, and the switches this node replicates for.
		fromNode := openflow.Group{ID: LocalFloodGroupID(vn.VNI), Type: openflow.GroupAll, Buckets: concat(local.Buckets, backIntoTunnel(tors))}
		c.group(fromNode, owner)
		c.flow(TableL2Lookup, PrioFloodLocal, owner, vn.VNI, inVN.WithUint(RegFromTunnel, FromNode), openflow.GroupAction{ID: fromNode.ID})
		if remote.replicates[vn.VNI] {
			rep := openflow.Group{ID: TorFloodGroupID(vn.VNI), Type: openflow.GroupAll, Buckets: concat(local.Buckets, backIntoTunnel(nodes))}
			c.group(rep, owner)
			c.flow(TableL2Lookup, PrioFloodTor, owner, vn.VNI, inVN.WithUint(RegFromTunnel, FromTor), openflow.GroupAction{ID: rep.ID})
		}
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
// when it has more: each hands packets on to the next with one extra bucket.
func (c *compiler) group(g openflow.Group, owner Owner) {
	if len(g.Buckets) <= floodGroupChunk {
		c.out.Groups = append(c.out.Groups, GroupEntry{Group: g, Owner: owner})
		return
	}
	rest := g.Buckets
	id := g.ID
	for k := 1; ; k++ {
		if k > maxChainGroups {
			c.out.Notices = append(c.out.Notices, fmt.Sprintf("%s: more than %d flood members; the rest get no broadcast", owner, floodGroupChunk*maxChainGroups))
			return
		}
		n := min(len(rest), floodGroupChunk-1)
		part := openflow.Group{ID: id, Type: g.Type, Buckets: append([]openflow.Bucket(nil), rest[:n]...)}
		rest = rest[n:]
		if len(rest) == 0 {
			c.out.Groups = append(c.out.Groups, GroupEntry{Group: part, Owner: owner})
			return
		}
		next := chainGroupID(g.ID, k)
		part.Buckets = append(part.Buckets, openflow.Bucket{Actions: []openflow.Action{openflow.GroupAction{ID: next}}})
		c.out.Groups = append(c.out.Groups, GroupEntry{Group: part, Owner: owner})
		id = next
	}
}
