package openflow

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// dec_ttl is OpenFlow 1.3's OFPAT_DEC_NW_TTL: type 24, length 8, four bytes of padding. Only
// that form decodes as DecTTL; any other bytes of type 24 stay unknown, with their bytes.
func TestDecTTLWireLayout(t *testing.T) {
	oa, err := encodeAction(DecTTL{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("0018000800000000")
	if got := marshal(t, oa); !bytes.Equal(got, want) {
		t.Fatalf("dec_ttl encodes as %x, want %x", got, want)
	}
	if a := decodeAction(want); a != (DecTTL{}) {
		t.Errorf("%x decodes as %#v", want, a)
	}
	for _, wire := range []string{"0018000800000001", "001800100000000000000000"} {
		raw, _ := hex.DecodeString(wire)
		if u, ok := decodeAction(raw).(UnknownAction); !ok || !bytes.Equal(u.Raw, raw) {
			t.Errorf("%s decodes as %#v, want an UnknownAction with its bytes", wire, decodeAction(raw))
		}
	}
	const text = "cookie=0x1, table=55, priority=200,dl_type=0x86dd,nw_ttl=1 actions=dec_ttl,goto_table:60"
	if f, err := ParseFlow(text); err != nil || f.String() != text {
		t.Errorf("ParseFlow(%q): %s, %v", text, f, err)
	}
}

// On a real switch: a TTL match and dec_ttl install, dump back as the same values, and do
// what routing needs: the TTL (IPv4) or hop limit (IPv6) of a forwarded packet drops by one,
// and a packet whose TTL is 1 takes the flow that matches it, before dec_ttl could drop it
// silently.
func TestDecTTLOnOVS(t *testing.T) {
	node, c := newSwitch(t)
	ipv4 := Match{}.WithUint(FieldEthType, 0x0800)
	ipv6 := Match{}.WithUint(FieldEthType, 0x86dd)
	f := func(prio uint16, m Match, acts ...Action) Flow {
		return Flow{Table: 0, Priority: prio, Cookie: ourCookie | uint64(prio), Match: m, Actions: acts}
	}
	flows := []Flow{
		f(200, ipv4.WithUint(FieldIPTTL, 1), Output{3}),
		f(200, ipv6.WithUint(FieldIPTTL, 1), Output{3}),
		f(100, ipv4, DecTTL{}, Output{2}),
		f(100, ipv6, DecTTL{}, Output{2}),
	}
	if err := c.Apply(ctxT(t), addAll(flows)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	requireState(t, c, flows, nil)
	for _, tc := range []struct {
		packet, rule, final string
	}{
		{"ip,nw_ttl=64", "0. ip, priority 100", "nw_ttl=63,"},
		{"ipv6,nw_ttl=64", "0. ipv6, priority 100", "nw_ttl=63,"},
		{"ip,nw_ttl=1", "0. ip,nw_ttl=1, priority 200", "Final flow: unchanged"},
		{"ipv6,nw_ttl=1", "0. ipv6,nw_ttl=1, priority 200", "Final flow: unchanged"},
	} {
		trace := node.MustAppctl(t, "ofproto/trace", "br0", "in_port=LOCAL,"+tc.packet)
		rules := traceRules(trace)
		final := trace[strings.Index(trace, "Final flow:"):]
		if len(rules) != 1 || !strings.HasPrefix(rules[0], tc.rule) || !strings.Contains(final, tc.final) {
			t.Errorf("%s: want rule %q and %q in the final flow; trace:\n%s", tc.packet, tc.rule, tc.final, trace)
		}
	}
}
