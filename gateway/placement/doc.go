// Package placement decides which of several published bindings of one VMI serves it: the rule
// every node applies to its tunnels (gateway/pipeline) and every ToR switch's remote MACs
// (gateway/tor), so that all of them send a VMI's traffic to the same node.
//
// Nodes publish a binding per VMI they serve (config DB Binding rows, standby ones left out by
// the callers). More than one active binding of a VMI is normal for a moment (an HA group's new
// active gateway before the old one steps down, a VM moving) and lasting when a node dies: its
// rows stay, as its datapath may still forward. The rule prefers, in order:
//
//  1. a binding on a live node over one on a stale node (heartbeat older than StaleAfter): a
//     dead gateway's binding never wins over a live alternative, yet a VMI whose only binding is
//     on a stale node keeps it (its datapath may well still forward: an agent restarting);
//  2. the newer role (Since, the binding's role_since): the node that took the role last is
//     where the switches' spanning tree, or the VM's move, put it;
//  3. the node name, so that the answer never depends on the order of the input.
//
// It is a pure function of its input: staleness is judged by the caller, once, with one clock.
package placement
