package configstore

import (
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"

	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// schemaFile is our schema; tests load the file, not the copy compiled into
// the generated models, so a schema edited without `make generate` fails.
const schemaFile = "../../schemas/gateway.ovsschema"

// testWait bounds every wait for an asynchronous effect in these tests.
const testWait = 5 * time.Second

// TestMain quiets info logs unless -v asks for detail.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		logrus.SetLevel(logrus.WarnLevel)
	}
	os.Exit(m.Run())
}

// fullYAML uses every field of the YAML contract; list orders are not
// canonical on purpose, and the VN's policies and the rules are in an order
// that sorting would change.
const fullYAML = `
virtualNetworks:
  - name: red
    vni: 5002
    networkPolicies: [no-ssh, allow-all]
  - name: blue
    vni: 5001
    subnets: ["10.1.0.0/24", "10.0.9.0/24"]
  - {name: bpdu, vni: 9000, floodBPDU: true}
physicalRouters:
  - name: gw2
    physicalInterfaces:
      - name: eth1
        logicalInterfaces:
          - {name: eth1-100, vlan: 100, vmi: bms3}
  - name: gw1
    physicalInterfaces:
      - name: eth2
        logicalInterfaces: []
      - name: eth1
        logicalInterfaces:
          - {name: eth1-100, vlan: 100, type: l2, vmi: bms1}
          - {name: eth1-0, vlan: 0, vmi: bms2}
  - name: gw3
    physicalInterfaces: []
virtualMachineInterfaces:
  - name: vm1
    network: blue
    mac: "02:00:00:00:02:01"
    instanceIPs:
      - {address: 10.1.0.21}
      - {address: 10.1.0.20, mode: active-backup}
    securityGroups: [web, db]
    portSecurity: true
    allowedAddressPairs:
      - {ip: 10.1.0.200/32, mac: "02:00:00:00:09:09"}
      - {ip: 10.1.0.128/25}
  - name: bms1
    network: blue
    mac: "02:00:00:00:01:0a"
    instanceIPs: [{address: 10.1.0.10, mode: active-backup}]
  - name: bms3
    network: blue
    mac: "02:00:00:00:01:0c"
  - name: bms2
    network: red
    mac: "02:00:00:00:01:0b"
    instanceIPs: [{address: 192.168.5.5}]
    portSecurity: false
securityGroups:
  - name: web
    rules:
      - {direction: ingress, protocol: tcp, ports: "80-81", remoteCIDR: 0.0.0.0/0}
      - {direction: ingress, protocol: icmp, remoteGroup: web}
      - {direction: ingress, ethertype: IPv6, protocol: icmpv6, remoteCIDR: "::/0"}
      - {direction: egress}
  - name: db
networkPolicies:
  - name: no-ssh
    rules:
      - action: deny
        protocol: tcp
        source: {network: blue}
        destination: {cidr: 10.1.0.0/24}
        sourcePorts: "1024-65535"
        destinationPorts: "22"
        direction: "<>"
      - {action: pass, direction: ">"}
  - name: allow-all
    rules:
      - {action: pass, protocol: udp, source: {cidr: 192.168.0.0/16}, destination: {network: red}}
      - {action: pass}
`

// memDB is libovsdb's in-memory server with our schema (configdbtest.MemDB).
type memDB struct{ *configdbtest.MemDB }

func newMemDB(t *testing.T) *memDB { return &memDB{configdbtest.NewMemDB(t, schemaFile)} }

func newMemDBSchema(t *testing.T, schema libovsdb.DatabaseSchema) *memDB {
	return &memDB{configdbtest.NewMemDBSchema(t, schema)}
}

func (m *memDB) connect() *testClient {
	m.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	c, err := configdb.Connect(ctx, []string{m.Endpoint})
	if err != nil {
		m.T.Fatal(err)
	}
	m.T.Cleanup(c.Close)
	return newTestClient(c)
}

// rows reads every row of every table on the server side.
func (m *memDB) rows() map[string]any { return m.Rows() }

