// Package configdb is ovsgw's shared configuration and state database: the
// OVSGW database of schemas/gateway.ovsschema, served by ovsdb-server running
// as a Raft cluster (ovsdb-tool create-cluster / join-cluster), the way OVN's
// northbound and southbound databases are. ovsgw builds no distributed store
// of its own.
//
// What lives there:
//
//   - The config objects of the YAML contract (gateway/model), one row per
//     object, references between objects by name. Lists whose order matters
//     (a VN's network policies, the rules of a security group or policy)
//     keep it: a map from position to name, or a position column. Lists whose
//     order means nothing are OVSDB sets. Validation stays the model's job:
//     the schema constrains no config value, so [Client.Config] returns what
//     is stored and its caller validates it on the same path as a file.
//   - The root row OVSGW, whose generation counts config writes. [Client.Apply]
//     waits (an OVSDB "wait" operation) for the generation it diffed against
//     and bumps it in the same transaction, so a concurrent writer cannot
//     interleave unseen: the second one fails and nothing of it is written.
//     Writers other than ovsgw must bump it too.
//   - State the agents publish: one Node row per node with a heartbeat, one
//     Binding row per VMI binding (see [NodeState], [BindingState]); for each
//     ToR switch, from the agent managing it, one Tor_State row and one Tor_MAC
//     row per MAC the switch learned (see [TorState], [TorMACState]).
//
// A [Client] is given every cluster member and talks only to the leader
// (libovsdb's WithLeaderOnly): a follower serves its own, possibly lagging,
// copy, and a config read from a lagging member could undo a newer write.
// It keeps a session with one member at a time and replaces it when the
// member dies, loses leadership (libovsdb watches _Server.Database) or
// stops answering an echo probe (a hung or partitioned leader sends neither
// an RST nor a _Server update), trying the members in turn, each with its
// own deadline, forever; [Client.Changed] then fires. libovsdb's own
// reconnect is not used: it tries one client's endpoints in a fixed order
// under one shared deadline, so a hung member listed first would block
// every attempt, and it never probes the leader.
//
// Reads come from the cache and are consistent across tables (see
// snapshot): libovsdb applies one transaction's update under a lock that
// readers take per table.
//
// The table models in ./gatewaydb are generated from the schema at build
// time and are not committed (make generate, or go generate ./ovsdb/configdb).
package configdb

//go:generate go tool modelgen -p gatewaydb -o gatewaydb ../../schemas/gateway.ovsschema
