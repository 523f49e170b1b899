package pipeline

import (
	"net/netip"
	"strings"
	"testing"
)

// TestDeadGatewayGetsNoTraffic: an HA group's active gateway gw1 died (its heartbeat stopped,
// its binding of bms1 stays); gw2 took over and published its own active binding. A node must
// tunnel bms1's traffic to gw2, not to gw1, which sorts first by name. With gw1's binding the
// only one, it is kept: a node whose agent restarts may still forward.
func TestDeadGatewayGetsNoTraffic(t *testing.T) {
	x := loadIndex(t, "ha.yaml")
	gw1, gw2 := netip.MustParseAddr("192.168.50.1"), netip.MustParseAddr("192.168.50.2")
	compute := func(peers ...Peer) *Output {
		return Compile(Input{Index: x, Host: "compute3", GatewayMode: true, TunnelPort: 10,
			Ports: []Port{{Name: "vm1p", OFPort: 5, IfaceID: "vm1"}}, Peers: peers})
	}
	tunnelOf := func(out *Output) string {
		for _, b := range out.Bindings {
			if b.VMI == "bms1" {
				return b.Node + " " + b.Port
			}
		}
		return "nowhere"
	}
	outputTo := func(out *Output, ip netip.Addr) bool {
		for _, f := range out.Flows {
			if f.Owner == (Owner{KindVMI, "bms1"}) && f.Table == TableOutput && strings.Contains(f.Flow.String(), "->tun_dst") &&
				strings.Contains(f.Flow.String(), ip.String()+"->tun_dst") {
				return true
			}
		}
		return false
	}
	dead := Peer{VMI: "bms1", Node: "gw1", TunnelIP: gw1, Stale: true, Since: 1000}
	taker := Peer{VMI: "bms1", Node: "gw2", TunnelIP: gw2, Since: 9000}

	out := compute(dead, taker)
	if got := tunnelOf(out); got != "gw2 tunnel to 192.168.50.2" {
		t.Errorf("bms1 reached at %q, want gw2's tunnel", got)
	}
	if !outputTo(out, gw2) || outputTo(out, gw1) {
		t.Errorf("bms1's output flows go to gw1 %v, gw2 %v; want gw2 only", outputTo(out, gw1), outputTo(out, gw2))
	}
	// Either order of the input, and a live gw1 with the older role, give the same answer.
	if got := tunnelOf(compute(taker, dead)); got != "gw2 tunnel to 192.168.50.2" {
		t.Errorf("reversed input: bms1 reached at %q", got)
	}
	live := dead
	live.Stale = false
	if got := tunnelOf(compute(live, taker)); got != "gw2 tunnel to 192.168.50.2" {
		t.Errorf("both live, gw2 newer: bms1 reached at %q", got)
	}
	if got := tunnelOf(compute(dead)); got != "gw1 tunnel to 192.168.50.1" {
		t.Errorf("the only binding, on a stale node: bms1 reached at %q, want gw1's tunnel kept", got)
	}
}
