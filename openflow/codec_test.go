package openflow

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"antrea.io/libOpenflow/openflow13"
)

// codecFlows covers every field (exact and masked where OpenFlow allows a mask) and every
// action kind, including special output ports and both push_vlan EtherTypes.
func codecFlows() []Flow {
	flows := testFlows()
	var m Match
	for f := Field(0); f < numFields; f++ {
		w := f.Info().Width
		v, mask := bytes.Repeat([]byte{0x12}, w), bytes.Repeat([]byte{0xf0}, w)
		if f == FieldVlanVID { // 13 bits
			v, mask = f.Uint(0x1212), f.Uint(0x10f0)
		}
		flows = append(flows, Flow{Table: 20, Priority: uint16(f), Match: m.With(f, v), Actions: []Action{SetField{f, v}}})
		if f != FieldConjID && f != FieldInPort && f != FieldEthType && f != FieldIPProto && f != FieldARPOp &&
			f != FieldICMPType && f != FieldICMPCode && f != FieldICMPv6Type && f != FieldICMPv6Code {
			flows = append(flows, Flow{Table: 21, Priority: uint16(f), Match: m.WithMasked(f, v, mask)})
		}
	}
	return append(flows,
		Flow{Table: 22, Priority: 1, Actions: []Action{Output{PortInPort}, Output{PortController}, Output{PortLocal}, Output{0xfff0}}},
		Flow{Table: 22, Priority: 2, Actions: []Action{PushVLAN{EtherType: 0x88a8}, PopVLAN{}, GroupAction{0xffffff00}}},
		Flow{Table: 22, Priority: 3, Actions: []Action{Resubmit{0}, Resubmit{254}, GotoTable{254}}},
		Flow{Table: 22, Priority: 4, Actions: []Action{CT{Commit: true, Zone: 9}, CT{Recirculate: true, Table: 23}, CT{}}},
		Flow{Table: 22, Priority: 5, Actions: []Action{Move{FieldEthSrc, FieldEthDst}, Move{FieldReg0, FieldReg7}, Move{FieldARPSPA, FieldARPTPA}, Move{FieldConjID, FieldReg3}}},
		Flow{Table: 22, Priority: 6, Actions: []Action{Conjunction{ID: 7, Clause: 1, NClauses: 2}, Conjunction{ID: 0xffffffff, Clause: 64, NClauses: 64}, Conjunction{ID: 0, Clause: 2, NClauses: 3}}},
		Flow{Table: 22, Priority: 7, Actions: []Action{Note{[]byte("ovsgw\x01")}, Note{Data: bytes.Repeat([]byte{0xab}, 14)}, Note{}, Output{1}}},
		Flow{Table: 22, Priority: 8, Actions: []Action{DecTTL{}, Move{FieldIPv6Src, FieldIPv6Dst}, Move{FieldIPTTL, FieldICMPType}, DecTTL{}}},
	)
}

// flowStatsOf turns an encoded flow mod into the flow-stats record OVS would dump for it: both
// have a 48-byte fixed part followed by the same match and instructions.
func flowStatsOf(fm []byte, packets uint64) []byte {
	rec := make([]byte, 48, len(fm))
	binary.BigEndian.PutUint16(rec, uint16(len(fm)))
	rec[2] = fm[24]                                  // table
	binary.BigEndian.PutUint32(rec[4:], 3)           // duration 3.5 s
	binary.BigEndian.PutUint32(rec[8:], 500_000_000) //
	copy(rec[12:14], fm[30:32])                      // priority
	copy(rec[24:32], fm[8:16])                       // cookie
	binary.BigEndian.PutUint64(rec[32:], packets)
	binary.BigEndian.PutUint64(rec[40:], packets*64)
	return append(rec, fm[48:]...)
}

// groupDescOf turns an encoded group mod into the group-desc record OVS would dump for it.
func groupDescOf(gm []byte) []byte {
	rec := make([]byte, 8, len(gm))
	binary.BigEndian.PutUint16(rec, uint16(len(gm)-8))
	rec[2] = gm[10]
	copy(rec[4:8], gm[12:16])
	return append(rec, gm[16:]...)
}

