package openflow

// Fuzz targets of the binary decoders: what the switch sends is parsed by ovsgw's own code, so
// no byte sequence may make it panic or allocate more than the input warrants, and whatever it
// accepts must survive ovsgw's encoder, its flow table's encodings and its canonical text
// unchanged. Seeds: the encoder's output for every field and action kind, and replies
// captured from Open vSwitch 3.1 (testdata/fuzz/*/ovs-*: flows and groups others installed,
// with actions ovsgw does not model, and error messages).

import (
	"bytes"
	"encoding/binary"
	"testing"

	"antrea.io/libOpenflow/openflow13"
)

// seedGroups are groups of every type, with and without buckets, marked and chained.
func seedGroups() []Group {
	return []Group{
		testGroup,
		{ID: 2, Type: GroupSelect, Buckets: []Bucket{{Actions: []Action{Output{1}}}, {Actions: []Action{Output{2}}}}},
		{ID: 3, Type: GroupIndirect, Buckets: []Bucket{{Actions: []Action{PushVLAN{}, SetVlanVID(7), GroupAction{2}}}}},
		{ID: 4, Type: GroupFF},
		{ID: 5, Type: GroupAll, Buckets: []Bucket{{Actions: []Action{Note{Data: []byte("ovsgw\x01")}, SetUint(FieldReg2, 9), Resubmit{60}}}, {}}},
	}
}

func encodedFlow(tb testing.TB, f Flow) []byte {
	fm, err := encodeFlowMod(FlowAdd, f)
	if err != nil {
		tb.Fatalf("encode %s: %v", f, err)
	}
	b, err := fm.MarshalBinary()
	if err != nil {
		tb.Fatalf("marshal %s: %v", f, err)
	}
	return b
}

func encodedGroup(tb testing.TB, g Group) []byte {
	gm, err := encodeGroupMod(GroupAdd, g)
	if err != nil {
		tb.Fatalf("encode %s: %v", g, err)
	}
	b, err := gm.MarshalBinary()
	if err != nil {
		tb.Fatalf("marshal %s: %v", g, err)
	}
	return b
}

// instructionsOf is the instructions part of an encoded flow mod.
func instructionsOf(tb testing.TB, fm []byte) []byte {
	_, ml, err := decodeMatch(fm[48:])
	if err != nil {
		tb.Fatal(err)
	}
	return fm[48+ml:]
}

// FuzzDecodeFlowStats: a flow-stats reply body (records back to back) decodes without panic;
// each flow it accepts that ovsgw can encode comes back from the wire identical, and survives
// the flow table's encodings and the canonical text.
func FuzzDecodeFlowStats(f *testing.F) {
	var all []byte
	for i, fl := range codecFlows() {
		rec := flowStatsOf(encodedFlow(f, fl), uint64(i))
		f.Add(rec)
		all = append(all, rec...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			fl, n, err := decodeFlowStats(b)
			if err != nil {
				return
			}
			// The counters alone: whatever decodes whole decodes so, to the same values.
			c, cn, err := decodeFlowCounters(b)
			if err != nil || cn != n || c != (FlowCounters{Table: fl.Table, Cookie: fl.Cookie, Packets: fl.Packets, Bytes: fl.Bytes}) {
				t.Fatalf("counters %+v, %d bytes (%v); the whole record: table %d cookie %#x %d packets %d bytes, %d bytes",
					c, cn, err, fl.Table, fl.Cookie, fl.Packets, fl.Bytes, n)
			}
			if n < flowStatsLen || n > len(b) {
				t.Fatalf("record length %d of %d bytes", n, len(b))
			}
			checkFlow(t, fl.Flow)
			b = b[n:]
		}
	})
}

// checkFlow checks what holds for every flow the decoder returns.
func checkFlow(t *testing.T, fl Flow) {
	text := fl.String()
	checkActionsEncodings(t, fl.Actions)
	k := fl.Key()
	if m := decodeIdentity(k.Match); m.String() != fl.Match.String() {
		t.Fatalf("match %s comes back from its key as %s", fl.Match, m)
	}
	if p, err := ParseFlow(text); err != nil || p.String() != text {
		t.Fatalf("canonical text %q parses as %q (%v)", text, p, err)
	}
	fm, err := encodeFlowMod(FlowAdd, fl)
	if err != nil {
		return // something OpenFlow cannot say the way ovsgw says it (goto first, table 255...)
	}
	wire, err := fm.MarshalBinary()
	if err != nil {
		t.Fatalf("%s encodes but does not marshal: %v", fl, err)
	}
	if int(binary.BigEndian.Uint16(wire[2:])) != len(wire) || len(wire)%8 != 0 {
		t.Fatalf("%s: header length %d, %d bytes", fl, binary.BigEndian.Uint16(wire[2:]), len(wire))
	}
	back, n, err := decodeFlowStats(flowStatsOf(wire, 0))
	if err != nil || n != len(wire) {
		t.Fatalf("%s re-encoded does not decode: %v", fl, err)
	}
	if back.String() != text {
		t.Fatalf("re-encoded flow changed:\n was %s\n now %s", text, back)
	}
}

