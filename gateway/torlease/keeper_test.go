package torlease

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
)

const schemaFile = "../../schemas/gateway.ovsschema"

// fast shortens the leases so that a test takes a second, not ten.
var fast = Timing{Term: 600 * time.Millisecond, RenewEvery: 200 * time.Millisecond, Margin: 200 * time.Millisecond, OpTimeout: time.Second}

// server is a real ovsdb-server with the OVSGW schema; connect gives a node its own client.
func server(t *testing.T) func() *configdb.Client {
	srv := configdbtest.NewStandalone(t, schemaFile)
	return func() *configdb.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := configdb.Connect(ctx, []string{srv.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
}

func switchConfig(managedBy ...string) *model.Config {
	return &model.Config{TorSwitches: []model.TorSwitch{{Name: "tor1", Endpoint: "tcp:192.0.2.10:6640",
		ReplicationNode: "gw1", ManagedBy: managedBy}}}
}

// failing is a config DB whose lease writes fail while cut is set, as when the node loses the
// database.
type failing struct {
	DB
	cut atomic.Bool
}

var errCut = errors.New("cut off from the config DB")

func (f *failing) RenewTorLease(ctx context.Context, sw, node string, epoch int, term time.Duration) (configdb.TorLease, error) {
	if f.cut.Load() {
		return configdb.TorLease{}, errCut
	}
	return f.DB.RenewTorLease(ctx, sw, node, epoch, term)
}

// stepUntil steps k until cond holds on what it returns, or fails after within.
func stepUntil(t *testing.T, k *Keeper, c *model.Config, within time.Duration, what string, cond func(map[string]time.Time) bool) map[string]time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		held := k.Step(context.Background(), c)
		if cond(held) {
			return held
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (holds %v)", what, within, held)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func holds(held map[string]time.Time) bool { _, ok := held["tor1"]; return ok }

// TestDeadManagerSwitchTakenOver: the node managing a switch dies (stops renewing); the next
// node of managedBy takes the switch over once the lease ran out plus the margin, never while
// the old holder could still write; the old holder, cut off from the database, has stopped
// writing by then. Before the lease, the switch stayed unmanaged until its node returned.
func TestDeadManagerSwitchTakenOver(t *testing.T) {
	connect := server(t)
	cfg := switchConfig("gw1", "c1")
	gwDB := &failing{DB: connect()}
	gw1, c1 := NewKeeper(gwDB, "gw1", fast), NewKeeper(connect(), "c1", fast)
	ctx := context.Background()
	for _, n := range []string{"gw1", "c1"} {
		if err := connect().PublishNode(ctx, configdb.NodeState{Hostname: n}); err != nil {
			t.Fatal(err)
		}
	}

	// gw1, first of managedBy, takes the free lease; c1, seeing gw1 live, leaves it.
	stepUntil(t, gw1, cfg, 5*time.Second, "gw1 takes the lease", holds)
	for range 5 {
		if held := c1.Step(ctx, cfg); holds(held) {
			t.Fatalf("c1 holds the switch while gw1 does: %v", held)
		}
		gw1.Step(ctx, cfg)
		time.Sleep(fast.RenewEvery)
	}
	// gw1 keeps renewing: c1 never takes it over, however long it watches.
	watch := time.Now().Add(2 * (fast.Term + fast.Margin))
	for time.Now().Before(watch) {
		if held := c1.Step(ctx, cfg); holds(held) {
			t.Fatal("c1 took a lease that gw1 kept renewing")
		}
		gw1.Step(ctx, cfg)
		time.Sleep(50 * time.Millisecond)
	}

	// gw1 is cut off from the database (its renewals fail), and keeps stepping: it must stop
	// writing at its fence, before c1 may take over.
	fence := gw1.Step(ctx, cfg)["tor1"]
	gwDB.cut.Store(true)
	cut := time.Now()
	var gw1Stopped, c1Took time.Time
	for c1Took.IsZero() {
		now := time.Now()
		if !holds(gw1.Step(ctx, cfg)) && gw1Stopped.IsZero() {
			gw1Stopped = now
		}
		if held := c1.Step(ctx, cfg); holds(held) {
			c1Took = time.Now()
		}
		if time.Since(cut) > 10*(fast.Term+fast.Margin) {
			t.Fatal("c1 never took the lease over")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if gw1Stopped.IsZero() || gw1Stopped.After(fence.Add(50*time.Millisecond)) {
		t.Errorf("gw1 still wrote past its fence %v (stopped %v)", fence, gw1Stopped)
	}
	if !c1Took.After(fence.Add(fast.Margin - 50*time.Millisecond)) {
		t.Errorf("c1 took over at %v, before gw1's fence %v plus the margin", c1Took, fence)
	}
	t.Logf("cut at 0, gw1 stopped writing at %v, c1 took over at %v (term %v, margin %v)",
		gw1Stopped.Sub(cut).Round(time.Millisecond), c1Took.Sub(cut).Round(time.Millisecond), fast.Term, fast.Margin)

	// gw1 comes back: it finds c1 holding the lease and does not take it back.
	gwDB.cut.Store(false)
	for range 10 {
		if holds(gw1.Step(ctx, cfg)) {
			t.Fatal("gw1 took the switch back from c1")
		}
		c1.Step(ctx, cfg)
		time.Sleep(fast.RenewEvery / 2)
	}
	l := connect().TorLeases()
	if len(l) != 1 || l[0].Holder != "c1" || l[0].Epoch != 2 {
		t.Errorf("leases %+v, want c1's at epoch 2", l)
	}

	// c1 is no longer listed: it gives the lease up and gw1 takes it at once.
	only := switchConfig("gw1")
	c1.Step(ctx, only)
	if holds(c1.Step(ctx, only)) {
		t.Error("c1 still holds a switch it no longer may manage")
	}
	stepUntil(t, gw1, only, fast.Term, "gw1 takes the released lease at once", holds)

	// The switch leaves the config: its holder removes the lease.
	gw1.Step(ctx, &model.Config{})
	if l := connect().TorLeases(); len(l) != 0 {
		t.Errorf("leases %+v after the switch left the config", l)
	}
}

// TestTwoTakersNeverBothWrite: two nodes that each believe themselves the one to take a free or
// expired lease (neither sees the other's heartbeat) step concurrently, again and again, with
// one of them dying now and then; at no moment may both hold the switch.
func TestTwoTakersNeverBothWrite(t *testing.T) {
	connect := server(t)
	cfg := switchConfig("c1", "c2")
	keepers := []*Keeper{NewKeeper(connect(), "c1", fast), NewKeeper(connect(), "c2", fast)}
	var mu sync.Mutex
	type span struct{ from, until time.Time }
	spans := map[int][]span{}
	var paused [2]atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, k := range keepers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if paused[i].Load() {
					continue // dead: neither renews nor writes
				}
				from := time.Now()
				if until, ok := k.Step(context.Background(), cfg)["tor1"]; ok {
					mu.Lock()
					spans[i] = append(spans[i], span{from, until})
					mu.Unlock()
				}
			}
		}()
	}
	// Kill the holder, whichever it is, a few times; each time the other takes over.
	for round := 0; round < 3; round++ {
		time.Sleep(2 * (fast.Term + fast.Margin))
		l := connect().TorLeases()
		if len(l) != 1 || l[0].Holder == "" {
			t.Fatalf("round %d: leases %+v, want one held", round, l)
		}
		holder := map[string]int{"c1": 0, "c2": 1}[l[0].Holder]
		paused[holder].Store(true)
		time.Sleep(2 * (fast.Term + fast.Margin))
		paused[holder].Store(false)
	}
	close(stop)
	wg.Wait()
	// A node may write from a Step that returned the switch until that Step's fence: no such
	// window of one node may overlap one of the other's.
	for _, a := range spans[0] {
		for _, b := range spans[1] {
			if a.from.Before(b.until) && b.from.Before(a.until) {
				t.Fatalf("c1 could write %v-%v while c2 could write %v-%v", a.from, a.until, b.from, b.until)
			}
		}
	}
	if len(spans[0]) == 0 || len(spans[1]) == 0 {
		t.Errorf("each node should have held the switch in turn: c1 %d times, c2 %d times", len(spans[0]), len(spans[1]))
	}
}
