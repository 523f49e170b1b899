package configstore

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// configView is the config of one consistent read of the config tables:
// every row converted to its model object (kept by UUID with the row
// version it came from, so that the next read converts only the rows that
// changed) and the model.Config assembled from them in canonical order.
//
// The assembly follows the database, not validation: a row whose parent row
// is missing (a physical interface of no router row, a rule of no group
// row) still shows, under a parent made up with its name, so that nothing
// in the database is invisible to validation.
type configView struct {
	generation int
	// cfg is canonical (see Normalize) and shared by every call that finds
	// the view current: handed out only as a copy (cloneConfig). It is
	// assembled from the rows that passed their checks.
	cfg *model.Config
	// refused are the rows out of what the schema allows (configdb's
	// checks), kept until they change; err lists them, nil when there are
	// none: the config must then be refused whole.
	refused configdb.Refusals
	err     error

	root configdb.Conversions[int]

	vns         configdb.Conversions[model.VirtualNetwork]
	prs         configdb.Conversions[string]
	pis         configdb.Conversions[piRow]
	lis         configdb.Conversions[liRow]
	vmis        configdb.Conversions[model.VirtualMachineInterface]
	sgs         configdb.Conversions[string]
	sgRules     configdb.Conversions[sgRuleRow]
	nps         configdb.Conversions[string]
	npRules     configdb.Conversions[npRuleRow]
	tors        configdb.Conversions[model.TorSwitch]
	torBindings configdb.Conversions[torBindingRow]
	lrs         configdb.Conversions[model.LogicalRouter]

	// The big tables in canonical order, reused while no row comes, goes
	// or changes its place: sorting thousands of objects costs more than
	// everything else in a rebuild.
	vnOrder  configdb.Order[model.VirtualNetwork]
	liOrder  configdb.Order[liRow]
	vmiOrder configdb.Order[model.VirtualMachineInterface]
}

type (
	piRow struct{ router, name string }
	liRow struct {
		router, pi string
		li         model.LogicalInterface
	}
	sgRuleRow     = ruleRow[model.SecurityGroupRule]
	npRuleRow     = ruleRow[model.PolicyRule]
	torBindingRow struct {
		sw      string
		binding model.TorBinding
	}
)

// buildConfigView converts the config tables of r and assembles the config.
// It takes prev's conversions over (prev must not be used after), and
// converts only the rows whose version changed.
func buildConfigView(prev *configView, r configdb.ConfigRead) *configView {
	if prev == nil {
		prev = &configView{}
	}
	v := &configView{refused: prev.refused} // its maps are taken over, as the conversions are
	var vns []configdb.RowChange[model.VirtualNetwork]
	var lis []configdb.RowChange[liRow]
	var vmis []configdb.RowChange[model.VirtualMachineInterface]
	v.vns, vns = configdb.UpdateTable(prev.vns, &v.refused, r, vnObject)
	v.prs, _ = configdb.UpdateTable(prev.prs, &v.refused, r, func(r *gatewaydb.PhysicalRouter) string { return r.Name })
	v.pis, _ = configdb.UpdateTable(prev.pis, &v.refused, r, func(r *gatewaydb.PhysicalInterface) piRow { return piRow{r.Router, r.Name} })
	v.lis, lis = configdb.UpdateTable(prev.lis, &v.refused, r, liObject)
	v.vmis, vmis = configdb.UpdateTable(prev.vmis, &v.refused, r, vmiObject)
	v.sgs, _ = configdb.UpdateTable(prev.sgs, &v.refused, r, func(r *gatewaydb.SecurityGroup) string { return r.Name })
	v.sgRules, _ = configdb.UpdateTable(prev.sgRules, &v.refused, r, sgRuleObject)
	v.nps, _ = configdb.UpdateTable(prev.nps, &v.refused, r, func(r *gatewaydb.NetworkPolicy) string { return r.Name })
	v.npRules, _ = configdb.UpdateTable(prev.npRules, &v.refused, r, npRuleObject)
	v.tors, _ = configdb.UpdateTable(prev.tors, &v.refused, r, torObject)
	v.torBindings, _ = configdb.UpdateTable(prev.torBindings, &v.refused, r, torBindingObject)
	v.lrs, _ = configdb.UpdateTable(prev.lrs, &v.refused, r, func(r *gatewaydb.LogicalRouter) model.LogicalRouter {
		return model.LogicalRouter{Name: r.Name, Networks: set(slices.Clone(r.Networks))}
	})
	v.root, _ = configdb.UpdateTable(prev.root, &v.refused, r, func(r *gatewaydb.OVSGW) int { return r.Generation })
	v.generation = r.Generation()
	if errs := v.refused.Errors(); errs != nil {
		v.err = errs
	}
	v.vnOrder = configdb.Reorder(prev.vnOrder, vns, v.vns, func(a, b *model.VirtualNetwork) int { return strings.Compare(a.Name, b.Name) })
	v.liOrder = configdb.Reorder(prev.liOrder, lis, v.lis, func(a, b *liRow) int {
		return cmp.Or(strings.Compare(a.router, b.router), strings.Compare(a.pi, b.pi), strings.Compare(a.li.Name, b.li.Name))
	})
	v.vmiOrder = configdb.Reorder(prev.vmiOrder, vmis, v.vmis, func(a, b *model.VirtualMachineInterface) int { return strings.Compare(a.Name, b.Name) })
	v.cfg = v.assemble()
	return v
}

