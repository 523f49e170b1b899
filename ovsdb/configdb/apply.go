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

	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	gwmodel "github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// ErrConflict is returned by Apply when another writer changed the config
// between the read Apply diffed against and its commit. Nothing was written;
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
)

var kindOrder = []Kind{KindVirtualNetwork, KindPhysicalRouter, KindPhysicalInterface, KindLogicalInterface,
	KindVirtualMachineInterface, KindSecurityGroup, KindNetworkPolicy, KindTorSwitch}

// Change is one config object Apply adds, removes or changes.
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

// Summary is what Apply did, or with dryRun would do.
type Summary struct {
	Removed, Added, Changed []Change
	// Generation is the config generation after Apply (the current one when
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

// Apply makes the config in the database equal cfg. It validates cfg first
// and returns model.Validate's error unchanged when cfg is refused; nothing
// is written then. Otherwise it diffs cfg against the database object by
// object (by name; physical and logical interfaces by router and name;
// rules as part of their group or policy) and writes every addition,
// removal and change in one transaction that holds only if the config
// generation is still the one diffed against (else ErrConflict). With
// dryRun, or when nothing differs, it writes nothing. It returns once the
// cache shows the result.
func (c *Client) Apply(ctx context.Context, cfg *gwmodel.Config, dryRun bool) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	p := &planner{c: c}
	sum := p.config(s, toRows(cfg))
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
func (p *planner) config(s *snapshot, want configRows) *Summary {
	sum := &Summary{}
	objects(sum, KindVirtualNetwork, syncRows(p, s.vns, want.vns, func(r *gatewaydb.VirtualNetwork) string { return r.Name }))
	objects(sum, KindPhysicalRouter, syncRows(p, s.prs, want.prs, func(r *gatewaydb.PhysicalRouter) string { return r.Name }))
	objects(sum, KindPhysicalInterface, syncRows(p, s.pis, want.pis, func(r *gatewaydb.PhysicalInterface) string { return r.Router + "/" + r.Name }))
	objects(sum, KindLogicalInterface, syncRows(p, s.lis, want.lis, func(r *gatewaydb.LogicalInterface) string { return r.Router + "/" + r.Name }))
	objects(sum, KindVirtualMachineInterface, syncRows(p, s.vmis, want.vmis, func(r *gatewaydb.VirtualMachineInterface) string { return r.Name }))
	objects(sum, KindSecurityGroup, syncRows(p, s.sgs, want.sgs, func(r *gatewaydb.SecurityGroup) string { return r.Name }))
	rules(sum, KindSecurityGroup, syncRows(p, s.sgRules, want.sgRules, func(r *gatewaydb.SecurityGroupRule) string {
		return r.SecurityGroup + "/" + strconv.Itoa(r.Position)
	}))
	objects(sum, KindNetworkPolicy, syncRows(p, s.nps, want.nps, func(r *gatewaydb.NetworkPolicy) string { return r.Name }))
	rules(sum, KindNetworkPolicy, syncRows(p, s.npRules, want.npRules, func(r *gatewaydb.NetworkPolicyRule) string {
		return r.NetworkPolicy + "/" + strconv.Itoa(r.Position)
	}))
	p.torConfig(sum, s, want)
	sum.sort()
	return sum
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
	for i := range h.NumField() {
		col := h.Type().Field(i).Tag.Get("ovsdb")
		if col == "_uuid" || sameValue(h.Field(i), w.Field(i)) {
			continue
		}
		cols = append(cols, col)
		ptrs = append(ptrs, w.Field(i).Addr().Interface())
	}
	return cols, ptrs
}

func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Map:
		return a.Len() == 0 && b.Len() == 0 || reflect.DeepEqual(a.Interface(), b.Interface())
	case reflect.Slice: // every slice of the generated models is a set of strings
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
