package netsvc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/mdlayher/ndp"
)

var (
	vmMAC     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x05}
	otherMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x66}
	routerMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0, 0, 0x01}
)

func testIfc() Interface {
	return Interface{
		MAC:       vmMAC,
		IPv4:      netip.MustParsePrefix("10.1.0.5/24"),
		Gateway4:  netip.MustParseAddr("10.1.0.1"),
		DNS4:      []netip.Addr{netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("8.8.8.8")},
		Domain:    "vn1.example",
		Lease:     2 * time.Hour,
		IPv6:      []netip.Prefix{netip.MustParsePrefix("2001:db8:1::5/64"), netip.MustParsePrefix("2001:db8:2::5/96")},
		Gateway6:  []netip.Addr{netip.MustParseAddr("2001:db8:1::1")},
		DNS6:      []netip.Addr{netip.MustParseAddr("2001:db8:1::53")},
		MTU:       1450,
		RouterMAC: routerMAC,
	}
}

// dhcpFrame wraps a client message as the VMI sends it: from src MAC, 0.0.0.0 (or ciaddr)
// to 255.255.255.255 (or dst), UDP 68 → 67.
func dhcpFrame(src net.HardwareAddr, m *dhcpv4.DHCPv4, dst netip.Addr) []byte {
	from := netip.IPv4Unspecified()
	if a, ok := netip.AddrFromSlice(m.ClientIPAddr.To4()); ok {
		from = a
	}
	if !dst.IsValid() {
		dst = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	udp := udp4(from, dst, dhcpClientPort, dhcpServerPort, m.ToBytes())
	return etherFrame(broadcastMAC, src, etherTypeIPv4, ipv4Packet(from, dst, protoUDP, udp))
}

// clientMsg builds a client message of type typ with chaddr mac and the given modifiers.
func clientMsg(t *testing.T, typ dhcpv4.MessageType, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(typ),
		dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, 4})}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// parsedReply is a reply frame taken apart, each header checked (checksums included).
type parsedReply struct {
	eth ether
	ip  ipv4
	msg *dhcpv4.DHCPv4
}

func parseReply(t *testing.T, b []byte) parsedReply {
	t.Helper()
	eth, err := parseEther(b)
	if err != nil || eth.typ != etherTypeIPv4 {
		t.Fatalf("reply frame: %v (type %#x)", err, eth.typ)
	}
	if checksum(eth.payload[:ipv4HeaderLen]) != 0 {
		t.Fatalf("reply IPv4 header checksum is wrong")
	}
	ip, err := parseIPv4(eth.payload)
	if err != nil || ip.proto != protoUDP {
		t.Fatalf("reply IP: %v", err)
	}
	s, d := ip.src.As4(), ip.dst.As4()
	pseudo := append(append(s[:], d[:]...), 0, protoUDP, byte(len(ip.payload)>>8), byte(len(ip.payload)))
	if checksum(pseudo, ip.payload) != 0 {
		t.Fatalf("reply UDP checksum is wrong")
	}
	if sp, dp := binary.BigEndian.Uint16(ip.payload), binary.BigEndian.Uint16(ip.payload[2:]); sp != 67 || dp != 68 {
		t.Fatalf("reply UDP ports %d → %d", sp, dp)
	}
	m, err := dhcpv4.FromBytes(ip.payload[udpHeaderLen:])
	if err != nil {
		t.Fatalf("reply DHCP: %v", err)
	}
	return parsedReply{eth, ip, m}
}

