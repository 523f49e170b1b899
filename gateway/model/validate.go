package model

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds every object's name: names go into logs, flow annotations, OVSDB rows and
// the CLI's tables, where an unbounded one (or a control character) does harm.
const MaxNameLen = 128

// Validate checks the whole config and returns every problem as Errors (nil when valid).
// It checks only what holds for every node; CheckCapacity checks one node's budget.
func (c *Config) Validate() error {
	_, err := c.ValidateIndex()
	return err
}

// ValidateIndex checks the config as Validate does and, when it is valid, also returns its
// Index: the one validation builds as it goes, equal to NewIndex(c). A caller that needs both
// (the agent, on every change) thus indexes the config once rather than twice. On an invalid
// config the Index is nil and the error is the Errors Validate returns.
func (c *Config) ValidateIndex() (*Index, error) {
	// Errors are reported in the order of the document, though routers refer to VMIs below them.
	var vn, vmi, pr, sg, np, tor validator
	vns := vn.networks(c.VirtualNetworks)
	sgs := sg.securityGroups(c.SecurityGroups)
	pols := np.policies(c.NetworkPolicies, vns)
	vn.policyRefs(c.VirtualNetworks, pols)
	vmis := vmi.interfaces(c.VirtualMachineInterfaces, vns, sgs)
	liVMIs := pr.routers(c.PhysicalRouters, vmis, len(c.VirtualMachineInterfaces))
	tor.torSwitches(c.TorSwitches, vns)
	var lr validator
	lr.logicalRouters(c.LogicalRouters, vns)
	var errs Errors
	for _, part := range []Errors{vn.errs, pr.errs, vmi.errs, sg.errs, np.errs, tor.errs, lr.errs} {
		errs = append(errs, part...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// The config's references hold and its names are unique: this is NewIndex(c).
	x := &Index{
		Config:   c,
		VNs:      make(map[string]*VirtualNetwork, len(vns)),
		VMIs:     vmis.byName,
		LinkedBy: linkedBy(c, liVMIs),
		RouterOf: routerOf(c),
		// Validation of subnets and routers below asks Gateway: held gateways first.
		HeldGateways: heldGateways(c),
	}
	for name, info := range vns {
		x.VNs[name] = info.vn
	}
	if errs := validateHA(x); len(errs) > 0 {
		return nil, errs
	}
	return x, nil
}

type validator struct{ errs Errors }

// add reports a problem. Callers build obj and field only on the error path: the valid
// objects of a large config must cost no formatting.
func (v *validator) add(obj *loc, field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Object: obj.String(), Field: field, Reason: fmt.Sprintf(format, args...)})
}

// nameOK checks what every object's name needs, apart from being unique.
func (v *validator) nameOK(obj *loc, name, kind string) bool {
	switch {
	case name == "":
		v.add(obj, "name", "missing: every %s needs a name", kind)
		return false
	case badName(name):
		v.add(obj, "name", "%q contains a space, comma, '=' or '/'", name)
		return false
	case len(name) > MaxNameLen:
		v.add(obj, "name", "%.40q... is %d bytes long, more than %d", name, len(name), MaxNameLen)
		return false
	case !utf8.ValidString(name):
		v.add(obj, "name", "%q is not valid UTF-8", name)
		return false
	}
	if i := strings.IndexFunc(name, notPrintable); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		v.add(obj, "name", "%q contains a character that does not print (%U at byte %d)", name, r, i)
		return false
	}
	return true
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }

// printableName reports whether a name may be shown as it is: valid UTF-8, printable, and not
// longer than MaxNameLen.
func printableName(name string) bool {
	return len(name) <= MaxNameLen && utf8.ValidString(name) && strings.IndexFunc(name, notPrintable) < 0
}

// badName reports whether a name contains a space, tab, newline, comma, '=' or '/'.
func badName(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case ' ', '\t', '\n', ',', '=', '/':
			return true
		}
	}
	return false
}

func (v *validator) nameTaken(obj *loc, name, kind string) {
	v.add(obj, "name", "%q is used by another %s", name, kind)
}

// name checks an object's name and records it in seen; it reports whether the name is usable.
func (v *validator) name(obj *loc, name string, seen map[string]bool, kind string) bool {
	if !v.nameOK(obj, name, kind) {
		return false
	}
	n := len(seen)
	if seen[name] = true; len(seen) == n { // one hash for both the lookup and the insert
		v.nameTaken(obj, name, kind)
		return false
	}
	return true
}

// indexed names the field list[j] followed by rest (".address", or "").
func indexed(list string, j int, rest string) string {
	return fmt.Sprintf("%s[%d]%s", list, j, rest)
}

