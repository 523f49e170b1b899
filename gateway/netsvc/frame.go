package netsvc

// Ethernet, IPv4, IPv6 and UDP headers: just what the services read and write.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeVLAN = 0x8100
	protoICMP     = 1
	protoUDP      = 17
	protoICMPv6   = 58
	ethHeaderLen  = 14
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	udpHeaderLen  = 8
	defaultTTL    = 64
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ether is a parsed Ethernet frame.
type ether struct {
	dst, src net.HardwareAddr
	typ      uint16
	payload  []byte
}

// parseEther reads an Ethernet header, skipping one 802.1Q tag if the pipeline left one.
func parseEther(b []byte) (ether, error) {
	if len(b) < ethHeaderLen {
		return ether{}, errors.New("frame shorter than an Ethernet header")
	}
	e := ether{dst: net.HardwareAddr(b[0:6]), src: net.HardwareAddr(b[6:12]), typ: binary.BigEndian.Uint16(b[12:]), payload: b[14:]}
	if e.typ == etherTypeVLAN {
		if len(b) < ethHeaderLen+4 {
			return ether{}, errors.New("truncated 802.1Q tag")
		}
		e.typ, e.payload = binary.BigEndian.Uint16(b[16:]), b[18:]
	}
	return e, nil
}

// ipv4 is a parsed IPv4 packet.
type ipv4 struct {
	src, dst netip.Addr
	proto    uint8
	payload  []byte
}

func parseIPv4(b []byte) (ipv4, error) {
	if len(b) < ipv4HeaderLen || b[0]>>4 != 4 {
		return ipv4{}, errors.New("not an IPv4 packet")
	}
	ihl, total := int(b[0]&0x0f)*4, int(binary.BigEndian.Uint16(b[2:]))
	if ihl < ipv4HeaderLen || total < ihl || total > len(b) {
		return ipv4{}, fmt.Errorf("IPv4 header length %d or total length %d does not fit %d bytes", ihl, total, len(b))
	}
	if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 {
		return ipv4{}, errors.New("IPv4 fragment")
	}
	return ipv4{src: netip.AddrFrom4([4]byte(b[12:16])), dst: netip.AddrFrom4([4]byte(b[16:20])), proto: b[9], payload: b[ihl:total]}, nil
}

// ipv6 is a parsed IPv6 packet (no extension headers: neighbour discovery has none).
type ipv6 struct {
	src, dst netip.Addr
	next     uint8
	hopLimit uint8
	payload  []byte
}

func parseIPv6(b []byte) (ipv6, error) {
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 {
		return ipv6{}, errors.New("not an IPv6 packet")
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if ipv6HeaderLen+n > len(b) {
		return ipv6{}, fmt.Errorf("IPv6 payload length %d exceeds the %d bytes after the header", n, len(b)-ipv6HeaderLen)
	}
	return ipv6{src: netip.AddrFrom16([16]byte(b[8:24])), dst: netip.AddrFrom16([16]byte(b[24:40])),
		next: b[6], hopLimit: b[7], payload: b[40 : 40+n]}, nil
}

// checksum is the Internet checksum (RFC 1071) of the concatenated parts.
func checksum(parts ...[]byte) uint16 {
	var sum uint32
	var odd bool
	var last byte
	for _, p := range parts {
		for _, c := range p {
			if odd {
				sum += uint32(last)<<8 | uint32(c)
			} else {
				last = c
			}
			odd = !odd
		}
	}
	if odd {
		sum += uint32(last) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// etherFrame prepends an Ethernet header.
func etherFrame(dst, src net.HardwareAddr, typ uint16, payload []byte) []byte {
	b := make([]byte, ethHeaderLen, ethHeaderLen+len(payload))
	copy(b[0:], dst)
	copy(b[6:], src)
	binary.BigEndian.PutUint16(b[12:], typ)
	return append(b, payload...)
}

// ipv4Packet builds an IPv4 header (no options, DF clear, checksum filled) before payload.
func ipv4Packet(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	b := make([]byte, ipv4HeaderLen, ipv4HeaderLen+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(ipv4HeaderLen+len(payload)))
	b[8], b[9] = defaultTTL, proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b))
	return append(b, payload...)
}

// udp4 builds a UDP datagram with its checksum over the IPv4 pseudo-header.
func udp4(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, udpHeaderLen, udpHeaderLen+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(udpHeaderLen+len(payload)))
	b = append(b, payload...)
	s, d := src.As4(), dst.As4()
	pseudo := append(append(s[:], d[:]...), 0, protoUDP, byte(len(b)>>8), byte(len(b)))
	c := checksum(pseudo, b)
	if c == 0 {
		c = 0xffff // 0 means "no checksum" in UDP over IPv4
	}
	binary.BigEndian.PutUint16(b[6:], c)
	return b
}

// ipv6Packet builds an IPv6 header before payload.
func ipv6Packet(src, dst netip.Addr, next, hopLimit uint8, payload []byte) []byte {
	b := make([]byte, ipv6HeaderLen, ipv6HeaderLen+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6], b[7] = next, hopLimit
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

// multicastMAC is the Ethernet address of an IPv6 multicast group (RFC 2464).
func multicastMAC(group netip.Addr) net.HardwareAddr {
	g := group.As16()
	return net.HardwareAddr{0x33, 0x33, g[12], g[13], g[14], g[15]}
}

func sameMAC(a, b net.HardwareAddr) bool { return bytes.Equal(a, b) }
