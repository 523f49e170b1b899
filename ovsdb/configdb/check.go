package configdb

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
	"github.com/ovsgw/ovsgw/schemas"
)

// Checking what is read.
//
// Every row is checked when it is read, before anything is made of it: the config rows before
// the domain converts them, the state rows other agents publish before they are listed. A
// database that was not converted to this binary's schema enforces none of the constraints
// this one added, and any client may write one: a VNI of 2^32+1 in an int column, converted to
// 32 bits, was VNI 1. Two sets of rules:
//
//   - The constraints of the schema this binary was built with (schemas.Gateway, the file
//     itself: libovsdb's parsed copy confuses minLength with maxLength): minInteger and
//     maxInteger, minLength and maxLength (in characters, as ovsdb-server counts them), enum.
//   - What a state value means, which a schema cannot say: a node's tunnel address is IPv4, a
//     switch's are IP addresses, a learned MAC is a 48-bit unicast address, the HA keys of a
//     node's status hold what the agents write there.
//
// A row that breaks one is refused: a config row makes the domain refuse the whole config (see
// UpdateTable), a state row is skipped, logged and counted (see Client.SkippedState), so that a
// peer's bad row never stops this node. A refused row is checked again only when it changes.

// RowError is a value of a row read from the database that is out of what the schema or its
// meaning allows.
type RowError struct {
	Table string
	// Row names the row by the columns of its table's index ("blue", or
	// "node=gw2,vmi=bms9"), by its UUID when the table has none or they are empty.
	Row    string
	Column string
	// Reason says what is wrong: the value, and what is allowed.
	Reason string
}

func (e *RowError) Error() string { return e.Table + "[" + e.Row + "]." + e.Column + ": " + e.Reason }

// RowErrors are the problems of the rows of one read, sorted by table, row and column.
type RowErrors []*RowError

// Object names the row of the first error as the errors do (Tor_MAC[switch=tor1,vni=5001,mac=...]),
// for the object field of a log line.
func (es RowErrors) Object() string {
	if len(es) == 0 {
		return ""
	}
	return es[0].Table + "[" + es[0].Row + "]"
}

func (es RowErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return fmt.Sprintf("%d errors:\n  %s", len(es), strings.Join(lines, "\n  "))
}

func (es RowErrors) sort() {
	slices.SortFunc(es, func(a, b *RowError) int {
		return cmp.Or(strings.Compare(a.Table, b.Table), strings.Compare(a.Row, b.Row),
			strings.Compare(a.Column, b.Column), strings.Compare(a.Reason, b.Reason))
	})
}

// Refused are the rows of one table that failed their checks, by UUID, each with the row
// version that failed: such a row is not converted, and is checked again only when it
// changes. Kept from one read to the next like Conversions.
type Refused map[string]*Refusal

// Refusal is why one row version was refused.
type Refusal struct {
	from model.Model
	Errs RowErrors
}

// Refusals are the refused rows of several tables (the config's). The zero value is empty;
// UpdateTable keeps it up to date in place.
type Refusals struct{ byTable map[string]Refused }

// Errors lists the problems of every refused row, sorted; nil when no row is refused.
func (r *Refusals) Errors() RowErrors {
	var out RowErrors
	for _, refused := range r.byTable {
		out = append(out, refused.errors()...)
	}
	out.sort()
	return out
}

func (r *Refusals) table(name string) Refused {
	if r.byTable == nil {
		r.byTable = map[string]Refused{}
	}
	return r.byTable[name]
}

func (r *Refusals) set(name string, refused Refused) {
	if len(refused) == 0 {
		delete(r.byTable, name)
		return
	}
	r.byTable[name] = refused
}

func (r Refused) errors() RowErrors {
	var out RowErrors
	for _, x := range r {
		out = append(out, x.Errs...)
	}
	return out
}

