package openflow

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"antrea.io/libOpenflow/openflow13"
)

// The conjunction action's bytes are OVS's nx_action_conjunction: an experimenter action of
// 16 bytes (type 0xffff, length 16, vendor 0x2320, subtype 34), the clause 0-based, the number
// of clauses, the id. libOpenflow, an independent reading of the layout, reads them back.
func TestConjunctionWireLayout(t *testing.T) {
	for _, tc := range []struct {
		a    Conjunction
		wire string
	}{
		{Conjunction{ID: 7, Clause: 1, NClauses: 2}, "ffff0010 00002320 0022 00 02 00000007"},
		{Conjunction{ID: 7, Clause: 2, NClauses: 2}, "ffff0010 00002320 0022 01 02 00000007"},
		{Conjunction{ID: 0xfffffffe, Clause: 64, NClauses: 64}, "ffff0010 00002320 0022 3f 40 fffffffe"},
	} {
		want, _ := hex.DecodeString(strings.ReplaceAll(tc.wire, " ", ""))
		oa, err := encodeAction(tc.a)
		if err != nil {
			t.Fatalf("encode %s: %v", tc.a, err)
		}
		got := marshal(t, oa)
		if !bytes.Equal(got, want) {
			t.Errorf("%s encodes as %x, want %x", tc.a, got, want)
		}
		var lib openflow13.NXActionConjunction
		if err := lib.UnmarshalBinary(got); err != nil || lib.Subtype != openflow13.NXAST_CONJUNCTION ||
			lib.Vendor != nxExperimenter || lib.Length != 16 || lib.ID != tc.a.ID ||
			lib.Clause != tc.a.Clause-1 || lib.NClause != tc.a.NClauses {
			t.Errorf("libOpenflow reads %s as %+v (header %+v), %v", tc.a, lib, lib.NXActionHeader, err)
		}
		if back := decodeAction(want); back != tc.a {
			t.Errorf("%x decodes as %#v, want %#v", want, back, tc.a)
		}
	}
}

// Conjunction bytes OVS would never send (too few or too many clauses, a clause past the
// last, another length) stay UnknownActions with their bytes, so nothing is lost or invented.
func TestMalformedConjunctionStaysUnknown(t *testing.T) {
	for _, wire := range []string{
		"ffff0010 00002320 0022 00 01 00000007",                  // one clause
		"ffff0010 00002320 0022 00 41 00000007",                  // 65 clauses
		"ffff0010 00002320 0022 02 02 00000007",                  // clause 3 of 2
		"ffff0010 00002320 0022 ff 02 00000007",                  // clause 256 of 2
		"ffff0018 00002320 0022 00 02 00000007 0000000000000000", // 24 bytes
	} {
		raw, _ := hex.DecodeString(strings.ReplaceAll(wire, " ", ""))
		a := decodeAction(raw)
		u, ok := a.(UnknownAction)
		if !ok || !bytes.Equal(u.Raw, raw) {
			t.Errorf("%x decodes as %#v, want an UnknownAction with its bytes", raw, a)
		}
	}
}

// Apply refuses what OVS refuses before anything is sent: other actions beside conjunction
// (goto_table included), and clause numbers out of range, in a flow and in a bucket.
func TestEncodeRejectsBadConjunctions(t *testing.T) {
	c := Conjunction{ID: 7, Clause: 1, NClauses: 2}
	for name, acts := range map[string][]Action{
		"with output":          {c, Output{1}},
		"output first":         {Output{1}, c},
		"with goto_table":      {c, GotoTable{3}},
		"with an instruction":  {c, UnknownAction{Instruction: true, Raw: []byte{0, 5, 0, 8, 0, 0, 0, 0}}},
		"clause 0":             {Conjunction{ID: 7, Clause: 0, NClauses: 2}},
		"clause past the last": {Conjunction{ID: 7, Clause: 3, NClauses: 2}},
		"one clause":           {Conjunction{ID: 7, Clause: 1, NClauses: 1}},
		"65 clauses":           {Conjunction{ID: 7, Clause: 1, NClauses: 65}},
	} {
		f := Flow{Table: 1, Priority: 10, Actions: acts}
		if _, err := encodeFlowMod(FlowAdd, f); err == nil {
			t.Errorf("%s: encoded %s", name, f)
		} else if !strings.Contains(err.Error(), "conjunction(") {
			t.Errorf("%s: error %q does not name the conjunction", name, err)
		}
	}
	if _, err := encodeGroupMod(GroupAdd, Group{ID: 1, Buckets: []Bucket{{Actions: []Action{Conjunction{ID: 7, Clause: 0, NClauses: 2}}}}}); err == nil {
		t.Errorf("a bucket with conjunction(7,0/2) was encoded")
	}
	// Several conjunctions, and a note (an UnknownAction to ovsgw) beside them, are allowed.
	note := UnknownAction{Raw: []byte{0xff, 0xff, 0, 16, 0, 0, 0x23, 0x20, 0, 8, 1, 0, 0, 0, 0, 0}}
	for _, acts := range [][]Action{{c, Conjunction{ID: 8, Clause: 2, NClauses: 3}}, {note, c}} {
		if _, err := encodeFlowMod(FlowAdd, Flow{Actions: acts}); err != nil {
			t.Errorf("%s: %v", actionsString(acts), err)
		}
	}
	// A delete carries no actions, so it is never refused for them.
	if _, err := encodeFlowMod(FlowDeleteStrict, Flow{Actions: []Action{c, Output{1}}}); err != nil {
		t.Errorf("delete: %v", err)
	}
}

