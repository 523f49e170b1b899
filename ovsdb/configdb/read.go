package configdb

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// Reading the cache.
//
// libovsdb applies one update message from the server (one or more whole
// transactions) under a lock of its table cache, row by row, taking each
// row table's own lock in turn; a reader takes only the row table's lock.
// So a read of several tables, or even of one table row by row, can see half
// of an update: a logical interface without the VMI it names, a binding
// moved from one row to another seen in neither.
//
// read copies, per table, the cache's map from UUID to its row (a pointer
// the cache never writes through: it stores a fresh copy on every change),
// twice, until two copies in a row hold the same pointers. Such a read
// shows a state between two updates: reaching the second copy's first
// table takes the table cache's lock, so no update was half applied at that
// moment, and equal pointers mean that no table changed between its two
// copies, which straddle that moment. (A pointer is never reused for
// another version while the first copy still holds it.) The rows are the
// cache's own and read-only; copying the map costs about 50 ns a row, and
// nothing is cloned.
//
// Derived results (the node and binding lists, and what a caller derives
// from the config tables with DeriveFromConfig) are
// kept with the read they were built from (see get). A later call copies
// the row pointers once: when they are the kept read's, the cache has not
// changed and the kept result is returned (equal pointers prove, by the
// argument above, that the state is the kept consistent one); otherwise it
// reads the tables consistently and converts only the rows whose version
// changed: a table's conversions are kept by UUID with the row pointer they
// came from. Nothing here waits for libovsdb's events, which trail the
// cache: a read right after ApplyRows returns shows what it wrote.
//
// A session that monitors nothing (ConfigOnly) reads from the server
// instead, each read one transaction (see select.go).

// rows is one table of a read: UUID → the cache's own row, read-only.
type rows = map[string]model.Model

// The tables, by what they hold. Every table of the schema is in one list
// (TestTableLists).
var (
	// configTables are written by ApplyRows, the root row first.
	configTables = []string{
		gatewaydb.OVSGWTable,
		gatewaydb.VirtualNetworkTable, gatewaydb.PhysicalRouterTable, gatewaydb.PhysicalInterfaceTable,
		gatewaydb.LogicalInterfaceTable, gatewaydb.VirtualMachineInterfaceTable,
		gatewaydb.SecurityGroupTable, gatewaydb.SecurityGroupRuleTable,
		gatewaydb.NetworkPolicyTable, gatewaydb.NetworkPolicyRuleTable,
		gatewaydb.TorSwitchTable, gatewaydb.TorBindingTable, gatewaydb.LogicalRouterTable,
	}
	// stateTables are published by the agents, and by vCenter syncs (Vcenter_Sync, their status).
	stateTables = []string{gatewaydb.NodeTable, gatewaydb.BindingTable, gatewaydb.TorStateTable, gatewaydb.TorMACTable, gatewaydb.TorLeaseTable,
		gatewaydb.VcenterSyncTable}
	allTables = append(slices.Clone(configTables), stateTables...)

	isConfigTable = func() map[string]bool {
		m := map[string]bool{}
		for _, t := range configTables {
			m[t] = true
		}
		return m
	}()
)

// clientModel is the generated client model restricted to tables.
func clientModel(tables []string) (model.ClientDBModel, error) {
	full, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		return model.ClientDBModel{}, err
	}
	types := full.Types()
	models := map[string]model.Model{}
	for _, t := range tables {
		typ, ok := types[t]
		if !ok {
			return model.ClientDBModel{}, fmt.Errorf("no model of table %s", t)
		}
		models[t] = reflect.New(typ.Elem()).Interface()
	}
	return model.NewClientDBModel(DatabaseName, models)
}

// read reads tables consistently: from the session's cache (see above),
// or, when the session does not monitor them, from the server.
func (s *session) read(tables []string) (map[string]rows, error) {
	first, consistent, err := s.readOnce(tables)
	if err != nil || consistent {
		return first, err
	}
	return s.readAgain(tables, first)
}

// readAgain completes a consistent read that began with the copy prev.
func (s *session) readAgain(tables []string, prev map[string]rows) (map[string]rows, error) {
	for range stableReadAttempts {
		next, _, err := s.readOnce(tables)
		if err != nil {
			return nil, err
		}
		if sameVersions(prev, next) {
			return next, nil
		}
		prev = next
	}
	return nil, fmt.Errorf("read %s from cache: still changing after %d reads", DatabaseName, stableReadAttempts)
}

