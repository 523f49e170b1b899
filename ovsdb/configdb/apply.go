package configdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// ErrConflict is returned by ApplyRows when another writer changed the config
// between the read ApplyRows diffed against and its commit. Nothing was written;
// applying again diffs against the newer config.
var ErrConflict = errors.New("the config in the database changed while this one was being applied; nothing was written: apply again")

// Kind names a kind of config object in a Summary.
type Kind string

// The kinds, in the order a Summary lists them.
const (
	KindVirtualNetwork          Kind = "virtual-network"
	KindPhysicalRouter          Kind = "physical-router"
	KindPhysicalInterface       Kind = "physical-interface" // named router/interface
	KindLogicalInterface        Kind = "logical-interface"  // named router/interface
	KindVirtualMachineInterface Kind = "virtual-machine-interface"
	KindSecurityGroup           Kind = "security-group"
	KindNetworkPolicy           Kind = "network-policy"
	KindTorSwitch               Kind = "tor-switch" // its bindings are part of it
	KindLogicalRouter           Kind = "logical-router"
)

var kindOrder = []Kind{KindVirtualNetwork, KindPhysicalRouter, KindPhysicalInterface, KindLogicalInterface,
	KindVirtualMachineInterface, KindSecurityGroup, KindNetworkPolicy, KindTorSwitch, KindLogicalRouter}

// Change is one config object ApplyRows adds, removes or changes.
type Change struct {
	Kind Kind
	Name string
	// Fields are the columns that differ, for a change; a group's or a
	// policy's "rules" when any of its rules differs.
	Fields []string
}

func (c Change) String() string {
	s := string(c.Kind) + " " + c.Name
	if len(c.Fields) > 0 {
		s += ": " + strings.Join(c.Fields, ", ")
	}
	return s
}

// Summary is what ApplyRows did, or with dryRun would do.
type Summary struct {
	Removed, Added, Changed []Change
	// Generation is the config generation after ApplyRows (the current one when
	// nothing was written).
	Generation int
}

// Empty reports whether the config in the database already was the one applied.
func (s *Summary) Empty() bool { return len(s.Added)+len(s.Removed)+len(s.Changed) == 0 }

// String lists the removals, additions and changes, one per line, then the totals.
func (s *Summary) String() string {
	var b strings.Builder
	for _, l := range []struct {
		verb string
		list []Change
	}{{"remove", s.Removed}, {"add", s.Added}, {"change", s.Changed}} {
		for _, c := range l.list {
			fmt.Fprintf(&b, "%-7s %s\n", l.verb, c)
		}
	}
	if s.Empty() {
		b.WriteString("no change\n")
	} else {
		fmt.Fprintf(&b, "%d removed, %d added, %d changed\n", len(s.Removed), len(s.Added), len(s.Changed))
	}
	return b.String()
}

func (s *Summary) find(list []Change, k Kind, name string) int {
	return slices.IndexFunc(list, func(c Change) bool { return c.Kind == k && c.Name == name })
}

func (s *Summary) sort() {
	for _, l := range [][]Change{s.Removed, s.Added, s.Changed} {
		slices.SortFunc(l, func(a, b Change) int {
			if d := slices.Index(kindOrder, a.Kind) - slices.Index(kindOrder, b.Kind); d != 0 {
				return d
			}
			return strings.Compare(a.Name, b.Name)
		})
	}
}