func TestServeDHCPv4(t *testing.T) {
	ifc := testIfc()
	yours, gw := net.IP{10, 1, 0, 5}, net.IP{10, 1, 0, 1}
	bcast := netip.MustParseAddr("255.255.255.255")
	for _, tc := range []struct {
		name    string
		frame   func(t *testing.T) []byte
		ifc     func(Interface) Interface
		outcome Outcome
		typ     dhcpv4.MessageType // of the reply
		dstIP   string
		dstMAC  net.HardwareAddr
	}{
		{name: "discover gets an offer, unicast to the offered address",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, vmMAC), bcast)
			},
			outcome: Offered, typ: dhcpv4.MessageTypeOffer, dstIP: "10.1.0.5", dstMAC: vmMAC},
		{name: "discover with the broadcast flag gets a broadcast offer",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, vmMAC, dhcpv4.WithBroadcast(true)), bcast)
			},
			outcome: Offered, typ: dhcpv4.MessageTypeOffer, dstIP: "255.255.255.255", dstMAC: broadcastMAC},
		{name: "selecting: request for our offer is acked",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC,
					dhcpv4.WithOption(dhcpv4.OptServerIdentifier(gw)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(yours))), bcast)
			},
			outcome: Acked, typ: dhcpv4.MessageTypeAck, dstIP: "10.1.0.5", dstMAC: vmMAC},
		{name: "selecting: request for another address is naked by broadcast",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC,
					dhcpv4.WithOption(dhcpv4.OptServerIdentifier(gw)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{10, 1, 0, 9}))), bcast)
			},
			outcome: Naked, typ: dhcpv4.MessageTypeNak, dstIP: "255.255.255.255", dstMAC: broadcastMAC},
		{name: "selecting another server's offer is ignored",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC,
					dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP{10, 1, 0, 200})), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(yours))), bcast)
			},
			outcome: Ignored},
		{name: "init-reboot with the right address is acked",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(yours))), bcast)
			},
			outcome: Acked, typ: dhcpv4.MessageTypeAck, dstIP: "10.1.0.5", dstMAC: vmMAC},
		{name: "init-reboot with an old address is naked",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP{192, 168, 1, 7}))), bcast)
			},
			outcome: Naked, typ: dhcpv4.MessageTypeNak, dstIP: "255.255.255.255", dstMAC: broadcastMAC},
		{name: "renewing by unicast is acked to ciaddr",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC, dhcpv4.WithClientIP(yours)), netip.MustParseAddr("10.1.0.1"))
			},
			outcome: Acked, typ: dhcpv4.MessageTypeAck, dstIP: "10.1.0.5", dstMAC: vmMAC},
		{name: "rebinding by broadcast is acked to ciaddr",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC, dhcpv4.WithClientIP(yours), dhcpv4.WithBroadcast(true)), bcast)
			},
			outcome: Acked, typ: dhcpv4.MessageTypeAck, dstIP: "10.1.0.5", dstMAC: vmMAC},
		{name: "renewing an address that is not the VMI's is naked",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRequest, vmMAC, dhcpv4.WithClientIP(net.IP{10, 1, 0, 77})), bcast)
			},
			outcome: Naked, typ: dhcpv4.MessageTypeNak, dstIP: "255.255.255.255", dstMAC: broadcastMAC},
		{name: "inform gets the options without a lease, to ciaddr",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeInform, vmMAC, dhcpv4.WithClientIP(yours)), bcast)
			},
			outcome: Informed, typ: dhcpv4.MessageTypeAck, dstIP: "10.1.0.5", dstMAC: vmMAC},
		{name: "release is counted, not answered",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeRelease, vmMAC, dhcpv4.WithClientIP(yours)), netip.MustParseAddr("10.1.0.1"))
			},
			outcome: Released},
		{name: "decline is counted, not answered",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDecline, vmMAC, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(yours))), bcast)
			},
			outcome: Declined},
		{name: "a request from another MAC is ignored",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(otherMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, otherMAC), bcast)
			},
			outcome: Ignored},
		{name: "the VMI asking for another chaddr is ignored",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, otherMAC), bcast)
			},
			outcome: Ignored},
		{name: "a VMI without IPv4 gets nothing",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, vmMAC), bcast)
			},
			ifc:     func(i Interface) Interface { i.IPv4, i.Gateway4 = netip.Prefix{}, netip.Addr{}; return i },
			outcome: Ignored},
		{name: "a subnet without gateway: no router option, the link-local server id",
			frame: func(t *testing.T) []byte {
				return dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, vmMAC), bcast)
			},
			ifc:     func(i Interface) Interface { i.Gateway4 = netip.Addr{}; return i },
			outcome: Offered, typ: dhcpv4.MessageTypeOffer, dstIP: "10.1.0.5", dstMAC: vmMAC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ifc := ifc
			if tc.ifc != nil {
				ifc = tc.ifc(ifc)
			}
			reply, outcome, err := ServeDHCPv4(tc.frame(t), ifc)
			if outcome != tc.outcome {
				t.Fatalf("outcome %s (%v), want %s", outcome, err, tc.outcome)
			}
			if tc.typ == 0 {
				if reply != nil {
					t.Fatalf("a reply (%d bytes) for an outcome with none", len(reply))
				}
				if tc.outcome == Ignored && err == nil {
					t.Errorf("ignored without saying why")
				}
				t.Logf("%s: %v", outcome, err)
				return
			}
			if err != nil {
				t.Fatalf("err %v with outcome %s", err, outcome)
			}
			r := parseReply(t, reply)
			server := serverID(ifc)
			if r.msg.MessageType() != tc.typ || r.msg.OpCode != dhcpv4.OpcodeBootReply || r.msg.TransactionID != (dhcpv4.TransactionID{1, 2, 3, 4}) ||
				!bytes.Equal(r.msg.ClientHWAddr, vmMAC) {
				t.Errorf("reply %s", r.msg.Summary())
			}
			if r.eth.src.String() != routerMAC.String() || r.eth.dst.String() != tc.dstMAC.String() ||
				r.ip.src != server || r.ip.dst.String() != tc.dstIP {
				t.Errorf("reply %s → %s, %s → %s; want %s → %s, %s → %s", r.eth.src, r.eth.dst, r.ip.src, r.ip.dst,
					routerMAC, tc.dstMAC, server, tc.dstIP)
			}
			if !r.msg.ServerIdentifier().Equal(net.IP(server.AsSlice())) {
				t.Errorf("server identifier %s, want %s", r.msg.ServerIdentifier(), server)
			}
			if tc.typ == dhcpv4.MessageTypeNak {
				if !r.msg.YourIPAddr.IsUnspecified() || r.msg.SubnetMask() != nil || !r.msg.IsBroadcast() {
					t.Errorf("a NAK with an address or options, or without the broadcast flag: %s", r.msg.Summary())
				}
				return
			}
			wantYours := yours
			if outcome == Informed {
				wantYours = net.IPv4zero
			}
			if !r.msg.YourIPAddr.Equal(wantYours) || net.IP(r.msg.SubnetMask()).String() != "255.255.255.0" ||
				r.msg.DomainName() != "vn1.example" || len(r.msg.DNS()) != 2 || !r.msg.DNS()[1].Equal(net.IP{8, 8, 8, 8}) ||
				!bytes.Equal(r.msg.GetOneOption(dhcpv4.OptionInterfaceMTU), []byte{0x05, 0xaa}) {
				t.Errorf("reply options: %s", r.msg.Summary())
			}
			if ifc.Gateway4.IsValid() != (len(r.msg.Router()) == 1 && r.msg.Router()[0].Equal(gw)) {
				t.Errorf("router option %v with gateway %v", r.msg.Router(), ifc.Gateway4)
			}
			lease := r.msg.IPAddressLeaseTime(0)
			if outcome == Informed {
				if r.msg.GetOneOption(dhcpv4.OptionIPAddressLeaseTime) != nil {
					t.Errorf("an inform's ACK carries a lease")
				}
			} else if lease != 2*time.Hour || r.msg.IPAddressRenewalTime(0) != time.Hour || r.msg.IPAddressRebindingTime(0) != 105*time.Minute {
				t.Errorf("lease %v T1 %v T2 %v, want 2h, 1h, 1h45m", lease, r.msg.IPAddressRenewalTime(0), r.msg.IPAddressRebindingTime(0))
			}
		})
	}
}

