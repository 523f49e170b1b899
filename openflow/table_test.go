package openflow

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// ownedGroupID is the group ownership the example tests use: ids below 100 are ours.
func ownedGroupID(id uint32) bool { return id < 100 }

func newTestTable() *FlowTable {
	return NewFlowTable(owned, func(g Group) bool { return ownedGroupID(g.ID) })
}

// testMark marks the groups the randomized tests' units want, as ovsgw marks its own: a group
// is owned when its first bucket starts with it (ownedMarked), whatever its id.
var testMark = Note{Data: []byte("ours:1")}

func ownedMarked(g Group) bool {
	return len(g.Buckets) > 0 && len(g.Buckets[0].Actions) > 0 && g.Buckets[0].Actions[0].String() == testMark.String()
}

func newMarkedTable() *FlowTable { return NewFlowTable(owned, ownedMarked) }

// Every action and match codecFlows covers survives the table's encodings with the same text,
// and re-encodes to the same bytes.
func TestTableEncodingsRoundTrip(t *testing.T) {
	extra := []Flow{
		{Actions: []Action{UnknownAction{Raw: []byte{0, 7, 0, 8, 1, 2, 3, 4}}, UnknownAction{Instruction: true, Raw: []byte{0, 5, 0, 8, 0, 0, 0, 0}}}},
		{Actions: []Action{SetField{Field: FieldIPv6Src, Value: ip("fe80::1")}, SetVlanVID(100), CT{Commit: true, Recirculate: true, Table: 4, Zone: 65535}}},
		{Match: Match{}.With(UnknownField(0xffff, 3, true), []byte{0, 0, 0x23, 0x20, 1, 2, 3, 4}).WithCTState(CTTrk|CTEst, CTInv).
			WithMasked(FieldIPv6Dst, ip("fd00::"), ip("ffff:ffff::"))},
	}
	for _, f := range append(codecFlows(), extra...) {
		enc := packActions(nil, f.Actions)
		back := unpackActions(string(enc))
		if g, w := actionsString(back), actionsString(f.Actions); g != w {
			t.Errorf("actions %s came back as %s", w, g)
		}
		if again := packActions(nil, back); string(again) != string(enc) {
			t.Errorf("actions %s re-encode differently", f.ActionsString())
		}
		k := f.Key()
		m := decodeIdentity(k.Match)
		if g, w := m.String(), f.Match.String(); g != w {
			t.Errorf("match %s came back as %s", w, g)
		}
		if m.identity() != k.Match {
			t.Errorf("match %s re-encodes differently", f.Match)
		}
		g := Group{ID: 7, Type: GroupSelect, Buckets: []Bucket{{Actions: f.Actions}, {}, {Actions: []Action{Output{3}}}}}
		if got := groupOf(7, val{enc: string(packGroup(nil, g))}); got.String() != g.String() {
			t.Errorf("group %s came back as %s", g, got)
		}
	}
}

// The encoding is what equality compares, so it must agree with the canonical text Diff
// compares: alike exactly when the texts are, including spellings that print alike.
func TestTableActionEncodingEqualsTextEquality(t *testing.T) {
	pool := []Action{
		Output{1}, Output{2}, Output{PortInPort}, PopVLAN{}, PushVLAN{}, PushVLAN{0x8100}, PushVLAN{0x88a8},
		SetUint(FieldReg0, 1), SetUint(FieldReg0, 2), SetUint(FieldReg1, 1), SetVlanVID(5), SetVlanVID(6),
		GroupAction{1}, GroupAction{2}, Resubmit{1}, GotoTable{1}, GotoTable{2},
		Move{FieldReg0, FieldReg1}, Move{FieldReg1, FieldReg0}, DecTTL{},
		CT{}, CT{Table: 7}, CT{Commit: true}, CT{Recirculate: true}, CT{Recirculate: true, Table: 7}, CT{Zone: 3},
		Conjunction{ID: 7, Clause: 1, NClauses: 2}, Conjunction{ID: 7, Clause: 2, NClauses: 2},
		Conjunction{ID: 8, Clause: 1, NClauses: 2}, Conjunction{ID: 7, Clause: 1, NClauses: 3},
		UnknownAction{Raw: []byte{1, 2, 3}}, UnknownAction{Instruction: true, Raw: []byte{1, 2, 3}},
		Note{}, Note{Data: []byte{1}}, Note{Data: []byte{1, 0, 0, 0, 0, 0}}, Note{Data: []byte{1, 0, 0, 0, 0, 0, 0}},
	}
	rng := rand.New(rand.NewSource(1))
	pick := func() []Action {
		out := make([]Action, rng.Intn(3))
		for i := range out {
			out[i] = pool[rng.Intn(len(pool))]
		}
		return out
	}
	alike := 0
	for range 20000 {
		a, b := pick(), pick()
		sameText := actionsString(a) == actionsString(b)
		sameEnc := string(packActions(nil, a)) == string(packActions(nil, b))
		if sameText != sameEnc {
			t.Fatalf("%s and %s: same text %v, same encoding %v", actionsString(a), actionsString(b), sameText, sameEnc)
		}
		if sameText && !reflect.DeepEqual(a, b) {
			alike++
		}
	}
	if alike == 0 {
		t.Fatal("no pair of different actions that print alike was tried")
	}
}

// A zero mask matches everything, so {reg0=0/0} is the empty match: one key, as their texts say.
func TestKeyOfWildcardMaskIsTheEmptyMatch(t *testing.T) {
	wild := Flow{Match: Match{{Field: FieldReg0, Value: FieldReg0.Uint(0), Mask: FieldReg0.Uint(0)}}}
	if wild.Key() != (Flow{}).Key() {
		t.Errorf("key of %q differs from the empty match's", wild.Match)
	}
}

// tf is a flow of the table tests: key (table 0, prio, in_port=port), cookie and output port.
func tf(prio uint16, port uint32, cookie uint64, out uint32) Flow {
	return flow(0, prio, cookie, port, Output{out})
}

func tg(id uint32, acts ...Action) Group {
	return Group{ID: id, Type: GroupAll, Buckets: []Bucket{{Actions: acts}}}
}

func changesText(t *testing.T, tab *FlowTable) (string, string) {
	t.Helper()
	ch, conf := tab.Changes()
	var b strings.Builder
	for _, c := range conf {
		b.WriteString(c.Error())
		b.WriteByte('\n')
	}
	return changeText(ch), b.String()
}

