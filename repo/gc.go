package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
)

// DefaultGrace is how long GC keeps unreferenced objects by default, so
// that objects written by a commit still in progress survive.
const DefaultGrace = time.Hour

// clockSlack is how far behind the real time a file system's timestamps
// may run (the kernel's tick: a few milliseconds; 3.6 ms measured here);
// GC keeps objects younger than the grace period plus this.
const clockSlack = 50 * time.Millisecond

// GCOptions tune GC. A nil *GCOptions is the zero value.
type GCOptions struct {
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// Grace keeps unreferenced objects younger than this (0 means
	// DefaultGrace; use a negative value for none).
	Grace time.Duration
	// MaxCache, when positive, then shrinks the store under this many
	// bytes by evicting file contents a configured remote holds, least
	// recently used first (see GCReport.Evicted): a checkout fetches them
	// again. What no remote holds is never evicted.
	MaxCache int64
}

// GCReport says what GC found and did.
type GCReport struct {
	Live    int   // objects reachable from a version or a run
	Garbage int   // unreachable objects older than the grace period
	Deleted int   // of those, deleted (0 on a dry run)
	Young   int   // unreachable objects kept because they are young
	Bytes   int64 // bytes of Garbage (chunk lists count their own size; chunks are objects)
	// Expired lists the versions retention policies let go ("ds:v3"):
	// deleted before the mark (listed only, on a dry run, whose other
	// counts still hold them live).
	Expired []string
	// Evicted and EvictedBytes: the file contents MaxCache evicted (would
	// evict, on a dry run), and their bytes.
	Evicted      int
	EvictedBytes int64
}

