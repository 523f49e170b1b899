// Package configdb is ovsgw's shared configuration and state database: the
// OVSGW database of schemas/gateway.ovsschema, served by ovsdb-server running
// as a Raft cluster (ovsdb-tool create-cluster / join-cluster), the way OVN's
// northbound and southbound databases are. ovsgw builds no distributed store
// of its own.
//
// What lives there:
//
//   - The config objects of the YAML contract, one row per object,
//     references between objects by name. This package speaks only in the
//     rows (the generated models of ./gatewaydb, and [ConfigRows]); the
//     conversion to and from the config model is the domain's
//     (gateway/configstore), which this package does not import.
//     Validation is the domain's too; the schema only gives the columns
//     their ranges (a VNI 1..16777215, a VLAN 0..4094, names non-empty, ...).
//   - The root row OVSGW, whose generation counts config writes. [Client.ApplyRows]
//     waits (an OVSDB "wait" operation) for the generation it diffed against
//     and bumps it in the same transaction, so a concurrent writer cannot
//     interleave unseen: the second one fails and nothing of it is written.
//     Writers other than ovsgw must bump it too.
//   - State the agents publish: one Node row per node with a heartbeat, one
//     Binding row per VMI binding with its role and since when (see
//     [NodeState], [BindingState]); for each ToR switch, from the agent
//     managing it, one Tor_State row and one Tor_MAC row per MAC the switch
//     learned (see [TorState], [TorMACState]), and one Tor_Lease row naming
//     the node that may manage it (see [TorLease], lease.go).
//
// A [Client] is given every cluster member and talks only to the leader
// (libovsdb's WithLeaderOnly): a follower serves its own, possibly lagging,
// copy, and a config read from a lagging member could undo a newer write.
// It keeps a session with one member at a time and replaces it when the
// member dies, loses leadership (libovsdb watches _Server.Database) or
// stops answering an echo probe (a hung or partitioned leader sends neither
// an RST nor a _Server update), trying the members in turn, each with its
// own deadline, forever; every signal then fires. libovsdb's own
// reconnect is not used: it tries one client's endpoints in a fixed order
// under one shared deadline, so a hung member listed first would block
// every attempt, and it never probes the leader.
//
// Two signals tell a reader what moved, from libovsdb's cache events, which
// carry each row's old and new version: [Client.ConfigChanged] when a config
// row was added, removed or changed, and [Client.StateChanged] when what
// nodes publish for each other changed (bindings, ToR state and MACs, a
// node's row in anything but its heartbeat). A heartbeat alone fires
// neither: with a hundred nodes the database changes fifty times a second
// by heartbeats alone, and a reader that re-read everything on each would
// do nothing else. Both fire after a move to another member.
// [Client.Changed] still fires on any change, heartbeats included.
//
// Every row is checked when it is read (see check.go), against the
// constraints of the schema compiled into the binary (a database not yet
// converted to it enforces none of them) and, for the state rows, against
// what the values mean: a config row out of range is refused with an error
// naming table, row and column, so that the domain refuses the config
// whole (UpdateTable); a state row is left out of the lists, logged once
// and counted (SkippedState). A server whose schema lacks what the models
// need is reported with both versions and the conversion to run (see
// schema.go).
//
// Reads come from the cache and are consistent across tables, never half
// of a transaction (see read.go): libovsdb applies one update under a lock
// that readers take per table, so a read is repeated until two copies of
// the tables' row pointers agree. They are cheap: rows are not cloned, a
// result is kept while its rows are, and a row is converted once per
// version. For the config tables the conversion is the caller's:
// [DeriveFromConfig] keeps what a caller builds from a [ConfigRead] while
// the cache holds the same rows, and [UpdateTable] converts only the rows
// whose version changed, so that a read after one changed instance
// converts one row.
//
// A one-shot writer ([ConfigOnly], as ovsgw db apply) keeps no cache: it
// reads the config tables in one select transaction when it needs them,
// decoded straight into the generated models (see select.go), and never downloads
// the state the nodes publish.
//
// The table models in ./gatewaydb are generated from the schema at build
// time and are not committed (make generate, or go generate ./ovsdb/configdb).
package configdb

//go:generate go tool modelgen -p gatewaydb -o gatewaydb ../../schemas/gateway.ovsschema
