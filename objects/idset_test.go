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
