package netsvc

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Interface is what the node knows about the VMI that asks: its addresses and its subnets'
// settings. It is built by the caller from the model; netsvc knows no model types.
type Interface struct {
	MAC net.HardwareAddr // the VMI's MAC: requests from any other are ignored

	// IPv4 is the instance IPv4 address with its subnet's prefix length (10.0.0.5/24);
	// the zero Prefix: the VMI has no IPv4 address, DHCPv4 requests are ignored.
	IPv4     netip.Prefix
	Gateway4 netip.Addr   // the subnet's gateway; the zero Addr: the subnet has none
	DNS4     []netip.Addr // DNS servers offered by DHCPv4
	Domain   string       // the DNS domain (DHCPv4 option 15, DNSSL in router advertisements)
	Lease    time.Duration

	// IPv6 are the instance IPv6 addresses with their subnets' prefix lengths; their
	// prefixes are what router advertisements announce.
	IPv6     []netip.Prefix
	Gateway6 []netip.Addr // the IPv6 subnets' gateways: neighbour solicitations for them are answered
	DNS6     []netip.Addr // RDNSS in router advertisements

	MTU       int              // the overlay MTU offered to the instance; 0: none offered
	RouterMAC net.HardwareAddr // the anycast router MAC replies come from
}

// Defaults and limits.
const (
	// DefaultLease is the DHCPv4 lease when Interface.Lease is zero: addresses never change
	// (they come from the config), so a long lease only spares renewals.
	DefaultLease = 24 * time.Hour
	// MinLease keeps clients from renewing in a busy loop.
	MinLease = time.Minute
	// MinMTU and MaxMTU bound Interface.MTU: IPv4's minimum (RFC 791; IPv6 needs 1280, see
	// MinIPv6MTU) and a jumbo frame.
	MinMTU     = 68
	MinIPv6MTU = 1280
	MaxMTU     = 9216
)

// NoGatewayServerID is the DHCPv4 server identifier for a subnet without a gateway (see the
// package comment): link-local, and never an instance's address.
var NoGatewayServerID = netip.MustParseAddr("169.254.169.253")

// Check reports the first thing wrong with ifc, naming the field.
func (ifc Interface) Check() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("netsvc: interface %s: %s: %s", ifc.MAC, field, fmt.Sprintf(format, args...))
	}
	if len(ifc.MAC) != 6 || ifc.MAC[0]&1 != 0 {
		return bad("MAC", "%q is not a 6-byte unicast MAC", ifc.MAC.String())
	}
	if len(ifc.RouterMAC) != 6 || ifc.RouterMAC[0]&1 != 0 {
		return bad("RouterMAC", "%q is not a 6-byte unicast MAC", ifc.RouterMAC.String())
	}
	if ifc.IPv4.IsValid() {
		a := ifc.IPv4.Addr()
		if !a.Is4() || ifc.IPv4.Bits() < 1 || ifc.IPv4.Bits() > 31 || !a.IsGlobalUnicast() {
			return bad("IPv4", "%s is not a unicast IPv4 address with a prefix length of 1..31", ifc.IPv4)
		}
		if ifc.Gateway4.IsValid() && (!ifc.Gateway4.Is4() || !ifc.IPv4.Masked().Contains(ifc.Gateway4) || ifc.Gateway4 == a) {
			return bad("Gateway4", "%s is not another address of %s", ifc.Gateway4, ifc.IPv4.Masked())
		}
	} else if ifc.Gateway4.IsValid() {
		return bad("Gateway4", "set without an IPv4 address")
	}
	for _, d := range ifc.DNS4 {
		if !d.Is4() {
			return bad("DNS4", "%s is not an IPv4 address", d)
		}
	}
	for _, p := range ifc.IPv6 {
		if !p.Addr().Is6() || p.Addr().Is4In6() || !p.Addr().IsGlobalUnicast() || p.Bits() < 1 || p.Bits() > 127 {
			return bad("IPv6", "%s is not a global IPv6 address with a prefix length of 1..127", p)
		}
	}
	for _, g := range ifc.Gateway6 {
		if !g.Is6() || g.Is4In6() || !g.IsGlobalUnicast() || !ifc.onLink6(g) {
			return bad("Gateway6", "%s is not an IPv6 address in one of the subnets %v", g, ifc.IPv6)
		}
	}
	for _, d := range ifc.DNS6 {
		if !d.Is6() || d.Is4In6() {
			return bad("DNS6", "%s is not an IPv6 address", d)
		}
	}
	if len(ifc.Domain) > 253 {
		return bad("Domain", "%d bytes, a domain has at most 253", len(ifc.Domain))
	}
	if ifc.MTU != 0 && (ifc.MTU < MinMTU || ifc.MTU > MaxMTU) {
		return bad("MTU", "%d is outside %d..%d", ifc.MTU, MinMTU, MaxMTU)
	}
	if ifc.Lease != 0 && ifc.Lease < MinLease {
		return bad("Lease", "%s is shorter than %s", ifc.Lease, MinLease)
	}
	if ifc.Lease > 0xffffffff*time.Second {
		return bad("Lease", "%s does not fit DHCP's 32-bit seconds", ifc.Lease)
	}
	return nil
}

func (ifc Interface) onLink6(a netip.Addr) bool {
	for _, p := range ifc.IPv6 {
		if p.Masked().Contains(a) {
			return true
		}
	}
	return false
}

func (ifc Interface) lease() time.Duration {
	if ifc.Lease == 0 {
		return DefaultLease
	}
	return ifc.Lease
}

// Outcome is what a Serve function did with a frame.
type Outcome int

// Outcomes.
const (
	Ignored            Outcome = iota // not for us, not from the VMI, or malformed: no reply
	Offered                           // DHCPOFFER
	Acked                             // DHCPACK to a request
	Naked                             // DHCPNAK
	Informed                          // DHCPACK to a DHCPINFORM
	Released                          // DHCPRELEASE: nothing to free, no reply
	Declined                          // DHCPDECLINE: the client found the address in use, no reply
	Advertised                        // router advertisement to a router solicitation
	NeighborAdvertised                // neighbour advertisement for a gateway address
	EchoReplied                       // ICMPv4 echo reply
)

var outcomeNames = [...]string{"ignored", "offered", "acked", "naked", "informed", "released", "declined",
	"router-advertised", "neighbor-advertised", "echo-replied"}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome%d", int(o))
}

// Counters counts outcomes, for a status. The zero value is ready; it is not safe for
// concurrent use.
type Counters [len(outcomeNames)]uint64

// Add counts one outcome.
func (c *Counters) Add(o Outcome) {
	if o >= 0 && int(o) < len(c) {
		c[o]++
	}
}

// Map returns the counters by outcome name.
func (c *Counters) Map() map[string]uint64 {
	m := make(map[string]uint64, len(c))
	for i, n := range c {
		m[outcomeNames[i]] = n
	}
	return m
}

// ErrNotForUs is wrapped by the error of a Serve function given a frame of another kind (not
// DHCPv4, not ICMPv6 ND, ...): the caller's flow sent it the wrong packets.
var ErrNotForUs = errors.New("not a request this function serves")