// ApplyRows makes the config tables equal want. It diffs want against the
// database row by row, matched by key (see ConfigRows), and summarises the
// diff object by object (rules as part of their group or policy, ToR
// bindings as part of their switch); then it writes every insert, delete and
// update of the columns that differ in one transaction that holds only if
// the config generation is still the one diffed against (else ErrConflict),
// and bumps the generation. With dryRun, or when nothing differs, it writes
// nothing. It returns once the cache shows the result. It does not validate:
// the domain side validates the config the rows come from. want's rows are
// ApplyRows' to change (it sets the UUIDs of rows it updates).
func (c *Client) ApplyRows(ctx context.Context, want *ConfigRows, dryRun bool) (*Summary, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	s, err := c.snapshot(configTables...)
	if err != nil {
		return nil, err
	}
	p := &planner{c: c}
	sum := p.config(s, want)
	if p.err != nil {
		return nil, fmt.Errorf("apply config: %w", p.err)
	}
	sum.Generation = s.generation()
	if dryRun || sum.Empty() {
		return sum, nil
	}
	if err := c.commit(ctx, s, p, sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// commit sends p's operations guarded by the generation s was read at, and
// waits until the cache shows the new generation.
func (c *Client) commit(ctx context.Context, s *snapshot, p *planner, sum *Summary) error {
	guard, err := c.generationOps(s.root)
	if err != nil {
		return err
	}
	sum.Generation = s.generation() + 1
	what := fmt.Sprintf("apply config generation %d", sum.Generation)
	err = c.transact(ctx, what, append(guard, p.ops...))
	var timedOut *libovsdb.TimedOut
	if errors.As(err, &timedOut) && timedOut.Operation() != nil && timedOut.Operation().Table == gatewaydb.OVSGWTable {
		return fmt.Errorf("%w (it had generation %d)", ErrConflict, s.generation())
	}
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"generation": sum.Generation, "added": len(sum.Added),
		"removed": len(sum.Removed), "changed": len(sum.Changed)}).Info("config applied")
	if !c.monitor {
		return nil // no cache to wait for: the next read asks the server
	}
	return clientkit.WaitCache(ctx, cacheSyncTimeout, what, c.sig.Updated, func() (bool, error) {
		g, err := c.Generation()
		return g >= sum.Generation, err
	})
}

// generationOps guard a config write: wait (with timeout 0, i.e. check)
// that the root row still has the generation read, and bump it. Without a
// root row the insert creates it; the schema's maxRows 1 then refuses a
// second writer that raced to create it.
func (c *Client) generationOps(root *gatewaydb.OVSGW) ([]libovsdb.Operation, error) {
	if root == nil {
		return c.conn().Create(&gatewaydb.OVSGW{Generation: 1})
	}
	// Built by hand: libovsdb's Wait needs a Where on an index, and its
	// Operation JSON drops an empty where or rows, which ovsdb-server needs.
	check := 0
	wait := libovsdb.Operation{
		Op:      libovsdb.OperationWait,
		Table:   gatewaydb.OVSGWTable,
		Timeout: &check,
		Where:   []libovsdb.Condition{libovsdb.NewCondition("_uuid", libovsdb.ConditionEqual, libovsdb.UUID{GoUUID: root.UUID})},
		Columns: []string{"generation"},
		Until:   string(libovsdb.WaitConditionEqual),
		Rows:    []libovsdb.Row{{"generation": root.Generation}},
	}
	next := &gatewaydb.OVSGW{UUID: root.UUID, Generation: root.Generation + 1}
	bump, err := c.conn().Where(next).Update(next, &next.Generation)
	if err != nil {
		return nil, fmt.Errorf("build generation bump: %w", err)
	}
	return append([]libovsdb.Operation{wait}, bump...), nil
}

// planner collects the operations of one transaction; the first error
// building one sticks.
type planner struct {
	c   *Client
	ops []libovsdb.Operation
	err error
}

