package trace

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
)

// Request is what to trace: the packet VMI sends. Empty fields take the VMI's own values
// (source) or those of the VMI that owns the destination address (destination).
type Request struct {
	VMI      string `json:"vmi"`
	SrcMAC   string `json:"srcMAC,omitempty"` // a forged source, to see port security at work
	SrcIP    string `json:"srcIP,omitempty"`
	DstMAC   string `json:"dstMAC,omitempty"`
	DstIP    string `json:"dstIP,omitempty"`
	Proto    string `json:"proto,omitempty"`    // tcp, udp, icmp, icmpv6; default icmp (icmpv6 for IPv6)
	DstPort  int    `json:"dstPort,omitempty"`  // tcp and udp: required
	FromVLAN *int   `json:"fromVLAN,omitempty"` // the VLAN the frame arrives with, instead of the VMI's (0: untagged)
}

// Packet is the packet traced, as built from a Request.
type Packet struct {
	VMI     string `json:"vmi"`
	VN      string `json:"vn"`
	Binding string `json:"binding"` // how the VMI is attached here: local (a port) or remote (a physical interface + VLAN)
	InPort  string `json:"inPort"`  // the port it arrives on
	OFPort  int32  `json:"ofport"`
	VLAN    *int   `json:"vlan,omitempty"` // the tag it arrives with; none: untagged
	SrcMAC  string `json:"srcMAC"`
	DstMAC  string `json:"dstMAC"`
	SrcIP   string `json:"srcIP"`
	DstIP   string `json:"dstIP"`
	Proto   string `json:"proto"`
	SrcPort int    `json:"srcPort,omitempty"`
	DstPort int    `json:"dstPort,omitempty"`
	DstVMI  string `json:"dstVMI,omitempty"` // the VMI that owns the destination address, if one does
	Flow    string `json:"flow"`             // what ofproto/trace is given
	VNI     uint32 `json:"vni"`
}

// Trace packets carry these: an echo request for ICMP, an ephemeral source port for TCP and
// UDP, and a fresh TTL, as a host's first packet of a connection would.
const (
	srcPort         = 49152
	ttl             = 64
	icmpEchoRequest = 8
	icmpv6EchoReq   = 128
)

// Check reports the first bad flag of a request that needs no config to tell (the agent
// checks the rest): each error names the flag.
func (r Request) Check() error {
	if r.VMI == "" {
		return fmt.Errorf("--vmi: name the VMI whose packet to trace")
	}
	for _, f := range []struct{ flag, value string }{{"--src-mac", r.SrcMAC}, {"--dst-mac", r.DstMAC}} {
		if f.value != "" {
			if _, err := net.ParseMAC(f.value); err != nil {
				return fmt.Errorf("%s %q: not a MAC address", f.flag, f.value)
			}
		}
	}
	for _, f := range []struct{ flag, value string }{{"--src-ip", r.SrcIP}, {"--dst-ip", r.DstIP}} {
		if f.value != "" {
			if _, err := netip.ParseAddr(f.value); err != nil {
				return fmt.Errorf("%s %q: not an IP address", f.flag, f.value)
			}
		}
	}
	if r.DstIP == "" && r.DstMAC == "" {
		return fmt.Errorf("--dst-ip or --dst-mac: say where the packet goes")
	}
	switch r.Proto {
	case "", "icmp", "icmpv6":
		if r.DstPort != 0 {
			return fmt.Errorf("--dst-port %d: only with --proto tcp or udp", r.DstPort)
		}
	case "tcp", "udp":
		if r.DstPort < 1 || r.DstPort > 65535 {
			return fmt.Errorf("--dst-port %d: --proto %s needs a port 1..65535", r.DstPort, r.Proto)
		}
	default:
		return fmt.Errorf("--proto %q: want tcp, udp, icmp or icmpv6", r.Proto)
	}
	if r.FromVLAN != nil && (*r.FromVLAN < 0 || *r.FromVLAN > 4094) {
		return fmt.Errorf("--from-vlan %d: out of range 0..4094", *r.FromVLAN)
	}
	return nil
}

