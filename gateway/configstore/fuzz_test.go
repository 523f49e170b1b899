package configstore

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"

	gwmodel "github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// fuzzRows are the values the fuzzer chooses in a config's rows; the rest is fixed.
type fuzzRows struct {
	vni, vlan, torVLAN, position int64
	name, iface, mac, pair       string
	direction, action, port      string
}

// rows builds one row per config table (and a second VN) around the fuzzed values.
func (f fuzzRows) rows() []model.Model {
	id := func(n int) string {
		return "6f8b2e53-4b5c-4c1a-9d2e-0000000000" + string(rune('a'+n/10)) + string(rune('0'+n%10))
	}
	return []model.Model{
		&gatewaydb.OVSGW{UUID: id(0), Generation: 1},
		&gatewaydb.VirtualNetwork{UUID: id(1), Name: f.name, Vni: int(f.vni), NetworkPolicies: map[int]string{int(f.position): "p"}},
		&gatewaydb.VirtualNetwork{UUID: id(2), Name: "other", Vni: 7},
		&gatewaydb.PhysicalRouter{UUID: id(3), Name: "gw1"},
		&gatewaydb.PhysicalInterface{UUID: id(4), Router: "gw1", Name: f.iface},
		&gatewaydb.LogicalInterface{UUID: id(5), Router: "gw1", PhysicalInterface: f.iface, Name: "li", VLAN: int(f.vlan), Type: "l2", Vmi: "bms1"},
		&gatewaydb.VirtualMachineInterface{UUID: id(6), Name: "bms1", Network: f.name, MAC: f.mac,
			InstanceIPs: map[string]string{"10.1.0.10": "active-backup"}, AllowedAddressPairs: []string{f.pair}},
		&gatewaydb.SecurityGroup{UUID: id(7), Name: "web"},
		&gatewaydb.SecurityGroupRule{UUID: id(8), SecurityGroup: "web", Position: int(f.position), Direction: f.direction},
		&gatewaydb.NetworkPolicy{UUID: id(9), Name: "p"},
		&gatewaydb.NetworkPolicyRule{UUID: id(10), NetworkPolicy: "p", Position: 0, Action: f.action},
		&gatewaydb.TorSwitch{UUID: id(11), Name: "tor1", Endpoint: "tcp:192.0.2.10:6640", ReplicationNode: "gw1"},
		&gatewaydb.TorBinding{UUID: id(12), Switch: "tor1", Port: f.port, VLAN: int(f.torVLAN), Network: f.name},
	}
}

// FuzzConfigRows: config rows holding any values convert to the model without a panic, and
// incrementally as in full. A read the checks accept gives a config whose numbers are the
// rows' own (a VNI is never wrapped into range) and within range, and that validation takes
// without a panic; a refused read names every row at fault by table and column.
func FuzzConfigRows(f *testing.F) {
	good := fuzzRows{5001, 100, 0, 0, "blue", "eth1", "02:00:00:00:01:0a", "10.1.0.200/32 02:00:00:00:09:09", "ingress", "deny", "Ethernet1/1"}
	f.Add(good.vni, good.vlan, good.torVLAN, good.position, good.name, good.iface, good.mac, good.pair, good.direction, good.action, good.port, uint8(0))
	f.Add(int64(4294967297), int64(5000), int64(-1), int64(-1), "", "a-very-long-interface-name", "03:00:00:00:00:01", "x y z", "sideways", "", "", uint8(1))
	f.Add(int64(1<<24), int64(4094), int64(4095), int64(1<<40), "blue red", "eth1", "", "", "egress", "pass", "p", uint8(2))
	f.Fuzz(func(t *testing.T, vni, vlan, torVLAN, position int64, name, iface, mac, pair, direction, action, port string, change uint8) {
		in := fuzzRows{vni, vlan, torVLAN, position, name, iface, mac, pair, direction, action, port}
		first := in.rows()
		v1 := buildView(t, nil, first)
		checkView(t, v1, in)

		// A second read, one row changed (or none): incrementally as in full.
		second := in
		switch change % 4 {
		case 0:
			second.vni++
		case 1:
			second.vlan ^= 1
		case 2:
			second.direction = second.direction + "x"
		}
		rows2 := second.rows()
		for i := range rows2 { // unchanged rows keep their versions, as the cache's do
			if reflect.DeepEqual(rows2[i], first[i]) {
				rows2[i] = first[i]
			}
		}
		incremental := buildView(t, v1, rows2)
		full := buildView(t, nil, rows2)
		if !reflect.DeepEqual(incremental.cfg, full.cfg) || errText(incremental.err) != errText(full.err) {
			t.Fatalf("incremental view differs from a full one:\n%+v %v\n%+v %v", incremental.cfg, incremental.err, full.cfg, full.err)
		}
		checkView(t, full, second)
	})
}

func buildView(t *testing.T, prev *configView, rows []model.Model) *configView {
	t.Helper()
	r, err := configdb.NewConfigRead(rows...)
	if err != nil {
		t.Fatal(err)
	}
	return buildConfigView(prev, r)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkView holds a view to what it must be for rows made of in.
func checkView(t *testing.T, v *configView, in fuzzRows) {
	t.Helper()
	if v.err != nil {
		errs, ok := v.err.(configdb.RowErrors)
		if !ok || len(errs) == 0 {
			t.Fatalf("refusal %v (%T) lists no row", v.err, v.err)
		}
		for _, e := range errs {
			if e.Table == "" || e.Column == "" || !strings.Contains(e.Error(), e.Table+"[") {
				t.Fatalf("refusal %q names no table, row and column", e)
			}
		}
		return
	}
	// Accepted by the checks: the rows' numbers, within range.
	for _, vn := range v.cfg.VirtualNetworks {
		if vn.Name == in.name && in.name != "other" && (int64(vn.VNI) != in.vni || vn.VNI < 1 || vn.VNI > gwmodel.MaxVNI) {
			t.Fatalf("VN %q at VNI %d from a row with %d", vn.Name, vn.VNI, in.vni)
		}
	}
	for _, pr := range v.cfg.PhysicalRouters {
		for _, pi := range pr.PhysicalInterfaces {
			for _, li := range pi.LogicalInterfaces {
				if li.VLAN == nil || int64(*li.VLAN) != in.vlan || *li.VLAN < 0 || *li.VLAN > gwmodel.MaxVLAN {
					t.Fatalf("logical interface VLAN %v from a row with %d", li.VLAN, in.vlan)
				}
			}
		}
	}
	for _, sw := range v.cfg.TorSwitches {
		for _, b := range sw.Bindings {
			if b.VLAN == nil || int64(*b.VLAN) != in.torVLAN || *b.VLAN < 0 || *b.VLAN > gwmodel.MaxVLAN {
				t.Fatalf("switch binding VLAN %v from a row with %d", b.VLAN, in.torVLAN)
			}
		}
	}
	cfg := cloneConfig(v.cfg)
	if _, err := cfg.ValidateIndex(); err != nil {
		if _, ok := err.(gwmodel.Errors); !ok {
			t.Fatalf("validation error %v is %T, not model.Errors", err, err)
		}
	}
}
