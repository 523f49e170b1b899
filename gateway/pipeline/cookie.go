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
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Purpose says what a flow is for; drop flows name their reason, so that counters add up per
// reason.
type Purpose uint8

// Purposes.
const (
	Forward          Purpose = 0
	DropUnknownVLAN  Purpose = 1 // a gateway port's frame with no logical interface for its VLAN
	DropUnknownPort  Purpose = 2 // a frame from a port that serves no VMI
	DropSpoofing     Purpose = 3 // source MAC, IP or ARP claim not the VMI's
	DropPolicy       Purpose = 4 // a network policy rule denied it
	DropSecurityGrp  Purpose = 5 // no security group rule of the VMI allowed it
	DropInvalidState Purpose = 6 // conntrack found it invalid
	DropHairpin      Purpose = 7 // would go back to the VMI it came from
	DropUnknownVNI   Purpose = 8 // from the overlay, for a VN this node does not serve
	DropReserved     Purpose = 9 // 802.1D reserved multicast (a BPDU) no BPDU network carries
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
}

// Cookie encodes an owner and a purpose.
func Cookie(kind Kind, purpose Purpose, id uint32) uint64 {
	return cookieApp | uint64(kind)<<40 | uint64(purpose)<<32 | uint64(id)
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

// assignIDs gives each name its nameID; on a collision (about 1 in 2,000 configs of 4K VMIs)
// the name later in sorted order takes the next free id. names must be sorted.
func assignIDs(names []string) map[string]uint32 {
	ids := make(map[string]uint32, len(names))
	taken := make(map[uint32]bool, len(names))
	for _, n := range names {
		id := nameID(n)
		for taken[id] || id == 0 {
			id++
		}
		taken[id] = true
		ids[n] = id
	}
	return ids
}
