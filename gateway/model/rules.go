package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IP protocol numbers the rules name.
const (
	ProtoAny    = -1
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// ParseProtocol reads a rule's protocol: tcp, udp, icmp, any (or empty), or a number 0..255.
func ParseProtocol(s string) (int, error) {
	switch strings.ToLower(s) {
	case "", "any":
		return ProtoAny, nil
	case "tcp":
		return ProtoTCP, nil
	case "udp":
		return ProtoUDP, nil
	case "icmp":
		return ProtoICMP, nil
	case "icmpv6", "ipv6-icmp":
		return ProtoICMPv6, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("%q is not a protocol (tcp, udp, icmp, any, or a number 0..255)", s)
	}
	return n, nil
}

// HasPorts reports whether a protocol carries ports.
func HasPorts(proto int) bool { return proto == ProtoTCP || proto == ProtoUDP }

// PortRange is an inclusive range of L4 ports; the zero value means any port.
type PortRange struct{ Min, Max uint16 }

// Any reports whether the range allows every port.
func (r PortRange) Any() bool { return r.Min == 0 && (r.Max == 0 || r.Max == 65535) }

// ParsePorts reads "80", "8000-8080", or "" / "any" for every port.
func ParsePorts(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "any" {
		return PortRange{}, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	min, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	max := min
	var err2 error
	if isRange {
		max, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	}
	switch {
	case err1 != nil || err2 != nil || min == 0:
		return PortRange{}, fmt.Errorf("%q is not a port (1..65535) or range like 8000-8080", s)
	case max < min:
		return PortRange{}, fmt.Errorf("%q is reversed: the first port must not exceed the second", s)
	}
	return PortRange{Min: uint16(min), Max: uint16(max)}, nil
}

// ParsePrefixOrAddr reads a CIDR, or an address meaning its host prefix.
func ParsePrefixOrAddr(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix like 10.1.0.0/24", s)
}
