package pipeline

import (
	"fmt"
	"hash/fnv"
)

// A cookie says who owns a flow:
//
//	bits 63..48  cookieApp: the flow is ovsgw's
//	bits 47..40  the kind of object that owns it
//	bits 39..32  the flow's purpose: forwarding, or why it drops (counted per reason)
//	bits 31..0   the object's id (VMI id, VNI, or a name's hash)
//
// A sync deletes flows with cookieApp that it no longer wants, and never touches any other.
const (
	cookieApp     uint64 = 0x6f67 << 48 // "og"
	cookieAppMask uint64 = 0xffff << 48
)

// Kind is the kind of object a flow or group serves.
type Kind uint8

// Object kinds.
const (
	KindPipeline          Kind = 1 // the pipeline itself (default drops)
	KindVN                Kind = 2
	KindVMI               Kind = 3
	KindPhysicalInterface Kind = 4
	KindSecurityGroup     Kind = 5
	KindNetworkPolicy     Kind = 6
	KindNode              Kind = 7 // another node of the overlay
	KindTor               Kind = 8 // a VXLAN ToR switch (hardware_vtep)
	KindRouter            Kind = 9 // a logical router: its VNs' way to the routing table
)

func (k Kind) String() string {
	switch k {
	case KindPipeline:
		return "pipeline"
	case KindVN:
		return "vn"
	case KindVMI:
		return "vmi"
	case KindPhysicalInterface:
		return "physical-interface"
	case KindSecurityGroup:
		return "security-group"
	case KindNetworkPolicy:
		return "network-policy"
	case KindNode:
		return "node"
	case KindTor:
		return "tor-switch"
	case KindRouter:
		return "logical-router"
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Purpose says what a flow is for; drop flows name their reason, so that counters add up per
// reason.
type Purpose uint8

// Purposes.
const (
	Forward          Purpose = 0
	DropUnknownVLAN  Purpose = 1  // a gateway port's frame with no logical interface for its VLAN
	DropUnknownPort  Purpose = 2  // a frame from a port that serves no VMI
	DropSpoofing     Purpose = 3  // source MAC, IP or ARP claim not the VMI's
	DropPolicy       Purpose = 4  // a network policy rule denied it
	DropSecurityGrp  Purpose = 5  // no security group rule of the VMI allowed it
	DropInvalidState Purpose = 6  // conntrack found it invalid
	DropHairpin      Purpose = 7  // would go back to the VMI it came from
	DropUnknownVNI   Purpose = 8  // from the overlay, for a VN this node does not serve
	DropReserved     Purpose = 9  // 802.1D reserved multicast (a BPDU) no BPDU network carries
	DropNoRoute      Purpose = 10 // to the router MAC, for no VMI of a VN on the source's router
	DropTTLExpired   Purpose = 11 // to be routed with a TTL (hop limit) of 0 or 1
)

// DropReasons names the drop purposes, as status and flows show them.
var DropReasons = map[Purpose]string{
	DropUnknownVLAN:  "unknown-vlan",
	DropUnknownPort:  "unknown-port",
	DropSpoofing:     "spoofing",
	DropPolicy:       "policy-deny",
	DropSecurityGrp:  "security-group-deny",
	DropInvalidState: "invalid-state",
	DropHairpin:      "hairpin",
	DropUnknownVNI:   "unknown-vni",
	DropReserved:     "reserved-multicast",
	DropNoRoute:      "no-route",
	DropTTLExpired:   "ttl-expired",
}

// Cookie encodes an owner and a purpose.
func Cookie(kind Kind, purpose Purpose, id uint32) uint64 {
	return cookieApp | uint64(kind)<<40 | uint64(purpose)<<32 | uint64(id)
}

// DropCookie is the cookie and mask that select every flow of ovsgw's that drops for reason
// why, whatever its owner.
func DropCookie(why Purpose) (cookie, mask uint64) {
	return cookieApp | uint64(why)<<32, cookieAppMask | 0xff<<32
}

// DropCookies are cookie/mask pairs that together select every flow of ovsgw's that drops,
// whatever its reason or owner, and nothing else: the drop purposes grouped into aligned blocks
// (1, 2–3, 4–7, 8–11 today). A cookie-masked dump makes the switch visit every flow of the
// bridge, so counting drops costs one visit per block instead of one per reason.
func DropCookies() [][2]uint64 {
	isDrop := func(p int) bool { _, ok := DropReasons[Purpose(p)]; return p < 256 && ok }
	var out [][2]uint64
	for p := 1; p < 256; {
		if !isDrop(p) {
			p++
			continue
		}
		// The largest block of 2^k purposes aligned at p that holds drops only.
		size := 1
		for next := size * 2; p%next == 0; next *= 2 {
			full := true
			for q := p; q < p+next; q++ {
				full = full && isDrop(q)
			}
			if !full {
				break
			}
			size = next
		}
		mask := uint64(0xff&^(size-1)) << 32
		out = append(out, [2]uint64{cookieApp | uint64(p)<<32, cookieAppMask | mask})
		p += size
	}
	return out
}

// KindCookie selects the flows of one kind of owner and one purpose (DumpFlowsByCookie's
// arguments): KindCookie(KindVMI, Forward) is every VMI's forwarding flows.
func KindCookie(kind Kind, why Purpose) (cookie, mask uint64) {
	return cookieApp | uint64(kind)<<40 | uint64(why)<<32, cookieAppMask | 0xff<<40 | 0xff<<32
}

// OwnedCookie reports whether a flow's cookie is ovsgw's.
func OwnedCookie(c uint64) bool { return c&cookieAppMask == cookieApp }

// ParseCookie decodes an ovsgw cookie; ok is false for anyone else's.
func ParseCookie(c uint64) (kind Kind, purpose Purpose, id uint32, ok bool) {
	if !OwnedCookie(c) {
		return 0, 0, 0, false
	}
	return Kind(c >> 40 & 0xff), Purpose(c >> 32 & 0xff), uint32(c), true
}

// nameID is a stable 32-bit id for a name (FNV-1a), never 0. Ids must not depend on other
// objects, so that adding one VMI does not renumber (and reprogram) the others.
func nameID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	if id := h.Sum32(); id != 0 {
		return id
	}
	return 1
}
