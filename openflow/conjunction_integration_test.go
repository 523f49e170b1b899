package openflow

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/test/testbed"
)

// ofctlCounters are the fields of an `ovs-ofctl dump-flows` line that Flow does not hold.
var ofctlCounters = regexp.MustCompile(`\b(duration|n_packets|n_bytes|idle_age|hard_age|idle_time)=[^,\s]+,\s*`)

// ofctlFlows reads a bridge's flows with ovs-ofctl (an independent decoder of the switch's
// state) and returns each line without its counters, sorted.
func ofctlFlows(t *testing.T, node *testbed.Node, bridge string) []string {
	t.Helper()
	out, err := node.Ofctl("dump-flows", bridge)
	if err != nil {
		t.Fatalf("ovs-ofctl dump-flows: %v\n%s", err, out)
	}
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); strings.Contains(line, "actions=") {
			lines = append(lines, ofctlCounters.ReplaceAllString(line, ""))
		}
	}
	sort.Strings(lines)
	return lines
}

// traceRules returns the rules ofproto/trace reports a packet hitting, one per line as
// "TABLE. RULE" ("0. conj_id=7,ip, priority 100, cookie 0x..."), in order.
func traceRules(trace string) []string {
	var out []string
	for _, line := range strings.Split(trace, "\n") {
		if m := traceRule.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

var traceRule = regexp.MustCompile(`^\s*(\d+\. \S.*)$`)

// A two-clause conjunctive match (clause 1: reg2=5; clause 2: nw_src=10.1.0.9; conj_id=7
// continues in table 1), installed in one bundle: OVS accepts it, it dumps back as the same
// values through the codec and as the same text through ovs-ofctl, the FlowTable finds the
// dump equal to what it wanted, and ofproto/trace sends only a packet matching both clauses
// to the conj_id flow.
func TestConjunctiveMatchOnOVS(t *testing.T) {
	node, c := newSwitch(t)
	ipv4 := Match{}.WithUint(FieldEthType, 0x0800)
	f := func(table uint8, prio uint16, m Match, acts ...Action) Flow {
		return Flow{Table: table, Priority: prio, Cookie: ourCookie | uint64(table)<<16 | uint64(prio), Match: m, Actions: acts}
	}
	flows := []Flow{
		f(0, 100, ipv4.WithUint(FieldReg2, 5), Conjunction{ID: 7, Clause: 1, NClauses: 2}),
		f(0, 100, ipv4.With(FieldIPv4Src, ip("10.1.0.9")), Conjunction{ID: 7, Clause: 2, NClauses: 2}),
		f(0, 100, ipv4.WithUint(FieldConjID, 7), GotoTable{1}),
		f(0, 1, nil), // everything else: drop
		f(1, 0, nil, Output{1}),
		// One flow in two conjunctive matches at one priority, the largest clause numbers, and
		// a conj_id flow that needs no prerequisite.
		f(2, 50, ipv4.With(FieldIPv4Dst, ip("10.2.0.1")), Conjunction{ID: 9, Clause: 64, NClauses: 64},
			Conjunction{ID: 8, Clause: 2, NClauses: 2}),
		f(2, 50, ipv4.WithUint(FieldIPProto, 6), Conjunction{ID: 8, Clause: 1, NClauses: 2}),
		f(2, 50, Match{}.WithUint(FieldConjID, 8), Output{2}),
	}
	// Apply sends one bundle; a barrier after it proves the switch is done with it.
	if err := c.Apply(ctxT(t), addAll(flows)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := c.Barrier(ctxT(t)); err != nil {
		t.Fatalf("Barrier after the bundle: %v", err)
	}

	// Through the codec: the same text and the same values (Conjunction, not UnknownAction).
	requireState(t, c, flows, nil)
	got := installedFlows(t, c)
	want := sortedFlows(flows)
	for i := range want {
		if !got[i].Equal(want[i]) || fmt.Sprintf("%#v", got[i].Actions) != fmt.Sprintf("%#v", want[i].Actions) {
			t.Errorf("flow %d decodes as %#v, want %#v", i, got[i].Actions, want[i].Actions)
		}
	}

	// Through ovs-ofctl: each line, read by ParseFlow (which takes ovs-ofctl's "ip" for
	// dl_type=0x800), is the canonical text; the conjunction actions and conj_id are printed
	// exactly as the package prints them, conj_id before every other field.
	var wantText, gotText []string
	for _, fl := range want {
		wantText = append(wantText, fl.String())
	}
	sort.Strings(wantText)
	lines := ofctlFlows(t, node, "br0")
	for _, line := range lines {
		p, err := ParseFlow(line)
		if err != nil {
			t.Errorf("ovs-ofctl prints %q, which ParseFlow refuses: %v", line, err)
			continue
		}
		gotText = append(gotText, p.String())
	}
	sort.Strings(gotText)
	if g, w := strings.Join(gotText, "\n"), strings.Join(wantText, "\n"); g != w {
		t.Fatalf("ovs-ofctl dump-flows, read back:\n%s\nwant:\n%s\n(ovs-ofctl printed:\n%s)", g, w, strings.Join(lines, "\n"))
	}
	all := strings.Join(lines, "\n")
	for _, s := range []string{
		"priority=100,ip,reg2=0x5 actions=conjunction(7,1/2)\n",
		"priority=100,ip,nw_src=10.1.0.9 actions=conjunction(7,2/2)\n",
		"priority=100,conj_id=7,ip actions=goto_table:1\n",
		"priority=50,ip,nw_dst=10.2.0.1 actions=conjunction(9,64/64),conjunction(8,2/2)\n",
		"priority=50,conj_id=8 actions=output:2\n",
	} {
		if !strings.Contains(all+"\n", s) {
			t.Errorf("ovs-ofctl does not print %q:\n%s", s, all)
		}
	}

	// The FlowTable's encoding of the decoded dump equals that of the flows it wanted.
	tab := newTestTable()
	tab.SetUnit("sg/rule-7", flows, nil)
	dump, err := c.DumpFlows(ctxT(t), nil)
	if err != nil {
		t.Fatalf("DumpFlows: %v", err)
	}
	tab.Reset(dump, nil)
	if changes, conflicts := tab.Changes(); len(changes)+len(conflicts) != 0 {
		t.Errorf("FlowTable sees differences between the flows and their dump: %v %v", changes, conflicts)
	}

	// The datapath's view: only a packet matching both clauses reaches the conj_id flow.
	cookie := func(table uint8, prio uint16) string {
		return fmt.Sprintf("cookie %#x", ourCookie|uint64(table)<<16|uint64(prio))
	}
	for _, tc := range []struct {
		name, packet string
		rules        []string
	}{
		{"both clauses", "reg2=5,nw_src=10.1.0.9",
			[]string{"0. conj_id=7,ip, priority 100, " + cookie(0, 100), "1. priority 0, " + cookie(1, 0)}},
		{"clause 1 only", "reg2=5,nw_src=10.1.0.8", []string{"0. priority 1, " + cookie(0, 1)}},
		{"clause 2 only", "reg2=6,nw_src=10.1.0.9", []string{"0. priority 1, " + cookie(0, 1)}},
	} {
		trace := node.MustAppctl(t, "ofproto/trace", "br0", "in_port=LOCAL,ip,nw_dst=10.3.0.1,"+tc.packet)
		if got := traceRules(trace); strings.Join(got, "\n") != strings.Join(tc.rules, "\n") {
			t.Errorf("%s (%s): the packet hits\n%s\nwant\n%s\n(trace:\n%s)", tc.name, tc.packet,
				strings.Join(got, "\n"), strings.Join(tc.rules, "\n"), trace)
		}
	}
}

// Apply's rule that conjunction actions come alone is OVS's: a conjunction that Apply cannot
// recognize (raw bytes) beside an output reaches the switch, which refuses it, and the
// switch's state is unchanged.
func TestOVSRefusesConjunctionWithOtherActions(t *testing.T) {
	_, c := newSwitch(t)
	raw, err := encodeConjunction(Conjunction{ID: 7, Clause: 1, NClauses: 2})
	if err != nil {
		t.Fatal(err)
	}
	mixed := Flow{Table: 0, Priority: 100, Cookie: ourCookie, Actions: []Action{UnknownAction{Raw: raw}, Output{1}}}
	err = c.Apply(ctxT(t), addAll([]Flow{mixed}))
	var ce *ChangeError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "NXBAC_BAD_CONJUNCTION") {
		t.Fatalf("Apply of %s: %v, want the switch's refusal (NXBAC_BAD_CONJUNCTION)", mixed, err)
	}
	t.Logf("OVS refuses %s: %v", mixed, err)
	// The same flow as values is refused before anything is sent.
	typed := mixed
	typed.Actions = []Action{Conjunction{ID: 7, Clause: 1, NClauses: 2}, Output{1}}
	if err := c.Apply(ctxT(t), addAll([]Flow{typed})); err == nil || errors.As(err, &ce) {
		t.Fatalf("Apply of %s: %v, want a refusal before sending", typed, err)
	}
	requireState(t, c, nil, nil)
}
