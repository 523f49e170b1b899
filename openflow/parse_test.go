package openflow

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenDir holds the compiler's golden files: every line before "  # " of a flow line is a
// Flow.String(), every group line a Group.String().
const goldenDir = "../gateway/pipeline/testdata"

// goldenLines returns the flow lines and the group lines of every golden file.
func goldenLines(t testing.TB) (flows, groups []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in %s: %v", goldenDir, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			text, _, _ := strings.Cut(line, "  # ")
			switch {
			case strings.HasPrefix(text, "cookie="):
				flows = append(flows, text)
			case strings.HasPrefix(text, "group_id="):
				groups = append(groups, text)
			}
		}
	}
	return flows, groups
}

// wire is a flow's OpenFlow 1.3 flow-add without the header (whose xid varies): two flows
// with the same wire bytes are the same entry to the switch.
func wire(t *testing.T, f Flow) []byte {
	t.Helper()
	fm, err := encodeFlowMod(FlowAdd, f)
	if err != nil {
		t.Fatalf("encode %s: %v", f, err)
	}
	return marshal(t, fm)[8:]
}

func TestParseFlowRoundTripsGoldenFiles(t *testing.T) {
	flows, groups := goldenLines(t)
	if len(flows) < 100 || len(groups) == 0 {
		t.Fatalf("only %d flow and %d group lines in the golden files", len(flows), len(groups))
	}
	for _, line := range flows {
		f, err := ParseFlow(line)
		if err != nil {
			t.Errorf("ParseFlow(%q): %v", line, err)
			continue
		}
		if got := f.String(); got != line {
			t.Errorf("ParseFlow(%q).String() = %q", line, got)
		}
	}
	for _, line := range groups {
		g, err := ParseGroup(line)
		if err != nil {
			t.Errorf("ParseGroup(%q): %v", line, err)
			continue
		}
		if got := g.String(); got != line {
			t.Errorf("ParseGroup(%q).String() = %q", line, got)
		}
	}
}

// Every field (masked and exact) and every action kind: the parsed flow is the same entry
// on the wire as the flow that printed the text.
func TestParseFlowInvertsStringForEveryFieldAndAction(t *testing.T) {
	for _, f := range testFlows() {
		p, err := ParseFlow(f.String())
		if err != nil {
			t.Errorf("ParseFlow(%q): %v", f, err)
			continue
		}
		if !p.Equal(f) || p.String() != f.String() {
			t.Errorf("ParseFlow(%q) = %q", f, p)
		}
		if !bytes.Equal(wire(t, p), wire(t, f)) {
			t.Errorf("ParseFlow(%q) encodes differently from the flow that printed it", f)
		}
	}
	g, err := ParseGroup(testGroup.String())
	if err != nil || !g.Equal(testGroup) {
		t.Errorf("ParseGroup(%q) = %v, %v", testGroup, g, err)
	}
}

// The unknown parts of a foreign flow (see TestForeignPartsDecodeAndReencodeExactly) parse
// back to the bytes they were decoded from.
func TestParseFlowReadsUnknownParts(t *testing.T) {
	text := "cookie=0xbad, table=3, priority=7,dl_type=0x800,oxm(class=0x0001,field=107,masked)=0x0000002000000020," +
		"oxm(class=0x8000,field=2)=0x0000000000000007,oxm(class=0x8000,field=7)=0x03," +
		"oxm(class=0xffff,field=42,masked)=0x4f4e460000020002 actions=unknown_action(type=24,raw=0018000800000000)," +
		"unknown_action(type=0,raw=00000010fffffffd0080000000000000)," +
		"unknown_action(type=0xffff,experimenter=0x2320,subtype=7,raw=ffff00180000232000070003000100040000000000000003)," +
		"unknown_instruction(type=5,raw=0005000800000000),goto_table:4"
	f, err := ParseFlow(text)
	if err != nil {
		t.Fatal(err)
	}
	if f.String() != text {
		t.Fatalf("round trip:\n got %s\nwant %s", f, text)
	}
	if e, ok := f.Match.Get(UnknownField(0x8000, 7, false)); !ok || !bytes.Equal(e.Value, []byte{3}) {
		t.Errorf("unknown field oxm(class=0x8000,field=7) = %v, %v", e, ok)
	}
	if a, ok := f.Actions[3].(UnknownAction); !ok || !a.Instruction || !bytes.Equal(a.Raw, []byte{0, 5, 0, 8, 0, 0, 0, 0}) {
		t.Errorf("unknown instruction = %#v", f.Actions[3])
	}
	wire(t, f) // re-encodes
}