// readOnce copies the row pointers of tables from the cache once, not
// consistent by itself; or reads tables the session does not monitor from
// the server, in one transaction: consistent.
func (s *session) readOnce(tables []string) (r map[string]rows, consistent bool, err error) {
	cached := true
	for _, t := range tables {
		if !s.readable[t] {
			return nil, false, fmt.Errorf("read %s table: this client does not read it (ConfigOnly)", t)
		}
		cached = cached && s.monitored[t]
	}
	if !cached {
		r, err := selectRows(context.Background(), s.endpoint, s.tls, tables)
		return r, true, err
	}
	out := make(map[string]rows, len(tables))
	for _, t := range tables {
		rc := s.cache.Table(t) // takes the table cache's lock: waits for an update being applied
		if rc == nil {
			return nil, false, fmt.Errorf("read %s table from cache: no such table", t)
		}
		out[t] = rc.RowsShallow()
	}
	return out, false, nil
}

// sameVersions reports whether two reads of the same tables hold the same
// row versions.
func sameVersions(a, b map[string]rows) bool {
	if len(a) != len(b) {
		return false
	}
	for t, ra := range a {
		rb := b[t]
		if len(ra) != len(rb) {
			return false
		}
		for uuid, row := range ra {
			if rb[uuid] != row {
				return false
			}
		}
	}
	return true
}

// values returns a table's rows as values sorted by UUID. They share their
// slices and maps with the cache: read-only.
func values[T any](r rows) []T {
	out := make([]T, 0, len(r))
	for _, uuid := range slices.Sorted(maps.Keys(r)) {
		out = append(out, *r[uuid].(*T))
	}
	return out
}

// Conversions are a table's rows converted, by UUID, each with the row
// version it came from. By pointer: a map stores big values out of line
// anyway, and an unchanged row's conversion moves to the next map without a
// copy. The domain's conversion of the config tables keeps them too (see
// UpdateTable).
type Conversions[T any] map[string]*Conversion[T]

// Conversion is one row's conversion, Val, and the row version it came from.
type Conversion[T any] struct {
	from model.Model
	Val  T
}

type converted[T any] = Conversions[T]
type conversion[T any] = Conversion[T]

// RowChange is a row added (Old nil), changed, or removed (New nil), with
// its conversions.
type RowChange[T any] struct {
	UUID     string
	Old, New *Conversion[T]
}

type change[T any] = RowChange[T]

// update makes m, in place, the conversion of the table read r, converting
// only the rows whose version changed, and returns the changes: a map
// lookup per row, and work for the rows that changed. A changed row is
// checked first (see checkRow): one that fails is not converted but put in
// refused (in place too; nil is made when needed), where it stays unchecked
// until its version changes, and leaves m as a removal; fresh lists the rows
// refused by this call that were not refused before with the same errors.
func update[R, T any](m converted[T], refused Refused, r rows, conv func(*R) T) (_ converted[T], _ Refused, _ []change[T], fresh []*Refusal) {
	if m == nil {
		m = make(converted[T], len(r))
	}
	table := tableOf[R]()
	var changes []change[T]
	for uuid, row := range r {
		p := m[uuid]
		if p != nil && p.from == row {
			continue
		}
		was := refused[uuid]
		if was != nil && was.from == row {
			continue
		}
		if errs := checkRow(table, uuid, row); errs != nil {
			if refused == nil {
				refused = Refused{}
			}
			x := &Refusal{from: row, Errs: errs}
			refused[uuid] = x
			if was == nil || was.Errs.Error() != errs.Error() {
				fresh = append(fresh, x)
			}
			if p != nil {
				delete(m, uuid)
				changes = append(changes, change[T]{uuid, p, nil})
			}
			continue
		}
		delete(refused, uuid)
		x := &conversion[T]{from: row, Val: conv(row.(*R))}
		m[uuid] = x
		changes = append(changes, change[T]{uuid, p, x})
	}
	if len(m)+len(refused) != len(r) { // a row is in one of them: some left the table
		for uuid, p := range m {
			if _, ok := r[uuid]; !ok {
				delete(m, uuid)
				changes = append(changes, change[T]{uuid, p, nil})
			}
		}
		for uuid := range refused {
			if _, ok := r[uuid]; !ok {
				delete(refused, uuid)
			}
		}
	}
	return m, refused, changes, fresh
}

// Order is a table's conversions in the order a view lists them, and the
// place of each UUID. Immutable once made: views share it.
type Order[T any] struct {
	list []*conversion[T]
	at   map[string]int
}

type order[T any] = Order[T]

