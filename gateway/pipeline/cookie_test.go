package pipeline

import "testing"

// TestDropCookiesSelectEveryDropAndNothingElse: the blocks of drop purposes that status and
// the metrics dump select each drop flow once, whatever its owner, and no other flow.
func TestDropCookiesSelectEveryDropAndNothingElse(t *testing.T) {
	sels := DropCookies()
	if len(sels) >= len(DropReasons) {
		t.Errorf("%d selections for %d reasons: no fewer dumps than one per reason", len(sels), len(DropReasons))
	}
	for kind := KindPipeline; kind <= KindRouter; kind++ {
		for p := 0; p < 256; p++ {
			c := Cookie(kind, Purpose(p), 0x1234)
			n := 0
			for _, s := range sels {
				if c&s[1] == s[0] {
					n++
				}
			}
			_, drop := DropReasons[Purpose(p)]
			if want := map[bool]int{true: 1, false: 0}[drop]; n != want {
				t.Errorf("kind %v purpose %d: selected %d times, want %d", kind, p, n, want)
			}
		}
	}
	if other := uint64(0x0123456789abcdef); func() bool {
		for _, s := range sels {
			if other&s[1] == s[0] {
				return true
			}
		}
		return false
	}() {
		t.Errorf("a foreign cookie %#x is selected", other)
	}
}
