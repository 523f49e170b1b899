package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/placement"
)

// state is what a compile derives from its input before any flow: where each VMI is bound,
// which VNs this node serves, where floods go, and the reverse indexes the engine follows from
// a changed object to the units that use it. It is cheap next to the flows themselves and is
// derived whole at every update, except for what depends on the config alone (configState),
// which updates with the same config share.
type state struct {
	*configState
	in Input

	members    map[string]*bound // VMIs bound on this node
	byVN       map[uint32][]*bound
	bindings   []Binding // sorted by VMI
	bindingsOf map[string][]Binding
	guards     map[string]Port         // gateway ports with logical interfaces, by name
	served     map[uint32]bool         // VNIs this node serves
	reached    map[uint32]bool         // VNIs this node routes to: every VN of a router of a served VN
	peerOf     map[string]Peer         // VMIs bound on another node, reached through the tunnel
	floodNodes map[uint32][]netip.Addr // per VNI: other nodes that get its floods, by node name
	torIPs     map[uint32][]netip.Addr // per VNI: ToR switches this node floods to, by name
	replicates map[uint32]bool         // per VNI: this node replicates a switch's BUM traffic
	notices    []string                // about the node as a whole, not one unit
	names      map[Kind]map[uint32]string
	sgMembers  map[string][]string // bound VMIs per security group
}

// configState is what a state derives from the config (and the node's name) alone: lookups and
// reverse indexes over the config, the ids of its VMIs, and the node's logical interfaces.
type configState struct {
	x      *model.Index
	host   string
	ids    map[string]uint32
	meters map[string]uint32 // each VMI's meter id (services.go)
	lis    []model.LinkedLI  // this node's, sorted

	vnByVNI      map[uint32]*model.VirtualNetwork
	groupByName  map[string]*model.SecurityGroup
	policyByName map[string]*model.NetworkPolicy
	vmisByVN     map[string][]string        // every VMI of the config per VN name
	sgVMIs       map[string][]string        // every VMI of the config per security group, in config order
	shapes       *conjShapes                // the remote-group rules, as conjunctions
	ownedMACs    map[string]bool            // every MAC a VMI has (its own and its address pairs'), canonical text
	vnsByPolicy  map[string][]string        // policy → VNs that apply it
	names        map[Kind]map[uint32]string // of config objects: VMIs, VNs, groups, policies, routers
	routeConfig                             // conntrack zones, gateways, routers (routing.go)
}

// prepare derives the state of an input; ids gives every VMI of its config an id, and prev (if
// any) lends its configState when the config is the same.
func prepare(in Input, ids *idAllocator, prev *state) *state {
	x := in.Index
	s := &state{in: in,
		members: make(map[string]*bound, len(x.VMIs)), byVN: map[uint32][]*bound{}, bindingsOf: make(map[string][]Binding, len(x.VMIs)),
		guards: map[string]Port{}, served: map[uint32]bool{}, reached: map[uint32]bool{},
		peerOf: map[string]Peer{}, floodNodes: map[uint32][]netip.Addr{}, torIPs: map[uint32][]netip.Addr{},
		replicates: map[uint32]bool{}, sgMembers: map[string][]string{},
	}
	if prev != nil && prev.x == x && prev.host == in.Host {
		s.configState = prev.configState
	} else {
		s.configState = newConfigState(x, in.Host, ids)
	}
	s.names = map[Kind]map[uint32]string{KindPipeline: {0: "default"}, KindPhysicalInterface: {}, KindNode: {}, KindTor: {}}
	for k, m := range s.configState.names {
		s.names[k] = m
	}

	s.bindings = make([]Binding, 0, len(x.VMIs))
	s.remote()
	s.local()
	for _, b := range s.members {
		s.byVN[b.vni] = append(s.byVN[b.vni], b)
		for _, g := range b.vmi.SecurityGroups {
			s.sgMembers[g] = append(s.sgMembers[g], b.name)
		}
	}
	for _, list := range s.byVN {
		slices.SortFunc(list, func(a, b *bound) int { return strings.Compare(a.name, b.name) })
	}
	s.setServed()
	s.setReached()
	s.overlay()
	slices.SortStableFunc(s.bindings, func(a, b Binding) int { return strings.Compare(a.VMI, b.VMI) })
	for i := 0; i < len(s.bindings); {
		j := i + 1
		for j < len(s.bindings) && s.bindings[j].VMI == s.bindings[i].VMI {
			j++
		}
		s.bindingsOf[s.bindings[i].VMI] = s.bindings[i:j:j] // sorted by VMI: each VMI's are adjacent
		i = j
	}
	for name := range s.guards {
		s.names[KindPhysicalInterface][nameID(name)] = name
	}
	s.zoneClashes()
	return s
}

