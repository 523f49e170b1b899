// Package agent is ovsgw's node agent: it loads the gateway config, keeps the integration
// bridge and its ports right through OVSDB, compiles the pipeline for this node and keeps the
// bridge's flows and groups equal to it over OpenFlow, sending only differences.
//
// Triggers (config change, SIGHUP, port change, OpenFlow reconnect, periodic resync) land in a
// one-slot channel, so a burst of them costs one reconcile. The agent never flushes the bridge:
// on start and on reconnect it reads what is installed and changes only what differs, so a
// restart does not disturb traffic.
//
// It also serves the VMIs bound here (services.go): the packet-ins the pipeline punts (DHCPv4,
// router and gateway neighbour solicitations) are answered with package netsvc, and the meters
// that limit them go on the switch around the bundles.
//
// A gateway of an HA group (ha.go) takes its role from the switch's spanning tree: the pipeline
// sends up the BPDUs the switch sends on the gateway's port and those the BPDU network brings to
// it; package rstp turns them into a role and into the agreements and withdrawals the agent
// sends back with packet-outs, so that the switch moves traffic without waiting for its timers.
// With [DEFAULT] metrics_address it serves Prometheus metrics (package metrics; metrics.go):
// the reconcile loop only bumps counters and histograms, a scrape copies what status copies,
// and the switch's counters are read on a timer of their own, never in a sync.
package agent
