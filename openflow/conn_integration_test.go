package openflow

// Integration tests against a real ovs-vswitchd (in a private namespace and run directory, see
// test/testbed). They fail, never skip, when OVS or root is missing.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/test/testbed"
)

// ourCookie marks the flows these tests install; foreignCookie stands for someone else's.
const (
	ourCookie     = 0x0a00000000000000
	foreignCookie = 0x0000000000000bad
)

func owned(c uint64) bool { return c&0xff00000000000000 == ourCookie }

// newSwitch starts OVS with bridge br0 (userspace, secure, OpenFlow 1.3 only) and dials it.
func newSwitch(t testing.TB, bridges ...string) (*testbed.Node, *Conn) {
	t.Helper()
	testbed.Require(t)
	node := testbed.NewNode(t, "of")
	if len(bridges) == 0 {
		bridges = []string{"br0"}
	}
	for _, br := range bridges {
		node.AddBridge(t, br, "fail_mode=secure", "protocols=OpenFlow13")
	}
	return node, dial(t, node, bridges[0])
}

func dial(t testing.TB, node *testbed.Node, bridge string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, node.MgmtSocket(bridge))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mac(s string) []byte {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func ip(s string) []byte {
	a := net.ParseIP(s)
	if a4 := a.To4(); a4 != nil {
		return a4
	}
	return a.To16()
}

// testGroup is a type-all group whose buckets set a register and resubmit.
var testGroup = Group{ID: 1, Type: GroupAll, Buckets: []Bucket{
	{Actions: []Action{SetUint(FieldReg0, 10), Resubmit{Table: 10}}},
	{Actions: []Action{SetUint(FieldReg1, 11), Resubmit{Table: 11}}},
}}

// testFlows uses every field (with and without masks) and every action kind but MeterAction.
func testFlows() []Flow {
	var m Match
	ipv4 := m.WithUint(FieldEthType, 0x0800)
	ipv6 := m.WithUint(FieldEthType, 0x86dd)
	arp := m.WithUint(FieldEthType, 0x0806)
	regs := m
	for i := 0; i < 8; i++ {
		regs = regs.WithUint(Reg(i), uint64(i+1))
	}
	regs = regs.WithMasked(FieldReg0, FieldReg0.Uint(0x05), FieldReg0.Uint(0xff))
	f := func(table uint8, prio uint16, m Match, acts ...Action) Flow {
		return Flow{Table: table, Priority: prio, Cookie: ourCookie | uint64(table)<<8 | uint64(prio), Match: m, Actions: acts}
	}
	return []Flow{
		f(0, 100, m.WithUint(FieldInPort, 1), GotoTable{1}),
		f(0, 90, m.WithUint(FieldInPort, 2).WithUint(FieldVlanVID, VlanPresent|10),
			PopVLAN{}, SetUint(FieldReg0, 10), GotoTable{1}),
		f(0, 80, m.WithUint(FieldInPort, 3), PushVLAN{}, SetVlanVID(20), Output{1}),
		f(0, 0, nil),
		f(1, 100, m.With(FieldEthDst, mac("ff:ff:ff:ff:ff:ff")), GroupAction{1}),
		f(1, 90, m.WithMasked(FieldEthSrc, mac("02:00:00:00:00:01"), mac("ff:ff:ff:00:00:00")).
			With(FieldEthDst, mac("02:00:00:00:00:02")), Output{2}),
		f(1, 85, m.WithMasked(FieldEthDst, mac("01:00:00:00:00:00"), mac("01:00:00:00:00:00")), Output{PortLocal}),
		f(1, 80, regs, Output{PortInPort}),
		f(1, 70, m.WithMasked(FieldTunID, FieldTunID.Uint(0x64), FieldTunID.Uint(0xffff)), Output{PortLocal}),
		f(1, 60, m.WithUint(FieldTunID, 7), SetUint(FieldTunID, 8), Resubmit{2}, Output{3}),
		f(2, 100, arp.WithUint(FieldARPOp, 1).WithMasked(FieldARPSPA, ip("10.0.0.0"), ip("255.255.255.0")).
			With(FieldARPTPA, ip("10.0.0.1")).With(FieldARPSHA, mac("02:00:00:00:00:03")).
			With(FieldARPTHA, mac("00:00:00:00:00:00")), Output{PortController}),
		f(2, 90, ipv4.WithMasked(FieldIPv4Src, ip("10.1.0.0"), ip("255.255.0.0")).With(FieldIPv4Dst, ip("10.2.0.1")),
			SetField{FieldIPv4Dst, ip("10.2.0.2")}, SetField{FieldEthSrc, mac("02:00:00:00:00:09")}, Output{3}),
		f(2, 80, ipv4.WithUint(FieldIPProto, 6).WithUint(FieldTCPSrc, 80).
			WithMasked(FieldTCPDst, FieldTCPDst.Uint(0x1f00), FieldTCPDst.Uint(0xff00)), Output{4}),
		f(2, 70, ipv4.WithUint(FieldIPProto, 17).WithUint(FieldUDPSrc, 53).WithUint(FieldUDPDst, 5353),
			SetUint(FieldUDPDst, 53), Output{5}),
		f(2, 60, ipv4.WithUint(FieldIPProto, 1).WithUint(FieldICMPType, 8).WithUint(FieldICMPCode, 0), Output{6}),
		f(2, 50, ipv6.WithMasked(FieldIPv6Src, ip("2001:db8::"), ip("ffff:ffff:ffff:ffff::")).
			With(FieldIPv6Dst, ip("2001:db8::1")), SetField{FieldIPv6Dst, ip("2001:db8::2")}, Output{7}),
		f(2, 40, ipv6.WithUint(FieldIPProto, 58).WithUint(FieldICMPv6Type, 135).WithUint(FieldICMPv6Code, 0), Output{8}),
		f(2, 30, ipv6.WithUint(FieldIPProto, 58).WithUint(FieldICMPv6Type, 135).With(FieldNDTarget, ip("2001:db8::1")), Output{8}),
		// What routing needs: the TTL, its decrement, and whole-address moves of both families.
		f(2, 35, ipv4.WithUint(FieldIPTTL, 1), Output{9}),
		f(2, 34, ipv4.WithUint(FieldIPProto, 1), DecTTL{}, Move{FieldIPv4Src, FieldIPv4Dst}, SetField{FieldIPv4Src, ip("10.2.0.1")}, Output{9}),
		f(2, 33, ipv6.WithUint(FieldIPTTL, 0), Output{9}),
		f(2, 32, ipv6.WithUint(FieldIPProto, 58), DecTTL{}, Move{FieldIPv6Src, FieldIPv6Dst}, SetUint(FieldICMPv6Type, 129), Output{9}),
		f(2, 0, nil),
		f(3, 20, m.WithMasked(FieldVlanVID, FieldVlanVID.Uint(VlanPresent), FieldVlanVID.Uint(VlanPresent)),
			SetField{FieldEthDst, mac("02:00:00:00:00:0a")}, Output{1}),
		f(3, 10, m.WithUint(FieldVlanVID, 0), SetUint(FieldReg7, 0xdeadbeef), Resubmit{4}, GotoTable{4}),
		f(4, 0, nil, SetUint(FieldReg6, 1), GroupAction{1}),
		f(5, 100, ipv4.WithCTState(0, CTTrk), CT{Recirculate: true, Table: 6, Zone: 5}),
		f(6, 100, ipv4.WithCTState(CTNew|CTTrk, CTEst), CT{Commit: true, Zone: 5}, GotoTable{7}),
		f(6, 90, m.WithCTState(CTEst|CTTrk, 0), Output{1}),
		f(6, 80, ipv4.WithCTState(CTInv|CTTrk, 0)),
		f(7, 100, arp.WithUint(FieldARPOp, 1), Move{FieldEthSrc, FieldEthDst}, Move{FieldARPSHA, FieldARPTHA},
			Move{FieldARPSPA, FieldARPTPA}, Move{FieldReg0, FieldReg2}, SetUint(FieldARPOp, 2), Output{PortInPort}),
		f(7, 90, m.WithUint(FieldTunID, 5001), SetField{FieldTunIPv4Dst, ip("192.168.9.2")}, Output{1}),
		f(7, 80, m.With(FieldTunIPv4Src, ip("192.168.9.3")), Output{1}),
		// A conjunctive match: one flow per clause value (one flow in two conjunctions), then
		// the conj_id flows.
		f(8, 100, ipv4.WithUint(FieldReg2, 5), Conjunction{ID: 7, Clause: 1, NClauses: 2}),
		f(8, 100, ipv4.With(FieldIPv4Src, ip("10.1.0.9")), Conjunction{ID: 7, Clause: 2, NClauses: 2},
			Conjunction{ID: 8, Clause: 3, NClauses: 3}),
		f(8, 100, ipv4.WithUint(FieldConjID, 7), Output{2}),
		f(8, 100, m.WithUint(FieldConjID, 8), GotoTable{10}),
		// Packet-ins: the three forms of the controller action (meters need a meter: see
		// TestPacketInOutAndMeters).
		f(9, 30, m.WithUint(FieldReg3, 1), Controller{MaxLen: 100}),
		f(9, 20, m.WithUint(FieldReg3, 2), Controller{Userdata: []byte{1, 2, 3}}, Output{2}),
		f(9, 10, m.WithUint(FieldReg3, 3), Controller{MaxLen: 200, Userdata: []byte("dhcp4")}),
		f(10, 0, m.WithUint(FieldReg0, 10), Output{1}),
		f(11, 0, m.WithUint(FieldReg1, 11), Note{Data: []byte("ovsgw\x01")}, Output{2}),
	}
}

func addAll(flows []Flow, groups ...Group) []Change {
	var out []Change
	for _, g := range groups {
		out = append(out, GroupMod{GroupAdd, g})
	}
	for _, f := range flows {
		out = append(out, FlowMod{FlowAdd, f})
	}
	return out
}

func flowStrings[F interface{ String() string }](fs []F) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func sortedFlows(fs []Flow) []Flow {
	out := append([]Flow(nil), fs...)
	sortByFlow(out, func(f Flow) Flow { return f })
	return out
}

func installedFlows(t testing.TB, c *Conn) []Flow {
	t.Helper()
	got, err := c.DumpFlows(ctxT(t), nil)
	if err != nil {
		t.Fatalf("DumpFlows: %v", err)
	}
	out := make([]Flow, len(got))
	for i, f := range got {
		out[i] = f.Flow
	}
	return out
}

// requireState fails unless the switch holds exactly flows and groups (canonical text).
func requireState(t testing.TB, c *Conn, flows []Flow, groups []Group) {
	t.Helper()
	if got, want := flowStrings(installedFlows(t, c)), flowStrings(sortedFlows(flows)); got != want {
		t.Fatalf("flows on the switch:\n%s\nwant:\n%s", got, want)
	}
	gotG, err := c.DumpGroups(ctxT(t))
	if err != nil {
		t.Fatalf("DumpGroups: %v", err)
	}
	if got, want := flowStrings(gotG), flowStrings(groups); got != want {
		t.Fatalf("groups on the switch:\n%s\nwant:\n%s", got, want)
	}
}

func TestApplyBundleDumpsBackIdentically(t *testing.T) {
	_, c := newSwitch(t)
	if c.DatapathID() == 0 {
		t.Errorf("datapath id is 0")
	}
	flows := testFlows()
	if err := c.Apply(ctxT(t), addAll(flows, testGroup)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	requireState(t, c, flows, []Group{testGroup})
	// Structural equality too, not only text: decode(dump(install(f))) == f.
	got := installedFlows(t, c)
	for i, want := range sortedFlows(flows) {
		if !got[i].Equal(want) {
			t.Errorf("flow %d: got %s, want %s", i, got[i], want)
		}
	}
	if err := c.Barrier(ctxT(t)); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
}

// The canonical text is what ovs-ofctl reads: flows and groups added as text by ovs-ofctl
// dump back (through our decoder) identical to the values that printed the text.
func TestCanonicalTextIsAcceptedByOfctl(t *testing.T) {
	node, _ := newSwitch(t, "br0", "br1")
	node.MustOfctl(t, "add-group", "br1", testGroup.String())
	for _, f := range testFlows() {
		if out, err := node.Ofctl("add-flow", "br1", f.String()); err != nil {
			t.Errorf("ovs-ofctl rejects %q: %v\n%s", f, err, out)
		}
	}
	requireState(t, dial(t, node, "br1"), testFlows(), []Group{testGroup})
}

func TestModifyStrictAndDeleteStrict(t *testing.T) {
	node, c := newSwitch(t)
	flows := testFlows()
	if err := c.Apply(ctxT(t), addAll(flows, testGroup)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// Count a packet on table 0's priority-0 flow (flows[3]), to see that modify keeps it.
	node.MustOfctl(t, "packet-out", "br0", "LOCAL", "table", "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002")
	mod := flows[3]
	mod.Cookie, mod.Actions = ourCookie|0xfff, []Action{Output{9}}
	grp := Group{ID: 1, Type: GroupIndirect, Buckets: []Bucket{{Actions: []Action{Output{5}}}}}
	err := c.Apply(ctxT(t), []Change{
		GroupMod{GroupModify, grp},
		FlowMod{FlowModifyStrict, mod},
		FlowMod{FlowDeleteStrict, flows[4]},
	})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := append(append([]Flow{}, flows[:3]...), mod)
	want = append(want, flows[5:]...)
	requireState(t, c, want, []Group{grp})
	all, err := c.DumpFlows(ctxT(t), &mod.Table)
	if err != nil {
		t.Fatalf("DumpFlows: %v", err)
	}
	for _, f := range all {
		if f.Key() == mod.Key() && f.Packets != 1 {
			t.Errorf("modified flow has %d packets, want the 1 counted before the modify", f.Packets)
		}
		if f.Table != mod.Table {
			t.Errorf("DumpFlows(table %d) returned a flow of table %d", mod.Table, f.Table)
		}
	}
	// DeleteStrict only deletes the entry while it carries the flow's cookie.
	stale := flows[5]
	stale.Cookie++
	if err := c.Apply(ctxT(t), []Change{FlowMod{FlowDeleteStrict, stale}, GroupMod{GroupDelete, grp}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// Deleting group 1 removed the flows that use it (OpenFlow semantics).
	var left []Flow
	for _, f := range want {
		if !strings.Contains(f.ActionsString(), "group:1") {
			left = append(left, f)
		}
	}
	requireState(t, c, left, nil)
}

// A bundle with one bad change leaves the switch as it was, and the error names that change,
// whether OVS refuses it when it is added (goto to a lower table) or at commit (missing group).
func TestBadChangeLeavesSwitchUnchanged(t *testing.T) {
	_, c := newSwitch(t)
	before := testFlows()[:4]
	if err := c.Apply(ctxT(t), addAll(before)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	extra := Flow{Table: 7, Priority: 1, Cookie: ourCookie, Actions: []Action{Output{1}}}
	for _, tc := range []struct {
		name string
		bad  Change
		code string
	}{
		{"goto lower table (add time)", FlowMod{FlowAdd, Flow{Table: 5, Priority: 1, Cookie: ourCookie, Actions: []Action{GotoTable{2}}}}, "OFPBIC_BAD_TABLE_ID"},
		{"missing group (commit time)", FlowMod{FlowAdd, Flow{Table: 5, Priority: 1, Cookie: ourCookie, Actions: []Action{GroupAction{99}}}}, "OFPBAC_BAD_OUT_GROUP"},
		{"group exists (commit time)", GroupMod{GroupAdd, testGroup}, "OFPGMFC_GROUP_EXISTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes := []Change{GroupMod{GroupAdd, testGroup}, FlowMod{FlowAdd, extra}, FlowMod{FlowDeleteStrict, before[0]}, tc.bad}
			err := c.Apply(ctxT(t), changes)
			var ce *ChangeError
			if !errors.As(err, &ce) {
				t.Fatalf("Apply error %v, want a *ChangeError", err)
			}
			if ce.Change.String() != tc.bad.String() || !strings.Contains(err.Error(), tc.bad.String()) || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("error %q does not name %q and %s", err, tc.bad, tc.code)
			}
			requireState(t, c, before, nil)
		})
	}
	t.Run("many refused changes are summarized", func(t *testing.T) {
		var bad []Flow
		for i := 0; i < maxReported+10; i++ {
			bad = append(bad, Flow{Table: 5, Priority: uint16(i), Cookie: ourCookie, Actions: []Action{GotoTable{1}}})
		}
		err := c.Apply(ctxT(t), addAll(bad))
		if err == nil || strings.Count(err.Error(), "OFPBIC_BAD_TABLE_ID") != maxReported ||
			!strings.Contains(err.Error(), "and 10 more refused changes") {
			t.Fatalf("Apply error: %v", err)
		}
		requireState(t, c, before, nil)
	})
}

// Flows and groups someone else installed survive a reconciliation, decode even when they use
// fields and actions ovsgw does not model, and a desired flow in a foreign flow's place is a
// conflict rather than an overwrite.
func TestForeignEntriesSurvive(t *testing.T) {
	node, c := newSwitch(t)
	foreign := []string{
		"cookie=0xbad,table=0,priority=500,in_port=1 actions=output:2",
		"cookie=0xbad,table=0,priority=400,ip,nw_tos=16,vlan_pcp=3,dl_vlan=5 actions=dec_ttl,load:0x3->NXM_NX_REG0[0..3],write_metadata:0x5/0xff,goto_table:3",
		"cookie=0xbad,table=0,priority=300,ct_state=+trk,tcp,tcp_flags=+syn actions=ct(commit,zone=5),controller(userdata=01.02),output:3",
		"cookie=0xbad,table=0,priority=200,metadata=0x7 actions=clear_actions,write_actions(output:4)",
	}
	for _, f := range foreign {
		node.MustOfctl(t, "add-flow", "br0", f)
	}
	node.MustOfctl(t, "add-group", "br0", "group_id=500,type=select,bucket=weight:5,actions=output:1,bucket=weight:7,actions=output:2")
	before := installedFlows(t, c)
	if len(before) != len(foreign) {
		t.Fatalf("dump of foreign flows: got %d flows:\n%s", len(before), flowStrings(before))
	}
	if s := flowStrings(before); !strings.Contains(s, "unknown_action") || !strings.Contains(s, "unknown_instruction") || !strings.Contains(s, "oxm(") {
		t.Errorf("foreign flows should decode with unknown parts:\n%s", s)
	}
	t.Logf("foreign flows as decoded:\n%s", flowStrings(before))
	groups, err := c.DumpGroups(ctxT(t))
	if err != nil || len(groups) != 1 {
		t.Fatalf("DumpGroups = %v, %v", groups, err)
	}
	// Re-encoding the decoded foreign flows reproduces them (unknown parts keep their bytes).
	for _, f := range before {
		if _, err := encodeFlowMod(FlowAdd, f); err != nil {
			t.Errorf("cannot re-encode %s: %v", f, err)
		}
	}

	installed, err := c.DumpFlows(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	desired := testFlows()
	changes, err := Plan(desired, installed, owned, []Group{testGroup}, groups, func(g Group) bool { return g.ID < 100 })
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if err := c.Apply(ctxT(t), changes); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	requireState(t, c, append(append([]Flow{}, before...), desired...), []Group{testGroup, groups[0]})

	// A second run with nothing desired removes only our flows and groups.
	installed, _ = c.DumpFlows(ctxT(t), nil)
	allGroups, _ := c.DumpGroups(ctxT(t))
	changes, err = Plan(nil, installed, owned, nil, allGroups, func(g Group) bool { return g.ID < 100 })
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if err := c.Apply(ctxT(t), changes); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	requireState(t, c, before, groups)

	// Wanting a flow where a foreign one sits is refused, naming the foreign flow.
	clash := before[0]
	clash.Cookie, clash.Actions = ourCookie, []Action{Output{PortLocal}}
	_, err = Diff([]Flow{clash}, installed, owned)
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Installed != before[0].String() {
		t.Fatalf("Diff over a foreign flow: %v, want a conflict naming %s", err, before[0])
	}
}

func TestApply5000Flows(t *testing.T) {
	_, c := newSwitch(t)
	flows := manyFlows(5000)
	start := time.Now()
	if err := c.Apply(ctxT(t), addAll(flows)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Logf("Apply of %d flows in one bundle: %v", len(flows), time.Since(start))
	start = time.Now()
	got, err := c.DumpFlows(ctxT(t), nil)
	if err != nil {
		t.Fatalf("DumpFlows: %v", err)
	}
	t.Logf("DumpFlows of %d flows: %v", len(got), time.Since(start))
	if len(got) != len(flows) {
		t.Fatalf("switch holds %d flows, want %d", len(got), len(flows))
	}
	for i, f := range sortedFlows(flows) {
		if !got[i].Equal(f) {
			t.Fatalf("flow %d: got %s, want %s", i, got[i], f)
		}
	}
}

// manyFlows returns n distinct flows of the kind the gateway installs.
func manyFlows(n int) []Flow {
	out := make([]Flow, n)
	for i := range out {
		m := Match{}.WithUint(FieldReg1, uint64(i/250)).With(FieldEthDst, mac(fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)))
		out[i] = Flow{Table: uint8(10 + i%4), Priority: 100, Cookie: ourCookie | uint64(i), Match: m,
			Actions: []Action{PushVLAN{}, SetVlanVID(uint16(i%4000 + 1)), Output{uint32(1 + i%8)}}}
	}
	return out
}

func TestDialRefusesSwitchWithoutOpenFlow13(t *testing.T) {
	testbed.Require(t)
	node := testbed.NewNode(t, "of")
	node.AddBridge(t, "br0", "fail_mode=secure", "protocols=OpenFlow10,OpenFlow14")
	_, err := Dial(ctxT(t), node.MgmtSocket("br0"))
	if err == nil || !strings.Contains(err.Error(), "does not speak OpenFlow 1.3") {
		t.Fatalf("Dial = %v, want a refusal naming OpenFlow 1.3", err)
	}
	t.Log(err)
}

func TestDoneWhenSwitchStops(t *testing.T) {
	node, c := newSwitch(t)
	node.StopVswitchd(t)
	select {
	case <-c.Done():
	case <-time.After(DeadPeerTimeout + EchoInterval):
		t.Fatal("Done not closed after ovs-vswitchd stopped")
	}
	if c.Err() == nil {
		t.Fatal("Err is nil after the connection dropped")
	}
	if err := c.Barrier(ctxT(t)); err == nil {
		t.Fatal("Barrier on a dropped connection succeeded")
	}
	t.Log(c.Err())
}

func TestCloseFailsPendingAndLaterCalls(t *testing.T) {
	_, c := newSwitch(t)
	c.Close()
	<-c.Done()
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", c.Err())
	}
	if _, err := c.DumpFlows(ctxT(t), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("DumpFlows after Close = %v", err)
	}
}

func BenchmarkApply5000(b *testing.B) {
	node, c := newSwitch(b)
	changes := addAll(manyFlows(5000))
	b.ResetTimer()
	for b.Loop() {
		if err := c.Apply(ctxT(b), changes); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		node.MustOfctl(b, "del-flows", "br0")
		b.StartTimer()
	}
}

// BenchmarkOfctlBundle5000 is the baseline: ovs-ofctl --bundle add-flows of the same flows'
// text (including ovs-ofctl's own start-up and parsing).
func BenchmarkOfctlBundle5000(b *testing.B) {
	node, _ := newSwitch(b)
	file := b.TempDir() + "/flows.txt"
	if err := os.WriteFile(file, []byte(flowStrings(manyFlows(5000))), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		node.MustOfctl(b, "--bundle", "add-flows", "br0", file)
		b.StopTimer()
		node.MustOfctl(b, "del-flows", "br0")
		b.StartTimer()
	}
}

// DumpFlowsToGroup finds exactly the flows OVS deletes with a group: those handing packets to
// it directly or nested (clone, write_actions), not those reaching it through another group.
func TestDumpFlowsToGroupFindsWhatDeletingItDeletes(t *testing.T) {
	node, c := newSwitch(t)
	node.MustOfctl(t, "add-group", "br0", "group_id=5,type=all,bucket=actions=output:1")
	node.MustOfctl(t, "add-group", "br0", "group_id=6,type=all,bucket=actions=group:5")
	for _, f := range []string{"priority=5,in_port=1,actions=clone(group:5)", "priority=6,in_port=1,actions=write_actions(group:5)",
		"priority=7,in_port=1,actions=group:5", "priority=8,in_port=1,actions=group:6", "priority=9,in_port=1,actions=output:2"} {
		node.MustOfctl(t, "add-flow", "br0", f)
	}
	users, err := c.DumpFlowsToGroup(ctxT(t), 5)
	if err != nil {
		t.Fatal(err)
	}
	var prios []uint16
	for _, f := range users {
		prios = append(prios, f.Priority)
	}
	node.MustOfctl(t, "del-groups", "br0", "group_id=5")
	left := installedFlows(t, c)
	if len(users) != 3 || len(left) != 2 || fmt.Sprint(prios) != "[7 6 5]" {
		t.Fatalf("flows to group 5: priorities %v; after deleting it %d flows are left:\n%s", prios, len(left), flowStrings(left))
	}
}
