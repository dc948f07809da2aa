package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
)

// ErrDamaged is returned by Fsck when objects are missing or corrupt.
var ErrDamaged = errors.New("repository is damaged")

// Affected names a version, and the path in it, that uses a damaged object.
// Path is "" when the object is the version's commit.
type Affected struct {
	Version string
	Path    string
}

// FsckProblem is a missing or corrupt object and what it affects.
type FsckProblem struct {
	ID      objects.ID
	Kind    string // "corrupt" or "missing"
	Detail  string
	Affects []Affected
}

// affect records that a is damaged by p. The walk that calls it is
// sequential; only the hashing phase before it runs in parallel.
func (p *FsckProblem) affect(a Affected) { p.Affects = append(p.Affects, a) }

// FsckReport is the outcome of Fsck.
type FsckReport struct {
	Objects  int   // objects checked
	Bytes    int64 // bytes hashed
	Versions int   // versions walked
	// NotFetched counts files of versions that came from a remote by
	// `art fetch` and are not here yet: not damage, a checkout fetches them.
	NotFetched int
	Problems   []FsckProblem
}

// FsckOptions tune Fsck. A nil *FsckOptions is the zero value.
type FsckOptions struct {
	// Progress, if set, is called as object bytes are hashed.
	Progress ProgressFunc
}