// vnInfo is a virtual network whose name is usable, with what its VMIs are checked against.
type vnInfo struct {
	vn       *VirtualNetwork
	idx      int            // in the config's list
	subnets  []netip.Prefix // those of vn.Subnets that parse
	gateways []netip.Addr   // the gateway addresses its subnets give explicitly
}

// contains reports whether an address is in one of the VN's subnets. A malformed subnet is
// reported on its own; it must not make every address "outside", so a VN whose subnets all
// fail to parse (or that has none) contains every address.
func (x *vnInfo) contains(addr netip.Addr) bool {
	if len(x.subnets) == 0 {
		return true
	}
	for _, p := range x.subnets {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// subnetOptions checks a subnet's gateway, DNS servers and domain against its prefix p.
func (v *validator) subnetOptions(obj *loc, j int, s Subnet, p netip.Prefix) {
	family := "IPv4"
	if p.Addr().Is6() {
		family = "IPv6"
	}
	if s.Gateway != "" && s.Gateway != NoGateway {
		gw, err := netip.ParseAddr(s.Gateway)
		switch {
		case err != nil || gw.Zone() != "":
			v.add(obj, indexed("subnets", j, ".gateway"), "%q is not an IP address (or %q for no gateway)", s.Gateway, NoGateway)
		case !p.Contains(gw):
			v.add(obj, indexed("subnets", j, ".gateway"), "%s is outside the subnet %s", gw, p)
		case gw == p.Addr():
			v.add(obj, indexed("subnets", j, ".gateway"), "%s is the subnet's network address", gw)
		case gw.Is4() && p.Bits() < 31 && gw == lastAddr(p):
			v.add(obj, indexed("subnets", j, ".gateway"), "%s is the subnet's broadcast address", gw)
		}
	}
	for k, d := range s.DNSServers {
		a, err := netip.ParseAddr(d)
		switch {
		case err != nil || a.Zone() != "":
			v.add(obj, indexed("subnets", j, fmt.Sprintf(".dnsServers[%d]", k)), "%q is not an IP address", d)
		case a.Is4() != p.Addr().Is4():
			v.add(obj, indexed("subnets", j, fmt.Sprintf(".dnsServers[%d]", k)), "%s is not an %s address, as the subnet %s is", a, family, p)
		}
	}
	if s.DomainName != "" {
		if reason := domainNameProblem(s.DomainName); reason != "" {
			v.add(obj, indexed("subnets", j, ".domainName"), "%q %s", s.DomainName, reason)
		}
	}
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		bit := i * 8
		switch {
		case bit >= p.Bits():
			b[i] = 0xff
		case bit+8 > p.Bits():
			b[i] |= 0xff >> (p.Bits() - bit)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// domainNameProblem says what makes a DNS domain name unusable in a DHCP option, or "".
func domainNameProblem(name string) string {
	if len(strings.TrimSuffix(name, ".")) > 253 {
		return "is longer than 253 characters"
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return "has an empty label or one longer than 63 characters"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(label)-1
			if !ok {
				return "is not a domain name (letters, digits and inner hyphens, in dot-separated labels)"
			}
		}
	}
	return ""
}

func (v *validator) networks(list []VirtualNetwork) map[string]*vnInfo {
	infos := make([]vnInfo, len(list))
	byName := make(map[string]*vnInfo, len(list))
	vnis := make(map[uint32]string, len(list))
	for i := range list {
		vn := &list[i]
		obj := loc{list: ListVirtualNetworks, i: i, name: vn.Name}
		ok := v.nameOK(&obj, vn.Name, "virtual network")
		if ok && byName[vn.Name] != nil {
			v.nameTaken(&obj, vn.Name, "virtual network")
			ok = false
		}
		switch {
		case vn.VNI == 0 || vn.VNI > MaxVNI:
			v.add(&obj, "vni", "%d is out of range 1..%d", vn.VNI, MaxVNI)
		case vnis[vn.VNI] != "":
			v.add(&obj, "vni", "%d is already the VNI of virtual network %q", vn.VNI, vnis[vn.VNI])
		default:
			vnis[vn.VNI] = vn.Name
		}
		info := &infos[i]
		info.vn, info.idx = vn, i
		for j, s := range vn.Subnets {
			p, err := netip.ParsePrefix(s.CIDR)
			if err != nil {
				v.add(&obj, indexed("subnets", j, ""), "%q is not a CIDR prefix like 10.1.0.0/24", s.CIDR)
				continue
			}
			info.subnets = append(info.subnets, p)
			v.subnetOptions(&obj, j, s, p.Masked())
			if gw, err := netip.ParseAddr(s.Gateway); err == nil {
				info.gateways = append(info.gateways, gw)
			}
		}
		if ok {
			byName[vn.Name] = info
		}
	}
	return byName
}

// claims remembers which VMI first claimed a MAC, or an address, in a virtual network. The
// network is the VMI's network field, which may name no network (such a VMI is reported, and
// still checked); a claim in a network of the config whose key packs into one word (the
// network's position and the MAC or IPv4 address) is kept by that word.
type claims struct {
	packed *wordSet
	other  map[claimKey]int32
}

type claimKey struct {
	network string
	mac     uint64
	addr    netip.Addr
}

func newClaims(n int) claims {
	return claims{packed: newWordSet(n)}
}

// claim records owner's claim on the packed key when fits, else on key; it returns the index of
// the VMI that claimed it first, if one did.
func (c *claims) claim(fits bool, packed uint64, key claimKey, owner int32) (first int32, taken bool) {
	if fits {
		return c.packed.add(packed, owner)
	}
	if c.other == nil {
		c.other = map[claimKey]int32{}
	}
	if first, taken = c.other[key]; !taken {
		c.other[key] = owner
	}
	return first, taken
}

// vmiNames finds the VMIs whose names are usable, by name.
type vmiNames struct {
	list   []VirtualMachineInterface
	byName map[string]*VirtualMachineInterface // Index.VMIs, if the config is valid
	first  []bool                              // VMI i's name is usable, and no VMI before it has it
	pos    *nameSet                            // name → position, made when a guess first misses
	guess  int                                 // the VMI after the one found last
}

// find returns the position of the VMI of that name (the first, if there are more).
// Logical interfaces tend to list their VMIs in the order of the VMIs: each lookup first tries
// the VMI after the one found last, which costs no hashing.
func (x *vmiNames) find(name string) (int, bool) {
	if g := x.guess; g < len(x.list) && x.first[g] && x.list[g].Name == name {
		x.guess = g + 1
		return g, true
	}
	if x.pos == nil {
		x.pos = newNameSet(len(x.byName))
		for i := range x.list {
			if x.first[i] {
				x.pos.add(x.list[i].Name, int32(i))
			}
		}
	}
	i, ok := x.pos.get(name)
	if ok {
		x.guess = int(i) + 1
	}
	return int(i), ok
}

// interfaces checks the VMIs and returns those whose name is usable, by name.
func (v *validator) interfaces(list []VirtualMachineInterface, vns map[string]*vnInfo, sgs map[string]bool) *vmiNames {
	byName := &vmiNames{list: list, byName: make(map[string]*VirtualMachineInterface, len(list)), first: make([]bool, len(list))}
	macs, addrs := newClaims(len(list)), newClaims(len(list))
	var lastNet string // VMIs of a network tend to be listed together: look it up once
	var vn *vnInfo     // vns[lastNet] (nil for "", which names no network)
	for i := range list {
		vmi := &list[i]
		obj := loc{list: ListVirtualMachineInterfaces, i: i, name: vmi.Name}
		if v.nameOK(&obj, vmi.Name, "virtual machine interface") {
			// One hash for the lookup and the insert. A duplicate replaces the first in the map,
			// which is harmless: a config with a duplicate gets no Index, and find uses first.
			n := len(byName.byName)
			if byName.byName[vmi.Name] = vmi; len(byName.byName) == n {
				v.nameTaken(&obj, vmi.Name, "virtual machine interface")
			} else {
				byName.first[i] = true
			}
		}
		if vmi.Network != lastNet {
			lastNet, vn = vmi.Network, vns[vmi.Network]
		}
		switch {
		case vmi.Network == "":
			v.add(&obj, "network", "missing: name the virtual network this interface is in")
		case vn == nil:
			v.add(&obj, "network", "%q is not a virtual network of this config", vmi.Network)
		}
		mac, ok := parseMAC48(vmi.MAC)
		if !ok {
			hw, err := ParseMAC(vmi.MAC)
			if err != nil {
				v.add(&obj, "mac", "%v", err)
			} else {
				mac, ok = macBits(hw), true
			}
		}
		if ok && mac == routerMACBits {
			v.add(&obj, "mac", "%s is the router MAC of every gateway (RouterMAC); an interface needs another", RouterMAC)
		}
		if ok {
			fits := vn != nil && vn.idx < 1<<16
			if first, taken := macs.claim(fits, uint64(vn.pos())<<48|mac, claimKey{network: vmi.Network, mac: mac}, int32(i)); taken {
				v.add(&obj, "mac", "%s is already the MAC of %q in virtual network %q", macAddr(mac), list[first].Name, vmi.Network)
			}
		}
		for j := range vmi.InstanceIPs {
			ip := &vmi.InstanceIPs[j]
			addr, ok := parseIPv4(ip.Address)
			var err error
			if !ok {
				addr, err = netip.ParseAddr(ip.Address)
			}
			switch {
			case err != nil || addr.Zone() != "":
				v.add(&obj, indexed("instanceIPs", j, ".address"), "%q is not an IP address", ip.Address)
			case vn != nil && !vn.contains(addr):
				v.add(&obj, indexed("instanceIPs", j, ".address"), "%s is outside the subnets %v of virtual network %q", addr, vn.vn.Subnets, vn.vn.Name)
			case vn != nil && slices.Contains(vn.gateways, addr):
				v.add(&obj, indexed("instanceIPs", j, ".address"), "%s is the gateway address a subnet of virtual network %q names", addr, vn.vn.Name)
			default:
				var packed uint64
				fits := vn != nil && addr.Is4()
				if fits {
					a4 := addr.As4()
					packed = uint64(vn.pos())<<32 | uint64(a4[0])<<24 | uint64(a4[1])<<16 | uint64(a4[2])<<8 | uint64(a4[3])
				}
				if first, taken := addrs.claim(fits, packed, claimKey{network: vmi.Network, addr: addr}, int32(i)); taken {
					v.add(&obj, indexed("instanceIPs", j, ".address"), "%s is already an address of %q in virtual network %q", addr, list[first].Name, vmi.Network)
				}
			}
			if ip.Mode != "" && ip.Mode != ModeActiveBackup {
				v.add(&obj, indexed("instanceIPs", j, ".mode"), "%q is not a known instance IP mode (known: %s, the default)", ip.Mode, ModeActiveBackup)
			}
		}
		for j, g := range vmi.SecurityGroups {
			switch {
			case !sgs[g]:
				v.add(&obj, indexed("securityGroups", j, ""), "%q is not a security group of this config", g)
			case slices.Contains(vmi.SecurityGroups[:j], g):
				v.add(&obj, indexed("securityGroups", j, ""), "%q is listed twice", g)
			}
		}
		for j, ap := range vmi.AllowedAddressPairs {
			if _, err := ParsePrefixOrAddr(ap.IP); err != nil {
				v.add(&obj, indexed("allowedAddressPairs", j, ".ip"), "%v", err)
			}
			if ap.MAC != "" {
				mac, ok := parseMAC48(ap.MAC)
				if !ok {
					if hw, err := ParseMAC(ap.MAC); err != nil {
						v.add(&obj, indexed("allowedAddressPairs", j, ".mac"), "%v", err)
					} else {
						mac, ok = macBits(hw), true
					}
				}
				if ok && mac == routerMACBits {
					v.add(&obj, indexed("allowedAddressPairs", j, ".mac"), "%s is the router MAC of every gateway (RouterMAC); an address pair needs another", RouterMAC)
				}
			}
		}
	}
	return byName
}

// pos is the VN's position in the config, or 0 for no VN (whose claims are not packed).
func (x *vnInfo) pos() int {
	if x == nil {
		return 0
	}
	return x.idx
}

func (v *validator) policyRefs(list []VirtualNetwork, pols map[string]bool) {
	for i := range list {
		vn := &list[i]
		for j, p := range vn.NetworkPolicies {
			if !pols[p] {
				obj := loc{list: ListVirtualNetworks, i: i, name: vn.Name}
				v.add(&obj, indexed("networkPolicies", j, ""), "%q is not a network policy of this config", p)
			}
		}
	}
}

func (v *validator) securityGroups(list []SecurityGroup) map[string]bool {
	names := make(map[string]bool, len(list))
	for i, g := range list {
		v.name(&loc{list: ListSecurityGroups, i: i, name: g.Name}, g.Name, names, "security group")
	}
	for i, g := range list {
		obj := loc{list: ListSecurityGroups, i: i, name: g.Name}
		for j, r := range g.Rules {
			rule := loc{parent: &obj, list: listRules, i: j, byIndex: true}
			if r.Direction != DirectionIngress && r.Direction != DirectionEgress {
				v.add(&rule, "direction", "%q: want %s or %s", r.Direction, DirectionIngress, DirectionEgress)
			}
			v6 := false
			switch r.Ethertype {
			case "", EthertypeIPv4:
			case EthertypeIPv6:
				v6 = true
			default:
				v.add(&rule, "ethertype", "%q: want %s (the default) or %s", r.Ethertype, EthertypeIPv4, EthertypeIPv6)
			}
			proto := v.protoAndPorts(&rule, r.Protocol, "ports", r.Ports)
			if v6 && proto == ProtoICMP {
				v.add(&rule, "protocol", "icmp with ethertype IPv6: use icmpv6")
			}
			switch {
			case r.RemoteCIDR != "" && r.RemoteGroup != "":
				v.add(&rule, "remoteCIDR", "give remoteCIDR or remoteGroup, not both")
			case r.RemoteCIDR != "":
				if p, err := netip.ParsePrefix(r.RemoteCIDR); err != nil {
					v.add(&rule, "remoteCIDR", "%q is not a CIDR prefix like 10.1.0.0/24", r.RemoteCIDR)
				} else if p.Addr().Is6() != v6 {
					v.add(&rule, "remoteCIDR", "%s is not an %s prefix, as the rule's ethertype is", r.RemoteCIDR, map[bool]string{false: EthertypeIPv4, true: EthertypeIPv6}[v6])
				}
			case r.RemoteGroup != "" && !names[r.RemoteGroup]:
				v.add(&rule, "remoteGroup", "%q is not a security group of this config", r.RemoteGroup)
			}
		}
	}
	return names
}

// protoAndPorts checks a rule's protocol and one of its port fields, and returns the protocol.
func (v *validator) protoAndPorts(obj *loc, protoText, portsField, ports string) int {
	proto, err := ParseProtocol(protoText)
	if err != nil {
		v.add(obj, "protocol", "%v", err)
		return ProtoAny
	}
	if _, err := ParsePorts(ports); err != nil {
		v.add(obj, portsField, "%v", err)
	} else if ports != "" && ports != "any" && !HasPorts(proto) {
		v.add(obj, portsField, "%q given, but protocol %q has no ports (only tcp and udp do)", ports, protoText)
	}
	return proto
}

func (v *validator) policies(list []NetworkPolicy, vns map[string]*vnInfo) map[string]bool {
	names := make(map[string]bool, len(list))
	for i, p := range list {
		obj := loc{list: ListNetworkPolicies, i: i, name: p.Name}
		v.name(&obj, p.Name, names, "network policy")
		for j, r := range p.Rules {
			rule := loc{parent: &obj, list: listRules, i: j, byIndex: true}
			if r.Action != ActionPass && r.Action != ActionDeny {
				v.add(&rule, "action", "%q: want %s or %s", r.Action, ActionPass, ActionDeny)
			}
			if r.Direction != "" && r.Direction != OneWay && r.Direction != BothWays {
				v.add(&rule, "direction", "%q: want %q (source to destination, the default) or %q (both ways)", r.Direction, OneWay, BothWays)
			}
			v.protoAndPorts(&rule, r.Protocol, "sourcePorts", r.SourcePorts)
			if _, err := ParsePorts(r.DestinationPorts); err != nil {
				v.add(&rule, "destinationPorts", "%v", err)
			} else if proto, _ := ParseProtocol(r.Protocol); r.DestinationPorts != "" && r.DestinationPorts != "any" && !HasPorts(proto) {
				v.add(&rule, "destinationPorts", "%q given, but protocol %q has no ports (only tcp and udp do)", r.DestinationPorts, r.Protocol)
			}
			for _, side := range []struct {
				field string
				ep    Endpoint
			}{{"source", r.Source}, {"destination", r.Destination}} {
				field, ep := side.field, side.ep
				switch {
				case ep.Network != "" && ep.CIDR != "":
					v.add(&rule, field, "give network or cidr, not both")
				case ep.Network != "" && vns[ep.Network] == nil:
					v.add(&rule, field+".network", "%q is not a virtual network of this config", ep.Network)
				case ep.CIDR != "":
					if _, err := netip.ParsePrefix(ep.CIDR); err != nil {
						v.add(&rule, field+".cidr", "%q is not a CIDR prefix like 10.1.0.0/24", ep.CIDR)
					}
				}
			}
		}
	}
	return names
}

// routers checks the physical routers. It returns, for each logical interface in the order of
// the document, the position of its VMI (for linkedBy), or -1 when it names no VMI.
func (v *validator) routers(list []PhysicalRouter, vmis *vmiNames, nVMIs int) []int32 {
	total := 0
	for i := range list {
		total += countLIs(&list[i])
	}
	liVMIs := make([]int32, 0, total)
	// vlanAt[vlan] is 1 + the position of the logical interface that has this VLAN on the
	// physical interface at hand (0: none); it is cleared after each physical interface.
	var vlanAt []int32
	// linkedOn[vmi] is 1 + the position of the router that last linked this VMI, and
	// linkedAt[vmi] where, on that router, it was linked first. One VMI has one logical
	// interface per node.
	var linkedOn []int32
	var linkedAt []liAt
	if total > 0 {
		vlanAt = make([]int32, MaxVLAN+1)
		linkedOn, linkedAt = make([]int32, nVMIs), make([]liAt, nVMIs)
	}
	names := make(map[string]bool, len(list))
	for i := range list {
		pr := &list[i]
		prObj := loc{list: ListPhysicalRouters, i: i, name: pr.Name}
		v.name(&prObj, pr.Name, names, "physical router")
		piNames := make(map[string]bool, len(pr.PhysicalInterfaces))
		liNames := newNameSet(countLIs(pr))
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			piObj := loc{parent: &prObj, list: ListPhysicalInterfaces, i: j, name: pi.Name}
			v.name(&piObj, pi.Name, piNames, "physical interface of this router")
			if len(pi.Name) > maxIfNameLen {
				v.add(&piObj, "name", "%q is longer than %d characters, the longest Linux interface name", pi.Name, maxIfNameLen)
			}
			for k := range pi.LogicalInterfaces {
				li := &pi.LogicalInterfaces[k]
				liObj := loc{parent: &piObj, list: ListLogicalInterfaces, i: k, name: li.Name}
				if v.nameOK(&liObj, li.Name, "logical interface of this router") {
					if _, taken := liNames.add(li.Name, 0); taken {
						v.nameTaken(&liObj, li.Name, "logical interface of this router")
					}
				}
				switch {
				case li.VLAN == nil:
					v.add(&liObj, "vlan", "missing: give the VLAN id 1..%d, or 0 for untagged frames", MaxVLAN)
				case *li.VLAN < 0 || *li.VLAN > MaxVLAN:
					v.add(&liObj, "vlan", "%d is out of range 0..%d", *li.VLAN, MaxVLAN)
				case vlanAt[*li.VLAN] != 0 && pi.LogicalInterfaces[vlanAt[*li.VLAN]-1].Name != "":
					// (a logical interface without a name, reported above, holds no VLAN)
					v.add(&liObj, "vlan", "%d is already used by logical interface %q of %s", *li.VLAN, pi.LogicalInterfaces[vlanAt[*li.VLAN]-1].Name, pi.Name)
				default:
					vlanAt[*li.VLAN] = int32(k + 1)
				}
				if li.Type != "" && li.Type != TypeL2 {
					v.add(&liObj, "type", "%q is not supported (only %q)", li.Type, TypeL2)
				}
				vmi, known := -1, false
				if li.VMI != "" {
					if vmi, known = vmis.find(li.VMI); !known {
						vmi = -1
					}
				}
				liVMIs = append(liVMIs, int32(vmi))
				switch {
				case li.VMI == "":
					v.add(&liObj, "vmi", "missing: name the virtual machine interface of the remote instance on this VLAN")
				case !known:
					v.add(&liObj, "vmi", "%q is not a virtual machine interface of this config", li.VMI)
				case linkedOn[vmi] == int32(i+1):
					v.add(&liObj, "vmi", "%q is already linked to %s on this node: one VMI has one logical interface per node", li.VMI, linkedAt[vmi].path(&prObj, pr))
				default:
					linkedOn[vmi], linkedAt[vmi] = int32(i+1), liAt{j, k}
				}
			}
			for k := range pi.LogicalInterfaces {
				if vlan := pi.LogicalInterfaces[k].VLAN; vlan != nil && *vlan >= 0 && *vlan <= MaxVLAN {
					vlanAt[*vlan] = 0
				}
			}
		}
	}
	return liVMIs
}

// linkedBy builds Index.LinkedBy of a valid config from the position of each logical
// interface's VMI (none is -1 then): each VMI's links in the order of the document, all in
// one array.
func linkedBy(c *Config, liVMIs []int32) map[string][]LinkedLI {
	vmis := c.VirtualMachineInterfaces
	bound := make([]int32, len(vmis)+1) // VMI i's links are all[bound[i]:bound[i+1]]
	for _, vmi := range liVMIs {
		bound[vmi+1]++
	}
	linked := 0 // VMIs with links
	for i := range vmis {
		if bound[i+1] > 0 {
			linked++
		}
		bound[i+1] += bound[i]
	}
	all := make([]LinkedLI, len(liVMIs))
	next := slices.Clone(bound[:len(vmis)]) // where VMI i's next link goes
	n := 0
	for i := range c.PhysicalRouters {
		pr := &c.PhysicalRouters[i]
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			for k := range pi.LogicalInterfaces {
				vmi := liVMIs[n]
				all[next[vmi]] = LinkedLI{Router: pr.Name, PhysicalInterface: pi.Name, LogicalInterface: pi.LogicalInterfaces[k]}
				next[vmi]++
				n++
			}
		}
	}
	m := make(map[string][]LinkedLI, linked)
	for i := range vmis {
		if lo, hi := bound[i], bound[i+1]; hi > lo {
			m[vmis[i].Name] = all[lo:hi:hi]
		}
	}
	return m
}

// liAt is the place of a logical interface in its router.
type liAt struct{ pi, li int }

func (at liAt) path(prObj *loc, pr *PhysicalRouter) string {
	pi := &pr.PhysicalInterfaces[at.pi]
	piObj := loc{parent: prObj, list: ListPhysicalInterfaces, i: at.pi, name: pi.Name}
	liObj := loc{parent: &piObj, list: ListLogicalInterfaces, i: at.li, name: pi.LogicalInterfaces[at.li].Name}
	return liObj.String()
}

// maxIfNameLen is IFNAMSIZ (16) less the terminating NUL.
const maxIfNameLen = 15

// ParseMAC parses a unicast Ethernet address.
func ParseMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, fmt.Errorf("missing: give the interface's MAC address, like 02:00:00:00:01:0a")
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("%q is not a 48-bit MAC address like 02:00:00:00:01:0a", s)
	}
	if mac[0]&1 == 1 {
		return nil, fmt.Errorf("%s is a multicast address; an interface needs a unicast MAC", mac)
	}
	if mac.String() == "00:00:00:00:00:00" {
		return nil, fmt.Errorf("00:00:00:00:00:00 is not a usable MAC address")
	}
	return mac, nil
}

