package configdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
	"github.com/ovsgw/ovsgw/schemas"
)

// Converting a running database from the 1.2.0 schema to this one, with ovsdb-server and
// its own tools, as the README tells operators to; and what a client sees of a server whose
// schema is older or newer than its own.

// convertWait bounds the wait for a client to be back on a converted database: ovsdb-server
// closes the connections of clients that did not ask to be told of schema changes
// (libovsdb does not), and the client reconnects within its poll and backoff (about 0.25 s).
const convertWait = 10 * time.Second

// schemaVersionAt is what ovsdb-client get-schema-version says of the server at endpoint.
func schemaVersionAt(t *testing.T, endpoint string) string {
	t.Helper()
	return strings.TrimSpace(configdbtest.RunTool(t, configdbtest.OVSProgram(t, "ovsdb-client"), "get-schema-version", endpoint, DatabaseName))
}

// fixtureOps fill a database of the 1.2.0 schema as agents and ovsgw db apply of that
// release did: a config with a row in every config table, and every kind of state row.
// Written with ovsdb-client, so that they fit the fixture whatever this binary's models became.
var fixtureOps = []string{
	`{"op":"insert","table":"OVSGW","row":{"generation":1}}`,
	`{"op":"insert","table":"Virtual_Network","row":{"name":"red","vni":5002,"subnets":["set",["10.1.0.0/24"]],"network_policies":["map",[[0,"no-ssh"]]]}}`,
	`{"op":"insert","table":"Physical_Router","row":{"name":"gw1"}}`,
	`{"op":"insert","table":"Physical_Interface","row":{"router":"gw1","name":"eth1"}}`,
	`{"op":"insert","table":"Logical_Interface","row":{"router":"gw1","name":"eth1-100","physical_interface":"eth1","vlan":100,"type":"l2","vmi":"bms1"}}`,
	`{"op":"insert","table":"Virtual_Machine_Interface","row":{"name":"bms1","network":"red","mac":"02:00:00:00:01:0a",` +
		`"instance_ips":["map",[["10.1.0.10","active-backup"]]],"security_groups":["set",["web"]],"allowed_address_pairs":["set",["10.1.0.200/32 02:00:00:00:09:09"]]}}`,
	`{"op":"insert","table":"Security_Group","row":{"name":"web"}}`,
	`{"op":"insert","table":"Security_Group_Rule","row":{"security_group":"web","position":0,"direction":"ingress","protocol":"tcp","ports":"80"}}`,
	`{"op":"insert","table":"Network_Policy","row":{"name":"no-ssh"}}`,
	`{"op":"insert","table":"Network_Policy_Rule","row":{"network_policy":"no-ssh","position":0,"action":"deny","protocol":"tcp","destination_ports":"22"}}`,
	`{"op":"insert","table":"Tor_Switch","row":{"name":"tor1","endpoint":"tcp:192.0.2.10:6640","replication_node":"gw1"}}`,
	`{"op":"insert","table":"Tor_Binding","row":{"switch":"tor1","port":"Ethernet1/1","vlan":0,"network":"red"}}`,
	`{"op":"insert","table":"Node","row":{"hostname":"gw1","tunnel_ip":"192.0.2.1","gateway_mode":true,"interfaces_used":2,"interfaces_limit":4352,` +
		`"heartbeat":1700000000000,"status":["map",[["ha-role","active"],["ha-forwarding","true"],["ha-since","2024-01-01T00:00:00Z"]]]}}`,
	`{"op":"insert","table":"Binding","row":{"vmi":"bms1","node":"gw1","kind":"remote","physical_interface":"eth1","vlan":100,"role":"active"}}`,
	`{"op":"insert","table":"Tor_State","row":{"switch":"tor1","node":"gw1","connected":true,"in_sync":true,"tunnel_ips":["set",["192.0.2.10"]],"macs_learned":1}}`,
	`{"op":"insert","table":"Tor_MAC","row":{"switch":"tor1","vni":5002,"mac":"02:00:00:00:0b:01","tunnel_ip":"192.0.2.10"}}`,
}

