// Package vtep is ovsgw's client of a top-of-rack switch's OVSDB hardware_vtep database (vtep(5)):
// the database through which a VXLAN-capable switch is told which VLANs of its ports belong to
// which logical switch (VNI), where remote MACs live, and where to send its broadcast and unknown
// traffic, and through which it reports the MACs it learned. ovsgw programs it the way
// Contrail's ToR agent and OVN's ovn-controller-vtep do.
//
// A [Client] serves one Physical_Switch of one database. [New] returns at once and connects in
// the background, forever, first connection included (a switch may be down when the agent
// starts); libovsdb then keeps the session and its monitor, and [Client.Changed] fires after
// every cache change and after each reconnect. [Client.Sync] makes ovsgw's rows equal a
// [Desired] in one transaction that carries only the difference; unchanged rows keep their UUIDs,
// so a resync after a reconnect, or after the switch's ovsdb-server restarted on its database
// file, writes nothing.
//
// # Ownership
//
// The hardware_vtep schema has no external_ids, so ownership is recorded in names and
// references:
//
//   - A Logical_Switch is ovsgw's when its name is "ovsgw-<VNI>" ([LogicalSwitchName]) AND its
//     description starts with "ovsgw: " ([DescriptionPrefix]). Both are needed: a row of that name
//     with another description is someone else's and is never changed; the VNI it would have
//     carried is then reported as a problem and not programmed. The name holds the VNI, not the
//     VN's name: VN names may contain spaces, which ovs-vtep's parsing of vtep-ctl output cannot
//     take, and a renamed VN keeps its switch row (only the description changes).
//   - Everything hanging off an owned logical switch is ovsgw's: its Ucast_Macs_Remote and
//     Mcast_Macs_Remote rows, and every Physical_Port vlan_bindings entry whose value is an owned
//     logical switch. A binding entry pointing at someone else's logical switch is not ovsgw's;
//     a wanted (port, VLAN) it occupies is reported, not taken over.
//   - Physical_Locator and Physical_Locator_Set rows are shared and never deleted by ovsgw. Both
//     tables are non-root: ovsdb-server removes a row once no row refers to it any more, which is
//     exactly "when the last user is gone", whoever the users are. A wanted locator is reused when
//     one with the same encapsulation and destination exists (the table's index forbids a second).
//   - Ucast_Macs_Local, Mcast_Macs_Local, Physical_Switch and Physical_Port rows are the switch's:
//     read, never written, with one exception: deleting an owned logical switch also deletes the
//     switch's *_Macs_Local rows in it, since their strong reference would otherwise make the
//     deletion fail (the switch drops them anyway once the logical switch is gone).
//   - An owned logical switch that is no longer wanted but that someone else's Logical_Router still
//     binds (switch_binding) is emptied and kept, and reported, until that reference goes.
//
// Rows of other writers therefore survive every sync.
//
// The table models in ./hwvtep are generated at build time from the schema the installed Open
// vSwitch ships (make generate, or go generate ./ovsdb/vtep) and are not committed.
package vtep

//go:generate go tool modelgen -p hwvtep -o hwvtep /usr/share/openvswitch/vtep.ovsschema
