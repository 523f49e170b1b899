package model

import (
	"hash/maphash"
	"math/bits"
)

// The uniqueness checks of a large config (names of VMIs and logical interfaces, MACs and
// addresses in a VN) are most of what validation costs. Go maps of 4,096 strings cost about
// 100 ns an insert on a busy 2-core node; these open-addressing tables hold 4-byte positions
// (and, for words, the word) in a few pages without pointers, hash a name once, and cost the
// garbage collector nothing to scan.

// nameSet maps names to ids: each name added once, with the id of its first adder.
type nameSet struct {
	seed  maphash.Seed
	names []string // in the order added
	ids   []int32  // ids[p] is the id of names[p]
	slots []int32  // 1 + a position in names; 0 for an empty slot
	shift uint     // 64 - log2(len(slots))
}

// newNameSet makes a set for about n names (it grows past that).
func newNameSet(n int) *nameSet {
	s := &nameSet{seed: maphash.MakeSeed(), names: make([]string, 0, n), ids: make([]int32, 0, n)}
	s.resize(n)
	return s
}

// resize makes the table hold n names at most half full, and re-adds the names.
func (s *nameSet) resize(n int) {
	size := 8
	if n > 2 {
		size = max(size, 1<<bits.Len(uint(2*n-1)))
	}
	s.slots = make([]int32, size)
	s.shift = uint(64 - bits.Len(uint(size-1)))
	for p, name := range s.names {
		i := s.home(name)
		for s.slots[i] != 0 {
			i = (i + 1) & (len(s.slots) - 1)
		}
		s.slots[i] = int32(p + 1)
	}
}

func (s *nameSet) home(name string) int {
	return int(maphash.String(s.seed, name) >> s.shift)
}

// add adds name with id, unless it is there already: then it returns the id it was added with.
func (s *nameSet) add(name string, id int32) (first int32, taken bool) {
	i := s.home(name)
	for ; s.slots[i] != 0; i = (i + 1) & (len(s.slots) - 1) {
		if p := s.slots[i] - 1; s.names[p] == name {
			return s.ids[p], true
		}
	}
	s.names = append(s.names, name)
	s.ids = append(s.ids, id)
	s.slots[i] = int32(len(s.names))
	if 2*len(s.names) > len(s.slots) {
		s.resize(len(s.names))
	}
	return 0, false
}

// get returns the id name was added with.
func (s *nameSet) get(name string) (id int32, ok bool) {
	for i := s.home(name); s.slots[i] != 0; i = (i + 1) & (len(s.slots) - 1) {
		if p := s.slots[i] - 1; s.names[p] == name {
			return s.ids[p], true
		}
	}
	return 0, false
}

// wordSet maps 64-bit words to ids, as nameSet does names. As long as the words come in
// increasing order (a generated config lists its VMIs by MAC and address, as a rule), no word
// can be there already: they are only listed, and the table is made from the list when a word
// comes out of order.
type wordSet struct {
	hint      int      // how many words are expected
	inOrder   []uint64 // the words added, while they increase
	inOrderID []int32
	words     []uint64 // by slot, once the words came out of order
	ids       []int32  // by slot: 1 + the id; 0 for an empty slot
	n         int
	shift     uint
}

func newWordSet(n int) *wordSet {
	return &wordSet{hint: n, inOrder: make([]uint64, 0, n), inOrderID: make([]int32, 0, n)}
}

func (s *wordSet) resize(n int) {
	size := 8
	if n > 2 {
		size = max(size, 1<<bits.Len(uint(2*n-1)))
	}
	words, ids := s.words, s.ids
	s.words, s.ids = make([]uint64, size), make([]int32, size)
	s.shift = uint(64 - bits.Len(uint(size-1)))
	for i, id := range ids {
		if id != 0 {
			j := s.slot(words[i])
			s.words[j], s.ids[j] = words[i], id
		}
	}
}

// slot is where w is, or where it would go.
func (s *wordSet) slot(w uint64) int {
	// A multiply-xorshift mix (from splitmix64): MACs and addresses that differ in a few low
	// bits land far apart.
	h := w ^ w>>33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	i := int(h >> s.shift)
	for s.ids[i] != 0 && s.words[i] != w {
		i = (i + 1) & (len(s.ids) - 1)
	}
	return i
}

// add adds w with id, unless it is there already: then it returns the id it was added with.
func (s *wordSet) add(w uint64, id int32) (first int32, taken bool) {
	if s.ids == nil {
		if n := len(s.inOrder); n == 0 || w > s.inOrder[n-1] {
			s.inOrder, s.inOrderID = append(s.inOrder, w), append(s.inOrderID, id)
			return 0, false
		}
		s.resize(max(s.hint, len(s.inOrder)))
		for i, w := range s.inOrder {
			s.add(w, s.inOrderID[i])
		}
		s.inOrder, s.inOrderID = nil, nil
	}
	i := s.slot(w)
	if s.ids[i] != 0 {
		return s.ids[i] - 1, true
	}
	s.words[i], s.ids[i] = w, id+1
	if s.n++; 2*s.n > len(s.ids) {
		s.resize(s.n)
	}
	return 0, false
}