// changedRows lists the rows added, removed or changed between two rows() reads.
func changedRows(before, after map[string]any) []string {
	return configdbtest.ChangedRows(before, after)
}

func parse(t *testing.T, yaml string) *model.Config {
	t.Helper()
	c, err := model.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func apply(t *testing.T, c *testClient, cfg *model.Config) *configdb.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	sum, err := c.Apply(ctx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	memdb.WaitUntil(t, testWait, what, cond)
}

func mustConfig(t *testing.T, c *testClient) *model.Config {
	t.Helper()
	cfg, err := c.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func sameConfig(t *testing.T, got, want *model.Config) {
	t.Helper()
	Normalize(want)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("config from the DB differs:\ngot  %s\nwant %s", g, w)
	}
}

// YAML → DB → model equals YAML → model, for every field, through the
// writing client's cache and through a fresh client's.
func TestRoundTrip(t *testing.T) {
	two, err := os.ReadFile("../../gateway/pipeline/testdata/two-vns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, yaml string }{{"every field", fullYAML}, {"two-vns", string(two)}} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemDB(t)
			c := m.connect()
			if err := parse(t, tc.yaml).Validate(); err != nil {
				t.Fatalf("test config invalid: %v", err)
			}
			apply(t, c, parse(t, tc.yaml))
			sameConfig(t, mustConfig(t, c), parse(t, tc.yaml))
			sameConfig(t, mustConfig(t, m.connect()), parse(t, tc.yaml))
			if err := mustConfig(t, c).Validate(); err != nil {
				t.Errorf("config read back fails validation: %v", err)
			}
		})
	}
}

// The same config again, even with its lists in another order, writes nothing.
func TestApplyTwiceWritesNothing(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	first := apply(t, c, parse(t, fullYAML))
	if first.Generation != 1 || len(first.Added) == 0 {
		t.Fatalf("first apply: %+v", first)
	}
	before := m.rows()
	again := apply(t, c, parse(t, fullYAML))
	shuffled := parse(t, fullYAML)
	vm1 := &shuffled.VirtualMachineInterfaces[0]
	vm1.SecurityGroups[0], vm1.SecurityGroups[1] = vm1.SecurityGroups[1], vm1.SecurityGroups[0]
	shuffled.VirtualNetworks[1].Subnets[0], shuffled.VirtualNetworks[1].Subnets[1] = shuffled.VirtualNetworks[1].Subnets[1], shuffled.VirtualNetworks[1].Subnets[0]
	reordered := apply(t, c, shuffled)
	for _, s := range []*configdb.Summary{again, reordered} {
		if !s.Empty() || s.Generation != 1 {
			t.Errorf("re-apply summary: %s (generation %d), want no change at generation 1", s, s.Generation)
		}
	}
	if g, err := c.Generation(); err != nil || g != 1 {
		t.Errorf("re-apply: generation %d (%v), want 1: something was committed", g, err)
	}
	if ch := changedRows(before, m.rows()); len(ch) != 0 {
		t.Errorf("re-apply changed rows %v", ch)
	}
}

// Changing one field of one VMI updates that one row (and the generation),
// and the Summary says so.
func TestChangeOneVMI(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	apply(t, c, parse(t, fullYAML))
	before := m.rows()
	sum := apply(t, c, parse(t, strings.Replace(fullYAML, "02:00:00:00:01:0a", "02:00:00:00:01:aa", 1)))
	want := []configdb.Change{{Kind: configdb.KindVirtualMachineInterface, Name: "bms1", Fields: []string{"mac"}}}
	if !reflect.DeepEqual(sum.Changed, want) || len(sum.Added)+len(sum.Removed) != 0 || sum.Generation != 2 {
		t.Errorf("summary:\n%s(generation %d), want only bms1's mac changed, generation 2", sum, sum.Generation)
	}
	ch := changedRows(before, m.rows())
	if len(ch) != 2 {
		t.Errorf("changed rows %v, want bms1's and the root's", ch)
	}
	for _, k := range ch {
		table := strings.Fields(k)[0]
		if table != gatewaydb.VirtualMachineInterfaceTable && table != gatewaydb.OVSGWTable {
			t.Errorf("row %s changed", k)
		}
	}
	if !strings.Contains(sum.String(), "change  virtual-machine-interface bms1: mac\n0 removed, 0 added, 1 changed") {
		t.Errorf("summary text:\n%s", sum)
	}
}

