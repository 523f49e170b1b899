// Package schemas is the schema of ovsgw's shared database, OVSGW (gateway.ovsschema), compiled
// into the binary: the client checks every row it reads against the schema's constraints (a
// database not yet converted to this schema enforces none of them), names the version it
// expects when a server's differs, and `ovsgw db schema` prints it for `ovsdb-client convert`.
//
// The Go models of the tables are generated from the same file (make generate).
package schemas
