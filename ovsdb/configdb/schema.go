package configdb

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ovsgw/ovsgw/schemas"
)

// The server's schema against this binary's.
//
// libovsdb checks the models (generated from this binary's schema) against the schema the
// server sends: a table or column the models have and the server lacks fails the connection;
// what the server has and the models lack is ignored. So a binary runs against a database of
// an older schema as long as the schema only gained constraints since (they are checked on
// read here, see check.go), and against a newer one as long as it only gained tables and
// columns. A binary that needs a table or column the database lacks cannot connect: it says
// so naming both versions and the conversion, and keeps trying, so that it connects once the
// database is converted.

// SchemaVersion is the version of the schema this binary was built with (schemas.Gateway).
var SchemaVersion = func() string {
	var s struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(schemas.Gateway, &s); err != nil || s.Version == "" {
		panic(fmt.Sprintf("configdb: the compiled-in schema has no version: %v", err))
	}
	return s.Version
}()

// SchemaMismatchError is a server whose schema lacks what this binary needs.
type SchemaMismatchError struct {
	Endpoint string
	Server   string // the server's schema version ("" when it could not be read)
	Detail   string // libovsdb's account of what is missing
}

func (e *SchemaMismatchError) Error() string {
	server := e.Server
	if server == "" {
		server = "(unknown version)"
	}
	return fmt.Sprintf("config DB at %s has schema %s %s, this ovsgw needs %s: %s; convert the database "+
		"(ovsgw db schema > gateway.ovsschema; ovsdb-client convert %s gateway.ovsschema)",
		e.Endpoint, DatabaseName, server, SchemaVersion, e.Detail, e.Endpoint)
}

// asSchemaMismatch turns libovsdb's failure to check the models against a server's schema
// into a SchemaMismatchError naming the server's version; other errors pass unchanged.
func asSchemaMismatch(ctx context.Context, endpoint string, err error) error {
	// libovsdb v0.8.1: "database OVSGW validation error (N): ..."; TestOlderSchemaMissingColumn
	// keeps this in step with the pinned version.
	const marker = " validation error ("
	msg := err.Error()
	i := strings.Index(msg, marker)
	if i < 0 {
		return err
	}
	detail := msg[i+len(marker):]
	if j := strings.Index(detail, "): "); j >= 0 {
		detail = detail[j+3:]
	}
	version, _ := serverSchemaVersion(ctx, endpoint) // best effort: the message stands without it
	return &SchemaMismatchError{Endpoint: endpoint, Server: version, Detail: detail}
}

// serverSchemaVersion asks the server at endpoint for its OVSGW schema's version.
func serverSchemaVersion(ctx context.Context, endpoint string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	conn, err := dialEndpoint(ctx, endpoint, nil)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	const id = "ovsgw-schema"
	if err := json.NewEncoder(conn).Encode(map[string]any{"method": "get_schema", "params": []any{DatabaseName}, "id": id}); err != nil {
		return "", err
	}
	dec := json.NewDecoder(bufio.NewReader(conn))
	for {
		var msg struct {
			ID     any `json:"id"`
			Result *struct {
				Version string `json:"version"`
			} `json:"result"`
			Error any `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			return "", err
		}
		if msg.ID != id {
			continue // the server's echo probe would come after seconds: none on a call this short
		}
		if msg.Error != nil || msg.Result == nil {
			return "", fmt.Errorf("get_schema %s: %v", DatabaseName, msg.Error)
		}
		return msg.Result.Version, nil
	}
}

// compareVersions compares two schema versions "x.y.z" numerically, part by part.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// ServerSchemaVersion is the schema version of the member the client is connected to (the
// last one while it moves), "" before the first connection.
func (c *Client) ServerSchemaVersion() string {
	s := c.conn()
	if s == nil {
		return ""
	}
	return s.schemaVersion
}

// SchemaNotice says how the schema of the server at endpoint (its version) stands to this
// binary's, "" when they are the same version: what an operator must know, and do.
func SchemaNotice(server, endpoint string) string {
	switch c := compareVersions(server, SchemaVersion); {
	case server == "" || c == 0:
		return ""
	case c < 0:
		return fmt.Sprintf("the config DB has schema %s %s, older than this ovsgw's %s: ovsdb-server does not refuse "+
			"the values the newer schema constrains (ovsgw checks every row it reads); convert the database "+
			"(ovsgw db schema > gateway.ovsschema; ovsdb-client convert %s gateway.ovsschema)", DatabaseName, server, SchemaVersion, endpoint)
	default:
		return fmt.Sprintf("the config DB has schema %s %s, newer than this ovsgw's %s: tables and columns this ovsgw "+
			"does not know are ignored; upgrade ovsgw", DatabaseName, server, SchemaVersion)
	}
}

// schemaLog says each schema problem once, not at every retry: a message per member (they
// name it) until a connection succeeds.
type schemaLog struct {
	mu     sync.Mutex
	logged map[string]bool
}

// mismatch logs err, as a warning, when it is a schema mismatch not logged yet.
func (l *schemaLog) mismatch(err error) {
	var mm *SchemaMismatchError
	if errors.As(err, &mm) {
		l.once(mm.Error()+" (retrying until it is converted)", true)
	}
}

// connected forgets what was logged, and logs the notice of the member's schema ("" for none)
// as information: once per connection.
func (l *schemaLog) connected(notice string) {
	l.mu.Lock()
	l.logged = nil
	l.mu.Unlock()
	if notice != "" {
		l.once(notice, false)
	}
}

func (l *schemaLog) once(msg string, warn bool) {
	l.mu.Lock()
	done := l.logged[msg]
	if l.logged == nil {
		l.logged = map[string]bool{}
	}
	l.logged[msg] = true
	l.mu.Unlock()
	switch {
	case done:
	case warn:
		log.Warn(msg)
	default:
		log.Info(msg)
	}
}