// parseMAC48 reads a MAC written the usual way, six two-digit hex bytes separated by colons,
// into the low 48 bits of a word, without ParseMAC's allocations. It reports false for any
// other text and for the MACs ParseMAC refuses (multicast, all zeros); ParseMAC then decides.
func parseMAC48(s string) (uint64, bool) {
	if len(s) != 17 {
		return 0, false
	}
	var mac uint64
	for i := 0; i < 17; i += 3 {
		if i+2 < 17 && s[i+2] != ':' {
			return 0, false
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return 0, false
		}
		mac = mac<<8 | uint64(hi<<4|lo)
	}
	if mac == 0 || mac>>40&1 == 1 {
		return 0, false
	}
	return mac, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseIPv4 reads an IPv4 address written the usual way (four decimal bytes, without leading
// zeros), without netip.ParseAddr's generality; it reports false for any other text, which
// netip.ParseAddr then reads.
func parseIPv4(s string) (netip.Addr, bool) {
	if len(s) < len("0.0.0.0") || len(s) > len("255.255.255.255") {
		return netip.Addr{}, false
	}
	var ip [4]byte
	field, digits, dots := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			if digits == 1 && field == 0 { // a leading zero
				return netip.Addr{}, false
			}
			field = field*10 + int(c-'0')
			digits++
			if field > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && dots < 3:
			ip[dots] = byte(field)
			field, digits = 0, 0
			dots++
		default:
			return netip.Addr{}, false
		}
	}
	if dots != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(field)
	return netip.AddrFrom4(ip), true
}

