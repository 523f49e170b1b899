package openflow

// Codec: Flow and Group values to libOpenflow openflow13 messages, and OpenFlow 1.3 wire bytes
// (flow-stats and group-desc records as OVS sends them) back to values.
//
// Encoding builds libOpenflow messages, but match fields go through a raw OXM value type
// (oxmBytes) because libOpenflow's typed fields cover only some fields and masks. Decoding
// reads the wire bytes itself rather than libOpenflow's parsed structs: libOpenflow's parser
// fails on any OXM field or action it does not know (so one foreign flow would fail a whole
// dump), drops MAC values (EthDstField.UnmarshalBinary copies into a nil slice), and steps
// over pop_vlan with the wrong length. Everything this package does not model decodes to
// UnknownField matches and UnknownAction actions that keep their raw bytes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"antrea.io/libOpenflow/openflow13"
)

// OpenFlow 1.3 constants the codec needs beyond libOpenflow's.
const (
	ofpCMLNoBuffer     = 0xffff     // OFPCML_NO_BUFFER: max_len sending the whole packet
	ofpNoBuffer        = 0xffffffff // OFP_NO_BUFFER
	nxExperimenter     = 0x00002320 // Nicira vendor id
	nxastResubmitTable = 14         // NXAST_RESUBMIT_TABLE
	nxInPort           = 0xfff8     // OFPP_IN_PORT in the 16-bit numbering: "keep in_port"
)

// maxMessage is the largest flow or group mod we send: an OpenFlow length is 16 bits, and the
// bundle-add message that carries the mod adds a 16-byte header and 8 bytes.
const maxMessage = 0xffff - 24

// UnknownAction is an action or instruction ovsgw does not model, decoded from a flow or group
// that someone else installed. Raw is its complete OpenFlow 1.3 encoding (an ofp_action, or an
// ofp_instruction when Instruction is set), which encoding writes back unchanged. It prints as
// "unknown_action(type=...,raw=...)", which ovs-ofctl does not read.
type UnknownAction struct {
	Instruction bool
	Raw         []byte
}

func (UnknownAction) action() {}

func (a UnknownAction) String() string {
	kind := "action"
	if a.Instruction {
		kind = "instruction"
	}
	if len(a.Raw) < 4 {
		return fmt.Sprintf("unknown_%s(raw=%x)", kind, a.Raw)
	}
	t := be16(a.Raw)
	if t == 0xffff && len(a.Raw) >= 10 && !a.Instruction {
		return fmt.Sprintf("unknown_action(type=0xffff,experimenter=%#x,subtype=%d,raw=%x)",
			be32(a.Raw[4:]), be16(a.Raw[8:]), a.Raw)
	}
	return fmt.Sprintf("unknown_%s(type=%d,raw=%x)", kind, t, a.Raw)
}

// oxmBytes is a raw OXM payload (value, or value followed by mask). It implements
// util.Message so that a libOpenflow MatchField can carry any field of any class.
type oxmBytes []byte

func (b *oxmBytes) Len() uint16                    { return uint16(len(*b)) }
func (b *oxmBytes) MarshalBinary() ([]byte, error) { return *b, nil }
func (b *oxmBytes) UnmarshalBinary(d []byte) error { *b = rawCopy(d); return nil }
func newOXMBytes(b []byte) *oxmBytes               { v := oxmBytes(b); return &v }

