package configstore

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// The oracle: the full read and conversion Config did before it became
// incremental, written apart from it. It reads every config table through
// a libovsdb client of its own (cloned rows) from the member the client is
// on, and converts every row; tests compare the incremental Config with it.

// oracleReadAttempts bounds the oracle's re-reads while its cache moves.
const oracleReadAttempts = 20

// snapshot is the oracle's read of the config tables, each sorted by UUID.
type snapshot struct {
	root        *gatewaydb.OVSGW
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
	lrs         []gatewaydb.LogicalRouter
}

// oracleConfig reads the config c's cache has (its generation) from the
// member c is on, the old way, and converts all of it.
func oracleConfig(t testing.TB, c *testClient) *model.Config {
	t.Helper()
	gen, err := c.Generation()
	if err != nil {
		t.Fatal(err)
	}
	dbModel, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	ovs, err := client.NewOVSDBClient(dbModel, client.WithEndpoint(c.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := ovs.Connect(ctx); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	defer ovs.Close()
	if _, err := ovs.MonitorAll(ctx); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	prev := oracleRead(t, ovs)
	for range oracleReadAttempts {
		next := oracleRead(t, ovs)
		if reflect.DeepEqual(prev, next) {
			if have := next.generation(); have != gen {
				t.Fatalf("oracle: the server has generation %d, the client %d", have, gen)
			}
			return next.config()
		}
		prev = next
	}
	t.Fatalf("oracle: the cache kept changing over %d reads", oracleReadAttempts)
	return nil
}

func oracleRead(t testing.TB, ovs client.Client) *snapshot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an ended context: List serves the cache as it is
	var s snapshot
	var roots []gatewaydb.OVSGW
	for _, err := range []error{
		oracleList(ctx, ovs, &roots),
		oracleList(ctx, ovs, &s.vns),
		oracleList(ctx, ovs, &s.prs),
		oracleList(ctx, ovs, &s.pis),
		oracleList(ctx, ovs, &s.lis),
		oracleList(ctx, ovs, &s.vmis),
		oracleList(ctx, ovs, &s.sgs),
		oracleList(ctx, ovs, &s.sgRules),
		oracleList(ctx, ovs, &s.nps),
		oracleList(ctx, ovs, &s.npRules),
		oracleList(ctx, ovs, &s.tors),
		oracleList(ctx, ovs, &s.torBindings),
		oracleList(ctx, ovs, &s.lrs),
	} {
		if err != nil {
			t.Fatalf("oracle read: %v", err)
		}
	}
	if len(roots) > 0 {
		s.root = &roots[0]
	}
	return &s
}

// generation is the config generation of the read (0: never applied).
func (s *snapshot) generation() int {
	if s.root == nil {
		return 0
	}
	return s.root.Generation
}

// uuidOf reads the UUID field every generated model has.
func uuidOf(row any) string {
	return reflect.ValueOf(row).Elem().FieldByName("UUID").String()
}

func oracleList[T any](ctx context.Context, ovs client.Client, out *[]T) error {
	if err := ovs.List(ctx, out); err != nil {
		return fmt.Errorf("list %T: %w", out, err)
	}
	slices.SortFunc(*out, func(a, b T) int { return strings.Compare(uuidOf(&a), uuidOf(&b)) })
	return nil
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
			Subnets: subnetObjects(vn.Subnets), NetworkPolicies: byPosition(vn.NetworkPolicies), FloodBPDU: vn.FloodBpdu})
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
	for _, r := range s.lrs {
		c.LogicalRouters = append(c.LogicalRouters, model.LogicalRouter{Name: r.Name, Networks: r.Networks})
	}
	Normalize(c)
	return c
}

// torSwitches maps the switch rows of a snapshot back to the model. A binding whose switch row
// is missing still shows, under a switch made up with its name, so nothing in the database is
// invisible to validation.
func (s *snapshot) torSwitches() []model.TorSwitch {
	byName := map[string]*model.TorSwitch{}
	sw := func(name string) *model.TorSwitch {
		if byName[name] == nil {
			byName[name] = &model.TorSwitch{Name: name}
		}
		return byName[name]
	}
	for _, r := range s.tors {
		t := sw(r.Name)
		t.Endpoint, t.ReplicationNode, t.ManagedBy = r.Endpoint, r.ReplicationNode, managedByList(r.ManagedBy)
		if r.SSLPrivateKey != "" || r.SSLCertificate != "" || r.SSLCaCert != "" || r.SSLPeerCommonName != "" {
			t.SSL = &model.TorSSL{PrivateKey: r.SSLPrivateKey, Certificate: r.SSLCertificate, CACert: r.SSLCaCert,
				PeerCommonName: r.SSLPeerCommonName}
		}
	}
	for _, r := range s.torBindings {
		vlan := r.VLAN
		t := sw(r.Switch)
		t.Bindings = append(t.Bindings, model.TorBinding{Port: r.Port, VLAN: &vlan, Network: r.Network})
	}
	var out []model.TorSwitch
	for _, t := range byName {
		out = append(out, *t)
	}
	return out
}
