package repo

import (
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
	// Keyed by ID prefix, as the mark's sets are (objects.IDSet), in half
	// the memory of full IDs.
	stored := map[objects.IDPrefix]int64{}
	chunked := map[objects.ID]bool{}
	if err := r.store.List(ctx, func(i objects.Info) error {
		stored[i.ID.Prefix()] += i.Stored
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
	all := &objects.IDSet{}
	var set *markSet
	idx := map[string]int{}
	sum := func() {
		if set == nil {
			return
		}
		a := &u.Artifacts[len(u.Artifacts)-1]
		for k := range set.All() {
			a.Stored += stored[k]
		}
		if all.Len() == 0 {
			all = &set.IDSet // the first artifact's: no copy
		} else {
			for k := range set.All() {
				all.AddPrefix(k)
			}
		}
		set = nil
	}
	for _, v := range versions {
		i, ok := idx[v.Name]
		if !ok {
			sum()
			set = newMarkSet()
			i = len(u.Artifacts)
			idx[v.Name] = i
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
	for k := range all.All() {
		u.Stored += stored[k]
	}
	all = nil
	live, err := r.mark(ctx, chunked)
	if err != nil {
		return u, err
	}
	for k, n := range stored {
		if !live.HasPrefix(k) {
			u.Garbage += n
		}
	}
	sort.Slice(u.Artifacts, func(i, j int) bool { return u.Artifacts[i].Name < u.Artifacts[j].Name })
	return u, nil
}
