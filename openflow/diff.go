package openflow

import (
	"errors"
	"fmt"
	"slices"
	"sort"
)

// ConflictKind says why a ConflictError leaves an entry as it is.
type ConflictKind uint8

const (
	// ConflictForeign: an entry ovsgw does not own holds the place (same table, priority and
	// match; same group id) of one ovsgw wants there.
	ConflictForeign ConflictKind = iota
	// ConflictForeignGroup: a flow ovsgw wants hands packets to a group that is not ovsgw's
	// (say, one holding the id of a group ovsgw wants: a ConflictForeign of its own), so it is
	// not installed: ovsgw's traffic never enters someone else's group.
	ConflictForeignGroup
	// ConflictInUse: ovsgw's own group, no longer wanted, is kept because a foreign flow or
	// group uses it: OpenFlow deletes a group together with every flow that uses it.
	ConflictInUse
)

// ConflictError reports an entry ovsgw leaves alone although it differs from what ovsgw wants,
// because changing it would change someone else's flows or groups (Kind says how).
type ConflictError struct {
	Kind      ConflictKind
	Desired   string // canonical text of what ovsgw wants ("" for ConflictInUse: nothing)
	Installed string // canonical text of the installed entry left in place
	// UsedBy is, for ConflictInUse, the canonical text of a foreign flow or group that uses the
	// group, and Users how many do.
	UsedBy string
	Users  int
}

func (e *ConflictError) Error() string {
	switch e.Kind {
	case ConflictForeignGroup:
		return fmt.Sprintf("refusing to install %q: it uses foreign group %q", e.Desired, e.Installed)
	case ConflictInUse:
		more := ""
		if e.Users > 1 {
			more = fmt.Sprintf(" (and %d more)", e.Users-1)
		}
		return fmt.Sprintf("not deleting group %q: foreign %q%s uses it, and deleting a group deletes the flows that use it", e.Installed, e.UsedBy, more)
	}
	return fmt.Sprintf("refusing to overwrite foreign entry %q with %q", e.Installed, e.Desired)
}

// Diff computes the flow changes that turn installed into desired, touching only flows whose
// cookie owned accepts: a desired flow that is missing is added, one whose installed entry
// (same Key) has another cookie or other actions is modified, and an owned installed flow that
// is not desired is deleted. Foreign flows are never touched; if a desired flow would have to
// replace one, Diff returns a *ConflictError for each such flow (joined) and no changes.
// Changes come sorted by table, descending priority and match text.
func Diff(desired []Flow, installed []InstalledFlow, owned func(cookie uint64) bool) ([]Change, error) {
	changes, conflicts, err := diffFlows(desired, installed, owned, nil)
	return orNothing(changes, conflicts, err)
}

// diffFlows is Diff, returning the conflicts apart from the changes (which leave the
// conflicting flows out) and from other errors. A desired flow that uses a group in blocked
// (the foreign groups' text by id) is a ConflictForeignGroup.
func diffFlows(desired []Flow, installed []InstalledFlow, owned func(cookie uint64) bool, blocked map[uint32]string) ([]Change, []*ConflictError, error) {
	want := make(map[Key]Flow, len(desired))
	var errs []error
	for _, f := range desired {
		k := f.Key()
		if prev, dup := want[k]; dup {
			if !prev.Equal(f) {
				errs = append(errs, fmt.Errorf("desired flows %q and %q have the same table, priority and match", prev, f))
			}
			continue
		}
		want[k] = f
	}
	have := make(map[Key]Flow, len(installed))
	for _, f := range installed {
		have[f.Key()] = f.Flow
	}
	var changes []FlowMod
	var conflicts []*ConflictError
	foreign := func(id uint32) string { return blocked[id] }
	for k, d := range want {
		h, ok := have[k]
		switch {
		case ok && h.Cookie == d.Cookie && h.ActionsString() == d.ActionsString(): // same key already
		case ok && !owned(h.Cookie):
			conflicts = append(conflicts, &ConflictError{Desired: d.String(), Installed: h.String()})
		case foreignGroupIn(d.Actions, foreign) != "":
			conflicts = append(conflicts, &ConflictError{Kind: ConflictForeignGroup, Desired: d.String(), Installed: foreignGroupIn(d.Actions, foreign)})
		case !ok:
			changes = append(changes, FlowMod{FlowAdd, d})
		default:
			changes = append(changes, FlowMod{FlowModifyStrict, d})
		}
	}
	for k, h := range have {
		if _, ok := want[k]; !ok && owned(h.Cookie) {
			changes = append(changes, FlowMod{FlowDeleteStrict, h})
		}
	}
	sortByFlow(changes, func(m FlowMod) Flow { return m.Flow })
	out := make([]Change, len(changes))
	for i, c := range changes {
		out[i] = c
	}
	sortConflicts(conflicts)
	sortErrors(errs)
	return out, conflicts, errors.Join(errs...)
}