func TestServeDHCPv4DefaultLeaseAndBadInput(t *testing.T) {
	ifc := testIfc()
	ifc.Lease = 0
	discover := dhcpFrame(vmMAC, clientMsg(t, dhcpv4.MessageTypeDiscover, vmMAC), netip.Addr{})
	reply, _, err := ServeDHCPv4(discover, ifc)
	if err != nil || parseReply(t, reply).msg.IPAddressLeaseTime(0) != DefaultLease {
		t.Errorf("default lease: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Interface)
	}{
		{"MAC", func(i *Interface) { i.MAC = net.HardwareAddr{1, 2, 3} }},
		{"RouterMAC", func(i *Interface) { i.RouterMAC = net.HardwareAddr{0x01, 0, 0, 0, 0, 1} }},
		{"IPv4", func(i *Interface) { i.IPv4 = netip.MustParsePrefix("2001:db8::1/64") }},
		{"Gateway4", func(i *Interface) { i.Gateway4 = netip.MustParseAddr("10.2.0.1") }},
		{"DNS4", func(i *Interface) { i.DNS4 = []netip.Addr{netip.MustParseAddr("::1")} }},
		{"IPv6", func(i *Interface) { i.IPv6 = []netip.Prefix{netip.MustParsePrefix("fe80::1/64")} }},
		{"Gateway6", func(i *Interface) { i.Gateway6 = []netip.Addr{netip.MustParseAddr("2001:db8:9::1")} }},
		{"MTU", func(i *Interface) { i.MTU = 40 }},
		{"Lease", func(i *Interface) { i.Lease = time.Second }},
		{"Domain", func(i *Interface) { i.Domain = strings.Repeat("a", 300) }},
	} {
		bad := testIfc()
		tc.edit(&bad)
		for name, serve := range map[string]func([]byte, Interface) ([]byte, Outcome, error){
			"ServeDHCPv4": ServeDHCPv4, "ServeICMPv6": ServeICMPv6, "ServeICMPv4Echo": ServeICMPv4Echo} {
			reply, outcome, err := serve(discover, bad)
			if err == nil || reply != nil || outcome != Ignored || !strings.Contains(err.Error(), tc.field+":") {
				t.Errorf("%s with a bad %s: %v, %s", name, tc.field, err, outcome)
			}
		}
	}
	// Frames of other kinds say so.
	for _, f := range [][]byte{nil, make([]byte, 13), etherFrame(broadcastMAC, vmMAC, 0x0806, make([]byte, 28)),
		etherFrame(broadcastMAC, vmMAC, etherTypeIPv4, ipv4Packet(netip.IPv4Unspecified(), netip.MustParseAddr("10.1.0.1"), protoUDP, udp4(netip.IPv4Unspecified(), netip.MustParseAddr("10.1.0.1"), 68, 53, []byte("x"))))} {
		if reply, outcome, err := ServeDHCPv4(f, ifc); reply != nil || outcome != Ignored || err == nil {
			t.Errorf("frame %x: %v %s", f, err, outcome)
		}
	}
	arp := etherFrame(broadcastMAC, vmMAC, 0x0806, make([]byte, 28))
	if _, _, err := ServeDHCPv4(arp, ifc); !errors.Is(err, ErrNotForUs) {
		t.Errorf("ARP frame: %v, want ErrNotForUs", err)
	}
}

// icmp6Frame is an ICMPv6 neighbour discovery message from the VMI.
func icmp6Frame(t *testing.T, src net.HardwareAddr, m ndp.Message, from, to netip.Addr, hopLimit uint8) []byte {
	t.Helper()
	body, err := ndp.MarshalMessageChecksum(m, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return etherFrame(multicastMAC(to), src, etherTypeIPv6, ipv6Packet(from, to, protoICMPv6, hopLimit, body))
}

// parseNDP takes a reply apart, checking the checksum and hop limit.
func parseNDP(t *testing.T, b []byte) (ether, ipv6, ndp.Message) {
	t.Helper()
	eth, err := parseEther(b)
	if err != nil || eth.typ != etherTypeIPv6 {
		t.Fatalf("reply frame: %v", err)
	}
	ip, err := parseIPv6(eth.payload)
	if err != nil || ip.next != protoICMPv6 || ip.hopLimit != 255 {
		t.Fatalf("reply IPv6: %v, next %d, hop limit %d", err, ip.next, ip.hopLimit)
	}
	if checksum(pseudoHeader6(ip.src, ip.dst, len(ip.payload)), ip.payload) != 0 {
		t.Fatalf("reply ICMPv6 checksum is wrong")
	}
	m, err := ndp.ParseMessage(ip.payload)
	if err != nil {
		t.Fatalf("reply NDP: %v", err)
	}
	return eth, ip, m
}

func TestServeICMPv6(t *testing.T) {
	ifc := testIfc()
	vmLL := SLAACAddress(netip.MustParsePrefix("fe80::/64"), vmMAC)
	routerLL := RouterLinkLocal(routerMAC)
	if routerLL.String() != "fe80::5eff:fe00:1" {
		t.Errorf("router link-local %s", routerLL)
	}
	if a := SLAACAddress(netip.MustParsePrefix("2001:db8:1::/64"), vmMAC); a.String() != "2001:db8:1::ff:fe00:5" {
		t.Errorf("SLAAC address %s", a)
	}
	solicit := func(target netip.Addr) ndp.Message {
		return &ndp.NeighborSolicitation{TargetAddress: target, Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: vmMAC}}}
	}
	snm := func(a netip.Addr) netip.Addr { m, _ := ndp.SolicitedNodeMulticast(a); return m }
	gw6 := netip.MustParseAddr("2001:db8:1::1")
	vm6 := netip.MustParseAddr("2001:db8:1::5")

	t.Run("neighbour solicitations for gateway addresses are answered", func(t *testing.T) {
		for _, tc := range []struct {
			name        string
			from        netip.Addr
			target      netip.Addr
			dst, dstMAC string
			solicited   bool
		}{
			{"the subnet's gateway", vm6, gw6, vm6.String(), vmMAC.String(), true},
			{"the router's link-local address", vmLL, routerLL, vmLL.String(), vmMAC.String(), true},
			{"duplicate address detection of the gateway's address", netip.IPv6Unspecified(), gw6, "ff02::1", "33:33:00:00:00:01", false},
		} {
			reply, outcome, err := ServeICMPv6(icmp6Frame(t, vmMAC, solicit(tc.target), tc.from, snm(tc.target), 255), ifc)
			if err != nil || outcome != NeighborAdvertised {
				t.Fatalf("%s: %s, %v", tc.name, outcome, err)
			}
			eth, ip, m := parseNDP(t, reply)
			na, ok := m.(*ndp.NeighborAdvertisement)
			if !ok || !na.Router || !na.Override || na.Solicited != tc.solicited || na.TargetAddress != tc.target {
				t.Fatalf("%s: reply %#v", tc.name, m)
			}
			if len(na.Options) != 1 || na.Options[0].(*ndp.LinkLayerAddress).Addr.String() != routerMAC.String() {
				t.Errorf("%s: options %v, want the router MAC as target link-layer address", tc.name, na.Options)
			}
			if ip.src != tc.target || ip.dst.String() != tc.dst || eth.dst.String() != tc.dstMAC || eth.src.String() != routerMAC.String() {
				t.Errorf("%s: reply %s → %s, %s → %s", tc.name, ip.src, ip.dst, eth.src, eth.dst)
			}
		}
	})

	t.Run("router solicitation gets the advertisement", func(t *testing.T) {
		rs := &ndp.RouterSolicitation{Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: vmMAC}}}
		reply, outcome, err := ServeICMPv6(icmp6Frame(t, vmMAC, rs, vmLL, netip.MustParseAddr("ff02::2"), 255), ifc)
		if err != nil || outcome != Advertised {
			t.Fatalf("%s, %v", outcome, err)
		}
		eth, ip, m := parseNDP(t, reply)
		if ip.src != routerLL || ip.dst != vmLL || eth.dst.String() != vmMAC.String() {
			t.Errorf("advertisement %s → %s (%s)", ip.src, ip.dst, eth.dst)
		}
		ra := m.(*ndp.RouterAdvertisement)
		if ra.RouterLifetime != RouterLifetime || ra.CurrentHopLimit != 64 || ra.ManagedConfiguration || ra.OtherConfiguration {
			t.Errorf("advertisement %+v", ra)
		}
		var prefixes []string
		var mtu, rdnss, dnssl, slla bool
		for _, o := range ra.Options {
			switch o := o.(type) {
			case *ndp.PrefixInformation:
				p := netip.PrefixFrom(o.Prefix, int(o.PrefixLength)).String()
				if !o.OnLink || o.AutonomousAddressConfiguration != (o.PrefixLength == 64) || o.ValidLifetime != PrefixValidLifetime {
					t.Errorf("prefix %s: %+v", p, o)
				}
				prefixes = append(prefixes, p)
			case *ndp.MTU:
				mtu = o.MTU == 1450
			case *ndp.RecursiveDNSServer:
				rdnss = len(o.Servers) == 1 && o.Servers[0] == ifc.DNS6[0] && o.Lifetime == DNSLifetime
			case *ndp.DNSSearchList:
				dnssl = len(o.DomainNames) == 1 && o.DomainNames[0] == "vn1.example"
			case *ndp.LinkLayerAddress:
				slla = o.Direction == ndp.Source && o.Addr.String() == routerMAC.String()
			}
		}
		if strings.Join(prefixes, " ") != "2001:db8:1::/64 2001:db8:2::/96" || !mtu || !rdnss || !dnssl || !slla {
			t.Errorf("options: prefixes %v, mtu %v, rdnss %v, dnssl %v, source link-layer %v", prefixes, mtu, rdnss, dnssl, slla)
		}
	})

	t.Run("unsolicited advertisement to all nodes; none without gateway lifetime", func(t *testing.T) {
		noGW := ifc
		noGW.Gateway6 = nil
		b, err := RouterAdvertisement(noGW)
		if err != nil {
			t.Fatal(err)
		}
		eth, ip, m := parseNDP(t, b)
		if ip.dst != allNodes || eth.dst.String() != "33:33:00:00:00:01" || m.(*ndp.RouterAdvertisement).RouterLifetime != 0 {
			t.Errorf("unsolicited advertisement to %s (%s), lifetime %v", ip.dst, eth.dst, m.(*ndp.RouterAdvertisement).RouterLifetime)
		}
		v4only := ifc
		v4only.IPv6, v4only.Gateway6 = nil, nil
		if b, err := RouterAdvertisement(v4only); b != nil || err != nil {
			t.Errorf("advertisement for a VMI without IPv6: %d bytes, %v", len(b), err)
		}
	})

	t.Run("invalid or foreign messages are ignored", func(t *testing.T) {
		good := icmp6Frame(t, vmMAC, solicit(gw6), vm6, snm(gw6), 255)
		corrupt := append([]byte(nil), good...)
		corrupt[len(corrupt)-1] ^= 0xff
		for name, f := range map[string][]byte{
			"another target":   icmp6Frame(t, vmMAC, solicit(netip.MustParseAddr("2001:db8:1::7")), vm6, snm(gw6), 255),
			"hop limit 64":     icmp6Frame(t, vmMAC, solicit(gw6), vm6, snm(gw6), 64),
			"another MAC":      icmp6Frame(t, otherMAC, solicit(gw6), vm6, snm(gw6), 255),
			"bad checksum":     corrupt,
			"an advertisement": icmp6Frame(t, vmMAC, &ndp.NeighborAdvertisement{TargetAddress: vm6}, vm6, allNodes, 255),
			"IPv4":             etherFrame(broadcastMAC, vmMAC, etherTypeIPv4, make([]byte, 40)),
			"truncated IPv6":   etherFrame(broadcastMAC, vmMAC, etherTypeIPv6, good[14:50]),
		} {
			if reply, outcome, err := ServeICMPv6(f, ifc); reply != nil || outcome != Ignored || err == nil {
				t.Errorf("%s: %s, %v", name, outcome, err)
			}
		}
	})
}