// checkRow checks a row of table (its generated model) and returns its problems, sorted; nil
// when it has none. uuid names the row when its index columns cannot.
func checkRow(table, uuid string, row model.Model) RowErrors {
	all, err := checkRules()
	if err != nil {
		// The schema compiled into the binary does not parse: every test fails on it
		// (TestCheckRulesCoverSchema), so this is never seen in a build that passed them.
		panic(fmt.Sprintf("configdb: %v", err))
	}
	t := all[table]
	if t == nil {
		return nil
	}
	v := reflect.ValueOf(row).Elem()
	var out RowErrors
	add := func(column, format string, args ...any) {
		out = append(out, &RowError{Table: table, Column: column, Reason: fmt.Sprintf(format, args...)})
	}
	for i := range t.columns {
		t.columns[i].check(v.Field(t.columns[i].field), add)
	}
	if t.meaning != nil {
		t.meaning(row, add)
	}
	if len(out) == 0 {
		return nil
	}
	name := t.rowName(v, uuid)
	for _, e := range out {
		e.Row = name
	}
	out.sort()
	return out
}

// tableRules are the checks of one table.
type tableRules struct {
	key     []keyColumn  // the columns of the table's first index, naming a row
	columns []columnRule // the columns with constraints
	meaning func(row model.Model, add func(column, format string, args ...any))
}

type keyColumn struct {
	name  string
	field int
}

// rowName names a row by its index columns: the value alone for a one-column index,
// column=value pairs for more; the UUID when the table has no index or they are all empty.
func (t *tableRules) rowName(v reflect.Value, uuid string) string {
	parts := make([]string, 0, len(t.key))
	empty := true
	for _, k := range t.key {
		s := atomText(v.Field(k.field))
		if s != `""` {
			empty = false
		}
		if len(t.key) == 1 {
			parts = append(parts, s)
		} else {
			parts = append(parts, k.name+"="+s)
		}
	}
	if empty {
		return "_uuid=" + uuid
	}
	return strings.Join(parts, ",")
}

// atomText shows a key value in a row name: a plain string as it is; one that is empty or
// would make the name ambiguous quoted, and cut when long.
func atomText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if s == "" || strings.ContainsAny(s, "[]=,\" \\") || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
			return quote(s)
		}
		if len(s) > maxShown {
			return quote(s)
		}
		return s
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	}
	return fmt.Sprint(v.Interface())
}

// maxShown is how many bytes of a string an error shows: a row may hold megabytes, a log
// line should not.
const maxShown = 64

// quote is a string quoted for an error, cut after maxShown bytes.
func quote(s string) string {
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:maxShown], "")) + fmt.Sprintf("… (%d bytes)", len(s))
}

// columnRule checks one column: its key atoms (the value of an atomic column, the elements of
// a set, the keys of a map) and, for a map, its value atoms.
type columnRule struct {
	column     string
	field      int
	key, value atomRule
}

// atomRule is the constraints of an OVSDB base type; nil bounds are absent.
type atomRule struct {
	minInt, maxInt *int64
	minLen, maxLen *int
	enum           []string // strings only: the schema uses no other enum
}

func (a *atomRule) empty() bool {
	return a.minInt == nil && a.maxInt == nil && a.minLen == nil && a.maxLen == nil && a.enum == nil
}

func (c *columnRule) check(f reflect.Value, add func(column, format string, args ...any)) {
	atom := func(rule *atomRule, v reflect.Value, what string) {
		if reason := rule.check(v); reason != "" {
			add(c.column, "%s%s", what, reason)
		}
	}
	switch f.Kind() {
	case reflect.Pointer: // an optional value
		if !f.IsNil() {
			atom(&c.key, f.Elem(), "")
		}
	case reflect.Slice: // a set
		for i := range f.Len() {
			atom(&c.key, f.Index(i), "element ")
		}
	case reflect.Map:
		iter := f.MapRange()
		for iter.Next() {
			atom(&c.key, iter.Key(), "key ")
			atom(&c.value, iter.Value(), fmt.Sprintf("value of key %s: ", atomText(iter.Key())))
		}
	default:
		atom(&c.key, f, "")
	}
}