// rawContents is every row of the fixture's tables on the server at endpoint, in the
// fixture's columns only, as ovsdb-client reads them (rows sorted by UUID): what a conversion
// must keep, read without this binary's models.
func rawContents(t *testing.T, endpoint string) map[string]string {
	t.Helper()
	var fixture schemaText
	data, err := os.ReadFile(configdbtest.Schema120(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fixture); err != nil {
		t.Fatal(err)
	}
	tables := slices.Sorted(maps.Keys(fixture.Tables))
	var ops []string
	for _, table := range tables {
		cols := append([]string{"_uuid"}, slices.Sorted(maps.Keys(fixture.Tables[table].Columns))...)
		colsJSON, _ := json.Marshal(cols)
		ops = append(ops, `{"op":"select","table":"`+table+`","where":[],"columns":`+string(colsJSON)+`}`)
	}
	out := configdbtest.RunTool(t, configdbtest.OVSProgram(t, "ovsdb-client"), "transact", endpoint, `["`+DatabaseName+`",`+strings.Join(ops, ",")+`]`)
	var results []struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil || len(results) != len(tables) {
		t.Fatalf("select: %v\n%s", err, out)
	}
	m := map[string]string{}
	for i, table := range tables {
		rows := results[i].Rows
		slices.SortFunc(rows, func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a["_uuid"]), fmt.Sprint(b["_uuid"])) })
		text, _ := json.Marshal(rows)
		m[table] = string(text)
	}
	return m
}

// fixtureCompatible reports whether this binary's models fit the 1.2.0 fixture: true while the
// schema only gained constraints since, false once it gained a table or column the models use.
func fixtureCompatible(t *testing.T) bool {
	t.Helper()
	schema := memdb.ReadSchema(t, configdbtest.Schema120(t), nil)
	full, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	_, errs := model.NewDatabaseModel(schema, full)
	return len(errs) == 0
}

// clientAcrossConversion connects a client of this binary to a database of the 1.2.0 schema
// before it is converted: at once while the models fit the fixture, the client then staying
// connected until ovsdb-server moves it over; else its Connect keeps trying (a schema
// mismatch) until the conversion lets it in. The returned func waits for the client once the
// database is converted.
func clientAcrossConversion(t *testing.T, endpoints []string) func() *Client {
	t.Helper()
	type result struct {
		c   *Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), configdbtest.ServerReady+convertWait)
		defer cancel()
		c, err := Connect(ctx, endpoints)
		done <- result{c, err}
	}()
	var early *Client
	if fixtureCompatible(t) {
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			early = r.c
			t.Cleanup(early.Close)
		case <-time.After(testWait):
			t.Fatal("no connection to a database of the 1.2.0 schema, which fits this binary's models")
		}
	}
	return func() *Client {
		if early != nil {
			return early
		}
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(r.c.Close)
		return r.c
	}
}

