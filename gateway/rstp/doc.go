// Package rstp reads and writes the BPDUs of 802.1D-2004 (STP and RSTP) and decides, for one
// gateway port of an HA group, what the switch's spanning tree does with it, from the BPDUs
// alone: no sockets, no clocks (the caller passes the time), no OpenFlow.
//
// The gateways of a group are not bridges. Their BPDU network floods the switch's BPDUs from
// each gateway port to the others, so the switch sees its gateway ports joined as on one shared
// segment (a hub) and blocks all but the best (the backup or alternate ports of 802.1D-2004
// 17.7). A Port watches both sides of that hub:
//
//   - what the switch sends on this port (its designated BPDUs: role, proposal, learning,
//     forwarding flags, priority vector), and
//   - what the hub brings to this port from the other gateways' ports, which the switch receives
//     here too: a priority vector better than this port's makes the switch's port backup
//     (same switch) or alternate (another switch) at once.
//
// From these it derives whether the switch forwards to this gateway (Verdict) and two actions
// that replace the spanning tree's timers by its own rapid handshakes:
//
//   - Agreement (17.29.3): the switch proposes on a designated port that is not forwarding yet;
//     a root-port BPDU with the agreement flag lets it forward at once instead of waiting out
//     its forward delay twice. The Port answers only when no other port of the hub can
//     forward: no live designated BPDU of another gateway's port is superior, learning or
//     forwarding. The gateways of a group answer as one logical bridge (GroupBridge), the way
//     an MLAG pair shows one bridge id.
//   - Withdrawal (17.21.23): when this port can no longer carry the switch's BPDUs (its link
//     went down) or the switch will block it (a superior vector arrived through the hub), the
//     Port sends its last BPDU from the switch once more through the hub with the message age
//     at the max age. The switch ports that hold that information age it out at once instead of
//     after three hello times; the ports that do not hold it find it inferior and ignore it.
//     The learning and forwarding flags are cleared, so that no switch reads it as a dispute.
//
// The switch's spanning tree keeps guarding against loops: an agreement only shortens the wait
// of a port the switch made designated itself, and as long as the hub carries BPDUs, any second
// port of the hub gets the better vector and blocks on receipt.
package rstp