func TestServeICMPv4Echo(t *testing.T) {
	ifc := testIfc()
	echo := func(dst string, src net.HardwareAddr) []byte {
		icmp := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'i'}
		c := checksum(icmp)
		icmp[2], icmp[3] = byte(c>>8), byte(c)
		return etherFrame(routerMAC, src, etherTypeIPv4, ipv4Packet(netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr(dst), protoICMP, icmp))
	}
	reply, outcome, err := ServeICMPv4Echo(echo("10.1.0.1", vmMAC), ifc)
	if err != nil || outcome != EchoReplied {
		t.Fatalf("%s, %v", outcome, err)
	}
	eth, _ := parseEther(reply)
	ip, _ := parseIPv4(eth.payload)
	if checksum(eth.payload[:20]) != 0 || checksum(ip.payload) != 0 || ip.payload[0] != 0 || string(ip.payload[4:]) != "\x12\x34\x00\x01hi" ||
		ip.src.String() != "10.1.0.1" || ip.dst.String() != "10.1.0.5" || eth.dst.String() != vmMAC.String() || eth.src.String() != routerMAC.String() {
		t.Errorf("echo reply %x", reply)
	}
	for name, f := range map[string][]byte{"to another address": echo("10.1.0.9", vmMAC), "from another MAC": echo("10.1.0.1", otherMAC)} {
		if reply, outcome, err := ServeICMPv4Echo(f, ifc); reply != nil || outcome != Ignored || err == nil {
			t.Errorf("%s: %s, %v", name, outcome, err)
		}
	}
}

func TestCounters(t *testing.T) {
	var c Counters
	for _, o := range []Outcome{Offered, Acked, Acked, Ignored, Outcome(99)} {
		c.Add(o)
	}
	if m := c.Map(); m["offered"] != 1 || m["acked"] != 2 || m["ignored"] != 1 || len(m) != len(outcomeNames) {
		t.Errorf("counters %v", m)
	}
}
