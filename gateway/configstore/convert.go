package configstore

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// pairSep separates an allowed address pair's IP and MAC in its set element
// ("10.1.0.200/32 02:00:00:00:09:09"), as OVN writes addresses in
// Logical_Switch_Port; neither an address nor a MAC contains a space.
const pairSep = " "

// toRows maps a (validated) config to rows.
func toRows(c *model.Config) *configdb.ConfigRows {
	r := &configdb.ConfigRows{}
	for _, vn := range c.VirtualNetworks {
		row := gatewaydb.VirtualNetwork{Name: vn.Name, Vni: int(vn.VNI), Subnets: subnetRows(vn.Subnets), FloodBpdu: vn.FloodBPDU}
		if len(vn.NetworkPolicies) > 0 {
			row.NetworkPolicies = map[int]string{}
			for i, p := range vn.NetworkPolicies {
				row.NetworkPolicies[i] = p
			}
		}
		r.VirtualNetworks = append(r.VirtualNetworks, row)
	}
	for _, pr := range c.PhysicalRouters {
		r.PhysicalRouters = append(r.PhysicalRouters, gatewaydb.PhysicalRouter{Name: pr.Name})
		for _, pi := range pr.PhysicalInterfaces {
			r.PhysicalInterfaces = append(r.PhysicalInterfaces, gatewaydb.PhysicalInterface{Router: pr.Name, Name: pi.Name})
			for _, li := range pi.LogicalInterfaces {
				r.LogicalInterfaces = append(r.LogicalInterfaces, gatewaydb.LogicalInterface{Router: pr.Name, PhysicalInterface: pi.Name,
					Name: li.Name, VLAN: int(li.VLANID()), Type: li.Type, Vmi: li.VMI})
			}
		}
	}
	for _, v := range c.VirtualMachineInterfaces {
		row := gatewaydb.VirtualMachineInterface{Name: v.Name, Network: v.Network, MAC: v.MAC,
			SecurityGroups: v.SecurityGroups, PortSecurity: v.PortSecurity}
		if len(v.InstanceIPs) > 0 {
			row.InstanceIPs = map[string]string{}
			for _, ip := range v.InstanceIPs {
				row.InstanceIPs[ip.Address] = ip.Mode
			}
		}
		for _, ap := range v.AllowedAddressPairs {
			row.AllowedAddressPairs = append(row.AllowedAddressPairs, strings.TrimSuffix(ap.IP+pairSep+ap.MAC, pairSep))
		}
		r.VirtualMachineInterfaces = append(r.VirtualMachineInterfaces, row)
	}
	for _, g := range c.SecurityGroups {
		r.SecurityGroups = append(r.SecurityGroups, gatewaydb.SecurityGroup{Name: g.Name})
		for i, x := range g.Rules {
			r.SecurityGroupRules = append(r.SecurityGroupRules, gatewaydb.SecurityGroupRule{SecurityGroup: g.Name, Position: i,
				Direction: x.Direction, Ethertype: x.Ethertype, Protocol: x.Protocol, Ports: x.Ports,
				RemoteCidr: x.RemoteCIDR, RemoteGroup: x.RemoteGroup})
		}
	}
	for _, p := range c.NetworkPolicies {
		r.NetworkPolicies = append(r.NetworkPolicies, gatewaydb.NetworkPolicy{Name: p.Name})
		for i, x := range p.Rules {
			r.NetworkPolicyRules = append(r.NetworkPolicyRules, gatewaydb.NetworkPolicyRule{NetworkPolicy: p.Name, Position: i,
				Action: x.Action, Protocol: x.Protocol, Direction: x.Direction,
				SourceNetwork: x.Source.Network, SourceCidr: x.Source.CIDR,
				DestinationNetwork: x.Destination.Network, DestinationCidr: x.Destination.CIDR,
				SourcePorts: x.SourcePorts, DestinationPorts: x.DestinationPorts})
		}
	}
	r.TorSwitches, r.TorBindings = torRows(c)
	for _, lr := range c.LogicalRouters {
		r.LogicalRouters = append(r.LogicalRouters, gatewaydb.LogicalRouter{Name: lr.Name, Networks: set(slices.Clone(lr.Networks))})
	}
	return r
}

