package openflow

// FlowTable: desired flows and groups by unit, installed flows and groups as the switch holds
// them, and the set of keys whose two sides may differ ("tracked"), so that a sync diffs only
// what changed since the last one. See the FlowTable doc comment for the contract.

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// FlowTable holds, per key (a flow's table, priority and match; a group's id), the flow or group
// the units want there and the one the switch has installed there, and tracks the keys whose
// desired and installed entries may differ. A unit is an opaque name the caller chooses (for
// example "vmi/web-1"); it owns the flows and groups it last set. Changes diffs only the
// tracked keys, so that a sync after one unit changed costs what that unit's flows cost, not
// what the whole table does.
//
// The table keeps one entry per key: the match in Key's compact encoding, the actions (and a
// group's type and buckets) encoded once in a compact byte form that is also what equality
// compares. Flow and Group values are rebuilt only for what Changes, Desired, Installed and
// Duplicates return.
//
// A FlowTable is not safe for concurrent use; its owner serializes calls (the agent's sync
// loop does).
type FlowTable struct {
	flows  index[Key]
	groups index[uint32]
	units  map[string]*unit
	buf    []byte // scratch for encoding

	ownedCookie func(uint64) bool
	ownedGroup  func(Group) bool
	// groupUsers lists, by group id, the foreign installed flows and groups that use a group,
	// from the last Reset (only Reset brings foreign entries in).
	groupUsers map[uint32]groupUse
}

// Duplicate is a flow or a group that two units (or one unit twice) want at one key with
// different contents (cookie or actions; type or buckets). The table keeps the one of the unit
// whose name sorts first (within a unit, the first given) and drops the other.
type Duplicate struct {
	Kept, Dropped         string // canonical text of the kept and of the dropped flow or group
	KeptUnit, DroppedUnit string
}

func (d Duplicate) String() string {
	return fmt.Sprintf("conflicting entries for one key: kept %s (%s), dropped %s (%s)",
		d.Kept, d.KeptUnit, d.Dropped, d.DroppedUnit)
}

// NewFlowTable returns an empty table. ownedCookie says which installed flows ovsgw owns (may
// delete or overwrite), ownedGroup which installed groups; everything else is foreign and never
// touched. An owned group that a foreign flow or group uses is not deleted either (OpenFlow
// would delete those flows with it), and a desired flow that uses a foreign group is not
// installed (ovsgw's traffic never enters someone else's group): both are reported as
// conflicts.
func NewFlowTable(ownedCookie func(uint64) bool, ownedGroup func(Group) bool) *FlowTable {
	t := &FlowTable{
		flows: index[Key]{
			m:     map[Key]*entry[Key]{},
			owned: func(_ Key, v val) bool { return ownedCookie(v.cookie) },
		},
		groups: index[uint32]{
			m:     map[uint32]*entry[uint32]{},
			owned: func(id uint32, v val) bool { return ownedGroup(groupOf(id, v)) },
		},
		units:       map[string]*unit{},
		ownedCookie: ownedCookie,
		ownedGroup:  ownedGroup,
	}
	t.groups.pinned = func(id uint32) bool { _, used := t.groupUsers[id]; return used }
	return t
}

// SetUnit replaces every desired flow and group of the unit called name with flows and groups
// (none: the unit is removed). A key's desired entry is the one of the unit whose name sorts first among the
// units that want it; units that want a key with equal contents share it, so removing one of
// them keeps it. Keys whose desired entry changed are tracked. The cost is proportional to the
// unit's old and new flows and groups, whatever the size of the table.
func (t *FlowTable) SetUnit(name string, flows []Flow, groups []Group) {
	u := t.units[name]
	if u == nil {
		if len(flows) == 0 && len(groups) == 0 {
			return
		}
		u = &unit{name: name}
		t.units[name] = u
	}
	t.flows.set(u, &u.flows, len(flows), func(i int) (Key, uint64, []byte) {
		f := &flows[i]
		t.buf = packActions(t.buf[:0], f.Actions)
		return f.Key(), f.Cookie, t.buf
	})
	t.groups.set(u, &u.groups, len(groups), func(i int) (uint32, uint64, []byte) {
		t.buf = packGroup(t.buf[:0], groups[i])
		return groups[i].ID, 0, t.buf
	})
	if len(u.flows) == 0 && len(u.groups) == 0 {
		delete(t.units, name)
	}
}

// RemoveUnit drops every desired flow and group of the unit (SetUnit with none).
func (t *FlowTable) RemoveUnit(name string) { t.SetUnit(name, nil, nil) }

