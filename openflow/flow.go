package openflow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"
)

// MatchField is one field of a match: a value and an optional mask (nil means exact). Value and
// Mask have the field's width.
type MatchField struct {
	Field Field
	Value []byte
	Mask  []byte
}

// Match is a set of fields, at most one entry per field. Build it with the Match methods so that
// it stays in canonical order; Normalize restores that order for a decoded match.
type Match []MatchField

// With returns m with field f set to exactly v.
func (m Match) With(f Field, v []byte) Match { return m.WithMasked(f, v, nil) }

// WithUint returns m with field f set to exactly v.
func (m Match) WithUint(f Field, v uint64) Match { return m.WithMasked(f, f.Uint(v), nil) }

// WithMasked returns m with field f matching v under mask (nil mask: exact).
func (m Match) WithMasked(f Field, v, mask []byte) Match {
	out := make(Match, 0, len(m)+1)
	for _, e := range m {
		if e.Field != f {
			out = append(out, e)
		}
	}
	out = append(out, MatchField{Field: f, Value: v, Mask: mask})
	return out.Normalize()
}

// Normalize sorts the fields into canonical order, drops all-ones masks (an exact match),
// clears value bits outside the mask and drops all-zero masks (a wildcard), so that a match
// decoded from OVS (which stores value&mask and omits wildcarded fields) and one built by the
// compiler compare equal.
func (m Match) Normalize() Match {
	out := make(Match, 0, len(m))
	for _, e := range m {
		if e.Mask != nil {
			if fullMask(e.Field, e.Mask) {
				e.Mask = nil
			} else if isAllZeros(e.Mask) {
				continue
			} else if len(e.Mask) == len(e.Value) {
				v := make([]byte, len(e.Value))
				for i := range v {
					v[i] = e.Value[i] & e.Mask[i]
				}
				e.Value = v
			}
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

func isAllZeros(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Get returns the entry for field f.
func (m Match) Get(f Field) (MatchField, bool) {
	for _, e := range m {
		if e.Field == f {
			return e, true
		}
	}
	return MatchField{}, false
}

// outsideMask reports value bits a mask does not cover (Normalize clears them).
func outsideMask(v, mask []byte) bool {
	for i := range v {
		if i < len(mask) && v[i]&^mask[i] != 0 {
			return true
		}
	}
	return false
}

// vlanVIDBits are the bits of OpenFlow 1.3's VLAN_VID that mean something: the VID and the
// present bit (OFPVID_PRESENT).
const vlanVIDBits = 0x1fff

// fullMask reports whether mask covers every bit of field f, which makes it an exact match:
// all ones, or for VLAN_VID its 13 bits.
func fullMask(f Field, mask []byte) bool {
	return isAllOnes(mask) || (f.Info().kind == kindVlanVID && toUint(mask) == vlanVIDBits)
}

func isAllOnes(b []byte) bool {
	for _, x := range b {
		if x != 0xff {
			return false
		}
	}
	return true
}

// String prints the match as ovs-ofctl reads it, fields in canonical order.
func (m Match) String() string {
	parts := make([]string, 0, len(m))
	for _, e := range m.Normalize() {
		parts = append(parts, e.String())
	}
	return strings.Join(parts, ",")
}

func (e MatchField) String() string {
	info := e.Field.Info()
	if info.kind == kindVlanVID {
		v := toUint(e.Value)
		if e.Mask == nil && v&VlanPresent != 0 {
			return fmt.Sprintf("dl_vlan=%d", v&0x0fff)
		}
		mask := uint64(0x1fff)
		if e.Mask != nil {
			mask = toUint(e.Mask)
		}
		return fmt.Sprintf("vlan_tci=0x%04x/0x%04x", v, mask)
	}
	if info.kind == kindCTState {
		return "ct_state=" + ctStateString(uint32(toUint(e.Value)), e.Mask)
	}
	s := info.Name + "=" + formatValue(e.Field, e.Value)
	if e.Mask != nil {
		if info.kind == kindIPv4 || info.kind == kindIPv6 {
			if ones, bits := net.IPMask(e.Mask).Size(); bits > 0 { // a prefix: CIDR notation
				s += fmt.Sprintf("/%d", ones)
			} else {
				s += "/" + formatValue(e.Field, e.Mask)
			}
		} else if info.kind == kindMAC {
			s += "/" + formatValue(e.Field, e.Mask)
		} else {
			s += fmt.Sprintf("/0x%x", toUint(e.Mask))
		}
	}
	return s
}

// Equal reports whether two entries match the same packets.
func (e MatchField) Equal(o MatchField) bool {
	return e.Field == o.Field && bytes.Equal(e.Value, o.Value) && bytes.Equal(e.Mask, o.Mask)
}

// Flow is one OpenFlow flow entry as ovsgw wants it. Actions run in order; a GotoTable, if any,
// is last (it is encoded as the goto-table instruction, the rest as apply-actions).
type Flow struct {
	Table    uint8
	Priority uint16
	Cookie   uint64
	Match    Match
	Actions  []Action
}

// Key identifies a flow within a switch: OpenFlow allows one entry per table, priority and match.
type Key struct {
	Table    uint8
	Priority uint16
	Match    string // an opaque encoding of the normalized match (not its text: see identity)
}

// Key returns the flow's identity.
func (f Flow) Key() Key { return Key{Table: f.Table, Priority: f.Priority, Match: f.Match.identity()} }

// identity encodes the normalized match in bytes: equal exactly when the canonical texts are,
// and several times cheaper to make than the text, which a diff of 70K flows makes twice each.
// Per field: the field number (uvarint), the value's length and bytes, the mask's length (0:
// exact) and bytes; decodeIdentity (table.go) reads it back into the Match.
func (m Match) identity() string {
	for i, e := range m {
		if (i > 0 && m[i-1].Field >= e.Field) || (e.Mask != nil && (fullMask(e.Field, e.Mask) || isAllZeros(e.Mask) || outsideMask(e.Value, e.Mask))) {
			m = m.Normalize()
			break
		}
	}
	b := make([]byte, 0, 16*len(m))
	for _, e := range m {
		b = binary.AppendUvarint(b, uint64(e.Field))
		b = append(b, byte(len(e.Value)))
		b = append(b, e.Value...)
		b = append(b, byte(len(e.Mask))) // 0: exact (Normalize turns an empty mask into none)
		b = append(b, e.Mask...)
	}
	return string(b)
}

// ActionsString prints the actions as ovs-ofctl reads them ("drop" when there are none).
func (f Flow) ActionsString() string { return actionsString(f.Actions) }

func actionsString(actions []Action) string {
	if len(actions) == 0 {
		return "drop"
	}
	parts := make([]string, len(actions))
	for i, a := range actions {
		parts[i] = a.String()
	}
	return strings.Join(parts, ",")
}

// String is the flow's canonical text: the form `ovs-ofctl dump-flows --no-stats` prints and
// `ovs-ofctl add-flows` reads.
func (f Flow) String() string {
	m := f.Match.String()
	if m != "" {
		m = "," + m
	}
	return fmt.Sprintf("cookie=%#x, table=%d, priority=%d%s actions=%s",
		f.Cookie, f.Table, f.Priority, m, f.ActionsString())
}

// Equal reports whether two flows are the same entry with the same cookie and actions.
func (f Flow) Equal(o Flow) bool {
	return f.Cookie == o.Cookie && f.Key() == o.Key() && f.ActionsString() == o.ActionsString()
}

// InstalledFlow is a flow read back from the switch, with its counters.
type InstalledFlow struct {
	Flow
	Packets  uint64
	Bytes    uint64
	Duration time.Duration
}

// FlowCounters are an installed flow's counters, with its table and cookie only: what a reader
// of counters needs, without decoding (and allocating) matches and actions.
type FlowCounters struct {
	Table          uint8
	Cookie         uint64
	Packets, Bytes uint64
}

// GroupType is the OpenFlow group type.
type GroupType uint8

// Group types (OpenFlow 1.3 section 5.6.1).
const (
	GroupAll      GroupType = 0
	GroupSelect   GroupType = 1
	GroupIndirect GroupType = 2
	GroupFF       GroupType = 3
)

func (t GroupType) String() string {
	switch t {
	case GroupAll:
		return "all"
	case GroupSelect:
		return "select"
	case GroupIndirect:
		return "indirect"
	case GroupFF:
		return "ff"
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// Bucket is one bucket of a group: its actions run on a copy of the packet.
type Bucket struct {
	Actions []Action
}

// Group is one OpenFlow group entry.
type Group struct {
	ID      uint32
	Type    GroupType
	Buckets []Bucket
}

// String is the group's canonical text, as `ovs-ofctl add-groups` reads it.
func (g Group) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group_id=%d,type=%s", g.ID, g.Type)
	for _, bk := range g.Buckets {
		b.WriteString(",bucket=actions=")
		b.WriteString(actionsString(bk.Actions))
	}
	return b.String()
}

// Equal reports whether two groups are identical.
func (g Group) Equal(o Group) bool { return g.String() == o.String() }
