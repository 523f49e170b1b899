package scale

import (
	"reflect"
	"sort"
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

func TestSecurityGroupsValidate(t *testing.T) {
	s := Spec{Host: "gw1", Remote: 300, SecurityGroups: true}
	x := load(t, s)
	if got := len(x.Config.SecurityGroups); got != 3 {
		t.Fatalf("%d security groups, want 3", got)
	}
	members := func(x *model.Index, g string) int {
		n := 0
		for _, v := range x.Config.VirtualMachineInterfaces {
			for _, sg := range v.SecurityGroups {
				if sg == g {
					n++
				}
			}
		}
		return n
	}
	if got := members(x, GroupPeers); got != PeerMembers {
		t.Errorf("%s has %d members, want %d", GroupPeers, got, PeerMembers)
	}
	if got, want := members(x, GroupAdmin), (300+AdminEvery-1)/AdminEvery; got != want {
		t.Errorf("%s has %d members, want %d", GroupAdmin, got, want)
	}
	joined := s.Clone()
	joined.Joined[200], joined.AltRule = true, true
	y := load(t, joined)
	if got := members(y, GroupPeers); got != PeerMembers+1 {
		t.Errorf("after a join %s has %d members", GroupPeers, got)
	}
	if s.Joined[200] || s.AltRule {
		t.Errorf("Clone shares its maps")
	}
	if !strings.Contains(joined.YAML(), `ports: "2222"`) || strings.Contains(s.YAML(), `ports: "2222"`) {
		t.Errorf("AltRule does not switch the admin rule's port")
	}
	if strings.Contains(Spec{Host: "gw1", Remote: 10}.YAML(), "securityGroups") {
		t.Errorf("a spec without SecurityGroups has groups")
	}
}

// TestFilesMergeToYAML merges the directory form as the agent documents it (routers and NICs
// of the same name merged, logical interfaces and other lists concatenated) and compares it
// with the single document.
func TestFilesMergeToYAML(t *testing.T) {
	s := Spec{Host: "gw1", Remote: 4100, SecurityGroups: true, Removed: map[int]bool{7: true}, Moved: map[int]bool{9: true}}
	files := s.Files()
	if len(files) != 4100 {
		t.Fatalf("%d files, want 4,099 instances and the base", len(files))
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if names[0] != BaseFile {
		t.Fatalf("%s sorts first, not %s", names[0], BaseFile)
	}
	merged := &model.Config{}
	for _, n := range names {
		c, err := model.Parse([]byte(files[n]))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		merged.VirtualNetworks = append(merged.VirtualNetworks, c.VirtualNetworks...)
		merged.VirtualMachineInterfaces = append(merged.VirtualMachineInterfaces, c.VirtualMachineInterfaces...)
		merged.SecurityGroups = append(merged.SecurityGroups, c.SecurityGroups...)
		for _, pr := range c.PhysicalRouters {
			if len(merged.PhysicalRouters) == 0 {
				merged.PhysicalRouters = append(merged.PhysicalRouters, model.PhysicalRouter{Name: pr.Name})
			}
			r := &merged.PhysicalRouters[0]
			for _, pi := range pr.PhysicalInterfaces {
				found := false
				for k := range r.PhysicalInterfaces {
					if r.PhysicalInterfaces[k].Name == pi.Name {
						r.PhysicalInterfaces[k].LogicalInterfaces = append(r.PhysicalInterfaces[k].LogicalInterfaces, pi.LogicalInterfaces...)
						found = true
					}
				}
				if !found {
					r.PhysicalInterfaces = append(r.PhysicalInterfaces, pi)
				}
			}
		}
	}
	if err := merged.Validate(); err != nil {
		t.Fatal(err)
	}
	whole, err := model.Parse([]byte(s.YAML()))
	if err != nil {
		t.Fatal(err)
	}
	canon := func(c *model.Config) *model.Config {
		for k := range c.PhysicalRouters[0].PhysicalInterfaces {
			lis := c.PhysicalRouters[0].PhysicalInterfaces[k].LogicalInterfaces
			sort.Slice(lis, func(i, j int) bool { return lis[i].Name < lis[j].Name })
		}
		vmis := c.VirtualMachineInterfaces
		sort.Slice(vmis, func(i, j int) bool { return vmis[i].Name < vmis[j].Name })
		return c
	}
	if !reflect.DeepEqual(canon(merged), canon(whole)) {
		t.Errorf("the merged directory differs from the single document")
	}
}
