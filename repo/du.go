package repo

import (
	"context"
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
	stored := map[objects.ID]int64{}
	chunked := map[objects.ID]bool{}
	if err := r.store.List(ctx, func(i objects.Info) error {
		stored[i.ID] += i.Stored
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
	// most trees, so each is read once for all of them.
	m := &marker{r: r, op: "du", src: walk.Cached(walk.Store(r.store)), chunked: chunked,
		lists: map[objects.ID]*objects.ChunkList{}}
	all := map[objects.ID]bool{}
	byName := map[string]map[objects.ID]bool{}
	idx := map[string]int{}
	for _, v := range versions {
		set := byName[v.Name]
		if set == nil {
			set = map[objects.ID]bool{}
			byName[v.Name] = set
			idx[v.Name] = len(u.Artifacts)
			u.Artifacts = append(u.Artifacts, ArtifactUsage{Name: v.Name})
		}
		a := &u.Artifacts[idx[v.Name]]
		a.Versions++
		a.Logical += v.Size
		u.Logical += v.Size
		set[v.Commit] = true
		if err := m.mark(ctx, v.Tree, set); err != nil {
			return u, err
		}
	}
	for i := range u.Artifacts {
		a := &u.Artifacts[i]
		for id := range byName[a.Name] {
			a.Stored += stored[id]
			all[id] = true
		}
	}
	for id := range all {
		u.Stored += stored[id]
	}
	live, err := r.mark(ctx, chunked)
	if err != nil {
		return u, err
	}
	for id, n := range stored {
		if !live[id] {
			u.Garbage += n
		}
	}
	sort.Slice(u.Artifacts, func(i, j int) bool { return u.Artifacts[i].Name < u.Artifacts[j].Name })
	return u, nil
}
