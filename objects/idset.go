package objects

import "iter"

// IDSet is a set of object IDs kept in about half the memory of a
// map[ID]bool: it holds the first 16 bytes of each ID (26 bytes an ID on
// average, against 52), so that marking a million objects stays well
// under 100 MiB.
//
// Two IDs with the same first 128 bits are one member: Has may answer
// true for an ID never added that shares its prefix with one that was.
// Finding such a pair takes about 2^64 BLAKE3 evaluations, beyond reach,
// and the callers (gc's and du's marks, fsck's seen sets) treat a false
// member as already visited, never as garbage to delete.
//
// The zero value is an empty set ready to use. An IDSet is not safe for
// concurrent use.
type IDSet struct {
	m map[IDPrefix]struct{}
}

// IDPrefix is the first 16 bytes of an ID: what an IDSet keeps of it, and
// a key for maps that must be as small (see IDSet for what it means).
type IDPrefix [16]byte

// Prefix returns the first 16 bytes of id.
func (id ID) Prefix() (k IDPrefix) {
	copy(k[:], id[:16])
	return k
}

func keyOf(id ID) IDPrefix { return id.Prefix() }

// Add adds id and reports whether it was not in the set before.
func (s *IDSet) Add(id ID) bool {
	if s.m == nil {
		s.m = map[IDPrefix]struct{}{}
	}
	k := keyOf(id)
	if _, ok := s.m[k]; ok {
		return false
	}
	s.m[k] = struct{}{}
	return true
}

// AddPrefix adds the member k (from All of another set).
func (s *IDSet) AddPrefix(k IDPrefix) {
	if s.m == nil {
		s.m = map[IDPrefix]struct{}{}
	}
	s.m[k] = struct{}{}
}

// HasPrefix reports whether the member k is in the set.
func (s *IDSet) HasPrefix(k IDPrefix) bool {
	_, ok := s.m[k]
	return ok
}

// Has reports whether id is in the set.
func (s *IDSet) Has(id ID) bool {
	_, ok := s.m[keyOf(id)]
	return ok
}

// All yields the prefix of every member, in no order.
func (s *IDSet) All() iter.Seq[IDPrefix] {
	return func(yield func(IDPrefix) bool) {
		for k := range s.m {
			if !yield(k) {
				return
			}
		}
	}
}

// Len returns the count of members.
func (s *IDSet) Len() int { return len(s.m) }
