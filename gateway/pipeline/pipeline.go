package pipeline

import (
	"bytes"
	"net"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/openflow"
)

// The pipeline. A frame enters table 0 and leaves from the output table; remote instances and
// local VMs differ only in classify and output, so they get exactly the same treatment between.
//
//	classify (0)        gateway port, untagged BPDU ──► a copy to the agent (HA role, package
//	                    rstp); BPDU network, straight to l2-lookup
//	                    gateway port + VLAN ──► pop VLAN ─┐  local VM port ─┐   else ──► drop
//	                    reg0 = source VMI, reg1 = VNI ◄───┴─────────────────┘
//	                    VXLAN port + VNI ──► reg1 = VNI, reg4 = 1 (from the overlay, reg0 = 0)
//	port-security (10)  source MAC / IP / ARP claim must be the VMI's ──► else drop (spoofing)
//	arp-responder (20)  ARP request for a known address, or for a gateway (with the router MAC)
//	                    ──► reply, sent back to the source VMI; echo request to a gateway ──► reply
//	route-classify (25) VN on a router, to the router MAC, for a subnet of another VN of the
//	                    router ──► reg5 = that VN's VNI (the packet will be routed)
//	conntrack (30)      IP ──► ct(zone of the VN or its router) ──► ct-state;
//	                    not IP, IPv6 ND/MLD ──► l2-lookup
//	ct-state (31)       established / related ──► l2-lookup (ACLs skipped); invalid ──► drop
//	network-policy (35) the VN's policy rules, first match wins: pass ──► on; deny ──► drop;
//	                    routed where it entered (from the overlay, source MAC = router MAC) ──► on
//	egress-acl (40)     source VMI's security groups (egress rules) ──► on; else drop
//	l2-lookup (50)      VN + MAC ──► reg2 = destination VMI; router MAC ──► routing (a VN on a
//	                    router) or drop (no-route); else the VN's flood group:
//	                    a bucket per local member (reg2 = member, resubmit(,60)) and one per
//	                    other node with members (into the tunnel); from the overlay: local only
//	routing (55)        TTL ≤ 1 ──► drop (ttl-expired); reg5 + a VMI's address ──► dec_ttl,
//	                    source MAC = router MAC, destination MAC = the VMI's, reg2 = the VMI;
//	                    else drop (no-route)
//	ingress-acl (60)    destination VMI's security groups (ingress rules) ──► on; else drop
//	ct-commit (65)      a new connection that got this far ──► ct(commit)
//	output (70)         reg2 = reg0 ──► drop; local VMI ──► its port;
//	                    remote VMI ──► push its VLAN, out of its NIC (IN_PORT if it came in there);
//	                    a BPDU network's VMI: a copy to the agent first (what the switch gets)
//	                    VMI on another node ──► tun_id = VNI, tun_dst = its node, the VXLAN port
const (
	TableClassify      uint8 = 0
	TablePortSecurity  uint8 = 10
	TableARPResponder  uint8 = 20
	TableRouteClassify uint8 = 25
	TableConntrack     uint8 = 30
	TableCTState       uint8 = 31
	TablePolicy        uint8 = 35
	TableEgressACL     uint8 = 40
	TableL2Lookup      uint8 = 50
	TableRouting       uint8 = 55
	TableIngressACL    uint8 = 60
	TableCTCommit      uint8 = 65
	TableOutput        uint8 = 70
)

// TableNames maps each table to the name ovsgw flows prints.
var TableNames = map[uint8]string{
	TableClassify:      "classify",
	TablePortSecurity:  "port-security",
	TableARPResponder:  "arp-responder",
	TableRouteClassify: "route-classify",
	TableConntrack:     "conntrack",
	TableCTState:       "ct-state",
	TablePolicy:        "network-policy",
	TableEgressACL:     "egress-acl",
	TableL2Lookup:      "l2-lookup",
	TableRouting:       "routing",
	TableIngressACL:    "ingress-acl",
	TableCTCommit:      "ct-commit",
	TableOutput:        "output",
}

// Registers carry the pipeline's metadata between tables.
var (
	RegSrcVMI      = openflow.Reg(0) // id of the VMI the frame came from (0: not from a VMI)
	RegVN          = openflow.Reg(1) // VNI of the frame's virtual network
	RegDstVMI      = openflow.Reg(2) // id of the VMI the frame goes to
	RegEstablished = openflow.Reg(3) // 1: conntrack knows the connection, or an IPv6 control message: ACLs are skipped
	RegFromTunnel  = openflow.Reg(4) // FromNode or FromTor: the frame came through the overlay
	RegDstVN       = openflow.Reg(5) // VNI of the VN a routed packet goes to (0: not routed)
)

