package model

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Validate checks the whole config and returns every problem as Errors (nil when valid).
// It checks only what holds for every node; CheckCapacity checks one node's budget.
func (c *Config) Validate() error {
	// Errors are reported in the order of the document, though routers refer to VMIs below them.
	var vn, vmi, pr, sg, np, tor validator
	vns := vn.networks(c.VirtualNetworks)
	sgs := sg.securityGroups(c.SecurityGroups)
	pols := np.policies(c.NetworkPolicies, vns)
	vn.policyRefs(c.VirtualNetworks, pols)
	vmis := vmi.interfaces(c.VirtualMachineInterfaces, vns, sgs)
	pr.routers(c.PhysicalRouters, vmis)
	tor.torSwitches(c.TorSwitches, vns)
	var errs Errors
	for _, part := range []Errors{vn.errs, pr.errs, vmi.errs, sg.errs, np.errs, tor.errs} {
		errs = append(errs, part...)
	}
	if len(errs) == 0 { // the HA rules read a config whose references hold
		errs = validateHA(c)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

type validator struct{ errs Errors }

func (v *validator) add(obj, field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Object: obj, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// name checks an object's name and records it; it reports whether the name is usable.
func (v *validator) name(obj, name string, seen map[string]bool, kind string) bool {
	switch {
	case name == "":
		v.add(obj, "name", "missing: every %s needs a name", kind)
		return false
	case strings.ContainsAny(name, " \t\n,=/"):
		v.add(obj, "name", "%q contains a space, comma, '=' or '/'", name)
		return false
	case seen[name]:
		v.add(obj, "name", "%q is used by another %s", name, kind)
		return false
	}
	seen[name] = true
	return true
}

func (v *validator) networks(list []VirtualNetwork) map[string]*VirtualNetwork {
	byName := map[string]*VirtualNetwork{}
	names := map[string]bool{}
	vnis := map[uint32]string{}
	for i := range list {
		vn := &list[i]
		obj := objectPath("", "virtualNetworks", i, vn.Name)
		ok := v.name(obj, vn.Name, names, "virtual network")
		switch {
		case vn.VNI == 0 || vn.VNI > MaxVNI:
			v.add(obj, "vni", "%d is out of range 1..%d", vn.VNI, MaxVNI)
		case vnis[vn.VNI] != "":
			v.add(obj, "vni", "%d is already the VNI of virtual network %q", vn.VNI, vnis[vn.VNI])
		default:
			vnis[vn.VNI] = vn.Name
		}
		for j, s := range vn.Subnets {
			if _, err := netip.ParsePrefix(s); err != nil {
				v.add(obj, fmt.Sprintf("subnets[%d]", j), "%q is not a CIDR prefix like 10.1.0.0/24", s)
			}
		}
		if ok {
			byName[vn.Name] = vn
		}
	}
	return byName
}

func (v *validator) interfaces(list []VirtualMachineInterface, vns map[string]*VirtualNetwork, sgs map[string]bool) map[string]*VirtualMachineInterface {
	byName := map[string]*VirtualMachineInterface{}
	names := map[string]bool{}
	macs := map[string]string{}  // VN + MAC → VMI
	addrs := map[string]string{} // VN + address → VMI
	for i := range list {
		vmi := &list[i]
		obj := objectPath("", "virtualMachineInterfaces", i, vmi.Name)
		if v.name(obj, vmi.Name, names, "virtual machine interface") {
			byName[vmi.Name] = vmi
		}
		vn := vns[vmi.Network]
		switch {
		case vmi.Network == "":
			v.add(obj, "network", "missing: name the virtual network this interface is in")
		case vn == nil:
			v.add(obj, "network", "%q is not a virtual network of this config", vmi.Network)
		}
		if mac, err := ParseMAC(vmi.MAC); err != nil {
			v.add(obj, "mac", "%v", err)
		} else if other, dup := macs[vmi.Network+"|"+mac.String()]; dup {
			v.add(obj, "mac", "%s is already the MAC of %q in virtual network %q", mac, other, vmi.Network)
		} else {
			macs[vmi.Network+"|"+mac.String()] = vmi.Name
		}
		for j, ip := range vmi.InstanceIPs {
			field := fmt.Sprintf("instanceIPs[%d]", j)
			addr, err := netip.ParseAddr(ip.Address)
			if err != nil || addr.Zone() != "" {
				v.add(obj, field+".address", "%q is not an IP address", ip.Address)
			} else if vn != nil && !inSubnets(addr, vn.Subnets) {
				v.add(obj, field+".address", "%s is outside the subnets %v of virtual network %q", addr, vn.Subnets, vn.Name)
			} else if other, dup := addrs[vmi.Network+"|"+addr.String()]; dup {
				v.add(obj, field+".address", "%s is already an address of %q in virtual network %q", addr, other, vmi.Network)
			} else {
				addrs[vmi.Network+"|"+addr.String()] = vmi.Name
			}
			if ip.Mode != "" && ip.Mode != ModeActiveBackup {
				v.add(obj, field+".mode", "%q is not a known instance IP mode (known: %s, the default)", ip.Mode, ModeActiveBackup)
			}
		}
		seenSG := map[string]bool{}
		for j, g := range vmi.SecurityGroups {
			switch {
			case !sgs[g]:
				v.add(obj, fmt.Sprintf("securityGroups[%d]", j), "%q is not a security group of this config", g)
			case seenSG[g]:
				v.add(obj, fmt.Sprintf("securityGroups[%d]", j), "%q is listed twice", g)
			}
			seenSG[g] = true
		}
		for j, ap := range vmi.AllowedAddressPairs {
			field := fmt.Sprintf("allowedAddressPairs[%d]", j)
			if _, err := ParsePrefixOrAddr(ap.IP); err != nil {
				v.add(obj, field+".ip", "%v", err)
			}
			if ap.MAC != "" {
				if _, err := ParseMAC(ap.MAC); err != nil {
					v.add(obj, field+".mac", "%v", err)
				}
			}
		}
	}
	return byName
}

func (v *validator) policyRefs(list []VirtualNetwork, pols map[string]bool) {
	for i, vn := range list {
		obj := objectPath("", "virtualNetworks", i, vn.Name)
		for j, p := range vn.NetworkPolicies {
			if !pols[p] {
				v.add(obj, fmt.Sprintf("networkPolicies[%d]", j), "%q is not a network policy of this config", p)
			}
		}
	}
}

func (v *validator) securityGroups(list []SecurityGroup) map[string]bool {
	names := map[string]bool{}
	for i, g := range list {
		v.name(objectPath("", "securityGroups", i, g.Name), g.Name, names, "security group")
	}
	for i, g := range list {
		obj := objectPath("", "securityGroups", i, g.Name)
		for j, r := range g.Rules {
			rule := fmt.Sprintf("%s.rules[%d]", obj, j)
			if r.Direction != DirectionIngress && r.Direction != DirectionEgress {
				v.add(rule, "direction", "%q: want %s or %s", r.Direction, DirectionIngress, DirectionEgress)
			}
			v6 := false
			switch r.Ethertype {
			case "", EthertypeIPv4:
			case EthertypeIPv6:
				v6 = true
			default:
				v.add(rule, "ethertype", "%q: want %s (the default) or %s", r.Ethertype, EthertypeIPv4, EthertypeIPv6)
			}
			proto := v.protoAndPorts(rule, r.Protocol, "ports", r.Ports)
			if v6 && proto == ProtoICMP {
				v.add(rule, "protocol", "icmp with ethertype IPv6: use icmpv6")
			}
			switch {
			case r.RemoteCIDR != "" && r.RemoteGroup != "":
				v.add(rule, "remoteCIDR", "give remoteCIDR or remoteGroup, not both")
			case r.RemoteCIDR != "":
				if p, err := netip.ParsePrefix(r.RemoteCIDR); err != nil {
					v.add(rule, "remoteCIDR", "%q is not a CIDR prefix like 10.1.0.0/24", r.RemoteCIDR)
				} else if p.Addr().Is6() != v6 {
					v.add(rule, "remoteCIDR", "%s is not an %s prefix, as the rule's ethertype is", r.RemoteCIDR, map[bool]string{false: EthertypeIPv4, true: EthertypeIPv6}[v6])
				}
			case r.RemoteGroup != "" && !names[r.RemoteGroup]:
				v.add(rule, "remoteGroup", "%q is not a security group of this config", r.RemoteGroup)
			}
		}
	}
	return names
}

// protoAndPorts checks a rule's protocol and one of its port fields, and returns the protocol.
func (v *validator) protoAndPorts(obj, protoText, portsField, ports string) int {
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

func (v *validator) policies(list []NetworkPolicy, vns map[string]*VirtualNetwork) map[string]bool {
	names := map[string]bool{}
	for i, p := range list {
		obj := objectPath("", "networkPolicies", i, p.Name)
		v.name(obj, p.Name, names, "network policy")
		for j, r := range p.Rules {
			rule := fmt.Sprintf("%s.rules[%d]", obj, j)
			if r.Action != ActionPass && r.Action != ActionDeny {
				v.add(rule, "action", "%q: want %s or %s", r.Action, ActionPass, ActionDeny)
			}
			if r.Direction != "" && r.Direction != OneWay && r.Direction != BothWays {
				v.add(rule, "direction", "%q: want %q (source to destination, the default) or %q (both ways)", r.Direction, OneWay, BothWays)
			}
			v.protoAndPorts(rule, r.Protocol, "sourcePorts", r.SourcePorts)
			if _, err := ParsePorts(r.DestinationPorts); err != nil {
				v.add(rule, "destinationPorts", "%v", err)
			} else if proto, _ := ParseProtocol(r.Protocol); r.DestinationPorts != "" && r.DestinationPorts != "any" && !HasPorts(proto) {
				v.add(rule, "destinationPorts", "%q given, but protocol %q has no ports (only tcp and udp do)", r.DestinationPorts, r.Protocol)
			}
			for _, side := range []struct {
				field string
				ep    Endpoint
			}{{"source", r.Source}, {"destination", r.Destination}} {
				field, ep := side.field, side.ep
				switch {
				case ep.Network != "" && ep.CIDR != "":
					v.add(rule, field, "give network or cidr, not both")
				case ep.Network != "" && vns[ep.Network] == nil:
					v.add(rule, field+".network", "%q is not a virtual network of this config", ep.Network)
				case ep.CIDR != "":
					if _, err := netip.ParsePrefix(ep.CIDR); err != nil {
						v.add(rule, field+".cidr", "%q is not a CIDR prefix like 10.1.0.0/24", ep.CIDR)
					}
				}
			}
		}
	}
	return names
}

func (v *validator) routers(list []PhysicalRouter, vmis map[string]*VirtualMachineInterface) {
	names := map[string]bool{}
	for i := range list {
		pr := &list[i]
		prObj := objectPath("", "physicalRouters", i, pr.Name)
		v.name(prObj, pr.Name, names, "physical router")
		piNames := map[string]bool{}
		liNames := map[string]bool{}
		linked := map[string]string{} // VMI → LI path, per node
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			piObj := objectPath(prObj, "physicalInterfaces", j, pi.Name)
			v.name(piObj, pi.Name, piNames, "physical interface of this router")
			if len(pi.Name) > maxIfNameLen {
				v.add(piObj, "name", "%q is longer than %d characters, the longest Linux interface name", pi.Name, maxIfNameLen)
			}
			vlans := map[int]string{}
			for k := range pi.LogicalInterfaces {
				li := &pi.LogicalInterfaces[k]
				liObj := objectPath(piObj, "logicalInterfaces", k, li.Name)
				v.name(liObj, li.Name, liNames, "logical interface of this router")
				switch {
				case li.VLAN == nil:
					v.add(liObj, "vlan", "missing: give the VLAN id 1..%d, or 0 for untagged frames", MaxVLAN)
				case *li.VLAN < 0 || *li.VLAN > MaxVLAN:
					v.add(liObj, "vlan", "%d is out of range 0..%d", *li.VLAN, MaxVLAN)
				case vlans[*li.VLAN] != "":
					v.add(liObj, "vlan", "%d is already used by logical interface %q of %s", *li.VLAN, vlans[*li.VLAN], pi.Name)
				default:
					vlans[*li.VLAN] = li.Name
				}
				if li.Type != "" && li.Type != TypeL2 {
					v.add(liObj, "type", "%q is not supported (only %q)", li.Type, TypeL2)
				}
				switch {
				case li.VMI == "":
					v.add(liObj, "vmi", "missing: name the virtual machine interface of the remote instance on this VLAN")
				case vmis[li.VMI] == nil:
					v.add(liObj, "vmi", "%q is not a virtual machine interface of this config", li.VMI)
				case linked[li.VMI] != "":
					v.add(liObj, "vmi", "%q is already linked to %s on this node: one VMI has one logical interface per node", li.VMI, linked[li.VMI])
				default:
					linked[li.VMI] = liObj
				}
			}
		}
	}
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

func inSubnets(addr netip.Addr, subnets []string) bool {
	parsed := 0 // a malformed subnet is reported on its own; it must not make every address "outside"
	for _, s := range subnets {
		if p, err := netip.ParsePrefix(s); err == nil {
			parsed++
			if p.Contains(addr) {
				return true
			}
		}
	}
	return parsed == 0
}

func (v *validator) torSwitches(list []TorSwitch, vns map[string]*VirtualNetwork) {
	names := map[string]bool{}
	endpoints := map[string]string{}
	for i, sw := range list {
		obj := objectPath("", "torSwitches", i, sw.Name)
		v.name(obj, sw.Name, names, "ToR switch")
		if other, dup := endpoints[sw.Endpoint]; dup && sw.Endpoint != "" {
			v.add(obj, "endpoint", "%q is already the endpoint of switch %q: one database, one physical switch", sw.Endpoint, other)
		}
		endpoints[sw.Endpoint] = sw.Name
		switch {
		case strings.HasPrefix(sw.Endpoint, "tcp:"), strings.HasPrefix(sw.Endpoint, "unix:"):
			if sw.SSL != nil {
				v.add(obj, "ssl", "given, but endpoint %q is not ssl:", sw.Endpoint)
			}
		case strings.HasPrefix(sw.Endpoint, "ssl:"):
			if sw.SSL == nil || sw.SSL.PrivateKey == "" || sw.SSL.Certificate == "" || sw.SSL.CACert == "" {
				v.add(obj, "ssl", "an ssl: endpoint needs privateKey, certificate and caCert")
			}
		default:
			v.add(obj, "endpoint", "%q: want tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH", sw.Endpoint)
		}
		if sw.ReplicationNode == "" {
			v.add(obj, "replicationNode", "missing: name the node that floods the switch's broadcast and unknown traffic")
		}
		seen := map[string]int{}
		for j, b := range sw.Bindings {
			bobj := fmt.Sprintf("%s.bindings[%d]", obj, j)
			if b.Port == "" {
				v.add(bobj, "port", "missing: name the switch port")
			}
			switch {
			case b.VLAN == nil:
				v.add(bobj, "vlan", "missing: give the VLAN id 1..%d, or 0 for untagged frames", MaxVLAN)
			case *b.VLAN < 0 || *b.VLAN > MaxVLAN:
				v.add(bobj, "vlan", "%d is out of range 0..%d", *b.VLAN, MaxVLAN)
			default:
				key := fmt.Sprintf("%s/%d", b.Port, *b.VLAN)
				if k, dup := seen[key]; dup {
					v.add(bobj, "vlan", "port %s VLAN %d is already bound by bindings[%d]", b.Port, *b.VLAN, k)
				}
				seen[key] = j
			}
			if vns[b.Network] == nil {
				v.add(bobj, "network", "%q is not a virtual network of this config", b.Network)
			}
		}
	}
}