// byPosition turns a position → value map into the list it stands for.
func byPosition(m map[int]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// Normalize puts c in the canonical order Store.Config returns, so that two
// configs that mean the same compare equal with reflect.DeepEqual: objects
// sorted by name (physical and logical interfaces within their parent),
// lists whose order means nothing (subnets, a logical router's networks, instance IPs, a VMI's security
// groups, allowed address pairs) sorted with exact repeats removed, as an
// OVSDB set or map stores them; lists whose order matters (a VN's network
// policies, rules) kept; empty lists nil. It changes c in place.
func Normalize(c *model.Config) {
	byName := func(a, b string) int { return strings.Compare(a, b) }
	slices.SortFunc(c.VirtualNetworks, func(a, b model.VirtualNetwork) int { return byName(a.Name, b.Name) })
	for i := range c.VirtualNetworks {
		vn := &c.VirtualNetworks[i]
		vn.Subnets = subnetObjects(subnetRows(vn.Subnets)) // as the subnets column holds them
		vn.NetworkPolicies = nilIfEmpty(vn.NetworkPolicies)
	}
	slices.SortFunc(c.PhysicalRouters, func(a, b model.PhysicalRouter) int { return byName(a.Name, b.Name) })
	for i := range c.PhysicalRouters {
		pr := &c.PhysicalRouters[i]
		slices.SortFunc(pr.PhysicalInterfaces, func(a, b model.PhysicalInterface) int { return byName(a.Name, b.Name) })
		pr.PhysicalInterfaces = nilIfEmpty(pr.PhysicalInterfaces)
		for j := range pr.PhysicalInterfaces {
			pi := &pr.PhysicalInterfaces[j]
			slices.SortFunc(pi.LogicalInterfaces, func(a, b model.LogicalInterface) int { return byName(a.Name, b.Name) })
			pi.LogicalInterfaces = nilIfEmpty(pi.LogicalInterfaces)
		}
	}
	slices.SortFunc(c.VirtualMachineInterfaces, func(a, b model.VirtualMachineInterface) int { return byName(a.Name, b.Name) })
	for i := range c.VirtualMachineInterfaces {
		v := &c.VirtualMachineInterfaces[i]
		slices.SortFunc(v.InstanceIPs, func(a, b model.InstanceIP) int {
			return cmp.Or(byName(a.Address, b.Address), byName(a.Mode, b.Mode))
		})
		v.InstanceIPs = nilIfEmpty(slices.Compact(v.InstanceIPs))
		v.SecurityGroups = set(v.SecurityGroups)
		slices.SortFunc(v.AllowedAddressPairs, func(a, b model.AddressPair) int {
			return cmp.Or(byName(a.IP, b.IP), byName(a.MAC, b.MAC))
		})
		v.AllowedAddressPairs = nilIfEmpty(slices.Compact(v.AllowedAddressPairs))
	}
	slices.SortFunc(c.SecurityGroups, func(a, b model.SecurityGroup) int { return byName(a.Name, b.Name) })
	for i := range c.SecurityGroups {
		c.SecurityGroups[i].Rules = nilIfEmpty(c.SecurityGroups[i].Rules)
	}
	slices.SortFunc(c.NetworkPolicies, func(a, b model.NetworkPolicy) int { return byName(a.Name, b.Name) })
	for i := range c.NetworkPolicies {
		c.NetworkPolicies[i].Rules = nilIfEmpty(c.NetworkPolicies[i].Rules)
	}
	c.VirtualNetworks = nilIfEmpty(c.VirtualNetworks)
	c.PhysicalRouters = nilIfEmpty(c.PhysicalRouters)
	c.VirtualMachineInterfaces = nilIfEmpty(c.VirtualMachineInterfaces)
	c.SecurityGroups = nilIfEmpty(c.SecurityGroups)
	c.NetworkPolicies = nilIfEmpty(c.NetworkPolicies)
	normalizeTors(c)
	slices.SortFunc(c.LogicalRouters, func(a, b model.LogicalRouter) int { return byName(a.Name, b.Name) })
	for i := range c.LogicalRouters {
		c.LogicalRouters[i].Networks = set(c.LogicalRouters[i].Networks)
	}
	c.LogicalRouters = nilIfEmpty(c.LogicalRouters)
}

func set(s []string) []string {
	slices.Sort(s)
	return nilIfEmpty(slices.Compact(s))
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// torRows maps the config's switches to rows: one Tor_Switch row per switch (its SSL files and
// pinned common name as four columns, empty when it has none; managed_by the managedBy names
// joined by commas, empty for the default), one Tor_Binding row per binding.
func torRows(c *model.Config) ([]gatewaydb.TorSwitch, []gatewaydb.TorBinding) {
	var tors []gatewaydb.TorSwitch
	var bindings []gatewaydb.TorBinding
	for _, sw := range c.TorSwitches {
		row := gatewaydb.TorSwitch{Name: sw.Name, Endpoint: sw.Endpoint, ReplicationNode: sw.ReplicationNode, ManagedBy: managedByColumn(sw.ManagedBy)}
		if sw.SSL != nil {
			row.SSLPrivateKey, row.SSLCertificate, row.SSLCaCert = sw.SSL.PrivateKey, sw.SSL.Certificate, sw.SSL.CACert
			row.SSLPeerCommonName = sw.SSL.PeerCommonName
		}
		tors = append(tors, row)
		for _, b := range sw.Bindings {
			vlan := 0
			if b.VLAN != nil {
				vlan = *b.VLAN
			}
			bindings = append(bindings, gatewaydb.TorBinding{Switch: sw.Name, Port: b.Port, VLAN: vlan, Network: b.Network})
		}
	}
	return tors, bindings
}

// normalizeTors sorts switches by name and their bindings by port, VLAN and network (their
// order means nothing); empty lists nil.
func normalizeTors(c *model.Config) {
	slices.SortFunc(c.TorSwitches, func(a, b model.TorSwitch) int { return strings.Compare(a.Name, b.Name) })
	vlan := func(b model.TorBinding) int {
		if b.VLAN == nil {
			return -1
		}
		return *b.VLAN
	}
	for i := range c.TorSwitches {
		sw := &c.TorSwitches[i]
		slices.SortFunc(sw.Bindings, func(a, b model.TorBinding) int {
			return cmp.Or(strings.Compare(a.Port, b.Port), cmp.Compare(vlan(a), vlan(b)), strings.Compare(a.Network, b.Network))
		})
		sw.Bindings = nilIfEmpty(sw.Bindings)
	}
	c.TorSwitches = nilIfEmpty(c.TorSwitches)
}

// managedByColumn is a switch's managedBy as its Tor_Switch managed_by column holds it: the names
// in order, joined by commas (validation refuses a name with one). One name is the name itself,
// as before lists existed, so older agents read a one-name config unchanged.
func managedByColumn(l model.NodeList) string { return strings.Join(l, ",") }

// managedByList reads a managed_by column back.
func managedByList(col string) model.NodeList {
	if col == "" {
		return nil
	}
	return strings.Split(col, ",")
}
