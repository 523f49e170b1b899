package configdbtest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ovsgw/ovsgw/schemas"
)

// Schema120 is the path of the OVSGW schema as release 1.2.0 had it (schemas/gateway.ovsschema
// before its integer and string columns got their ranges), kept as a fixture: the tests of a
// database not yet converted, of its conversion, and of rows that only such a database can hold.
func Schema120(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the configdbtest package")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "gateway-1.2.0.ovsschema")
}

// UnconstrainedVersion is the version Unconstrained gives its schema: the release before the
// constraints.
const UnconstrainedVersion = "1.2.0"

// Unconstrained is the path of a file holding this binary's schema (schemas.Gateway) with every
// constraint of its columns removed (minInteger, maxInteger, minLength, maxLength, enum), under
// version UnconstrainedVersion: a database that, as one created by release 1.2.0, takes any
// value, but has every table and column this binary uses, so that it can connect to it
// whatever columns were added since 1.2.0.
func Unconstrained(t testing.TB) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(schemas.Gateway, &doc); err != nil {
		t.Fatal(err)
	}
	doc["version"] = UnconstrainedVersion
	for _, table := range doc["tables"].(map[string]any) {
		for _, col := range table.(map[string]any)["columns"].(map[string]any) {
			typ, ok := col.(map[string]any)["type"].(map[string]any)
			if !ok {
				continue // an atomic type name: nothing to remove
			}
			for _, part := range []string{"key", "value"} {
				if base, ok := typ[part].(map[string]any); ok {
					for _, c := range []string{"minInteger", "maxInteger", "minLength", "maxLength", "enum"} {
						delete(base, c)
					}
				}
			}
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gateway-unconstrained.ovsschema")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Transact runs one transaction on the server with ovsdb-client, ops being the operations of
// RFC 7047 in JSON ({"op": "insert", ...}, ...), and returns its output; the test fails when
// the server refuses any of them. It writes what a client other than ovsgw could write.
func (s *Server) Transact(t testing.TB, ops ...string) string {
	t.Helper()
	out, err := s.TryTransact(t, ops...)
	if err != nil {
		t.Fatalf("ovsdb-client transact on %s: %v\n%s", s.Name, err, out)
	}
	return out
}

// TryTransact is Transact returning the server's refusal as an error instead of failing.
// ovsdb-client exits 0 when the server refuses an operation: the refusal is in its results.
func (s *Server) TryTransact(t testing.TB, ops ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(OVSProgram(t, "ovsdb-client"), "transact", s.Endpoint, `["`+databaseName+`",`+strings.Join(ops, ",")+`]`)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), err
	}
	var results []struct {
		Error   string `json:"error"`
		Details string `json:"details"`
	}
	if err := json.Unmarshal(out, &results); err != nil {
		return string(out), fmt.Errorf("ovsdb-client transact output: %w", err)
	}
	for _, r := range results {
		if r.Error != "" {
			return string(out), fmt.Errorf("%s: %s", r.Error, r.Details)
		}
	}
	return string(out), nil
}

// RunToolErr runs an OVS tool and returns its combined output and error, for a test that
// expects it to fail.
func RunToolErr(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