// newConfigState derives what depends on the config alone.
func newConfigState(x *model.Index, host string, ids *idAllocator) *configState {
	s := &configState{x: x, host: host, ids: maps.Clone(ids.assign(x)), lis: x.NodeLIs(host),
		vnByVNI: make(map[uint32]*model.VirtualNetwork, len(x.VNs)), groupByName: map[string]*model.SecurityGroup{},
		policyByName: map[string]*model.NetworkPolicy{}, vmisByVN: make(map[string][]string, len(x.VNs)),
		sgVMIs: map[string][]string{}, vnsByPolicy: map[string][]string{}, shapes: newConjShapes(x),
		names: map[Kind]map[uint32]string{KindVN: {}, KindVMI: make(map[uint32]string, len(x.VMIs)), KindSecurityGroup: {}, KindNetworkPolicy: {}, KindRouter: {}},
	}
	s.meters = maps.Clone(ids.meterIDs(x))
	for n, id := range s.ids {
		s.names[KindVMI][id] = n
	}
	for i := range x.Config.VirtualNetworks {
		vn := &x.Config.VirtualNetworks[i]
		s.names[KindVN][vn.VNI] = vn.Name
		if s.vnByVNI[vn.VNI] == nil {
			s.vnByVNI[vn.VNI] = vn
		}
		for _, p := range vn.NetworkPolicies {
			s.vnsByPolicy[p] = append(s.vnsByPolicy[p], vn.Name)
		}
	}
	for _, r := range x.Config.LogicalRouters {
		s.names[KindRouter][nameID(r.Name)] = r.Name
	}
	for i := range x.Config.SecurityGroups {
		g := &x.Config.SecurityGroups[i]
		s.names[KindSecurityGroup][nameID(g.Name)] = g.Name
		s.groupByName[g.Name] = g
	}
	for i := range x.Config.NetworkPolicies {
		p := &x.Config.NetworkPolicies[i]
		s.names[KindNetworkPolicy][nameID(p.Name)] = p.Name
		s.policyByName[p.Name] = p
	}
	s.ownedMACs = make(map[string]bool, len(x.VMIs))
	for i := range x.Config.VirtualMachineInterfaces {
		v := &x.Config.VirtualMachineInterfaces[i]
		s.vmisByVN[v.Network] = append(s.vmisByVN[v.Network], v.Name)
		for _, mac := range append([]string{v.MAC}, pairMACs(v)...) {
			if m, err := net.ParseMAC(mac); err == nil {
				s.ownedMACs[m.String()] = true
			}
		}
		for _, g := range v.SecurityGroups {
			s.sgVMIs[g] = append(s.sgVMIs[g], v.Name)
		}
	}
	s.routeConfig = newRouteConfig(x)
	return s
}

