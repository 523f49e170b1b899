package clientkit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"
)

// Transact sends ops through c as one transaction within timeout and checks
// every result; what names the attempt in errors and in the debug line
// logged on log. A ctx whose deadline comes earlier keeps it. Every error
// of an operation is joined into the one returned, unwrappable (e.g. to
// [ovsdb.TimedOut]).
func Transact(ctx context.Context, log *logrus.Entry, c client.Client, timeout time.Duration, what string, ops []ovsdb.Operation) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("%s: transact: %w", what, err)
	}
	if opErrs, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		for _, e := range opErrs {
			err = errors.Join(err, e)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	log.WithFields(logrus.Fields{"what": what, "operations": len(ops)}).Debug("transaction committed")
	return nil
}

// WaitCache waits, at most timeout, until done reports that the cache
// reflects what was committed: the monitor update may arrive after the
// transaction reply. updated is [Signals.Updated] of the cache's client;
// done is checked again after each of its broadcasts. what names the commit
// in the error.
func WaitCache(ctx context.Context, timeout time.Duration, what string, updated func() <-chan struct{}, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ch := updated() // taken before checking, so no update is missed
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: committed, but the cache did not show it: %w", what, ctx.Err())
		}
	}
}

// Signals tells that a client's cache moved, two ways: the user through
// Changed, one slot that coalesces signals, and internal waiters (see
// [WaitCache]) through Updated, a channel closed and replaced on each
// Broadcast, so every waiter wakes without taking the user's signal.
type Signals struct {
	changed chan struct{}

	mu      sync.Mutex
	updated chan struct{}
}

// NewSignals returns Signals with nothing pending.
func NewSignals() *Signals {
	return &Signals{changed: make(chan struct{}, 1), updated: make(chan struct{})}
}

// Changed receives once after one or more Notify calls.
func (s *Signals) Changed() <-chan struct{} { return s.changed }

// Notify fills Changed's slot unless it is full. It never blocks: it runs in
// libovsdb's event goroutine.
func (s *Signals) Notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Broadcast wakes every internal waiter without touching Changed.
func (s *Signals) Broadcast() {
	s.mu.Lock()
	close(s.updated)
	s.updated = make(chan struct{})
	s.mu.Unlock()
}

// Signal is Notify and Broadcast: the user and every waiter learn of it.
func (s *Signals) Signal() {
	s.Notify()
	s.Broadcast()
}

// Updated is closed at the next Broadcast. Take it before checking the
// cache, so that no update is missed between the check and the wait.
func (s *Signals) Updated() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updated
}

// Live reports whether c is connected right now. libovsdb's Connected stays
// true while it reconnects after the server went away (it clears the flag
// only on a local Disconnect, or when it drops a member that lost
// leadership); its CurrentEndpoint is empty exactly while there is no
// connection.
func Live(c client.Client) bool { return c.Connected() && c.CurrentEndpoint() != "" }

// WatchConnection samples live every interval until stop is closed and,
// starting from connected, calls changed with the new state each time it
// flips.
// libovsdb has no reconnect callback, so sampling is how a client learns
// that its cache was rebuilt after a reconnect, and that rows deleted
// meanwhile produced no event of their own.
func WatchConnection(stop <-chan struct{}, interval time.Duration, live func() bool, changed func(up bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	was := true
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if now := live(); now != was {
			changed(now)
			was = now
		}
	}
}

// ClosableBackOff is a reconnect backoff for libovsdb that stops its
// reconnect loop after Close: libovsdb's Close does nothing while it is
// reconnecting, and its loop panics when a backoff gives up, so after Close
// the loop is parked instead (one idle goroutine until the process exits).
type ClosableBackOff struct {
	backoff.BackOff
	closed atomic.Bool
}

// NewClosableBackOff returns an exponential backoff capped at maxInterval
// that never gives up: libovsdb panics when its backoff gives up (the
// default gives up after 15 minutes).
func NewClosableBackOff(maxInterval time.Duration) *ClosableBackOff {
	exp := backoff.NewExponentialBackOff()
	exp.MaxInterval = maxInterval
	exp.MaxElapsedTime = 0
	return &ClosableBackOff{BackOff: exp}
}

// Close parks the reconnect loop at its next attempt.
func (b *ClosableBackOff) Close() { b.closed.Store(true) }

// NextBackOff is the wrapped backoff's, or forever after Close.
func (b *ClosableBackOff) NextBackOff() time.Duration {
	if b.closed.Load() {
		return math.MaxInt64
	}
	return b.BackOff.NextBackOff()
}

// Logger routes libovsdb's logr output to entry: its info lines at debug
// level (libovsdb is chatty), its errors as warnings (it retries, or the
// client does).
func Logger(entry *logrus.Entry) logr.Logger { return logr.New(logrusSink{entry: entry}) }

type logrusSink struct{ entry *logrus.Entry }

func (s logrusSink) Init(logr.RuntimeInfo) {}
func (s logrusSink) Enabled(int) bool      { return s.entry.Logger.IsLevelEnabled(logrus.DebugLevel) }
func (s logrusSink) Info(_ int, msg string, kv ...any) {
	s.with(kv).Debug(msg)
}
func (s logrusSink) Error(err error, msg string, kv ...any) {
	s.with(kv).WithError(err).Warn(msg)
}
func (s logrusSink) WithValues(kv ...any) logr.LogSink { return logrusSink{entry: s.with(kv)} }
func (s logrusSink) WithName(name string) logr.LogSink {
	return logrusSink{entry: s.entry.WithField("logger", name)}
}
func (s logrusSink) with(kv []any) *logrus.Entry {
	f := logrus.Fields{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return s.entry.WithFields(f)
}