func TestFlowTable(t *testing.T) {
	a, a2, aCookie := tf(10, 1, ours, 1), tf(10, 1, ours, 2), tf(10, 1, ours2, 1)
	b := tf(10, 2, ours, 1)
	foreignA := tf(10, 1, other, 7)
	for _, tc := range []struct {
		name      string
		installed []Flow
		steps     func(tab *FlowTable)
		want      []Change
		conflicts []string // texts the conflicts contain, in order
	}{
		{name: "a new key is added", steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{a}, nil) },
			want: []Change{FlowMod{FlowAdd, a}}},
		{name: "new actions at an installed key modify it", installed: []Flow{a},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{a2}, nil) }, want: []Change{FlowMod{FlowModifyStrict, a2}}},
		{name: "a new cookie alone modifies", installed: []Flow{a},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{aCookie}, nil) }, want: []Change{FlowMod{FlowModifyStrict, aCookie}}},
		{name: "an identical installed flow needs nothing", installed: []Flow{a},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{a}, nil) }},
		{name: "an owned stray is deleted with its installed cookie after a reset", installed: []Flow{aCookie},
			want: []Change{FlowMod{FlowDeleteStrict, aCookie}}},
		{name: "a foreign stray survives", installed: []Flow{foreignA},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{b}, nil) }, want: []Change{FlowMod{FlowAdd, b}}},
		{name: "a conflict is reported and left out, the rest proceeds", installed: []Flow{foreignA},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{a, b}, nil) }, want: []Change{FlowMod{FlowAdd, b}},
			conflicts: []string{foreignA.String()}},
		{name: "a foreign flow equal to the desired one is left alone", installed: []Flow{foreignA},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{foreignA}, nil) }},
		{name: "removing a unit deletes its installed flows", installed: []Flow{a, b},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{a, b}, nil); tab.RemoveUnit("u") },
			want:  []Change{FlowMod{FlowDeleteStrict, a}, FlowMod{FlowDeleteStrict, b}}},
		{name: "a flow two units want equally survives the removal of one", installed: []Flow{a},
			steps: func(tab *FlowTable) {
				tab.SetUnit("u1", []Flow{a}, nil)
				tab.SetUnit("u2", []Flow{a}, nil)
				tab.RemoveUnit("u1")
			}},
		{name: "of two different wishes the lowest unit name wins", installed: []Flow{a},
			steps: func(tab *FlowTable) {
				tab.SetUnit("u2", []Flow{a}, nil)
				tab.SetUnit("u1", []Flow{a2}, nil)
			}, want: []Change{FlowMod{FlowModifyStrict, a2}}},
		{name: "when the winner leaves the other wish takes over", installed: []Flow{a2},
			steps: func(tab *FlowTable) {
				tab.SetUnit("u1", []Flow{a2}, nil)
				tab.SetUnit("u2", []Flow{a}, nil)
				tab.RemoveUnit("u1")
			}, want: []Change{FlowMod{FlowModifyStrict, a}}},
		{name: "replacing a unit with the same flows needs nothing", installed: []Flow{a, b},
			steps: func(tab *FlowTable) { tab.SetUnit("u", []Flow{a, b}, nil); tab.SetUnit("u", []Flow{b, a}, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTestTable()
			tab.Reset(installed(tc.installed...), nil)
			if tc.steps != nil {
				tc.steps(tab)
			}
			got, conf := changesText(t, tab)
			if w := changeText(tc.want); got != w {
				t.Errorf("changes:\n%s\nwant:\n%s", got, w)
			}
			if n := strings.Count(conf, "\n"); n != len(tc.conflicts) {
				t.Errorf("conflicts:\n%s\nwant %d", conf, len(tc.conflicts))
			}
			for _, c := range tc.conflicts {
				if !strings.Contains(conf, c) {
					t.Errorf("conflicts:\n%s\nwant one naming %s", conf, c)
				}
			}
		})
	}
}

