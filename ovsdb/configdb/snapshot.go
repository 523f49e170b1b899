package configdb

import (
	"reflect"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// snapshot is one consistent read of some tables of the cache (see read),
// each table as values sorted by UUID; the tables not read are nil. The
// rows share their slices and maps with the cache: read-only.
type snapshot struct {
	root     *gatewaydb.OVSGW // nil before the first ApplyRows
	vns      []gatewaydb.VirtualNetwork
	prs      []gatewaydb.PhysicalRouter
	pis      []gatewaydb.PhysicalInterface
	lis      []gatewaydb.LogicalInterface
	vmis     []gatewaydb.VirtualMachineInterface
	sgs      []gatewaydb.SecurityGroup
	sgRules  []gatewaydb.SecurityGroupRule
	nps      []gatewaydb.NetworkPolicy
	npRules  []gatewaydb.NetworkPolicyRule
	nodes    []gatewaydb.Node
	bindings []gatewaydb.Binding
	// ToR switches: config (tors, torBindings) and what managing agents publish.
	tors        []gatewaydb.TorSwitch
	torBindings []gatewaydb.TorBinding
	torStates   []gatewaydb.TorState
	torMACs     []gatewaydb.TorMAC
	lrs         []gatewaydb.LogicalRouter
}

// generation is the config generation the snapshot shows (0: never applied).
func (s *snapshot) generation() int {
	if s.root == nil {
		return 0
	}
	return s.root.Generation
}

// snapshot reads tables consistently from the cache. While the client moves
// to another member it reads the last state of the session that ended.
func (c *Client) snapshot(tables ...string) (*snapshot, error) {
	r, err := c.conn().read(tables)
	if err != nil {
		return nil, err
	}
	return newSnapshot(r), nil
}

func newSnapshot(r map[string]rows) *snapshot {
	s := &snapshot{
		vns:         values[gatewaydb.VirtualNetwork](r[gatewaydb.VirtualNetworkTable]),
		prs:         values[gatewaydb.PhysicalRouter](r[gatewaydb.PhysicalRouterTable]),
		pis:         values[gatewaydb.PhysicalInterface](r[gatewaydb.PhysicalInterfaceTable]),
		lis:         values[gatewaydb.LogicalInterface](r[gatewaydb.LogicalInterfaceTable]),
		vmis:        values[gatewaydb.VirtualMachineInterface](r[gatewaydb.VirtualMachineInterfaceTable]),
		sgs:         values[gatewaydb.SecurityGroup](r[gatewaydb.SecurityGroupTable]),
		sgRules:     values[gatewaydb.SecurityGroupRule](r[gatewaydb.SecurityGroupRuleTable]),
		nps:         values[gatewaydb.NetworkPolicy](r[gatewaydb.NetworkPolicyTable]),
		npRules:     values[gatewaydb.NetworkPolicyRule](r[gatewaydb.NetworkPolicyRuleTable]),
		nodes:       values[gatewaydb.Node](r[gatewaydb.NodeTable]),
		bindings:    values[gatewaydb.Binding](r[gatewaydb.BindingTable]),
		tors:        values[gatewaydb.TorSwitch](r[gatewaydb.TorSwitchTable]),
		torBindings: values[gatewaydb.TorBinding](r[gatewaydb.TorBindingTable]),
		torStates:   values[gatewaydb.TorState](r[gatewaydb.TorStateTable]),
		torMACs:     values[gatewaydb.TorMAC](r[gatewaydb.TorMACTable]),
		lrs:         values[gatewaydb.LogicalRouter](r[gatewaydb.LogicalRouterTable]),
	}
	if roots := values[gatewaydb.OVSGW](r[gatewaydb.OVSGWTable]); len(roots) > 0 { // the schema allows at most one row
		s.root = &roots[0]
	}
	return s
}

// uuidOf reads the UUID field every generated model has.
func uuidOf(row any) string {
	return reflect.ValueOf(row).Elem().FieldByName("UUID").String()
}