// randomFlow builds a flow of random fields (each known field with probability 1/3, masked
// half of the time where a mask can be written) and 0..5 random actions, or 1..3 conjunctions.
func randomFlow(r *rand.Rand) Flow {
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		r.Read(b)
		return b
	}
	f := Flow{Table: uint8(r.Intn(255)), Priority: uint16(r.Intn(1 << 16)), Cookie: r.Uint64()}
	for fl := Field(0); fl < numFields; fl++ {
		if r.Intn(3) != 0 {
			continue
		}
		info := fieldInfos[fl]
		switch info.kind {
		case kindVlanVID:
			if r.Intn(2) == 0 {
				f.Match = f.Match.WithUint(fl, uint64(r.Intn(0x2000)))
			} else {
				masks := []uint64{VlanPresent, 0x0fff, 0x1f00, 0x00ff, 0x1ffe}
				f.Match = f.Match.WithMasked(fl, fl.Uint(uint64(r.Intn(0x2000))), fl.Uint(masks[r.Intn(len(masks))]))
			}
		case kindCTState:
			var set, unset uint32
			for _, n := range ctStateNames {
				switch r.Intn(3) {
				case 1:
					set |= n.bit
				case 2:
					unset |= n.bit
				}
			}
			if set|unset != 0 {
				f.Match = f.Match.WithCTState(set, unset)
			}
		case kindIPv4, kindIPv6:
			switch r.Intn(3) {
			case 0:
				f.Match = f.Match.With(fl, bytesOf(info.Width))
			case 1: // a prefix
				f.Match = f.Match.WithMasked(fl, bytesOf(info.Width), []byte(netCIDRMask(r.Intn(8*info.Width+1), 8*info.Width)))
			default: // any mask
				f.Match = f.Match.WithMasked(fl, bytesOf(info.Width), bytesOf(info.Width))
			}
		default:
			if r.Intn(2) == 0 {
				f.Match = f.Match.With(fl, bytesOf(info.Width))
			} else {
				f.Match = f.Match.WithMasked(fl, bytesOf(info.Width), bytesOf(info.Width))
			}
		}
	}
	if r.Intn(8) == 0 { // a clause flow: conjunctions only
		for n := 1 + r.Intn(3); n > 0; n-- {
			nc := uint8(2 + r.Intn(maxConjunctionClauses-1))
			f.Actions = append(f.Actions, Conjunction{ID: r.Uint32(), Clause: uint8(1 + r.Intn(int(nc))), NClauses: nc})
		}
		return f
	}
	ports := []uint32{1, 2, 65279, PortInPort, PortController, PortLocal}
	for n := r.Intn(6); n > 0; n-- {
		var a Action
		switch r.Intn(10) {
		case 0:
			a = Output{Port: ports[r.Intn(len(ports))]}
		case 1:
			a = PopVLAN{}
		case 2:
			a = PushVLAN{EtherType: []uint16{0, 0x8100, 0x88a8}[r.Intn(3)]}
		case 3:
			fl := Field(r.Intn(int(numFields)))
			a = SetField{Field: fl, Value: bytesOf(fieldInfos[fl].Width)}
		case 4:
			a = GroupAction{ID: r.Uint32()}
		case 5:
			a = Resubmit{Table: uint8(r.Intn(255))}
		case 6:
			a = CT{Commit: r.Intn(2) == 0, Zone: uint16(r.Intn(1 << 16)), Recirculate: r.Intn(2) == 0, Table: uint8(r.Intn(255))}
			if ct := a.(CT); !ct.Recirculate {
				ct.Table = 0
				a = ct
			}
		case 7:
			a = Move{Src: Field(r.Intn(int(numFields))), Dst: Field(r.Intn(int(numFields)))}
		case 8:
			a = UnknownAction{Raw: append([]byte{0, 24, 0, 8}, bytesOf(4)...)}
		default:
			a = Output{Port: uint32(r.Intn(1000))}
		}
		f.Actions = append(f.Actions, a)
	}
	if r.Intn(2) == 0 {
		f.Actions = append(f.Actions, GotoTable{Table: uint8(r.Intn(255))})
	}
	return f
}

