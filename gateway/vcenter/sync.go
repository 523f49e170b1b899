package vcenter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/configstore"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

var log = logrus.WithField(logging.Component, "vcenter")

// Timing of the sync.
const (
	// retryMin and retryMax bound the wait between logins to an unreachable
	// vCenter: a restart of vCenter takes minutes, so the wait doubles up to
	// half a minute, and each failure is logged.
	retryMin = 500 * time.Millisecond
	retryMax = 30 * time.Second
	// resyncInterval re-plans from the inventory kept in memory (no vCenter
	// read): it catches a config DB change whose signal was lost, as the agents' periodic
	// resync does.
	resyncInterval = 60 * time.Second
	// writeAttempts bounds the re-plans after another writer changed the config
	// between a read and the write planned from it: each attempt re-reads the database and
	// plans in milliseconds, so a second one almost always goes through; then the sync waits for
	// the next change.
	writeAttempts = 3
)

// Sync keeps one vCenter's VMs in step with the config DB.
type Sync struct {
	cfg   *Config
	db    *configdb.Client
	store *configstore.Store // the config as the agents read it, to validate a write first
	// dial is Dial; tests replace it.
	dial func(context.Context, *Config) (*Conn, error)
	// pollWait is maxWait; tests shorten it.
	pollWait time.Duration

	mu      sync.Mutex // guards status
	status  gatewaydb.VcenterSync
	written *gatewaydb.VcenterSync // the status row last written, nil before
	logged  map[string]bool        // reports already logged
	// ports are the DVS ports' VLANs as this session read or set them: a re-plan
	// reconfigures, and first reads, only the ports whose VLAN it wants changed. Emptied at each
	// login (someone may have changed a port while the sync was away). Reconcile's alone.
	ports map[string]int
	// timing is how long the last Reconcile took, by phase (for the benchmark and debug logs).
	timing Timing // of the last pass that wrote to the database
}

// Timing is how long one Reconcile took: reading the database and planning, writing (and
// waiting for the cache to show it), and the DVS ports.
type Timing struct{ Plan, Write, Ports time.Duration }

// New is a sync of cfg's vCenter writing to db.
func New(cfg *Config, db *configdb.Client) *Sync {
	return &Sync{cfg: cfg, db: db, store: configstore.New(db), dial: Dial, pollWait: maxWait, logged: map[string]bool{},
		status: gatewaydb.VcenterSync{Name: cfg.Name, Url: cfg.URL.Redacted()}}
}

// Run logs in to vCenter and keeps the config DB in step until ctx ends,
// logging in again (with backoff) whenever the session fails: vCenter down
// or restarting changes nothing in the database, and after a new login the
// whole inventory is read again and reconciled.
func (s *Sync) Run(ctx context.Context) error {
	if s.cfg.Insecure {
		log.WithField(logging.Endpoint, s.cfg.URL.Redacted()).Warn("INSECURE: vCenter's certificate is not verified (insecure = true): anyone on the path can pose as vCenter and rewrite the gateways' config")
	}
	wait := retryMin
	for {
		err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.fail(ctx, err)
		log.WithError(err).WithField("retry_in", wait).Warn("vCenter session ended")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
		if errors.Is(err, errWasUp) {
			wait = retryMin
		}
	}
}

// errWasUp marks a session that was up: the next login is tried at once.
var errWasUp = errors.New("the session was up")

// session runs one login: watch and reconcile until it fails.
func (s *Sync) session(ctx context.Context) error {
	conn, err := s.dial(ctx, s.cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	s.ports = map[string]int{}
	log.WithFields(logrus.Fields{logging.Endpoint: s.cfg.URL.Redacted(), "dvs": s.cfg.DVS}).Info("logged in to vCenter")
	ctx, cancel := context.WithCancel(ctx)
	invs := make(chan Inventory, 1) // one slot: the newest inventory replaces an unread one
	watchErr := make(chan error, 1)
	watching := true
	defer func() {
		cancel()
		if watching { // the watch cancels its wait in vCenter on its way out: let it, before logging out
			<-watchErr
		}
	}()
	go func() {
		watchErr <- conn.watch(ctx, s.pollWait, func(inv Inventory) error {
			select {
			case <-invs:
			default:
			}
			invs <- inv
			return nil
		})
	}()
	var inv *Inventory
	tick := time.NewTicker(resyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-watchErr:
			watching = false
			return fmt.Errorf("%w: %w", errWasUp, err)
		case i := <-invs:
			inv = &i
		case <-s.db.ConfigChanged():
		case <-tick.C:
		}
		if inv == nil {
			continue // not read yet
		}
		if err := s.Reconcile(ctx, conn, *inv); err != nil {
			log.WithError(err).Warn("vCenter sync failed; retrying at the next change")
			s.setError(err)
			if werr := s.writeStatus(ctx); werr != nil {
				log.WithError(werr).Warn("write the vCenter sync's status")
			}
		}
	}
}