// foreignGroupIn returns the text of the first foreign group actions hand packets to, if any;
// foreign gives a group's text when it is foreign, "" otherwise.
func foreignGroupIn(actions []Action, foreign func(id uint32) string) string {
	for _, a := range actions {
		if g, ok := a.(GroupAction); ok {
			if text := foreign(g.ID); text != "" {
				return text
			}
		}
	}
	return ""
}

// orNothing is the exported diffs' contract: the changes, or no changes and every conflict and
// error joined.
func orNothing(changes []Change, conflicts []*ConflictError, err error) ([]Change, error) {
	if len(conflicts) == 0 && err == nil {
		return changes, nil
	}
	errs := make([]error, 0, len(conflicts)+1)
	for _, c := range conflicts {
		errs = append(errs, c)
	}
	errs = append(errs, err)
	return nil, errors.Join(errs...)
}

// sortConflicts orders conflicts by their text.
func sortConflicts(list []*ConflictError) {
	sort.Slice(list, func(i, j int) bool { return list[i].Error() < list[j].Error() })
}

// DiffGroups computes the group changes that turn installed into desired, touching only the
// installed groups owned accepts, with the same rules as Diff (a group differs when its
// canonical text does). Adds and modifies come first, sorted by id, then deletes, sorted by id.
func DiffGroups(desired, installed []Group, owned func(Group) bool) ([]Change, error) {
	changes, conflicts, err := diffGroups(desired, installed, owned, nil)
	return orNothing(changes, conflicts, err)
}

// diffGroups is DiffGroups, returning the conflicts apart (see diffFlows). An owned group that
// is not desired but that users lists (foreign flows or groups use it) is kept, a
// ConflictInUse.
func diffGroups(desired, installed []Group, owned func(Group) bool, users map[uint32]groupUse) ([]Change, []*ConflictError, error) {
	want := make(map[uint32]Group, len(desired))
	var errs []error
	for _, g := range desired {
		if prev, dup := want[g.ID]; dup {
			if !prev.Equal(g) {
				errs = append(errs, fmt.Errorf("desired groups %q and %q have the same id", prev, g))
			}
			continue
		}
		want[g.ID] = g
	}
	have := make(map[uint32]Group, len(installed))
	for _, g := range installed {
		have[g.ID] = g
	}
	var upserts, deletes []GroupMod
	var conflicts []*ConflictError
	for id, d := range want {
		h, ok := have[id]
		switch {
		case !ok:
			upserts = append(upserts, GroupMod{GroupAdd, d})
		case h.Equal(d):
		case !owned(h):
			conflicts = append(conflicts, &ConflictError{Desired: d.String(), Installed: h.String()})
		default:
			upserts = append(upserts, GroupMod{GroupModify, d})
		}
	}
	for id, h := range have {
		if _, ok := want[id]; ok || !owned(h) {
			continue
		}
		if u, used := users[id]; used {
			conflicts = append(conflicts, u.conflict(h))
			continue
		}
		deletes = append(deletes, GroupMod{GroupDelete, h})
	}
	// A group must exist before a group whose buckets hand packets to it, and be deleted after
	// it: adds and modifies go deepest-referenced first, deletes the other way round.
	depth := chainDepths(want, have)
	var out []Change
	for i, list := range [][]GroupMod{upserts, deletes} {
		sort.Slice(list, func(a, b int) bool {
			da, db := depth[list[a].Group.ID], depth[list[b].Group.ID]
			if da != db {
				return (da < db) == (i == 0)
			}
			return list[a].Group.ID < list[b].Group.ID
		})
		for _, g := range list {
			out = append(out, g)
		}
	}
	sortConflicts(conflicts)
	sortErrors(errs)
	return out, conflicts, errors.Join(errs...)
}

// Sequence orders the changes of one Apply: group adds and modifies first (flows may point at
// them), then the flow changes, then group deletes (deleting a group also deletes the flows
// that still use it, so it must come after those flows are gone or changed).
func Sequence(groupChanges, flowChanges []Change) []Change {
	out := make([]Change, 0, len(groupChanges)+len(flowChanges))
	isDelete := func(c Change) bool { g, ok := c.(GroupMod); return ok && g.Command == GroupDelete }
	for _, c := range groupChanges {
		if !isDelete(c) {
			out = append(out, c)
		}
	}
	out = append(out, flowChanges...)
	for _, c := range groupChanges {
		if isDelete(c) {
			out = append(out, c)
		}
	}
	return out
}

// Plan is Diff and DiffGroups together, ordered by Sequence: the one change list an Apply
// needs to turn the installed flows and groups into the desired ones. Beyond Diff's and
// DiffGroups' rules, it never deletes an owned group that a foreign flow or group uses
// (ConflictInUse), nor installs a flow that hands packets to a foreign group
// (ConflictForeignGroup). With any conflict or error it returns them joined, and no
// changes.
func Plan(desired []Flow, installed []InstalledFlow, ownedCookie func(uint64) bool,
	desiredGroups, installedGroups []Group, ownedGroup func(Group) bool) ([]Change, error) {
	users := foreignGroupUsers(installed, installedGroups, ownedCookie, ownedGroup)
	groups, gconf, gerr := diffGroups(desiredGroups, installedGroups, ownedGroup, users)
	flows, fconf, ferr := diffFlows(desired, installed, ownedCookie, foreignGroupTexts(installedGroups, ownedGroup))
	changes, err := orNothing(Sequence(groups, flows), append(gconf, fconf...), errors.Join(gerr, ferr))
	return changes, err
}

