package configdb

import (
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// The ranges the fuzzer holds accepted rows to, written out apart from the schema the checks
// read them from.
const (
	fuzzMaxVNI  = 1<<24 - 1
	fuzzMaxVLAN = 4094
)

// FuzzReadRow: a row of any table, as a server sends it (RFC 7047 JSON), is decoded (the
// select decoder of ConfigOnly reads) and checked without a panic; a row of a state table
// the checks accept converts to a value within range (a VNI or VLAN as the row holds it,
// never wrapped; addresses that parse; enums known); a config row they accept holds its
// integers within the schema's ranges; a refused row's errors name its table and a column.
func FuzzReadRow(f *testing.F) {
	seeds := map[string][]string{
		gatewaydb.NodeTable: {
			`{"hostname":"gw1","tunnel_ip":"192.0.2.1","gateway_mode":true,"interfaces_used":2,"interfaces_limit":4352,"heartbeat":1700000000000,` +
				`"status":["map",[["ha-role","active"],["ha-forwarding","true"],["ha-since","2024-01-01T00:00:00Z"]]]}`,
			`{"hostname":"gw2","tunnel_ip":"192.0.2.300","interfaces_limit":-1}`,
			`{"hostname":"","tunnel_ip":"2001:db8::1","heartbeat":-9223372036854775808}`,
		},
		gatewaydb.BindingTable: {
			`{"vmi":"bms1","node":"gw1","kind":"remote","physical_interface":"eth1","vlan":100,"role":"active"}`,
			`{"vmi":"bms9","node":"gw2","kind":"remote","physical_interface":"eth1","vlan":70000,"role":"active"}`,
			`{"vmi":"vm1","node":"gw1","kind":"local","port":"tap0","vlan":-1,"role":"boss"}`,
		},
		gatewaydb.TorStateTable: {
			`{"switch":"tor1","node":"gw1","connected":true,"in_sync":true,"tunnel_ips":["set",["192.0.2.10","2001:db8::a"]],"macs_learned":3}`,
			`{"switch":"tor1","tunnel_ips":"not an ip","macs_learned":-5}`,
		},
		gatewaydb.TorMACTable: {
			`{"switch":"tor1","vni":5001,"mac":"02:00:00:00:0b:01","ip":"10.1.0.5","tunnel_ip":"192.0.2.10"}`,
			`{"switch":"tor2","vni":4294972297,"mac":"02:00:00:00:0b:02","tunnel_ip":"192.0.2.11"}`,
			`{"switch":"tor2","vni":0,"mac":"01:00:5e:00:00:01","ip":"x","tunnel_ip":""}`,
		},
		gatewaydb.VirtualNetworkTable: {
			`{"name":"blue","vni":5001,"subnets":["set",["10.1.0.0/24"]],"network_policies":["map",[[0,"p"]]],"flood_bpdu":false}`,
			`{"name":"blue","vni":4294967297}`,
			`{"name":"","vni":-1,"network_policies":["map",[[-3,"p"]]]}`,
		},
		gatewaydb.LogicalInterfaceTable: {
			`{"router":"gw1","name":"eth1-100","physical_interface":"eth1","vlan":100,"type":"l2","vmi":"bms1"}`,
			`{"router":"gw1","name":"x","physical_interface":"a-very-long-interface-name","vlan":65536,"vmi":""}`,
		},
		gatewaydb.SecurityGroupRuleTable: {
			`{"security_group":"web","position":0,"direction":"ingress","protocol":"tcp","ports":"80"}`,
			`{"security_group":"web","position":-1,"direction":"sideways"}`,
		},
		gatewaydb.NetworkPolicyRuleTable: {`{"network_policy":"p","position":2,"action":"deny","direction":"<>"}`},
		gatewaydb.TorBindingTable:        {`{"switch":"tor1","port":"Ethernet1/1","vlan":4095,"network":"blue"}`},
		gatewaydb.TorSwitchTable:         {`{"name":"tor1","endpoint":"tcp:192.0.2.10:6640","replication_node":"gw1"}`},
		gatewaydb.OVSGWTable:             {`{"generation":-2}`},
		gatewaydb.VirtualMachineInterfaceTable: {
			`{"name":"bms1","network":"blue","mac":"02:00:00:00:01:0a","instance_ips":["map",[["10.1.0.10","active-backup"]]],"port_security":["set",[]]}`,
		},
	}
	for i, table := range allTables {
		for _, row := range seeds[table] {
			f.Add(uint8(i), row)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, rowJSON string) {
		table := allTables[int(which)%len(allTables)]
		dec := json.NewDecoder(strings.NewReader(rowJSON))
		dec.UseNumber()
		var raw map[string]any
		if dec.Decode(&raw) != nil || raw == nil {
			return
		}
		raw["_uuid"] = []any{"uuid", "6f8b2e53-4b5c-4c1a-9d2e-000000000001"}
		row, uuid, err := decodeRow(table, raw)
		if err != nil {
			return
		}
		errs := checkRow(table, uuid, row)
		for _, e := range errs {
			if e.Table != table || e.Column == "" || e.Row == "" || !strings.HasPrefix(e.Error(), table+"[") {
				t.Fatalf("error %q does not name table %s, its row and a column", e, table)
			}
		}
		r := rows{uuid: row}
		switch table {
		case gatewaydb.NodeTable:
			checkAccepted(t, r, errs, nodeState, func(n NodeState) {
				raw := row.(*gatewaydb.Node)
				ip, err := netip.ParseAddr(n.TunnelIP)
				switch {
				case n.Hostname == "":
					t.Fatal("node without a hostname accepted")
				case n.TunnelIP != "" && (err != nil || !ip.Is4()):
					t.Fatalf("tunnel IP %q accepted", n.TunnelIP)
				case n.InterfacesUsed < 0 || n.InterfacesLimit < 0 || raw.Heartbeat < 0 || n.Heartbeat.UnixMilli() != int64(raw.Heartbeat):
					t.Fatalf("node %+v accepted from %+v", n, raw)
				}
				if r := n.Status[StatusHARole]; r != "" && r != RoleActive && r != RoleStandby {
					t.Fatalf("HA role %q accepted", r)
				}
				if f := n.Status[StatusHAForwarding]; f != "" && f != "true" && f != "false" {
					t.Fatalf("HA forwarding %q accepted", f)
				}
				if s, ok := n.Status[StatusHASince]; ok {
					if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
						t.Fatalf("HA since %q accepted", s)
					}
				}
			})
		case gatewaydb.BindingTable:
			checkAccepted(t, r, errs, bindingState, func(b BindingState) {
				if b.VMI == "" || b.Node == "" || b.VLAN < 0 || b.VLAN > fuzzMaxVLAN || b.VLAN != row.(*gatewaydb.Binding).VLAN ||
					(b.Kind != BindingLocal && b.Kind != BindingRemote) || (b.Role != RoleActive && b.Role != RoleStandby) {
					t.Fatalf("binding %+v accepted", b)
				}
			})
		case gatewaydb.TorStateTable:
			checkAccepted(t, r, errs, torState, func(s TorState) {
				for _, ip := range s.TunnelIPs {
					if _, err := netip.ParseAddr(ip); err != nil {
						t.Fatalf("switch tunnel IP %q accepted", ip)
					}
				}
				if s.Switch == "" || s.MACsLearned < 0 {
					t.Fatalf("switch state %+v accepted", s)
				}
			})
		case gatewaydb.TorMACTable:
			checkAccepted(t, r, errs, torMACState, func(m TorMACState) {
				mac, err := net.ParseMAC(m.MAC)
				_, tunErr := netip.ParseAddr(m.TunnelIP)
				_, ipErr := netip.ParseAddr(m.IP)
				switch {
				case m.VNI < 1 || m.VNI > fuzzMaxVNI || int64(m.VNI) != int64(row.(*gatewaydb.TorMAC).Vni):
					t.Fatalf("VNI %d accepted from %d", m.VNI, row.(*gatewaydb.TorMAC).Vni)
				case err != nil || len(mac) != 6 || mac[0]&1 != 0 || len(m.MAC) != 17:
					t.Fatalf("MAC %q accepted", m.MAC)
				case m.Switch == "" || tunErr != nil || (m.IP != "" && ipErr != nil):
					t.Fatalf("MAC row %+v accepted", m)
				}
			})
		default:
			if errs == nil {
				checkConfigRow(t, row)
			}
		}
	})
}

