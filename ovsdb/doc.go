// Package ovsdb is ovsgw's access to the local Open_vSwitch database.
//
// A [Client] keeps a libovsdb cache of the Open_vSwitch, Bridge, Port and
// Interface tables (only the columns ovsgw reads), reconnects by itself, and
// tells its user through [Client.Changed] that the cache moved. It writes
// only through [Client.EnsureBridge], which creates or adopts the
// integration bridge and keeps the gateway's physical NICs on it.
//
// Ownership: every row ovsgw inserts carries external_ids:ovsgw-owner=ovsgw
// ([OwnerKey], [OwnerValue]). A sync deletes only rows with that tag that
// are no longer wanted; ports plugged by others (VM ports, which carry
// external_ids:iface-id, see [IfaceIDKey]) are read, never written.
//
// The table models in ./vswitchd are generated at build time from the
// schema that the installed Open vSwitch ships, and are not committed:
//
//	go generate ./ovsdb
//
// which runs libovsdb's modelgen through the go.mod tool directive.
package ovsdb

//go:generate go tool modelgen -p vswitchd -o vswitchd /usr/share/openvswitch/vswitch.ovsschema
