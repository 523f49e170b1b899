package openflow

import (
	"errors"
	"fmt"
	"sort"
)

// ConflictError reports a desired flow or group whose place (same table, priority and match,
// or same group id) is held by an entry ovsgw does not own. Diff refuses to overwrite it.
type ConflictError struct {
	Desired   string // canonical text of what ovsgw wants
	Installed string // canonical text of the foreign entry in its place
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("refusing to overwrite foreign entry %q with %q", e.Installed, e.Desired)
}

// Diff computes the flow changes that turn installed into desired, touching only flows whose
// cookie owned accepts: a desired flow that is missing is added, one whose installed entry
// (same Key) has another cookie or other actions is modified, and an owned installed flow that
// is not desired is deleted. Foreign flows are never touched; if a desired flow would have to
// replace one, Diff returns a *ConflictError for each such flow (joined) and no changes.
// Changes come sorted by table, descending priority and match text.
func Diff(desired []Flow, installed []InstalledFlow, owned func(cookie uint64) bool) ([]Change, error) {
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
	for k, d := range want {
		h, ok := have[k]
		switch {
		case !ok:
			changes = append(changes, FlowMod{FlowAdd, d})
		case h.Cookie == d.Cookie && h.ActionsString() == d.ActionsString(): // same key already
		case !owned(h.Cookie):
			errs = append(errs, &ConflictError{Desired: d.String(), Installed: h.String()})
		default:
			changes = append(changes, FlowMod{FlowModifyStrict, d})
		}
	}
	for k, h := range have {
		if _, ok := want[k]; !ok && owned(h.Cookie) {
			changes = append(changes, FlowMod{FlowDeleteStrict, h})
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errors.Join(errs...)
	}
	sortByFlow(changes, func(m FlowMod) Flow { return m.Flow })
	out := make([]Change, len(changes))
	for i, c := range changes {
		out[i] = c
	}
	return out, nil
}

// DiffGroups computes the group changes that turn installed into desired, touching only groups
// whose id owned accepts, with the same rules as Diff (a group differs when its canonical text
// does). Adds and modifies come first, sorted by id, then deletes, sorted by id.
func DiffGroups(desired, installed []Group, owned func(id uint32) bool) ([]Change, error) {
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
	for id, d := range want {
		h, ok := have[id]
		switch {
		case !ok:
			upserts = append(upserts, GroupMod{GroupAdd, d})
		case h.Equal(d):
		case !owned(id):
			errs = append(errs, &ConflictError{Desired: d.String(), Installed: h.String()})
		default:
			upserts = append(upserts, GroupMod{GroupModify, d})
		}
	}
	for id, h := range have {
		if _, ok := want[id]; !ok && owned(id) {
			deletes = append(deletes, GroupMod{GroupDelete, h})
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errors.Join(errs...)
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
	return out, nil
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
// needs to turn the installed flows and groups into the desired ones.
func Plan(desired []Flow, installed []InstalledFlow, ownedCookie func(uint64) bool,
	desiredGroups, installedGroups []Group, ownedGroup func(uint32) bool) ([]Change, error) {
	flows, ferr := Diff(desired, installed, ownedCookie)
	groups, gerr := DiffGroups(desiredGroups, installedGroups, ownedGroup)
	if err := errors.Join(gerr, ferr); err != nil {
		return nil, err
	}
	return Sequence(groups, flows), nil
}

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
