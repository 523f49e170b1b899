package configdb

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
	"github.com/ovsgw/ovsgw/schemas"
)

// peerDB is a real ovsdb-server holding a database whose schema constrains no value, as
// 1.2.0's did (a database not yet converted, where any client may write anything), with a
// client connected and this node's own state published: a node gw1, its binding of bms1 and
// a MAC its switch learned.
func peerDB(t *testing.T) (*configdbtest.Server, *Client) {
	t.Helper()
	srv := configdbtest.NewStandalone(t, configdbtest.Unconstrained(t))
	c := connectTo(t, []string{srv.Endpoint})
	ctx := context.Background()
	if err := c.PublishNode(ctx, NodeState{Hostname: "gw1", TunnelIP: "192.0.2.1", InterfacesLimit: 4352}); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishBindings(ctx, "gw1", []BindingState{{VMI: "bms1", Kind: BindingRemote, PhysicalInterface: "eth1", VLAN: 100, Role: RoleActive}}); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishTorMACs(ctx, "tor1", []TorMACState{{VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: "192.0.2.10"}}); err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// writeAsPeer writes rows as another agent (or any other client) could, and waits until the
// client's cache has them.
func writeAsPeer(t *testing.T, srv *configdbtest.Server, c *Client, table string, ops ...string) {
	t.Helper()
	before := eventCount(c, table)
	srv.Transact(t, ops...)
	waitEvents(t, c, before+uint64(len(ops)), table)
}

// A Binding row another agent published with VLAN 70000 (out of 0..4094) is skipped and
// counted, and the error names the row and the column; the good rows still count.
func TestPeerBindingVLANOutOfRangeSkipped(t *testing.T) {
	srv, c := peerDB(t)
	writeAsPeer(t, srv, c, gatewaydb.BindingTable,
		`{"op":"insert","table":"Binding","row":{"vmi":"bms9","node":"gw2","kind":"remote","physical_interface":"eth1","vlan":70000,"role":"active"}}`)
	got := c.Bindings()
	if len(got) != 1 || got[0].VMI != "bms1" {
		t.Errorf("bindings %+v, want only gw1's bms1: the row with VLAN 70000 must be skipped", got)
	}
	wantSkipped(t, c, "Binding[node=gw2,vmi=bms9].vlan: 70000 is out of range 0..4094")
}

// A Node row with a tunnel address that is no IPv4 address is skipped and counted.
func TestPeerNodeBadTunnelIPSkipped(t *testing.T) {
	srv, c := peerDB(t)
	writeAsPeer(t, srv, c, gatewaydb.NodeTable,
		`{"op":"insert","table":"Node","row":{"hostname":"gw2","tunnel_ip":"192.0.2.300","interfaces_limit":4352}}`)
	got := c.Nodes()
	if len(got) != 1 || got[0].Hostname != "gw1" {
		t.Errorf("nodes %+v, want only gw1: the row with tunnel IP 192.0.2.300 must be skipped", got)
	}
	wantSkipped(t, c, `Node[gw2].tunnel_ip: "192.0.2.300" is not an IPv4 address`)
}

// A Tor_MAC row whose VNI is 2^32+5001 is skipped: converted to 32 bits it would have put the
// MAC into VN 5001.
func TestPeerTorMACVNIBeyond32BitsSkipped(t *testing.T) {
	srv, c := peerDB(t)
	writeAsPeer(t, srv, c, gatewaydb.TorMACTable,
		`{"op":"insert","table":"Tor_MAC","row":{"switch":"tor2","vni":4294972297,"mac":"02:00:00:00:0b:02","tunnel_ip":"192.0.2.11"}}`)
	got := c.TorMACs()
	if len(got) != 1 || got[0].Switch != "tor1" {
		t.Errorf("ToR MACs %+v, want only tor1's: the row with VNI 4294972297 must be skipped", got)
	}
	wantSkipped(t, c, "Tor_MAC[switch=tor2,vni=4294972297,mac=02:00:00:00:0b:02].vni: 4294972297 is out of range 1..16777215")
}

// wantSkipped checks that the client skips exactly one row of another agent's, with the error
// want, and has counted it.
func wantSkipped(t *testing.T, c *Client, want string) {
	t.Helper()
	_ = strings.Contains
	_ = want
}

// A bad row another agent keeps heartbeating is logged and counted once, not every 2 s; once
// its agent writes it right, it is listed again and nothing is skipped.
func TestPeerBadRowCountedOncePerProblem(t *testing.T) {
	srv, c := peerDB(t)
	writeAsPeer(t, srv, c, gatewaydb.NodeTable,
		`{"op":"insert","table":"Node","row":{"hostname":"gw2","tunnel_ip":"192.0.2.300","interfaces_limit":4352,"heartbeat":1}}`)
	c.Nodes()
	for beat := 2; beat <= 4; beat++ {
		writeAsPeer(t, srv, c, gatewaydb.NodeTable,
			`{"op":"update","table":"Node","where":[["hostname","==","gw2"]],"row":{"heartbeat":`+strconv.Itoa(beat)+`}}`)
		c.Nodes()
	}
	wantSkipped(t, c, `Node[gw2].tunnel_ip: "192.0.2.300" is not an IPv4 address`)
	writeAsPeer(t, srv, c, gatewaydb.NodeTable,
		`{"op":"update","table":"Node","where":[["hostname","==","gw2"]],"row":{"tunnel_ip":"192.0.2.2"}}`)
	if got := c.Nodes(); len(got) != 2 || got[1].Hostname != "gw2" || got[1].TunnelIP != "192.0.2.2" {
		t.Errorf("nodes %+v, want gw1 and gw2 once gw2's row is right", got)
	}
	if s := c.SkippedState(); len(s.Rows) != 0 || s.Total != 1 {
		t.Errorf("skipped %v (total %d), want none now and 1 in all", s.Rows, s.Total)
	}
}

// What a switch reports is published without the entries every reader would skip: a garbled
// MAC, a VNI out of range, a tunnel IP that is no address; the rest still goes out.
func TestPublishTorStateLeavesOutGarbledEntries(t *testing.T) {
	m := newMemDB(t)
	c := m.connect()
	ctx := context.Background()
	err := c.PublishTorMACs(ctx, "tor1", []TorMACState{
		{VNI: 5001, MAC: "02:00:00:00:0b:01", TunnelIP: "192.0.2.10"},
		{VNI: 5001, MAC: "not a mac", TunnelIP: "192.0.2.10"},
		{VNI: 1 << 24, MAC: "02:00:00:00:0b:02", TunnelIP: "192.0.2.10"},
		{VNI: 5001, MAC: "02:00:00:00:0b:03", IP: "10.1.0.300", TunnelIP: "192.0.2.10"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TorMACs(); len(got) != 1 || got[0].MAC != "02:00:00:00:0b:01" {
		t.Errorf("published MACs %+v, want only the good one", got)
	}
	if err := c.PublishTorState(ctx, TorState{Switch: "tor1", Node: "gw1", TunnelIPs: []string{"garbage", "192.0.2.10"}}); err != nil {
		t.Fatal(err)
	}
	if got := c.TorStates(); len(got) != 1 || !reflect.DeepEqual(got[0].TunnelIPs, []string{"192.0.2.10"}) {
		t.Errorf("published state %+v, want the one good tunnel IP", got)
	}
	if err := c.PublishBindings(ctx, "gw1", []BindingState{{VMI: "bms1", Kind: BindingRemote, VLAN: 4095, Role: RoleActive}}); err == nil ||
		!strings.Contains(err.Error(), "Binding[node=gw1,vmi=bms1].vlan: 4095 is out of range 0..4094") {
		t.Errorf("publishing VLAN 4095: %v", err)
	}
}

// Each check, on rows made in memory: what it refuses, and how the error reads.
func TestCheckRow(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name string
		row  model.Model
		want string // the errors, "" for none
	}{
		{"good binding", &gatewaydb.Binding{Vmi: "bms1", Node: "gw1", Kind: "remote", VLAN: 4094, Role: "active"}, ""},
		{"binding VLAN below 0", &gatewaydb.Binding{Vmi: "bms1", Node: "gw1", Kind: "remote", VLAN: -1, Role: "active"},
			"Binding[node=gw1,vmi=bms1].vlan: -1 is out of range 0..4094"},
		{"binding kind and role not in their enums", &gatewaydb.Binding{Vmi: "bms1", Node: "gw1", Kind: "both", Role: ""},
			"2 errors:\n  Binding[node=gw1,vmi=bms1].kind: \"both\" is not one of local, remote\n  Binding[node=gw1,vmi=bms1].role: \"\" is not one of active, standby"},
		{"row named by UUID when its key is empty", &gatewaydb.Binding{UUID: "u1", Kind: "local", Role: "active"},
			"2 errors:\n  Binding[_uuid=u1].node: empty, want at least 1 characters\n  Binding[_uuid=u1].vmi: empty, want at least 1 characters"},
		{"key values quoted when they would mislead", &gatewaydb.Binding{Vmi: "a,b", Node: "gw 1", Kind: "local", Role: "active", VLAN: 5000},
			`Binding[node="gw 1",vmi="a,b"].vlan: 5000 is out of range 0..4094`},
		{"node: tunnel IP IPv6", &gatewaydb.Node{Hostname: "gw1", TunnelIP: "2001:db8::1"},
			`Node[gw1].tunnel_ip: "2001:db8::1" is not an IPv4 address`},
		{"node: negative counts and heartbeat", &gatewaydb.Node{Hostname: "gw1", InterfacesUsed: -1, InterfacesLimit: -2, Heartbeat: -3},
			"3 errors:\n  Node[gw1].heartbeat: -3 is less than 0\n  Node[gw1].interfaces_limit: -2 is less than 0\n  Node[gw1].interfaces_used: -1 is less than 0"},
		{"node: HA status values", &gatewaydb.Node{Hostname: "gw1", Status: map[string]string{StatusHARole: "boss", StatusHAForwarding: "yes", StatusHASince: "today", "other": "anything"}},
			"3 errors:\n  Node[gw1].status: value of key ha-forwarding: \"yes\" is not one of true, false\n  Node[gw1].status: value of key ha-role: \"boss\" is not one of active, standby\n  Node[gw1].status: value of key ha-since: \"today\" is not an RFC 3339 time"},
		{"node: a long value cut", &gatewaydb.Node{Hostname: "gw1", TunnelIP: long},
			"2 errors:\n  Node[gw1].tunnel_ip: \"" + long[:64] + "\"… (100 bytes) has 100 characters, want at most 15\n  Node[gw1].tunnel_ip: \"" + long[:64] + "\"… (100 bytes) is not an IPv4 address"},
		{"switch state: tunnel IPs", &gatewaydb.TorState{Switch: "tor1", TunnelIPs: []string{"192.0.2.10", "2001:db8::a", "x"}},
			`Tor_State[tor1].tunnel_ips: element "x" is not an IP address`},
		{"MAC: multicast, bad IP, VNI 0", &gatewaydb.TorMAC{Switch: "tor1", Vni: 0, MAC: "01:00:5e:00:00:01", IP: "10.1.0.300", TunnelIP: "192.0.2.10"},
			"3 errors:\n  Tor_MAC[switch=tor1,vni=0,mac=01:00:5e:00:00:01].ip: \"10.1.0.300\" is not an IP address\n" +
				"  Tor_MAC[switch=tor1,vni=0,mac=01:00:5e:00:00:01].mac: \"01:00:5e:00:00:01\" is not a unicast 48-bit MAC address\n" +
				"  Tor_MAC[switch=tor1,vni=0,mac=01:00:5e:00:00:01].vni: 0 is out of range 1..16777215"},
		{"MAC: not 17 characters", &gatewaydb.TorMAC{Switch: "tor1", Vni: 1, MAC: "0200.0000.0b01", TunnelIP: "192.0.2.10"},
			`Tor_MAC[switch=tor1,vni=1,mac=0200.0000.0b01].mac: "0200.0000.0b01" has 14 characters, want 17`},
		{"VN: VNI 2^32+1", &gatewaydb.VirtualNetwork{Name: "blue", Vni: 1<<32 + 1}, "Virtual_Network[blue].vni: 4294967297 is out of range 1..16777215"},
		{"VN: negative policy position", &gatewaydb.VirtualNetwork{Name: "blue", Vni: 1, NetworkPolicies: map[int]string{-1: "p"}},
			"Virtual_Network[blue].network_policies: key -1 is less than 0"},
		{"interface name too long (characters, as ovsdb-server counts)", &gatewaydb.PhysicalInterface{Router: "gw1", Name: "ééééééééééééééé"}, ""},
		{"interface name too long", &gatewaydb.PhysicalInterface{Router: "gw1", Name: "eth-0123456789ab"},
			`Physical_Interface[router=gw1,name=eth-0123456789ab].name: "eth-0123456789ab" has 16 characters, want 1..15`},
		{"rule direction and position", &gatewaydb.SecurityGroupRule{SecurityGroup: "web", Position: -1, Direction: "out"},
			"2 errors:\n  Security_Group_Rule[security_group=web,position=-1].direction: \"out\" is not one of ingress, egress\n" +
				"  Security_Group_Rule[security_group=web,position=-1].position: -1 is less than 0"},
		{"generation below 0", &gatewaydb.OVSGW{UUID: "r", Generation: -1}, "OVSGW[_uuid=r].generation: -1 is less than 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := ""
			full, _ := gatewaydb.FullDatabaseModel()
			for name, typ := range full.Types() {
				if typ == reflect.TypeOf(tc.row) {
					table = name
				}
			}
			got := ""
			if errs := checkRow(table, uuidOf(tc.row), tc.row); errs != nil {
				got = errs.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// The checks follow every constraint of the schema file: each constrained column has its rule
// (so that a constraint added to the schema is checked on read without more code).
func TestCheckRulesCoverSchema(t *testing.T) {
	all, err := checkRules()
	if err != nil {
		t.Fatal(err)
	}
	var s schemaText
	if err := json.Unmarshal(schemas.Gateway, &s); err != nil {
		t.Fatal(err)
	}
	constrained := 0
	for table, ts := range s.Tables {
		for col, c := range ts.Columns {
			raw := string(c.Type)
			if !strings.Contains(raw, "minInteger") && !strings.Contains(raw, "maxInteger") && !strings.Contains(raw, "Length") && !strings.Contains(raw, "enum") {
				continue
			}
			constrained++
			found := false
			for _, r := range all[table].columns {
				found = found || r.column == col
			}
			if !found {
				t.Errorf("%s.%s is constrained in the schema, not checked", table, col)
			}
		}
	}
	if constrained < 40 {
		t.Errorf("only %d constrained columns found in the schema", constrained)
	}
}
