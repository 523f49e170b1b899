// Package openflow is ovsgw's OpenFlow 1.3 layer: flow and group value types with one canonical
// text form (accepted by ovs-ofctl), a controller session over libOpenflow (handshake, echo,
// xid-matched replies, barriers, bundles, dumps), and the diff that turns installed state into
// desired state with the fewest messages.
//
// Two ways to diff. Plan compares a full desired list with a full dump; it is the oracle, and
// what a caller without incremental state uses. FlowTable keeps the state between syncs, after
// OVN's ofctrl: the caller hands over desired flows and groups per unit (an opaque owner name,
// such as one VMI) with SetUnit or RemoveUnit, the table tracks only the keys (table, priority
// and match; group id) whose desired entry changed, and Changes diffs those against the
// installed entries it holds, in Plan's order, refusing to overwrite foreign entries, to delete
// an owned group a foreign flow or group uses (OpenFlow would delete the flow with it) and to
// install a flow that sends packets into a foreign group (each reported as *ConflictError, the
// rest proceeds). Ownership is the caller's rule: a flow's by its cookie, a group's by the
// whole group (groups have no cookie; ovsgw marks its own with a Note). Committed records a
// committed bundle; Reset loads a dump after a (re)connect, a failed bundle or a periodic
// resync and tracks every key, so that the next Changes is Plan's full diff. Units that want one key with equal contents share it
// (it stays while one of them does); with different contents the unit whose name sorts first
// wins and Duplicates reports the others. The table keeps one entry per key, the match in
// Key's byte encoding and the actions in a compact encoding that is also what equality
// compares, and is not safe for concurrent use.
//
// Conjunctive matches (ovs-fields(7), "Conjunctive Match Fields") are Conjunction actions and
// FieldConjID matches. OVS's rules for them, which a compiler must follow:
//   - a flow with Conjunction actions has no other actions but Note (Apply refuses to send one);
//   - every clause flow of one conjunctive match has the same priority, which its conj_id
//     flow should share, and its id is unique within the table;
//   - one key holds one flow, so two conjunctive matches whose clause flows have the same
//     match and priority must be one flow with both Conjunction actions: a compiler that
//     wants a flow per clause gives each conjunctive match its own priority (otherwise two
//     units wanting that key with different actions are a Duplicate);
//   - conjunctive matches at one priority must not overlap;
//   - a conj_id flow is checked for prerequisites like any other, so it matches dl_type (and
//     nw_proto) when its actions need them.
//
// Packets to and from the agent (packetin.go, packetout.go, controller.go, meter.go): a flow
// sends a packet to the agent with a Controller action, whose Userdata names the purpose and
// whose packet-in carries the pipeline registers (the VMI, the VN) in PacketIn.Match.
// ListenPacketIns turns packet-ins on for a connection (OVS's NXT_PACKET_IN2 format, and the
// miss_send_len a .mgmt service connection needs) and queues them, dropping and counting what
// a slow consumer cannot take, since the reader goroutine also carries every reply. SendPackets
// sends packet-outs (output to a port, or set registers and resubmit into the pipeline) and
// waits for one barrier. Meters rate-limit packet-ins: a MeterAction per instance and a shared
// meter on the Controller action (meter.go says why both); ModMeters installs them outside
// bundles, which OVS refuses them in, and DumpMeterStats reads their counters.
//
// Everything above this package speaks in Flow and Group values; nothing above it sees a
// libOpenflow type.
package openflow