// groupUse is what uses one group besides ovsgw: how many foreign flows and groups, and the
// canonical text of one of them (the least, so that it does not depend on the order seen).
type groupUse struct {
	first string
	n     int
}

func (u groupUse) conflict(g Group) *ConflictError {
	return &ConflictError{Kind: ConflictInUse, Installed: g.String(), UsedBy: u.first, Users: u.n}
}

// foreignGroupUsers finds, among the installed flows and groups that are not owned, those that
// hand packets to a group, by group id.
func foreignGroupUsers(flows []InstalledFlow, groups []Group, ownedCookie func(uint64) bool, ownedGroup func(Group) bool) map[uint32]groupUse {
	users := map[uint32]groupUse{}
	use := func(text func() string) func(id uint32) {
		return func(id uint32) {
			u := users[id]
			if t := text(); u.n == 0 || t < u.first {
				u.first = t
			}
			u.n++
			users[id] = u
		}
	}
	var ids []uint32
	collect := func(id uint32) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for i := range flows {
		if f := &flows[i].Flow; !ownedCookie(f.Cookie) {
			ids = ids[:0]
			groupRefsOf(f.Actions, collect)
			for _, id := range ids {
				use(f.String)(id)
			}
		}
	}
	for _, g := range groups {
		if !ownedGroup(g) {
			ids = ids[:0]
			for _, b := range g.Buckets {
				groupRefsOf(b.Actions, collect)
			}
			for _, id := range ids {
				use(g.String)(id)
			}
		}
	}
	return users
}

// foreignGroupTexts returns the groups that are not owned, as text by id.
func foreignGroupTexts(groups []Group, ownedGroup func(Group) bool) map[uint32]string {
	out := map[uint32]string{}
	for _, g := range groups {
		if !ownedGroup(g) {
			out[g.ID] = g.String()
		}
	}
	return out
}

// groupRefsOf calls ref for every group that actions hand packets to: group actions, and any
// group action nested in an action or instruction ovsgw does not model (clone, write_actions),
// found by its encoding anywhere in the raw bytes. That may find a group where bytes only look
// like a group action; a group kept for nothing is the safe side of that error.
func groupRefsOf(actions []Action, ref func(id uint32)) {
	for _, a := range actions {
		switch a := a.(type) {
		case GroupAction:
			ref(a.ID)
		case UnknownAction:
			for i := 0; i+8 <= len(a.Raw); i++ {
				if be16(a.Raw[i:]) == ofpatGroup && be16(a.Raw[i+2:]) == 8 {
					ref(be32(a.Raw[i+4:]))
				}
			}
		}
	}
}

// ofpatGroup is OFPAT_GROUP, the group action's type.
const ofpatGroup = 22

// sortByFlow sorts xs by their flows' table, descending priority, match text and cookie: the
// order ovs-ofctl dump-flows --sort uses within a table, and a total order for distinct keys.
// Each match is printed once, not per comparison.
func sortByFlow[T any](xs []T, flow func(T) Flow) {
	type item struct {
		x     T
		f     Flow
		match string
	}
	items := make([]item, len(xs))
	for i, x := range xs {
		f := flow(x)
		items[i] = item{x, f, f.Match.String()}
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := &items[i], &items[j]
		switch {
		case a.f.Table != b.f.Table:
			return a.f.Table < b.f.Table
		case a.f.Priority != b.f.Priority:
			return a.f.Priority > b.f.Priority
		case a.match != b.match:
			return a.match < b.match
		}
		return a.f.Cookie < b.f.Cookie
	})
	for i := range items {
		xs[i] = items[i].x
	}
}

// sortErrors makes the joined error text deterministic (map iteration is not).
func sortErrors(errs []error) {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
}

// chainDepths gives each group the length of the longest chain of groups its buckets hand
// packets to (0: it refers to no group), over the desired groups and, for deletes, the installed.
func chainDepths(want, have map[uint32]Group) map[uint32]int {
	all := make(map[uint32]Group, len(want)+len(have))
	for id, g := range have {
		all[id] = g
	}
	for id, g := range want {
		all[id] = g
	}
	depth := make(map[uint32]int, len(all))
	var visit func(id uint32, seen map[uint32]bool) int
	visit = func(id uint32, seen map[uint32]bool) int {
		if d, ok := depth[id]; ok {
			return d
		}
		if seen[id] { // a loop; OVS refuses it anyway
			return 0
		}
		seen[id] = true
		d := 0
		for _, b := range all[id].Buckets {
			for _, a := range b.Actions {
				if ga, ok := a.(GroupAction); ok {
					if _, known := all[ga.ID]; known {
						d = max(d, 1+visit(ga.ID, seen))
					}
				}
			}
		}
		depth[id] = d
		return d
	}
	for id := range all {
		visit(id, map[uint32]bool{})
	}
	return depth
}
