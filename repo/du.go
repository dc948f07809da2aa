package repo

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
)

// ArtifactUsage is what one artifact's versions take.
type ArtifactUsage struct {
	Name     string
	Versions int
	// Logical is the sum of its versions' sizes: what checking out every
	// version would write.
	Logical int64
	// Stored is the bytes of the distinct objects its versions use
	// (commits, trees, whole blobs, chunk lists and chunks), each counted
	// once however many versions or files share it. Objects shared with
	// other artifacts count for each of them.
	Stored int64
}

// Usage summarises the repository's disk use.
type Usage struct {
	Artifacts []ArtifactUsage // sorted by name
	Logical   int64           // over every version
	Stored    int64           // distinct objects every version uses, each once
	OnDisk    int64           // every object in the store
	Garbage   int64           // of OnDisk, what no version or run uses (gc's to collect)
	Objects   int             // objects in the store (a chunked blob's list counts as one)
	Chunked   int             // blobs stored as chunks
}

// DiskUsage walks every version and the object store and reports, per
// artifact and in total, the logical size of the versions against the
// bytes they take in the store, where equal files, shared subtrees and
// shared chunks are stored once. It reads trees and chunk lists, not file
// contents. A missing or corrupt tree or chunk list is an
// *UnreadableError naming it (Fsck says what it affects).
func (r *Repo) DiskUsage(ctx context.Context) (Usage, error) {
	var u Usage
	// The store's objects, by ID prefix (as the mark's sets are:
	// objects.IDSet) with their sizes, sorted: each mark's set is then a
	// bit per object (objects.DenseIDSet), 24 bytes an object in all.
	l := &listing{}
	chunked := map[objects.ID]bool{}
	if err := r.store.List(ctx, func(i objects.Info) error {
		l.keys = append(l.keys, i.ID.Prefix())
		l.sizes = append(l.sizes, i.Stored)
		u.OnDisk += i.Stored
		u.Objects++
		if i.Chunked {
			chunked[i.ID] = true
			u.Chunked++
		}
		return nil
	}); err != nil {
		return u, err
	}
	idx := l.index()
	versions, err := r.index().AllVersions(ctx)
	if err != nil {
		return u, err
	}
	// Within an artifact each tree and file counts once; versions share
	// most trees, so each is read once for all of them. AllVersions comes
	// sorted by name, so one artifact's set is summed and dropped before
	// the next one's is marked.
	m := &marker{r: r, op: "du", src: walk.Cached(walk.Store(r.store)), chunked: chunked,
		lists: map[objects.ID]*objects.ChunkList{}}
	all := objects.NewDenseIDSet(idx)
	var set *markSet
	byName := map[string]int{}
	sum := func() {
		if set == nil {
			return
		}
		a := &u.Artifacts[len(u.Artifacts)-1]
		for i := range set.dense.Indexes() {
			a.Stored += l.sizes[i]
		}
		all.Union(set.dense)
		set = nil
	}
	for _, v := range versions {
		i, ok := byName[v.Name]
		if !ok {
			sum()
			set = newDenseMarkSet(idx)
			i = len(u.Artifacts)
			byName[v.Name] = i
			u.Artifacts = append(u.Artifacts, ArtifactUsage{Name: v.Name})
		} else if i != len(u.Artifacts)-1 {
			return u, fmt.Errorf("du: the versions of %s are not listed together", v.Name)
		}
		a := &u.Artifacts[i]
		a.Versions++
		a.Logical += v.Size
		u.Logical += v.Size
		set.Add(v.Commit)
		if err := m.mark(ctx, v.Tree, set); err != nil {
			return u, err
		}
	}
	sum()
	for i := range all.Indexes() {
		u.Stored += l.sizes[i]
	}
	all = nil
	live := newDenseMarkSet(idx)
	if err := r.markInto(ctx, chunked, live); err != nil {
		return u, err
	}
	for i, n := range l.sizes {
		if !live.dense.HasIndex(i) {
			u.Garbage += n
		}
	}
	sort.Slice(u.Artifacts, func(i, j int) bool { return u.Artifacts[i].Name < u.Artifacts[j].Name })
	return u, nil
}

// listing is a store's objects: the prefix of each ID and its stored
// size, side by side (sort.Interface sorts both by prefix).
type listing struct {
	keys  []objects.IDPrefix
	sizes []int64
}

func (l *listing) Len() int { return len(l.keys) }
func (l *listing) Less(i, j int) bool {
	return bytes.Compare(l.keys[i][:], l.keys[j][:]) < 0
}
func (l *listing) Swap(i, j int) {
	l.keys[i], l.keys[j] = l.keys[j], l.keys[i]
	l.sizes[i], l.sizes[j] = l.sizes[j], l.sizes[i]
}

// index sorts l, adds up the sizes of a prefix listed more than once (an
// object both loose and packed), and returns the index of its prefixes:
// prefix number i has size l.sizes[i].
func (l *listing) index() *objects.PrefixIndex { return l.merge(true) }

// merge sorts l and makes each prefix listed once: a prefix listed more
// than once (an object both loose and packed) gets the sum of its sizes
// with sum, else the first. It returns the index of the prefixes: number
// i has size l.sizes[i].
func (l *listing) merge(sum bool) *objects.PrefixIndex {
	sort.Sort(l)
	n := 0
	for i := range l.keys {
		if n > 0 && l.keys[n-1] == l.keys[i] {
			if sum {
				l.sizes[n-1] += l.sizes[i]
			}
			continue
		}
		l.keys[n], l.sizes[n] = l.keys[i], l.sizes[i]
		n++
	}
	l.keys, l.sizes = l.keys[:n], l.sizes[:n]
	return objects.NewPrefixIndex(l.keys)
}

// sizeIndex is a merged listing: the size of an object by its ID prefix,
// 24 bytes an object.
type sizeIndex struct {
	x     *objects.PrefixIndex
	sizes []int64
}

// size returns the size listed for id, and whether it is listed.
func (s sizeIndex) size(id objects.ID) (int64, bool) {
	i, ok := s.x.Find(id.Prefix())
	if !ok {
		return 0, false
	}
	return s.sizes[i], true
}