// config plans the rows of every config table and summarises them.
func (p *planner) config(s *snapshot, want *ConfigRows) *Summary {
	sum := &Summary{}
	objects(sum, KindVirtualNetwork, syncRows(p, s.vns, want.VirtualNetworks, func(r *gatewaydb.VirtualNetwork) string { return r.Name }))
	objects(sum, KindPhysicalRouter, syncRows(p, s.prs, want.PhysicalRouters, func(r *gatewaydb.PhysicalRouter) string { return r.Name }))
	objects(sum, KindPhysicalInterface, syncRows(p, s.pis, want.PhysicalInterfaces, func(r *gatewaydb.PhysicalInterface) string { return r.Router + "/" + r.Name }))
	liKey := func(r *gatewaydb.LogicalInterface) string { return r.Router + "/" + r.Name }
	vmiKey := func(r *gatewaydb.VirtualMachineInterface) string { return r.Name }
	lis := unownedRows(p, KindLogicalInterface, s.lis, want.LogicalInterfaces, liKey, func(r *gatewaydb.LogicalInterface) string { return r.ExternalIDs[OwnerKey] })
	vmis := unownedRows(p, KindVirtualMachineInterface, s.vmis, want.VirtualMachineInterfaces, vmiKey, func(r *gatewaydb.VirtualMachineInterface) string { return r.ExternalIDs[OwnerKey] })
	objects(sum, KindLogicalInterface, syncRows(p, lis, want.LogicalInterfaces, liKey))
	objects(sum, KindVirtualMachineInterface, syncRows(p, vmis, want.VirtualMachineInterfaces, vmiKey))
	objects(sum, KindSecurityGroup, syncRows(p, s.sgs, want.SecurityGroups, func(r *gatewaydb.SecurityGroup) string { return r.Name }))
	rules(sum, KindSecurityGroup, syncRows(p, s.sgRules, want.SecurityGroupRules, func(r *gatewaydb.SecurityGroupRule) string {
		return r.SecurityGroup + "/" + strconv.Itoa(r.Position)
	}))
	objects(sum, KindNetworkPolicy, syncRows(p, s.nps, want.NetworkPolicies, func(r *gatewaydb.NetworkPolicy) string { return r.Name }))
	rules(sum, KindNetworkPolicy, syncRows(p, s.npRules, want.NetworkPolicyRules, func(r *gatewaydb.NetworkPolicyRule) string {
		return r.NetworkPolicy + "/" + strconv.Itoa(r.Position)
	}))
	p.torConfig(sum, s, want)
	objects(sum, KindLogicalRouter, syncRows(p, s.lrs, want.LogicalRouters, func(r *gatewaydb.LogicalRouter) string { return r.Name }))
	sum.sort()
	return sum
}

// unowned is have without the rows another writer owns (external_ids:owner
// set, as a vCenter sync marks the rows it generates): ApplyRows neither
// compares nor deletes them. A row of want with the key of an owned row is
// an error naming both: the config must rename it.
func unownedRows[T any](p *planner, kind Kind, have, want []T, key, owner func(*T) string) []T {
	owned := map[string]string{}
	var out []T
	for i := range have {
		if o := owner(&have[i]); o != "" {
			owned[key(&have[i])] = o
			continue
		}
		out = append(out, have[i])
	}
	for i := range want {
		if o, ok := owned[key(&want[i])]; ok && p.err == nil {
			p.err = fmt.Errorf("%s %s: the config DB holds one of that name generated by %s; rename it in the config", kind, key(&want[i]), o)
		}
	}
	return out
}

// rowDiff is one row syncRows adds, removes or changes, by its key.
type rowDiff struct {
	op     string // "add", "remove", "change"
	key    string
	fields []string // changed columns
}

// syncRows plans the operations that turn a table's rows have into want,
// rows matched by key: inserts, deletes, and updates of only the columns
// that differ. Rows with equal keys in have (which the schema's indexes
// forbid) are all but the first deleted.
func syncRows[T any](p *planner, have, want []T, key func(*T) string) []rowDiff {
	var diffs []rowDiff
	byKey := map[string]*T{}
	for i := range have {
		k := key(&have[i])
		if byKey[k] != nil {
			p.add(p.c.conn().Where(&have[i]).Delete())
			continue
		}
		byKey[k] = &have[i]
	}
	for i := range want {
		w := &want[i]
		k := key(w)
		h := byKey[k]
		delete(byKey, k)
		if h == nil {
			p.add(p.c.conn().Create(w))
			diffs = append(diffs, rowDiff{op: "add", key: k})
			continue
		}
		fields, ptrs := differingColumns(h, w)
		if len(fields) == 0 {
			continue
		}
		reflect.ValueOf(w).Elem().FieldByName("UUID").SetString(uuidOf(h))
		p.add(p.c.conn().Where(model.Model(w)).Update(w, ptrs...))
		diffs = append(diffs, rowDiff{op: "change", key: k, fields: fields})
	}
	for _, k := range slices.Sorted(maps.Keys(byKey)) { // sorted: stable transactions
		p.add(p.c.conn().Where(byKey[k]).Delete())
		diffs = append(diffs, rowDiff{op: "remove", key: k})
	}
	return diffs
}