// Reconcile plans from inv and the config DB, writes the difference, then
// sets the DVS ports' VLANs (after the gateways have the rows: a VM's frames
// carry a VLAN only once a gateway knows it).
func (s *Sync) Reconcile(ctx context.Context, conn *Conn, inv Inventory) error {
	p := s.cfg.Params()
	var plan Plan
	var tm Timing
	defer func() {
		if tm.Write > 0 {
			s.mu.Lock()
			s.timing = tm
			s.mu.Unlock()
		}
		log.WithFields(logrus.Fields{"plan": tm.Plan, "write": tm.Write, "ports": tm.Ports}).Debug("reconciled")
	}()
	for attempt := 1; ; attempt++ {
		t0 := time.Now()
		view, err := s.db.OwnedRead()
		if err != nil {
			return fmt.Errorf("read the config DB: %w", err)
		}
		st := StateOf(view)
		plan = Reconcile(p, inv, st)
		w := Diff(p.Owner, st, plan)
		s.planned(plan)
		w.Status = s.statusRow()
		if w.Changes() {
			cfg, err := s.store.Config()
			if err != nil {
				return fmt.Errorf("read the config DB: %w", err)
			}
			if err := checkPlan(cfg, p.Owner, st, plan); err != nil {
				tm.Plan += time.Since(t0)
				return err
			}
		}
		tm.Plan += time.Since(t0)
		if !w.Changes() && s.sameStatus(w.Status) {
			break
		}
		t0 = time.Now()
		err = s.db.WriteOwned(ctx, view, w)
		tm.Write += time.Since(t0)
		if errors.Is(err, configdb.ErrOwnedConflict) && attempt < writeAttempts {
			log.WithField("attempt", attempt).Info("the config changed since it was read; planning again")
			continue
		}
		if err != nil {
			return fmt.Errorf("write the config DB: %w", err)
		}
		s.wrote(w.Status)
		if w.Changes() {
			log.WithFields(logrus.Fields{"vmis_added": len(w.InsertVMIs), "vmis_changed": len(w.UpdateVMIs), "vmis_removed": len(w.DeleteVMIs),
				"lis_added": len(w.InsertLIs), "lis_changed": len(w.UpdateLIs), "lis_removed": len(w.DeleteLIs)}).Info("config DB updated from vCenter")
		}
		break
	}
	t0 := time.Now()
	defer func() { tm.Ports = time.Since(t0) }()
	todo := map[string]int{}
	for port, vlan := range plan.PortVLANs {
		if have, ok := s.ports[port]; !ok || have != vlan {
			todo[port] = vlan
		}
	}
	n, err := conn.SetPortVLANs(ctx, todo)
	if err != nil {
		return err
	}
	if s.ports == nil {
		s.ports = map[string]int{}
	}
	for port, vlan := range todo {
		s.ports[port] = vlan
	}
	if n > 0 {
		log.WithField("ports", n).Info("DVS port VLANs set")
	}
	return nil
}

// planned records a plan's counts and reports in the status, logging new reports once.
func (s *Sync) planned(plan Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Connected = true
	s.status.VmsSeen, s.status.NicsMapped = plan.VMsSeen, plan.NICsMapped
	s.status.VLANsUsed, s.status.VLANsFree = plan.VLANsUsed, plan.VLANsFree
	s.status.Reports = slices.Clone(plan.Reports)
	next := map[string]bool{}
	for _, r := range plan.Reports {
		if !s.logged[r] {
			log.Warn(r)
		}
		next[r] = true
	}
	s.logged = next
}

func (s *Sync) setError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.LastError = time.Now().UTC().Format(time.RFC3339) + " " + err.Error()
}

// fail records a lost or refused session in the status row.
func (s *Sync) fail(ctx context.Context, err error) {
	s.mu.Lock()
	s.status.Connected = false
	s.mu.Unlock()
	s.setError(err)
	if werr := s.writeStatus(ctx); werr != nil {
		log.WithError(werr).Warn("write the vCenter sync's status")
	}
}

func (s *Sync) statusRow() gatewaydb.VcenterSync {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.status
	row.Reports = slices.Clone(row.Reports)
	return row
}

// sameStatus reports whether row is the status last written (its time aside).
func (s *Sync) sameStatus(row gatewaydb.VcenterSync) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written == nil {
		return false
	}
	a, b := *s.written, row
	a.UUID, b.UUID, a.Updated, b.Updated = "", "", 0, 0
	return a.Connected == b.Connected && a.LastError == b.LastError && a.VmsSeen == b.VmsSeen && a.NicsMapped == b.NicsMapped &&
		a.VLANsUsed == b.VLANsUsed && a.VLANsFree == b.VLANsFree && a.Url == b.Url && slices.Equal(a.Reports, b.Reports)
}

func (s *Sync) wrote(row gatewaydb.VcenterSync) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = &row
}

// writeStatus writes the status row alone, when it changed.
func (s *Sync) writeStatus(ctx context.Context) error {
	row := s.statusRow()
	if s.sameStatus(row) {
		return nil
	}
	if err := s.db.WriteOwned(ctx, nil, &configdb.OwnedWrite{Status: row}); err != nil {
		return err
	}
	s.wrote(row)
	return nil
}

// LastTiming is how long the last Reconcile that wrote to the database took, by phase.
func (s *Sync) LastTiming() Timing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timing
}

// Status is the sync's status as last planned.
func (s *Sync) Status() gatewaydb.VcenterSync { return s.statusRow() }