// macBits packs a 6-byte MAC into the low 48 bits of a word; macAddr unpacks it.
func macBits(hw net.HardwareAddr) uint64 {
	var mac uint64
	for _, b := range hw {
		mac = mac<<8 | uint64(b)
	}
	return mac
}

func macAddr(mac uint64) net.HardwareAddr {
	return net.HardwareAddr{byte(mac >> 40), byte(mac >> 32), byte(mac >> 24), byte(mac >> 16), byte(mac >> 8), byte(mac)}
}

func (v *validator) torSwitches(list []TorSwitch, vns map[string]*vnInfo) {
	names := make(map[string]bool, len(list))
	endpoints := make(map[string]string, len(list))
	for i, sw := range list {
		obj := loc{list: ListTorSwitches, i: i, name: sw.Name}
		v.name(&obj, sw.Name, names, "ToR switch")
		if other, dup := endpoints[sw.Endpoint]; dup && sw.Endpoint != "" {
			v.add(&obj, "endpoint", "%q is already the endpoint of switch %q: one database, one physical switch", sw.Endpoint, other)
		}
		endpoints[sw.Endpoint] = sw.Name
		switch {
		case strings.HasPrefix(sw.Endpoint, "tcp:"), strings.HasPrefix(sw.Endpoint, "unix:"):
			if sw.SSL != nil {
				v.add(&obj, "ssl", "given, but endpoint %q is not ssl:", sw.Endpoint)
			}
		case strings.HasPrefix(sw.Endpoint, "ssl:"):
			if sw.SSL == nil || sw.SSL.PrivateKey == "" || sw.SSL.Certificate == "" || sw.SSL.CACert == "" {
				v.add(&obj, "ssl", "an ssl: endpoint needs privateKey, certificate and caCert")
			}
		default:
			v.add(&obj, "endpoint", "%q: want tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH", sw.Endpoint)
		}
		if sw.ReplicationNode == "" {
			v.add(&obj, "replicationNode", "missing: name the node that floods the switch's broadcast and unknown traffic")
		}
		listed := map[string]int{}
		for j, n := range sw.ManagedBy {
			field := fmt.Sprintf("managedBy[%d]", j)
			switch k, dup := listed[n]; {
			case n == "":
				v.add(&obj, field, "empty: name a node")
			case strings.ContainsAny(n, ", \t\n"):
				v.add(&obj, field, "%q: a node name has no comma or white space", n)
			case dup:
				v.add(&obj, field, "%q is already managedBy[%d]", n, k)
			}
			listed[n] = j
		}
		type portVLAN struct {
			port string
			vlan int
		}
		seen := make(map[portVLAN]int, len(sw.Bindings))
		for j, b := range sw.Bindings {
			bobj := loc{parent: &obj, list: listBindings, i: j, byIndex: true}
			if b.Port == "" {
				v.add(&bobj, "port", "missing: name the switch port")
			}
			switch {
			case b.VLAN == nil:
				v.add(&bobj, "vlan", "missing: give the VLAN id 1..%d, or 0 for untagged frames", MaxVLAN)
			case *b.VLAN < 0 || *b.VLAN > MaxVLAN:
				v.add(&bobj, "vlan", "%d is out of range 0..%d", *b.VLAN, MaxVLAN)
			default:
				key := portVLAN{b.Port, *b.VLAN}
				if k, dup := seen[key]; dup {
					v.add(&bobj, "vlan", "port %s VLAN %d is already bound by bindings[%d]", b.Port, *b.VLAN, k)
				}
				seen[key] = j
			}
			if vns[b.Network] == nil {
				v.add(&bobj, "network", "%q is not a virtual network of this config", b.Network)
			}
		}
	}
}