// Fsck checks the whole repository: every stored object is re-hashed,
// every version's commit, trees and files must be present, intact and of
// the recorded size, and so must every finished run's object. Each problem
// names the object and the versions and paths (or the run object) it
// affects. The error wraps ErrDamaged when there are problems.
// Unreferenced objects (garbage for GC) are checked too but are not
// problems unless corrupt.
func (r *Repo) Fsck(ctx context.Context, opts *FsckOptions) (FsckReport, error) {
	if opts == nil {
		opts = &FsckOptions{}
	}
	var rep FsckReport
	// Only the chunked blobs are kept whole from the listing; every
	// object's size is kept by ID prefix in a sorted listing (sizeIndex,
	// 24 bytes an object), and the store is listed again to hash them.
	var lists []objects.Info
	var total int64
	l := &listing{}
	if err := r.store.List(ctx, func(i objects.Info) error {
		l.keys = append(l.keys, i.ID.Prefix())
		l.sizes = append(l.sizes, i.Size)
		if i.Chunked {
			lists = append(lists, i)
			return nil
		}
		rep.Objects++
		total += i.Size
		return nil
	}); err != nil {
		return rep, err
	}
	sizes := sizeIndex{l.merge(false), l.sizes}
	l = nil
	problems := map[objects.ID]*FsckProblem{}
	var mu sync.Mutex
	addProblem := func(id objects.ID, kind, detail string) *FsckProblem {
		mu.Lock()
		defer mu.Unlock()
		p := problems[id]
		if p == nil {
			p = &FsckProblem{ID: id, Kind: kind, Detail: detail, Affects: []Affected{}}
			problems[id] = p
		}
		return p
	}
	// A damaged pack index hides its pack's objects: the versions using
	// them are reported below as missing those objects.
	badPacks, err := r.store.BadPacks()
	if err != nil {
		return rep, err
	}
	for name, perr := range badPacks {
		id, _ := objects.ParseID(name)
		addProblem(id, "corrupt", fmt.Sprintf("pack index %s.idx: %v", name, perr))
	}
	var done atomic.Int64
	progress := func(n int64) {
		if opts.Progress != nil {
			opts.Progress(done.Add(n), total)
		}
	}

	// Chunked blobs first: each chunk is hashed on its own and into the
	// whole blob's hash in one read; the chunks checked here are not read
	// again below.
	chunkLists := map[objects.ID]*objects.ChunkList{}
	var checked sync.Map // chunk ID → true once hashed
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, info := range lists {
		g.Go(func() error {
			l, err := r.store.ReadChunkList(gctx, info.ID)
			if err != nil {
				var ce *objects.CorruptError
				if errors.As(err, &ce) {
					addProblem(info.ID, "corrupt", ce.Reason)
					return nil
				}
				if errors.Is(err, objects.ErrNotFound) {
					return nil // deleted since it was listed
				}
				return err
			}
			mu.Lock()
			chunkLists[info.ID] = l
			mu.Unlock()
			return r.fsckChunks(gctx, l, sizes, &checked, addProblem, progress)
		})
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}

	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	listErr := r.store.List(gctx, func(info objects.Info) error {
		if info.Chunked {
			return nil
		}
		if _, ok := checked.Load(info.ID); ok {
			return nil
		}
		g.Go(func() error {
			rc, err := r.store.Open(gctx, info.ID)
			if err != nil {
				addProblem(info.ID, "missing", err.Error())
				return nil
			}
			defer rc.Close()
			_, err = hashThrough(rc, nil, progress)
			var ce *objects.CorruptError
			if errors.As(err, &ce) {
				addProblem(info.ID, "corrupt", ce.Reason)
				return nil
			}
			return err
		})
		return nil
	})
	if err := g.Wait(); err != nil {
		return rep, err
	}
	if listErr != nil {
		return rep, listErr
	}
	rep.Objects, rep.Bytes = rep.Objects+len(lists), total

	// Walk every version and charge each damaged object to what uses it.
	versions, err := r.index().AllVersions(ctx)
	if err != nil {
		return rep, err
	}
	rep.Versions = len(versions)
	check := func(id objects.ID, wantSize int64) *FsckProblem {
		if p := problems[id]; p != nil {
			return p
		}
		size, ok := sizes.size(id)
		if !ok {
			return addProblem(id, "missing", "not in the object store")
		}
		if wantSize >= 0 && size != wantSize {
			return addProblem(id, "corrupt", fmt.Sprintf("%d bytes, the tree says %d", size, wantSize))
		}
		return nil
	}
	// One walker for every version: each tree is read once, whichever
	// version reaches it first, and charged to every path that uses it.
	var ref string // the version walked
	lazy := false  // walking a version whose files may be on its remote only
	w := walk.Walker{
		Source:   walk.Cached(walk.Store(r.store)),
		MaxFiles: MaxVersionFiles,
		Enter: func(_ context.Context, d walk.Dir) error {
			if p := check(d.ID, -1); p != nil {
				p.affect(Affected{Version: ref, Path: d.Path + "/"})
				return walk.SkipDir
			}
			return nil
		},
		Entry: func(_ context.Context, e walk.Entry) error {
			if e.Kind != objects.KindFile {
				return nil
			}
			if _, here := sizes.size(e.ID); !here && lazy && problems[e.ID] == nil {
				rep.NotFetched++
				return nil
			}
			if prob := check(e.ID, e.Size); prob != nil {
				prob.affect(Affected{Version: ref, Path: e.Path})
			}
			// A damaged or missing chunk damages every file made of it.
			if l := chunkLists[e.ID]; l != nil {
				seen := map[objects.ID]bool{}
				for _, c := range l.Chunks {
					if seen[c.ID] {
						continue
					}
					seen[c.ID] = true
					prob := problems[c.ID]
					if _, here := sizes.size(c.ID); prob == nil && !here {
						prob = addProblem(c.ID, "missing", "chunk of blob "+l.Blob.String()+" is not in the object store")
					}
					if prob != nil {
						prob.affect(Affected{Version: ref, Path: e.Path})
					}
				}
			}
			return nil
		},
		// A tree that is damaged or nests too deep is a problem of the
		// paths below it; the walk goes on beside it.
		TreeError: func(_ context.Context, d walk.Dir, err error) error {
			var ce *objects.CorruptError
			switch {
			case errors.As(err, &ce):
				addProblem(d.ID, "corrupt", ce.Reason).affect(Affected{Version: ref, Path: d.Path + "/"})
			case errors.Is(err, walk.ErrTooDeep):
				addProblem(d.ID, "corrupt", "trees nest too deep")
			default:
				return err
			}
			return nil
		},
	}
	for _, v := range versions {
		ref = v.Ref()
		if p := check(v.Commit, -1); p != nil {
			p.affect(Affected{Version: ref})
			continue
		}
		c, err := objects.ReadCommit(ctx, r.store, v.Commit)
		if err != nil {
			var ce *objects.CorruptError
			if errors.As(err, &ce) {
				addProblem(v.Commit, "corrupt", ce.Reason).affect(Affected{Version: ref})
				continue
			}
			return rep, err
		}
		if c.Tree != v.Tree || c.Name != v.Name || c.Version != v.Version {
			addProblem(v.Commit, "corrupt", "commit does not match the index").affect(Affected{Version: ref})
			continue
		}
		lazy = v.Remote != ""
		// The walker counts each tree once before walking its paths: a tree
		// bomb is refused without expanding it.
		if err := w.Walk(ctx, c.Tree, ""); errors.Is(err, walk.ErrTooMany) {
			addProblem(c.Tree, "corrupt", fmt.Sprintf("its trees expand to more than %d entries", MaxVersionFiles)).affect(Affected{Version: ref})
		} else if err != nil {
			return rep, err
		}
	}
	// Run objects: each one the index names must be there and intact
	// (GC reads them to know which commits to keep).
	runObjs, err := r.lineage().ObjectIDs(ctx)
	if err != nil {
		return rep, err
	}
	for _, id := range runObjs {
		what := Affected{Version: "run object " + id.Short()}
		if p := check(id, -1); p != nil {
			p.affect(what)
			continue
		}
		if _, err := objects.ReadRun(ctx, r.store, id); err != nil {
			var ce *objects.CorruptError
			if !errors.As(err, &ce) {
				return rep, err
			}
			addProblem(id, "corrupt", ce.Reason).affect(what)
		}
	}
	for _, p := range problems {
		rep.Problems = append(rep.Problems, *p)
	}
	sort.Slice(rep.Problems, func(i, j int) bool {
		return rep.Problems[i].ID.String() < rep.Problems[j].ID.String()
	})
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%w: %d damaged object(s)", ErrDamaged, len(rep.Problems))
	}
	return rep, nil
}

