package netsvc

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// DHCP's UDP ports.
const (
	dhcpServerPort = 67
	dhcpClientPort = 68
)

// Renewal (T1) and rebinding (T2) times as fractions of the lease (RFC 2131 section 4.4.5).
const (
	renewFraction  = 0.5
	rebindFraction = 0.875
)

// ServeDHCPv4 answers a DHCPv4 request in frame (Ethernet, IPv4, UDP to port 67) from the VMI
// ifc describes. reply is the Ethernet frame to send to the VMI, nil when there is none; the
// outcome says what happened; err says why a frame was Ignored (or that ifc is invalid).
//
// Replies come from the router MAC and the server identifier (the gateway, or
// NoGatewayServerID), to UDP port 68: unicast to the client's address when it has one
// (ciaddr: renewing, rebinding, inform), broadcast when it asks for it (the broadcast flag)
// and for every NAK, else unicast to the offered address at the client's MAC (RFC 2131
// section 4.1). A broadcast reply is still meant for this VMI only: send it to its port.
func ServeDHCPv4(frame []byte, ifc Interface) (reply []byte, outcome Outcome, err error) {
	if err := ifc.Check(); err != nil {
		return nil, Ignored, err
	}
	req, eth, err := parseDHCPv4(frame)
	if err != nil {
		return nil, Ignored, err
	}
	// Only the VMI's own requests, for its own MAC: anything else is someone spoofing it.
	if !sameMAC(eth.src, ifc.MAC) || !sameMAC(req.ClientHWAddr, ifc.MAC) {
		return nil, Ignored, fmt.Errorf("DHCP request from %s for chaddr %s, not from the VMI's MAC %s", eth.src, req.ClientHWAddr, ifc.MAC)
	}
	if req.GatewayIPAddr != nil && !req.GatewayIPAddr.IsUnspecified() {
		return nil, Ignored, fmt.Errorf("DHCP request relayed by %s: the node answers its own VMIs directly", req.GatewayIPAddr)
	}
	if !ifc.IPv4.IsValid() {
		return nil, Ignored, fmt.Errorf("DHCP %s from %s: the VMI has no IPv4 address", req.MessageType(), ifc.MAC)
	}
	yours := ifc.IPv4.Addr()
	server := serverID(ifc)
	ciaddr, _ := netip.AddrFromSlice(req.ClientIPAddr.To4())
	if !ciaddr.IsValid() {
		ciaddr = netip.IPv4Unspecified()
	}

	var typ dhcpv4.MessageType
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		typ, outcome = dhcpv4.MessageTypeOffer, Offered
	case dhcpv4.MessageTypeRequest:
		requested, _ := netip.AddrFromSlice(req.RequestedIPAddress().To4())
		sid, _ := netip.AddrFromSlice(req.ServerIdentifier().To4())
		switch {
		case sid.IsValid(): // SELECTING: the client answers an offer, ours or another server's
			if sid != server {
				return nil, Ignored, fmt.Errorf("DHCPREQUEST for server %s, not this one (%s)", sid, server)
			}
			typ, outcome = ackOrNak(requested == yours)
		case requested.IsValid(): // INIT-REBOOT: the client checks the address it remembers
			typ, outcome = ackOrNak(requested == yours)
		case !ciaddr.IsUnspecified(): // RENEWING or REBINDING
			typ, outcome = ackOrNak(ciaddr == yours)
		default:
			return nil, Ignored, fmt.Errorf("DHCPREQUEST with neither server identifier, requested address nor ciaddr")
		}
	case dhcpv4.MessageTypeInform:
		typ, outcome = dhcpv4.MessageTypeAck, Informed
	case dhcpv4.MessageTypeRelease:
		return nil, Released, nil
	case dhcpv4.MessageTypeDecline:
		return nil, Declined, nil
	default:
		return nil, Ignored, fmt.Errorf("DHCP message type %s is not a client request", req.MessageType())
	}

	resp := newReply(req, typ, server)
	if typ != dhcpv4.MessageTypeNak {
		addOptions(resp, ifc, outcome != Informed)
		if outcome != Informed {
			resp.YourIPAddr = net.IP(yours.AsSlice())
		}
	} else {
		resp.UpdateOption(dhcpv4.OptMessage(fmt.Sprintf("the address of %s is %s", ifc.MAC, yours)))
	}

	// Where the reply goes (RFC 2131 section 4.1).
	dstIP, dstMAC := yours, ifc.MAC
	switch {
	case typ == dhcpv4.MessageTypeNak || (req.IsBroadcast() && ciaddr.IsUnspecified()):
		dstIP, dstMAC = netip.AddrFrom4([4]byte{255, 255, 255, 255}), broadcastMAC
		resp.SetBroadcast()
	case !ciaddr.IsUnspecified():
		dstIP = ciaddr
	}
	udp := udp4(server, dstIP, dhcpServerPort, dhcpClientPort, resp.ToBytes())
	return etherFrame(dstMAC, ifc.RouterMAC, etherTypeIPv4, ipv4Packet(server, dstIP, protoUDP, udp)), outcome, nil
}