func marshal(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	return b
}

// Every field and action survives encode, the wire, and decode unchanged, text and structure.
func TestFlowRoundTripEveryFieldAndAction(t *testing.T) {
	var stats []byte
	flows := codecFlows()
	for i, f := range flows {
		fm, err := encodeFlowMod(FlowAdd, f)
		if err != nil {
			t.Fatalf("encode %s: %v", f, err)
		}
		b := marshal(t, fm)
		if int(binary.BigEndian.Uint16(b[2:])) != len(b) || len(b)%8 != 0 {
			t.Fatalf("%s: header length %d, %d bytes written", f, binary.BigEndian.Uint16(b[2:]), len(b))
		}
		checkLibOpenflowParse(t, f, b)
		rec := flowStatsOf(b, uint64(i))
		got, n, err := decodeFlowStats(rec)
		if err != nil || n != len(rec) {
			t.Fatalf("decode %s: n=%d err=%v", f, n, err)
		}
		if !got.Equal(f) || got.String() != f.String() || got.Packets != uint64(i) || got.Duration.Seconds() != 3.5 {
			t.Errorf("round trip:\n got %s\nwant %s", got, f)
		}
		if len(got.Match) != len(f.Match.Normalize()) {
			t.Errorf("%s: match has %d fields after decode", f, len(got.Match))
		}
		stats = append(stats, rec...)
	}
	// A multipart body is records back to back.
	for i := 0; len(stats) > 0; i++ {
		got, n, err := decodeFlowStats(stats)
		if err != nil || !got.Equal(flows[i]) {
			t.Fatalf("record %d of the concatenation: %s, %v", i, got, err)
		}
		stats = stats[n:]
	}
}

// checkLibOpenflowParse feeds our bytes to libOpenflow's parser, an independent reading of the
// spec, and compares what it can read. Its decoder steps over pop_vlan with a 4-byte length
// (the action is 8) and then crashes, so flows with pop_vlan are left out.
func checkLibOpenflowParse(t *testing.T, f Flow, b []byte) {
	t.Helper()
	if strings.Contains(f.ActionsString(), "pop_vlan") {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("libOpenflow panics parsing %s: %v", f, r)
		}
	}()
	msg, err := openflow13.Parse(b)
	if err != nil {
		t.Fatalf("libOpenflow cannot parse %s: %v", f, err)
	}
	fm, ok := msg.(*openflow13.FlowMod)
	if !ok || fm.Cookie != f.Cookie || fm.TableId != f.Table || fm.Priority != f.Priority || fm.Command != openflow13.FC_ADD {
		t.Fatalf("libOpenflow reads %s as %+v", f, msg)
	}
	norm := f.Match.Normalize()
	if len(fm.Match.Fields) != len(norm) {
		t.Fatalf("libOpenflow reads %d match fields of %s", len(fm.Match.Fields), f)
	}
	for i, mf := range fm.Match.Fields {
		info := norm[i].Field.Info()
		if mf.Class != info.Class || mf.Field != info.OXM || mf.HasMask != (norm[i].Mask != nil) ||
			int(mf.Length) != len(norm[i].Value)+len(norm[i].Mask) {
			t.Errorf("%s: libOpenflow reads field %d as %+v", f, i, mf)
		}
	}
	var want []uint16
	if len(f.Actions) > 0 {
		if _, ok := f.Actions[0].(GotoTable); !ok {
			want = append(want, openflow13.InstrType_APPLY_ACTIONS)
		}
		if _, ok := f.Actions[len(f.Actions)-1].(GotoTable); ok {
			want = append(want, openflow13.InstrType_GOTO_TABLE)
		}
	}
	if len(fm.Instructions) != len(want) {
		t.Fatalf("libOpenflow reads %d instructions of %s", len(fm.Instructions), f)
	}
	for i, in := range fm.Instructions {
		hdr := marshal(t, in)
		if binary.BigEndian.Uint16(hdr) != want[i] {
			t.Errorf("%s: libOpenflow reads instruction %d as type %d", f, i, binary.BigEndian.Uint16(hdr))
		}
	}
}