// buildPacket makes the packet of a request from what the agent knows.
func buildPacket(r Request, s *Snapshot) (*Packet, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	v := s.Index.VMIs[r.VMI]
	if v == nil {
		return nil, fmt.Errorf("--vmi %s: no such VMI in the config in force", r.VMI)
	}
	b, err := bindingHere(r.VMI, s)
	if err != nil {
		return nil, err
	}
	p := &Packet{VMI: v.Name, VN: v.Network, Binding: b.Kind, InPort: b.Port, OFPort: b.OFPort, SrcMAC: v.MAC, SrcIP: r.SrcIP,
		DstMAC: r.DstMAC, DstIP: r.DstIP, Proto: r.Proto, DstPort: r.DstPort}
	if vn := s.Index.VNs[v.Network]; vn != nil {
		p.VNI = vn.VNI
	}
	if b.Kind == pipeline.BindingRemote && b.VLAN != 0 {
		vlan := int(b.VLAN)
		p.VLAN = &vlan
	}
	if r.FromVLAN != nil {
		p.VLAN = nil
		if *r.FromVLAN != 0 {
			vlan := *r.FromVLAN
			p.VLAN = &vlan
		}
	}
	if r.SrcMAC != "" {
		p.SrcMAC = r.SrcMAC
	}
	if err := p.resolveDestination(v, s.Index); err != nil {
		return nil, err
	}
	dst := netip.MustParseAddr(p.DstIP)
	if p.SrcIP == "" {
		for _, ip := range v.InstanceIPs {
			if a, err := netip.ParseAddr(ip.Address); err == nil && a.Is4() == dst.Is4() {
				p.SrcIP = a.String()
				break
			}
		}
		if p.SrcIP == "" {
			return nil, fmt.Errorf("--vmi %s has no %s instance IP to send from; give --src-ip", v.Name, family(dst))
		}
	}
	if src := netip.MustParseAddr(p.SrcIP); src.Is4() != dst.Is4() {
		return nil, fmt.Errorf("--src-ip %s and --dst-ip %s: not of one address family", p.SrcIP, p.DstIP)
	}
	if p.Proto == "" {
		p.Proto = "icmp"
		if dst.Is6() {
			p.Proto = "icmpv6"
		}
	}
	if (p.Proto == "icmp" && dst.Is6()) || (p.Proto == "icmpv6" && dst.Is4()) {
		return nil, fmt.Errorf("--proto %s: the destination %s is %s", p.Proto, p.DstIP, family(dst))
	}
	if p.Proto == "tcp" || p.Proto == "udp" {
		p.SrcPort = srcPort
	}
	p.Flow = p.flow(dst.Is6())
	return p, nil
}

// bindingHere is where VMI vmi is attached on this node: its port, or its physical interface
// and VLAN.
func bindingHere(vmi string, s *Snapshot) (pipeline.Binding, error) {
	var elsewhere []string
	for _, b := range s.Bindings {
		if b.VMI != vmi {
			continue
		}
		switch {
		case b.Kind == pipeline.BindingPeer:
			elsewhere = append(elsewhere, b.Node)
		case !b.Bound:
			return b, fmt.Errorf("--vmi %s is not bound on node %s: %s", vmi, s.Node, b.Reason)
		default:
			return b, nil
		}
	}
	if len(elsewhere) > 0 {
		return pipeline.Binding{}, fmt.Errorf("--vmi %s is bound on node %s, not on %s: trace it there", vmi, strings.Join(elsewhere, ", "), s.Node)
	}
	return pipeline.Binding{}, fmt.Errorf("--vmi %s is not bound on node %s (no port with its iface-id, no logical interface of this node)", vmi, s.Node)
}