// check returns what is wrong with one atom, "" when nothing is.
func (a *atomRule) check(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Int, reflect.Int64:
		n := v.Int()
		switch {
		case a.minInt != nil && a.maxInt != nil && (n < *a.minInt || n > *a.maxInt):
			return fmt.Sprintf("%d is out of range %d..%d", n, *a.minInt, *a.maxInt)
		case a.minInt != nil && n < *a.minInt:
			return fmt.Sprintf("%d is less than %d", n, *a.minInt)
		case a.maxInt != nil && n > *a.maxInt:
			return fmt.Sprintf("%d is more than %d", n, *a.maxInt)
		}
	case reflect.String:
		s := v.String()
		if a.enum != nil && !slices.Contains(a.enum, s) {
			return fmt.Sprintf("%s is not one of %s", quote(s), strings.Join(a.enum, ", "))
		}
		if a.minLen == nil && a.maxLen == nil {
			return ""
		}
		n := utf8.RuneCountInString(s)
		lo, hi := 0, -1
		if a.minLen != nil {
			lo = *a.minLen
		}
		if a.maxLen != nil {
			hi = *a.maxLen
		}
		if n >= lo && (hi < 0 || n <= hi) {
			return ""
		}
		var want string
		switch {
		case lo == hi:
			want = strconv.Itoa(lo)
		case hi < 0:
			want = fmt.Sprintf("at least %d", lo)
		case lo == 0:
			want = fmt.Sprintf("at most %d", hi)
		default:
			want = fmt.Sprintf("%d..%d", lo, hi)
		}
		if n == 0 {
			return fmt.Sprintf("empty, want %s characters", want)
		}
		return fmt.Sprintf("%s has %d characters, want %s", quote(s), n, want)
	}
	return ""
}

var (
	checkRulesOnce sync.Once
	tableChecks    map[string]*tableRules
	tableChecksErr error
)

// checkRules are the checks of every table, made once from the schema and the models.
func checkRules() (map[string]*tableRules, error) {
	checkRulesOnce.Do(func() { tableChecks, tableChecksErr = buildCheckRules(schemas.Gateway) })
	return tableChecks, tableChecksErr
}

// schemaText is what the checks read of a schema file.
type schemaText struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Tables  map[string]struct {
		Columns map[string]struct {
			Type json.RawMessage `json:"type"`
		} `json:"columns"`
		Indexes [][]string `json:"indexes"`
	} `json:"tables"`
}

func buildCheckRules(schema []byte) (map[string]*tableRules, error) {
	var s schemaText
	if err := json.Unmarshal(schema, &s); err != nil {
		return nil, fmt.Errorf("schema %s: %w", DatabaseName, err)
	}
	full, err := gatewaydb.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	out := map[string]*tableRules{}
	for table, typ := range full.Types() {
		ts, ok := s.Tables[table]
		if !ok {
			return nil, fmt.Errorf("schema %s has no table %s, the generated models have (make generate)", DatabaseName, table)
		}
		fields := map[string]int{}
		st := typ.Elem()
		for i := range st.NumField() {
			if col := st.Field(i).Tag.Get("ovsdb"); col != "" {
				fields[col] = i
			}
		}
		t := &tableRules{meaning: meanings[table]}
		if len(ts.Indexes) > 0 {
			for _, col := range ts.Indexes[0] {
				f, ok := fields[col]
				if !ok {
					return nil, fmt.Errorf("table %s: index column %s has no model field (make generate)", table, col)
				}
				t.key = append(t.key, keyColumn{name: col, field: f})
			}
		}
		for _, col := range slices.Sorted(maps.Keys(ts.Columns)) {
			key, value, err := parseColumnType(ts.Columns[col].Type)
			if err != nil {
				return nil, fmt.Errorf("table %s column %s: %w", table, col, err)
			}
			if key.empty() && value.empty() {
				continue
			}
			f, ok := fields[col]
			if !ok {
				return nil, fmt.Errorf("table %s: column %s has no model field (make generate)", table, col)
			}
			t.columns = append(t.columns, columnRule{column: col, field: f, key: key, value: value})
		}
		out[table] = t
	}
	return out, nil
}