// hashThrough reads r to the end (through a pooled buffer), passing the
// bytes to sink if set and their count to progress, and returns how many
// bytes it read and the first error other than io.EOF.
func hashThrough(r io.Reader, sink io.Writer, progress func(int64)) (int64, error) {
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	buf := *bufp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if sink != nil {
				sink.Write(buf[:n])
			}
			if progress != nil {
				progress(int64(n))
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// fsckChunks checks the chunks of l, each against its ID and size, and the
// whole against the blob's ID, reading each chunk once. Problems are
// charged to the chunk (the walk then charges them to every file made of
// it), or to the blob when every chunk is sound but they do not join into
// it.
func (r *Repo) fsckChunks(ctx context.Context, l *objects.ChunkList, sizes sizeIndex,
	checked *sync.Map, addProblem func(objects.ID, string, string) *FsckProblem, progress func(int64)) error {
	whole := objects.NewHasher()
	sound := true
	for _, c := range l.Chunks {
		if err := ctx.Err(); err != nil {
			return err
		}
		size, ok := sizes.size(c.ID)
		if !ok {
			// Damage only if a version uses the blob: the walk charges it
			// (a list no version uses is garbage a crash may have left).
			sound = false
			continue
		}
		if size != c.Size {
			addProblem(c.ID, "corrupt", fmt.Sprintf("chunk has %d bytes, the chunk list of blob %s says %d", size, l.Blob, c.Size))
			checked.Store(c.ID, true)
			sound = false
			continue
		}
		rc, err := r.store.Open(ctx, c.ID)
		if err != nil {
			addProblem(c.ID, "missing", err.Error())
			sound = false
			continue
		}
		var count func(int64)
		if _, again := checked.LoadOrStore(c.ID, true); !again {
			count = progress // first time these bytes are verified
		}
		_, err = hashThrough(rc, whole, count)
		rc.Close()
		var ce *objects.CorruptError
		if errors.As(err, &ce) {
			addProblem(c.ID, "corrupt", ce.Reason)
			sound = false
			continue
		}
		if err != nil {
			return err
		}
	}
	if sound {
		if got := whole.Sum(); got != l.Blob {
			addProblem(l.Blob, "corrupt", "its chunks join into content that hashes to "+got.String())
		}
	}
	return nil
}
