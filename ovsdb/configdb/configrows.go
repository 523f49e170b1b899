package configdb

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// The config tables as rows, for the domain side (gateway/configstore),
// which converts between them and the config model: this package speaks
// only in the generated models of ./gatewaydb.
//
// Reading: DeriveFromConfig hands a builder one consistent read of the
// config tables (a ConfigRead) and keeps what it built while the cache holds
// the same rows; UpdateTable and Reorder let the builder convert only the
// rows whose version changed since its previous build and keep a big
// table's order. Writing: ApplyRows makes the config tables equal a
// ConfigRows.

// ConfigRows is a config as the rows of the config tables (UUIDs empty), as
// ApplyRows wants it. Rows are matched to the database's by their key: the
// name (an interface's router and name, a logical interface's router and
// name, a rule's owner and position, a ToR binding's switch, port and VLAN).
type ConfigRows struct {
	VirtualNetworks          []gatewaydb.VirtualNetwork
	PhysicalRouters          []gatewaydb.PhysicalRouter
	PhysicalInterfaces       []gatewaydb.PhysicalInterface
	LogicalInterfaces        []gatewaydb.LogicalInterface
	VirtualMachineInterfaces []gatewaydb.VirtualMachineInterface
	SecurityGroups           []gatewaydb.SecurityGroup
	SecurityGroupRules       []gatewaydb.SecurityGroupRule
	NetworkPolicies          []gatewaydb.NetworkPolicy
	NetworkPolicyRules       []gatewaydb.NetworkPolicyRule
	TorSwitches              []gatewaydb.TorSwitch
	TorBindings              []gatewaydb.TorBinding
	LogicalRouters           []gatewaydb.LogicalRouter
}

// ConfigRead is one consistent read of the config tables (see read.go): the
// cache's own rows, read-only, each identified by its UUID and, across
// reads, by its version (a row that changed is another pointer).
type ConfigRead struct{ r map[string]rows }

// NewConfigRead is a read of the given rows of the config tables (generated models, each with
// its UUID set, unique), as a consistent read of the cache hands them to a builder: for tests
// and fuzzing of a conversion without a server. The rows are the read's, read-only.
func NewConfigRead(list ...model.Model) (ConfigRead, error) {
	r := ConfigRead{r: map[string]rows{}}
	for _, t := range configTables {
		r.r[t] = rows{}
	}
	full, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		return ConfigRead{}, err
	}
	types := full.Types()
	for _, row := range list {
		table := ""
		for name, typ := range types {
			if typ == reflect.TypeOf(row) {
				table = name
			}
		}
		if !isConfigTable[table] {
			return ConfigRead{}, fmt.Errorf("%T is no row of a config table", row)
		}
		uuid := uuidOf(row)
		if _, dup := r.r[table][uuid]; dup || uuid == "" {
			return ConfigRead{}, fmt.Errorf("row %T: UUID %q empty or given twice", row, uuid)
		}
		r.r[table][uuid] = row
	}
	return r, nil
}

// Generation is the config generation of the read (0: never applied).
func (r ConfigRead) Generation() int {
	for _, row := range r.r[gatewaydb.OVSGWTable] { // the schema allows at most one row
		return row.(*gatewaydb.OVSGW).Generation
	}
	return 0
}

// Len is how many rows the read holds of table.
func (r ConfigRead) Len(table string) int { return len(r.r[table]) }

// Derived is what a caller derives from the config tables with
// DeriveFromConfig, kept with the read it was built from. Its zero value is
// empty; it must not be copied after first use.
type Derived[T any] struct{ d derived[T] }

// DeriveFromConfig returns d's kept result while the cache holds the rows it
// was built from, at the cost of one copy of the config tables' row
// pointers; otherwise it reads the config tables consistently and calls
// build with the previous result (the zero T the first time; build may
// take it over, it is not used after) and the read. Calls on one d are
// serialised. After a move to another member the result is rebuilt.
func DeriveFromConfig[T any](c *Client, d *Derived[T], build func(prev T, r ConfigRead) T) (T, error) {
	return get(c, &d.d, configTables, func(prev T, r map[string]rows) T { return build(prev, ConfigRead{r}) })
}

// UpdateTable makes m (nil the first time), in place, the conversion of the
// table of R in r (R is a generated model: gatewaydb.VirtualNetwork, ...),
// converting with conv only the rows whose version changed, and returns it
// and the changes: a map lookup per row, and work for the rows that
// changed. conv gets the cache's row: read-only; what it returns must not
// share the row's slices or maps. A changed row is checked first, against
// the schema's constraints (see check.go): one that fails is not converted
// but kept in refused, with its errors, until it changes (it leaves m as a
// removal). A config with a refused row must be refused whole:
// refused.Errors() says why, naming table, row and column.
func UpdateTable[R, T any](m Conversions[T], refused *Refusals, r ConfigRead, conv func(*R) T) (Conversions[T], []RowChange[T]) {
	table := tableOf[R]()
	m, bad, changes, _ := update(m, refused.table(table), r.r[table], conv)
	refused.set(table, bad)
	return m, changes
}

// Reorder returns the order of m after changes, sorted by cmp, ties by UUID;
// prev (the zero Order the first time) with the changed conversions put in
// their places when no row came or went and none compares other than before.
func Reorder[T any](prev Order[T], changes []RowChange[T], m Conversions[T], cmp func(a, b *T) int) Order[T] {
	return reorder(prev, changes, m, cmp)
}

// tableNames caches the table of each generated model type (reflect.Type → string).
var tableNames sync.Map

// tableOf is the table whose generated model is R; it panics for another type.
func tableOf[R any]() string {
	t := reflect.TypeFor[R]()
	if name, ok := tableNames.Load(t); ok {
		return name.(string)
	}
	full, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		panic(fmt.Sprintf("configdb: generated model: %v", err))
	}
	for name, typ := range full.Types() {
		if typ.Elem() == t {
			tableNames.Store(t, name)
			return name
		}
	}
	panic(fmt.Sprintf("configdb: %v is no model of a table of %s", t, DatabaseName))
}

// Generation is the config generation in the cache: how many times
// ApplyRows has written the config (0: never). It reads the root row only.
func (c *Client) Generation() (int, error) {
	s, err := c.snapshot(gatewaydb.OVSGWTable)
	if err != nil {
		return 0, err
	}
	return s.generation(), nil
}