// checkActionsEncodings checks that actions survive the flow table's compact encoding.
func checkActionsEncodings(t *testing.T, actions []Action) {
	enc := packActions(nil, actions)
	back := unpackActions(string(enc))
	if actionsString(back) != actionsString(actions) || !bytes.Equal(packActions(nil, back), enc) {
		t.Fatalf("actions %s come back from the flow table's encoding as %s", actionsString(actions), actionsString(back))
	}
}

// FuzzDecodeGroupDesc: a group-desc reply body decodes without panic; each group it accepts
// that ovsgw can encode comes back from the wire identical, and survives the flow table's
// encoding and the canonical text.
func FuzzDecodeGroupDesc(f *testing.F) {
	var all []byte
	for _, g := range seedGroups() {
		rec := groupDescOf(encodedGroup(f, g))
		f.Add(rec)
		all = append(all, rec...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			g, n, err := decodeGroupDesc(b)
			if err != nil {
				return
			}
			if n < 8 || n > len(b) {
				t.Fatalf("record length %d of %d bytes", n, len(b))
			}
			checkGroup(t, g)
			b = b[n:]
		}
	})
}

func checkGroup(t *testing.T, g Group) {
	text := g.String()
	if back := groupOf(g.ID, val{enc: string(packGroup(nil, g))}); back.String() != text {
		t.Fatalf("group %s comes back from the flow table's encoding as %s", text, back)
	}
	if p, err := ParseGroup(text); err != nil || p.String() != text {
		t.Fatalf("canonical text %q parses as %q (%v)", text, p, err)
	}
	gm, err := encodeGroupMod(GroupAdd, g)
	if err != nil {
		return
	}
	wire, err := gm.MarshalBinary()
	if err != nil {
		t.Fatalf("%s encodes but does not marshal: %v", g, err)
	}
	back, n, err := decodeGroupDesc(groupDescOf(wire))
	if err != nil || n != len(wire)-8 {
		t.Fatalf("%s re-encoded does not decode: %v", g, err)
	}
	if back.String() != text {
		t.Fatalf("re-encoded group changed:\n was %s\n now %s", text, back)
	}
}

// FuzzDecodeInstructions: a flow's instructions decode without panic, and what decodes and
// re-encodes comes back the same.
func FuzzDecodeInstructions(f *testing.F) {
	for _, fl := range codecFlows() {
		f.Add(instructionsOf(f, encodedFlow(f, fl)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		actions, err := decodeInstructions(b)
		if err != nil {
			return
		}
		checkActionsEncodings(t, actions)
		instrs, err := encodeInstructions(actions)
		if err != nil {
			return
		}
		var wire []byte
		for _, in := range instrs {
			ib, err := in.MarshalBinary()
			if err != nil {
				t.Fatalf("%s: instruction does not marshal: %v", actionsString(actions), err)
			}
			wire = append(wire, ib...)
		}
		back, err := decodeInstructions(wire)
		if err != nil || actionsString(back) != actionsString(actions) {
			t.Fatalf("instructions %s re-encoded come back as %s (%v)", actionsString(actions), actionsString(back), err)
		}
	})
}

// FuzzDecodeActions: an action list (apply-actions, a bucket) decodes without panic, and what
// decodes and re-encodes comes back the same.
func FuzzDecodeActions(f *testing.F) {
	for _, fl := range codecFlows() {
		ins := instructionsOf(f, encodedFlow(f, fl))
		if len(ins) >= 8 && binary.BigEndian.Uint16(ins) == openflow13.InstrType_APPLY_ACTIONS {
			f.Add(ins[8:binary.BigEndian.Uint16(ins[2:])])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		actions, err := decodeActions(b)
		if err != nil {
			return
		}
		checkActionsEncodings(t, actions)
		list, err := encodeActionList(actions)
		if err != nil {
			return
		}
		var wire []byte
		for _, a := range list {
			ab, err := a.MarshalBinary()
			if err != nil {
				t.Fatalf("%s: action does not marshal: %v", actionsString(actions), err)
			}
			wire = append(wire, ab...)
		}
		back, err := decodeActions(wire)
		if err != nil || actionsString(back) != actionsString(actions) {
			t.Fatalf("actions %s re-encoded come back as %s (%v)", actionsString(actions), actionsString(back), err)
		}
	})
}

// FuzzParseError: an error message decodes without panic into the fields its header holds,
// and prints.
func FuzzParseError(f *testing.F) {
	f.Add([]byte{4, 1, 0, 12, 0, 0, 0, 1, 0, 3, 0, 2})                                              // bad table id, no data
	f.Add([]byte{4, 1, 0, 20, 0, 0, 0, 1, 0xff, 0xff, 0x09, 0x0d, 0x4f, 0x4e, 0x46, 0, 1, 2, 3, 4}) // ONF bundle error
	f.Fuzz(func(t *testing.T, b []byte) {
		e := parseError(b)
		if e.Error() == "" {
			t.Fatal("an error that prints as nothing")
		}
		if len(b) >= 12 && (e.Type != binary.BigEndian.Uint16(b[8:]) || e.Code != binary.BigEndian.Uint16(b[10:])) {
			t.Fatalf("type %d code %d from %x", e.Type, e.Code, b[8:12])
		}
		if len(e.Data) > len(b) {
			t.Fatalf("%d bytes of data from a %d-byte message", len(e.Data), len(b))
		}
	})
}
