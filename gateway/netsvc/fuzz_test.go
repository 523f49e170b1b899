package netsvc

import (
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/mdlayher/ndp"
)

// FuzzServe: no frame makes a Serve function panic, and every reply it makes parses back:
// a DHCP reply to the VMI from the router MAC, or a valid neighbour discovery message.
func FuzzServe(f *testing.F) {
	t := &testing.T{}
	bcast := netip.MustParseAddr("255.255.255.255")
	f.Add(dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, vmMAC), bcast))
	f.Add(dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC, dhcpv4.WithClientIP([]byte{10, 1, 0, 5})), bcast))
	f.Add(dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeInform, vmMAC, dhcpv4.WithBroadcast(true)), bcast))
	gw6, vm6 := netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::5")
	f.Add(icmp6Frame(t, vmMAC, &ndp.NeighborSolicitation{TargetAddress: gw6}, vm6, netip.MustParseAddr("ff02::1:ff00:1"), 255))
	f.Add(icmp6Frame(t, vmMAC, &ndp.RouterSolicitation{}, netip.IPv6Unspecified(), netip.MustParseAddr("ff02::2"), 255))
	ifc := testIfc()
	f.Fuzz(func(t *testing.T, frame []byte) {
		if reply, outcome, err := ServeDHCPv4(frame, ifc); reply != nil {
			if err != nil || (outcome != Offered && outcome != Acked && outcome != Naked && outcome != Informed) {
				t.Fatalf("DHCP reply with outcome %s, error %v", outcome, err)
			}
			if r := parseReply(t, reply); !sameMAC(r.eth.src, routerMAC) || !sameMAC(r.msg.ClientHWAddr, vmMAC) {
				t.Fatalf("DHCP reply from %s for %s", r.eth.src, r.msg.ClientHWAddr)
			}
		} else if outcome == Ignored && err == nil {
			t.Fatalf("DHCP: ignored without a reason")
		}
		if reply, outcome, err := ServeICMPv6(frame, ifc); reply != nil {
			if err != nil || (outcome != Advertised && outcome != NeighborAdvertised) {
				t.Fatalf("ICMPv6 reply with outcome %s, error %v", outcome, err)
			}
			parseNDP(t, reply)
		}
		if reply, _, _ := ServeICMPv4Echo(frame, ifc); reply != nil && checksum(reply[ethHeaderLen:ethHeaderLen+ipv4HeaderLen]) != 0 {
			t.Fatalf("echo reply with a bad IPv4 checksum")
		}
	})
}