// Rules are part of their group or policy: changing one rule changes the
// group; removing a policy removes its rules; moving a logical interface to
// another NIC changes it (identity is router + name).
func TestSummaryOfNestedObjects(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	apply(t, c, parse(t, fullYAML))
	y := strings.Replace(fullYAML, `ports: "80-81"`, `ports: "80-82"`, 1)
	y = strings.Replace(y, "    networkPolicies: [no-ssh, allow-all]\n", "    networkPolicies: [no-ssh]\n", 1)
	y = y[:strings.Index(y, "  - name: allow-all\n")]
	y = strings.Replace(y, "        logicalInterfaces: []\n      - name: eth1\n        logicalInterfaces:\n          - {name: eth1-100, vlan: 100, type: l2, vmi: bms1}\n",
		"        logicalInterfaces:\n          - {name: eth1-100, vlan: 100, type: l2, vmi: bms1}\n      - name: eth1\n        logicalInterfaces:\n", 1)
	sum := apply(t, c, parse(t, y))
	want := &configdb.Summary{
		Removed: []configdb.Change{{Kind: configdb.KindNetworkPolicy, Name: "allow-all"}},
		Changed: []configdb.Change{
			{Kind: configdb.KindVirtualNetwork, Name: "red", Fields: []string{"network_policies"}},
			{Kind: configdb.KindLogicalInterface, Name: "gw1/eth1-100", Fields: []string{"physical_interface"}},
			{Kind: configdb.KindSecurityGroup, Name: "web", Fields: []string{"rules"}},
		},
		Generation: 2,
	}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("summary:\n%swant:\n%s", sum, want)
	}
	sameConfig(t, mustConfig(t, c), parse(t, y))
	for _, r := range m.rows() {
		if rule, ok := r.(*gatewaydb.NetworkPolicyRule); ok && rule.NetworkPolicy == "allow-all" {
			t.Errorf("rule of the removed policy left behind: %+v", rule)
		}
	}
}

// A refused config returns model.Validate's error, text and type, and
// writes nothing.
func TestInvalidConfigRefused(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	apply(t, c, parse(t, fullYAML))
	before := m.rows()
	bad := strings.Replace(fullYAML, "vlan: 0", "vlan: 5000", 1)
	bad = strings.Replace(bad, "02:00:00:00:01:0b", "03:00:00:00:01:0b", 1)
	_, err := c.Apply(context.Background(), parse(t, bad), false)
	want := parse(t, bad).Validate()
	var errs model.Errors
	if err == nil || !errors.As(err, &errs) || len(errs) != 2 || err.Error() != want.Error() {
		t.Fatalf("Apply error:\n%v\nwant model.Validate's:\n%v", err, want)
	}
	if _, err := c.Apply(context.Background(), parse(t, bad), true); err == nil || err.Error() != want.Error() {
		t.Errorf("dry run of a refused config: %v", err)
	}
	if ch := changedRows(before, m.rows()); len(ch) != 0 {
		t.Errorf("refused config changed rows %v", ch)
	}
}

// A dry run reports what Apply would do and writes nothing.
func TestDryRun(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	sum, err := c.Apply(context.Background(), parse(t, fullYAML), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Added) != 20 || sum.Generation != 0 {
		t.Errorf("dry-run summary:\n%s(generation %d), want 20 objects added at generation 0", sum, sum.Generation)
	}
	if rows := m.rows(); len(rows) != 0 {
		t.Errorf("dry run wrote %d rows", len(rows))
	}
}

