// Package configstore is the gateway config (gateway/model) in the shared
// config DB: the domain side of package ovsdb/configdb, which speaks only in
// the rows of the OVSGW database.
//
// It converts both ways between a model.Config and the config tables, one
// row per object, references between objects by name (see
// schemas/gateway.ovsschema): lists whose order matters (a VN's network
// policies, the rules of a security group or policy) keep it, as a map from
// position to name or a position column; lists whose order means nothing
// are OVSDB sets, and Normalize puts a config in the canonical order a read
// returns. Validation stays the model's job: Store.Config returns what is
// stored and its caller validates it on the same path as a file. Only the
// rows' own ranges are checked first, by configdb as it reads them: a row
// out of range (a VNI of 2^32+1 would wrap into the model's 32 bits) makes
// Store.Config fail naming the table, row and column, and the whole config
// is refused; db show lists such rows.
//
// A [Store] reads the config incrementally: configdb keeps its result while
// the cache holds the same rows (configdb.DeriveFromConfig), and on a
// change it converts only the rows whose version changed
// (configdb.UpdateTable) and reassembles the config in canonical order, the
// big tables' order reused while no row comes, goes or moves (see
// configView). A read after one changed instance of thousands converts one
// row. The oracle test compares it with a full conversion after random
// applies, against a real ovsdb-server.
//
// Writing, [Store.Apply] validates the config, maps it to rows and hands
// them to configdb.Client.ApplyRows, which diffs them against the database
// and writes the difference in one transaction guarded by the config
// generation. [Store.View] and [View.Write] are `ovsgw db show`.
package configstore