// Units disagreeing about a key are reported: who won, who lost, with both flows' text.
func TestFlowTableDuplicates(t *testing.T) {
	a, a2, a3 := tf(10, 1, ours, 1), tf(10, 1, ours, 2), tf(10, 1, ours, 3)
	g1, g2 := tg(1, Output{1}), tg(1, Output{2})
	tab := newTestTable()
	tab.SetUnit("vmi/b", []Flow{a2}, []Group{g2})
	tab.SetUnit("vmi/a", []Flow{a, a3}, []Group{g1}) // a3: the same unit wants the key twice
	tab.SetUnit("vmi/c", []Flow{a}, nil)             // agrees with the winner: no duplicate
	var got []string
	for _, d := range tab.Duplicates() {
		got = append(got, fmt.Sprintf("%s %s | %s %s", d.KeptUnit, d.Kept, d.DroppedUnit, d.Dropped))
	}
	want := []string{
		fmt.Sprintf("vmi/a %s | vmi/a %s", a, a3),
		fmt.Sprintf("vmi/a %s | vmi/b %s", a, a2),
		fmt.Sprintf("vmi/a %s | vmi/b %s", g1, g2),
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("duplicates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if df, dg := tab.Desired(); len(df) != 1 || !df[0].Equal(a) || len(dg) != 1 || !dg[0].Equal(g1) {
		t.Errorf("desired %v %v, want the winners %s and %s", df, dg, a, g1)
	}
	tab.RemoveUnit("vmi/a")
	if d := tab.Duplicates(); len(d) != 1 || d[0].KeptUnit != "vmi/b" || d[0].DroppedUnit != "vmi/c" {
		t.Errorf("after vmi/a left: %v, want vmi/b kept over vmi/c", d)
	}
	tab.RemoveUnit("vmi/c")
	if d := tab.Duplicates(); len(d) != 0 {
		t.Errorf("duplicates %v after the disagreement ended", d)
	}
}

// Without Committed (the bundle failed) the same changes come again; Committed makes them
// installed and the next Changes is empty.
func TestFlowTableCommitted(t *testing.T) {
	a, b := tf(10, 1, ours, 1), tf(10, 2, ours, 1)
	tab := newTestTable()
	tab.SetUnit("u", []Flow{a, b}, nil)
	first, _ := tab.Changes()
	again, _ := tab.Changes()
	if changeText(first) != changeText(again) || len(first) != 2 {
		t.Fatalf("uncommitted changes came back as\n%s\nwant\n%s", changeText(again), changeText(first))
	}
	tab.Committed(again)
	if ch, _ := tab.Changes(); len(ch) != 0 {
		t.Errorf("changes after commit:\n%s", changeText(ch))
	}
	if f, g := tab.tracked(); f+g != 0 {
		t.Errorf("%d flows and %d groups still tracked", f, g)
	}
	inst, _ := tab.Installed()
	if len(inst) != 2 || !inst[0].Equal(a) || !inst[1].Equal(b) {
		t.Errorf("installed %v", inst)
	}

	// The unit changes between Changes and Committed: the key stays tracked with its new wish.
	a2 := tf(10, 1, ours, 2)
	tab.SetUnit("u", []Flow{a2, b}, nil)
	ch, _ := tab.Changes()
	a3 := tf(10, 1, ours, 3)
	tab.SetUnit("u", []Flow{a3, b}, nil)
	tab.Committed(ch)
	if got, want := changeText(must(tab.Changes())), changeText([]Change{FlowMod{FlowModifyStrict, a3}}); got != want {
		t.Errorf("after a commit overtaken by a new wish:\n%s\nwant\n%s", got, want)
	}
}

func must(ch []Change, _ []*ConflictError) []Change { return ch }

// Replacing one unit of many tracks only that unit's keys, and only those that changed.
func TestFlowTableTracksOnlyTheUnit(t *testing.T) {
	tab := newTestTable()
	units := benchUnits(200, 0)
	for i, fs := range units {
		tab.SetUnit(unitName(i), fs, nil)
	}
	tab.Committed(must(tab.Changes()))
	changed := slices.Clone(units[7])
	changed[0].Actions = []Action{Output{99}}
	changed[3].Cookie++
	tab.SetUnit(unitName(7), changed, nil)
	if f, _ := tab.tracked(); f != 2 {
		t.Errorf("%d keys tracked, want the 2 that changed", f)
	}
	ch := must(tab.Changes())
	if len(ch) != 2 {
		t.Errorf("changes:\n%s\nwant 2 modifies", changeText(ch))
	}
}

// Groups go deepest-referenced first when added or modified and the other way round when
// deleted, also when the referenced group is not itself changed but only installed.
func TestFlowTableGroupOrder(t *testing.T) {
	leaf, mid, top := tg(3, Output{1}), tg(2, GroupAction{3}), tg(1, GroupAction{2})
	oldTop, oldLeaf := tg(5, GroupAction{6}), tg(6, Output{1})
	tab := newTestTable()
	tab.Reset(nil, []Group{leaf, oldTop, oldLeaf})
	tab.SetUnit("u", []Flow{tf(1, 1, ours, 1)}, []Group{top, mid, leaf})
	want := []Change{GroupMod{GroupAdd, mid}, GroupMod{GroupAdd, top}, FlowMod{FlowAdd, tf(1, 1, ours, 1)},
		GroupMod{GroupDelete, oldTop}, GroupMod{GroupDelete, oldLeaf}}
	if got := changeText(must(tab.Changes())); got != changeText(want) {
		t.Errorf("changes:\n%s\nwant:\n%s", got, changeText(want))
	}
}

// With every key tracked (after Reset), Changes is Plan over Desired and Installed.
func TestFlowTableAfterResetIsPlan(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for round := range 200 {
		tab := newMarkedTable()
		m := newTableModel(rng)
		for range 1 + rng.Intn(5) {
			m.setRandomUnit(tab)
		}
		sw := randomSwitch(rng)
		tab.Reset(sw.dump())
		checkAgainstPlan(t, fmt.Sprintf("round %d", round), tab)
	}
}

// The property test: random units with random flows and groups (keys overlapping across units),
// random commits, dropped commits, foreign changes on the switch and resyncs. After each step
// the desired state is what the units ask for, Changes is what Plan says over Desired and
// Installed, Installed is what the switch holds, and after a commit the switch holds what is
// desired, foreign entries untouched.
func TestFlowTableRandomized(t *testing.T) {
	for seed := int64(1); seed <= 24; seed++ {
		rng := rand.New(rand.NewSource(seed))
		tab := newMarkedTable()
		m := newTableModel(rng)
		sw := randomSwitch(rng)
		tab.Reset(sw.dump())
		for step := range 120 {
			where := fmt.Sprintf("seed %d step %d", seed, step)
			switch r := rng.Intn(100); {
			case r < 40:
				m.setRandomUnit(tab)
			case r < 50:
				m.removeRandomUnit(tab)
			case r < 75: // a sync whose bundle commits
				ch, conf := tab.Changes()
				if rng.Intn(4) == 0 {
					m.setRandomUnit(tab) // the compiler moved on before the commit was recorded
				}
				before := sw.foreign()
				sw.apply(ch)
				if len(sw.harm) > 0 {
					t.Fatalf("%s: %s", where, strings.Join(sw.harm, "\n"))
				}
				tab.Committed(ch)
				after := sw.foreign()
				for k, was := range before {
					if after[k] != was {
						t.Fatalf("%s: foreign %s became %q", where, was, after[k])
					}
				}
				if !m.movedOn {
					checkConverged(t, where, tab, conf)
				}
			case r < 85: // a sync whose bundle fails: nothing recorded
				tab.Changes()
			case r < 92: // a failed bundle or a periodic resync: read the switch back
				tab.Changes()
				tab.Reset(sw.dump())
			default: // someone else changes the switch, and a resync notices
				sw.foreignEdit(rng)
				tab.Reset(sw.dump())
			}
			m.movedOn = false
			m.check(t, where, tab)
			if got, want := dumpText(tab.Installed()), dumpText(sw.dump()); got != want {
				t.Fatalf("%s: installed:\n%s\nswitch:\n%s", where, got, want)
			}
			if rng.Intn(2) == 0 {
				checkAgainstPlan(t, where, tab)
			}
		}
	}
}

// checkAgainstPlan compares Changes with Plan over Desired and Installed: the conflicts with
// Plan's error, and the changes with Plan's once the conflicts are settled the way the table
// settles them (leaveAlone).
func checkAgainstPlan(t *testing.T, where string, tab *FlowTable) {
	t.Helper()
	df, dg := tab.Desired()
	inf, ing := tab.Installed()
	_, planErr := Plan(df, inf, owned, dg, ing, tab.ownedGroup)
	ch, conf := tab.Changes()
	var confErr error
	if len(conf) > 0 {
		errs := make([]error, len(conf))
		for i, c := range conf {
			errs[i] = c
		}
		confErr = errors.Join(errs...)
	}
	if fmt.Sprint(planErr) != fmt.Sprint(confErr) {
		t.Fatalf("%s: conflicts:\n%v\nPlan:\n%v", where, confErr, planErr)
	}
	df, dg = leaveAlone(conflictsIn(planErr), df, dg, inf, ing)
	want, err := Plan(df, inf, owned, dg, ing, tab.ownedGroup)
	if err != nil {
		t.Fatalf("%s: Plan without the conflicts: %v", where, err)
	}
	if got, w := changeText(ch), changeText(want); got != w {
		t.Fatalf("%s: changes:\n%s\nPlan:\n%s", where, got, w)
	}
}

// leaveAlone turns the desired entries into what the table makes of them given conflicts: the
// entry a conflict is about is wanted as it is installed (or not at all when it is not).
func leaveAlone(conflicts []*ConflictError, df []Flow, dg []Group, inf []InstalledFlow, ing []Group) ([]Flow, []Group) {
	refused, keep := map[string]bool{}, map[string]bool{}
	for _, c := range conflicts {
		refused[c.Desired] = true
		if c.Kind == ConflictInUse {
			keep[c.Installed] = true
		}
	}
	keys := map[Key]bool{}
	df = slices.DeleteFunc(slices.Clone(df), func(f Flow) bool {
		keys[f.Key()] = refused[f.String()]
		return refused[f.String()]
	})
	for _, f := range inf {
		if keys[f.Key()] {
			df = append(df, f.Flow)
		}
	}
	ids := map[uint32]bool{}
	dg = slices.DeleteFunc(slices.Clone(dg), func(g Group) bool {
		ids[g.ID] = refused[g.String()]
		return refused[g.String()]
	})
	for _, g := range ing {
		if ids[g.ID] || keep[g.String()] {
			dg = append(dg, g)
		}
	}
	return df, dg
}

func conflictsIn(err error) []*ConflictError {
	if c, ok := err.(*ConflictError); ok {
		return []*ConflictError{c}
	}
	var out []*ConflictError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, conflictsIn(e)...)
		}
	}
	return out
}