// remote binds this node's logical interfaces and finds the gateway ports to guard.
func (s *state) remote() {
	x, lis := s.x, s.lis
	if !s.in.GatewayMode {
		if len(lis) > 0 {
			s.notices = append(s.notices, fmt.Sprintf(
				"gateway mode is off (gateway_mode = server is not set in [DEFAULT] of the agent config): the %d logical interfaces of physical router %q are ignored; set it and restart the agent to serve them",
				len(lis), s.in.Host))
		}
		for _, li := range lis {
			vmi := x.VMIs[li.VMI]
			s.bindings = append(s.bindings, Binding{VMI: vmi.Name, VN: vmi.Network, Kind: BindingRemote,
				PhysicalInterface: li.PhysicalInterface, LogicalInterface: li.Name, VLAN: li.VLANID(),
				Reason: "gateway mode is off on this node"})
		}
		return
	}
	ports := make(map[string]Port, len(s.in.Ports))
	for _, p := range s.in.Ports {
		ports[p.Name] = p
	}
	for _, li := range lis {
		vmi := x.VMIs[li.VMI]
		b := Binding{VMI: vmi.Name, VN: vmi.Network, Kind: BindingRemote, Port: li.PhysicalInterface,
			PhysicalInterface: li.PhysicalInterface, LogicalInterface: li.Name, VLAN: li.VLANID()}
		p, ok := ports[li.PhysicalInterface]
		if !ok || p.OFPort <= 0 {
			b.Reason = fmt.Sprintf("physical interface %s has no OpenFlow port yet (is the NIC present on this node?)", li.PhysicalInterface)
			s.bindings = append(s.bindings, b)
			continue
		}
		b.OFPort = p.OFPort
		s.guards[p.Name] = p
		bpdu := li.VLANID() == 0 && x.BPDUVMI(vmi.Name)
		if s.in.Standby[p.Name] && !bpdu {
			b.Standby, b.Reason = true, "standby gateway of its HA group: the switches' spanning tree chose another"
			s.bindings = append(s.bindings, b)
			continue
		}
		b.Bound = true
		s.bindings = append(s.bindings, b)
		s.members[vmi.Name] = &bound{vmi: vmi, name: vmi.Name, id: s.ids[vmi.Name], vni: x.VNs[vmi.Network].VNI,
			ofport: uint32(p.OFPort), vlan: li.VLANID(), remote: true, bpdu: bpdu}
	}
}

// local binds VMIs that no logical interface links to, to the port whose iface-id names them.
func (s *state) local() {
	x := s.x
	byIfaceID := map[string][]Port{}
	for _, p := range s.in.Ports {
		if p.IfaceID != "" {
			byIfaceID[p.IfaceID] = append(byIfaceID[p.IfaceID], p)
		}
	}
	names := make([]string, 0, len(byIfaceID))
	for n := range byIfaceID {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		vmi := x.VMIs[name]
		if vmi == nil {
			continue // not in the config
		}
		ports := byIfaceID[name]
		if x.IsRemote(name) {
			s.notices = append(s.notices, fmt.Sprintf(
				"port %s claims iface-id %q, but that VMI is a remote instance (a logical interface links to it): port ignored", ports[0].Name, name))
			continue
		}
		sort.Slice(ports, func(i, j int) bool { return ports[i].Name < ports[j].Name })
		p := ports[0]
		if len(ports) > 1 {
			s.notices = append(s.notices, fmt.Sprintf(
				"%d ports claim iface-id %q; bound to %s, the first by name", len(ports), name, p.Name))
		}
		b := Binding{VMI: name, VN: vmi.Network, Kind: BindingLocal, Port: p.Name, OFPort: p.OFPort}
		if p.OFPort <= 0 {
			b.Reason = fmt.Sprintf("port %s has no OpenFlow port number yet", p.Name)
			s.bindings = append(s.bindings, b)
			continue
		}
		b.Bound = true
		s.bindings = append(s.bindings, b)
		s.members[name] = &bound{vmi: vmi, name: name, id: s.ids[name], vni: x.VNs[vmi.Network].VNI, ofport: uint32(p.OFPort)}
	}
}

// setServed decides which VNs this node serves: those with a member here, and those whose ToR
// switch traffic it replicates.
func (s *state) setServed() {
	for vni := range s.byVN {
		s.served[vni] = true
	}
	if s.in.TunnelPort <= 0 {
		return
	}
	for _, t := range s.in.Tors {
		if t.Replicator && t.TunnelIP.Is4() {
			for _, vni := range t.VNIs {
				if s.vnByVNI[vni] != nil {
					s.served[vni] = true
				}
			}
		}
	}
}

