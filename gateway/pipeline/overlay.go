package pipeline

import (
	"bytes"
	"net/netip"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// The overlay connects this node's VNs to the other nodes through the flow-based VXLAN port
// (VNI in tun_id, the peer node's address in tun_dst): frames from the overlay enter the VN of
// their VNI (vnFlows); frames for a VMI on another node go into the tunnel to that node
// (peerFlows); a VN's broadcast, multicast and unknown unicast are replicated to every other
// node with a member of the VN (head-end replication), and to every ToR switch bound to it
// (state.overlay computes those destinations).

// peerFlows sends frames for VMI v, bound on another node, into the tunnel to that node.
func (c *compiler) peerFlows(v *model.VirtualMachineInterface, vni uint32, p Peer) {
	id := c.ids[v.Name]
	owner := Owner{KindVMI, v.Name}
	mac, _ := model.ParseMAC(v.MAC)
	for _, m := range vmiMACs(&bound{vmi: v, mac: mac}) {
		c.flow(TableL2Lookup, PrioKnownMAC, owner, id,
			openflow.Match{}.WithUint(RegVN, uint64(vni)).With(openflow.FieldEthDst, m),
			openflow.SetUint(RegDstVMI, uint64(id)), openflow.GotoTable{Table: TableIngressACL})
	}
	c.outputToTunnel(owner, id, id, vni, p.TunnelIP, uint32(c.in.TunnelPort))
}

// torFlows connects the served VNs to a ToR switch: the MACs it learned go into the tunnel to
// it; on its replication node, its BUM traffic (sent here, its unknown-dst locator) enters the
// VN to be flooded to local members and the nodes.
func (c *compiler) torFlows(t *Tor) {
	port := c.in.TunnelPort
	if port <= 0 || !t.TunnelIP.Is4() {
		return
	}
	id := nameID(t.Name)
	owner := Owner{KindTor, t.Name}
	if t.Replicator {
		for _, vni := range t.VNIs {
			if !c.served[vni] {
				continue
			}
			c.flow(TableClassify, PrioTunnelTor, owner, id, openflow.Match{}.WithUint(openflow.FieldInPort, uint64(port)).
				WithUint(openflow.FieldTunID, uint64(vni)).With(openflow.FieldTunIPv4Src, t.TunnelIP.AsSlice()),
				openflow.SetUint(RegVN, uint64(vni)), openflow.SetUint(RegFromTunnel, FromTor), openflow.GotoTable{Table: TablePortSecurity})
		}
	}
	ignored := 0
	defer func() {
		if ignored > 0 {
			c.notice("ToR switch %s: %d learned MACs ignored (not 6-byte unicast addresses, or a VMI's own or the router MAC)", t.Name, ignored)
		}
	}()
	for _, m := range t.MACs {
		// A switch reports what its servers send; a server must not take over a VMI's MAC or
		// the broadcast address, nor break the flow table with a malformed address.
		if len(m.MAC) != 6 || m.MAC[0]&1 == 1 || c.ownedMACs[m.MAC.String()] || bytes.Equal(m.MAC, routerMAC) {
			ignored++
			continue
		}
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
