package objects

import (
	"cmp"
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
type PackIndex struct {
	mu     sync.RWMutex
	names  []string
	byName map[string]int32
	at     map[PackKey]packSlot
}

// packSlot is where an entry lies: the pack by its place in names.
type packSlot struct {
	pack      int32
	off, size int64
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
		x.byName, x.at = map[string]int32{}, map[PackKey]packSlot{}
	}
	if _, ok := x.byName[name]; ok {
		return
	}
	p := int32(len(x.names))
	x.names = append(x.names, name)
	x.byName[name] = p
	off := base
	for _, e := range es {
		if _, dup := x.at[e.PackKey]; !dup {
			x.at[e.PackKey] = packSlot{pack: p, off: off, size: e.Size}
		}
		off += e.Size
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
	s, ok := x.at[k]
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
	return len(x.at)
}

// All yields every entry the index knows and where it lies: pack by pack
// in the order they were added, and in each in the order of its bytes. It yields what the
// index held when All was called, without holding a lock.
func (x *PackIndex) All() iter.Seq2[PackKey, PackLoc] {
	return func(yield func(PackKey, PackLoc) bool) {
		type item struct {
			k PackKey
			s packSlot
		}
		x.mu.RLock()
		names := slices.Clone(x.names)
		items := make([]item, 0, len(x.at))
		for k, s := range x.at {
			items = append(items, item{k, s})
		}
		x.mu.RUnlock()
		slices.SortFunc(items, func(a, b item) int {
			if c := cmp.Compare(a.s.pack, b.s.pack); c != 0 {
				return c
			}
			if c := cmp.Compare(a.s.off, b.s.off); c != 0 {
				return c
			}
			return cmp.Compare(a.s.size, b.s.size) // an empty entry before the one at its offset
		})
		for _, it := range items {
			if !yield(it.k, PackLoc{Pack: names[it.s.pack], Off: it.s.off, Size: it.s.size}) {
				return
			}
		}
	}
}

// replace makes x hold what y holds; y must not be used after.
func (x *PackIndex) replace(y *PackIndex) {
	y.mu.Lock()
	names, byName, at := y.names, y.byName, y.at
	y.mu.Unlock()
	x.mu.Lock()
	x.names, x.byName, x.at = names, byName, at
	x.mu.Unlock()
}
