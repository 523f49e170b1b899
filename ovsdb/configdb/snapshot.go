package configdb

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// snapshot is one consistent read of every table of the cache, each table
// sorted by UUID.
type snapshot struct {
	root     *gatewaydb.OVSGW // nil before the first Apply
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
}

// generation is the config generation the snapshot shows (0: never applied).
func (s *snapshot) generation() int {
	if s.root == nil {
		return 0
	}
	return s.root.Generation
}

// snapshot reads the cache until two reads in a row agree. libovsdb applies
// one transaction's update under a lock that readers take per table only,
// so a read of several tables can see half of another writer's commit
// (a logical interface without the VMI it names); a read that equals the
// next one cannot, because the next read's first table waits for that
// update to finish. While the client reconnects libovsdb serves the last
// complete cache once ctx ends; it never shows a half-built one.
func (c *Client) snapshot(ctx context.Context) (*snapshot, error) {
	prev, err := c.readOnce(ctx)
	if err != nil {
		return nil, err
	}
	for range stableReadAttempts {
		next, err := c.readOnce(ctx)
		if err != nil {
			return nil, err
		}
		if reflect.DeepEqual(prev, next) {
			return next, nil
		}
		prev = next
	}
	return nil, fmt.Errorf("read %s from cache: still changing after %d reads", DatabaseName, stableReadAttempts)
}

func (c *Client) readOnce(ctx context.Context) (*snapshot, error) {
	var s snapshot
	var roots []gatewaydb.OVSGW
	ovs := c.conn()
	err := firstErr(
		list(ctx, ovs, gatewaydb.OVSGWTable, &roots),
		list(ctx, ovs, gatewaydb.VirtualNetworkTable, &s.vns),
		list(ctx, ovs, gatewaydb.PhysicalRouterTable, &s.prs),
		list(ctx, ovs, gatewaydb.PhysicalInterfaceTable, &s.pis),
		list(ctx, ovs, gatewaydb.LogicalInterfaceTable, &s.lis),
		list(ctx, ovs, gatewaydb.VirtualMachineInterfaceTable, &s.vmis),
		list(ctx, ovs, gatewaydb.SecurityGroupTable, &s.sgs),
		list(ctx, ovs, gatewaydb.SecurityGroupRuleTable, &s.sgRules),
		list(ctx, ovs, gatewaydb.NetworkPolicyTable, &s.nps),
		list(ctx, ovs, gatewaydb.NetworkPolicyRuleTable, &s.npRules),
		list(ctx, ovs, gatewaydb.NodeTable, &s.nodes),
		list(ctx, ovs, gatewaydb.BindingTable, &s.bindings),
		list(ctx, ovs, gatewaydb.TorSwitchTable, &s.tors),
		list(ctx, ovs, gatewaydb.TorBindingTable, &s.torBindings),
		list(ctx, ovs, gatewaydb.TorStateTable, &s.torStates),
		list(ctx, ovs, gatewaydb.TorMACTable, &s.torMACs),
	)
	if err != nil {
		return nil, err
	}
	if len(roots) > 0 { // the schema allows at most one row
		s.root = &roots[0]
	}
	return &s, nil
}

// list reads one table into out, sorted by UUID so reads compare equal.
func list[T any](ctx context.Context, ovs client.Client, table string, out *[]T) error {
	if err := ovs.List(ctx, out); err != nil {
		return fmt.Errorf("read %s table from cache: %w", table, err)
	}
	slices.SortFunc(*out, func(a, b T) int { return strings.Compare(uuidOf(&a), uuidOf(&b)) })
	return nil
}

// uuidOf reads the UUID field every generated model has.
func uuidOf(row any) string {
	return reflect.ValueOf(row).Elem().FieldByName("UUID").String()
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// doneCtx is an ended context: libovsdb's List then reads without waiting
// for a reconnect to finish, serving the last complete cache.
func doneCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
