package pipeline

import (
	"fmt"
	"sort"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// overlay connects this node's VNs to the other nodes through the flow-based VXLAN port
// (VNI in tun_id, the peer node's address in tun_dst): frames from the overlay enter the VN of
// their VNI; frames for a VMI on another node go into the tunnel to that node; a VN's
// broadcast, multicast and unknown unicast are replicated to every other node with a member
// of the VN (head-end replication). It returns those replication buckets per VNI.
func (c *compiler) overlay(members []bound) map[uint32][]openflow.Bucket {
	port := c.in.TunnelPort
	if port <= 0 {
		return nil
	}
	x := c.in.Index
	served := map[uint32]bool{}
	local := map[string]bool{}
	for _, b := range members {
		served[b.vni], local[b.name] = true, true
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
		c.flow(TableOutput, PrioOutputDefault, owner, id, openflow.Match{}.WithUint(RegDstVMI, uint64(id)),
			toNode(vn.VNI, p, uint32(port))...)
		c.out.Bindings = append(c.out.Bindings, Binding{VMI: p.VMI, VN: v.Network, Kind: BindingPeer,
			Node: p.Node, Port: fmt.Sprintf("tunnel to %s", p.TunnelIP), Bound: true})
	}
	buckets := map[uint32][]openflow.Bucket{}
	for vni, byNode := range nodes {
		names := make([]string, 0, len(byNode))
		for n := range byNode {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			buckets[vni] = append(buckets[vni], openflow.Bucket{Actions: toNode(vni, byNode[n], uint32(port))})
		}
	}
	return buckets
}

// toNode sends a frame of VN vni into the tunnel to p's node.
func toNode(vni uint32, p Peer, port uint32) []openflow.Action {
	return []openflow.Action{
		openflow.SetUint(openflow.FieldTunID, uint64(vni)),
		openflow.SetField{Field: openflow.FieldTunIPv4Dst, Value: p.TunnelIP.AsSlice()},
		openflow.Output{Port: port},
	}
}