// logicalRouters checks each router: a name, VNs of the config each on one router at most and
// not a BPDU network, and no two of its VNs with overlapping subnets (a routed packet's
// destination address must name one VN).
func (v *validator) logicalRouters(list []LogicalRouter, vns map[string]*vnInfo) {
	names := map[string]bool{}
	on := map[string]string{} // VN → the router it is on
	for i := range list {
		r := &list[i]
		obj := loc{list: ListLogicalRouters, i: i, name: r.Name}
		v.name(&obj, r.Name, names, "logical router")
		type attached struct {
			vn string
			p  netip.Prefix
		}
		var prefixes []attached
		for k, n := range r.Networks {
			field := indexed("networks", k, "")
			vn := vns[n]
			switch {
			case vn == nil:
				v.add(&obj, field, "%q is not a virtual network of this config", n)
				continue
			case vn.vn.FloodBPDU:
				v.add(&obj, field, "%q is a BPDU network (floodBPDU): it carries no routed traffic", n)
				continue
			case on[n] == r.Name:
				v.add(&obj, field, "%q is listed twice", n)
				continue
			case on[n] != "":
				v.add(&obj, field, "%q is already on logical router %q: a VN has one router", n, on[n])
				continue
			}
			on[n] = r.Name
			if len(vn.vn.Subnets) == 0 {
				v.add(&obj, field, "%q has no subnet: a VN on a router needs one (its gateway, and the addresses routed to it)", n)
			}
			for _, p := range vn.subnets {
				for _, a := range prefixes {
					if a.p.Overlaps(p) {
						v.add(&obj, field, "subnet %s of %q overlaps subnet %s of %q, on the same router", p, n, a.p, a.vn)
					}
				}
			}
			for _, p := range vn.subnets {
				prefixes = append(prefixes, attached{n, p})
			}
		}
	}
}

// ValidName reports whether name is a valid object name: non-empty, printable, at most
// MaxNameLen bytes, without spaces, commas, '=' or '/' (for writers that generate names, such
// as the vCenter sync).
func ValidName(name string) bool { return name != "" && printableName(name) && !badName(name) }