// Units returns the names of the units that hold flows or groups, sorted.
func (t *FlowTable) Units() []string {
	out := make([]string, 0, len(t.units))
	for name := range t.units {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Reset replaces the installed state with a dump of the switch (after a connect or reconnect,
// a failed bundle, or a periodic resync) and tracks every key, so that the next Changes is the
// full diff Plan computes: owned strays deleted, foreign entries never touched.
func (t *FlowTable) Reset(installed []InstalledFlow, groups []Group) {
	t.flows.clearInstalled()
	for i := range installed {
		f := &installed[i].Flow
		t.buf = packActions(t.buf[:0], f.Actions)
		k := f.Key()
		t.flows.install(k, t.flows.val(k, f.Cookie, t.buf))
	}
	t.groups.clearInstalled()
	for _, g := range groups {
		t.buf = packGroup(t.buf[:0], g)
		t.groups.install(g.ID, t.groups.val(g.ID, 0, t.buf))
	}
	t.groupUsers = foreignGroupUsers(installed, groups, t.ownedCookie, t.ownedGroup)
	t.flows.trackAll()
	t.groups.trackAll()
}

// NoteGroupUsers adds, to what the last Reset found, the foreign entries among flows and
// groups that use group id (flows read from the switch just now, say those OpenFlow would
// delete with the group), and reports whether there are any: a following Changes then keeps
// the group instead of deleting it, until the next Reset.
func (t *FlowTable) NoteGroupUsers(id uint32, flows []InstalledFlow, groups []Group) bool {
	found := false
	for uid, u := range foreignGroupUsers(flows, groups, t.ownedCookie, t.ownedGroup) {
		if uid != id {
			continue
		}
		found = true
		if t.groupUsers == nil {
			t.groupUsers = map[uint32]groupUse{}
		}
		had := t.groupUsers[id]
		if had.n == 0 || u.first < had.first {
			had.first = u.first
		}
		had.n = max(had.n, u.n)
		t.groupUsers[id] = had
		if e := t.groups.m[id]; e != nil {
			t.groups.track(e)
		}
	}
	return found
}

// ForeignGroupUsers says how many foreign flows and groups use group id, as of the last Reset,
// and gives the canonical text of one of them.
func (t *FlowTable) ForeignGroupUsers(id uint32) (first string, n int) {
	u := t.groupUsers[id]
	return u.first, u.n
}

// Changes returns the changes that bring the installed entries of the tracked keys to the
// desired ones, in the order Plan uses (group adds and modifies, deepest-referenced first; then
// flow changes by table, descending priority and match; then group deletes), and the conflicts:
// a desired flow or group whose key a foreign installed entry holds with other contents, a
// desired flow that uses a foreign group, an owned group no unit wants that a foreign flow or
// group uses. A conflict is left out of the changes (the rest proceeds)
// and stays tracked, so it is reported again until it is resolved. Keys found in sync are no
// longer tracked; keys with changes stay tracked until Committed records them. With every key
// tracked (after Reset) the changes are exactly Plan's over Desired and Installed, less the
// conflicting entries.
func (t *FlowTable) Changes() (changes []Change, conflicts []*ConflictError) {
	changes, conflicts, _ = t.ChangesUpTo(0)
	return changes, conflicts
}

// ChangesUpTo is Changes with at most max flow changes (0: no limit), so that a sync of very
// many changes (a cold start) can be sent as several bundles without ever holding all of them
// in memory: the flow changes left out stay tracked, and more reports them. The group adds and
// modifies come with the first part; group deletes wait for the part that leaves no flow
// change out, since a group must outlive the flows that use it.
func (t *FlowTable) ChangesUpTo(max int) (changes []Change, conflicts []*ConflictError, more bool) {
	var flowMods []FlowMod
	var upserts, deletes []GroupMod
	var flowConflicts, groupConflicts []*ConflictError
	t.groups.scan(func(e *entry[uint32], v verdict) {
		switch v {
		case vAdd:
			upserts = append(upserts, GroupMod{GroupAdd, groupOf(e.key, e.desired())})
		case vModify:
			upserts = append(upserts, GroupMod{GroupModify, groupOf(e.key, e.desired())})
		case vDelete:
			deletes = append(deletes, GroupMod{GroupDelete, groupOf(e.key, e.installed)})
		case vConflict:
			groupConflicts = append(groupConflicts, &ConflictError{
				Desired: groupOf(e.key, e.desired()).String(), Installed: groupOf(e.key, e.installed).String()})
		case vPinned:
			groupConflicts = append(groupConflicts, t.groupUsers[e.key].conflict(groupOf(e.key, e.installed)))
		}
	})
	t.flows.scan(func(e *entry[Key], v verdict) {
		if max > 0 && len(flowMods) >= max && v != vConflict {
			more = true
			return
		}
		switch v {
		case vAdd, vModify:
			f := flowOf(e.key, e.desired())
			if g := foreignGroupIn(f.Actions, t.foreignGroup); g != "" {
				flowConflicts = append(flowConflicts, &ConflictError{Kind: ConflictForeignGroup, Desired: f.String(), Installed: g})
				return
			}
			cmd := FlowAdd
			if v == vModify {
				cmd = FlowModifyStrict
			}
			flowMods = append(flowMods, FlowMod{cmd, f})
		case vDelete:
			flowMods = append(flowMods, FlowMod{FlowDeleteStrict, flowOf(e.key, e.installed)})
		case vConflict:
			flowConflicts = append(flowConflicts, &ConflictError{
				Desired: flowOf(e.key, e.desired()).String(), Installed: flowOf(e.key, e.installed).String()})
		}
	})
	if len(upserts)+len(deletes) > 0 {
		t.orderGroups(upserts, deletes)
	}
	sortByFlow(flowMods, func(m FlowMod) Flow { return m.Flow })
	changes = make([]Change, 0, len(upserts)+len(flowMods)+len(deletes))
	for _, g := range upserts {
		changes = append(changes, g)
	}
	for _, f := range flowMods {
		changes = append(changes, f)
	}
	if !more {
		for _, g := range deletes {
			changes = append(changes, g)
		}
	}
	for _, list := range [][]*ConflictError{groupConflicts, flowConflicts} {
		sortConflicts(list)
		conflicts = append(conflicts, list...)
	}
	return changes, conflicts, more
}

// foreignGroup returns the text of the installed group id when it is not owned.
func (t *FlowTable) foreignGroup(id uint32) string {
	if e := t.groups.m[id]; e != nil && e.isInstalled() && e.state&stForeign != 0 {
		return groupOf(id, e.installed).String()
	}
	return ""
}

// orderGroups sorts group adds and modifies deepest-referenced first and deletes the other way
// round, by id within one depth, as DiffGroups does. A group's depth is the longest chain of
// groups its buckets hand packets to, through the groups as the switch will hold them after
// the changes (desired ones, except where a conflict keeps the foreign one; installed ones
// otherwise). Only the groups reachable from the changed ones are visited.
func (t *FlowTable) orderGroups(upserts, deletes []GroupMod) {
	depth := map[uint32]int{}
	var visit func(id uint32, seen map[uint32]bool) int
	visit = func(id uint32, seen map[uint32]bool) int {
		if d, ok := depth[id]; ok {
			return d
		}
		e := t.groups.m[id]
		if e == nil || seen[id] { // unknown, or a loop (OVS refuses those anyway)
			return 0
		}
		seen[id] = true
		v := e.installed
		if e.hasDesired() && t.groups.verdict(e) != vConflict {
			v = e.desired()
		}
		d := 0
		for _, ref := range groupRefs(v.enc) {
			if r := t.groups.m[ref]; r != nil && (r.hasDesired() || r.isInstalled()) {
				d = max(d, 1+visit(ref, seen))
			}
		}
		depth[id] = d
		return d
	}
	for i, list := range [][]GroupMod{upserts, deletes} {
		for _, g := range list {
			visit(g.Group.ID, map[uint32]bool{})
		}
		sort.Slice(list, func(a, b int) bool {
			da, db := depth[list[a].Group.ID], depth[list[b].Group.ID]
			if da != db {
				return (da < db) == (i == 0)
			}
			return list[a].Group.ID < list[b].Group.ID
		})
	}
}

// Committed records that changes (as Changes returned them) are installed now that their
// bundle committed, and stops tracking the keys they bring in sync. A key whose desired entry
// changed again since Changes stays tracked. Without Committed (the bundle failed) the next
// Changes returns the same changes again.
func (t *FlowTable) Committed(changes []Change) {
	for _, c := range changes {
		switch c := c.(type) {
		case FlowMod:
			k := c.Flow.Key()
			if c.Command == FlowDeleteStrict {
				t.flows.commit(k, val{}, false)
				continue
			}
			t.buf = packActions(t.buf[:0], c.Flow.Actions)
			t.flows.commit(k, t.flows.val(k, c.Flow.Cookie, t.buf), true)
		case GroupMod:
			id := c.Group.ID
			if c.Command == GroupDelete {
				t.groups.commit(id, val{}, false)
				continue
			}
			t.buf = packGroup(t.buf[:0], c.Group)
			t.groups.commit(id, t.groups.val(id, 0, t.buf), true)
		}
	}
	t.flows.compact()
	t.groups.compact()
}

// Desired returns every desired flow, sorted by table, descending priority and match text (as
// Compile and Diff sort them), and every desired group, sorted by id. It rebuilds every value:
// for the oracle, `ovsgw flows` and status, not for each sync.
func (t *FlowTable) Desired() ([]Flow, []Group) {
	flows := make([]Flow, 0, t.flows.nDesired)
	for _, e := range t.flows.m {
		if e.hasDesired() {
			flows = append(flows, flowOf(e.key, e.desired()))
		}
	}
	sortByFlow(flows, func(f Flow) Flow { return f })
	groups := make([]Group, 0, t.groups.nDesired)
	for _, e := range t.groups.m {
		if e.hasDesired() {
			groups = append(groups, groupOf(e.key, e.desired()))
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	return flows, groups
}

// Installed returns every installed flow (ours and foreign; without counters, which the table
// does not keep: dump the switch for those), sorted like Desired, and every installed group.
func (t *FlowTable) Installed() ([]InstalledFlow, []Group) {
	flows := make([]InstalledFlow, 0, t.flows.nInstalled)
	for _, e := range t.flows.m {
		if e.isInstalled() {
			flows = append(flows, InstalledFlow{Flow: flowOf(e.key, e.installed)})
		}
	}
	sortByFlow(flows, func(f InstalledFlow) Flow { return f.Flow })
	groups := make([]Group, 0, t.groups.nInstalled)
	for _, e := range t.groups.m {
		if e.isInstalled() {
			groups = append(groups, groupOf(e.key, e.installed))
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	return flows, groups
}

// Len counts the desired and installed flows and groups (one per key).
func (t *FlowTable) Len() (desiredFlows, desiredGroups, installedFlows, installedGroups int) {
	return t.flows.nDesired, t.groups.nDesired, t.flows.nInstalled, t.groups.nInstalled
}

// Duplicates lists the flows and groups dropped because another unit (or the same one) wants
// their key with other contents, sorted by text: what the agent reports as notices.
func (t *FlowTable) Duplicates() []Duplicate {
	var out []Duplicate
	for e := range t.flows.dups {
		w := e.holders[0]
		kept := flowOf(e.key, w.v).String()
		for _, h := range e.holders[1:] {
			if !h.v.equal(w.v) {
				out = append(out, Duplicate{Kept: kept, KeptUnit: w.unit.name,
					Dropped: flowOf(e.key, h.v).String(), DroppedUnit: h.unit.name})
			}
		}
	}
	for e := range t.groups.dups {
		w := e.holders[0]
		kept := groupOf(e.key, w.v).String()
		for _, h := range e.holders[1:] {
			if !h.v.equal(w.v) {
				out = append(out, Duplicate{Kept: kept, KeptUnit: w.unit.name,
					Dropped: groupOf(e.key, h.v).String(), DroppedUnit: h.unit.name})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kept != b.Kept {
			return a.Kept < b.Kept
		}
		if a.DroppedUnit != b.DroppedUnit {
			return a.DroppedUnit < b.DroppedUnit
		}
		return a.Dropped < b.Dropped
	})
	return out
}

// tracked counts the keys currently tracked (for tests).
func (t *FlowTable) tracked() (flows, groups int) {
	return t.flows.trackedLen(), t.groups.trackedLen()
}

// unit is one owner of desired flows and groups: the entries it holds, so that replacing or
// removing it touches only those.
type unit struct {
	name   string
	flows  []*entry[Key]
	groups []*entry[uint32]
}

// val is one flow's or group's contents: a flow's cookie and encoded actions (packActions),
// or a group's encoded type and buckets (packGroup; cookie 0). Equal vals mean equal
// canonical text, for every well-formed action.
type val struct {
	cookie uint64
	enc    string
}

func (v val) equal(o val) bool { return v.cookie == o.cookie && v.enc == o.enc }

// holder is a unit's wish for one key.
type holder struct {
	unit *unit
	v    val
}

// Entry state bits.
const (
	stInstalled uint8 = 1 << iota // installed is set
	stTracked                     // in index.tracked, to be diffed by the next Changes
	stTouched                     // scratch of set: the desired entry before the call is saved
	stHeld                        // scratch of set: already in the unit's new list
	stDup                         // in index.dups
	stForeign                     // installed is not owned (index.owned said so when it was installed)
)

// entry is everything the table knows about one key.
type entry[K comparable] struct {
	key       K
	holders   []holder // the units that want the key, by unit name; holders[0] is desired
	installed val      // valid with stInstalled
	state     uint8
}

func (e *entry[K]) hasDesired() bool  { return len(e.holders) > 0 }
func (e *entry[K]) desired() val      { return e.holders[0].v }
func (e *entry[K]) isInstalled() bool { return e.state&stInstalled != 0 }

// intern returns b as a string, the entry's own copy if it has an equal encoding already (so
// that equal contents share one copy, and an unchanged flow costs no allocation).
func (e *entry[K]) intern(b []byte) string {
	if e != nil {
		if e.isInstalled() && e.installed.enc == string(b) {
			return e.installed.enc
		}
		for _, h := range e.holders {
			if h.v.enc == string(b) {
				return h.v.enc
			}
		}
	}
	return string(b)
}

// addHolder records u's wish v, after the holders whose unit name sorts before or equal to
// u's (so that within a unit the first wish wins); a wish u already has is not repeated.
func (e *entry[K]) addHolder(u *unit, v val) {
	at := len(e.holders)
	for i, h := range e.holders {
		if h.unit == u && h.v.equal(v) {
			return
		}
		if h.unit.name > u.name && at == len(e.holders) {
			at = i
		}
	}
	e.holders = append(e.holders, holder{})
	copy(e.holders[at+1:], e.holders[at:])
	e.holders[at] = holder{unit: u, v: v}
}

func (e *entry[K]) removeHolders(u *unit) {
	out := e.holders[:0]
	for _, h := range e.holders {
		if h.unit != u {
			out = append(out, h)
		}
	}
	clear(e.holders[len(out):])
	if len(out) == 0 {
		out = nil
	}
	e.holders = out
}

// verdict is what a key needs.
type verdict uint8

const (
	vSync     verdict = iota // nothing: in sync, or only a foreign entry is there
	vAdd                     // desired, not installed
	vModify                  // desired, installed (owned) with other contents
	vDelete                  // installed (owned), not desired
	vConflict                // desired, installed by someone else with other contents
	vPinned                  // installed (owned), not desired, but used by someone else's entries
)

// index is one kind of entry (flows by Key, groups by id) with its tracked keys.
type index[K comparable] struct {
	m       map[K]*entry[K]
	owned   func(K, val) bool // whether an installed entry is ours
	pinned  func(K) bool      // whether an owned entry must stay although not desired; nil: never
	tracked []*entry[K]       // may hold untracked or dropped entries; stTracked says which count
	dups    map[*entry[K]]struct{}
	touched []touch[K] // scratch of set

	nDesired, nInstalled int
}

type touch[K comparable] struct {
	e      *entry[K]
	had    bool
	before val
}

func (x *index[K]) verdict(e *entry[K]) verdict {
	switch {
	case e.hasDesired() && !e.isInstalled():
		return vAdd
	case e.hasDesired() && e.desired().equal(e.installed):
		return vSync
	case e.hasDesired() && e.state&stForeign != 0:
		return vConflict
	case e.hasDesired():
		return vModify
	case e.isInstalled() && e.state&stForeign == 0:
		if x.pinned != nil && x.pinned(e.key) {
			return vPinned
		}
		return vDelete
	}
	return vSync
}

func (x *index[K]) track(e *entry[K]) {
	if e.state&stTracked == 0 {
		e.state |= stTracked
		x.tracked = append(x.tracked, e)
	}
}

func (x *index[K]) trackedLen() int {
	seen := map[*entry[K]]bool{}
	for _, e := range x.tracked {
		if e.state&stTracked != 0 && x.m[e.key] == e {
			seen[e] = true
		}
	}
	return len(seen)
}

// compact drops from tracked the entries no longer tracked, and repeats.
func (x *index[K]) compact() { x.scan(nil) }

// val returns the contents cookie and enc (encoded bytes) for key k.
func (x *index[K]) val(k K, cookie uint64, enc []byte) val {
	return val{cookie: cookie, enc: x.m[k].intern(enc)}
}

// set replaces the wishes of u, whose entries are *held, with n new ones (item i gives the
// key, the cookie and the encoded contents, valid until the next call).
func (x *index[K]) set(u *unit, held *[]*entry[K], n int, item func(i int) (K, uint64, []byte)) {
	touched := x.touched[:0]
	mark := func(e *entry[K]) {
		if e.state&stTouched == 0 {
			e.state |= stTouched
			t := touch[K]{e: e, had: e.hasDesired()}
			if t.had {
				t.before = e.desired()
			}
			touched = append(touched, t)
		}
	}
	for _, e := range *held {
		mark(e)
		e.removeHolders(u)
	}
	list := (*held)[:0]
	for i := 0; i < n; i++ {
		k, cookie, enc := item(i)
		e := x.m[k]
		if e == nil {
			e = &entry[K]{key: k}
			x.m[k] = e
		}
		mark(e)
		e.addHolder(u, val{cookie: cookie, enc: e.intern(enc)})
		if e.state&stHeld == 0 {
			e.state |= stHeld
			list = append(list, e)
		}
	}
	clear(list[len(list):cap(list)])
	if cap(list) > 2*len(list)+16 {
		list = append([]*entry[K](nil), list...)
	}
	if len(list) == 0 {
		list = nil
	}
	*held = list
	for _, t := range touched {
		e := t.e
		e.state &^= stTouched | stHeld
		has := e.hasDesired()
		if has != t.had || (has && !e.desired().equal(t.before)) {
			x.track(e)
		}
		switch {
		case has && !t.had:
			x.nDesired++
		case !has && t.had:
			x.nDesired--
		}
		x.updateDup(e)
		if !has && !e.isInstalled() {
			delete(x.m, e.key)
		}
	}
	clear(touched)
	x.touched = touched[:0]
}

// updateDup keeps dups to the entries whose holders disagree.
func (x *index[K]) updateDup(e *entry[K]) {
	dup := false
	for _, h := range e.holders[min(1, len(e.holders)):] {
		if !h.v.equal(e.holders[0].v) {
			dup = true
			break
		}
	}
	switch {
	case dup && e.state&stDup == 0:
		if x.dups == nil {
			x.dups = map[*entry[K]]struct{}{}
		}
		x.dups[e] = struct{}{}
		e.state |= stDup
	case !dup && e.state&stDup != 0:
		delete(x.dups, e)
		e.state &^= stDup
	}
}

// clearInstalled forgets every installed entry.
func (x *index[K]) clearInstalled() {
	for k, e := range x.m {
		e.state &^= stInstalled | stForeign
		e.installed = val{}
		if !e.hasDesired() {
			delete(x.m, k)
		}
	}
	x.nInstalled = 0
}

// install records v as installed at k.
func (x *index[K]) install(k K, v val) {
	e := x.m[k]
	if e == nil {
		e = &entry[K]{key: k}
		x.m[k] = e
	}
	if !e.isInstalled() {
		x.nInstalled++
	}
	e.installed = v
	e.state |= stInstalled
	e.state &^= stForeign
	if !x.owned(k, v) {
		e.state |= stForeign
	}
}

// trackAll tracks every key.
func (x *index[K]) trackAll() {
	for _, e := range x.tracked {
		e.state &^= stTracked
	}
	clear(x.tracked)
	x.tracked = x.tracked[:0]
	for _, e := range x.m {
		x.track(e)
	}
}

// commit records that v is installed at k (or that nothing is, with present false).
func (x *index[K]) commit(k K, v val, present bool) {
	e := x.m[k]
	switch {
	case present:
		x.install(k, v)
		e = x.m[k]
	case e == nil:
		return
	case e.isInstalled():
		e.state &^= stInstalled | stForeign
		e.installed = val{}
		x.nInstalled--
	}
	if x.verdict(e) == vSync {
		e.state &^= stTracked // its stale place in tracked is skipped by scan
	} else {
		x.track(e)
	}
	if !e.hasDesired() && !e.isInstalled() {
		delete(x.m, k)
	}
}

// scan calls fn for every tracked key that needs a change or conflicts, and stops tracking the
// others. Each entry is visited once, however often it appears in tracked. With fn nil it
// only compacts tracked: untracked entries and repeats go, tracked ones stay.
func (x *index[K]) scan(fn func(*entry[K], verdict)) {
	keep := x.tracked[:0]
	for _, e := range x.tracked {
		if e.state&stTracked == 0 {
			continue // untracked since, dropped, or a repeat already visited
		}
		e.state &^= stTracked
		if x.m[e.key] != e {
			continue // dropped from the table
		}
		if fn == nil {
			keep = append(keep, e)
		} else if v := x.verdict(e); v != vSync {
			fn(e, v)
			keep = append(keep, e)
		}
	}
	clear(x.tracked[len(keep):])
	for _, e := range keep {
		e.state |= stTracked
	}
	x.tracked = keep
}

// flowOf rebuilds a flow from its key and contents.
func flowOf(k Key, v val) Flow {
	return Flow{Table: k.Table, Priority: k.Priority, Cookie: v.cookie, Match: decodeIdentity(k.Match), Actions: unpackActions(v.enc)}
}

// groupOf rebuilds a group from its id and encoded type and buckets.
func groupOf(id uint32, v val) Group {
	g := Group{ID: id}
	if v.enc == "" {
		return g
	}
	g.Type = GroupType(v.enc[0])
	for r := (reader{s: v.enc, i: 1}); r.more(); {
		g.Buckets = append(g.Buckets, Bucket{Actions: unpackActions(r.str(int(r.uvarint())))})
	}
	return g
}

// groupRefs lists the groups an encoded group's buckets hand packets to.
func groupRefs(enc string) []uint32 {
	var out []uint32
	if enc == "" {
		return nil
	}
	for r := (reader{s: enc, i: 1}); r.more(); {
		for _, a := range unpackActions(r.str(int(r.uvarint()))) {
			if ga, ok := a.(GroupAction); ok {
				out = append(out, ga.ID)
			}
		}
	}
	return out
}

// decodeIdentity reads Match.identity back into the (normalized) match.
func decodeIdentity(s string) Match {
	if s == "" {
		return nil
	}
	n := 0
	for r := (reader{s: s}); r.more(); n++ {
		r.uvarint()
		r.str(int(r.byte()))
		r.str(int(r.byte()))
	}
	m := make(Match, 0, n)
	buf := []byte(s) // one copy; values and masks are capped slices of it
	for r := (reader{s: s}); r.more(); {
		f := Field(r.uvarint())
		vl := int(r.byte())
		e := MatchField{Field: f, Value: buf[r.i : r.i+vl : r.i+vl]}
		r.i += vl
		if ml := int(r.byte()); ml > 0 {
			e.Mask = buf[r.i : r.i+ml : r.i+ml]
			r.i += ml
		}
		m = append(m, e)
	}
	return m
}

// Action encoding tags. The encoding is compact (a tag, then the action's fields, integers as
// uvarints) and canonical: two well-formed actions encode alike exactly when they print alike
// (a PushVLAN of EtherType 0 is 0x8100; a CT that does not recirculate has no table).
const (
	encOutput byte = iota + 1
	encPopVLAN
	encPushVLAN
	encSetField
	encGroup
	encResubmit
	encGotoTable
	encMove
	encCT
	encUnknown
	encConjunction
	encController
	encMeter
	encNote
	encDecTTL
)

// packActions appends the encoding of actions to b. An Action type it does not know is a
// programming error (every type lives in this package): it panics, naming the type.
func packActions(b []byte, actions []Action) []byte {
	for _, a := range actions {
		switch a := a.(type) {
		case Output:
			b = binary.AppendUvarint(append(b, encOutput), uint64(a.Port))
		case PopVLAN:
			b = append(b, encPopVLAN)
		case PushVLAN:
			t := a.EtherType
			if t == 0 {
				t = 0x8100
			}
			b = binary.AppendUvarint(append(b, encPushVLAN), uint64(t))
		case SetField:
			b = binary.AppendUvarint(append(b, encSetField), uint64(a.Field))
			b = binary.AppendUvarint(b, uint64(len(a.Value)))
			b = append(b, a.Value...)
		case GroupAction:
			b = binary.AppendUvarint(append(b, encGroup), uint64(a.ID))
		case Resubmit:
			b = append(b, encResubmit, a.Table)
		case GotoTable:
			b = append(b, encGotoTable, a.Table)
		case Move:
			b = binary.AppendUvarint(append(b, encMove), uint64(a.Src))
			b = binary.AppendUvarint(b, uint64(a.Dst))
		case CT:
			var flags, table byte
			if a.Commit {
				flags |= 1
			}
			if a.Recirculate {
				flags |= 2
				table = a.Table
			}
			b = binary.AppendUvarint(append(b, encCT, flags, table), uint64(a.Zone))
		case Conjunction:
			b = binary.AppendUvarint(append(b, encConjunction, a.Clause, a.NClauses), uint64(a.ID))
		case Controller:
			a = a.canonical()
			if _, whole := a.plain(); whole { // the same action as Output{PortController}
				b = binary.AppendUvarint(append(b, encOutput), uint64(PortController))
				continue
			}
			b = binary.AppendUvarint(append(b, encController), uint64(a.MaxLen))
			b = binary.AppendUvarint(b, uint64(a.MeterID))
			b = binary.AppendUvarint(b, uint64(len(a.Userdata)))
			b = append(b, a.Userdata...)
		case MeterAction:
			b = binary.AppendUvarint(append(b, encMeter), uint64(a.ID))
		case Note:
			data := a.Padded()
			b = binary.AppendUvarint(append(b, encNote), uint64(len(data)))
			b = append(b, data...)
		case DecTTL:
			b = append(b, encDecTTL)
		case UnknownAction:
			var inst byte
			if a.Instruction {
				inst = 1
			}
			b = binary.AppendUvarint(append(b, encUnknown, inst), uint64(len(a.Raw)))
			b = append(b, a.Raw...)
		default:
			panic(fmt.Sprintf("openflow: FlowTable cannot encode action %T (%v); teach packActions and unpackActions", a, a))
		}
	}
	return b
}

// unpackActions reads packActions' encoding back.
func unpackActions(s string) []Action {
	if s == "" {
		return nil
	}
	var out []Action
	for r := (reader{s: s}); r.more(); {
		switch tag := r.byte(); tag {
		case encOutput:
			out = append(out, Output{Port: uint32(r.uvarint())})
		case encPopVLAN:
			out = append(out, PopVLAN{})
		case encPushVLAN:
			out = append(out, PushVLAN{EtherType: uint16(r.uvarint())})
		case encSetField:
			f := Field(r.uvarint())
			out = append(out, SetField{Field: f, Value: []byte(r.str(int(r.uvarint())))})
		case encGroup:
			out = append(out, GroupAction{ID: uint32(r.uvarint())})
		case encResubmit:
			out = append(out, Resubmit{Table: r.byte()})
		case encGotoTable:
			out = append(out, GotoTable{Table: r.byte()})
		case encMove:
			src := Field(r.uvarint())
			out = append(out, Move{Src: src, Dst: Field(r.uvarint())})
		case encCT:
			flags, table := r.byte(), r.byte()
			out = append(out, CT{Commit: flags&1 != 0, Recirculate: flags&2 != 0, Table: table, Zone: uint16(r.uvarint())})
		case encConjunction:
			clause, n := r.byte(), r.byte()
			out = append(out, Conjunction{ID: uint32(r.uvarint()), Clause: clause, NClauses: n})
		case encController:
			a := Controller{MaxLen: uint16(r.uvarint())}
			a.MeterID = uint32(r.uvarint())
			if n := int(r.uvarint()); n > 0 {
				a.Userdata = []byte(r.str(n))
			}
			out = append(out, a)
		case encMeter:
			out = append(out, MeterAction{ID: uint32(r.uvarint())})
		case encNote:
			out = append(out, Note{Data: []byte(r.str(int(r.uvarint())))})
		case encDecTTL:
			out = append(out, DecTTL{})
		case encUnknown:
			inst := r.byte() == 1
			out = append(out, UnknownAction{Instruction: inst, Raw: []byte(r.str(int(r.uvarint())))})
		default:
			panic(fmt.Sprintf("openflow: FlowTable: corrupt action encoding %x (tag %d)", s, tag))
		}
	}
	return out
}

// packGroup appends a group's encoding: its type, then each bucket's action encoding behind
// its length. The id is the key and is not part of it.
func packGroup(b []byte, g Group) []byte {
	b = append(b, byte(g.Type))
	var tmp [binary.MaxVarintLen64]byte
	for _, bk := range g.Buckets {
		at := len(b)
		b = packActions(b, bk.Actions)
		n := binary.PutUvarint(tmp[:], uint64(len(b)-at))
		b = append(b, tmp[:n]...) // make room, then move the bucket behind its length
		copy(b[at+n:], b[at:len(b)-n])
		copy(b[at:], tmp[:n])
	}
	return b
}

// reader walks an encoding; it panics past the end, which only a corrupt encoding reaches.
type reader struct {
	s string
	i int
}

func (r *reader) more() bool { return r.i < len(r.s) }
func (r *reader) byte() byte { c := r.s[r.i]; r.i++; return c }
func (r *reader) str(n int) string {
	s := r.s[r.i : r.i+n]
	r.i += n
	return s
}
func (r *reader) uvarint() uint64 {
	var v uint64
	for shift := 0; ; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
}
