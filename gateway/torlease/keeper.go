package torlease

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

var log = logrus.WithField(logging.Component, "torlease")

// Timing of the leases (DefaultTiming). A dead holder's switch is taken over Term + Margin after
// the other managers saw its last renewal, plus up to a StepInterval: between 6 and 8.5 s after
// its death (its last renewal was up to RenewEvery earlier), plus the new holder's first sync.
const (
	// Term is how long a holder may write after sending its last successful renewal: three
	// renewals, so that a config DB leader election (1.5-4 s measured here, see
	// configdb.StaleAfter) does not cost the switch its manager.
	Term = 6 * time.Second
	// RenewEvery is how often a holder renews, as often as nodes heartbeat.
	RenewEvery = configdb.HeartbeatInterval
	// Margin is what a taker waits past Term: room for a switch transaction the holder sent
	// just before its fence, and for clocks that run at slightly different rates.
	Margin = 2 * time.Second
	// StepInterval is how often a Keeper looks at the leases.
	StepInterval = 500 * time.Millisecond
	// OpTimeout bounds one lease transaction: a fence can pass meanwhile, and a taker must not
	// hold up the others.
	OpTimeout = 2 * time.Second
)

// Timing are a Keeper's durations (the constants above; tests shorten them).
type Timing struct {
	Term, RenewEvery, Margin, OpTimeout time.Duration
}

// DefaultTiming is the Timing of the constants.
var DefaultTiming = Timing{Term: Term, RenewEvery: RenewEvery, Margin: Margin, OpTimeout: OpTimeout}

// DB is what a Keeper needs of the config DB (a *configdb.Client).
type DB interface {
	Nodes() []configdb.NodeState
	TorLeases() []configdb.TorLease
	TakeTorLease(ctx context.Context, sw, node string, seen *configdb.TorLease, term time.Duration) (configdb.TorLease, error)
	RenewTorLease(ctx context.Context, sw, node string, epoch int, term time.Duration) (configdb.TorLease, error)
	ReleaseTorLease(ctx context.Context, sw, node string, epoch int) error
	RemoveTorLease(ctx context.Context, sw, node string, epoch int) error
}

// Keeper takes, renews and releases one node's ToR switch leases. Safe for concurrent use, but
// Step is meant to run in one loop.
type Keeper struct {
	db     DB
	node   string
	timing Timing

	mu   sync.Mutex
	held map[string]hold        // by switch: the leases this node holds
	seen map[string]observation // by switch: another holder's lease, since when unchanged
}

type hold struct {
	epoch   int
	renewed time.Time // when the last renewal (or the take) that succeeded was sent
}

type observation struct {
	lease configdb.TorLease
	since time.Time
}

// NewKeeper returns node's keeper, holding nothing yet (a lease the database says it holds, from
// before a restart, is adopted by its first renewal).
func NewKeeper(db DB, node string, timing Timing) *Keeper {
	return &Keeper{db: db, node: node, timing: timing, held: map[string]hold{}, seen: map[string]observation{}}
}

