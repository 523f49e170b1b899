package agent

import (
	"testing"
	"time"
)

// TestRetryStormBacksOff: failed syncs are retried after growing delays, capped at retryMax,
// each less at most a fifth of jitter (one retry timer, not a new chain per failure).
func TestRetryStormBacksOff(t *testing.T) {
	prev := time.Duration(0)
	for n := 1; n <= 40; n++ {
		want := retryMax
		if n < 16 {
			want = min(retryFirst<<(n-1), retryMax)
		}
		for range 50 {
			d := retryDelay(n)
			if d > want || d < want-want/5 {
				t.Fatalf("failure %d: delay %v, want within [%v, %v]", n, d, want-want/5, want)
			}
		}
		if want < prev {
			t.Fatalf("failure %d: delay %v shrank from %v", n, want, prev)
		}
		prev = want
	}
	if retryDelay(1) > retryFirst || retryDelay(1000) > retryMax {
		t.Fatal("delays exceed their bounds")
	}
}