// conj_id prints as ovs-ofctl prints it: decimal, before every other field, and as
// NXM_NX_CONJ_ID inside move.
func TestConjIDText(t *testing.T) {
	m := Match{}.WithUint(FieldReg2, 5).WithUint(FieldInPort, 1).WithUint(FieldEthType, 0x0800).
		WithCTState(CTTrk, 0).WithUint(FieldConjID, 4000000000)
	if got, want := m.String(), "conj_id=4000000000,in_port=1,reg2=0x5,ct_state=+trk,dl_type=0x800"; got != want {
		t.Errorf("match prints as %s, want %s", got, want)
	}
	if got, want := (Move{FieldConjID, FieldReg3}).String(), "move:NXM_NX_CONJ_ID[]->NXM_NX_REG3[]"; got != want {
		t.Errorf("move prints as %s, want %s", got, want)
	}
	if info := FieldConjID.Info(); info.Class != 0x0001 || info.OXM != 37 || info.Width != 4 {
		t.Errorf("conj_id is %+v, want NXM class 1, field 37, 4 bytes", info)
	}
	if f, ok := FieldByOXM(0x0001, 37); !ok || f != FieldConjID {
		t.Errorf("FieldByOXM(1, 37) = %v, %v", f, ok)
	}
}

// The conjunction flows of the integration test as their text, parsed back: same values,
// same bytes on the wire.
func TestParseConjunctionFlows(t *testing.T) {
	for text, want := range map[string]Flow{
		"cookie=0x1, table=0, priority=100,reg2=0x5,dl_type=0x800 actions=conjunction(7,1/2)": {
			Cookie: 1, Priority: 100, Match: Match{}.WithUint(FieldReg2, 5).WithUint(FieldEthType, 0x800),
			Actions: []Action{Conjunction{ID: 7, Clause: 1, NClauses: 2}}},
		"cookie=0x1, table=0, priority=100,dl_type=0x800,nw_src=10.1.0.9 actions=conjunction(7,2/2),conjunction(4294967295,64/64)": {
			Cookie: 1, Priority: 100, Match: Match{}.WithUint(FieldEthType, 0x800).With(FieldIPv4Src, ip("10.1.0.9")),
			Actions: []Action{Conjunction{ID: 7, Clause: 2, NClauses: 2}, Conjunction{ID: 0xffffffff, Clause: 64, NClauses: 64}}},
		"cookie=0x1, table=0, priority=100,conj_id=7,dl_type=0x800 actions=goto_table:1": {
			Cookie: 1, Priority: 100, Match: Match{}.WithUint(FieldConjID, 7).WithUint(FieldEthType, 0x800),
			Actions: []Action{GotoTable{1}}},
	} {
		got, err := ParseFlow(text)
		if err != nil {
			t.Errorf("ParseFlow(%q): %v", text, err)
			continue
		}
		if got.String() != text || want.String() != text || !got.Equal(want) {
			t.Errorf("ParseFlow(%q) = %q; the flow meant prints %q", text, got, want)
		}
		if c, ok := got.Actions[0].(Conjunction); ok && c != want.Actions[0] {
			t.Errorf("ParseFlow(%q) reads %#v", text, c)
		}
		if !bytes.Equal(wire(t, got), wire(t, want)) {
			t.Errorf("ParseFlow(%q) encodes differently from the flow that printed it", text)
		}
	}
}
