package pipeline

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// overlay connects this node's VNs to the other nodes through the flow-based VXLAN port
// (VNI in tun_id, the peer node's address in tun_dst): frames from the overlay enter the VN of
// their VNI; frames for a VMI on another node go into the tunnel to that node; a VN's
// broadcast, multicast and unknown unicast are replicated to every other node with a member
// of the VN (head-end replication), and to every ToR switch bound to it. It returns those
// replication buckets per VNI.
func (c *compiler) overlay(members []bound) replication {
	port := c.in.TunnelPort
	if port <= 0 {
		return replication{}
	}
	x := c.in.Index
	served := c.served
	local := map[string]bool{}
	for _, b := range members {
		local[b.name] = true
	}
	fromTunnel := openflow.Match{}.WithUint(openflow.FieldInPort, uint64(port))
	c.drop(TableClassify, PrioTunnelMiss, pipelineOwner, DropUnknownVNI, 0, fromTunnel)
	for _, vn := range c.servedVNs(members) {
		c.flow(TableClassify, PrioTunnelVNI, Owner{KindVN, vn.Name}, vn.VNI, fromTunnel.WithUint(openflow.FieldTunID, uint64(vn.VNI)),
			openflow.SetUint(RegVN, uint64(vn.VNI)), openflow.SetUint(RegFromTunnel, 1), openflow.GotoTable{Table: TablePortSecurity})
	}

	peers := append([]Peer(nil), c.in.Peers...)
	sort.Slice(peers, func(i, j int) bool { return peers[i].VMI < peers[j].VMI })
	nodes := map[uint32]map[string]Peer{} // VNI → node → a peer there (for its tunnel IP)
	for _, p := range peers {
		v := x.VMIs[p.VMI]
		if v == nil || !p.TunnelIP.Is4() {
			continue // not in the config, or no usable tunnel address
		}
		vn := x.VNs[v.Network]
		if !served[vn.VNI] {
			continue // no member here: nothing here sends to it
		}
		if nodes[vn.VNI] == nil {
			nodes[vn.VNI] = map[string]Peer{}
		}
		// Its node gets the VN's floods even when the VMI is bound here too: a BPDU VMI is bound
		// on every gateway of its group, and its BPDUs must reach all of them.
		nodes[vn.VNI][p.Node] = p
		if local[p.VMI] {
			continue // bound here: frames for it stay here
		}
		id := c.ids[p.VMI]
		owner := Owner{KindVMI, p.VMI}
		mac, _ := model.ParseMAC(v.MAC)
		for _, m := range vmiMACs(bound{vmi: v, mac: mac}) {
			c.flow(TableL2Lookup, PrioKnownMAC, owner, id,
				openflow.Match{}.WithUint(RegVN, uint64(vn.VNI)).With(openflow.FieldEthDst, m),
				openflow.SetUint(RegDstVMI, uint64(id)), openflow.GotoTable{Table: TableIngressACL})
		}
		c.outputToTunnel(owner, id, id, vn.VNI, p.TunnelIP, uint32(port))
		c.out.Bindings = append(c.out.Bindings, Binding{VMI: p.VMI, VN: v.Network, Kind: BindingPeer,
			Node: p.Node, Port: fmt.Sprintf("tunnel to %s", p.TunnelIP), Bound: true})
	}
	rep := replication{nodes: map[uint32][]openflow.Bucket{}, tors: map[uint32][]openflow.Bucket{}, replicates: map[uint32]bool{}}
	// A switch's replication node gets the VN's floods even with no member of the VN: it
	// passes them on to the switch.
	for _, t := range c.in.Tors {
		if t.Replicator || !t.ReplicationIP.Is4() || !t.TunnelIP.Is4() {
			continue
		}
		for _, vni := range t.VNIs {
			if !served[vni] {
				continue
			}
			if nodes[vni] == nil {
				nodes[vni] = map[string]Peer{}
			}
			if !hasIP(nodes[vni], t.ReplicationIP) {
				nodes[vni]["replication node of "+t.Name] = Peer{TunnelIP: t.ReplicationIP}
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
			rep.nodes[vni] = append(rep.nodes[vni], openflow.Bucket{Actions: toNode(vni, byNode[n].TunnelIP, uint32(port))})
		}
	}
	c.tors(port, rep)
	return rep
}

// replication holds, per VNI, the flood buckets toward other nodes and toward ToR switches,
// and whether this node replicates a switch's BUM traffic of that VN.
type replication struct {
	nodes, tors map[uint32][]openflow.Bucket
	replicates  map[uint32]bool
}

// hasIP reports whether a node of the map has tunnel address ip.
func hasIP(nodes map[string]Peer, ip netip.Addr) bool {
	for _, p := range nodes {
		if p.TunnelIP == ip {
			return true
		}
	}
	return false
}

// tors connects the served VNs to ToR switches: the MACs a switch learned go into the tunnel to
// it; on a switch's replication node, the VN's floods reach the switch, and the switch's BUM
// traffic (sent here, its unknown-dst locator) is flooded to local members and the nodes.
func (c *compiler) tors(port int32, rep replication) {
	tors := append([]Tor(nil), c.in.Tors...)
	sort.Slice(tors, func(i, j int) bool { return tors[i].Name < tors[j].Name })
	for _, t := range tors {
		if !t.TunnelIP.Is4() {
			continue
		}
		id := nameID(t.Name)
		c.out.Names[KindTor][id] = t.Name
		owner := Owner{KindTor, t.Name}
		for _, vni := range t.VNIs {
			if !c.served[vni] || !t.Replicator {
				continue
			}
			rep.tors[vni] = append(rep.tors[vni], openflow.Bucket{Actions: toNode(vni, t.TunnelIP, uint32(port))})
			rep.replicates[vni] = true
			c.flow(TableClassify, PrioTunnelTor, owner, id, openflow.Match{}.WithUint(openflow.FieldInPort, uint64(port)).
				WithUint(openflow.FieldTunID, uint64(vni)).With(openflow.FieldTunIPv4Src, t.TunnelIP.AsSlice()),
				openflow.SetUint(RegVN, uint64(vni)), openflow.SetUint(RegFromTunnel, FromTor), openflow.GotoTable{Table: TablePortSecurity})
		}
		for _, m := range t.MACs {
			if !c.served[m.VNI] {
				continue
			}
			// A server's MAC gets an id of its own, so that it passes ingress ACL and conntrack
			// commit like any destination, and leaves through the output table.
			mid := nameID("tor/" + t.Name + "/" + m.MAC.String())
			c.flow(TableL2Lookup, PrioKnownMAC, owner, id,
				openflow.Match{}.WithUint(RegVN, uint64(m.VNI)).With(openflow.FieldEthDst, m.MAC),
				openflow.SetUint(RegDstVMI, uint64(mid)), openflow.GotoTable{Table: TableIngressACL})
			c.outputToTunnel(owner, id, mid, m.VNI, t.TunnelIP, uint32(port))
		}
	}
}

// toNode sends a frame of VN vni into the tunnel to the node (or switch) at ip.
func toNode(vni uint32, ip netip.Addr, port uint32) []openflow.Action {
	return []openflow.Action{
		openflow.SetUint(openflow.FieldTunID, uint64(vni)),
		openflow.SetField{Field: openflow.FieldTunIPv4Dst, Value: ip.AsSlice()},
		openflow.Output{Port: port},
	}
}

// backIntoTunnel is toNode for a frame that came in through the tunnel port: OVS drops an
// output to the frame's own in_port, so it leaves by IN_PORT (towards the new tun_dst).
func backIntoTunnel(buckets []openflow.Bucket) []openflow.Bucket {
	out := make([]openflow.Bucket, len(buckets))
	for i, b := range buckets {
		actions := append([]openflow.Action(nil), b.Actions...)
		if n := len(actions); n > 0 {
			if _, ok := actions[n-1].(openflow.Output); ok {
				actions[n-1] = openflow.Output{Port: openflow.PortInPort}
			}
		}
		out[i] = openflow.Bucket{Actions: actions}
	}
	return out
}

// outputToTunnel installs the output flows of destination id behind the tunnel at ip, with the
// IN_PORT variant for frames that came in through the tunnel (a replication node passing a
// switch's frame on, say).
func (c *compiler) outputToTunnel(owner Owner, cookieID, id, vni uint32, ip netip.Addr, port uint32) {
	to := openflow.Match{}.WithUint(RegDstVMI, uint64(id))
	actions := toNode(vni, ip, port)
	c.flow(TableOutput, PrioOutputDefault, owner, cookieID, to, actions...)
	c.flow(TableOutput, PrioOutputInPort, owner, cookieID, to.WithUint(openflow.FieldInPort, uint64(port)),
		backIntoTunnel([]openflow.Bucket{{Actions: actions}})[0].Actions...)
}
