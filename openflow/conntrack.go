package openflow

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Connection tracking state bits (the ct_state field, ovs-fields(7)).
const (
	CTNew uint32 = 0x01
	CTEst uint32 = 0x02
	CTRel uint32 = 0x04
	CTRpl uint32 = 0x08
	CTInv uint32 = 0x10
	CTTrk uint32 = 0x20
)

// ctStateNames in the order ovs-ofctl prints them.
var ctStateNames = []struct {
	bit  uint32
	name string
}{{CTNew, "new"}, {CTEst, "est"}, {CTRel, "rel"}, {CTRpl, "rpl"}, {CTInv, "inv"}, {CTTrk, "trk"}}

// WithCTState returns m matching connections whose state has every bit of set and none of unset.
func (m Match) WithCTState(set, unset uint32) Match {
	return m.WithMasked(FieldCTState, FieldCTState.Uint(uint64(set)), FieldCTState.Uint(uint64(set|unset)))
}

// ctStateString prints ct_state as ovs-ofctl does: +flag for a set bit, -flag for a cleared one.
func ctStateString(v uint32, maskBytes []byte) string {
	mask := ^uint32(0)
	if maskBytes != nil {
		mask = uint32(toUint(maskBytes))
	}
	var b strings.Builder
	rest := mask
	for _, f := range ctStateNames {
		if mask&f.bit == 0 {
			continue
		}
		if v&f.bit != 0 {
			b.WriteString("+")
		} else {
			b.WriteString("-")
		}
		b.WriteString(f.name)
		rest &^= f.bit
	}
	if rest != 0 || b.Len() == 0 { // bits ovsgw has no name for: the whole value and mask
		return fmt.Sprintf("%#x/%#x", v, mask)
	}
	return b.String()
}

// CT sends the packet through the connection tracker in Zone. With Commit the connection is
// remembered; with Recirculate the packet continues in Table with its ct_state set (otherwise
// it continues with the next action).
type CT struct {
	Commit      bool
	Zone        uint16
	Recirculate bool
	Table       uint8
}

func (CT) action() {}

func (a CT) String() string {
	var parts []string
	if a.Commit {
		parts = append(parts, "commit")
	}
	if a.Recirculate {
		parts = append(parts, fmt.Sprintf("table=%d", a.Table))
	}
	if a.Zone != 0 {
		parts = append(parts, fmt.Sprintf("zone=%d", a.Zone))
	}
	return "ct(" + strings.Join(parts, ",") + ")"
}

// Nicira CT action layout (nx_action_conntrack): experimenter header, flags, zone source,
// zone value, recirculation table, pad, alg; no nested actions.
const (
	nxastCT          = 35
	nxCTFlagCommit   = 1
	nxCTRecircNone   = 0xff
	nxCTActionLength = 24
)

func encodeCT(a CT) []byte {
	b := make([]byte, nxCTActionLength)
	binary.BigEndian.PutUint16(b[0:], 0xffff) // OFPAT_EXPERIMENTER
	binary.BigEndian.PutUint16(b[2:], nxCTActionLength)
	binary.BigEndian.PutUint32(b[4:], nxExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastCT)
	if a.Commit {
		binary.BigEndian.PutUint16(b[10:], nxCTFlagCommit)
	}
	// b[12:16] zone_src = 0: the zone is the immediate value below.
	binary.BigEndian.PutUint16(b[16:], a.Zone)
	b[18] = nxCTRecircNone
	if a.Recirculate {
		b[18] = a.Table
	}
	return b
}

// decodeCT reads a CT action ovsgw could have written; ok is false for any other form (zone
// from a field, NAT, alg, nested actions), which stays an UnknownAction.
func decodeCT(r []byte) (CT, bool) {
	if len(r) != nxCTActionLength || binary.BigEndian.Uint32(r[12:]) != 0 || binary.BigEndian.Uint16(r[22:]) != 0 {
		return CT{}, false
	}
	flags := binary.BigEndian.Uint16(r[10:])
	if flags&^nxCTFlagCommit != 0 {
		return CT{}, false
	}
	a := CT{Commit: flags&nxCTFlagCommit != 0, Zone: binary.BigEndian.Uint16(r[16:])}
	if r[18] != nxCTRecircNone {
		a.Recirculate, a.Table = true, r[18]
	}
	return a, true
}