// Changed fires after another writer's commit, and the cache then shows it.
func TestChangedFollowsOtherWriter(t *testing.T) {
	m := newMemDB(t)
	reader, writer := m.connect(), m.connect()
	select {
	case <-reader.Changed():
	default:
	}
	apply(t, writer, parse(t, fullYAML))
	select {
	case <-reader.Changed():
	case <-time.After(testWait):
		t.Fatal("Changed did not fire")
	}
	waitUntil(t, "reader's cache has the config", func() bool {
		cfg, err := reader.Config()
		return err == nil && len(cfg.VirtualMachineInterfaces) == 4
	})
}

// What db show prints for bound VMIs.
func TestViewWrite(t *testing.T) {
	now := time.Unix(1700000000, 0)
	v := &View{
		Generation: 3,
		Config:     parse(t, fullYAML),
		Nodes: []configdb.NodeState{{Hostname: "gw1", TunnelIP: "192.0.2.1", GatewayMode: true, InterfacesUsed: 4,
			InterfacesLimit: 4352, Heartbeat: now.Add(-1500 * time.Millisecond)}},
		Bindings: []configdb.BindingState{
			{VMI: "bms1", Node: "gw1", Kind: configdb.BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: configdb.RoleActive},
			{VMI: "bms1", Node: "gw2", Kind: configdb.BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: configdb.RoleStandby},
			{VMI: "vm1", Node: "gw1", Kind: configdb.BindingLocal, Port: "tap-vm1", Role: configdb.RoleActive},
			{VMI: "gone", Node: "gw1", Kind: configdb.BindingLocal, Port: "tap-x", Role: configdb.RoleActive},
		},
	}
	Normalize(v.Config)
	var out strings.Builder
	if err := v.Write(&out, now, configdb.StaleAfter); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"config generation 3: 3 virtual networks, 3 physical routers, 4 virtual machine interfaces",
		"gw1   192.0.2.1  server        4/4352      1.5s ago",
		"bms1  blue     02:00:00:00:01:0a  gw1 eth1 vlan 100 (active), gw2 eth1 vlan 100 (standby)",
		"bms2  red      02:00:00:00:01:0b  not bound",
		"vm1   blue     02:00:00:00:02:01  gw1 port tap-vm1 (active)",
		"gone  -        -                  gw1 port tap-x (active) (not in the config)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "STALE") {
		t.Errorf("fresh node marked stale:\n%s", out.String())
	}
}

// A newer schema (a column and a table more, as the ToR work will add)
// does not break this client: libovsdb ignores what its models lack.
func TestNewerSchemaStillWorks(t *testing.T) {
	schema := memdb.ReadSchema(t, schemaFile, func(tables map[string]any) {
		vn := tables[gatewaydb.VirtualNetworkTable].(map[string]any)["columns"].(map[string]any)
		vn["bpdu_flood"] = map[string]any{"type": "boolean"}
		tables["ToR_Switch"] = map[string]any{"columns": map[string]any{"name": map[string]any{"type": "string"}}, "isRoot": true}
	})
	m := newMemDBSchema(t, schema)
	c := m.connect()
	apply(t, c, parse(t, fullYAML))
	sameConfig(t, mustConfig(t, c), parse(t, fullYAML))
}

// db show marks a node whose heartbeat is older than staleAfter.
func TestViewWriteStale(t *testing.T) {
	now := time.Unix(1700000000, 0)
	v := &View{Generation: 1, Config: &model.Config{}, Nodes: []configdb.NodeState{{Hostname: "gw1", TunnelIP: "192.0.2.1",
		GatewayMode: true, InterfacesUsed: 6, InterfacesLimit: 4352, Heartbeat: now.Add(-configdb.StaleAfter - time.Second)}}}
	var out strings.Builder
	if err := v.Write(&out, now, configdb.StaleAfter); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "gw1   192.0.2.1  server        6/4352      7s ago STALE") {
		t.Errorf("show output lacks the stale node:\n%s", out.String())
	}
}
