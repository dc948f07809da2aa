package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
	"github.com/artvcs/art/refs"
)

// evict shrinks the store under max bytes by deleting file contents and
// chunks that a configured remote holds, least recently used first (by
// the time their file was last read, else written). Only the contents of
// versions that a remote's ref document lists now, and that the remote's
// packs hold now, can go, and none that a version no remote lists also
// uses: what no remote holds is never evicted. Trees, commits, chunk
// lists and run objects stay. A version that lost contents is marked as
// coming from that remote, so a checkout fetches them again. It returns
// how many objects it deleted and their bytes.
func (r *Repo) evict(ctx context.Context, max int64, dryRun bool) (int, int64, error) {
	var total int64
	if err := r.store.List(ctx, func(i objects.Info) error {
		total += i.Stored
		return nil
	}); err != nil {
		return 0, 0, err
	}
	if total <= max {
		return 0, 0, nil
	}
	remotes, err := r.Remotes(ctx)
	if err != nil {
		return 0, 0, err
	}
	type held struct {
		remote string
		x      *objects.PackIndex
	}
	idx := r.index()
	arts, err := idx.Artifacts(ctx)
	if err != nil {
		return 0, 0, err
	}
	// Which remote holds each version now: its document lists it.
	byCommit := map[objects.ID]held{}
	for _, rc := range remotes {
		t, err := r.transport(ctx, rc.Name)
		if err != nil {
			return 0, 0, err
		}
		x, err := r.loadRemoteIndex(ctx, t, rc.Name)
		if err != nil {
			return 0, 0, fmt.Errorf("%w (to learn what remote %s holds; nothing was evicted)", err, rc.Name)
		}
		for _, a := range arts {
			doc, _, err := getRemoteDoc(ctx, t, a.Name)
			if err != nil {
				return 0, 0, fmt.Errorf("remote %s: %w (nothing was evicted)", rc.Name, err)
			}
			if doc == nil {
				continue
			}
			for _, v := range doc.Versions {
				if _, ok := byCommit[v.Commit]; !ok {
					byCommit[v.Commit] = held{rc.Name, x}
				}
			}
		}
	}
	var heldVs, pinnedVs []refs.Version
	for _, a := range arts {
		vs, err := idx.Versions(ctx, a.Name)
		if err != nil {
			return 0, 0, err
		}
		for _, v := range vs {
			if _, ok := byCommit[v.Commit]; ok {
				heldVs = append(heldVs, v)
			} else {
				pinnedVs = append(pinnedVs, v)
			}
		}
	}
	contents := func(v refs.Version, fn func(id objects.ID)) error {
		w := walk.Walker{
			Source: walk.Store(r.store),
			Chunks: func(ctx context.Context, id objects.ID) (*objects.ChunkList, error) {
				l, err := r.store.ReadChunkList(ctx, id)
				if errors.Is(err, objects.ErrNotFound) {
					return nil, nil
				}
				return l, err
			},
			Entry: func(_ context.Context, e walk.Entry) error {
				if e.Kind == objects.KindFile {
					fn(e.ID)
				}
				return nil
			},
			Chunk: func(_ context.Context, _ walk.Entry, c objects.Chunk) error {
				fn(c.ID)
				return nil
			},
		}
		return w.Walk(ctx, v.Tree, "")
	}
	pinned := &objects.IDSet{}
	for _, v := range pinnedVs {
		if err := contents(v, func(id objects.ID) { pinned.Add(id) }); err != nil {
			return 0, 0, fmt.Errorf("evict: %s: %w", v.Ref(), err)
		}
	}
	type cand struct {
		id   objects.ID
		used time.Time
		size int64
		pack bool
	}
	var cands []cand
	seen := &objects.IDSet{}
	var affected []refs.Version
	for _, v := range heldVs {
		h := byCommit[v.Commit]
		some := false
		err := contents(v, func(id objects.ID) {
			if pinned.Has(id) || !h.x.Has(objects.PackObjectKey(id)) {
				return
			}
			some = true
			if !seen.Add(id) {
				return
			}
			info, err := r.store.Stat(ctx, id)
			if err != nil || info.Chunked {
				return // not here (already evicted), or a chunk list: its chunks are the candidates
			}
			file, _, _, err := r.store.Locate(id)
			if err != nil {
				return
			}
			cands = append(cands, cand{id: id, used: lastUsed(r.fs.Stat, file, info.ModTime), size: info.Stored, pack: info.Packed})
		})
		if err != nil {
			return 0, 0, fmt.Errorf("evict: %s: %w", v.Ref(), err)
		}
		if some {
			affected = append(affected, v)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].used.Before(cands[j].used) })
	var n int
	var freed int64
	var packed []objects.ID
	for _, c := range cands {
		if total-freed <= max {
			break
		}
		if !dryRun {
			if c.pack {
				packed = append(packed, c.id)
			} else if err := r.store.Delete(ctx, c.id); err != nil && !errors.Is(err, objects.ErrNotFound) {
				return n, freed, fmt.Errorf("evict: %w", err)
			}
		}
		n++
		freed += c.size
	}
	if dryRun || n == 0 {
		return n, freed, nil
	}
	// The versions first: should eviction stop part way, they already
	// fetch what they miss.
	err = r.writeTx(ctx, func(tx *sql.Tx) error {
		x := refs.NewIndex(tx)
		for _, v := range affected {
			if v.Remote == "" {
				if err := x.SetRemote(ctx, v.Name, v.Version, byCommit[v.Commit].remote); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if len(packed) > 0 {
		if _, err := r.store.DeletePacked(ctx, packed, time.Time{}); err != nil {
			return n, freed, fmt.Errorf("evict: %w", err)
		}
	}
	return n, freed, nil
}

// lastUsed is when the file was last read (its access time, where the
// file system keeps one), else written.
func lastUsed(stat func(string) (fs.FileInfo, error), file string, written time.Time) time.Time {
	fi, err := stat(file)
	if err != nil {
		return written
	}
	t := fi.ModTime()
	if a, ok := accessTime(fi); ok && a.After(t) {
		t = a
	}
	return t
}