// waitConverted waits until c is connected to a member with this binary's schema.
func waitConverted(t *testing.T, c *Client) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(convertWait)
	for !c.Connected() || c.ServerSchemaVersion() != SchemaVersion {
		if time.Now().After(deadline) {
			t.Fatalf("client on %q with schema %q, not back on schema %s after %v", c.Endpoint(), c.ServerSchemaVersion(), SchemaVersion, convertWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// afterConversion checks a converted database: the same rows (ovsdb-client reads them), every
// row listed by a client of this binary and none skipped, writes work, and the server itself
// now refuses what the new schema forbids.
func afterConversion(t *testing.T, c *Client, srv *configdbtest.Server, before map[string]string) {
	t.Helper()
	if got := rawContents(t, srv.Endpoint); !reflect.DeepEqual(got, before) {
		t.Errorf("contents changed by the conversion:\n got %v\nwant %v", got, before)
	}
	s, err := c.snapshot(allTables...)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.vns) != 1 || len(s.lis) != 1 || len(s.vmis) != 1 || len(s.torBindings) != 1 || s.generation() != 1 {
		t.Errorf("the client's cache after the conversion: %+v", s)
	}
	if n, b, st, m := c.Nodes(), c.Bindings(), c.TorStates(), c.TorMACs(); len(n) != 1 || len(b) != 1 || len(st) != 1 || len(m) != 1 {
		t.Errorf("state listed after the conversion: nodes %+v, bindings %+v, switch states %+v, MACs %+v", n, b, st, m)
	}
	if sk := c.SkippedState(); len(sk.Rows) != 0 {
		t.Errorf("rows skipped after the conversion: %v", sk.Rows)
	}
	applyRows(t, c, testRows(5003))
	if err := c.PublishNode(context.Background(), NodeState{Hostname: "gw1", TunnelIP: "192.0.2.1", InterfacesLimit: 4352}); err != nil {
		t.Errorf("heartbeat after the conversion: %v", err)
	}
	_, err = srv.TryTransact(t, `{"op":"insert","table":"Virtual_Network","row":{"name":"big","vni":4294967297}}`)
	if err == nil || !strings.Contains(err.Error(), "constraint violation") {
		t.Errorf("the converted server took a VNI of 2^32+1: %v", err)
	}
}

// dryRunConversion converts a backup of the database at endpoint, as the README's dry run
// does: ovsdb-client backup (a standalone copy, of a clustered database too), then ovsdb-tool
// convert into another file. It returns ovsdb-tool's output and error.
func dryRunConversion(t *testing.T, endpoint string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	backup, err := os.Create(filepath.Join(dir, "backup.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer backup.Close()
	cmd := exec.Command(configdbtest.OVSProgram(t, "ovsdb-client"), "backup", endpoint, DatabaseName)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = backup, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ovsdb-client backup: %v\n%s", err, stderr.String())
	}
	return configdbtest.RunToolErr(t, configdbtest.OVSProgram(t, "ovsdb-tool"), "convert", backup.Name(), schemaFile, filepath.Join(dir, "converted.db"))
}

// Online on a standalone server holding a 1.2.0 database. A row the new schema forbids
// (written by a foreign client: 1.2.0 lets it) fails the dry run, naming the value;
// converting anyway changes nothing (Open vSwitch 3.1's ovsdb-server was seen to crash
// instead of answering with the error: it is restarted then). Once the row is fixed, the
// conversion goes through while a client is connected: it is moved over (reconnects) by
// itself, reads what was there and writes.
func TestSchemaConversionStandalone(t *testing.T) {
	srv := configdbtest.NewStandalone(t, configdbtest.Schema120(t))
	srv.Transact(t, fixtureOps...)
	client := clientAcrossConversion(t, []string{srv.Endpoint})
	if SchemaNotice("1.2.0", srv.Endpoint) == "" || !strings.Contains(SchemaNotice("1.2.0", srv.Endpoint), "older than this ovsgw's "+SchemaVersion) {
		t.Errorf("notice for 1.2.0: %q", SchemaNotice("1.2.0", srv.Endpoint))
	}

	srv.Transact(t, `{"op":"update","table":"Virtual_Network","where":[["name","==","red"]],"row":{"vni":4294967297}}`)
	out, err := dryRunConversion(t, srv.Endpoint)
	if err == nil || !strings.Contains(out, "constraint violation: 4294967297 is not in the valid range 1 to 16777215") {
		t.Fatalf("dry run over a VNI of 2^32+1: %v\n%s", err, out)
	}
	t.Logf("what the dry run says of a row the new schema forbids: %s", strings.TrimSpace(out))
	bad := rawContents(t, srv.Endpoint)
	out, err = configdbtest.RunToolErr(t, configdbtest.OVSProgram(t, "ovsdb-client"), "convert", srv.Endpoint, schemaFile)
	if err == nil {
		t.Fatalf("ovsdb-client convert over a VNI of 2^32+1 succeeded:\n%s", out)
	}
	time.Sleep(200 * time.Millisecond) // a crash takes this long to show
	select {
	case <-srv.Done:
		t.Logf("ovsdb-client convert: %s; ovsdb-server: %v (restarting it)", strings.TrimSpace(out), srv.Cmd.ProcessState)
		srv.Start(t)
	default:
		t.Logf("ovsdb-client convert: %s; ovsdb-server still runs", strings.TrimSpace(out))
	}
	if v := schemaVersionAt(t, srv.Endpoint); v != "1.2.0" {
		t.Errorf("schema %s after a refused conversion", v)
	}
	if got := rawContents(t, srv.Endpoint); !reflect.DeepEqual(got, bad) {
		t.Errorf("a refused conversion changed the database:\n got %v\nwant %v", got, bad)
	}

	srv.Transact(t, `{"op":"update","table":"Virtual_Network","where":[["name","==","red"]],"row":{"vni":5002}}`) // the fix
	if out, err := dryRunConversion(t, srv.Endpoint); err != nil {
		t.Fatalf("dry run after the fix: %v\n%s", err, out)
	}
	before := rawContents(t, srv.Endpoint)
	start := time.Now()
	configdbtest.RunTool(t, configdbtest.OVSProgram(t, "ovsdb-client"), "convert", srv.Endpoint, schemaFile)
	converted := time.Since(start)
	c := client()
	waitConverted(t, c)
	back := time.Since(start) - converted
	t.Logf("measured: ovsdb-client convert took %v; the client was on %s %v later", converted.Round(time.Millisecond), SchemaVersion, back.Round(time.Millisecond))
	if v := schemaVersionAt(t, srv.Endpoint); v != SchemaVersion {
		t.Errorf("schema %s after the conversion, want %s", v, SchemaVersion)
	}
	afterConversion(t, c, srv, before)
}

// Offline on a standalone server: ovsdb-tool convert on the file of a stopped server; the
// client is on the converted database once it is back.
func TestSchemaConversionOffline(t *testing.T) {
	srv := configdbtest.NewStandalone(t, configdbtest.Schema120(t))
	srv.Transact(t, fixtureOps...)
	client := clientAcrossConversion(t, []string{srv.Endpoint})
	before := rawContents(t, srv.Endpoint)
	tool := configdbtest.OVSProgram(t, "ovsdb-tool")
	if out := strings.TrimSpace(configdbtest.RunTool(t, tool, "needs-conversion", srv.DB, schemaFile)); out != "yes" {
		t.Errorf("ovsdb-tool needs-conversion: %q, want yes", out)
	}
	srv.Stop()
	configdbtest.RunTool(t, tool, "convert", srv.DB, schemaFile)
	if out := strings.TrimSpace(configdbtest.RunTool(t, tool, "needs-conversion", srv.DB, schemaFile)); out != "no" {
		t.Errorf("ovsdb-tool needs-conversion after convert: %q, want no", out)
	}
	start := time.Now()
	srv.Start(t)
	c := client()
	waitConverted(t, c)
	back := time.Since(start)
	t.Logf("measured: the client was on the converted database %v after the server started", back.Round(time.Millisecond))
	afterConversion(t, c, srv, before)
}

// Online on a 3-member Raft cluster holding a 1.2.0 database: ovsdb-client convert on a
// member converts every member; a client of the cluster follows.
func TestSchemaConversionRaftCluster(t *testing.T) {
	cl := configdbtest.NewCluster(t, configdbtest.Schema120(t), 3)
	leader := cl.Leader(t)
	leader.Transact(t, fixtureOps...)
	client := clientAcrossConversion(t, cl.Endpoints())
	before := rawContents(t, leader.Endpoint)
	start := time.Now()
	configdbtest.RunTool(t, configdbtest.OVSProgram(t, "ovsdb-client"), "convert", leader.Endpoint, schemaFile)
	converted := time.Since(start)
	c := client()
	waitConverted(t, c)
	back := time.Since(start) - converted
	t.Logf("measured: ovsdb-client convert on the leader took %v; the client was on the converted database %v later", converted.Round(time.Millisecond), back.Round(time.Millisecond))
	for _, m := range cl {
		deadline := time.Now().Add(convertWait)
		for schemaVersionAt(t, m.Endpoint) != SchemaVersion {
			if time.Now().After(deadline) {
				t.Fatalf("member %s still has schema %s", m.Name, schemaVersionAt(t, m.Endpoint))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	afterConversion(t, c, cl.Leader(t), before)
}

// editedSchema writes this binary's schema with edit applied to its JSON, under version.
func editedSchema(t *testing.T, version string, edit func(tables map[string]any)) string {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal(schemas.Gateway, &s); err != nil {
		t.Fatal(err)
	}
	s["version"] = version
	edit(s["tables"].(map[string]any))
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gateway.ovsschema")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func columns(tables map[string]any, table string) map[string]any {
	return tables[table].(map[string]any)["columns"].(map[string]any)
}

// A server whose schema lacks a column this binary has (its database predates the column):
// libovsdb refuses the connection; the operator reads both versions and the conversion to
// run. A command gives up at once; an agent keeps trying, and connects once the database is
// converted.
func TestOlderSchemaMissingColumn(t *testing.T) {
	older := editedSchema(t, "1.2.0", func(tables map[string]any) { delete(columns(tables, gatewaydb.TorMACTable), "ip") })
	srv := configdbtest.NewStandalone(t, older)

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	_, err := Connect(ctx, []string{srv.Endpoint}, StopOnSchemaMismatch())
	var mm *SchemaMismatchError
	if !errors.As(err, &mm) || mm.Server != "1.2.0" {
		t.Fatalf("connect to a server lacking Tor_MAC.ip: %v, want a SchemaMismatchError naming 1.2.0", err)
	}
	for _, w := range []string{"has schema OVSGW 1.2.0, this ovsgw needs " + SchemaVersion, "ip", "ovsdb-client convert " + srv.Endpoint} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error lacks %q: %v", w, err)
		}
	}
	t.Logf("what a command says: %v", err)

	// An agent's Connect keeps trying, and says so once per member (two here, both old);
	// converting the database lets it in.
	other := configdbtest.NewStandalone(t, older)
	hook := logtest.NewGlobal()
	defer hook.Reset()
	done := make(chan error, 1)
	var c *Client
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), convertWait)
		defer cancel()
		var err error
		c, err = Connect(ctx, []string{srv.Endpoint, other.Endpoint})
		done <- err
	}()
	time.Sleep(time.Second) // a few attempts
	select {
	case err := <-done:
		t.Fatalf("Connect returned before the conversion: %v", err)
	default:
	}
	warned := 0
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "has schema OVSGW 1.2.0, this ovsgw needs") &&
			strings.HasSuffix(e.Message, "(retrying until it is converted)") {
			warned++
		}
	}
	if warned != 2 {
		t.Errorf("the mismatch was logged %d times while retrying, want once per member (2)", warned)
	}
	configdbtest.RunTool(t, configdbtest.OVSProgram(t, "ovsdb-client"), "convert", srv.Endpoint, schemaFile)
	if err := <-done; err != nil {
		t.Fatalf("Connect after the conversion: %v", err)
	}
	defer c.Close()
	if v := c.ServerSchemaVersion(); v != SchemaVersion {
		t.Errorf("connected to schema %q", v)
	}
}