func netCIDRMask(ones, bits int) []byte {
	m := make([]byte, bits/8)
	for i := 0; i < ones; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// A property over many random flows: String then ParseFlow gives the flow back, as text, as
// Equal and on the wire (a Move of fields of different widths cannot be encoded: text only).
func TestParseFlowInvertsStringOnRandomFlows(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		f := randomFlow(r)
		text := f.String()
		p, err := ParseFlow(text)
		if err != nil {
			t.Fatalf("ParseFlow(%q): %v", text, err)
		}
		if p.String() != text || !p.Equal(f) {
			t.Fatalf("ParseFlow(%q) = %q", text, p)
		}
		fm, err := encodeFlowMod(FlowAdd, f)
		if err != nil {
			continue
		}
		if !bytes.Equal(wire(t, p), marshal(t, fm)[8:]) {
			t.Fatalf("ParseFlow(%q) encodes differently from the flow that printed it", text)
		}
	}
}

// ct_state matches with bits ovsgw has no name for (OVS's snat 0x40, dnat 0x80, or an exact
// ct_state) must print their whole mask, or the text says something else than the flow:
// ct_state=+trk+snat (value 0x60, mask 0x60) printed as "0x60/0x40".
func TestCTStateWithUnnamedBitsRoundTrips(t *testing.T) {
	for _, m := range []Match{
		Match{}.WithMasked(FieldCTState, FieldCTState.Uint(0x60), FieldCTState.Uint(0x60)), // +trk+snat
		Match{}.WithMasked(FieldCTState, FieldCTState.Uint(0x21), FieldCTState.Uint(0xa1)), // +new+trk-dnat
		Match{}.WithUint(FieldCTState, 0x22),                                               // exact: +est+trk and nothing else
	} {
		f := Flow{Table: 31, Priority: 10, Match: m}
		p, err := ParseFlow(f.String())
		if err != nil {
			t.Errorf("ParseFlow(%q): %v", f, err)
			continue
		}
		if !bytes.Equal(wire(t, p), wire(t, f)) {
			e, _ := f.Match.Get(FieldCTState)
			t.Errorf("ct_state value %#x mask %x prints as %q, which reads back as %q: the text lost mask bits",
				toUint(e.Value), e.Mask, f, p)
		}
	}
}