// GC deletes objects that no version or run uses. It marks everything
// reachable from every version (its commit, trees and blobs; aliases point
// at versions, so they are covered) and from every run (a finished run's
// object, and the commits of the versions any run used or logged, kept
// after those versions are deleted so lineage can still name them; a
// deleted version's trees and blobs are not kept), then deletes unmarked
// objects whose modification time is older than the grace period. Writers
// refresh the modification time of objects they reuse, so an object
// written or reused by a commit in flight is kept. GC refuses to run if a
// tree or run object it must read is missing or corrupt, since it could
// not know what lies below it.
func (r *Repo) GC(ctx context.Context, opts *GCOptions) (rep GCReport, retErr error) {
	if opts == nil {
		opts = &GCOptions{}
	}
	grace := opts.Grace
	switch {
	case grace == 0:
		grace = DefaultGrace
	case grace < 0:
		grace = 0
	}
	// Anything written or refreshed after this moment is kept, whatever
	// the grace period.
	// File systems stamp files from a coarse clock (the kernel's tick),
	// which can run behind r.now(): an object a
	// commit writes just after this moment could carry an earlier time.
	// So the cutoff is set back by clockSlack, even with no grace period.
	cutoff := r.now().Add(-grace - clockSlack)
	// Bracket the sweep with two bumps of the gc generation (and drop the
	// stat cache before the first): a commit whose files were stored while
	// any part of this GC ran sees the generation change when it records
	// its version, and stores its files again (see Log). Objects written or
	// refreshed after this GC started are younger than its cutoff.
	if !opts.DryRun {
		// The gc lock, held to the end: a commit that GCs have raced
		// waits for it rather than be raced again (see Log).
		unlock, err := r.lockGC(true)
		if err != nil {
			return rep, fmt.Errorf("gc: %w", err)
		}
		defer unlock()
	}
	// Retention first: the versions it lets go are garbage for this mark.
	expired, err := r.expire(ctx, r.now(), opts.DryRun)
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	rep.Expired = expired
	if !opts.DryRun {
		r.clearStatCache()
		if err := r.bumpGCGeneration(ctx); err != nil {
			return rep, err
		}
		defer func() {
			if err := r.bumpGCGeneration(context.WithoutCancel(ctx)); err != nil && retErr == nil {
				retErr = err
			}
		}()
	}
	// List before marking, to learn which blobs are chunked: an entry
	// written after the listing is younger than the cutoff anyway, and so
	// is every chunk a writer reused (it refreshes them). Only the chunked
	// blobs are kept; the store is listed again after the mark for the
	// candidates, so that memory does not hold every object twice.
	chunked := map[objects.ID]bool{}
	if err := r.store.List(ctx, func(i objects.Info) error {
		if i.Chunked {
			chunked[i.ID] = true
		}
		return nil
	}); err != nil {
		return rep, err
	}
	live, err := r.mark(ctx, chunked)
	if err != nil {
		return rep, err
	}
	rep.Live = live.Len()
	// The second listing: what is not live and older than the cutoff is a
	// candidate (an object written since the first listing is younger),
	// and a young chunk list that is not live keeps its chunks (below).
	var candidates []objects.Info
	keptLists := map[objects.ID]bool{}
	if err := r.store.List(ctx, func(i objects.Info) error {
		if live.Has(i.ID) {
			return nil
		}
		if !i.ModTime.Before(cutoff) {
			rep.Young++
			if i.Chunked {
				keptLists[i.ID] = true
			}
			return nil
		}
		candidates = append(candidates, i)
		return nil
	}); err != nil {
		return rep, err
	}
	var packedGone []objects.Info
	// collect deletes the candidate c, unless a writer has reused it since
	// it was listed, and reports whether it is gone (or would be, on a
	// dry run).
	collect := func(c objects.Info) (bool, error) {
		rep.Garbage++
		rep.Bytes += c.Stored
		if opts.DryRun {
			return true, nil
		}
		// Re-check just before deleting: a writer may have reused the
		// object since it was listed.
		info, err := r.store.Stat(ctx, c.ID)
		if err != nil || !info.ModTime.Before(cutoff) {
			rep.Garbage--
			rep.Bytes -= c.Stored
			rep.Young++
			return false, nil
		}
		if info.Packed {
			// Packs are rewritten once each, at the end.
			packedGone = append(packedGone, c)
			return true, nil
		}
		if err := r.store.Delete(ctx, c.ID); err != nil && !errors.Is(err, objects.ErrNotFound) {
			return false, err
		}
		rep.Deleted++
		return true, nil
	}
	// Chunk lists go first, and for good, before any chunk: a list that
	// stays (young, reused meanwhile, or not deletable) keeps its chunks,
	// and a deleted list's removal is made durable before its chunks are
	// removed. So neither an error nor a crash part way leaves a list
	// naming missing chunks, which readers would take for a stored blob.
	listDirs := map[string]bool{}
	var rest []objects.Info
	for _, c := range candidates {
		if !c.Chunked {
			rest = append(rest, c)
			continue
		}
		gone, err := collect(c)
		if err != nil {
			return rep, err
		}
		if gone {
			listDirs[filepath.Dir(r.store.ListPath(c.ID))] = true
		} else {
			keptLists[c.ID] = true
		}
	}
	for id := range keptLists {
		l, err := r.store.ReadChunkList(ctx, id)
		if errors.Is(err, objects.ErrNotFound) {
			continue
		}
		if err != nil {
			return rep, &UnreadableError{Op: "gc", Kind: "chunk list", ID: id, Err: err}
		}
		for _, c := range l.Chunks {
			live.Add(c.ID)
		}
	}
	if !opts.DryRun {
		for d := range listDirs {
			if err := objects.SyncDir(r.fs, d); err != nil {
				return rep, fmt.Errorf("gc: %w", err)
			}
		}
	}
	for _, c := range rest {
		if live.Has(c.ID) {
			continue // a chunk of a list that stays
		}
		if _, err := collect(c); err != nil {
			return rep, err
		}
	}
	if len(packedGone) > 0 {
		ids := make([]objects.ID, len(packedGone))
		for i, c := range packedGone {
			ids[i] = c.ID
		}
		n, err := r.store.DeletePacked(ctx, ids, cutoff)
		rep.Deleted += n
		// A pack reused since its objects were listed keeps them.
		rep.Young += len(ids) - n
		rep.Garbage -= len(ids) - n
		if err != nil {
			return rep, fmt.Errorf("gc: %w", err)
		}
	}
	if !opts.DryRun {
		if _, err := r.store.RemoveStaleTemps(cutoff); err != nil {
			return rep, err
		}
	}
	if opts.MaxCache > 0 {
		n, b, err := r.evict(ctx, opts.MaxCache, opts.DryRun)
		rep.Evicted, rep.EvictedBytes = n, b
		if err != nil {
			return rep, fmt.Errorf("gc --max-cache: %w", err)
		}
	}
	return rep, nil
}

