package netsvc

import (
	"fmt"
)

// ICMPv4 types.
const (
	icmpEchoReply   = 0
	icmpEchoRequest = 8
)

// ServeICMPv4Echo answers an echo request from the VMI to its subnet's gateway address with
// an echo reply from the router MAC (same identifier, sequence and data). Anything else,
// including an echo request with a wrong checksum, is Ignored.
func ServeICMPv4Echo(frame []byte, ifc Interface) (reply []byte, outcome Outcome, err error) {
	if err := ifc.Check(); err != nil {
		return nil, Ignored, err
	}
	eth, err := parseEther(frame)
	if err != nil {
		return nil, Ignored, err
	}
	if eth.typ != etherTypeIPv4 {
		return nil, Ignored, fmt.Errorf("EtherType %#04x: %w", eth.typ, ErrNotForUs)
	}
	if !sameMAC(eth.src, ifc.MAC) {
		return nil, Ignored, fmt.Errorf("ICMP from %s, not from the VMI's MAC %s", eth.src, ifc.MAC)
	}
	ip, err := parseIPv4(eth.payload)
	if err != nil {
		return nil, Ignored, err
	}
	if ip.proto != protoICMP || len(ip.payload) < 8 || ip.payload[0] != icmpEchoRequest || ip.payload[1] != 0 {
		return nil, Ignored, fmt.Errorf("not an ICMP echo request: %w", ErrNotForUs)
	}
	if !ifc.Gateway4.IsValid() || ip.dst != ifc.Gateway4 {
		return nil, Ignored, fmt.Errorf("echo request to %s, not to the gateway", ip.dst)
	}
	if checksum(ip.payload) != 0 {
		return nil, Ignored, fmt.Errorf("ICMP checksum is wrong")
	}
	icmp := append([]byte{icmpEchoReply, 0, 0, 0}, ip.payload[4:]...)
	c := checksum(icmp)
	icmp[2], icmp[3] = byte(c>>8), byte(c)
	return etherFrame(eth.src, ifc.RouterMAC, etherTypeIPv4, ipv4Packet(ifc.Gateway4, ip.src, protoICMP, icmp)), EchoReplied, nil
}
