// Package trace explains what the switch does with a packet a VMI sends, as ovn-trace and
// ovn-detrace do for OVN: it builds the packet from the config in force and the VMI's binding
// on this node (its MAC and first instance IP, from its port or its physical interface and
// VLAN), has ovs-vswitchd trace it through the bridge (`ofproto/trace`, which resumes after
// each conntrack recirculation as a new connection), and annotates each step with its table's
// name, the object that owns the flow (from the cookie) and, for a drop, the reason: the
// network policy rule, the security groups, port security or the unknown VLAN. It ends in a
// one-line verdict: delivered to which VMI by which port, VLAN or tunnel, or dropped by what.
//
// The agent runs it (it knows the bindings, the names behind the cookies and ovs-vswitchd's
// control socket) for `ovsgw trace` over the control socket. Reading ovs-vswitchd's output and
// explaining it are pure functions, tested against outputs of a real ovs-vswitchd.
package trace
