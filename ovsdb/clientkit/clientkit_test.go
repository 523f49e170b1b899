package clientkit

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Notify coalesces into one slot; Broadcast wakes every waiter and leaves
// that slot alone.
func TestSignals(t *testing.T) {
	s := NewSignals()
	s.Notify()
	s.Notify() // must not block
	<-s.Changed()
	select {
	case <-s.Changed():
		t.Fatal("two Notify calls gave two signals")
	default:
	}
	a, b := s.Updated(), s.Updated()
	s.Broadcast()
	<-a
	<-b
	select {
	case <-s.Changed():
		t.Fatal("Broadcast filled Changed")
	case <-s.Updated():
		t.Fatal("the next Updated is closed already")
	default:
	}
	s.Signal()
	<-s.Changed()
}

// WaitCache re-checks on each broadcast and names the commit when the cache
// never shows it.
func TestWaitCache(t *testing.T) {
	s := NewSignals()
	n := 0
	go func() {
		for range 3 {
			time.Sleep(5 * time.Millisecond)
			s.Broadcast()
		}
	}()
	if err := WaitCache(context.Background(), 5*time.Second, "w", s.Updated, func() (bool, error) {
		n++
		return n == 3, nil
	}); err != nil {
		t.Fatal(err)
	}
	err := WaitCache(context.Background(), 10*time.Millisecond, "commit x", s.Updated, func() (bool, error) { return false, nil })
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "commit x: committed, but the cache did not show it: context deadline exceeded" {
		t.Errorf("error %v", err)
	}
}

func TestClosableBackOff(t *testing.T) {
	b := NewClosableBackOff(time.Second)
	if d := b.NextBackOff(); d <= 0 || d > time.Second || d == backoff.Stop {
		t.Errorf("first interval %v", d)
	}
	b.Close()
	if d := b.NextBackOff(); d != math.MaxInt64 {
		t.Errorf("after Close: %v, want parked", d)
	}
}
