package configdb

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// pairSep separates an allowed address pair's IP and MAC in its set element
// ("10.1.0.200/32 02:00:00:00:09:09"), as OVN writes addresses in
// Logical_Switch_Port; neither an address nor a MAC contains a space.
const pairSep = " "

// Config returns the config objects of the cache as a model.Config in
// canonical order (Normalize), not validated: the caller validates it, as
// it would a file.
func (c *Client) Config() (*model.Config, error) {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		return nil, err
	}
	return s.config(), nil
}

// Generation is the config generation in the cache: how many times Apply
// has written the config (0: never).
func (c *Client) Generation() (int, error) {
	s, err := c.snapshot(doneCtx())
	if err != nil {
		return 0, err
	}
	return s.generation(), nil
}

// configRows is a config as the rows of the config tables (UUIDs empty).
type configRows struct {
	vns         []gatewaydb.VirtualNetwork
	prs         []gatewaydb.PhysicalRouter
	pis         []gatewaydb.PhysicalInterface
	lis         []gatewaydb.LogicalInterface
	vmis        []gatewaydb.VirtualMachineInterface
	sgs         []gatewaydb.SecurityGroup
	sgRules     []gatewaydb.SecurityGroupRule
	nps         []gatewaydb.NetworkPolicy
	npRules     []gatewaydb.NetworkPolicyRule
	tors        []gatewaydb.TorSwitch
	torBindings []gatewaydb.TorBinding
}