func TestGroupRoundTrip(t *testing.T) {
	groups := []Group{
		testGroup,
		{ID: 2, Type: GroupSelect, Buckets: []Bucket{{Actions: []Action{Output{1}}}, {Actions: []Action{Output{2}}}}},
		{ID: 3, Type: GroupIndirect, Buckets: []Bucket{{Actions: []Action{PushVLAN{}, SetVlanVID(7), GroupAction{2}}}}},
		{ID: 4, Type: GroupFF},
		{ID: 5, Type: GroupAll, Buckets: []Bucket{{}, {Actions: []Action{PopVLAN{}, Output{PortLocal}}}}},
	}
	for _, g := range groups {
		gm, err := encodeGroupMod(GroupAdd, g)
		if err != nil {
			t.Fatalf("encode %s: %v", g, err)
		}
		b := marshal(t, gm)
		var parsed openflow13.GroupMod // libOpenflow's Parse skips group mods; use the type directly
		if err := parsed.UnmarshalBinary(b); err != nil || parsed.GroupId != g.ID || int(parsed.Type) != int(g.Type) || len(parsed.Buckets) != len(g.Buckets) {
			t.Errorf("libOpenflow reads %s as %+v (%v)", g, parsed, err)
		}
		got, n, err := decodeGroupDesc(groupDescOf(b))
		if err != nil || n != len(b)-8 || !got.Equal(g) {
			t.Errorf("round trip:\n got %s (%v)\nwant %s", got, err, g)
		}
	}
	if gm, _ := encodeGroupMod(GroupDelete, testGroup); len(marshal(t, gm)) != 16 {
		t.Errorf("a group delete carries buckets")
	}
}

// What OVS returns for flows others installed decodes without error into Unknown parts that
// re-encode to the same bytes (CONTROLLER:128, once unknown, is now a Controller that does).
func TestForeignPartsDecodeAndReencodeExactly(t *testing.T) {
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// cookie=0xbad,table=3,priority=7,ip,vlan_pcp=3,metadata=0x7,ct_mark=0x20/0x20 actions=
	// dec_ttl,CONTROLLER:128,load:0x3->NXM_NX_REG0[0..3],clear_actions,goto_table:4 (dec_ttl is
	// known, and decodes as DecTTL)
	match := unhex("0001 0033" + "80000a02 0800" + "80000e01 03" + "80000408 0000000000000007" +
		"0001d708 00000020 00000020" + "ffff5508 4f4e4600 00020002" + "00000000 00")
	apply := unhex("00040038 00000000" + "00180008 00000000" + "00000010 fffffffd 0080 000000000000" +
		"ffff0018 00002320 0007 0003 00010004 0000000000000003")
	instrs := append(apply, unhex("00050008 00000000"+"00010008 04000000")...)
	fm := make([]byte, 48)
	fm[0], fm[1] = 4, openflow13.Type_FlowMod
	binary.BigEndian.PutUint64(fm[8:], 0xbad)
	fm[24] = 3
	binary.BigEndian.PutUint16(fm[30:], 7)
	fm = append(append(fm, match...), instrs...)
	binary.BigEndian.PutUint16(fm[2:], uint16(len(fm)))

	got, _, err := decodeFlowStats(flowStatsOf(fm, 0))
	if err != nil {
		t.Fatalf("decode foreign flow: %v", err)
	}
	// Unknown fields sort after known ones, by class and field.
	want := "cookie=0xbad, table=3, priority=7,dl_type=0x800,oxm(class=0x0001,field=107,masked)=0x0000002000000020," +
		"oxm(class=0x8000,field=2)=0x0000000000000007,oxm(class=0x8000,field=7)=0x03," +
		"oxm(class=0xffff,field=42,masked)=0x4f4e460000020002 actions=dec_ttl," +
		"controller(max_len=128)," +
		"unknown_action(type=0xffff,experimenter=0x2320,subtype=7,raw=ffff00180000232000070003000100040000000000000003)," +
		"unknown_instruction(type=5,raw=0005000800000000),goto_table:4"
	if got.String() != want {
		t.Fatalf("decoded foreign flow:\n got %s\nwant %s", got, want)
	}
	// Re-encoding gives the same match and instructions (fields in canonical order).
	re, err := encodeFlowMod(FlowAdd, got.Flow)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	again, _, err := decodeFlowStats(flowStatsOf(marshal(t, re), 0))
	if err != nil || again.String() != want {
		t.Fatalf("re-decoded: %s, %v", again, err)
	}
	if b := marshal(t, re); !bytes.Equal(b[len(b)-len(instrs):], instrs) {
		t.Errorf("instructions re-encode as %x, want %x", b[len(b)-len(instrs):], instrs)
	}
}

