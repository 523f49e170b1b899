package scale

import (
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
)

func load(t *testing.T, s Spec) *model.Index {
	t.Helper()
	c, err := model.Parse([]byte(s.YAML()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return model.NewIndex(c)
}

func TestGeneratedConfigsValidate(t *testing.T) {
	for _, n := range []int{1, 64, 4094, 4095, 4097} {
		x := load(t, Spec{Host: "gw1", Remote: n})
		if got := x.InterfacesUsed("gw1"); got != n*model.InterfacesPerRemoteVMI {
			t.Errorf("%d instances use %d interfaces", n, got)
		}
		if got, want := len(x.Router("gw1").PhysicalInterfaces), len(NICs(n)); got != want {
			t.Errorf("%d instances on %d NICs, want %d", n, got, want)
		}
	}
	all := Spec{Host: "gw1", Remote: 300, PerVN: 300, Moved: map[int]bool{}}
	for i := 0; i < 300; i++ {
		all.Moved[i] = i%2 == 0
	}
	load(t, all)
	gone := load(t, Spec{Host: "gw1", Remote: 4095, Removed: map[int]bool{4094: true, 7: true}})
	if gone.VMIs[Name(7)] != nil || gone.InterfacesUsed("gw1") != 4093*2 {
		t.Errorf("removed instances still there")
	}
	if y := (Spec{Host: "gw1", Remote: 4095, Removed: map[int]bool{4094: true}}).YAML(); !strings.Contains(y, "{name: eth2, logicalInterfaces: []}") {
		t.Errorf("an emptied NIC is not kept")
	}
}