// checkConverged checks the state right after a commit with no wish in between: every desired
// entry is installed unless it conflicts, every owned installed entry is desired unless a
// conflict keeps it, and the next Changes has nothing to do but the same conflicts.
func checkConverged(t *testing.T, where string, tab *FlowTable, conf []*ConflictError) {
	t.Helper()
	df, dg := tab.Desired()
	inf, ing := tab.Installed()
	df, dg = leaveAlone(conf, df, dg, inf, ing)
	have := map[Key]Flow{}
	for _, f := range inf {
		have[f.Key()] = f.Flow
		if owned(f.Cookie) && !slices.ContainsFunc(df, func(d Flow) bool { return d.Equal(f.Flow) }) {
			t.Fatalf("%s: owned %s installed but not desired", where, f.Flow)
		}
	}
	for _, f := range df {
		if h, ok := have[f.Key()]; !ok || !h.Equal(f) {
			t.Fatalf("%s: desired %s not installed", where, f)
		}
	}
	haveG := map[uint32]Group{}
	for _, g := range ing {
		haveG[g.ID] = g
		if tab.ownedGroup(g) && !slices.ContainsFunc(dg, g.Equal) {
			t.Fatalf("%s: owned group %s installed but not desired", where, g)
		}
	}
	for _, g := range dg {
		if h, ok := haveG[g.ID]; !ok || !h.Equal(g) {
			t.Fatalf("%s: desired group %s not installed", where, g)
		}
	}
	ch, again := tab.Changes()
	if len(ch) != 0 || len(again) != len(conf) {
		t.Fatalf("%s: after a commit, changes:\n%s\nconflicts %v (were %v)", where, changeText(ch), again, conf)
	}
}