func TestParseFlowLenientForms(t *testing.T) {
	for text, want := range map[string]string{
		// Fields in any order, without spaces, hexadecimal or decimal numbers.
		"priority=5,table=1,cookie=0x10,dl_type=2048,in_port=3 actions=output:1": "cookie=0x10, table=1, priority=5,in_port=3,dl_type=0x800 actions=output:1",
		// Values outside the mask are cleared; all-ones masks are exact, zero masks wildcards.
		"cookie=0x0, table=0, priority=0,nw_src=10.1.2.3/16,nw_dst=10.0.0.1/32,reg0=0x5/0 actions=drop":        "cookie=0x0, table=0, priority=0,nw_src=10.1.0.0/16,nw_dst=10.0.0.1 actions=drop",
		"cookie=0x0, table=0, priority=0,vlan_tci=0x1064/0x1fff actions=push_vlan:0,ct(zone=0)":                "cookie=0x0, table=0, priority=0,dl_vlan=100 actions=push_vlan:0x8100,ct()",
		"cookie=0x0, table=0, priority=0,ct_state=-trk+new,ipv6_src=::ffff:10.0.0.1 actions=output:4294967288": "cookie=0x0, table=0, priority=0,ct_state=+new-trk,ipv6_src=10.0.0.1 actions=IN_PORT",
		"cookie=0x0, table=0, priority=0 actions=move:reg0[]->NXM_NX_REG1[],ct(zone=3,commit,table=7)":         "cookie=0x0, table=0, priority=0 actions=move:NXM_NX_REG0[]->NXM_NX_REG1[],ct(commit,table=7,zone=3)",
		// ovs-ofctl's spellings: protocol names, spaces inside conjunction, conj_id in hex.
		"cookie=0x0, table=0, priority=100,ip,reg2=0x5 actions=conjunction( 7, 1/2 )":     "cookie=0x0, table=0, priority=100,reg2=0x5,dl_type=0x800 actions=conjunction(7,1/2)",
		"cookie=0x0, table=0, priority=100,conj_id=0x7,tcp6,tcp_dst=443 actions=output:1": "cookie=0x0, table=0, priority=100,conj_id=7,dl_type=0x86dd,nw_proto=6,tcp_dst=443 actions=output:1",
		"cookie=0x0, table=0, priority=1,arp,arp_op=1 actions=conjunction(0x10,2/3)":      "cookie=0x0, table=0, priority=1,dl_type=0x806,arp_op=1 actions=conjunction(16,2/3)",
		"cookie=0x0, table=0, priority=1,icmp6,icmpv6_type=135 actions=drop":              "cookie=0x0, table=0, priority=1,dl_type=0x86dd,nw_proto=58,icmpv6_type=135 actions=drop",
	} {
		f, err := ParseFlow(text)
		if err != nil {
			t.Errorf("ParseFlow(%q): %v", text, err)
			continue
		}
		if f.String() != want {
			t.Errorf("ParseFlow(%q) = %q, want %q", text, f, want)
		}
	}
}