// A server whose schema is newer (a column and a table more): this binary connects, reads and
// writes, and ignores what it does not know; the notice says so.
func TestNewerSchemaOnRealServer(t *testing.T) {
	newer := editedSchema(t, "1.5.0", func(tables map[string]any) {
		columns(tables, gatewaydb.BindingTable)["test_future_column"] = map[string]any{"type": "integer"}
		tables["Test_Future_Table"] = map[string]any{"columns": map[string]any{"switch": map[string]any{"type": "string"}}, "isRoot": true}
	})
	srv := configdbtest.NewStandalone(t, newer)
	c := connectTo(t, []string{srv.Endpoint})
	applyRows(t, c, testRows(5002))
	if err := c.PublishBindings(context.Background(), "gw1", []BindingState{{VMI: "bms1", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: RoleActive}}); err != nil {
		t.Fatal(err)
	}
	if got := c.Bindings(); len(got) != 1 || got[0].VMI != "bms1" {
		t.Errorf("bindings %+v", got)
	}
	if v := c.ServerSchemaVersion(); v != "1.5.0" || !strings.Contains(SchemaNotice(v, srv.Endpoint), "newer than this ovsgw's") {
		t.Errorf("server schema %q, notice %q", v, SchemaNotice(v, srv.Endpoint))
	}
	if SchemaNotice(SchemaVersion, srv.Endpoint) != "" {
		t.Error("a notice for the same version")
	}
}