// toRows maps a (validated) config to rows.
func toRows(c *model.Config) configRows {
	var r configRows
	for _, vn := range c.VirtualNetworks {
		row := gatewaydb.VirtualNetwork{Name: vn.Name, Vni: int(vn.VNI), Subnets: vn.Subnets, FloodBpdu: vn.FloodBPDU}
		if len(vn.NetworkPolicies) > 0 {
			row.NetworkPolicies = map[int]string{}
			for i, p := range vn.NetworkPolicies {
				row.NetworkPolicies[i] = p
			}
		}
		r.vns = append(r.vns, row)
	}
	for _, pr := range c.PhysicalRouters {
		r.prs = append(r.prs, gatewaydb.PhysicalRouter{Name: pr.Name})
		for _, pi := range pr.PhysicalInterfaces {
			r.pis = append(r.pis, gatewaydb.PhysicalInterface{Router: pr.Name, Name: pi.Name})
			for _, li := range pi.LogicalInterfaces {
				r.lis = append(r.lis, gatewaydb.LogicalInterface{Router: pr.Name, PhysicalInterface: pi.Name,
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
		r.vmis = append(r.vmis, row)
	}
	for _, g := range c.SecurityGroups {
		r.sgs = append(r.sgs, gatewaydb.SecurityGroup{Name: g.Name})
		for i, x := range g.Rules {
			r.sgRules = append(r.sgRules, gatewaydb.SecurityGroupRule{SecurityGroup: g.Name, Position: i,
				Direction: x.Direction, Ethertype: x.Ethertype, Protocol: x.Protocol, Ports: x.Ports,
				RemoteCidr: x.RemoteCIDR, RemoteGroup: x.RemoteGroup})
		}
	}
	for _, p := range c.NetworkPolicies {
		r.nps = append(r.nps, gatewaydb.NetworkPolicy{Name: p.Name})
		for i, x := range p.Rules {
			r.npRules = append(r.npRules, gatewaydb.NetworkPolicyRule{NetworkPolicy: p.Name, Position: i,
				Action: x.Action, Protocol: x.Protocol, Direction: x.Direction,
				SourceNetwork: x.Source.Network, SourceCidr: x.Source.CIDR,
				DestinationNetwork: x.Destination.Network, DestinationCidr: x.Destination.CIDR,
				SourcePorts: x.SourcePorts, DestinationPorts: x.DestinationPorts})
		}
	}
	r.tors, r.torBindings = torRows(c)
	return r
}

// config maps the config tables of a snapshot back to a model.Config in
// canonical order (see Normalize). It copies every slice: the rows share
// them with libovsdb's cache, and Normalize sorts in place. A row whose parent row is missing (a
// physical interface of no router row) still shows, under a parent made up
// with its name, so nothing in the database is invisible to validation.
func (s *snapshot) config() *model.Config {
	c := &model.Config{}
	for _, vn := range s.vns {
		c.VirtualNetworks = append(c.VirtualNetworks, model.VirtualNetwork{Name: vn.Name, VNI: uint32(vn.Vni),
			Subnets: slices.Clone(vn.Subnets), NetworkPolicies: byPosition(vn.NetworkPolicies), FloodBPDU: vn.FloodBpdu})
	}
	prs := map[string]*model.PhysicalRouter{}
	router := func(name string) *model.PhysicalRouter {
		if prs[name] == nil {
			prs[name] = &model.PhysicalRouter{Name: name}
		}
		return prs[name]
	}
	type piKey struct{ router, name string }
	pis := map[piKey]*model.PhysicalInterface{}
	iface := func(r, name string) *model.PhysicalInterface {
		k := piKey{r, name}
		if pis[k] == nil {
			router(r)
			pis[k] = &model.PhysicalInterface{Name: name}
		}
		return pis[k]
	}
	for _, pr := range s.prs {
		router(pr.Name)
	}
	for _, pi := range s.pis {
		iface(pi.Router, pi.Name)
	}
	for _, li := range s.lis {
		pi := iface(li.Router, li.PhysicalInterface)
		pi.LogicalInterfaces = append(pi.LogicalInterfaces, model.LogicalInterface{
			Name: li.Name, VLAN: &li.VLAN, Type: li.Type, VMI: li.Vmi})
	}
	for k, pi := range pis {
		prs[k.router].PhysicalInterfaces = append(prs[k.router].PhysicalInterfaces, *pi)
	}
	for _, pr := range prs {
		c.PhysicalRouters = append(c.PhysicalRouters, *pr)
	}
	for _, v := range s.vmis {
		vmi := model.VirtualMachineInterface{Name: v.Name, Network: v.Network, MAC: v.MAC,
			SecurityGroups: slices.Clone(v.SecurityGroups)}
		if v.PortSecurity != nil {
			on := *v.PortSecurity
			vmi.PortSecurity = &on
		}
		for addr, mode := range v.InstanceIPs {
			vmi.InstanceIPs = append(vmi.InstanceIPs, model.InstanceIP{Address: addr, Mode: mode})
		}
		for _, p := range v.AllowedAddressPairs {
			ip, mac, _ := strings.Cut(p, pairSep)
			vmi.AllowedAddressPairs = append(vmi.AllowedAddressPairs, model.AddressPair{IP: ip, MAC: mac})
		}
		c.VirtualMachineInterfaces = append(c.VirtualMachineInterfaces, vmi)
	}
	sgs := map[string]*model.SecurityGroup{}
	for _, g := range s.sgs {
		sgs[g.Name] = &model.SecurityGroup{Name: g.Name}
	}
	for _, x := range slices.SortedFunc(slices.Values(s.sgRules), func(a, b gatewaydb.SecurityGroupRule) int { return cmp.Compare(a.Position, b.Position) }) {
		if sgs[x.SecurityGroup] == nil {
			sgs[x.SecurityGroup] = &model.SecurityGroup{Name: x.SecurityGroup}
		}
		g := sgs[x.SecurityGroup]
		g.Rules = append(g.Rules, model.SecurityGroupRule{Direction: x.Direction, Ethertype: x.Ethertype,
			Protocol: x.Protocol, Ports: x.Ports, RemoteCIDR: x.RemoteCidr, RemoteGroup: x.RemoteGroup})
	}
	for _, g := range sgs {
		c.SecurityGroups = append(c.SecurityGroups, *g)
	}
	nps := map[string]*model.NetworkPolicy{}
	for _, p := range s.nps {
		nps[p.Name] = &model.NetworkPolicy{Name: p.Name}
	}
	for _, x := range slices.SortedFunc(slices.Values(s.npRules), func(a, b gatewaydb.NetworkPolicyRule) int { return cmp.Compare(a.Position, b.Position) }) {
		if nps[x.NetworkPolicy] == nil {
			nps[x.NetworkPolicy] = &model.NetworkPolicy{Name: x.NetworkPolicy}
		}
		p := nps[x.NetworkPolicy]
		p.Rules = append(p.Rules, model.PolicyRule{Action: x.Action, Protocol: x.Protocol, Direction: x.Direction,
			Source:      model.Endpoint{Network: x.SourceNetwork, CIDR: x.SourceCidr},
			Destination: model.Endpoint{Network: x.DestinationNetwork, CIDR: x.DestinationCidr},
			SourcePorts: x.SourcePorts, DestinationPorts: x.DestinationPorts})
	}
	for _, p := range nps {
		c.NetworkPolicies = append(c.NetworkPolicies, *p)
	}
	c.TorSwitches = s.torSwitches()
	Normalize(c)
	return c
}

// byPosition turns a position → value map into the list it stands for.
func byPosition(m map[int]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// Normalize puts c in the canonical order Config returns, so that two
// configs that mean the same compare equal with reflect.DeepEqual: objects
// sorted by name (physical and logical interfaces within their parent),
// lists whose order means nothing (subnets, instance IPs, a VMI's security
// groups, allowed address pairs) sorted with exact repeats removed, as an
// OVSDB set or map stores them; lists whose order matters (a VN's network
// policies, rules) kept; empty lists nil. It changes c in place.
func Normalize(c *model.Config) {
	byName := func(a, b string) int { return strings.Compare(a, b) }
	slices.SortFunc(c.VirtualNetworks, func(a, b model.VirtualNetwork) int { return byName(a.Name, b.Name) })
	for i := range c.VirtualNetworks {
		vn := &c.VirtualNetworks[i]
		vn.Subnets = set(vn.Subnets)
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
