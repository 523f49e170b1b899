package openflow

import (
	"errors"
	"strings"
	"testing"
)

func flow(table uint8, prio uint16, cookie uint64, port uint32, acts ...Action) Flow {
	if len(acts) == 0 {
		acts = []Action{Output{1}}
	}
	return Flow{Table: table, Priority: prio, Cookie: cookie, Match: Match{}.WithUint(FieldInPort, uint64(port)), Actions: acts}
}

func installed(fs ...Flow) []InstalledFlow {
	out := make([]InstalledFlow, len(fs))
	for i, f := range fs {
		out[i] = InstalledFlow{Flow: f, Packets: 9}
	}
	return out
}

// changeText prints changes one per line, for comparison.
func changeText(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

const (
	ours  = ourCookie | 1
	ours2 = ourCookie | 2
	other = foreignCookie
)

func TestDiff(t *testing.T) {
	a := flow(0, 10, ours, 1)
	aNewActions := flow(0, 10, ours, 1, Output{2})
	aNewCookie := flow(0, 10, ours2, 1)
	b := flow(0, 20, ours, 2)
	foreignA := flow(0, 10, other, 1, Output{7})
	masked := flow(1, 5, ours, 0)
	masked.Match = Match{}.WithUint(FieldEthType, 0x800).WithMasked(FieldIPv4Dst, ip("10.0.0.1"), ip("255.255.255.0"))
	maskedAsDumped := masked
	maskedAsDumped.Match = Match{}.WithUint(FieldEthType, 0x800).WithMasked(FieldIPv4Dst, ip("10.0.0.0"), ip("255.255.255.0"))

	for _, tc := range []struct {
		name      string
		desired   []Flow
		installed []Flow
		want      []Change
		conflict  string // text the error must contain; "" means no error
	}{
		{name: "nothing to do on an empty switch"},
		{name: "a missing flow is added", desired: []Flow{a}, want: []Change{FlowMod{FlowAdd, a}}},
		{name: "an identical flow needs no change", desired: []Flow{a}, installed: []Flow{a}},
		{name: "new actions modify the flow", desired: []Flow{aNewActions}, installed: []Flow{a},
			want: []Change{FlowMod{FlowModifyStrict, aNewActions}}},
		{name: "a new cookie alone modifies the flow", desired: []Flow{aNewCookie}, installed: []Flow{a},
			want: []Change{FlowMod{FlowModifyStrict, aNewCookie}}},
		{name: "an owned flow no longer desired is deleted with its installed cookie", installed: []Flow{aNewCookie},
			want: []Change{FlowMod{FlowDeleteStrict, aNewCookie}}},
		{name: "a foreign flow not desired survives", desired: []Flow{b}, installed: []Flow{foreignA},
			want: []Change{FlowMod{FlowAdd, b}}},
		{name: "a desired flow in a foreign flow's place is a conflict naming it", desired: []Flow{a, b},
			installed: []Flow{foreignA}, conflict: foreignA.String()},
		{name: "a foreign flow equal to the desired one is left alone", desired: []Flow{foreignA}, installed: []Flow{foreignA}},
		{name: "the masked value as OVS dumps it equals the desired one", desired: []Flow{masked}, installed: []Flow{maskedAsDumped}},
		{name: "two desired flows with one key and different actions are refused", desired: []Flow{a, aNewActions},
			conflict: "same table, priority and match"},
		{name: "a flow desired twice is added once", desired: []Flow{a, a}, want: []Change{FlowMod{FlowAdd, a}}},
		{name: "changes are sorted by table, descending priority, match",
			desired:   []Flow{flow(2, 1, ours, 1), flow(0, 5, ours, 3), flow(0, 9, ours, 1), flow(0, 5, ours, 2)},
			installed: []Flow{flow(1, 1, ours, 1)},
			want: []Change{FlowMod{FlowAdd, flow(0, 9, ours, 1)}, FlowMod{FlowAdd, flow(0, 5, ours, 2)},
				FlowMod{FlowAdd, flow(0, 5, ours, 3)}, FlowMod{FlowDeleteStrict, flow(1, 1, ours, 1)},
				FlowMod{FlowAdd, flow(2, 1, ours, 1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Diff(tc.desired, installed(tc.installed...), owned)
			if tc.conflict != "" {
				if err == nil || !strings.Contains(err.Error(), tc.conflict) || got != nil {
					t.Fatalf("Diff = %v, %v; want no changes and an error containing %q", got, err, tc.conflict)
				}
				return
			}
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			if g, w := changeText(got), changeText(tc.want); g != w {
				t.Errorf("changes:\n%s\nwant:\n%s", g, w)
			}
		})
	}
}

func TestDiffConflictIsTyped(t *testing.T) {
	foreign := flow(0, 10, other, 1, Output{7})
	want := flow(0, 10, ours, 1)
	_, err := Diff([]Flow{want}, installed(foreign), owned)
	var c *ConflictError
	if !errors.As(err, &c) || c.Installed != foreign.String() || c.Desired != want.String() {
		t.Fatalf("error %v is not a ConflictError for %s", err, foreign)
	}
}

func TestDiffGroups(t *testing.T) {
	ownedID := func(g Group) bool { return g.ID < 100 }
	g := func(id uint32, port uint32) Group {
		return Group{ID: id, Type: GroupAll, Buckets: []Bucket{{Actions: []Action{Output{port}}}}}
	}
	for _, tc := range []struct {
		name               string
		desired, installed []Group
		want               []Change
		conflict           string
	}{
		{name: "a missing group is added", desired: []Group{g(1, 1)}, want: []Change{GroupMod{GroupAdd, g(1, 1)}}},
		{name: "an identical group needs no change", desired: []Group{g(1, 1)}, installed: []Group{g(1, 1)}},
		{name: "other buckets modify the group", desired: []Group{g(1, 2)}, installed: []Group{g(1, 1)},
			want: []Change{GroupMod{GroupModify, g(1, 2)}}},
		{name: "an owned group no longer desired is deleted", installed: []Group{g(1, 1)},
			want: []Change{GroupMod{GroupDelete, g(1, 1)}}},
		{name: "a foreign group survives", installed: []Group{g(500, 1)}},
		{name: "a desired group in a foreign group's place is a conflict", desired: []Group{g(500, 2)},
			installed: []Group{g(500, 1)}, conflict: g(500, 1).String()},
		{name: "adds and modifies by id come before deletes by id",
			desired:   []Group{g(7, 1), g(3, 2), g(5, 1)},
			installed: []Group{g(4, 1), g(5, 9), g(2, 1), g(600, 1)},
			want: []Change{GroupMod{GroupAdd, g(3, 2)}, GroupMod{GroupModify, g(5, 1)}, GroupMod{GroupAdd, g(7, 1)},
				GroupMod{GroupDelete, g(2, 1)}, GroupMod{GroupDelete, g(4, 1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DiffGroups(tc.desired, tc.installed, ownedID)
			if tc.conflict != "" {
				if err == nil || !strings.Contains(err.Error(), tc.conflict) {
					t.Fatalf("DiffGroups = %v, %v; want an error containing %q", got, err, tc.conflict)
				}
				return
			}
			if err != nil {
				t.Fatalf("DiffGroups: %v", err)
			}
			if g, w := changeText(got), changeText(tc.want); g != w {
				t.Errorf("changes:\n%s\nwant:\n%s", g, w)
			}
		})
	}
}

// Plan puts group adds and modifies before flow changes (flows may use them) and group deletes
// after (deleting a group deletes the flows that use it).
func TestPlanOrdersGroupsAroundFlows(t *testing.T) {
	newGroup := Group{ID: 1, Type: GroupAll}
	oldGroup := Group{ID: 2, Type: GroupAll}
	f := flow(0, 1, ours, 1, GroupAction{1})
	old := flow(0, 2, ours, 1, GroupAction{2})
	got, err := Plan([]Flow{f}, installed(old), owned, []Group{newGroup}, []Group{oldGroup}, func(Group) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{GroupMod{GroupAdd, newGroup}, FlowMod{FlowDeleteStrict, old}, FlowMod{FlowAdd, f}, GroupMod{GroupDelete, oldGroup}}
	if g, w := changeText(got), changeText(want); g != w {
		t.Errorf("plan:\n%s\nwant:\n%s", g, w)
	}
	// Conflicts from flows and groups are reported together.
	_, err = Plan([]Flow{flow(0, 2, ours, 1)}, installed(flow(0, 2, other, 1, Output{3})), owned,
		[]Group{newGroup}, []Group{{ID: 1, Type: GroupSelect}}, func(Group) bool { return false })
	if err == nil || strings.Count(err.Error(), "refusing to overwrite") != 2 {
		t.Errorf("Plan error %v, want both conflicts", err)
	}
}
