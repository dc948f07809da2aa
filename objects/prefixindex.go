package objects

import (
	"bytes"
	"iter"
	"math/bits"
	"slices"
)

// PrefixIndex numbers a fixed collection of ID prefixes (a listing of a
// store, say) 0 to Len()-1 in byte order, so that sets of them can be
// bitsets (DenseIDSet): 16 bytes a member for the index, one bit a member
// for each set over it, where an IDSet costs about 26 bytes a member a
// set. Find is a binary search.
type PrefixIndex struct {
	keys []IDPrefix
}

// NewPrefixIndex indexes keys, which it sorts and rids of duplicates in
// place (and keeps: the caller must not change keys afterwards).
func NewPrefixIndex(keys []IDPrefix) *PrefixIndex {
	slices.SortFunc(keys, comparePrefix)
	return &PrefixIndex{keys: slices.Compact(keys)}
}

func comparePrefix(a, b IDPrefix) int { return bytes.Compare(a[:], b[:]) }

// Len returns how many prefixes x numbers.
func (x *PrefixIndex) Len() int { return len(x.keys) }

// At returns the prefix numbered i.
func (x *PrefixIndex) At(i int) IDPrefix { return x.keys[i] }

// Find returns the number of k, and whether x has it.
func (x *PrefixIndex) Find(k IDPrefix) (int, bool) {
	return slices.BinarySearchFunc(x.keys, k, comparePrefix)
}

// DenseIDSet is a set of IDs with IDSet's meaning (a member is the first
// 16 bytes of an ID), kept as a bit per prefix of its PrefixIndex, and
// as an IDSet for the IDs the index lacks (an object a version names that
// the store does not hold, say). Create it with NewDenseIDSet. It is not
// safe for concurrent use.
type DenseIDSet struct {
	x     *PrefixIndex
	bits  []uint64
	other IDSet
}

// NewDenseIDSet returns an empty set over x.
func NewDenseIDSet(x *PrefixIndex) *DenseIDSet {
	return &DenseIDSet{x: x, bits: make([]uint64, (x.Len()+63)/64)}
}

// Add adds id and reports whether it was not in the set before.
func (s *DenseIDSet) Add(id ID) bool {
	k := id.Prefix()
	i, ok := s.x.Find(k)
	if !ok {
		if s.other.HasPrefix(k) {
			return false
		}
		s.other.AddPrefix(k)
		return true
	}
	w, b := i/64, uint64(1)<<(i%64)
	if s.bits[w]&b != 0 {
		return false
	}
	s.bits[w] |= b
	return true
}

// Has reports whether id is in the set.
func (s *DenseIDSet) Has(id ID) bool { return s.HasPrefix(id.Prefix()) }

// HasPrefix reports whether the member k is in the set.
func (s *DenseIDSet) HasPrefix(k IDPrefix) bool {
	if i, ok := s.x.Find(k); ok {
		return s.HasIndex(i)
	}
	return s.other.HasPrefix(k)
}

// HasIndex reports whether the prefix numbered i in the set's index is a
// member.
func (s *DenseIDSet) HasIndex(i int) bool { return s.bits[i/64]&(1<<(i%64)) != 0 }

// Indexes yields, in order, the number of every member the index has.
func (s *DenseIDSet) Indexes() iter.Seq[int] {
	return func(yield func(int) bool) {
		for w, word := range s.bits {
			for word != 0 {
				t := bits.TrailingZeros64(word)
				if !yield(w*64 + t) {
					return
				}
				word &= word - 1
			}
		}
	}
}

// Union adds every member of t, a set over the same index, to s.
func (s *DenseIDSet) Union(t *DenseIDSet) {
	for w := range s.bits {
		s.bits[w] |= t.bits[w]
	}
	for k := range t.other.All() {
		s.other.AddPrefix(k)
	}
}

// Len returns the count of members.
func (s *DenseIDSet) Len() int {
	n := s.other.Len()
	for _, w := range s.bits {
		n += bits.OnesCount64(w)
	}
	return n
}