// resolveDestination fills in the destination MAC from the VMI of the VN that has the
// destination IP, or the destination IP from the VMI that has the MAC.
func (p *Packet) resolveDestination(src *model.VirtualMachineInterface, x *model.Index) error {
	var want netip.Addr
	if p.DstIP != "" {
		want = netip.MustParseAddr(p.DstIP)
	}
	var wantMAC net.HardwareAddr
	if p.DstMAC != "" {
		wantMAC, _ = net.ParseMAC(p.DstMAC)
	}
	for i := range x.Config.VirtualMachineInterfaces {
		v := &x.Config.VirtualMachineInterfaces[i]
		if v.Network != src.Network {
			continue
		}
		mac, _ := net.ParseMAC(v.MAC)
		if wantMAC != nil && mac.String() != wantMAC.String() {
			continue
		}
		for _, ip := range v.InstanceIPs {
			a, err := netip.ParseAddr(ip.Address)
			if err != nil || (want.IsValid() && a != want) || (!want.IsValid() && !a.Is4()) {
				continue
			}
			p.DstVMI, p.DstIP = v.Name, a.String()
			if p.DstMAC == "" {
				p.DstMAC = v.MAC
			}
			return nil
		}
	}
	switch {
	case p.DstMAC == "":
		return fmt.Errorf("--dst-ip %s: no VMI of VN %s has this address; give --dst-mac too", p.DstIP, src.Network)
	case p.DstIP == "":
		return fmt.Errorf("--dst-mac %s: no VMI of VN %s has this MAC and an IPv4 address; give --dst-ip too", p.DstMAC, src.Network)
	}
	return nil // both given: a destination no VMI owns, as asked
}

// flow is the packet in ofproto/trace's syntax.
func (p *Packet) flow(v6 bool) string {
	proto := map[string]string{"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmp6"}[p.Proto]
	if v6 && proto != "icmp6" {
		proto += "6"
	}
	parts := []string{proto, fmt.Sprintf("in_port=%d", p.OFPort)}
	if p.VLAN != nil {
		parts = append(parts, fmt.Sprintf("dl_vlan=%d", *p.VLAN))
	}
	parts = append(parts, "dl_src="+p.SrcMAC, "dl_dst="+p.DstMAC)
	if v6 {
		parts = append(parts, "ipv6_src="+p.SrcIP, "ipv6_dst="+p.DstIP)
	} else {
		parts = append(parts, "nw_src="+p.SrcIP, "nw_dst="+p.DstIP)
	}
	parts = append(parts, fmt.Sprintf("nw_ttl=%d", ttl))
	switch p.Proto {
	case "tcp", "udp": // tcp_src, udp_src: OVS's tp_src means TCP's alone
		parts = append(parts, fmt.Sprintf("%s_src=%d", p.Proto, p.SrcPort), fmt.Sprintf("%s_dst=%d", p.Proto, p.DstPort))
	case "icmp":
		parts = append(parts, fmt.Sprintf("icmp_type=%d", icmpEchoRequest))
	case "icmpv6":
		parts = append(parts, fmt.Sprintf("icmpv6_type=%d", icmpv6EchoReq))
	}
	return strings.Join(parts, ",")
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// String is the packet in a line: what, from where.
func (p *Packet) String() string {
	what := p.Proto
	if p.DstPort != 0 {
		what += fmt.Sprintf(" %s:%d > %s:%d", p.SrcIP, p.SrcPort, p.DstIP, p.DstPort)
	} else {
		what += fmt.Sprintf(" %s > %s", p.SrcIP, p.DstIP)
	}
	where := "port " + p.InPort
	switch {
	case p.VLAN != nil:
		where = fmt.Sprintf("%s VLAN %d", p.InPort, *p.VLAN)
	case p.Binding == pipeline.BindingRemote:
		where = p.InPort + " untagged"
	}
	return fmt.Sprintf("%s (%s > %s) from VMI %s (VN %s) on %s", what, p.SrcMAC, p.DstMAC, p.VMI, p.VN, where)
}