// overlay finds, with a tunnel port, the VMIs reached through the tunnel and where each served
// VN's floods go: every other node with a member of the VN (head-end replication), the
// replication node of each switch bound to it, and the switches this node replicates for.
func (s *state) overlay() {
	if s.in.TunnelPort <= 0 {
		return
	}
	x := s.x
	// Each VMI's peers in the order package placement prefers them: the first is where its
	// frames go (a live node before a dead one, then the newer role).
	peers := slices.Clone(s.in.Peers)
	slices.SortFunc(peers, func(a, b Peer) int {
		return cmp.Or(strings.Compare(a.VMI, b.VMI), placement.Compare(a.claim(), b.claim()))
	})
	nodes := map[uint32]map[string]netip.Addr{} // VNI → node → its tunnel IP
	for _, p := range peers {
		v := x.VMIs[p.VMI]
		if v == nil || !p.TunnelIP.Is4() {
			continue // not in the config, or no usable tunnel address
		}
		vni := x.VNs[v.Network].VNI
		if !s.served[vni] {
			// No member here: nothing here sends to it, unless it is routed to.
			if s.reached[vni] {
				s.addPeer(p, v)
			}
			continue
		}
		if nodes[vni] == nil {
			nodes[vni] = map[string]netip.Addr{}
		}
		// Its node gets the VN's floods even when the VMI is bound here too: a BPDU VMI is bound
		// on every gateway of its group, and its BPDUs must reach all of them.
		nodes[vni][p.Node] = p.TunnelIP
		if s.members[p.VMI] != nil {
			continue // bound here: frames for it stay here
		}
		s.addPeer(p, v) // bound on several other nodes: the first, the preferred one (sorted above)
	}
	tors := append([]Tor(nil), s.in.Tors...)
	sort.Slice(tors, func(i, j int) bool { return tors[i].Name < tors[j].Name })
	for _, t := range tors {
		if !t.TunnelIP.Is4() {
			continue
		}
		s.names[KindTor][nameID(t.Name)] = t.Name
		for _, vni := range t.VNIs {
			if !s.served[vni] {
				continue
			}
			if t.Replicator {
				s.torIPs[vni] = append(s.torIPs[vni], t.TunnelIP)
				s.replicates[vni] = true
				continue
			}
			// A switch's replication node gets the VN's floods even with no member of the VN:
			// it passes them on to the switch.
			if !t.ReplicationIP.Is4() {
				continue
			}
			if nodes[vni] == nil {
				nodes[vni] = map[string]netip.Addr{}
			}
			if !hasIP(nodes[vni], t.ReplicationIP) {
				nodes[vni]["replication node of "+t.Name] = t.ReplicationIP
			}
		}
	}
	for vni, byNode := range nodes {
		names := make([]string, 0, len(byNode))
		for n := range byNode {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s.floodNodes[vni] = append(s.floodNodes[vni], byNode[n])
		}
	}
}

// addPeer reaches VMI v, bound on p's node, through the tunnel there; a VMI bound on several
// other nodes is reached on the first by node name (peers come sorted).
func (s *state) addPeer(p Peer, v *model.VirtualMachineInterface) {
	if _, seen := s.peerOf[p.VMI]; seen {
		return
	}
	s.peerOf[p.VMI] = p
	s.bindings = append(s.bindings, Binding{VMI: p.VMI, VN: v.Network, Kind: BindingPeer,
		Node: p.Node, Port: fmt.Sprintf("tunnel to %s", p.TunnelIP), Bound: true})
}

// hasIP reports whether a node of the map has tunnel address ip.
func hasIP(nodes map[string]netip.Addr, ip netip.Addr) bool {
	for _, a := range nodes {
		if a == ip {
			return true
		}
	}
	return false
}

// zoneClashes reports served VNs whose conntrack zones collide: VNIs equal in their low 16
// bits, unless both are on one router (whose VNs share a zone on purpose, their subnets apart).
func (s *state) zoneClashes() {
	type user struct{ vn, router string }
	zones := map[uint16]user{}
	for _, vn := range s.x.Config.VirtualNetworks {
		if !s.served[vn.VNI] {
			continue
		}
		u := user{vn: vn.Name}
		if r := s.x.RouterOf[vn.Name]; r != nil {
			u.router = r.Name
		}
		z := s.zoneOf(&vn)
		if other, clash := zones[z]; clash && (u.router == "" || other.router != u.router) {
			s.notices = append(s.notices, fmt.Sprintf(
				"virtual networks %q and %q share conntrack zone %d (VNIs equal in their low 16 bits): their connections are told apart only by address", other.vn, vn.Name, z))
		}
		zones[z] = u
	}
}

// pairMACs are the MACs of a VMI's address pairs that name one.
func pairMACs(v *model.VirtualMachineInterface) []string {
	var out []string
	for _, p := range v.AllowedAddressPairs {
		if p.MAC != "" {
			out = append(out, p.MAC)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// claim is what package placement compares of a peer.
func (p Peer) claim() placement.Claim {
	return placement.Claim{Node: p.Node, Stale: p.Stale, Since: p.Since}
}
