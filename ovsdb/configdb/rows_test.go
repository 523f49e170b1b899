package configdb

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// testRows is a config as rows, one in every config table: 9 objects (a
// VN, a router with an interface and a logical interface, a VMI, a group, a
// policy, a switch, a logical router), a rule of each of the group and the policy, and a
// binding of the switch. vni is the VN's, to make another config.
func testRows(vni int) *ConfigRows {
	on := true
	return &ConfigRows{
		VirtualNetworks:    []gatewaydb.VirtualNetwork{{Name: "red", Vni: vni, Subnets: []string{"10.1.0.0/24"}, NetworkPolicies: map[int]string{0: "no-ssh"}}},
		PhysicalRouters:    []gatewaydb.PhysicalRouter{{Name: "gw1"}},
		PhysicalInterfaces: []gatewaydb.PhysicalInterface{{Router: "gw1", Name: "eth1"}},
		LogicalInterfaces:  []gatewaydb.LogicalInterface{{Router: "gw1", PhysicalInterface: "eth1", Name: "eth1-100", VLAN: 100, Vmi: "bms1"}},
		VirtualMachineInterfaces: []gatewaydb.VirtualMachineInterface{{Name: "bms1", Network: "red", MAC: "02:00:00:00:01:0a",
			InstanceIPs: map[string]string{"10.1.0.10": "active-backup"}, SecurityGroups: []string{"web"}, PortSecurity: &on,
			AllowedAddressPairs: []string{"10.1.0.200/32 02:00:00:00:09:09"}}},
		SecurityGroups:     []gatewaydb.SecurityGroup{{Name: "web"}},
		SecurityGroupRules: []gatewaydb.SecurityGroupRule{{SecurityGroup: "web", Position: 0, Direction: "ingress", Protocol: "tcp", Ports: "80"}},
		NetworkPolicies:    []gatewaydb.NetworkPolicy{{Name: "no-ssh"}},
		NetworkPolicyRules: []gatewaydb.NetworkPolicyRule{{NetworkPolicy: "no-ssh", Position: 0, Action: "deny", Protocol: "tcp", DestinationPorts: "22"}},
		TorSwitches:        []gatewaydb.TorSwitch{{Name: "tor1", Endpoint: "tcp:192.0.2.10:6640", ReplicationNode: "gw1"}},
		TorBindings:        []gatewaydb.TorBinding{{Switch: "tor1", Port: "Ethernet1/1", VLAN: 0, Network: "red"}},
		LogicalRouters:     []gatewaydb.LogicalRouter{{Name: "r1", Networks: []string{"red"}}},
	}
}

func applyRows(t testing.TB, c *Client, want *ConfigRows) *Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	sum, err := c.ApplyRows(ctx, want, false)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// connectTo connects a client to endpoints, closed when the test ends.
func connectTo(t testing.TB, endpoints []string, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), configdbtest.ServerReady)
	defer cancel()
	c, err := Connect(ctx, endpoints, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newStandalone(t testing.TB) *configdbtest.Server {
	return configdbtest.NewStandalone(t, schemaFile)
}

// The row-level incremental read: DeriveFromConfig keeps a result while no
// config row changed (a state write included), and UpdateTable then
// converts only the rows whose version changed; Reorder keeps the order.
func TestDeriveFromConfigConvertsChangedRows(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	want := testRows(5002)
	want.VirtualMachineInterfaces = append(want.VirtualMachineInterfaces,
		gatewaydb.VirtualMachineInterface{Name: "bms2", Network: "red", MAC: "02:00:00:00:01:0b"})
	applyRows(t, c, want)

	type view struct {
		gen     int
		vmis    Conversions[string]
		refused Refusals
		order   Order[string]
		changes int // rows converted by the last build
	}
	var d Derived[*view]
	builds := 0
	read := func() *view {
		t.Helper()
		v, err := DeriveFromConfig(c, &d, func(prev *view, r ConfigRead) *view {
			builds++
			if prev == nil {
				prev = &view{}
			}
			converted := 0
			vmis, changes := UpdateTable(prev.vmis, &prev.refused, r, func(row *gatewaydb.VirtualMachineInterface) string {
				converted++
				return row.Name + " " + row.MAC
			})
			return &view{gen: r.Generation(), vmis: vmis, refused: prev.refused, changes: converted,
				order: Reorder(prev.order, changes, vmis, func(a, b *string) int { return strings.Compare(*a, *b) })}
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := read()
	if first.gen != 1 || first.changes != 2 || !reflect.DeepEqual(first.order.Values(), []string{"bms1 02:00:00:00:01:0a", "bms2 02:00:00:00:01:0b"}) {
		t.Fatalf("first read: generation %d, %d rows converted, order %v", first.gen, first.changes, first.order.Values())
	}
	if err := c.PublishNode(context.Background(), NodeState{Hostname: "gw1"}); err != nil {
		t.Fatal(err)
	}
	if v := read(); v != first || builds != 1 {
		t.Errorf("a read after a state write rebuilt (%d builds)", builds)
	}
	want = testRows(5002)
	want.VirtualMachineInterfaces = append(want.VirtualMachineInterfaces,
		gatewaydb.VirtualMachineInterface{Name: "bms2", Network: "red", MAC: "02:00:00:00:01:0c"})
	applyRows(t, c, want)
	second := read()
	if second.gen != 2 || second.changes != 1 || builds != 2 {
		t.Errorf("after one VMI changed: generation %d, %d rows converted, %d builds; want 2, 1, 2", second.gen, second.changes, builds)
	}
	if got := second.order.Values(); !reflect.DeepEqual(got, []string{"bms1 02:00:00:00:01:0a", "bms2 02:00:00:00:01:0c"}) || second.order.Len() != 2 || *second.order.At(1) != got[1] {
		t.Errorf("order after the change %v", got)
	}
}
