package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestNameSetAndWordSetAreMaps: after random adds, from sets sized for fewer entries than they
// get (so that they grow), both sets answer as a Go map that keeps the first id of each key.
func TestNameSetAndWordSetAreMaps(t *testing.T) {
	for _, sizedFor := range []int{0, 1, 3, 100} {
		r := rand.New(rand.NewPCG(uint64(sizedFor), 1))
		names, words := newNameSet(sizedFor), newWordSet(sizedFor)
		wantNames, wantWords := map[string]int32{}, map[uint64]int32{}
		for id := range int32(3000) {
			name := fmt.Sprintf("n%d", r.IntN(2000))
			if id%7 == 0 {
				name = "" // the empty name is a name like another
			}
			first, taken := names.add(name, id)
			if want, ok := wantNames[name]; ok != taken || (ok && first != want) {
				t.Fatalf("sized for %d: add(%q, %d) = %d, %v; want %d, %v", sizedFor, name, id, first, taken, want, ok)
			} else if !ok {
				wantNames[name] = id
			}
			word := uint64(r.IntN(2000)) << (r.IntN(4) * 16) // 0 too, and words alike in their low bits
			first, taken = words.add(word, id)
			if want, ok := wantWords[word]; ok != taken || (ok && first != want) {
				t.Fatalf("sized for %d: add(%#x, %d) = %d, %v; want %d, %v", sizedFor, word, id, first, taken, want, ok)
			} else if !ok {
				wantWords[word] = id
			}
		}
		for i := range 2100 {
			name := fmt.Sprintf("n%d", i)
			id, ok := names.get(name)
			if want, found := wantNames[name]; ok != found || id != want {
				t.Fatalf("sized for %d: get(%q) = %d, %v; want %d, %v", sizedFor, name, id, ok, want, found)
			}
		}
		if len(wantNames) < 1000 || len(wantWords) < 3000/2 {
			t.Fatalf("test bug: %d names and %d words only", len(wantNames), len(wantWords))
		}
	}
}
