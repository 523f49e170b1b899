package filesource

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
)

func TestMergeMergesAcrossPartsOnly(t *testing.T) {
	vlan := func(v int) *int { return &v }
	li := func(name string) model.LogicalInterface {
		return model.LogicalInterface{Name: name, VLAN: vlan(1), VMI: name}
	}
	pi := func(name string, lis ...model.LogicalInterface) model.PhysicalInterface {
		return model.PhysicalInterface{Name: name, LogicalInterfaces: lis}
	}
	pr := func(name string, pis ...model.PhysicalInterface) model.PhysicalRouter {
		return model.PhysicalRouter{Name: name, PhysicalInterfaces: pis}
	}
	cases := []struct {
		name  string
		parts [][]model.PhysicalRouter
		want  []model.PhysicalRouter
	}{
		{"one router and interface from two parts",
			[][]model.PhysicalRouter{{pr("gw1", pi("eth1", li("a")))}, {pr("gw1", pi("eth1", li("b")))}},
			[]model.PhysicalRouter{pr("gw1", pi("eth1", li("a"), li("b")))}},
		{"a new interface joins the router of an earlier part",
			[][]model.PhysicalRouter{{pr("gw1", pi("eth1", li("a")))}, {pr("gw1", pi("eth2", li("b")), pi("eth1", li("c")))}},
			[]model.PhysicalRouter{pr("gw1", pi("eth1", li("a"), li("c")), pi("eth2", li("b")))}},
		{"routers in order of first appearance",
			[][]model.PhysicalRouter{{pr("gw2", pi("eth1", li("a")))}, {pr("gw1", pi("eth1", li("b"))), pr("gw2", pi("eth1", li("c")))}},
			[]model.PhysicalRouter{pr("gw2", pi("eth1", li("a"), li("c"))), pr("gw1", pi("eth1", li("b")))}},
		{"a router twice in one part stays twice",
			[][]model.PhysicalRouter{{pr("gw1", pi("eth1", li("a"))), pr("gw1", pi("eth1", li("b")))}},
			[]model.PhysicalRouter{pr("gw1", pi("eth1", li("a"))), pr("gw1", pi("eth1", li("b")))}},
		{"an interface twice in one part stays twice, even merged into an earlier router",
			[][]model.PhysicalRouter{{pr("gw1", pi("eth1", li("a")))}, {pr("gw1", pi("eth1", li("b")), pi("eth1", li("c")))}},
			[]model.PhysicalRouter{pr("gw1", pi("eth1", li("a"), li("b")), pi("eth1", li("c")))}},
		{"a router twice in a later part: the second stays apart",
			[][]model.PhysicalRouter{{pr("gw1", pi("eth1", li("a")))}, {pr("gw1", pi("eth1", li("b"))), pr("gw1", pi("eth1", li("c")))}},
			[]model.PhysicalRouter{pr("gw1", pi("eth1", li("a"), li("b"))), pr("gw1", pi("eth1", li("c")))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var parts []*model.Config
			for _, routers := range tc.parts {
				parts = append(parts, &model.Config{PhysicalRouters: routers})
			}
			if got := merge(parts).PhysicalRouters; !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestPatchEqualsFullMerge is the oracle test of the incremental merge: after every random
// edit of random parts, patching the previous result (when the shapes allow it) must give
// exactly the full merge, and must leave the previous result as it was.
func TestPatchEqualsFullMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cache := map[[2]int]*model.Config{}
	part := func(i, variant int) *model.Config {
		if c := cache[[2]int{i, variant}]; c != nil {
			return c
		}
		c := mustParse(t, instanceYAML(i, variant))
		defer func() { cache[[2]int{i, variant}] = c }()
		switch variant % 5 {
		case 1: // a second logical interface on another interface and router
			c.PhysicalRouters = append(c.PhysicalRouters, model.PhysicalRouter{Name: fmt.Sprintf("gw%d", 2+i%3),
				PhysicalInterfaces: []model.PhysicalInterface{{Name: "eth9", LogicalInterfaces: c.PhysicalRouters[0].PhysicalInterfaces[0].LogicalInterfaces}}})
		case 2: // no logical interface at all
			c.PhysicalRouters[0].PhysicalInterfaces[0].LogicalInterfaces = nil
		case 3: // an extra security group
			c.SecurityGroups = []model.SecurityGroup{{Name: fmt.Sprintf("sg%d", variant)}}
		}
		return c
	}
	const n = 40
	parts := make([]*model.Config, n)
	variants := make([]int, n)
	for i := range parts {
		parts[i] = part(i, 0)
	}
	out, lay := mergeLayout(parts)
	patched := 0
	for round := range 400 {
		before := merge(parts) // what out must still be after the patch
		next := map[int]*model.Config{}
		reshaped := false
		for range 1 + rng.IntN(3) {
			k := rng.IntN(n)
			variants[k] = (variants[k] + 5*(1+rng.IntN(3))) % 40 // same shape: same variant modulo 5
			if rng.IntN(4) == 0 {
				variants[k] = (variants[k] + 1 + rng.IntN(4)) % 40 // another shape, probably
			}
			c := part(k, variants[k])
			if !sameShape(parts[k], c) {
				reshaped = true
			}
			parts[k], next[k] = c, c
		}
		want := merge(parts)
		var got *model.Config
		if reshaped {
			got, lay = mergeLayout(parts)
		} else {
			got = lay.patch(out, next)
			patched++
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d (patched %v): the result differs from the full merge", round, !reshaped)
		}
		if !reflect.DeepEqual(out, before) {
			t.Fatalf("round %d: the patch modified the previous result", round)
		}
		out = got
	}
	if patched < 100 {
		t.Fatalf("only %d of 400 rounds patched: the test does not exercise patch", patched)
	}
}