// The conversions of one row each. Every list is the row's own (cloned
// from the cache's) and in canonical order already.

func vnObject(r *gatewaydb.VirtualNetwork) model.VirtualNetwork {
	// The VNI fits: the row passed the schema's 1..16777215 (configdb's checks).
	return model.VirtualNetwork{Name: r.Name, VNI: uint32(r.Vni), Subnets: subnetObjects(slices.Clone(r.Subnets)),
		NetworkPolicies: byPosition(r.NetworkPolicies), FloodBPDU: r.FloodBpdu}
}

func liObject(r *gatewaydb.LogicalInterface) liRow {
	vlan := r.VLAN
	return liRow{router: r.Router, pi: r.PhysicalInterface,
		li: model.LogicalInterface{Name: r.Name, VLAN: &vlan, Type: r.Type, VMI: r.Vmi}}
}

func vmiObject(r *gatewaydb.VirtualMachineInterface) model.VirtualMachineInterface {
	v := model.VirtualMachineInterface{Name: r.Name, Network: r.Network, MAC: r.MAC,
		SecurityGroups: set(slices.Clone(r.SecurityGroups))}
	if r.PortSecurity != nil {
		on := *r.PortSecurity
		v.PortSecurity = &on
	}
	for addr, mode := range r.InstanceIPs {
		v.InstanceIPs = append(v.InstanceIPs, model.InstanceIP{Address: addr, Mode: mode})
	}
	slices.SortFunc(v.InstanceIPs, func(a, b model.InstanceIP) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Mode, b.Mode))
	})
	v.InstanceIPs = nilIfEmpty(slices.Compact(v.InstanceIPs))
	for _, p := range r.AllowedAddressPairs {
		ip, mac, _ := strings.Cut(p, pairSep)
		v.AllowedAddressPairs = append(v.AllowedAddressPairs, model.AddressPair{IP: ip, MAC: mac})
	}
	slices.SortFunc(v.AllowedAddressPairs, func(a, b model.AddressPair) int {
		return cmp.Or(strings.Compare(a.IP, b.IP), strings.Compare(a.MAC, b.MAC))
	})
	v.AllowedAddressPairs = nilIfEmpty(slices.Compact(v.AllowedAddressPairs))
	return v
}

func sgRuleObject(r *gatewaydb.SecurityGroupRule) sgRuleRow {
	return sgRuleRow{owner: r.SecurityGroup, position: r.Position, rule: model.SecurityGroupRule{
		Direction: r.Direction, Ethertype: r.Ethertype, Protocol: r.Protocol, Ports: r.Ports,
		RemoteCIDR: r.RemoteCidr, RemoteGroup: r.RemoteGroup}}
}

func npRuleObject(r *gatewaydb.NetworkPolicyRule) npRuleRow {
	return npRuleRow{owner: r.NetworkPolicy, position: r.Position, rule: model.PolicyRule{
		Action: r.Action, Protocol: r.Protocol, Direction: r.Direction,
		Source:      model.Endpoint{Network: r.SourceNetwork, CIDR: r.SourceCidr},
		Destination: model.Endpoint{Network: r.DestinationNetwork, CIDR: r.DestinationCidr},
		SourcePorts: r.SourcePorts, DestinationPorts: r.DestinationPorts}}
}

func torObject(r *gatewaydb.TorSwitch) model.TorSwitch {
	t := model.TorSwitch{Name: r.Name, Endpoint: r.Endpoint, ReplicationNode: r.ReplicationNode, ManagedBy: managedByList(r.ManagedBy)}
	if r.SSLPrivateKey != "" || r.SSLCertificate != "" || r.SSLCaCert != "" || r.SSLPeerCommonName != "" {
		t.SSL = &model.TorSSL{PrivateKey: r.SSLPrivateKey, Certificate: r.SSLCertificate, CACert: r.SSLCaCert,
			PeerCommonName: r.SSLPeerCommonName}
	}
	return t
}