// reorder returns the order of m after changes. When no row came or went
// and no changed row compares other than before (the usual change of a
// field moves nothing), that is prev with the changed conversions put in
// their places; otherwise m sorted by cmp, ties by UUID.
func reorder[T any](prev order[T], changes []change[T], m converted[T], cmp func(a, b *T) int) order[T] {
	if prev.at != nil && len(prev.list) == len(m) {
		same := true
		for _, ch := range changes {
			if ch.Old == nil || ch.New == nil || cmp(&ch.Old.Val, &ch.New.Val) != 0 {
				same = false
				break
			}
		}
		if same && len(changes) == 0 {
			return prev
		}
		if same {
			list := slices.Clone(prev.list)
			for _, ch := range changes {
				list[prev.at[ch.UUID]] = ch.New
			}
			return order[T]{list: list, at: prev.at}
		}
	}
	type entry struct {
		uuid string
		x    *conversion[T]
	}
	entries := make([]entry, 0, len(m))
	for uuid, x := range m {
		entries = append(entries, entry{uuid, x})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp(&a.x.Val, &b.x.Val); c != 0 {
			return c
		}
		return strings.Compare(a.uuid, b.uuid)
	})
	o := order[T]{list: make([]*conversion[T], len(entries)), at: make(map[string]int, len(entries))}
	for i, e := range entries {
		o.list[i], o.at[e.uuid] = e.x, i
	}
	return o
}

// Values lists the converted values in order.
func (o Order[T]) Values() []T {
	out := make([]T, len(o.list))
	for i, x := range o.list {
		out[i] = x.Val
	}
	return out
}

// Len is how many conversions o lists.
func (o Order[T]) Len() int { return len(o.list) }

// At is the i-th value in order, the conversion's own: read-only.
func (o Order[T]) At(i int) *T { return &o.list[i].Val }

// views are the results derived from the cache, each with the read it was
// built from.
type views struct {
	nodes     derived[tableView[NodeState]]
	bindings  derived[tableView[BindingState]]
	torState  derived[tableView[TorState]]
	torMACs   derived[tableView[TorMACState]]
	torLeases derived[tableView[TorLease]]
}

// derived is one result derived from some tables of the cache.
type derived[T any] struct {
	mu   sync.Mutex
	sess *session
	read map[string]rows // what val was built from
	val  T
}

// get returns the kept result while the cache holds the rows it was built
// from, at the cost of one copy of the tables' row pointers; otherwise it
// reads the tables consistently and builds the result with build, which
// gets the previous result to reuse what it can.
func get[T any](c *Client, d *derived[T], tables []string, build func(prev T, r map[string]rows) T) (T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := c.conn()
	r, consistent, err := s.readOnce(tables)
	if err != nil {
		var zero T
		return zero, err
	}
	if d.sess == s && d.read != nil && sameVersions(d.read, r) {
		return d.val, nil // consistent: see the comment at the top
	}
	if !consistent {
		if r, err = s.readAgain(tables, r); err != nil {
			var zero T
			return zero, err
		}
	}
	v := build(d.val, r)
	d.sess, d.read, d.val = s, r, v
	return v, nil
}

// tableView is one table converted row by row, the rows refused by their
// checks, and the conversions listed in the order cmp gives (ties in UUID
// order).
type tableView[T any] struct {
	rows    converted[T]
	refused Refused
	order   order[T]
	list    []T
}

// getList returns the kept list of one table (see get), converting the rows
// that changed since it was built. The list is shared: callers copy it. A
// row refused by its checks is left out, and logged and counted once (see
// Client.SkippedState).
func getList[R, T any](c *Client, d *derived[tableView[T]], table string, conv func(*R) T, cmp func(a, b *T) int) ([]T, error) {
	var fresh []*Refusal
	v, err := get(c, d, []string{table}, func(prev tableView[T], r map[string]rows) tableView[T] {
		// prev is replaced: its maps are taken over.
		rows, refused, changes, f := update(prev.rows, prev.refused, r[table], conv)
		fresh = f
		o := reorder(prev.order, changes, rows, cmp)
		return tableView[T]{rows: rows, refused: refused, order: o, list: o.Values()}
	})
	c.skipped(fresh) // not under d's lock: it logs
	return v.list, err
}

// list converts a table read and lists it in the order cmp gives, ties in
// UUID order, and the problems of the rows it left out.
func list[R, T any](r rows, conv func(*R) T, cmp func(a, b *T) int) ([]T, RowErrors) {
	rows, refused, changes, _ := update(nil, nil, r, conv)
	return reorder(order[T]{}, changes, rows, cmp).Values(), refused.errors()
}
