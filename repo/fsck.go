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
)

// ErrDamaged is returned by Fsck when objects are missing or corrupt.
var ErrDamaged = errors.New("repository is damaged")

// Affected names a version, and the path in it, that uses a damaged object.
// Path is "" when the object is the version's commit.
type Affected struct {
	Version string `json:"version"`
	Path    string `json:"path"`
}

// FsckProblem is a missing or corrupt object and what it affects.
type FsckProblem struct {
	ID      objects.ID `json:"id"`
	Kind    string     `json:"kind"` // "corrupt" or "missing"
	Detail  string     `json:"detail"`
	Affects []Affected `json:"affects"`
}

// affect records that a is damaged by p. The walk that calls it is
// sequential; only the hashing phase before it runs in parallel.
func (p *FsckProblem) affect(a Affected) { p.Affects = append(p.Affects, a) }

// FsckReport is the outcome of Fsck.
type FsckReport struct {
	Objects  int   // objects checked
	Bytes    int64 // bytes hashed
	Versions int   // versions walked
	Problems []FsckProblem
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
	var infos []objects.Info
	var total int64
	if err := r.store.List(ctx, func(i objects.Info) error {
		infos = append(infos, i)
		total += i.Size
		return nil
	}); err != nil {
		return rep, err
	}
	sizes := make(map[objects.ID]int64, len(infos))
	for _, i := range infos {
		sizes[i.ID] = i.Size
	}
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
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, info := range infos {
		g.Go(func() error {
			rc, err := r.store.Open(gctx, info.ID)
			if err != nil {
				addProblem(info.ID, "missing", err.Error())
				return nil
			}
			defer rc.Close()
			bufp := copyBufPool.Get().(*[]byte)
			defer copyBufPool.Put(bufp)
			buf := *bufp
			for {
				n, err := rc.Read(buf)
				if opts.Progress != nil {
					opts.Progress(done.Add(int64(n)), total)
				}
				if err == io.EOF {
					break
				}
				var ce *objects.CorruptError
				if errors.As(err, &ce) {
					addProblem(info.ID, "corrupt", ce.Reason)
					break
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	rep.Objects, rep.Bytes = len(infos), total

	// Walk every version and charge each damaged object to what uses it.
	versions, err := r.index().AllVersions(ctx)
	if err != nil {
		return rep, err
	}
	rep.Versions = len(versions)
	trees := map[objects.ID]*objects.Tree{}
	check := func(id objects.ID, wantSize int64) *FsckProblem {
		if p := problems[id]; p != nil {
			return p
		}
		size, ok := sizes[id]
		if !ok {
			return addProblem(id, "missing", "not in the object store")
		}
		if wantSize >= 0 && size != wantSize {
			return addProblem(id, "corrupt", fmt.Sprintf("%d bytes, the tree says %d", size, wantSize))
		}
		return nil
	}
	var walk func(ref string, id objects.ID, prefix string, depth int) error
	walk = func(ref string, id objects.ID, prefix string, depth int) error {
		if p := check(id, -1); p != nil {
			p.affect(Affected{Version: ref, Path: prefix + "/"})
			return nil
		}
		t := trees[id]
		if t == nil {
			var err error
			if t, err = objects.ReadTree(ctx, r.store, id); err != nil {
				var ce *objects.CorruptError
				if errors.As(err, &ce) {
					addProblem(id, "corrupt", ce.Reason).affect(Affected{Version: ref, Path: prefix + "/"})
					return nil
				}
				return err
			}
			trees[id] = t
		}
		if depth > objects.MaxPathDepth {
			addProblem(id, "corrupt", "trees nest too deep")
			return nil
		}
		for _, e := range t.Entries {
			p := e.Name
			if prefix != "" {
				p = prefix + "/" + e.Name
			}
			switch e.Kind {
			case objects.KindDir:
				if err := walk(ref, e.ID, p, depth+1); err != nil {
					return err
				}
			case objects.KindFile:
				if prob := check(e.ID, e.Size); prob != nil {
					prob.affect(Affected{Version: ref, Path: p})
				}
			}
		}
		return nil
	}
	for _, v := range versions {
		ref := v.Ref()
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
		if err := walk(ref, c.Tree, "", 0); err != nil {
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