func torBindingObject(r *gatewaydb.TorBinding) torBindingRow {
	vlan := r.VLAN
	return torBindingRow{sw: r.Switch, binding: model.TorBinding{Port: r.Port, VLAN: &vlan, Network: r.Network}}
}

// assemble builds the config from the converted rows, every list sorted as
// Normalize sorts it. Objects share their lists with the conversions.
func (v *configView) assemble() *model.Config {
	c := &model.Config{}
	byName := func(a, b string) int { return strings.Compare(a, b) }

	c.VirtualNetworks = nilIfEmpty(v.vnOrder.Values())

	// Routers hold interfaces, interfaces hold logical interfaces: the
	// logical interfaces in order are grouped by interface in order.
	lis := map[piRow][]model.LogicalInterface{}
	routers := map[string][]string{} // router → its interfaces
	addIface := func(k piRow) {
		if _, ok := lis[k]; !ok {
			lis[k] = nil
			routers[k.router] = append(routers[k.router], k.name)
		}
	}
	for _, x := range v.prs {
		routers[x.Val] = routers[x.Val]
	}
	for _, x := range v.pis {
		addIface(x.Val)
	}
	// In order, an interface's logical interfaces come in one run: each
	// run is cut from one array.
	all := make([]model.LogicalInterface, v.liOrder.Len())
	for i := 0; i < len(all); {
		first := v.liOrder.At(i)
		k, j := piRow{first.router, first.pi}, i
		for ; j < len(all) && v.liOrder.At(j).router == k.router && v.liOrder.At(j).pi == k.name; j++ {
			all[j] = v.liOrder.At(j).li
		}
		addIface(k)
		lis[k] = all[i:j:j]
		i = j
	}
	for name, pis := range routers {
		slices.Sort(pis)
		pr := model.PhysicalRouter{Name: name}
		for _, pi := range pis {
			pr.PhysicalInterfaces = append(pr.PhysicalInterfaces, model.PhysicalInterface{Name: pi, LogicalInterfaces: lis[piRow{name, pi}]})
		}
		c.PhysicalRouters = append(c.PhysicalRouters, pr)
	}
	slices.SortFunc(c.PhysicalRouters, func(a, b model.PhysicalRouter) int { return byName(a.Name, b.Name) })

	c.VirtualMachineInterfaces = nilIfEmpty(v.vmiOrder.Values())

	// Groups and policies hold their rules in position order.
	for name, rules := range rulesByOwner(v.sgs, v.sgRules) {
		c.SecurityGroups = append(c.SecurityGroups, model.SecurityGroup{Name: name, Rules: rules})
	}
	slices.SortFunc(c.SecurityGroups, func(a, b model.SecurityGroup) int { return byName(a.Name, b.Name) })
	for name, rules := range rulesByOwner(v.nps, v.npRules) {
		c.NetworkPolicies = append(c.NetworkPolicies, model.NetworkPolicy{Name: name, Rules: rules})
	}
	slices.SortFunc(c.NetworkPolicies, func(a, b model.NetworkPolicy) int { return byName(a.Name, b.Name) })

	// Switches hold their bindings.
	tors := map[string]*model.TorSwitch{}
	sw := func(name string) *model.TorSwitch {
		if tors[name] == nil {
			tors[name] = &model.TorSwitch{Name: name}
		}
		return tors[name]
	}
	for _, x := range v.tors {
		t := sw(x.Val.Name)
		bindings := t.Bindings
		*t = x.Val
		t.Bindings = bindings
	}
	for _, x := range v.torBindings {
		t := sw(x.Val.sw)
		t.Bindings = append(t.Bindings, x.Val.binding)
	}
	for _, t := range tors {
		c.TorSwitches = append(c.TorSwitches, *t)
	}
	normalizeTors(c) // sorts switches and their bindings, which are all built here
	for _, x := range v.lrs {
		c.LogicalRouters = append(c.LogicalRouters, x.Val)
	}
	slices.SortFunc(c.LogicalRouters, func(a, b model.LogicalRouter) int { return strings.Compare(a.Name, b.Name) })
	return c
}

