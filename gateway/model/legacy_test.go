package model

// The validation and indexing code as it was before it was made fast (commit 2c869c2), kept
// verbatim but for names (legacy…) and for HAGroupOf, written out from the old haGroups: the
// oracle the fast code must agree with, error for error (validate_oracle_test.go), and the
// "before" of BenchmarkValidate.

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// legacyValidate checks the whole config and returns every problem as Errors (nil when valid).
// It checks only what holds for every node; CheckCapacity checks one node's budget.
func legacyValidate(c *Config) error {
	// Errors are reported in the order of the document, though routers refer to VMIs below them.
	var vn, vmi, pr, sg, np, tor legacyValidator
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
	// Logical routers came later; the oracle follows their rules.
	var probe, lr validator
	lr.logicalRouters(c.LogicalRouters, probe.networks(c.VirtualNetworks))
	errs = append(errs, lr.errs...)
	if len(errs) == 0 { // the HA rules read a config whose references hold
		errs = legacyValidateHA(c)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

type legacyValidator struct{ errs Errors }

func (v *legacyValidator) add(obj, field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Object: obj, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// name checks an object's name and records it; it reports whether the name is usable.
func (v *legacyValidator) name(obj, name string, seen map[string]bool, kind string) bool {
	switch {
	case name == "":
		v.add(obj, "name", "missing: every %s needs a name", kind)
		return false
	case strings.ContainsAny(name, " \t\n,=/"):
		v.add(obj, "name", "%q contains a space, comma, '=' or '/'", name)
		return false
	case !printableName(name): // the rule came later; the oracle follows it
		var probe validator
		probe.nameOK(&loc{}, name, kind)
		v.add(obj, "name", "%s", probe.errs[0].Reason)
		return false
	case seen[name]:
		v.add(obj, "name", "%q is used by another %s", name, kind)
		return false
	}
	seen[name] = true
	return true
}

func (v *legacyValidator) networks(list []VirtualNetwork) map[string]*VirtualNetwork {
	byName := map[string]*VirtualNetwork{}
	names := map[string]bool{}
	vnis := map[uint32]string{}
	for i := range list {
		vn := &list[i]
		obj := legacyObjectPath("", "virtualNetworks", i, vn.Name)
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
			p, err := netip.ParsePrefix(s.CIDR)
			if err != nil {
				v.add(obj, fmt.Sprintf("subnets[%d]", j), "%q is not a CIDR prefix like 10.1.0.0/24", s)
				continue
			}
			// A subnet's gateway and DHCP options came later; the oracle follows their rules.
			var probe validator
			probe.subnetOptions(&loc{}, j, s, p.Masked())
			for _, e := range probe.errs {
				v.add(obj, e.Field, "%s", e.Reason)
			}
		}
		if ok {
			byName[vn.Name] = vn
		}
	}
	return byName
}

func (v *legacyValidator) interfaces(list []VirtualMachineInterface, vns map[string]*VirtualNetwork, sgs map[string]bool) map[string]*VirtualMachineInterface {
	byName := map[string]*VirtualMachineInterface{}
	names := map[string]bool{}
	macs := map[string]string{}  // VN + MAC → VMI
	addrs := map[string]string{} // VN + address → VMI
	for i := range list {
		vmi := &list[i]
		obj := legacyObjectPath("", "virtualMachineInterfaces", i, vmi.Name)
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
		mac, err := ParseMAC(vmi.MAC)
		if err == nil && mac.String() == RouterMAC {
			v.add(obj, "mac", "%s is the router MAC of every gateway (RouterMAC); an interface needs another", RouterMAC)
		}
		if err != nil {
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
			} else if vn != nil && !legacyInSubnets(addr, CIDRs(vn.Subnets)) {
				v.add(obj, field+".address", "%s is outside the subnets %v of virtual network %q", addr, vn.Subnets, vn.Name)
			} else if vn != nil && legacyNamedGateway(vn, addr) {
				v.add(obj, field+".address", "%s is the gateway address a subnet of virtual network %q names", addr, vn.Name)
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
				if m, err := ParseMAC(ap.MAC); err != nil {
					v.add(obj, field+".mac", "%v", err)
				} else if m.String() == RouterMAC {
					v.add(obj, field+".mac", "%s is the router MAC of every gateway (RouterMAC); an address pair needs another", RouterMAC)
				}
			}
		}
	}
	return byName
}

func (v *legacyValidator) policyRefs(list []VirtualNetwork, pols map[string]bool) {
	for i, vn := range list {
		obj := legacyObjectPath("", "virtualNetworks", i, vn.Name)
		for j, p := range vn.NetworkPolicies {
			if !pols[p] {
				v.add(obj, fmt.Sprintf("networkPolicies[%d]", j), "%q is not a network policy of this config", p)
			}
		}
	}
}

func (v *legacyValidator) securityGroups(list []SecurityGroup) map[string]bool {
	names := map[string]bool{}
	for i, g := range list {
		v.name(legacyObjectPath("", "securityGroups", i, g.Name), g.Name, names, "security group")
	}
	for i, g := range list {
		obj := legacyObjectPath("", "securityGroups", i, g.Name)
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
func (v *legacyValidator) protoAndPorts(obj, protoText, portsField, ports string) int {
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

func (v *legacyValidator) policies(list []NetworkPolicy, vns map[string]*VirtualNetwork) map[string]bool {
	names := map[string]bool{}
	for i, p := range list {
		obj := legacyObjectPath("", "networkPolicies", i, p.Name)
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

func (v *legacyValidator) routers(list []PhysicalRouter, vmis map[string]*VirtualMachineInterface) {
	names := map[string]bool{}
	for i := range list {
		pr := &list[i]
		prObj := legacyObjectPath("", "physicalRouters", i, pr.Name)
		v.name(prObj, pr.Name, names, "physical router")
		piNames := map[string]bool{}
		liNames := map[string]bool{}
		linked := map[string]string{} // VMI → LI path, per node
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			piObj := legacyObjectPath(prObj, "physicalInterfaces", j, pi.Name)
			v.name(piObj, pi.Name, piNames, "physical interface of this router")
			if len(pi.Name) > maxIfNameLen {
				v.add(piObj, "name", "%q is longer than %d characters, the longest Linux interface name", pi.Name, maxIfNameLen)
			}
			vlans := map[int]string{}
			for k := range pi.LogicalInterfaces {
				li := &pi.LogicalInterfaces[k]
				liObj := legacyObjectPath(piObj, "logicalInterfaces", k, li.Name)
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

// legacyNamedGateway reports whether a subnet of vn (one that parses) names addr as its
// gateway.
func legacyNamedGateway(vn *VirtualNetwork, addr netip.Addr) bool {
	for _, s := range vn.Subnets {
		if _, err := netip.ParsePrefix(s.CIDR); err != nil {
			continue
		}
		if gw, err := netip.ParseAddr(s.Gateway); err == nil && gw == addr {
			return true
		}
	}
	return false
}

func legacyInSubnets(addr netip.Addr, subnets []string) bool {
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

func (v *legacyValidator) torSwitches(list []TorSwitch, vns map[string]*VirtualNetwork) {
	names := map[string]bool{}
	endpoints := map[string]string{}
	for i, sw := range list {
		obj := legacyObjectPath("", "torSwitches", i, sw.Name)
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

// legacyObjectPath names a list element by its name, or by its index when it has none.
func legacyObjectPath(parent, list string, i int, name string) string {
	p := list
	if parent != "" {
		p = parent + "." + list
	}
	if name == "" || !printableName(name) {
		return fmt.Sprintf("%s[#%d]", p, i)
	}
	return fmt.Sprintf("%s[%s]", p, name)
}

// legacyHAGroups joins routers that link a common tenant VMI (connected components), and names each
// group's BPDU VMI (the first found; validation checks they agree).
func legacyHAGroups(x *Index) []*HAGroup {
	parent := map[string]string{}
	var find func(string) string
	find = func(r string) string {
		if parent[r] == "" || parent[r] == r {
			parent[r] = r
			return r
		}
		root := find(parent[r])
		parent[r] = root
		return root
	}
	for _, pr := range x.Config.PhysicalRouters {
		find(pr.Name)
	}
	for vmi, lis := range x.LinkedBy {
		if x.BPDUVMI(vmi) {
			continue
		}
		for _, li := range lis[1:] {
			parent[find(li.Router)] = find(lis[0].Router)
		}
	}
	byRoot := map[string]*HAGroup{}
	for _, pr := range x.Config.PhysicalRouters {
		root := find(pr.Name)
		if byRoot[root] == nil {
			byRoot[root] = &HAGroup{}
		}
		g := byRoot[root]
		g.Routers = append(g.Routers, pr.Name)
		for _, li := range legacyNodeLIs(x, pr.Name) {
			if li.VLANID() == 0 && x.BPDUVMI(li.VMI) && g.BPDUVMI == "" {
				g.BPDUVMI = li.VMI
			}
		}
	}
	var out []*HAGroup
	for _, g := range byRoot {
		sort.Strings(g.Routers)
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Routers[0] < out[j].Routers[0] })
	return out
}

// legacyValidateHA checks the HA rules on an otherwise valid config.
func legacyValidateHA(c *Config) Errors {
	x := legacyNewIndex(c)
	var errs Errors
	add := func(obj, field, format string, args ...any) {
		errs = append(errs, FieldError{Object: obj, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	// A BPDU network carries nothing but BPDUs: its VMIs are dummies on VLAN 0 interfaces.
	for i, v := range c.VirtualMachineInterfaces {
		if !x.BPDUVMI(v.Name) {
			continue
		}
		obj := legacyObjectPath("", "virtualMachineInterfaces", i, v.Name)
		lis := x.LinkedBy[v.Name]
		if len(lis) == 0 {
			add(obj, "network", "%q is a floodBPDU network, which carries only BPDUs between gateways: a VM cannot join it (link this VMI only from VLAN 0 logical interfaces)", v.Network)
		}
		for _, li := range lis {
			if li.VLANID() != 0 {
				add(obj, "network", "%q is a floodBPDU network, but logical interface %s of %s/%s links this VMI on VLAN %d: BPDU VMIs belong on VLAN 0 only", v.Network, li.Name, li.Router, li.PhysicalInterface, li.VLANID())
			}
		}
	}
	groups := legacyHAGroups(x)
	bpduOwner := map[string]*HAGroup{}
	for _, g := range groups {
		if len(g.Routers) < 2 {
			continue
		}
		shared := legacySharedInterfaces(x, g)
		for _, r := range g.Routers {
			bpdu := map[string]string{} // physical interface → BPDU VMI on its VLAN 0
			for _, li := range legacyNodeLIs(x, r) {
				if li.VLANID() == 0 && x.BPDUVMI(li.VMI) {
					bpdu[li.PhysicalInterface] = li.VMI
				}
			}
			for _, pi := range shared[r] {
				obj := fmt.Sprintf("physicalRouters[%s].physicalInterfaces[%s]", r, pi)
				switch vmi := bpdu[pi]; {
				case vmi == "":
					add(obj, "logicalInterfaces", "carries remote instances that %s also serve, but has no VLAN 0 logical interface linked to a VMI of a floodBPDU network: the switches could not see the loop and would forward to every gateway", others(g.Routers, r))
				case g.BPDUVMI != "" && vmi != g.BPDUVMI:
					add(obj, "logicalInterfaces", "its VLAN 0 logical interface links BPDU VMI %q, but its HA group (%s) uses %q: one group, one BPDU VMI", vmi, strings.Join(g.Routers, ", "), g.BPDUVMI)
				}
			}
		}
		if g.BPDUVMI != "" {
			bpduOwner[g.BPDUVMI] = g
		}
	}
	// Two groups on one BPDU VMI would flood each other's BPDUs and join unrelated loops.
	for _, g := range groups {
		for _, r := range g.Routers {
			for _, li := range legacyNodeLIs(x, r) {
				if li.VLANID() != 0 || !x.BPDUVMI(li.VMI) {
					continue
				}
				if owner := bpduOwner[li.VMI]; owner != nil && owner != g {
					add(fmt.Sprintf("physicalRouters[%s].physicalInterfaces[%s].logicalInterfaces[%s]", r, li.PhysicalInterface, li.Name), "vmi",
						"BPDU VMI %q already serves the HA group of %s, which shares no remote instance with %s: each HA group needs its own BPDU VMI", li.VMI, strings.Join(owner.Routers, ", "), r)
				}
			}
		}
	}
	return errs
}

// legacySharedInterfaces lists, per router of g, the physical interfaces carrying a remote instance
// that another router of g serves too.
func legacySharedInterfaces(x *Index, g *HAGroup) map[string][]string {
	out := map[string][]string{}
	for vmi, lis := range x.LinkedBy {
		if x.BPDUVMI(vmi) || len(lis) < 2 {
			continue
		}
		for _, li := range lis {
			if !contains(out[li.Router], li.PhysicalInterface) {
				out[li.Router] = append(out[li.Router], li.PhysicalInterface)
			}
		}
	}
	for r := range out {
		sort.Strings(out[r])
	}
	return out
}

// legacyNewIndex indexes a validated config.
func legacyNewIndex(c *Config) *Index {
	x := &Index{
		Config:   c,
		VNs:      map[string]*VirtualNetwork{},
		VMIs:     map[string]*VirtualMachineInterface{},
		LinkedBy: map[string][]LinkedLI{},
		RouterOf: routerOf(c), // logical routers came later; the oracle follows them
		// Held gateways came with subnets' gateways, later still.
		HeldGateways: heldGateways(c),
	}
	for i := range c.VirtualNetworks {
		x.VNs[c.VirtualNetworks[i].Name] = &c.VirtualNetworks[i]
	}
	for i := range c.VirtualMachineInterfaces {
		x.VMIs[c.VirtualMachineInterfaces[i].Name] = &c.VirtualMachineInterfaces[i]
	}
	for _, pr := range c.PhysicalRouters {
		for _, pi := range pr.PhysicalInterfaces {
			for _, li := range pi.LogicalInterfaces {
				x.LinkedBy[li.VMI] = append(x.LinkedBy[li.VMI], LinkedLI{Router: pr.Name, PhysicalInterface: pi.Name, LogicalInterface: li})
			}
		}
	}
	return x
}

// legacyNodeLIs returns the logical interfaces of node host, sorted by physical interface and VLAN.
func legacyNodeLIs(x *Index, host string) []LinkedLI {
	pr := x.Router(host)
	if pr == nil {
		return nil
	}
	var out []LinkedLI
	for _, pi := range pr.PhysicalInterfaces {
		for _, li := range pi.LogicalInterfaces {
			out = append(out, LinkedLI{Router: pr.Name, PhysicalInterface: pi.Name, LogicalInterface: li})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PhysicalInterface != out[j].PhysicalInterface {
			return out[i].PhysicalInterface < out[j].PhysicalInterface
		}
		return out[i].VLANID() < out[j].VLANID()
	})
	return out
}

// legacyInterfacesUsed is what node host's logical interfaces cost from its interface budget.
func legacyInterfacesUsed(x *Index, host string) int {
	return InterfacesPerRemoteVMI * len(legacyNodeLIs(x, host))
}

// legacyCheckCapacity refuses a config whose remote instances on node host exceed max interfaces.
func legacyCheckCapacity(x *Index, host string, max int) error {
	used := legacyInterfacesUsed(x, host)
	if used <= max {
		return nil
	}
	return Errors{{
		Object: fmt.Sprintf("physicalRouters[%s]", host),
		Reason: fmt.Sprintf("%d remote instances need %d interfaces (%d each: logical interface + VMI), more than max_interfaces = %d allows (%d remote instances)",
			used/InterfacesPerRemoteVMI, used, InterfacesPerRemoteVMI, max, max/InterfacesPerRemoteVMI),
	}}
}

func legacyHAGroupOf(x *Index, host string) *HAGroup {
	for _, g := range legacyHAGroups(x) {
		for _, r := range g.Routers {
			if r == host && len(g.Routers) > 1 {
				return g
			}
		}
	}
	return nil
}

// The oracle and the base configs, for the tests of package model_test (which may import
// test/bench/scale, which imports model).
var (
	LegacyValidate       = legacyValidate
	LegacyNewIndex       = legacyNewIndex
	LegacyNodeLIs        = legacyNodeLIs
	LegacyInterfacesUsed = legacyInterfacesUsed
	LegacyCheckCapacity  = legacyCheckCapacity
	LegacyHAGroupOf      = legacyHAGroupOf
	ValidYAML, HAYAML    = validYAML, haYAML
)