// parseColumnType reads the constraints of a column's type: an atomic type name, or an
// object with a key and an optional value base type.
func parseColumnType(raw json.RawMessage) (key, value atomRule, err error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return key, value, nil
	}
	var t struct {
		Key   json.RawMessage `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return key, value, err
	}
	if key, err = parseBaseType(t.Key); err != nil {
		return key, value, err
	}
	if t.Value != nil {
		value, err = parseBaseType(t.Value)
	}
	return key, value, err
}

func parseBaseType(raw json.RawMessage) (atomRule, error) {
	var a atomRule
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return a, nil
	}
	var b struct {
		MinInteger *int64          `json:"minInteger"`
		MaxInteger *int64          `json:"maxInteger"`
		MinLength  *int            `json:"minLength"`
		MaxLength  *int            `json:"maxLength"`
		Enum       json.RawMessage `json:"enum"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return a, err
	}
	a.minInt, a.maxInt, a.minLen, a.maxLen = b.MinInteger, b.MaxInteger, b.MinLength, b.MaxLength
	if b.Enum != nil {
		// ["set", [atoms...]] or one atom alone.
		var one string
		var set []json.RawMessage
		switch {
		case json.Unmarshal(b.Enum, &one) == nil:
			a.enum = []string{one}
		case json.Unmarshal(b.Enum, &set) == nil && len(set) == 2:
			if err := json.Unmarshal(set[1], &a.enum); err != nil {
				return a, fmt.Errorf("enum: %w", err)
			}
		default:
			return a, fmt.Errorf("enum %s: want a string or [\"set\", [strings]]", b.Enum)
		}
	}
	return a, nil
}

// meanings check what the values of the state tables mean, beyond the schema.
var meanings = map[string]func(row model.Model, add func(column, format string, args ...any)){
	gatewaydb.NodeTable: func(row model.Model, add func(column, format string, args ...any)) {
		r := row.(*gatewaydb.Node)
		if r.TunnelIP != "" {
			if ip, err := netip.ParseAddr(r.TunnelIP); err != nil || !ip.Is4() {
				add("tunnel_ip", "%s is not an IPv4 address", quote(r.TunnelIP))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(r.Status)) {
			v := r.Status[k]
			switch k {
			case StatusHARole:
				if v != RoleActive && v != RoleStandby {
					add("status", "value of key %s: %s is not one of %s, %s", k, quote(v), RoleActive, RoleStandby)
				}
			case StatusHAForwarding:
				if v != "true" && v != "false" {
					add("status", "value of key %s: %s is not one of true, false", k, quote(v))
				}
			case StatusHASince:
				if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
					add("status", "value of key %s: %s is not an RFC 3339 time", k, quote(v))
				}
			}
		}
	},
	gatewaydb.TorStateTable: func(row model.Model, add func(column, format string, args ...any)) {
		for _, s := range row.(*gatewaydb.TorState).TunnelIPs {
			if _, err := netip.ParseAddr(s); err != nil {
				add("tunnel_ips", "element %s is not an IP address", quote(s))
			}
		}
	},
	gatewaydb.TorMACTable: func(row model.Model, add func(column, format string, args ...any)) {
		r := row.(*gatewaydb.TorMAC)
		if mac, err := net.ParseMAC(r.MAC); err != nil || len(mac) != 6 || mac[0]&1 != 0 {
			add("mac", "%s is not a unicast 48-bit MAC address", quote(r.MAC))
		}
		if r.IP != "" {
			if _, err := netip.ParseAddr(r.IP); err != nil {
				add("ip", "%s is not an IP address", quote(r.IP))
			}
		}
		if _, err := netip.ParseAddr(r.TunnelIP); err != nil && r.TunnelIP != "" { // empty: the schema's minLength says so
			add("tunnel_ip", "%s is not an IP address", quote(r.TunnelIP))
		}
	},
}
