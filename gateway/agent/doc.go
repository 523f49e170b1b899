// Package agent is ovsgw's node agent: it loads the gateway config, keeps the integration
// bridge and its ports right through OVSDB, compiles the pipeline for this node and keeps the
// bridge's flows and groups equal to it over OpenFlow, sending only differences.
//
// Triggers (config change, SIGHUP, port change, OpenFlow reconnect, periodic resync) land in a
// one-slot channel, so a burst of them costs one reconcile. The agent never flushes the bridge:
// on start and on reconnect it reads what is installed and changes only what differs, so a
// restart does not disturb traffic.
package agent