// Step runs one round for config c (see the package doc) and returns the switches this node may
// write now, each with the time it must have stopped by (its fence).
func (k *Keeper) Step(ctx context.Context, c *model.Config) map[string]time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	leases := map[string]configdb.TorLease{}
	for _, l := range k.db.TorLeases() {
		leases[l.Switch] = l
	}
	now := time.Now()
	live := map[string]bool{k.node: true}
	for _, n := range k.db.Nodes() {
		if !n.Stale(now, configdb.StaleAfter) {
			live[n.Hostname] = true
		}
	}
	switches := map[string]*model.TorSwitch{}
	for i := range c.TorSwitches {
		switches[c.TorSwitches[i].Name] = &c.TorSwitches[i]
	}
	// Leases this node must give up: it stopped writing at the previous Step's end (the caller
	// configured its switches from what that Step returned, and syncs only between Steps).
	for _, name := range slices.Sorted(maps.Keys(leases)) {
		l := leases[name]
		sw := switches[name]
		if l.Holder != k.node || sw != nil && slices.Contains(sw.Managers(), k.node) {
			continue
		}
		delete(k.held, name)
		err := k.within(ctx, func(ctx context.Context) error {
			if sw == nil {
				return k.db.RemoveTorLease(ctx, name, k.node, l.Epoch)
			}
			return k.db.ReleaseTorLease(ctx, name, k.node, l.Epoch)
		})
		if err != nil {
			log.WithError(err).WithField(logging.Object, model.TorSwitchPath(name)).Warn("cannot give up the switch's lease")
		} else {
			log.WithField(logging.Object, model.TorSwitchPath(name)).Info("gave up the switch's lease: not this node's to manage any more")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(switches)) {
		sw := switches[name]
		if !slices.Contains(sw.Managers(), k.node) {
			delete(k.held, name)
			delete(k.seen, name)
			continue
		}
		l, exists := leases[name]
		switch {
		case exists && l.Holder == k.node:
			delete(k.seen, name)
			h, ok := k.held[name]
			if ok && h.epoch == l.Epoch && time.Since(h.renewed) < k.timing.RenewEvery {
				continue
			}
			sent := time.Now()
			err := k.within(ctx, func(ctx context.Context) error {
				_, err := k.db.RenewTorLease(ctx, name, k.node, l.Epoch, k.timing.Term)
				return err
			})
			switch {
			case err == nil:
				if !ok || h.epoch != l.Epoch {
					log.WithFields(logrus.Fields{logging.Object: model.TorSwitchPath(name), "epoch": l.Epoch}).Info("holding the switch's lease")
				}
				k.held[name] = hold{epoch: l.Epoch, renewed: sent}
			case errors.Is(err, configdb.ErrLeaseLost):
				delete(k.held, name)
				log.WithError(err).WithField(logging.Object, model.TorSwitchPath(name)).Warn("lost the switch's lease")
			default: // the fence decides: renewed in time, or no more writes
				log.WithError(err).WithField(logging.Object, model.TorSwitchPath(name)).Warn("cannot renew the switch's lease")
			}
		case !exists || l.Holder == "":
			delete(k.held, name)
			delete(k.seen, name)
			if k.preferred(sw, live, "") {
				var seen *configdb.TorLease
				if exists {
					seen = &l
				}
				k.take(ctx, name, seen, "free")
			}
		default:
			delete(k.held, name)
			o, ok := k.seen[name]
			if !ok || o.lease != l {
				o = observation{lease: l, since: now}
				k.seen[name] = o
			}
			if now.Sub(o.since) >= k.timing.Term+k.timing.Margin && k.preferred(sw, live, l.Holder) {
				k.take(ctx, name, &l, "expired (held by "+l.Holder+")")
			}
		}
	}
	out := map[string]time.Time{}
	now = time.Now()
	for name, h := range k.held {
		if until := h.renewed.Add(k.timing.Term); now.Before(until) {
			out[name] = until
		}
	}
	return out
}

// preferred reports whether this node is the first of sw's managers that is live, leaving out
// holder (whose lease expired).
func (k *Keeper) preferred(sw *model.TorSwitch, live map[string]bool, holder string) bool {
	for _, n := range sw.Managers() {
		switch {
		case n == holder:
		case n == k.node:
			return true
		case live[n]:
			return false
		}
	}
	return false
}

// take tries to take switch name's lease, seen as it is (nil: no row).
func (k *Keeper) take(ctx context.Context, name string, seen *configdb.TorLease, why string) {
	sent := time.Now()
	var l configdb.TorLease
	err := k.within(ctx, func(ctx context.Context) (err error) {
		l, err = k.db.TakeTorLease(ctx, name, k.node, seen, k.timing.Term)
		return err
	})
	entry := log.WithFields(logrus.Fields{logging.Object: model.TorSwitchPath(name), "lease": why})
	if err != nil {
		if errors.Is(err, configdb.ErrLeaseLost) {
			entry.Info("another node took the switch's lease first")
		} else {
			entry.WithError(err).Warn("cannot take the switch's lease")
		}
		return
	}
	delete(k.seen, name)
	k.held[name] = hold{epoch: l.Epoch, renewed: sent}
	entry.WithField("epoch", l.Epoch).Info("took the switch's lease: managing it")
}

// within runs one lease operation under the timing's OpTimeout.
func (k *Keeper) within(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, k.timing.OpTimeout)
	defer cancel()
	return op(ctx)
}