// checkAccepted converts a one-row table read as the state lists do, and holds a row the
// checks accepted to within; a refused one must be left out and its errors listed.
func checkAccepted[R, T any](t *testing.T, r rows, errs RowErrors, conv func(*R) T, within func(T)) {
	t.Helper()
	list, skipped := list(r, conv, func(a, b *T) int { return 0 })
	if errs != nil {
		if len(list) != 0 || skipped.Error() != errs.Error() {
			t.Fatalf("a refused row was listed (%d) or its errors lost: %v", len(list), skipped)
		}
		return
	}
	if len(list) != 1 || skipped != nil {
		t.Fatalf("an accepted row was left out: %v", skipped)
	}
	within(list[0])
}

// checkConfigRow holds a config row the checks accepted to the schema's integer ranges.
func checkConfigRow(t *testing.T, row any) {
	t.Helper()
	bad := func(what string, n int) { t.Fatalf("%s %d accepted in %+v", what, n, row) }
	switch r := row.(type) {
	case *gatewaydb.VirtualNetwork:
		if r.Vni < 1 || r.Vni > fuzzMaxVNI {
			bad("VNI", r.Vni)
		}
		if slices.ContainsFunc(keysOf(r.NetworkPolicies), func(k int) bool { return k < 0 }) {
			bad("network policy position", -1)
		}
	case *gatewaydb.LogicalInterface:
		if r.VLAN < 0 || r.VLAN > fuzzMaxVLAN {
			bad("VLAN", r.VLAN)
		}
		if r.Name == "" || r.Router == "" || r.Vmi == "" || len([]rune(r.PhysicalInterface)) > 15 {
			t.Fatalf("logical interface %+v accepted", r)
		}
	case *gatewaydb.TorBinding:
		if r.VLAN < 0 || r.VLAN > fuzzMaxVLAN {
			bad("VLAN", r.VLAN)
		}
	case *gatewaydb.SecurityGroupRule:
		if r.Position < 0 || (r.Direction != "ingress" && r.Direction != "egress") {
			t.Fatalf("rule %+v accepted", r)
		}
	case *gatewaydb.NetworkPolicyRule:
		if r.Position < 0 || (r.Action != "pass" && r.Action != "deny") {
			t.Fatalf("rule %+v accepted", r)
		}
	case *gatewaydb.OVSGW:
		if r.Generation < 0 {
			bad("generation", r.Generation)
		}
	}
}

func keysOf(m map[int]string) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	return out
}
