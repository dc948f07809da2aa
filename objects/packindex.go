package objects

import (
	"bytes"
	"cmp"
	"errors"
	"iter"
	"slices"
	"sync"
)

// PackIndex says where the entries of a set of packs lie: for each
// PackKey, the first pack added that lists it, and the entry's offset and
// size in that pack's file. One type serves the local store's packs
// (whose files hold no header: base 0) and the packs of a remote (whose
// files start with their header: base is its length). Packs are only
// added; a store that removes one builds a new index. Its zero value is
// empty, and it is safe for concurrent use.
//
// Entries are kept in one slice sorted by key (56 bytes an entry, about
// half of a map's), found by binary search; the entries of packs added
// lately wait in a small map until they are a few percent of the whole,
// then are merged in, so that adding many packs stays linear overall.
type PackIndex struct {
	mu     sync.RWMutex
	names  []string
	byName map[string]int32
	sorted []packRec            // by key, each key once
	recent map[PackKey]packSlot // added since the last merge, not in sorted
	// spilled holds the entries merged out of memory (packspill.go): none
	// of them is in sorted or recent.
	spilled *packSpill
}

// packRec is one entry of the sorted slice.
type packRec struct {
	key PackKey
	packSlot
}

// packSlot is where an entry lies: the pack by its place in names.
type packSlot struct {
	pack      int32
	off, size int64
}

// comparePackKeys orders keys by ID, then kind: the order of the sorted
// slice, of a spill file and of All.
func comparePackKeys(a, b PackKey) int {
	if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.Kind, b.Kind)
}

// find returns where k lies, with the lock held.
func (x *PackIndex) find(k PackKey) (packSlot, bool) {
	if s, ok := x.recent[k]; ok {
		return s, true
	}
	i, ok := slices.BinarySearchFunc(x.sorted, k, func(r packRec, k PackKey) int { return comparePackKeys(r.key, k) })
	if ok {
		return x.sorted[i].packSlot, true
	}
	s, ok, _ := x.spilled.find(k)
	return s, ok
}

// packRecentMin is how many entries recent holds at least before Add
// merges it into sorted (more once sorted is 16 times that).
const packRecentMin = 4096

// merge moves recent into sorted, with the write lock held.
func (x *PackIndex) merge() {
	add := make([]packRec, 0, len(x.recent))
	for k, s := range x.recent {
		add = append(add, packRec{k, s})
	}
	slices.SortFunc(add, func(a, b packRec) int { return comparePackKeys(a.key, b.key) })
	out := make([]packRec, 0, len(x.sorted)+len(add))
	i, j := 0, 0
	for i < len(x.sorted) || j < len(add) {
		if j == len(add) || i < len(x.sorted) && comparePackKeys(x.sorted[i].key, add[j].key) < 0 {
			out = append(out, x.sorted[i])
			i++
		} else {
			out = append(out, add[j])
			j++
		}
	}
	x.sorted = out
	if len(x.recent) > 2*packRecentMin {
		// A map keeps its buckets when cleared: one that a large pack
		// grew would stay its size for good.
		x.recent = map[PackKey]packSlot{}
	} else {
		clear(x.recent)
	}
	if len(x.sorted) < PackIndexMemoryEntries {
		return
	}
	s, err := spill(x.spilled, x.sorted)
	if err != nil {
		// No spill file (no temp directory, say): the entries stay in
		// memory.
		return
	}
	x.spilled.close()
	x.spilled, x.sorted = s, nil
}

// PackLoc is where a pack entry lies: Size bytes from Off in the file of
// the pack Pack.
type PackLoc struct {
	Pack      string
	Off, Size int64
}

// Add records the pack name listing es, in the order of its bytes, the
// first of which lies base bytes into its file. Adding a pack twice does
// nothing; an entry already in another pack keeps its first place.
func (x *PackIndex) Add(name string, base int64, es []PackEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byName == nil {
		x.byName, x.recent = map[string]int32{}, map[PackKey]packSlot{}
	}
	if _, ok := x.byName[name]; ok {
		return
	}
	p := int32(len(x.names))
	x.names = append(x.names, name)
	x.byName[name] = p
	off := base
	for _, e := range es {
		if _, dup := x.find(e.PackKey); !dup {
			x.recent[e.PackKey] = packSlot{pack: p, off: off, size: e.Size}
		}
		off += e.Size
	}
	if len(x.recent) > max(min(packRecentMin, PackIndexMemoryEntries), len(x.sorted)/16) {
		x.merge()
	}
}

