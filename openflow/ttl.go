package openflow

// DecTTL decrements the IPv4 TTL or IPv6 hop limit (OpenFlow 1.3 OFPAT_DEC_NW_TTL). A packet
// whose TTL it would take to zero is dropped by Open vSwitch (and sent to a controller that
// asked for invalid-TTL packet-ins): match FieldIPTTL first to decide what happens to those.
type DecTTL struct{}

func (DecTTL) action() {}

func (DecTTL) String() string { return "dec_ttl" }
