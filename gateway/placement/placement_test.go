package placement

import (
	"slices"
	"testing"
)

func TestCompare(t *testing.T) {
	cases := []struct {
		name   string
		claims []Claim // in any order
		want   string  // the node that must win
	}{
		{"a dead gateway first by name loses to the live one", []Claim{
			{Node: "gw1", Stale: true, Since: 100}, {Node: "gw2", Since: 50}}, "gw2"},
		{"a live node wins even with the older role", []Claim{
			{Node: "gw2", Stale: true, Since: 900}, {Node: "gw1", Since: 1}}, "gw1"},
		{"the only binding, on a stale node, is kept", []Claim{
			{Node: "gw1", Stale: true, Since: 100}}, "gw1"},
		{"two live: the newer role wins", []Claim{
			{Node: "gw1", Since: 100}, {Node: "gw2", Since: 200}}, "gw2"},
		{"two stale: the newer role wins", []Claim{
			{Node: "gw1", Stale: true, Since: 300}, {Node: "gw2", Stale: true, Since: 200}}, "gw1"},
		{"a tie: the first by name", []Claim{
			{Node: "gw2", Since: 100}, {Node: "gw1", Since: 100}}, "gw1"},
		{"rows of older agents have no role_since: any dated role is newer", []Claim{
			{Node: "gw1"}, {Node: "gw2", Since: 5}}, "gw2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Every order of the input gives the same answer.
			for _, perm := range permutations(tc.claims) {
				best := perm[0]
				for _, c := range perm[1:] {
					if Prefer(c, best) {
						best = c
					}
				}
				if best.Node != tc.want {
					t.Errorf("%v: %s wins, want %s", perm, best.Node, tc.want)
				}
				sorted := slices.Clone(perm)
				slices.SortFunc(sorted, Compare)
				if sorted[0].Node != tc.want {
					t.Errorf("sorted %v: %s first, want %s", perm, sorted[0].Node, tc.want)
				}
			}
		})
	}
}

func permutations(in []Claim) [][]Claim {
	if len(in) <= 1 {
		return [][]Claim{slices.Clone(in)}
	}
	var out [][]Claim
	for i := range in {
		rest := append(slices.Clone(in[:i]), in[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]Claim{in[i]}, p...))
		}
	}
	return out
}