// A note is padded on the wire and comes back padded; it prints padded from the start, so that
// what ovsgw wants and what the switch gives back compare equal.
func TestNoteIsPaddedAlike(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		text string
		wire int
	}{
		{nil, "note:00.00.00.00.00.00", 16},
		{[]byte("ovsgw\x01"), "note:6f.76.73.67.77.01", 16},
		{[]byte("ovsgw\x01\x02"), "note:6f.76.73.67.77.01.02.00.00.00.00.00.00.00", 24},
	} {
		n := Note{Data: tc.data}
		if n.String() != tc.text {
			t.Errorf("%x prints as %s, want %s", tc.data, n, tc.text)
		}
		b, err := encodeNote(n)
		if err != nil || len(b) != tc.wire {
			t.Fatalf("%s encodes to %d bytes (%v), want %d", n, len(b), err, tc.wire)
		}
		back := decodeAction(b)
		if back.String() != tc.text {
			t.Errorf("%s decodes as %s", n, back)
		}
		parsed, err := parseAction(tc.text)
		if err != nil || !reflect.DeepEqual(parsed, back) {
			t.Errorf("%s parses as %#v (%v), decodes as %#v", tc.text, parsed, err, back)
		}
	}
	for _, bad := range []string{"note:", "note:6", "note:6f.7", "note:zz", "note:6f..76"} {
		if a, err := parseAction(bad); err == nil {
			t.Errorf("%s parsed as %s", bad, a)
		}
	}
}

func TestEncodeRejectsWhatOpenFlowCannotSay(t *testing.T) {
	for name, f := range map[string]Flow{
		"goto_table not last":       {Actions: []Action{GotoTable{2}, Output{1}}},
		"set_field of wrong width":  {Actions: []Action{SetField{FieldReg0, []byte{1}}}},
		"set_field of unknown kind": {Actions: []Action{SetField{UnknownField(0x8000, 7, false), []byte{1}}}},
		"match value wrong width":   {Match: Match{{Field: FieldEthDst, Value: []byte{1, 2}}}},
		"table 255":                 {Table: 255},
		"nil action":                {Actions: []Action{nil}},
		"apply split by instruction": {Actions: []Action{Output{1},
			UnknownAction{Instruction: true, Raw: []byte{0, 5, 0, 8, 0, 0, 0, 0}}, Output{2}}},
	} {
		if _, err := encodeFlowMod(FlowAdd, f); err == nil {
			t.Errorf("%s: encoded %s", name, f)
		}
	}
	if _, err := encodeGroupMod(GroupAdd, Group{ID: 1, Buckets: []Bucket{{Actions: []Action{GotoTable{1}}}}}); err == nil {
		t.Errorf("goto_table in a bucket was encoded")
	}
	if _, err := encodeGroupMod(GroupAdd, Group{ID: openflow13.OFPG_ALL}); err == nil {
		t.Errorf("reserved group id was encoded")
	}
}