func ackOrNak(ok bool) (dhcpv4.MessageType, Outcome) {
	if ok {
		return dhcpv4.MessageTypeAck, Acked
	}
	return dhcpv4.MessageTypeNak, Naked
}

// serverID is the address the node answers as.
func serverID(ifc Interface) netip.Addr {
	if ifc.Gateway4.IsValid() {
		return ifc.Gateway4
	}
	return NoGatewayServerID
}

// parseDHCPv4 reads Ethernet, IPv4, UDP to port 67 and the DHCP message.
func parseDHCPv4(frame []byte) (*dhcpv4.DHCPv4, ether, error) {
	eth, err := parseEther(frame)
	if err != nil {
		return nil, eth, err
	}
	if eth.typ != etherTypeIPv4 {
		return nil, eth, fmt.Errorf("EtherType %#04x: %w", eth.typ, ErrNotForUs)
	}
	ip, err := parseIPv4(eth.payload)
	if err != nil {
		return nil, eth, err
	}
	if ip.proto != protoUDP || len(ip.payload) < udpHeaderLen || binary.BigEndian.Uint16(ip.payload[2:]) != dhcpServerPort {
		return nil, eth, fmt.Errorf("not UDP to port %d: %w", dhcpServerPort, ErrNotForUs)
	}
	ul := int(binary.BigEndian.Uint16(ip.payload[4:]))
	if ul < udpHeaderLen || ul > len(ip.payload) {
		return nil, eth, fmt.Errorf("UDP length %d does not fit %d bytes", ul, len(ip.payload))
	}
	req, err := dhcpv4.FromBytes(ip.payload[udpHeaderLen:ul])
	if err != nil {
		return nil, eth, fmt.Errorf("DHCP message: %w", err)
	}
	if req.OpCode != dhcpv4.OpcodeBootRequest || req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
		return nil, eth, fmt.Errorf("DHCP message op %s, hardware type %s, hlen %d: not an Ethernet client's request", req.OpCode, req.HWType, len(req.ClientHWAddr))
	}
	return req, eth, nil
}

// newReply starts a reply to req: BOOTREPLY, the same transaction, flags and chaddr, and the
// client identifier echoed (RFC 6842).
func newReply(req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, server netip.Addr) *dhcpv4.DHCPv4 {
	resp := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        iana.HWTypeEthernet,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientHWAddr:  req.ClientHWAddr,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		Options:       dhcpv4.Options{},
	}
	if typ != dhcpv4.MessageTypeNak {
		resp.ClientIPAddr = req.ClientIPAddr
	}
	resp.UpdateOption(dhcpv4.OptMessageType(typ))
	resp.UpdateOption(dhcpv4.OptServerIdentifier(net.IP(server.AsSlice())))
	if id := req.GetOneOption(dhcpv4.OptionClientIdentifier); id != nil {
		resp.UpdateOption(dhcpv4.OptClientIdentifier(id))
	}
	return resp
}

// addOptions adds the subnet's settings; a lease (with T1 and T2) unless for an inform.
func addOptions(resp *dhcpv4.DHCPv4, ifc Interface, withLease bool) {
	resp.UpdateOption(dhcpv4.OptSubnetMask(net.CIDRMask(ifc.IPv4.Bits(), 32)))
	if ifc.Gateway4.IsValid() {
		resp.UpdateOption(dhcpv4.OptRouter(net.IP(ifc.Gateway4.AsSlice())))
	}
	if len(ifc.DNS4) > 0 {
		dns := make([]net.IP, len(ifc.DNS4))
		for i, d := range ifc.DNS4 {
			dns[i] = net.IP(d.AsSlice())
		}
		resp.UpdateOption(dhcpv4.OptDNS(dns...))
	}
	if ifc.Domain != "" {
		resp.UpdateOption(dhcpv4.OptDomainName(ifc.Domain))
	}
	if ifc.MTU != 0 {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionInterfaceMTU, binary.BigEndian.AppendUint16(nil, uint16(ifc.MTU))))
	}
	if withLease {
		lease := ifc.lease().Truncate(time.Second)
		resp.UpdateOption(dhcpv4.OptIPAddressLeaseTime(lease))
		resp.UpdateOption(dhcpv4.OptRenewTimeValue(time.Duration(float64(lease) * renewFraction).Truncate(time.Second)))
		resp.UpdateOption(dhcpv4.OptRebindingTimeValue(time.Duration(float64(lease) * rebindFraction).Truncate(time.Second)))
	}
}