// Values of RegFromTunnel.
const (
	FromNode = 1 // from another ovsgw node: flood to local members only
	FromTor  = 2 // from a ToR switch this node replicates for: flood to local members and nodes
)

// Priorities, per table. Higher wins; values leave room for later stages.
const (
	PrioBPDU            uint16 = 250 // classify: a gateway port's untagged BPDU, into the BPDU network
	PrioReservedGuard   uint16 = 240 // classify: any other 01:80:c2:00:00:0x frame of a gateway port
	PrioGatewayVLAN     uint16 = 200 // classify: gateway port + VLAN of a logical interface
	PrioLocalPort       uint16 = 100 // classify: a local VM's port
	PrioGatewayPortMiss uint16 = 10  // classify: a gateway port's untagged or unknown-VLAN frame
	PrioTunnelTor       uint16 = 110 // classify: the VXLAN port + a VNI, from a ToR this node replicates for
	PrioTunnelVNI       uint16 = 100 // classify: the VXLAN port + a VNI served here
	PrioTunnelMiss      uint16 = 10  // classify: the VXLAN port, any other VNI

	PrioSpoofAllow    uint16 = 100 // port-security: the VMI's own MAC + IP / ARP claim
	PrioSpoofDropIP   uint16 = 60  // port-security: any other IP or ARP frame of the VMI
	PrioSpoofAllowL2  uint16 = 50  // port-security: non-IP frames from the VMI's MAC
	PrioSpoofDropRest uint16 = 40  // port-security: anything else from the VMI (forged MAC)

	PrioARPOwn   uint16 = 110 // arp-responder: a VMI asking for its own address: not answered
	PrioARPReply uint16 = 100 // arp-responder: a request for a known address (a VMI's or a gateway's)
	PrioEcho     uint16 = 100 // arp-responder: an echo request to a gateway address

	PrioRouteClassify uint16 = 100 // route-classify: router MAC, a subnet of another VN of the router

	PrioICMPv6Control uint16 = 110 // conntrack: IPv6 neighbour discovery and MLD skip tracking and ACLs
	PrioConntrack     uint16 = 100 // conntrack: IP of a VN

	PrioCTInvalid     uint16 = 110 // ct-state: invalid
	PrioCTEstablished uint16 = 100 // ct-state: established or related

	PrioPolicyRouted uint16 = 1100 // network-policy: routed on the node where it entered, which checked it
	PrioPolicyFirst  uint16 = 1000 // network-policy: first rule; later rules count down
	PrioPolicyLast   uint16 = 100  // network-policy: lowest a rule may get

	PrioACLEstablished uint16 = 1100 // ingress-acl: an established connection
	PrioACLRule        uint16 = 1000 // egress/ingress-acl: a security group rule
	PrioACLConj        uint16 = 500  // egress/ingress-acl: a remote-group rule, as a conjunctive match (conjunction.go)
	PrioACLDefaultDeny uint16 = 10   // egress/ingress-acl: a VMI with groups: what no rule allowed

	PrioCTCommit uint16 = 100 // ct-commit: a new connection of a VN

	PrioKnownMAC   uint16 = 100 // l2-lookup: destination MAC of a bound VMI
	PrioRouterMAC  uint16 = 90  // l2-lookup: the router MAC in a VN on a router: to routing
	PrioNoRouter   uint16 = 80  // l2-lookup: the router MAC anywhere else: dropped (no-route)
	PrioFloodTor   uint16 = 12  // l2-lookup: from a ToR switch: flood to local members and nodes
	PrioFloodLocal uint16 = 11  // l2-lookup: from the overlay: flood to local members only
	PrioFlood      uint16 = 10  // l2-lookup: broadcast, multicast, unknown unicast

	PrioTTLExpired uint16 = 200 // routing: TTL or hop limit 0 or 1: dropped (ttl-expired)
	PrioRoute      uint16 = 100 // routing: an instance IP of a VMI of the destination VN

	PrioHairpin       uint16 = 200 // output: never send a frame back to the VMI it came from
	PrioOutputInPort  uint16 = 110 // output: to a remote instance on the port the frame came in on
	PrioOutputDefault uint16 = 100 // output: to the VMI's port

	PrioTableMiss uint16 = 0 // every table: what nothing above claimed
)