func (r *Repo) bumpGCGeneration(ctx context.Context) error {
	err := r.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE settings SET value = value + 1 WHERE key = 'gc_generation'`)
		return err
	})
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	return nil
}

// markSet is what a mark reached: every object in an objects.IDSet (by
// ID prefix, in half the memory) or an objects.DenseIDSet (a bit per
// object of the store's listing), and the objects with something below
// them (trees, chunked blobs: few) by full ID as well, since a walk skips
// what is below an object it has seen: a prefix shared by chance must
// never skip a live tree. A false member of the prefix set only keeps an
// object (gc) or counts it once (du).
type markSet struct {
	ids interface {
		Add(objects.ID) bool
		Has(objects.ID) bool
		Len() int
	}
	dense *objects.DenseIDSet // ids, for a set made by newDenseMarkSet
	inner map[objects.ID]bool
}

func newMarkSet() *markSet {
	return &markSet{ids: &objects.IDSet{}, inner: map[objects.ID]bool{}}
}

// newDenseMarkSet returns a markSet over x, the prefixes of the store's
// objects.
func newDenseMarkSet(x *objects.PrefixIndex) *markSet {
	d := objects.NewDenseIDSet(x)
	return &markSet{ids: d, dense: d, inner: map[objects.ID]bool{}}
}

// Add adds id and reports whether it is new.
func (s *markSet) Add(id objects.ID) bool { return s.ids.Add(id) }

// Has reports whether id (or an ID sharing its prefix) was added.
func (s *markSet) Has(id objects.ID) bool { return s.ids.Has(id) }

// Len returns how many objects were added.
func (s *markSet) Len() int { return s.ids.Len() }

// addInner adds the tree or chunked blob id and reports whether it is new.
func (s *markSet) addInner(id objects.ID) bool {
	s.Add(id)
	if s.inner[id] {
		return false
	}
	s.inner[id] = true
	return true
}

// marker adds what a tree reaches to a set: gc's mark and du's per-artifact
// sets.
type marker struct {
	r       *Repo
	op      string      // the caller, for errors: "gc", "du"
	src     walk.Source // where trees come from
	chunked map[objects.ID]bool
	lists   map[objects.ID]*objects.ChunkList // chunk lists read so far; nil: none kept
}

// mark adds to set every tree, file and chunk the tree root reaches, each
// once: a tree or file set holds already is skipped with what is below it
// (a tree is in set before it is read, but a tree that cannot be read stops
// the walk). The files in m.chunked are expanded into their chunks; a
// chunk list that is not stored is a file stored whole.
func (m *marker) mark(ctx context.Context, root objects.ID, set *markSet) error {
	w := walk.Walker{
		Source: m.src,
		Chunks: m.chunks,
		Enter: func(_ context.Context, d walk.Dir) error {
			if !set.addInner(d.ID) {
				return walk.SkipDir
			}
			return nil
		},
		Entry: func(_ context.Context, e walk.Entry) error {
			if e.Kind != objects.KindFile {
				return nil
			}
			if !m.chunked[e.ID] {
				set.Add(e.ID) // a leaf: nothing below it to skip
				return nil
			}
			if !set.addInner(e.ID) {
				return walk.SkipDir // its chunks are in set already
			}
			return nil
		},
		Chunk: func(_ context.Context, _ walk.Entry, c objects.Chunk) error {
			set.Add(c.ID)
			return nil
		},
		TreeError: func(_ context.Context, d walk.Dir, err error) error {
			return &UnreadableError{Op: m.op, Kind: "tree", ID: d.ID, Err: err}
		},
	}
	return w.Walk(ctx, root, "")
}

func (m *marker) chunks(ctx context.Context, id objects.ID) (*objects.ChunkList, error) {
	if !m.chunked[id] {
		return nil, nil
	}
	if l := m.lists[id]; l != nil {
		return l, nil
	}
	l, err := m.r.store.ReadChunkList(ctx, id)
	if errors.Is(err, objects.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, &UnreadableError{Op: m.op, Kind: "chunk list", ID: id, Err: err}
	}
	if m.lists != nil {
		m.lists[id] = l
	}
	return l, nil
}

// mark returns the IDs of every object reachable from a version or a run.
// The blobs in chunked are stored as chunk lists: their chunks are marked
// too.
func (r *Repo) mark(ctx context.Context, chunked map[objects.ID]bool) (*markSet, error) {
	live := newMarkSet()
	return live, r.markInto(ctx, chunked, live)
}

// markInto is mark, adding to live.
func (r *Repo) markInto(ctx context.Context, chunked map[objects.ID]bool, live *markSet) error {
	versions, err := r.index().AllVersions(ctx)
	if err != nil {
		return err
	}
	m := &marker{r: r, op: "gc", src: walk.Store(r.store), chunked: chunked}
	for _, v := range versions {
		live.Add(v.Commit)
		if err := m.mark(ctx, v.Tree, live); err != nil {
			return err
		}
	}
	// Runs are roots too: the run objects the runs table names, and the
	// commits they list. The edge tables name the same commits, and those
	// of running runs, which have no object yet.
	x := r.lineage()
	runs, err := x.ObjectIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range runs {
		o, err := objects.ReadRun(ctx, r.store, id)
		if err != nil {
			return &UnreadableError{Op: "gc", Kind: "run object", ID: id, Err: err}
		}
		live.Add(id)
		for _, c := range append(o.Inputs, o.Outputs...) {
			live.Add(c)
		}
	}
	commits, err := x.CommitIDs(ctx)
	if err != nil {
		return err
	}
	for _, c := range commits {
		live.Add(c)
	}
	return nil
}