func be16(b []byte) uint16    { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32    { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64    { return binary.BigEndian.Uint64(b) }
func rawCopy(b []byte) []byte { return append([]byte(nil), b...) }

func secNsec(sec, nsec uint32) time.Duration {
	return time.Duration(sec)*time.Second + time.Duration(nsec)
}

// rawAction is an encoded action written as is (an UnknownAction's bytes).
type rawAction []byte

func (a *rawAction) Header() *openflow13.ActionHeader {
	return &openflow13.ActionHeader{Type: be16(*a), Length: be16((*a)[2:])}
}
func (a *rawAction) Len() uint16                    { return uint16(len(*a)) }
func (a *rawAction) MarshalBinary() ([]byte, error) { return *a, nil }
func (a *rawAction) UnmarshalBinary(d []byte) error { *a = rawCopy(d); return nil }

// rawInstruction is an encoded instruction written as is (an UnknownAction's bytes).
type rawInstruction []byte

func (i *rawInstruction) Len() uint16                    { return uint16(len(*i)) }
func (i *rawInstruction) MarshalBinary() ([]byte, error) { return *i, nil }
func (i *rawInstruction) UnmarshalBinary(d []byte) error { *i = rawCopy(d); return nil }
func (i *rawInstruction) AddAction(openflow13.Action, bool) error {
	return errors.New("raw instruction takes no actions")
}

// encodeMatch turns m (normalized first) into an OXM match.
func encodeMatch(m Match) (openflow13.Match, error) {
	out := *openflow13.NewMatch()
	for _, e := range m.Normalize() {
		mf := openflow13.MatchField{Value: newOXMBytes(e.Value)}
		if !e.Field.Known() {
			if e.Field < fieldUnknown {
				return out, fmt.Errorf("match: invalid field %d", int(e.Field))
			}
			class, oxm, hasMask := e.Field.unknownOXM()
			mf.Class, mf.Field, mf.HasMask = class, oxm, hasMask
			if hasMask {
				mf.Mask = newOXMBytes(nil) // the mask is inside Value, as received
			}
		} else {
			info := fieldInfos[e.Field]
			mf.Class, mf.Field = info.Class, info.OXM
			if len(e.Value) != info.Width || (e.Mask != nil && len(e.Mask) != info.Width) {
				return out, fmt.Errorf("match %s: value or mask is not %d bytes", e.Field, info.Width)
			}
			if !validValue(e.Field, append(append([]byte(nil), e.Value...), e.Mask...)) {
				return out, fmt.Errorf("match %s: value or mask beyond the field's %#x", e.Field, vlanVIDBits)
			}
			if e.Mask != nil {
				mf.HasMask, mf.Mask = true, newOXMBytes(e.Mask)
			}
		}
		if len(e.Value)+len(e.Mask) > 0xff {
			return out, fmt.Errorf("match %s: payload too long", e.Field)
		}
		mf.Length = uint8(len(e.Value) + len(e.Mask))
		out.AddField(mf)
	}
	return out, nil
}

// encodeAction encodes one action (not GotoTable, which is an instruction).
func encodeAction(a Action) (openflow13.Action, error) {
	switch a := a.(type) {
	case Output:
		o := openflow13.NewActionOutput(a.Port)
		o.MaxLen = 0 // meaningless except for CONTROLLER
		if a.Port == PortController {
			o.MaxLen = ofpCMLNoBuffer // what ovs-ofctl's plain "CONTROLLER" means
		}
		return o, nil
	case PopVLAN:
		return openflow13.NewActionPopVlan(), nil
	case PushVLAN:
		t := a.EtherType
		if t == 0 {
			t = 0x8100
		}
		return openflow13.NewActionPushVlan(t), nil
	case SetField:
		if !a.Field.Known() {
			return nil, fmt.Errorf("%s: cannot encode an unknown field", a)
		}
		info := fieldInfos[a.Field]
		if len(a.Value) != info.Width {
			return nil, fmt.Errorf("%s: value is %d bytes, field is %d", a, len(a.Value), info.Width)
		}
		return openflow13.NewActionSetField(openflow13.MatchField{
			Class: info.Class, Field: info.OXM, Length: uint8(info.Width), Value: newOXMBytes(a.Value),
		}), nil
	case GroupAction:
		return openflow13.NewActionGroup(a.ID), nil
	case DecTTL:
		return openflow13.NewActionDecNwTtl(), nil
	case Resubmit:
		return openflow13.NewNXActionResubmitTableAction(nxInPort, a.Table), nil
	case CT:
		r := rawAction(encodeCT(a))
		return &r, nil
	case Move:
		b, err := encodeMove(a)
		if err != nil {
			return nil, err
		}
		r := rawAction(b)
		return &r, nil
	case Conjunction:
		b, err := encodeConjunction(a)
		if err != nil {
			return nil, err
		}
		r := rawAction(b)
		return &r, nil
	case Controller:
		b, err := encodeController(a)
		if err != nil {
			return nil, err
		}
		r := rawAction(b)
		return &r, nil
	case Note:
		b, err := encodeNote(a)
		if err != nil {
			return nil, err
		}
		r := rawAction(b)
		return &r, nil
	case MeterAction:
		return nil, fmt.Errorf("%s is an instruction: only first in a flow's actions", a)
	case UnknownAction:
		if a.Instruction || len(a.Raw) < 8 || len(a.Raw)%8 != 0 || int(be16(a.Raw[2:])) != len(a.Raw) {
			return nil, fmt.Errorf("%s: not a well-formed action", a)
		}
		r := rawAction(a.Raw)
		return &r, nil
	case nil:
		return nil, errors.New("nil action")
	}
	return nil, fmt.Errorf("action %s (%T) cannot be encoded", a, a)
}

// encodeActionList encodes a bucket's actions; instructions are not allowed there.
func encodeActionList(actions []Action) ([]openflow13.Action, error) {
	out := make([]openflow13.Action, 0, len(actions))
	for _, a := range actions {
		switch a := a.(type) {
		case GotoTable, MeterAction:
			return nil, fmt.Errorf("%s is not allowed in a group bucket", a)
		case UnknownAction:
			if a.Instruction {
				return nil, fmt.Errorf("%s is not allowed in a group bucket", a)
			}
		}
		oa, err := encodeAction(a)
		if err != nil {
			return nil, err
		}
		out = append(out, oa)
	}
	return out, nil
}

// encodeInstructions turns a flow's actions into instructions: a run of actions becomes one
// apply-actions, an UnknownAction instruction stays in place, a Meter must be first (OVS's
// order of instructions), a GotoTable must be last, and Conjunction actions come alone
// (checkConjunctions).
func encodeInstructions(actions []Action) ([]openflow13.Instruction, error) {
	if err := checkConjunctions(actions); err != nil {
		return nil, err
	}
	var out []openflow13.Instruction
	var apply *openflow13.InstrActions
	for i, a := range actions {
		switch a := a.(type) {
		case GotoTable:
			if i != len(actions)-1 {
				return nil, fmt.Errorf("%s must be the last action", a)
			}
			out = append(out, openflow13.NewInstrGotoTable(a.Table))
			continue
		case MeterAction:
			if i != 0 {
				return nil, fmt.Errorf("%s must be the first action", a)
			}
			out = append(out, openflow13.NewInstrMeter(a.ID))
			continue
		case UnknownAction:
			if a.Instruction {
				if len(a.Raw) < 4 || int(be16(a.Raw[2:])) != len(a.Raw) {
					return nil, fmt.Errorf("%s: not a well-formed instruction", a)
				}
				r := rawInstruction(a.Raw)
				out, apply = append(out, &r), nil
				continue
			}
		}
		oa, err := encodeAction(a)
		if err != nil {
			return nil, err
		}
		if apply == nil {
			for _, in := range out {
				if ia, ok := in.(*openflow13.InstrActions); ok && ia.Type == openflow13.InstrType_APPLY_ACTIONS {
					return nil, errors.New("actions split around an instruction: only one apply-actions is allowed")
				}
			}
			apply = openflow13.NewInstrApplyActions()
			out = append(out, apply)
		}
		if err := apply.AddAction(oa, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encodeFlowMod builds the flow mod for cmd. ModifyStrict is sent as OFPFC_ADD: in OpenFlow 1.3
// OVS never changes a cookie on MODIFY (it decodes new_cookie as "unchanged"), while an ADD
// that meets an entry with the same table, priority and match replaces its actions and cookie
// in place and keeps its packet and byte counters (only the duration restarts). DeleteStrict
// matches the cookie exactly, so an entry that someone else re-installed meanwhile survives.
func encodeFlowMod(cmd FlowCommand, f Flow) (*openflow13.FlowMod, error) {
	fm := openflow13.NewFlowMod()
	fm.TableId, fm.Priority, fm.Cookie = f.Table, f.Priority, f.Cookie
	fm.BufferId = ofpNoBuffer
	// libOpenflow writes OutPort into out_group too; P_ANY and OFPG_ANY are both 0xffffffff.
	fm.OutPort, fm.OutGroup = openflow13.P_ANY, openflow13.OFPG_ANY
	if f.Table > openflow13.OFPTT_MAX {
		return nil, fmt.Errorf("table %d is not a flow table", f.Table)
	}
	m, err := encodeMatch(f.Match)
	if err != nil {
		return nil, err
	}
	fm.Match = m
	switch cmd {
	case FlowAdd, FlowModifyStrict:
		fm.Command = openflow13.FC_ADD
		if fm.Instructions, err = encodeInstructions(f.Actions); err != nil {
			return nil, err
		}
	case FlowDeleteStrict:
		fm.Command = openflow13.FC_DELETE_STRICT
		fm.CookieMask = ^uint64(0)
	default:
		return nil, fmt.Errorf("unknown flow command %d", cmd)
	}
	if int(fm.Len()) > maxMessage {
		return nil, errors.New("flow does not fit in one OpenFlow message")
	}
	return fm, nil
}

// encodeGroupMod builds the group mod for cmd. Buckets carry no watch port or group, and a
// select group's buckets weight 1 (what ovs-ofctl gives a bucket without weight=).
func encodeGroupMod(cmd GroupCommand, g Group) (*openflow13.GroupMod, error) {
	gm := openflow13.NewGroupMod()
	gm.GroupId, gm.Type = g.ID, uint8(g.Type)
	if g.ID > openflow13.OFPG_MAX {
		return nil, fmt.Errorf("group id %d is reserved", g.ID)
	}
	switch cmd {
	case GroupAdd:
		gm.Command = openflow13.OFPGC_ADD
	case GroupModify:
		gm.Command = openflow13.OFPGC_MODIFY
	case GroupDelete:
		gm.Command = openflow13.OFPGC_DELETE
		return gm, nil
	default:
		return nil, fmt.Errorf("unknown group command %d", cmd)
	}
	size := 16 // ofp_group_mod header; summed here because libOpenflow's 16-bit Len wraps
	for _, b := range g.Buckets {
		ob := openflow13.NewBucket()
		if g.Type == GroupSelect {
			ob.Weight = 1
		}
		acts, err := encodeActionList(b.Actions)
		if err != nil {
			return nil, err
		}
		ob.Actions = acts
		size += 16 // ofp_bucket
		for _, a := range acts {
			size += int(a.Len())
		}
		gm.AddBucket(*ob)
	}
	if size > maxMessage {
		return nil, fmt.Errorf("group %d with %d buckets needs %d bytes, more than one OpenFlow message holds (%d)", g.ID, len(g.Buckets), size, maxMessage)
	}
	return gm, nil
}

// errTruncated reports wire data shorter than its own length fields say.
var errTruncated = errors.New("openflow: truncated or malformed message")

// errBadLength: OpenFlow 1.3 pads every action and instruction to a multiple of 8 bytes, and
// Open vSwitch refuses others (OFPBAC_BAD_LEN, OFPBIC_BAD_LEN); one that is not cannot be put
// back on the wire as it came.
var errBadLength = errors.New("openflow: action or instruction length not a multiple of 8")

// decodeMatch reads an ofp_match at the start of b; n is its padded length.
func decodeMatch(b []byte) (m Match, n int, err error) {
	if len(b) < 4 {
		return nil, 0, errTruncated
	}
	typ, length := be16(b), int(be16(b[2:]))
	n = (length + 7) / 8 * 8
	if typ != openflow13.MatchType_OXM || length < 4 || n > len(b) {
		return nil, 0, fmt.Errorf("openflow: unsupported match (type %d, length %d)", typ, length)
	}
	if m, err = decodeOXMs(b[4:length]); err != nil {
		return nil, 0, err
	}
	return m, n, nil
}

// decodeOXMs reads a run of OXM fields (a match's body, or a packet-in's metadata).
func decodeOXMs(b []byte) (Match, error) {
	var m Match
	for p := 0; p < len(b); {
		if p+4 > len(b) {
			return nil, errTruncated
		}
		class, fb, plen := be16(b[p:]), b[p+2], int(b[p+3])
		if p+4+plen > len(b) {
			return nil, errTruncated
		}
		payload := b[p+4 : p+4+plen]
		p += 4 + plen
		oxm, hasMask := fb>>1, fb&1 == 1
		if f, ok := FieldByOXM(class, oxm); ok && validValue(f, payload) {
			w := fieldInfos[f].Width
			switch {
			case !hasMask && plen == w:
				m = append(m, MatchField{Field: f, Value: rawCopy(payload)})
				continue
			case hasMask && plen == 2*w:
				m = append(m, MatchField{Field: f, Value: rawCopy(payload[:w]), Mask: rawCopy(payload[w:])})
				continue
			}
		}
		m = append(m, MatchField{Field: UnknownField(class, oxm, hasMask), Value: rawCopy(payload)})
	}
	m = m.Normalize() // sorted by field: a field given twice is given in a row
	for i := 1; i < len(m); i++ {
		if m[i].Field == m[i-1].Field { // OpenFlow allows a field once (OVS: OFPBMC_DUP_FIELD)
			return nil, fmt.Errorf("openflow: match has field %s twice", m[i].Field)
		}
	}
	return m, nil
}

// validValue reports whether a known field's value (and mask) is one ovsgw's types and text can
// hold; any other stays an UnknownField, with its bytes. Only VLAN_VID is narrower than its
// width: 13 bits.
func validValue(f Field, payload []byte) bool {
	if f.Info().kind != kindVlanVID {
		return true
	}
	for i := 0; i+2 <= len(payload); i += 2 {
		if be16(payload[i:]) > vlanVIDBits {
			return false
		}
	}
	return true
}

// decodeActions reads a list of ofp_action.
func decodeActions(b []byte) ([]Action, error) {
	var out []Action
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errTruncated
		}
		l := int(be16(b[2:]))
		if l < 4 || l > len(b) {
			return nil, errTruncated
		}
		if l%8 != 0 {
			return nil, errBadLength
		}
		out = append(out, decodeAction(b[:l]))
		b = b[l:]
	}
	return out, nil
}

// decodeAction reads one action; whatever ovsgw does not model (or would encode differently)
// becomes an UnknownAction, so that decoding never loses or invents information.
func decodeAction(r []byte) Action {
	unknown := UnknownAction{Raw: rawCopy(r)}
	switch be16(r) {
	case openflow13.ActionType_Output:
		if len(r) == 16 {
			port, maxLen := be32(r[4:]), be16(r[8:])
			if port != PortController || maxLen == ofpCMLNoBuffer {
				return Output{Port: port}
			}
			if maxLen != 0 {
				return Controller{MaxLen: maxLen}
			}
		}
	case openflow13.ActionType_PushVlan:
		if len(r) == 8 {
			return PushVLAN{EtherType: be16(r[4:])}
		}
	case openflow13.ActionType_PopVlan:
		if len(r) == 8 {
			return PopVLAN{}
		}
	case openflow13.ActionType_Group:
		if len(r) == 8 {
			return GroupAction{ID: be32(r[4:])}
		}
	case openflow13.ActionType_DecNwTtl:
		if len(r) == 8 && be32(r[4:]) == 0 {
			return DecTTL{}
		}
	case openflow13.ActionType_SetField:
		if len(r) >= 8 {
			class, fb, plen := be16(r[4:]), r[6], int(r[7])
			if f, ok := FieldByOXM(class, fb>>1); ok && fb&1 == 0 && plen == fieldInfos[f].Width && 8+plen <= len(r) {
				return SetField{Field: f, Value: rawCopy(r[8 : 8+plen])}
			}
		}
	case openflow13.ActionType_Experimenter:
		if len(r) < 10 || be32(r[4:]) != nxExperimenter {
			break
		}
		switch be16(r[8:]) {
		case nxastResubmitTable:
			if len(r) == 16 && be16(r[10:]) == nxInPort {
				return Resubmit{Table: r[12]}
			}
		case nxastCT:
			if a, ok := decodeCT(r); ok {
				return a
			}
		case nxastRegMove:
			if a, ok := decodeMove(r); ok {
				return a
			}
		case nxastConjunction:
			if a, ok := decodeConjunction(r); ok {
				return a
			}
		case nxastController2:
			if a, ok := decodeController2(r); ok {
				return a
			}
		case nxastNote:
			if a, ok := decodeNote(r); ok {
				return a
			}
		}
	}
	return unknown
}

// decodeInstructions reads a flow's instructions into the flat action list Flow uses.
func decodeInstructions(b []byte) ([]Action, error) {
	var out []Action
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errTruncated
		}
		l := int(be16(b[2:]))
		if l < 4 || l > len(b) {
			return nil, errTruncated
		}
		if l%8 != 0 {
			return nil, errBadLength
		}
		switch be16(b) {
		case openflow13.InstrType_APPLY_ACTIONS:
			if l < 8 {
				return nil, errTruncated
			}
			acts, err := decodeActions(b[8:l])
			if err != nil {
				return nil, err
			}
			out = append(out, acts...)
		case openflow13.InstrType_GOTO_TABLE:
			if l != 8 {
				return nil, errTruncated
			}
			out = append(out, GotoTable{Table: b[4]})
		case openflow13.InstrType_METER:
			if l != 8 {
				return nil, errTruncated
			}
			out = append(out, MeterAction{ID: be32(b[4:])})
		default:
			out = append(out, UnknownAction{Instruction: true, Raw: rawCopy(b[:l])})
		}
		b = b[l:]
	}
	return out, nil
}

// flowStatsLen is the fixed part of ofp_flow_stats before the match.
const flowStatsLen = 48

// decodeFlowStats reads one ofp_flow_stats record; n is its length. Timeouts and flags are
// not part of Flow and are dropped.
func decodeFlowStats(b []byte) (f InstalledFlow, n int, err error) {
	if len(b) < flowStatsLen+8 {
		return f, 0, errTruncated
	}
	n = int(be16(b))
	if n < flowStatsLen+8 || n > len(b) {
		return f, 0, errTruncated
	}
	f.Table = b[2]
	f.Duration = secNsec(be32(b[4:]), be32(b[8:]))
	f.Priority = be16(b[12:])
	f.Cookie = be64(b[24:])
	f.Packets, f.Bytes = be64(b[32:]), be64(b[40:])
	m, ml, err := decodeMatch(b[flowStatsLen:n])
	if err != nil {
		return f, 0, err
	}
	f.Match = m
	if f.Actions, err = decodeInstructions(b[flowStatsLen+ml : n]); err != nil {
		return f, 0, err
	}
	return f, n, nil
}

// decodeFlowCounters reads the fixed part of one ofp_flow_stats record (table, cookie,
// counters) and skips its match and instructions; n is its length. It accepts what
// decodeFlowStats accepts, and more: a record whose match or instructions it would refuse.
func decodeFlowCounters(b []byte) (c FlowCounters, n int, err error) {
	if len(b) < flowStatsLen+8 {
		return c, 0, errTruncated
	}
	n = int(be16(b))
	if n < flowStatsLen+8 || n > len(b) {
		return c, 0, errTruncated
	}
	c.Table, c.Cookie = b[2], be64(b[24:])
	c.Packets, c.Bytes = be64(b[32:]), be64(b[40:])
	return c, n, nil
}

// decodeGroupDesc reads one ofp_group_desc record; n is its length. Bucket weights and watch
// ports are not part of Bucket and are dropped.
func decodeGroupDesc(b []byte) (g Group, n int, err error) {
	if len(b) < 8 {
		return g, 0, errTruncated
	}
	n = int(be16(b))
	if n < 8 || n > len(b) {
		return g, 0, errTruncated
	}
	g.Type, g.ID = GroupType(b[2]), be32(b[4:])
	for p := 8; p < n; {
		if p+16 > n {
			return g, 0, errTruncated
		}
		l := int(be16(b[p:]))
		if l < 16 || p+l > n {
			return g, 0, errTruncated
		}
		acts, err := decodeActions(b[p+16 : p+l])
		if err != nil {
			return g, 0, err
		}
		g.Buckets = append(g.Buckets, Bucket{Actions: acts})
		p += l
	}
	return g, n, nil
}