func TestParseErrorsNameTheToken(t *testing.T) {
	const head = "cookie=0x1, table=0, priority=1,"
	cases := []struct{ text, token string }{
		{"cookie=0x1, table=0, priority=1", "cookie=0x1, table=0, priority=1"},
		{"table=0, priority=1 actions=drop", "table=0, priority=1"},
		{"cookie=0x1, table=300, priority=1 actions=drop", "table=300"},
		{"cookie=0x1, cookie=0x2, table=0, priority=1 actions=drop", "cookie=0x2"},
		{head + "dl_vlan=5000 actions=drop", "dl_vlan=5000"},
		{head + "vlan_tci=0x2000/0x1fff actions=drop", "vlan_tci=0x2000/0x1fff"},
		{head + "in_port=1,in_port=2 actions=drop", "in_port=2"},
		{head + "nw_src=10.0.0.256 actions=drop", "nw_src=10.0.0.256"},
		{head + "nw_src=10.0.0.0/33 actions=drop", "nw_src=10.0.0.0/33"},
		{head + "ipv6_dst=2001:db8::1/129 actions=drop", "ipv6_dst=2001:db8::1/129"},
		{head + "dl_src=02:00:00:00:00 actions=drop", "dl_src=02:00:00:00:00"},
		{head + "ct_state=+new+bogus actions=drop", "ct_state=+new+bogus"},
		{head + "ct_state=+new+new actions=drop", "ct_state=+new+new"},
		{head + "nw_proto=256 actions=drop", "nw_proto=256"},
		{head + "frobnicate=1 actions=drop", "frobnicate=1"},
		{head + "vlan_vid=4196 actions=drop", "vlan_vid=4196"},
		{head + "oxm(class=0x8000,field=200)=0x01 actions=drop", "oxm(class=0x8000,field=200)=0x01"},
		{head + "oxm(class=0x8000,field=7)=0x0 actions=drop", "oxm(class=0x8000,field=7)=0x0"},
		{head + "in_port=1 actions=output:1,drop", "drop"},
		{head + "in_port=1 actions=output:x", "output:x"},
		{head + "in_port=1 actions=set_field:0x1->reg9", "set_field:0x1->reg9"},
		{head + "in_port=1 actions=set_field:0x1/0x1->reg0", "set_field:0x1/0x1->reg0"},
		{head + "in_port=1 actions=move:NXM_NX_REG0[0..3]->NXM_NX_REG1[]", "move:NXM_NX_REG0[0..3]->NXM_NX_REG1[]"},
		{head + "in_port=1 actions=ct(commit,commit)", "ct(commit,commit)"},
		{head + "in_port=1 actions=ct(nat)", "ct(nat)"},
		{head + "in_port=1 actions=resubmit(1,2)", "resubmit(1,2)"},
		{head + "in_port=1 actions=unknown_action(type=5,raw=0018000800000000)", "unknown_action(type=5,raw=0018000800000000)"},
		{head + "in_port=1 actions=output:1,", ""},
		{head + "in_port=1 actions=ct(commit", "ct(commit"},
		{head + "ip actions=conjunction(7,0/2)", "conjunction(7,0/2)"},
		{head + "ip actions=conjunction(7,3/2)", "conjunction(7,3/2)"},
		{head + "ip actions=conjunction(7,1/1)", "conjunction(7,1/1)"},
		{head + "ip actions=conjunction(7,1/65)", "conjunction(7,1/65)"},
		{head + "ip actions=conjunction(7)", "conjunction(7)"},
		{head + "ip actions=conjunction(x,1/2)", "conjunction(x,1/2)"},
		{head + "ip actions=conjunction(4294967296,1/2)", "conjunction(4294967296,1/2)"},
		{head + "ip,dl_type=0x800 actions=drop", "dl_type=0x800"},
		{head + "tcp,ip actions=drop", "ip"},
		{head + "udp,nw_proto=17 actions=drop", "nw_proto=17"},
	}
	for _, tc := range cases {
		f, err := ParseFlow(tc.text)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseFlow(%q) = %q, %v; want a *ParseError", tc.text, f, err)
			continue
		}
		if pe.Token != tc.token {
			t.Errorf("ParseFlow(%q): error %q names %q, want %q", tc.text, err, pe.Token, tc.token)
		}
	}
	for text, token := range map[string]string{
		"type=all":                            "type=all",
		"group_id=1":                          "group_id=1",
		"group_id=1,type=fast":                "type=fast",
		"group_id=1,type=all,bucket=output:1": "bucket=output:1",
		"group_id=1,type=all,bucket=actions=drop,output:1": "output:1",
		"group_id=1,type=all,group_id=2":                   "group_id=2",
		"group_id=1,type=all,bucket=actions=goto:1":        "goto:1",
	} {
		_, err := ParseGroup(text)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Token != token {
			t.Errorf("ParseGroup(%q): %v; want an error naming %q", text, err, token)
		}
	}
}

func TestParseGroupForms(t *testing.T) {
	for _, g := range []Group{
		{ID: 7, Type: GroupSelect},
		{ID: 0x40001389, Type: GroupAll, Buckets: []Bucket{{}, {Actions: []Action{Output{Port: 1}}}}},
		{ID: 1, Type: GroupType(9), Buckets: []Bucket{{Actions: []Action{CT{Zone: 1}, Resubmit{Table: 3}}}}},
	} {
		p, err := ParseGroup(g.String())
		if err != nil || !p.Equal(g) {
			t.Errorf("ParseGroup(%q) = %q, %v", g, p, err)
		}
	}
}