// cloneConfig copies c deeply: the copy shares no list or pointer with it.
// TestCloneConfigSharesNothing keeps it complete when the model grows. The
// lists and pointers of the many logical interfaces and VMIs are carved out
// of a few large arrays, each capped at its length, so that an append to
// one reallocates it instead of overwriting its neighbour.
func cloneConfig(c *model.Config) *model.Config {
	out := &model.Config{}
	out.VirtualNetworks = cloneEach(c.VirtualNetworks, func(vn *model.VirtualNetwork) {
		vn.Subnets = cloneEach(vn.Subnets, func(s *model.Subnet) { *s = s.Clone() })
		vn.NetworkPolicies = slices.Clone(vn.NetworkPolicies)
	})
	var vlans arena[int]
	out.PhysicalRouters = cloneEach(c.PhysicalRouters, func(pr *model.PhysicalRouter) {
		pr.PhysicalInterfaces = cloneEach(pr.PhysicalInterfaces, func(pi *model.PhysicalInterface) {
			pi.LogicalInterfaces = cloneEach(pi.LogicalInterfaces, func(li *model.LogicalInterface) {
				li.VLAN = vlans.ptr(li.VLAN)
			})
		})
	})
	var ips arena[model.InstanceIP]
	var groups arena[string]
	var pairs arena[model.AddressPair]
	var flags arena[bool]
	out.VirtualMachineInterfaces = cloneEach(c.VirtualMachineInterfaces, func(v *model.VirtualMachineInterface) {
		v.InstanceIPs = ips.clone(v.InstanceIPs)
		v.SecurityGroups = groups.clone(v.SecurityGroups)
		v.PortSecurity = flags.ptr(v.PortSecurity)
		v.AllowedAddressPairs = pairs.clone(v.AllowedAddressPairs)
	})
	out.SecurityGroups = cloneEach(c.SecurityGroups, func(g *model.SecurityGroup) { g.Rules = slices.Clone(g.Rules) })
	out.NetworkPolicies = cloneEach(c.NetworkPolicies, func(p *model.NetworkPolicy) { p.Rules = slices.Clone(p.Rules) })
	out.LogicalRouters = cloneEach(c.LogicalRouters, func(r *model.LogicalRouter) { r.Networks = slices.Clone(r.Networks) })
	out.TorSwitches = cloneEach(c.TorSwitches, func(t *model.TorSwitch) {
		t.SSL = clonePtr(t.SSL)
		t.ManagedBy = slices.Clone(t.ManagedBy)
		t.Bindings = cloneEach(t.Bindings, func(b *model.TorBinding) { b.VLAN = clonePtr(b.VLAN) })
	})
	return out
}

// arenaChunk is how many elements an arena allocates at once: a few KB, so
// that a 4K config's thousands of small lists cost a few allocations.
const arenaChunk = 1024

// arena hands out copies of small lists and values from shared chunks.
type arena[T any] struct{ buf []T }

// clone copies s into the arena; nil stays nil, and the copy's capacity is
// its length.
func (a *arena[T]) clone(s []T) []T {
	if s == nil {
		return nil
	}
	if cap(a.buf)-len(a.buf) < len(s) {
		a.buf = make([]T, 0, max(arenaChunk, len(s)))
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// ptr copies *p into the arena; nil stays nil.
func (a *arena[T]) ptr(p *T) *T {
	if p == nil {
		return nil
	}
	return &a.clone([]T{*p})[0]
}

// cloneEach copies s and gives each element to deep, which replaces what
// the element refers to by copies.
func cloneEach[T any](s []T, deep func(*T)) []T {
	s = slices.Clone(s)
	for i := range s {
		deep(&s[i])
	}
	return s
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ruleRow is a rule of a security group or network policy, as its row holds it: the owner's
// name and the rule's place among the owner's.
type ruleRow[R any] struct {
	owner    string
	position int
	rule     R
}

// rulesByOwner gives every owner (a group or policy, by name) its rules in position order; an
// owner without rules gets none.
func rulesByOwner[R any](owners configdb.Conversions[string], rows configdb.Conversions[ruleRow[R]]) map[string][]R {
	byOwner := make(map[string][]ruleRow[R], len(owners))
	for _, x := range owners {
		byOwner[x.Val] = byOwner[x.Val]
	}
	for _, x := range rows {
		byOwner[x.Val.owner] = append(byOwner[x.Val.owner], x.Val)
	}
	out := make(map[string][]R, len(byOwner))
	for name, list := range byOwner {
		slices.SortFunc(list, func(a, b ruleRow[R]) int { return cmp.Compare(a.position, b.position) })
		var rules []R
		for _, r := range list {
			rules = append(rules, r.rule)
		}
		out[name] = rules
	}
	return out
}