// DeleteStrict restricts to the flow's own cookie; ModifyStrict goes out as an ADD, the only
// OpenFlow 1.3 flow mod with which OVS replaces a cookie.
func TestFlowModCommands(t *testing.T) {
	f := Flow{Table: 1, Priority: 5, Cookie: 0x77, Actions: []Action{Output{1}}}
	del, _ := encodeFlowMod(FlowDeleteStrict, f)
	if del.Command != openflow13.FC_DELETE_STRICT || del.Cookie != 0x77 || del.CookieMask != ^uint64(0) || len(del.Instructions) != 0 {
		t.Errorf("delete: %+v", del)
	}
	mod, _ := encodeFlowMod(FlowModifyStrict, f)
	if mod.Command != openflow13.FC_ADD || mod.Cookie != 0x77 || len(mod.Instructions) != 1 {
		t.Errorf("modify: %+v", mod)
	}
}

func TestNormalizeMasksValuesAndDropsWildcards(t *testing.T) {
	m := Match{
		{Field: FieldIPv4Src, Value: ip("10.1.2.3"), Mask: ip("255.255.0.0")},
		{Field: FieldReg0, Value: FieldReg0.Uint(7), Mask: FieldReg0.Uint(0)},
		{Field: FieldInPort, Value: FieldInPort.Uint(1), Mask: FieldInPort.Uint(0xffffffff)},
	}
	if got, want := m.String(), "in_port=1,nw_src=10.1.0.0/16"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !bytes.Equal(m[0].Value, ip("10.1.2.3")) {
		t.Errorf("Normalize changed its input")
	}
}

func TestOFErrorWords(t *testing.T) {
	for _, tc := range []struct {
		e    OFError
		want string
	}{
		{OFError{Type: 3, Code: 2}, "bad instruction: bad table id (OFPET_BAD_INSTRUCTION/OFPBIC_BAD_TABLE_ID)"},
		{OFError{Type: 6, Code: 0}, "group mod failed: group exists (OFPET_GROUP_MOD_FAILED/OFPGMFC_GROUP_EXISTS)"},
		{OFError{Type: 0xffff, Code: 2313, Experimenter: onfExperimenter}, "bundle failed: msg failed (ONFBFC_MSG_FAILED)"},
		{OFError{Type: 4, Code: 99}, "bad match: code 99 (OFPET_BAD_MATCH)"},
		{OFError{Type: 0xffff, Code: 5, Experimenter: 0x2320}, "experimenter 0x2320 error code 5"},
		{OFError{Type: 0xffff, Code: 15, Experimenter: 0x2320}, "bad conjunction action: not alone in the flow, or bad clause numbers (NXBAC_BAD_CONJUNCTION)"},
	} {
		if got := tc.e.Words(); got != tc.want {
			t.Errorf("Words() = %q, want %q", got, tc.want)
		}
	}
}

func TestHelloVersions(t *testing.T) {
	hello := func(version uint8, bitmap ...uint32) []byte {
		b := []byte{version, 0, 0, 0, 0, 0, 0, 1}
		if len(bitmap) > 0 {
			b = append(b, 0, 1, 0, 8, 0, 0, 0, 0)
			binary.BigEndian.PutUint32(b[12:], bitmap[0])
		}
		return b
	}
	for _, tc := range []struct {
		b    []byte
		ok   bool
		text string
	}{
		{hello(6, 1<<4|1<<6), true, "OpenFlow 1.3, 1.5"},
		{hello(5, 1<<1|1<<5), false, "OpenFlow 1.0, 1.4"},
		{hello(4), true, "OpenFlow 1.0, 1.1, 1.2, 1.3"},
		{hello(1), false, "OpenFlow 1.0"},
	} {
		text, ok := helloVersions(tc.b)
		if ok != tc.ok || text != tc.text {
			t.Errorf("helloVersions(%x) = %q, %v; want %q, %v", tc.b, text, ok, tc.text, tc.ok)
		}
	}
}