func dumpText(flows []InstalledFlow, groups []Group) string {
	var lines []string
	for _, f := range flows {
		lines = append(lines, f.Flow.String())
	}
	for _, g := range groups {
		lines = append(lines, g.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// tableModel is what the units asked for, kept naively: the oracle of Desired and Duplicates.
type tableModel struct {
	rng     *rand.Rand
	units   map[string]modelUnit
	movedOn bool // a unit changed between Changes and Committed
}

type modelUnit struct {
	flows  []Flow
	groups []Group
}

func newTableModel(rng *rand.Rand) *tableModel {
	return &tableModel{rng: rng, units: map[string]modelUnit{}}
}

// Small pools, so that units want the same keys, often with other contents.
var (
	modelCookies = []uint64{ours, ours2}
	modelUnits   = []string{"vmi/a", "vmi/b", "vmi/c", "vn/x", "vn/y"}
)

func randomMatch(rng *rand.Rand) Match {
	m := Match{}.WithUint(FieldInPort, uint64(1+rng.Intn(4)))
	switch rng.Intn(4) {
	case 0:
		// value bits outside the mask: the same key as with them cleared
		m = m.WithMasked(FieldReg0, FieldReg0.Uint(0x1234), FieldReg0.Uint(0xff00))
	case 1:
		m = m.WithMasked(FieldReg0, FieldReg0.Uint(0x1200), FieldReg0.Uint(0xff00))
	}
	return m
}

func randomActions(rng *rand.Rand) []Action {
	switch rng.Intn(5) {
	case 0:
		return nil
	case 1:
		ids := []uint32{1, 2, 3, 4, 100} // 100: a foreign group's id, usually
		return []Action{GroupAction{ids[rng.Intn(len(ids))]}}
	case 2:
		return []Action{PushVLAN{}, SetVlanVID(uint16(rng.Intn(2))), Output{1}}
	}
	return []Action{SetUint(FieldReg1, uint64(rng.Intn(2))), Output{uint32(1 + rng.Intn(2))}}
}

func tableRandomFlow(rng *rand.Rand, cookies []uint64) Flow {
	return Flow{Table: uint8(rng.Intn(2)), Priority: uint16(1 + rng.Intn(2)), Cookie: cookies[rng.Intn(len(cookies))],
		Match: randomMatch(rng), Actions: randomActions(rng)}
}

// randomGroup: ids 1..5 are usually ours, 100..101 usually foreign, but either may be the
// other's (a marked group, ownedMarked, is ours). A group refers only to groups earlier in
// groupRank (foreign ids first, so that ours may chain through a foreign id), so chains have
// no loops.
func randomGroup(rng *rand.Rand, ids []uint32, marked bool) Group {
	id := ids[rng.Intn(len(ids))]
	rank := slices.Index(groupRank, id)
	g := Group{ID: id, Type: GroupType(rng.Intn(2))}
	for range rng.Intn(3) {
		acts := []Action{Output{uint32(1 + rng.Intn(2))}}
		if rank > 0 && rng.Intn(2) == 0 {
			acts = []Action{GroupAction{groupRank[rng.Intn(rank)]}}
		}
		g.Buckets = append(g.Buckets, Bucket{Actions: acts})
	}
	if marked {
		if len(g.Buckets) == 0 {
			g.Buckets = []Bucket{{}}
		}
		g.Buckets[0].Actions = append([]Action{testMark}, g.Buckets[0].Actions...)
	}
	return g
}

var (
	ownGroupIDs     = []uint32{1, 2, 3, 4, 5}
	foreignGroupIDs = []uint32{100, 101}
	groupRank       = append(slices.Clone(foreignGroupIDs), ownGroupIDs...)
)

func (m *tableModel) setRandomUnit(tab *FlowTable) {
	rng := m.rng
	name := modelUnits[rng.Intn(len(modelUnits))]
	var u modelUnit
	for range rng.Intn(8) {
		u.flows = append(u.flows, tableRandomFlow(rng, modelCookies))
	}
	for range rng.Intn(3) {
		ids := ownGroupIDs
		if rng.Intn(4) == 0 {
			ids = foreignGroupIDs // wanting a foreign group's id: a conflict when it exists
		}
		u.groups = append(u.groups, randomGroup(rng, ids, true))
	}
	if len(u.flows)+len(u.groups) == 0 {
		delete(m.units, name)
	} else {
		m.units[name] = u
	}
	tab.SetUnit(name, u.flows, u.groups)
	m.movedOn = true
}

func (m *tableModel) removeRandomUnit(tab *FlowTable) {
	name := modelUnits[m.rng.Intn(len(modelUnits))]
	delete(m.units, name)
	tab.RemoveUnit(name)
	m.movedOn = true
}

// check compares Desired, Duplicates and Len with what the model's units ask for.
func (m *tableModel) check(t *testing.T, where string, tab *FlowTable) {
	t.Helper()
	names := make([]string, 0, len(m.units))
	for n := range m.units {
		names = append(names, n)
	}
	sort.Strings(names)
	winF, winG := map[Key]Flow{}, map[uint32]Group{}
	winFU, winGU := map[Key]string{}, map[uint32]string{}
	var dups []string
	seen := map[string]bool{}
	lost := func(s string) {
		if !seen[s] {
			seen[s] = true
			dups = append(dups, s)
		}
	}
	for _, n := range names {
		for _, f := range m.units[n].flows {
			k := f.Key()
			w, ok := winF[k]
			switch {
			case !ok:
				winF[k], winFU[k] = f, n
			case w.Cookie != f.Cookie || w.ActionsString() != f.ActionsString():
				lost(fmt.Sprintf("%s %s | %s %s", winFU[k], w, n, f))
			}
		}
		for _, g := range m.units[n].groups {
			w, ok := winG[g.ID]
			switch {
			case !ok:
				winG[g.ID], winGU[g.ID] = g, n
			case !w.Equal(g):
				lost(fmt.Sprintf("%s %s | %s %s", winGU[g.ID], w, n, g))
			}
		}
	}
	var wantF []Flow
	for _, f := range winF {
		wantF = append(wantF, f)
	}
	var wantG []Group
	for _, g := range winG {
		wantG = append(wantG, g)
	}
	sortByFlow(wantF, func(f Flow) Flow { return f })
	sort.Slice(wantG, func(i, j int) bool { return wantG[i].ID < wantG[j].ID })
	df, dg := tab.Desired()
	if got, want := flowsText(df)+groupsText(dg), flowsText(wantF)+groupsText(wantG); got != want {
		t.Fatalf("%s: desired:\n%s\nwant:\n%s", where, got, want)
	}
	var got []string
	for _, d := range tab.Duplicates() {
		got = append(got, fmt.Sprintf("%s %s | %s %s", d.KeptUnit, d.Kept, d.DroppedUnit, d.Dropped))
	}
	sort.Strings(got)
	sort.Strings(dups)
	if !slices.Equal(got, dups) {
		t.Fatalf("%s: duplicates:\n%s\nwant:\n%s", where, strings.Join(got, "\n"), strings.Join(dups, "\n"))
	}
	inf, ing := tab.Installed()
	if a, b, c, d := tab.Len(); a != len(df) || b != len(dg) || c != len(inf) || d != len(ing) {
		t.Fatalf("%s: Len %d %d %d %d, want %d %d %d %d", where, a, b, c, d, len(df), len(dg), len(inf), len(ing))
	}
	if got := tab.Units(); !slices.Equal(got, names) {
		t.Fatalf("%s: units %v, want %v", where, got, names)
	}
}

func flowsText(fs []Flow) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func groupsText(gs []Group) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString(g.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// simSwitch is a switch that takes committed changes, and that someone else edits too.
type simSwitch struct {
	flows  map[Key]Flow
	groups map[uint32]Group
	// harm lists what ovsgw's changes did to others: a deleted group that a foreign flow or
	// group used (OVS deletes those flows with it), a flow of ovsgw's sending packets into a
	// foreign group.
	harm []string
}

func randomSwitch(rng *rand.Rand) *simSwitch {
	sw := &simSwitch{flows: map[Key]Flow{}, groups: map[uint32]Group{}}
	for range rng.Intn(6) {
		f := tableRandomFlow(rng, append(modelCookies, other))
		sw.flows[f.Key()] = f
	}
	for range rng.Intn(3) {
		g := randomGroup(rng, ownGroupIDs, true) // ours, left by an earlier run
		if rng.Intn(2) == 0 {
			g = randomGroup(rng, groupRank, false) // someone else's, anywhere
		}
		sw.groups[g.ID] = g
	}
	return sw
}

func (sw *simSwitch) dump() ([]InstalledFlow, []Group) {
	var flows []InstalledFlow
	for _, f := range sw.flows {
		flows = append(flows, InstalledFlow{Flow: f, Packets: 3})
	}
	var groups []Group
	for _, g := range sw.groups {
		groups = append(groups, g)
	}
	return flows, groups
}

// apply makes changes as OVS does: an add replaces the entry at its key, a strict delete
// removes it only while it carries the cookie.
func (sw *simSwitch) apply(changes []Change) {
	for _, c := range changes {
		switch c := c.(type) {
		case FlowMod:
			k := c.Flow.Key()
			if c.Command != FlowDeleteStrict {
				sw.flows[k] = c.Flow
				groupRefsOf(c.Flow.Actions, func(id uint32) {
					if g, ok := sw.groups[id]; ok && !ownedMarked(g) {
						sw.harm = append(sw.harm, fmt.Sprintf("%s sends packets into foreign group %s", c.Flow, g))
					}
				})
			} else if h, ok := sw.flows[k]; ok && h.Cookie == c.Flow.Cookie {
				delete(sw.flows, k)
			}
		case GroupMod:
			if c.Command == GroupDelete {
				fs, gs := sw.dump()
				if u, used := foreignGroupUsers(fs, gs, owned, ownedMarked)[c.Group.ID]; used {
					sw.harm = append(sw.harm, fmt.Sprintf("deleted %s, used by foreign %s", c.Group, u.first))
				}
				delete(sw.groups, c.Group.ID)
			} else {
				sw.groups[c.Group.ID] = c.Group
			}
		}
	}
}

// foreign is the text of the entries ovsgw does not own, by key.
func (sw *simSwitch) foreign() map[any]string {
	out := map[any]string{}
	for k, f := range sw.flows {
		if !owned(f.Cookie) {
			out[k] = f.String()
		}
	}
	for id, g := range sw.groups {
		if !ownedMarked(g) {
			out[id] = g.String()
		}
	}
	return out
}

// foreignEdit is another controller at work: it adds or removes a foreign flow or group,
// possibly at a key ovsgw wants, or removes one of ovsgw's flows.
func (sw *simSwitch) foreignEdit(rng *rand.Rand) {
	switch rng.Intn(4) {
	case 0:
		f := tableRandomFlow(rng, []uint64{other})
		sw.flows[f.Key()] = f
	case 1:
		for k := range sw.flows {
			delete(sw.flows, k)
			break
		}
	case 2:
		g := randomGroup(rng, groupRank, false)
		if _, taken := sw.groups[g.ID]; !taken { // OVS refuses to add a group over another
			sw.groups[g.ID] = g
		}
	default:
		for id := range sw.groups {
			delete(sw.groups, id)
			break
		}
	}
}

// Scale of the benchmarks: 4K remote instances, about 18 flows each, as the agent compiles
// them at 4K (74K flows; see README, "Scale").
const (
	benchInstances = 4096
	benchPerUnit   = 18
)

func unitName(i int) string { return fmt.Sprintf("vmi/%05d", i) }

// benchUnits makes n units of benchPerUnit flows shaped like a VMI's: classify, port security,
// ARP responder, L2 lookup, output and ACL flows. Variant 1 moves each VMI to another VN and
// gateway port: 7 flow changes per unit against variant 0 (3 modifies, 2 deletes, 2 adds).
func benchUnits(n, variant int) [][]Flow {
	out := make([][]Flow, n)
	for i := range out {
		id := uint64(0x10000 + i)
		vn := uint64(5000 + i%64 + variant*64)
		mac := []byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		ipv4 := []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		c := ourCookie | 3<<40 | id
		reg0 := Match{}.WithUint(FieldReg0, id)
		src := reg0.With(FieldEthSrc, mac)
		fl := []Flow{
			{Table: 0, Priority: 200, Cookie: c, Match: Match{}.WithUint(FieldInPort, uint64(1+i/4000)).WithUint(FieldVlanVID, uint64(1+i%4000)|VlanPresent),
				Actions: []Action{PopVLAN{}, SetUint(FieldReg0, id), SetUint(FieldReg1, vn), GotoTable{10}}},
			{Table: 10, Priority: 100, Cookie: c, Match: src.WithUint(FieldEthType, 0x800).WithUint(FieldIPProto, 17).With(FieldIPv4Src, ip("0.0.0.0")).WithUint(FieldUDPSrc, 68).WithUint(FieldUDPDst, 67), Actions: []Action{GotoTable{20}}},
			{Table: 10, Priority: 100, Cookie: c, Match: src.WithUint(FieldEthType, 0x800).With(FieldIPv4Src, ipv4), Actions: []Action{GotoTable{20}}},
			{Table: 10, Priority: 100, Cookie: c, Match: src.WithUint(FieldEthType, 0x806).With(FieldARPSPA, ip("0.0.0.0")).With(FieldARPSHA, mac), Actions: []Action{GotoTable{20}}},
			{Table: 10, Priority: 100, Cookie: c, Match: src.WithUint(FieldEthType, 0x806).With(FieldARPSPA, ipv4).With(FieldARPSHA, mac), Actions: []Action{GotoTable{20}}},
			{Table: 10, Priority: 100, Cookie: c, Match: src.WithUint(FieldEthType, 0x86dd).With(FieldIPv6Src, ip("::")), Actions: []Action{GotoTable{20}}},
			{Table: 10, Priority: 100, Cookie: c, Match: src.WithUint(FieldEthType, 0x86dd).WithMasked(FieldIPv6Src, ip("fe80::"), ip("ffc0::")), Actions: []Action{GotoTable{20}}},
			{Table: 10, Priority: 60, Cookie: c | 3<<32, Match: reg0.WithUint(FieldEthType, 0x800)},
			{Table: 10, Priority: 60, Cookie: c | 3<<32, Match: reg0.WithUint(FieldEthType, 0x806)},
			{Table: 10, Priority: 60, Cookie: c | 3<<32, Match: reg0.WithUint(FieldEthType, 0x86dd)},
			{Table: 10, Priority: 50, Cookie: c, Match: src, Actions: []Action{GotoTable{20}}},
			{Table: 10, Priority: 40, Cookie: c | 3<<32, Match: reg0},
			{Table: 20, Priority: 110, Cookie: c, Match: reg0.WithUint(FieldEthType, 0x806).With(FieldARPTPA, ipv4), Actions: []Action{GotoTable{30}}},
			{Table: 20, Priority: 100, Cookie: c, Match: Match{}.WithUint(FieldReg1, vn).WithUint(FieldReg4, 0).WithUint(FieldEthType, 0x806).WithUint(FieldARPOp, 1).With(FieldARPTPA, ipv4),
				Actions: []Action{Move{FieldEthSrc, FieldEthDst}, SetField{FieldEthSrc, mac}, SetUint(FieldARPOp, 2), Move{FieldARPSHA, FieldARPTHA},
					Move{FieldARPSPA, FieldARPTPA}, SetField{FieldARPSHA, mac}, SetField{FieldARPSPA, ipv4}, Move{FieldReg0, FieldReg2}, SetUint(FieldReg0, 0), GotoTable{70}}},
			{Table: 40, Priority: 100, Cookie: c, Match: Match{}.WithUint(FieldReg2, id).WithCTState(CTNew|CTTrk, 0).WithUint(FieldEthType, 0x800).WithUint(FieldIPProto, 6).WithUint(FieldTCPDst, 22),
				Actions: []Action{CT{Commit: true, Zone: uint16(vn)}, GotoTable{50}}},
			{Table: 40, Priority: 10, Cookie: c | 4<<32, Match: Match{}.WithUint(FieldReg2, id)},
			{Table: 60, Priority: 100, Cookie: c, Match: Match{}.WithUint(FieldReg1, vn).With(FieldEthDst, mac), Actions: []Action{SetUint(FieldReg2, id), GotoTable{70}}},
			{Table: 70, Priority: 100, Cookie: c, Match: Match{}.WithUint(FieldReg2, id),
				Actions: []Action{PushVLAN{}, SetVlanVID(uint16(1 + i%4000)), Output{uint32(1 + i/4000 + variant)}}},
		}
		out[i] = fl
	}
	return out
}

func flatten(units [][]Flow) []Flow {
	var out []Flow
	for _, u := range units {
		out = append(out, u...)
	}
	return out
}

// loadedTable is a table at benchmark scale, converged: every unit set, the switch holding
// exactly that.
func loadedTable(units [][]Flow) *FlowTable {
	tab := newTestTable()
	for i, fs := range units {
		tab.SetUnit(unitName(i), fs, nil)
	}
	tab.Reset(installed(flatten(units)...), nil)
	tab.Committed(must(tab.Changes()))
	return tab
}

// One unit's flows replaced (2 of its 18 differ), its changes computed and committed, in a
// table of 74K flows: what a sync after one instance changed costs in the table.
func BenchmarkFlowTableOneUnitChange(b *testing.B) {
	variants := [2][][]Flow{benchUnits(benchInstances, 0), benchUnits(benchInstances, 1)}
	tab := loadedTable(variants[0])
	b.ReportAllocs()
	b.ResetTimer()
	changes := 0
	for i := 0; b.Loop(); i++ {
		u := i % benchInstances
		tab.SetUnit(unitName(u), variants[(i/benchInstances+1)%2][u], nil)
		ch, _ := tab.Changes()
		tab.Committed(ch)
		changes += len(ch)
	}
	b.ReportMetric(float64(changes)/float64(b.N), "changes/op")
}

// Today's sync: Plan over all 74K desired flows against all 74K installed, one unit changed.
func BenchmarkPlanFull(b *testing.B) {
	units := benchUnits(benchInstances, 0)
	inst := installed(flatten(units)...)
	units[7] = benchUnits(8, 1)[7]
	desired := flatten(units)
	b.ReportAllocs()
	b.ResetTimer()
	changes := 0
	for b.Loop() {
		ch, err := Plan(desired, inst, owned, nil, nil, ownedMarked)
		if err != nil {
			b.Fatal(err)
		}
		changes = len(ch)
	}
	b.ReportMetric(float64(changes), "changes/op")
}

// heapAfterGC is the live heap.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// tableBytesPerFlow measures, for n units, the live heap per flow of the Flow values (one copy
// of what the compiler hands over, as the agent's desired slice holds it) and of the table once
// loaded and converged (desired and installed both held, the Flow values gone).
func tableBytesPerFlow(n int) (table, flows float64) {
	base := heapAfterGC()
	units := benchUnits(n, 0)
	withFlows := heapAfterGC()
	tab := loadedTable(units)
	withBoth := heapAfterGC()
	runtime.KeepAlive(units)
	units = nil
	withTable := heapAfterGC()
	runtime.KeepAlive(tab)
	count := float64(n * benchPerUnit)
	_ = withBoth
	return float64(withTable-base) / count, float64(withFlows-base) / count
}

// Building the table at 74K flows (SetUnit of 4K units, Reset with the switch's copy, the full
// Changes), and the bytes it keeps per flow against a []Flow copy.
func BenchmarkFlowTableLoad(b *testing.B) {
	tableB, sliceB := tableBytesPerFlow(benchInstances)
	units := benchUnits(benchInstances, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		loadedTable(units)
	}
	b.ReportMetric(tableB, "table-bytes/flow")
	b.ReportMetric(sliceB, "[]Flow-bytes/flow")
}

// The table, holding desired and installed, keeps less per flow than one []Flow copy of the
// desired flows alone.
func TestFlowTableMemoryPerFlow(t *testing.T) {
	tableB, sliceB := tableBytesPerFlow(1024)
	t.Logf("table %.0f bytes/flow (desired and installed), []Flow %.0f bytes/flow", tableB, sliceB)
	if tableB > sliceB {
		t.Errorf("table keeps %.0f bytes/flow, more than a []Flow copy (%.0f)", tableB, sliceB)
	}
}

// TestFlowTableChangesInParts: a large sync sent in parts of at most max flow changes ends in
// the same installed state as one part would, with every group add before any flow that may
// use it and every group delete in the last part only.
func TestFlowTableChangesInParts(t *testing.T) {
	const flows, max = 250, 40
	tab := newTestTable()
	var want []Flow
	for i := 0; i < flows; i++ {
		want = append(want, tf(10, uint32(i+1), ours, 1))
	}
	tab.SetUnit("big", want, []Group{tg(1, Output{1}), tg(2, Output{2})})
	tab.Reset([]InstalledFlow{{Flow: tf(10, 999, ours, 1)}}, []Group{tg(3, Output{3})}) // a stray flow and a stray group
	parts, groupAddsAt, groupDeleteAt, sent := 0, -1, -1, 0
	for {
		changes, conflicts, more := tab.ChangesUpTo(max)
		if len(conflicts) > 0 {
			t.Fatalf("conflicts: %v", conflicts)
		}
		nflows := 0
		for _, c := range changes {
			switch c := c.(type) {
			case FlowMod:
				nflows++
			case GroupMod:
				if c.Command == GroupDelete {
					groupDeleteAt = parts
				} else if groupAddsAt < 0 {
					groupAddsAt = parts
				}
			}
		}
		if nflows > max {
			t.Fatalf("part %d has %d flow changes, more than %d", parts, nflows, max)
		}
		sent += nflows
		tab.Committed(changes)
		parts++
		if !more {
			break
		}
		if parts > flows {
			t.Fatal("the parts never end")
		}
	}
	if parts != (flows+1+max-1)/max || sent != flows+1 {
		t.Errorf("%d parts sent %d flow changes, want %d parts and %d", parts, sent, (flows+1+max-1)/max, flows+1)
	}
	if groupAddsAt != 0 || groupDeleteAt != parts-1 {
		t.Errorf("group adds in part %d (want 0), the stray group's delete in part %d (want the last, %d)", groupAddsAt, groupDeleteAt, parts-1)
	}
	if ch, _ := tab.Changes(); len(ch) != 0 {
		t.Errorf("changes left after the last part:\n%s", changeText(ch))
	}
	inst, groups := tab.Installed()
	if len(inst) != flows || len(groups) != 2 {
		t.Errorf("installed %d flows and %d groups, want %d and 2", len(inst), len(groups), flows)
	}
}

// TestFlowTableKeepsOwnedGroupThatForeignFlowUses: a group of ovsgw's that no unit wants any
// more is not deleted while a foreign flow or group uses it (OpenFlow would delete the flow
// with it), also when the use is nested in an action ovsgw does not model; it is reported,
// and deleted once the foreign users are gone.
func TestFlowTableKeepsOwnedGroupThatForeignFlowUses(t *testing.T) {
	ours := func(id uint32) Group {
		return Group{ID: id, Type: GroupAll, Buckets: []Bucket{{Actions: []Action{testMark, Output{1}}}}}
	}
	g5, g6, g7 := ours(5), ours(6), ours(7)
	direct := Flow{Table: 0, Priority: 9, Cookie: other, Actions: []Action{GroupAction{5}}}
	// clone(group:6), as OVS dumps it: NXAST_CLONE with the group action nested.
	nested := Flow{Table: 0, Priority: 8, Cookie: other, Actions: []Action{UnknownAction{Raw: []byte{
		0xff, 0xff, 0, 0x18, 0, 0, 0x23, 0x20, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0x16, 0, 8, 0, 0, 0, 6}}}}
	chained := Group{ID: 100, Type: GroupAll, Buckets: []Bucket{{Actions: []Action{GroupAction{7}}}}}
	tab := newMarkedTable()
	tab.Reset(installed(direct, nested), []Group{g5, g6, g7, chained})
	ch, conf := tab.Changes()
	if len(ch) != 0 {
		t.Fatalf("changes with foreign users of every stray group:\n%s", changeText(ch))
	}
	var texts []string
	for _, c := range conf {
		if c.Kind != ConflictInUse {
			t.Errorf("conflict of kind %d: %v", c.Kind, c)
		}
		texts = append(texts, c.Error())
	}
	for _, want := range []string{g5.String(), g6.String(), g7.String(), direct.String(), nested.String(), chained.String()} {
		if !strings.Contains(strings.Join(texts, "\n"), want) {
			t.Errorf("conflicts do not name %s:\n%s", want, strings.Join(texts, "\n"))
		}
	}
	if first, n := tab.ForeignGroupUsers(5); n != 1 || first != direct.String() {
		t.Errorf("ForeignGroupUsers(5) = %q, %d", first, n)
	}
	// The foreign flows go; the chained foreign group stays.
	tab.Reset(nil, []Group{g5, g6, g7, chained})
	if got, want := changeText(must(tab.Changes())), changeText([]Change{GroupMod{GroupDelete, g5}, GroupMod{GroupDelete, g6}}); got != want {
		t.Errorf("after the foreign flows went:\n%s\nwant\n%s", got, want)
	}
}

// TestFlowTableNeverSendsIntoForeignGroup: a foreign group at an id ovsgw wants is neither
// overwritten nor used: the flow that would send packets into it is held back and reported,
// the rest proceeds; once the foreign group is gone both are installed.
func TestFlowTableNeverSendsIntoForeignGroup(t *testing.T) {
	foreign := Group{ID: 7, Type: GroupAll, Buckets: []Bucket{{Actions: []Action{Output{9}}}}}
	want := Group{ID: 7, Type: GroupAll, Buckets: []Bucket{{Actions: []Action{testMark, Output{1}}}}}
	flood := Flow{Table: 1, Priority: 10, Cookie: ours, Actions: []Action{GroupAction{7}}}
	plain := tf(10, 2, ours, 1)
	tab := newMarkedTable()
	tab.Reset(nil, []Group{foreign})
	tab.SetUnit("vn/x", []Flow{flood, plain}, []Group{want})
	ch, conf := tab.Changes()
	if got, w := changeText(ch), changeText([]Change{FlowMod{FlowAdd, plain}}); got != w {
		t.Errorf("changes:\n%s\nwant\n%s", got, w)
	}
	if len(conf) != 2 || conf[0].Kind != ConflictForeign || conf[0].Installed != foreign.String() ||
		conf[1].Kind != ConflictForeignGroup || conf[1].Desired != flood.String() || conf[1].Installed != foreign.String() {
		t.Fatalf("conflicts %v, want the foreign group and the flow held back", conf)
	}
	tab.Committed(ch)
	if _, again := tab.Changes(); len(again) != 2 {
		t.Errorf("conflicts not reported again: %v", again)
	}
	tab.Reset(installed(plain), nil)
	if got, w := changeText(must(tab.Changes())), changeText([]Change{GroupMod{GroupAdd, want}, FlowMod{FlowAdd, flood}}); got != w {
		t.Errorf("after the foreign group went:\n%s\nwant\n%s", got, w)
	}
}
