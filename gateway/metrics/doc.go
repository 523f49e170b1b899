// Package metrics is the agent's Prometheus endpoint: the instruments the agent updates as it
// works (sync and change latency, flow mods sent, refusals, HA role changes), and a collector
// that answers a scrape from two things the agent hands it: a State read from its memory at
// scrape time (no I/O), and a Sample of the switch's counters (drops, per-VMI traffic, meter
// drops) that the agent takes on its own timer, at a bounded rate, never in a sync.
//
// Every metric lives on the package's own registry (with the process and Go runtime
// collectors), never on client_golang's global one, so that nothing else in the binary can add
// series to it. A nil *Metrics is valid and does nothing: the agent calls it unconditionally
// when metrics are off, at the cost of a nil check.
package metrics