// Flood group ids: a base with the VNI (24 bits) added, so that ovsgw's groups are recognisable
// among others on the bridge. A VN has a full flood group (local members and other nodes) and a
// local one, for frames that came from the overlay and must not go back into it.
const (
	FloodGroupBase      uint32 = 0x40000000
	LocalFloodGroupBase uint32 = 0x41000000
	TorFloodGroupBase   uint32 = 0x42000000
	floodGroupMask      uint32 = 0xfc000000
)

// TorFloodGroupID is the group that floods a ToR switch's BUM traffic of the VN with this VNI
// to local members and other nodes (not back to switches).
func TorFloodGroupID(vni uint32) uint32 { return TorFloodGroupBase | vni }

// FloodGroupID is the full flood group of the VN with this VNI.
func FloodGroupID(vni uint32) uint32 { return FloodGroupBase | vni }

// LocalFloodGroupID is the local-members-only flood group of the VN with this VNI.
func LocalFloodGroupID(vni uint32) uint32 { return LocalFloodGroupBase | vni }

// A flood group holds at most floodGroupChunk buckets and hands the rest to a continuation
// group. A member's bucket is 48 bytes on the wire, a tunnel's 64, and an OpenFlow message at
// most 64 KiB: one group of more than about 1,000 members would not fit in one message.
const (
	floodGroupChunk    = 1000
	chainGroupBase     = 0xC0000000 // | kind (0-2) << 28 | continuation (1-15) << 24 | VNI
	maxChainGroups     = 15
	chainGroupKindBits = 28
)

// chainGroupID is the k-th continuation of flood group head.
func chainGroupID(head uint32, k int) uint32 {
	kind := head >> 24 & 0x3
	return chainGroupBase | kind<<chainGroupKindBits | uint32(k)<<24 | head&0xffffff
}

// GroupMarker is the first action of the first bucket of every group ovsgw creates: a note
// ("ovsgw" and a version byte), which does nothing to packets. Groups have no cookie, and an id
// in ovsgw's ranges proves nothing (another controller may use any id), so the marker is what
// tells ovsgw's groups from others' across restarts of the agent and of the switch.
var GroupMarker = openflow.Note{Data: []byte("ovsgw\x01")}

// InGroupRange reports whether a group id is in the ranges ovsgw allocates its groups from.
func InGroupRange(id uint32) bool {
	return id&floodGroupMask == FloodGroupBase || (id&chainGroupBase == chainGroupBase && id < 0xF0000000)
}

// OwnedGroup reports whether an installed group is one of ovsgw's: its id is in ovsgw's ranges
// and its first bucket starts with GroupMarker. Any other group is someone else's, never
// changed or deleted.
func OwnedGroup(g openflow.Group) bool {
	if !InGroupRange(g.ID) || len(g.Buckets) == 0 || len(g.Buckets[0].Actions) == 0 {
		return false
	}
	n, ok := g.Buckets[0].Actions[0].(openflow.Note)
	return ok && bytes.Equal(n.Padded(), GroupMarker.Padded())
}

// markGroup returns g with GroupMarker first in its first bucket (a bucket of its own when g
// has none), sharing nothing that g's caller may change.
func markGroup(g openflow.Group) openflow.Group {
	buckets := make([]openflow.Bucket, max(1, len(g.Buckets)))
	copy(buckets, g.Buckets)
	buckets[0].Actions = append([]openflow.Action{GroupMarker}, buckets[0].Actions...)
	g.Buckets = buckets
	return g
}

// GroupVNI is the VNI of one of ovsgw's groups.
func GroupVNI(id uint32) uint32 { return id & 0xffffff }

// ctZone is the conntrack zone of a VN: zones are 16 bits, VNIs 24, so VNIs that agree in their
// low 16 bits share a zone (Compile reports it as a notice). The VNs of a logical router share
// the zone of the router's lowest VNI instead (configState.zoneOf), so that both directions of
// a routed connection meet in one zone.
func ctZone(vni uint32) uint16 { return uint16(vni) }

// routerMAC is model.RouterMAC, the source of routed packets and the gateways' answers.
var routerMAC = func() []byte {
	m, err := net.ParseMAC(model.RouterMAC)
	if err != nil {
		panic(err)
	}
	return m
}()

// bpduMAC is where (R)STP BPDUs go; reservedMask covers the 802.1D reserved group addresses
// 01:80:c2:00:00:00-0f, which bridges never forward.
var (
	bpduMAC      = []byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}
	reservedMask = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xf0}
)

// EtherTypes the pipeline matches.
const (
	ethIPv4 = 0x0800
	ethARP  = 0x0806
	ethIPv6 = 0x86dd
)
