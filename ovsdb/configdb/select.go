package configdb

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/model"
)

// Reading tables without a cache.
//
// A one-shot writer (ConfigOnly) monitors nothing: it reads the tables it
// needs in one transaction of "select" operations, which is consistent by
// itself, and decodes the rows straight into the generated models.
// libovsdb would decode each row through several JSON round trips, about
// 30 µs a row (a 4K config is 8,000 rows), and its cache clones each row
// once more; this decoder costs a few µs a row, so that ovsdb-server's own
// serialization of the rows (about 20 µs a row, measured here) is most of
// what a read costs.
//
// The select goes to the member the session is connected to, the leader
// when it connected. Should that member have lost its leadership since, a
// write planned on what it returned fails on the config generation guard
// (ErrConflict), writing nothing.

// selectTimeout bounds one read: connecting, the server's serialization of
// every row asked for and their transfer, a few hundred milliseconds for a
// 4K config; as transactTimeout, it turns a hung member into an error.
const selectTimeout = transactTimeout

// selectRows reads tables from the server at endpoint (tcp:HOST:PORT,
// unix:PATH, or ssl:HOST:PORT with tlsConfig) in one transaction.
func selectRows(ctx context.Context, endpoint string, tlsConfig *tls.Config, tables []string) (map[string]rows, error) {
	ctx, cancel := context.WithTimeout(ctx, selectTimeout)
	defer cancel()
	conn, err := dialEndpoint(ctx, endpoint, tlsConfig)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", DatabaseName, err)
	}
	if strings.HasPrefix(endpoint, "ssl:") {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("read %s: %s: %w", DatabaseName, endpoint, err)
		}
		conn = tc
	}
	defer conn.Close()
	params := []any{DatabaseName}
	for _, t := range tables {
		cols, err := modelColumns(t)
		if err != nil {
			return nil, err
		}
		params = append(params, map[string]any{"op": "select", "table": t, "where": []any{}, "columns": cols})
	}
	const id = "ovsgw-select"
	if err := json.NewEncoder(conn).Encode(map[string]any{"method": "transact", "params": params, "id": id}); err != nil {
		return nil, fmt.Errorf("read %s: send: %w", DatabaseName, err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(conn, 1<<16))
	dec.UseNumber()
	for {
		var msg struct {
			ID     any             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result []struct {
				Rows    []map[string]any `json:"rows"`
				Error   string           `json:"error"`
				Details string           `json:"details"`
			} `json:"result"`
			Error any `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			return nil, fmt.Errorf("read %s: receive: %w", DatabaseName, err)
		}
		if msg.Method == "echo" { // the server's probe: answer it, as every client must
			reply, _ := json.Marshal(map[string]any{"id": msg.ID, "result": msg.Params, "error": nil})
			if _, err := conn.Write(append(reply, '\n')); err != nil {
				return nil, fmt.Errorf("read %s: answer echo: %w", DatabaseName, err)
			}
			continue
		}
		if msg.ID != id {
			continue // nothing else was asked on this connection
		}
		if msg.Error != nil {
			return nil, fmt.Errorf("read %s: %v", DatabaseName, msg.Error)
		}
		if len(msg.Result) != len(tables) {
			return nil, fmt.Errorf("read %s: %d results for %d tables", DatabaseName, len(msg.Result), len(tables))
		}
		out := make(map[string]rows, len(tables))
		for i, t := range tables {
			res := msg.Result[i]
			if res.Error != "" {
				return nil, fmt.Errorf("read %s table: %s: %s", t, res.Error, res.Details)
			}
			r := make(rows, len(res.Rows))
			for _, raw := range res.Rows {
				m, uuid, err := decodeRow(t, raw)
				if err != nil {
					return nil, fmt.Errorf("read %s table: %w", t, err)
				}
				r[uuid] = m
			}
			out[t] = r
		}
		return out, nil
	}
}

// dialEndpoint connects to a member (tcp:HOST:PORT or unix:PATH) for one call, the connection
// bounded by ctx's deadline.
func dialEndpoint(ctx context.Context, endpoint string, tlsConfig *tls.Config) (net.Conn, error) {
	network, addr, ok := strings.Cut(endpoint, ":")
	switch {
	case ok && (network == "tcp" || network == "unix"):
	case ok && network == "ssl" && tlsConfig != nil:
		network = "tcp" // the caller runs the handshake
	default:
		return nil, fmt.Errorf("endpoint %q: want tcp:HOST:PORT, ssl:HOST:PORT (with TLS files) or unix:PATH", endpoint)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	return conn, nil
}

// rowDecoder decodes the rows of one table into its generated model.
type rowDecoder struct {
	typ     reflect.Type // the model struct
	columns []string     // every column the model has, _uuid first
	fields  []int        // the field of each column
}

// decoders caches a rowDecoder per table (string → *rowDecoder).
var decoders sync.Map

func decoderOf(table string) (*rowDecoder, error) {
	if d, ok := decoders.Load(table); ok {
		return d.(*rowDecoder), nil
	}
	full, err := clientModel(allTables)
	if err != nil {
		return nil, err
	}
	typ, ok := full.Types()[table]
	if !ok {
		return nil, fmt.Errorf("no model of table %s", table)
	}
	d := &rowDecoder{typ: typ.Elem()}
	for i := range d.typ.NumField() {
		col := d.typ.Field(i).Tag.Get("ovsdb")
		switch col {
		case "":
		case "_uuid":
			d.columns = append([]string{col}, d.columns...)
			d.fields = append([]int{i}, d.fields...)
		default:
			d.columns = append(d.columns, col)
			d.fields = append(d.fields, i)
		}
	}
	if len(d.columns) == 0 || d.columns[0] != "_uuid" {
		return nil, fmt.Errorf("model of table %s has no _uuid", table)
	}
	decoders.Store(table, d)
	return d, nil
}

// modelColumns are the columns a read of table asks for: the model's.
func modelColumns(table string) ([]string, error) {
	d, err := decoderOf(table)
	if err != nil {
		return nil, err
	}
	return d.columns, nil
}

// decodeRow makes a model of a row in RFC 7047's JSON (decoded with
// UseNumber), and returns it with its UUID.
func decodeRow(table string, raw map[string]any) (model.Model, string, error) {
	d, err := decoderOf(table)
	if err != nil {
		return nil, "", err
	}
	v := reflect.New(d.typ)
	if _, ok := raw["_uuid"]; !ok {
		return nil, "", fmt.Errorf("row without _uuid")
	}
	for i, col := range d.columns {
		val, ok := raw[col]
		if !ok {
			continue // the column's default (libovsdb's test server leaves them out)
		}
		if err := setField(v.Elem().Field(d.fields[i]), val); err != nil {
			return nil, "", fmt.Errorf("column %s: %w", col, err)
		}
	}
	return v.Interface(), v.Elem().Field(d.fields[0]).String(), nil
}

// setField sets a model field from the JSON of an OVSDB value: an atom, a
// set (["set", [...]], or one atom alone), or a map (["map", [[k, v], ...]]).
// An optional value (min 0, max 1) is a pointer, a set a slice, a map a map.
func setField(f reflect.Value, val any) error {
	switch f.Kind() {
	case reflect.Pointer:
		elems, err := setElements(val)
		if err != nil {
			return err
		}
		switch len(elems) {
		case 0:
			f.SetZero()
			return nil
		case 1:
			p := reflect.New(f.Type().Elem())
			if err := setAtom(p.Elem(), elems[0]); err != nil {
				return err
			}
			f.Set(p)
			return nil
		}
		return fmt.Errorf("%d values for an optional one", len(elems))
	case reflect.Slice:
		elems, err := setElements(val)
		if err != nil {
			return err
		}
		s := reflect.MakeSlice(f.Type(), len(elems), len(elems))
		for i, e := range elems {
			if err := setAtom(s.Index(i), e); err != nil {
				return err
			}
		}
		f.Set(s)
		return nil
	case reflect.Map:
		pairs, err := tagged(val, "map")
		if err != nil {
			return err
		}
		m := reflect.MakeMapWithSize(f.Type(), len(pairs))
		for _, p := range pairs {
			kv, ok := p.([]any)
			if !ok || len(kv) != 2 {
				return fmt.Errorf("map entry %v", p)
			}
			k, v := reflect.New(f.Type().Key()).Elem(), reflect.New(f.Type().Elem()).Elem()
			if err := setAtom(k, kv[0]); err != nil {
				return err
			}
			if err := setAtom(v, kv[1]); err != nil {
				return err
			}
			m.SetMapIndex(k, v)
		}
		f.Set(m)
		return nil
	}
	return setAtom(f, val)
}

// setElements lists the elements of a set, or the one atom given alone.
func setElements(val any) ([]any, error) {
	if a, ok := val.([]any); ok && len(a) == 2 && a[0] == "set" {
		return tagged(val, "set")
	}
	return []any{val}, nil
}

// tagged returns the list of a ["set", [...]] or ["map", [...]].
func tagged(val any, tag string) ([]any, error) {
	a, ok := val.([]any)
	if !ok || len(a) != 2 || a[0] != tag {
		return nil, fmt.Errorf("not a %s: %v", tag, val)
	}
	list, ok := a[1].([]any)
	if !ok {
		return nil, fmt.Errorf("not a %s: %v", tag, val)
	}
	return list, nil
}

// setAtom sets a string, integer, real or boolean field; a UUID
// (["uuid", "..."]) sets a string field to the UUID.
func setAtom(f reflect.Value, val any) error {
	switch f.Kind() {
	case reflect.String:
		switch x := val.(type) {
		case string:
			f.SetString(x)
			return nil
		case []any:
			if len(x) == 2 && (x[0] == "uuid" || x[0] == "named-uuid") {
				if s, ok := x[1].(string); ok {
					f.SetString(s)
					return nil
				}
			}
		}
	case reflect.Int, reflect.Int64:
		if n, ok := val.(json.Number); ok {
			i, err := n.Int64()
			if err != nil {
				return err
			}
			f.SetInt(i)
			return nil
		}
	case reflect.Float64:
		if n, ok := val.(json.Number); ok {
			x, err := n.Float64()
			if err != nil {
				return err
			}
			f.SetFloat(x)
			return nil
		}
	case reflect.Bool:
		if b, ok := val.(bool); ok {
			f.SetBool(b)
			return nil
		}
	}
	return fmt.Errorf("%v (%T) is not a %s", val, val, f.Type())
}
