package configstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/model"

	gwmodel "github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
)

// A database whose schema constrains no value, as 1.2.0's did (not yet converted), can hold a
// VNI of 2^32+1; converted to the model's 32 bits it was VNI 1, and was programmed. The config
// is refused whole, the error naming the table, the row, the column, the value and the range.
func TestVNIBeyond32BitsRefused(t *testing.T) {
	srv := configdbtest.NewStandalone(t, configdbtest.Unconstrained(t))
	c := connectTo(t, []string{srv.Endpoint})
	apply(t, c, parse(t, fullYAML))
	drain(c.ConfigChanged())
	srv.Transact(t, `{"op":"update","table":"Virtual_Network","where":[["name","==","blue"]],"row":{"vni":4294967297}}`)
	waitFired(t, c.ConfigChanged(), "ConfigChanged")
	cfg, err := c.Config()
	want := "Virtual_Network[blue].vni: 4294967297 is out of range 1..16777215"
	if err == nil || !strings.Contains(err.Error(), want) {
		var vni uint32
		if cfg != nil {
			for _, vn := range cfg.VirtualNetworks {
				if vn.Name == "blue" {
					vni = vn.VNI
				}
			}
		}
		t.Fatalf("config read with VN blue at VNI %d, error %v; want the config refused with %q", vni, err, want)
	}
	if cfg != nil {
		t.Errorf("a config came with the error: %+v", cfg)
	}

	// db show lists the row; the rest of the config still shows.
	v, err := c.View()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := v.Write(&out, time.Now(), configdb.StaleAfter); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"REFUSED CONFIG ROWS", "  " + want + "\n", "bms1  blue"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("db show lacks %q:\n%s", w, out.String())
		}
	}

	// Applying the config again rewrites the row; the config reads again.
	sum := apply(t, c, parse(t, fullYAML))
	if got := sum.String(); !strings.Contains(got, "change  virtual-network blue: vni") {
		t.Errorf("apply over the bad row:\n%s", got)
	}
	sameConfig(t, mustConfig(t, c), parse(t, fullYAML))
}

// The schema's ranges are the model's: a row at the model's bound is read, one past it is
// refused with the model's range (the schema and validation must not disagree).
func TestSchemaRangesMatchModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  func(n int) model.Model
		min  int
		max  int
	}{
		{"Virtual_Network.vni", func(n int) model.Model { return &gatewaydb.VirtualNetwork{UUID: "u", Name: "blue", Vni: n} }, 1, gwmodel.MaxVNI},
		{"Logical_Interface.vlan", func(n int) model.Model {
			return &gatewaydb.LogicalInterface{UUID: "u", Router: "gw1", Name: "li", PhysicalInterface: "eth1", VLAN: n, Vmi: "v"}
		}, 0, gwmodel.MaxVLAN},
		{"Tor_Binding.vlan", func(n int) model.Model {
			return &gatewaydb.TorBinding{UUID: "u", Switch: "tor1", Port: "p1", VLAN: n, Network: "blue"}
		}, 0, gwmodel.MaxVLAN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{tc.min - 1, tc.min, tc.max, tc.max + 1} {
				r, err := configdb.NewConfigRead(tc.row(n))
				if err != nil {
					t.Fatal(err)
				}
				v := buildConfigView(nil, r)
				inRange := n >= tc.min && n <= tc.max
				want := fmt.Sprintf("%d is out of range %d..%d", n, tc.min, tc.max)
				if inRange && v.err != nil || !inRange && (v.err == nil || !strings.Contains(v.err.Error(), want)) {
					t.Errorf("%d: %v, want %s", n, v.err, map[bool]string{true: "accepted", false: want}[inRange])
				}
			}
		})
	}
}
