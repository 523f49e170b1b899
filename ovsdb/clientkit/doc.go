// Package clientkit is the plumbing every ovsgw libovsdb client shares:
// sending a transaction and checking every result ([Transact]), the
// one-slot Changed signal and the internal "cache moved" broadcast
// ([Signals]), waiting for the cache to show a commit ([WaitCache]),
// noticing reconnects libovsdb does not report ([Live], [WatchConnection]),
// a reconnect backoff that stops after Close ([ClosableBackOff]), and
// libovsdb's log output on logrus ([Logger]).
//
// Each client keeps its own timeouts, counters and log fields; this package
// holds none of them.
package clientkit