// Found by FuzzDecodeFlowStats: a match holding a field twice decoded, and printed as text the
// parser refuses; OpenFlow allows a field once (OVS: OFPBMC_DUP_FIELD), so the record is
// malformed.
func TestDecodeRefusesMatchFieldGivenTwice(t *testing.T) {
	arpOp := []byte{0x80, 0x00, 0x2a, 0x02, 0x00, 0x01} // OXM arp_op=1
	match := append([]byte{0x00, 0x01, 0x00, 0x10}, append(append([]byte(nil), arpOp...), arpOp...)...)
	if _, _, err := decodeMatch(match); err == nil || !strings.Contains(err.Error(), "arp_op twice") {
		t.Fatalf("a match with arp_op twice: %v", err)
	}
	if m, _, err := decodeMatch(append([]byte{0x00, 0x01, 0x00, 0x0a}, append(arpOp, 0, 0, 0, 0, 0, 0)...)); err != nil || m.String() != "arp_op=1" {
		t.Fatalf("a match with arp_op once: %s, %v", m, err)
	}
}

// Found by FuzzDecodeFlowStats: a VLAN_VID value or mask beyond its 13 bits decoded as
// vlan_tci text the parser refuses. Such a field now stays unknown (its bytes kept), the
// encoder refuses to send one, and the 13-bit mask 0x1fff is an exact match, as in the text.
func TestVlanVIDBeyond13BitsStaysUnknown(t *testing.T) {
	masked := []byte{0x00, 0x01, 0x00, 0x0c, 0x80, 0x00, 0x0d, 0x04, 0x10, 0x10, 0xf0, 0xf0, 0, 0, 0, 0} // vlan_vid 0x1010/0xf0f0
	m, _, err := decodeMatch(masked)
	if err != nil || m.String() != "oxm(class=0x8000,field=6,masked)=0x1010f0f0" {
		t.Fatalf("vlan_vid 0x1010/0xf0f0 decodes as %s (%v)", m, err)
	}
	full := []byte{0x00, 0x01, 0x00, 0x0c, 0x80, 0x00, 0x0d, 0x04, 0x10, 0x05, 0x1f, 0xff, 0, 0, 0, 0} // 0x1005/0x1fff
	if m, _, err := decodeMatch(full); err != nil || m.String() != "dl_vlan=5" {
		t.Fatalf("vlan_vid 0x1005/0x1fff decodes as %s (%v), want the exact dl_vlan=5", m, err)
	}
	bad := Flow{Match: Match{{Field: FieldVlanVID, Value: FieldVlanVID.Uint(0x1010), Mask: FieldVlanVID.Uint(0xf0f0)}}}
	if _, err := encodeFlowMod(FlowAdd, bad); err == nil {
		t.Fatalf("encoded %s", bad)
	}
}

// TestDecodeFlowCountersAgreesWithDecodeFlowStats: the counters-only decoder reads the same
// table, cookie and counters, and the same length, as the full one, record by record, and
// refuses a truncated record.
func TestDecodeFlowCountersAgreesWithDecodeFlowStats(t *testing.T) {
	var all []byte
	for i, fl := range codecFlows() {
		all = append(all, flowStatsOf(encodedFlow(t, fl), uint64(1000+i))...)
	}
	records := 0
	for b := all; len(b) > 0; records++ {
		full, n, err := decodeFlowStats(b)
		if err != nil {
			t.Fatal(err)
		}
		c, cn, err := decodeFlowCounters(b)
		if err != nil || cn != n || c != (FlowCounters{Table: full.Table, Cookie: full.Cookie, Packets: full.Packets, Bytes: full.Bytes}) {
			t.Fatalf("record %d: counters %+v, %d bytes (%v); full: %+v, %d bytes", records, c, cn, err, full, n)
		}
		if _, _, err := decodeFlowCounters(b[:n-1]); err == nil {
			t.Fatalf("record %d cut short by a byte decoded", records)
		}
		b = b[n:]
	}
	if records != len(codecFlows()) {
		t.Fatalf("%d records, want %d", records, len(codecFlows()))
	}
}
