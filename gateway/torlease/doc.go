// Package torlease decides which node manages each ToR switch: the holder of the switch's lease
// in the config DB (Tor_Lease rows, written by ovsdb/configdb), so that a switch whose managing
// node died is taken over by another, and no two agents ever write one switch at once.
//
// The nodes that may manage a switch are its Managers (managedBy in order, then its replication
// node). Each of them runs a Keeper, which every StepInterval:
//
//   - renews the leases it holds, every RenewEvery, in a transaction that holds only while the
//     row still names it with the same epoch; it may write to a switch until Term after it sent
//     its last renewal that succeeded (the fence), and stops as soon as that passes, renewed or
//     not: a holder cut off from the database stops writing before anyone may take over;
//   - takes a lease nobody holds (none yet, or released) when it is the most preferred of the
//     switch's managers whose node is live (heartbeat not stale);
//   - takes a lease whose row it has seen unchanged (holder, epoch, expiry) for Term + Margin of
//     its own clock, when it is the most preferred live manager besides the holder. The holder
//     sent that last renewal before the taker first saw it, so it stopped writing Term after at
//     the latest, Margin before the take; no clock is compared with another node's, only
//     durations on each node's own clock. The take waits for the exact row seen, so of two
//     takers one wins and the other's transaction fails whole;
//   - releases the lease of a switch it may no longer manage (the config changed) and removes
//     the lease of a switch that left the config, after it stopped writing to it.
//
// A lease stays with its holder while it renews: a more preferred node that comes back does not
// take it back (a switch changes hands only when its holder dies or is no longer listed).
package torlease
