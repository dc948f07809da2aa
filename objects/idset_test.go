package objects_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/artvcs/art/objects"
)

func TestIDSet(t *testing.T) {
	var s objects.IDSet
	a, b := objects.Hash([]byte("a")), objects.Hash([]byte("b"))
	if s.Has(a) || s.Len() != 0 {
		t.Fatal("the zero set is not empty")
	}
	if !s.Add(a) || s.Add(a) || !s.Has(a) || s.Has(b) || s.Len() != 1 {
		t.Fatalf("after Add(a): Has(a) %v, Has(b) %v, Len %d", s.Has(a), s.Has(b), s.Len())
	}
	if !s.Add(b) || s.Len() != 2 {
		t.Fatalf("after Add(b): Len %d", s.Len())
	}
}

// TestIDSetMemory adds 200,000 IDs and checks the heap the set holds:
// well under the 52 bytes an ID of a map[ID]bool takes.
func TestIDSetMemory(t *testing.T) {
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var s objects.IDSet
	for i := range n {
		s.Add(objects.Hash(fmt.Appendf(nil, "%d", i)))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	if s.Len() != n || per > 40 {
		t.Errorf("%d members in %.1f bytes each, want %d in at most 40", s.Len(), per, n)
	}
	runtime.KeepAlive(&s)
}

// TestDenseIDSet: a set over a PrefixIndex answers as an IDSet does, for
// IDs the index has (a bit each) and for IDs it lacks (kept aside); its
// Indexes are the numbers of its indexed members, in order, and Union
// merges two sets.
func TestDenseIDSet(t *testing.T) {
	var ids []objects.ID
	var keys []objects.IDPrefix
	for i := range 300 {
		id := objects.Hash(fmt.Appendf(nil, "%d", i))
		ids = append(ids, id)
		keys = append(keys, id.Prefix(), id.Prefix()) // duplicates go
	}
	x := objects.NewPrefixIndex(keys)
	if x.Len() != 300 {
		t.Fatalf("index of %d prefixes, want 300", x.Len())
	}
	for i := 1; i < x.Len(); i++ {
		if a, b := x.At(i-1), x.At(i); string(a[:]) >= string(b[:]) {
			t.Fatalf("prefixes %d and %d out of order", i-1, i)
		}
	}
	outside := objects.Hash([]byte("not indexed"))
	s, u := objects.NewDenseIDSet(x), objects.NewDenseIDSet(x)
	for i, id := range ids {
		if i%3 == 0 && !s.Add(id) {
			t.Fatalf("Add of a new member %d said it was there", i)
		}
		if i%5 == 0 {
			u.Add(id)
		}
	}
	if s.Add(ids[0]) || !s.Add(outside) || s.Add(outside) {
		t.Fatal("Add of a member again, or of an ID the index lacks, answered wrong")
	}
	for i, id := range ids {
		if s.Has(id) != (i%3 == 0) {
			t.Fatalf("Has(ids[%d]) = %v", i, s.Has(id))
		}
	}
	if !s.Has(outside) || !s.HasPrefix(outside.Prefix()) || u.Has(outside) {
		t.Fatal("an ID the index lacks is not kept, or is in every set")
	}
	if s.Len() != 101 {
		t.Fatalf("Len %d, want 100 indexed and 1 aside", s.Len())
	}
	prev := -1
	n := 0
	for i := range s.Indexes() {
		if i <= prev || !s.HasIndex(i) {
			t.Fatalf("Indexes yielded %d after %d", i, prev)
		}
		prev = i
		n++
	}
	if n != 100 {
		t.Fatalf("Indexes yielded %d numbers, want 100", n)
	}
	s.Union(u)
	for i, id := range ids {
		if s.Has(id) != (i%3 == 0 || i%5 == 0) {
			t.Fatalf("after Union, Has(ids[%d]) = %v", i, s.Has(id))
		}
	}
}