func (p *planner) add(ops []libovsdb.Operation, err error) {
	if err != nil && p.err == nil {
		p.err = err
	}
	p.ops = append(p.ops, ops...)
}

// differingColumns compares two rows of one table column by column and
// returns the columns that differ and pointers to want's fields for them.
// An empty and an absent set or map are equal, and sets compare without
// order: ovsdb-server returns set elements sorted, the YAML gives them in
// any order.
func differingColumns(have, want any) ([]string, []any) {
	h, w := reflect.ValueOf(have).Elem(), reflect.ValueOf(want).Elem()
	var cols []string
	var ptrs []any
	for _, c := range columnsOf(h.Type()) {
		if sameValue(h.Field(c.field), w.Field(c.field)) {
			continue
		}
		cols = append(cols, c.name)
		ptrs = append(ptrs, w.Field(c.field).Addr().Interface())
	}
	return cols, ptrs
}

// column is a field of a generated model that holds a column other than _uuid.
type column struct {
	field int
	name  string
}

// columnsByType caches the columns of each model type (reflect.Type → []column).
var columnsByType sync.Map

func columnsOf(t reflect.Type) []column {
	if c, ok := columnsByType.Load(t); ok {
		return c.([]column)
	}
	var cols []column
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("ovsdb"); name != "" && name != "_uuid" {
			cols = append(cols, column{i, name})
		}
	}
	columnsByType.Store(t, cols)
	return cols
}

// sameValue compares two values of a model field without copying them out
// of reflection, the common case (equal) first: thousands of rows are
// compared per ApplyRows.
func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.String:
		return a.String() == b.String()
	case reflect.Int:
		return a.Int() == b.Int()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Pointer: // an optional value
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			v := b.MapIndex(it.Key())
			if !v.IsValid() || !sameValue(it.Value(), v) {
				return false
			}
		}
		return true
	case reflect.Slice: // every slice of the generated models is a set of strings
		if a.Len() != b.Len() {
			return false
		}
		inOrder := true
		for i := range a.Len() {
			if a.Index(i).String() != b.Index(i).String() {
				inOrder = false
				break
			}
		}
		if inOrder {
			return true
		}
		x, y := slices.Clone(a.Interface().([]string)), slices.Clone(b.Interface().([]string))
		slices.Sort(x)
		slices.Sort(y)
		return slices.Equal(x, y)
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// objects records each row diff of an object table as that object's change.
func objects(sum *Summary, kind Kind, diffs []rowDiff) {
	for _, d := range diffs {
		c := Change{Kind: kind, Name: d.key, Fields: d.fields}
		switch d.op {
		case "add":
			sum.Added = append(sum.Added, c)
		case "remove":
			sum.Removed = append(sum.Removed, c)
		default:
			sum.Changed = append(sum.Changed, c)
		}
	}
}

// rules records rule row diffs (keyed owner/position) as a change of the
// "rules" of their group or policy, unless that is added or removed whole.
func rules(sum *Summary, kind Kind, diffs []rowDiff) {
	for _, d := range diffs {
		owner := d.key[:strings.LastIndex(d.key, "/")]
		if sum.find(sum.Added, kind, owner) >= 0 || sum.find(sum.Removed, kind, owner) >= 0 {
			continue
		}
		if i := sum.find(sum.Changed, kind, owner); i >= 0 {
			if !slices.Contains(sum.Changed[i].Fields, "rules") {
				sum.Changed[i].Fields = append(sum.Changed[i].Fields, "rules")
			}
			continue
		}
		sum.Changed = append(sum.Changed, Change{Kind: kind, Name: owner, Fields: []string{"rules"}})
	}
}

// OwnerKey is the external_ids key of a logical interface or VMI row that a
// program other than ovsgw db apply generated and keeps (a vCenter sync:
// "vcenter:NAME"); ApplyRows leaves such rows alone.
const OwnerKey = "owner"
