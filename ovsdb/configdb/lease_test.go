package configdb

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Of several nodes taking one switch's lease at once, from the same view of it, exactly one
// wins and the others' transactions fail whole with ErrLeaseLost: when there is no row yet (the
// index refuses a second insert) and when they take over an expired one (the wait on the row
// seen fails once the first take changed it). Against a real ovsdb-server.
func TestTorLeaseRaceHasOneWinner(t *testing.T) {
	srv := newStandalone(t)
	const contenders = 4
	clients := make([]*Client, contenders)
	for i := range clients {
		clients[i] = connectTo(t, []string{srv.Endpoint})
	}
	nodes := []string{"gw1", "gw2", "gw3", "gw4"}
	race := func(seen *TorLease) (winners []string) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := c.TakeTorLease(context.Background(), "tor1", nodes[i], seen, 6*time.Second)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, nodes[i])
				case !errors.Is(err, ErrLeaseLost):
					t.Errorf("%s: %v, want ErrLeaseLost", nodes[i], err)
				}
			}()
		}
		close(start)
		wg.Wait()
		return winners
	}
	winners := race(nil)
	if len(winners) != 1 {
		t.Fatalf("first takes: winners %v, want exactly one", winners)
	}
	for _, c := range clients {
		waitUntil(t, "every client sees the lease", func() bool { return len(c.TorLeases()) == 1 })
	}
	first := clients[0].TorLeases()[0]
	if first.Holder != winners[0] || first.Epoch != 1 || first.Switch != "tor1" {
		t.Fatalf("lease %+v, want %s's at epoch 1", first, winners[0])
	}
	winners = race(&first)
	if len(winners) != 1 {
		t.Fatalf("takeovers: winners %v, want exactly one", winners)
	}
	for _, c := range clients {
		waitUntil(t, "every client sees the takeover", func() bool { return c.TorLeases()[0].Epoch == 2 })
	}
	l := clients[0].TorLeases()[0]
	if l.Holder != winners[0] || !l.Expires.After(first.Expires) {
		t.Fatalf("lease after the takeover %+v, want %s's, expiring after %v", l, winners[0], first.Expires)
	}

	// A holder that lost its lease (its epoch is gone) can neither renew nor release it; the
	// new holder can.
	ctx := context.Background()
	if _, err := clients[0].RenewTorLease(ctx, "tor1", first.Holder, first.Epoch, time.Second); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("the old holder renewed: %v", err)
	}
	if err := clients[0].ReleaseTorLease(ctx, "tor1", "gw9", l.Epoch); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("a node that never held it released it: %v", err)
	}
	renewed, err := clients[0].RenewTorLease(ctx, "tor1", l.Holder, l.Epoch, 6*time.Second)
	if err != nil || !renewed.Expires.After(l.Expires) || renewed.Epoch != l.Epoch {
		t.Fatalf("renewal by the holder: %+v, %v", renewed, err)
	}
	if err := clients[0].ReleaseTorLease(ctx, "tor1", l.Holder, l.Epoch); err != nil {
		t.Fatal(err)
	}
	if got := clients[0].TorLeases()[0]; got.Holder != "" || got.Epoch != l.Epoch+1 {
		t.Errorf("released lease %+v, want no holder at epoch %d", got, l.Epoch+1)
	}
	if err := clients[0].RemoveTorLease(ctx, "tor1", "", l.Epoch+1); err != nil || len(clients[0].TorLeases()) != 0 {
		t.Errorf("remove: %v, leases %v", err, clients[0].TorLeases())
	}
}