// Lookup returns where k lies, and false if no pack added lists it. A nil
// index holds nothing.
func (x *PackIndex) Lookup(k PackKey) (PackLoc, bool) {
	if x == nil {
		return PackLoc{}, false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.find(k)
	if !ok {
		return PackLoc{}, false
	}
	return PackLoc{Pack: x.names[s.pack], Off: s.off, Size: s.size}, true
}

// Has reports whether a pack added lists k.
func (x *PackIndex) Has(k PackKey) bool {
	_, ok := x.Lookup(k)
	return ok
}

// Holds reports whether the pack name was added.
func (x *PackIndex) Holds(name string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.byName[name]
	return ok
}

// Names returns the names of the packs added, in the order they were.
func (x *PackIndex) Names() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.names)
}

// Len returns how many entries the index knows (each counted once).
func (x *PackIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.sorted) + len(x.recent)
	if x.spilled != nil {
		n += x.spilled.n
	}
	return n
}

// All yields every entry the index knows and where it lies, as Walk
// does; an entry it cannot read ends it early (Walk says why).
func (x *PackIndex) All() iter.Seq2[PackKey, PackLoc] {
	return func(yield func(PackKey, PackLoc) bool) {
		x.Walk(func(k PackKey, l PackLoc) error {
			if !yield(k, l) {
				return errStopWalk
			}
			return nil
		})
	}
}

var errStopWalk = errors.New("stop")

// Walk calls fn with every entry the index knows and where it lies, in
// the order of the keys (by ID, then kind), and returns the first error fn
// returns or the spill file gives. It walks what the index held when Walk
// was called, without holding a lock while fn runs (fn may use x), and
// holds in memory only the entries not spilled to a file (about
// PackIndexMemoryEntries at most).
func (x *PackIndex) Walk(fn func(PackKey, PackLoc) error) error {
	x.mu.RLock()
	names := slices.Clone(x.names)
	mem := slices.Clone(x.sorted)
	recent := make([]packRec, 0, len(x.recent))
	for k, s := range x.recent {
		recent = append(recent, packRec{k, s})
	}
	spilled := x.spilled.acquire()
	x.mu.RUnlock()
	defer spilled.close()
	slices.SortFunc(recent, func(a, b packRec) int { return comparePackKeys(a.key, b.key) })
	emit := func(r packRec) error {
		return fn(r.key, PackLoc{Pack: names[r.pack], Off: r.off, Size: r.size})
	}
	// The three are disjoint and each sorted: merge them.
	i, j := 0, 0
	memNext := func() (packRec, bool) {
		switch {
		case i < len(mem) && (j == len(recent) || comparePackKeys(mem[i].key, recent[j].key) < 0):
			i++
			return mem[i-1], true
		case j < len(recent):
			j++
			return recent[j-1], true
		}
		return packRec{}, false
	}
	m, ok := memNext()
	var ferr error
	err := spilled.all(func(r packRec) bool {
		for ok && comparePackKeys(m.key, r.key) < 0 {
			if ferr = emit(m); ferr != nil {
				return false
			}
			m, ok = memNext()
		}
		ferr = emit(r)
		return ferr == nil
	})
	if ferr != nil {
		if ferr == errStopWalk {
			return nil
		}
		return ferr
	}
	if err != nil {
		return err
	}
	for ; ok; m, ok = memNext() {
		if err := emit(m); err != nil {
			if err == errStopWalk {
				return nil
			}
			return err
		}
	}
	return nil
}

// replace makes x hold what y holds; y must not be used after.
func (x *PackIndex) replace(y *PackIndex) {
	y.mu.Lock()
	names, byName, sorted, recent, spilled := y.names, y.byName, y.sorted, y.recent, y.spilled
	y.mu.Unlock()
	x.mu.Lock()
	old := x.spilled
	x.names, x.byName, x.sorted, x.recent, x.spilled = names, byName, sorted, recent, spilled
	x.mu.Unlock()
	// Readers looking up in the old spill file hold x.mu: none is left.
	old.close()
}
