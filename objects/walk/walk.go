// Package walk visits the trees of a version: the one place that knows how
// trees nest, how far they may, how many paths a version may stand for, and
// how a chunked file expands into its chunks. Every walk over stored trees
// (gc's mark, fsck, du, push, pull and the manifest of a version) is a
// Walker with its own callbacks, so a new entry kind or limit is one edit.
//
// # Limits
//
// A walk refuses, as an error wrapping objects.ErrCorrupt, trees nesting
// deeper than objects.MaxPathDepth (ErrTooDeep) and, when MaxFiles is set,
// trees expanding to more than MaxFiles entries once shared subtrees are
// counted at every path they appear under (ErrTooMany). The second bound is
// checked before any callback runs, by counting each distinct tree once, so a
// few forged trees standing for 2^40 paths cost a few reads, not 2^40 calls.
//
// # Order
//
// Entries are visited depth first in tree order (sorted by name): Enter for
// a tree before its entries (the root too, with path ""), Entry for each
// file and reference, Chunk for each chunk of a chunked file, Leave for a
// tree after its entries. Enter returning SkipDir skips the tree (its
// entries and its Leave); Entry returning SkipDir for a file skips its
// chunks. Any other error stops the walk and is returned as is.
package walk

import (
	"context"
	"errors"
	"fmt"

	"github.com/artvcs/art/objects"
)

// SkipDir, returned by Enter, skips a tree; returned by Entry for a file, it
// skips the file's chunks. It is never returned by Walk.
var SkipDir = errors.New("skip this directory")

var (
	// ErrTooDeep: trees nest deeper than objects.MaxPathDepth.
	ErrTooDeep = fmt.Errorf("%w: trees nest deeper than %d", objects.ErrCorrupt, objects.MaxPathDepth)
	// ErrTooMany: trees expand to more entries than the walk's MaxFiles.
	ErrTooMany = fmt.Errorf("%w: trees expand to too many entries", objects.ErrCorrupt)
)

// Source reads the trees of a walk.
type Source interface {
	// Tree returns the decoded tree id; a missing tree wraps
	// objects.ErrNotFound, a damaged one objects.ErrCorrupt.
	Tree(ctx context.Context, id objects.ID) (*objects.Tree, error)
}

// Prefetcher is a Source that can fetch many trees at once (from a
// remote): before walking into the subtrees of a tree, Walk hands it their
// IDs, so that the reads that follow are local.
type Prefetcher interface {
	Source
	Prefetch(ctx context.Context, ids []objects.ID) error
}

// Store reads trees from an object store.
func Store(g objects.Getter) Source { return storeSource{g} }

type storeSource struct{ g objects.Getter }

func (s storeSource) Tree(ctx context.Context, id objects.ID) (*objects.Tree, error) {
	return objects.ReadTree(ctx, s.g, id)
}

// Cached reads each tree from src once and keeps it (for walks that visit
// the same trees many times, such as fsck's or du's over every version).
func Cached(src Source) Source {
	return &cached{src: src, trees: map[objects.ID]*objects.Tree{}}
}

type cached struct {
	src   Source
	trees map[objects.ID]*objects.Tree
}

func (c *cached) Tree(ctx context.Context, id objects.ID) (*objects.Tree, error) {
	if t, ok := c.trees[id]; ok {
		return t, nil
	}
	t, err := c.src.Tree(ctx, id)
	if err != nil {
		return nil, err
	}
	c.trees[id] = t
	return t, nil
}

// Dir is a tree reached by a walk.
type Dir struct {
	ID    objects.ID
	Path  string // slash-separated path from the walk's root, "" for the root
	Depth int    // trees above this one: 0 for the root
}

// Entry is a file or a reference reached by a walk.
type Entry struct {
	objects.TreeEntry
	Path  string // slash-separated path from the walk's root
	Depth int    // trees above the entry: 1 for an entry of the root
}

// Walker walks trees. The zero value is not usable: Source is required.
// Callbacks left nil are not called.
type Walker struct {
	Source Source
	// Chunks returns the chunk list of the file blob id, or nil when the
	// file is stored whole. Nil: chunks are not expanded.
	Chunks func(ctx context.Context, id objects.ID) (*objects.ChunkList, error)
	// MaxFiles, when positive, bounds the files and references a walk may
	// reach (see Limits).
	MaxFiles int64

	Enter func(ctx context.Context, d Dir) error
	Entry func(ctx context.Context, e Entry) error
	Chunk func(ctx context.Context, file Entry, c objects.Chunk) error
	Leave func(ctx context.Context, d Dir) error
	// TreeError, when set, is called when the tree of d cannot be read or
	// nests too deep: returning nil skips the tree and goes on, returning
	// an error stops the walk with it. Unset, the walk stops with err.
	TreeError func(ctx context.Context, d Dir, err error) error
}

// Walk walks the tree root, whose entries' paths start with prefix (""
// for none).
func (w *Walker) Walk(ctx context.Context, root objects.ID, prefix string) error {
	if w.MaxFiles > 0 {
		m := &measure{src: w.Source, sizes: map[objects.ID]size{}, tolerate: w.TreeError != nil}
		s, err := m.tree(ctx, root, 0)
		if err != nil {
			return w.treeError(ctx, Dir{ID: root, Path: prefix}, err)
		}
		if s.files > w.MaxFiles {
			return &limitError{sentinel: ErrTooMany, id: root, reason: fmt.Sprintf("trees expand to more than %d entries", w.MaxFiles)}
		}
	}
	err := w.dir(ctx, Dir{ID: root, Path: prefix})
	if errors.Is(err, SkipDir) {
		return nil
	}
	return err
}

func (w *Walker) treeError(ctx context.Context, d Dir, err error) error {
	if w.TreeError == nil || ctx.Err() != nil {
		return err
	}
	return w.TreeError(ctx, d, err)
}

func (w *Walker) dir(ctx context.Context, d Dir) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.Enter != nil {
		if err := w.Enter(ctx, d); err != nil {
			if errors.Is(err, SkipDir) {
				return nil
			}
			return err
		}
	}
	if d.Depth > objects.MaxPathDepth {
		return w.treeError(ctx, d, tooDeep(d.ID))
	}
	t, err := w.Source.Tree(ctx, d.ID)
	if err != nil {
		return w.treeError(ctx, d, err)
	}
	if p, ok := w.Source.(Prefetcher); ok {
		var ids []objects.ID
		for _, e := range t.Entries {
			if e.Kind == objects.KindDir {
				ids = append(ids, e.ID)
			}
		}
		if len(ids) > 0 {
			if err := p.Prefetch(ctx, ids); err != nil {
				return err
			}
		}
	}
	for _, e := range t.Entries {
		p := e.Name
		if d.Path != "" {
			p = d.Path + "/" + e.Name
		}
		if e.Kind == objects.KindDir {
			if err := w.dir(ctx, Dir{ID: e.ID, Path: p, Depth: d.Depth + 1}); err != nil {
				return err
			}
			continue
		}
		if err := w.entry(ctx, Entry{TreeEntry: e, Path: p, Depth: d.Depth + 1}); err != nil {
			return err
		}
	}
	if w.Leave != nil {
		return w.Leave(ctx, d)
	}
	return nil
}

func (w *Walker) entry(ctx context.Context, e Entry) error {
	if w.Entry != nil {
		if err := w.Entry(ctx, e); errors.Is(err, SkipDir) {
			return nil
		} else if err != nil {
			return err
		}
	}
	if e.Kind != objects.KindFile || w.Chunks == nil {
		return nil
	}
	l, err := w.Chunks(ctx, e.ID)
	if err != nil || l == nil {
		return err
	}
	if w.Chunk == nil {
		return nil
	}
	for _, c := range l.Chunks {
		if err := w.Chunk(ctx, e, c); err != nil {
			return err
		}
	}
	return nil
}

// limitError is a limit a walk refused: it names the tree and wraps the
// limit's sentinel (and so objects.ErrCorrupt).
type limitError struct {
	sentinel error
	id       objects.ID
	reason   string
}

func (e *limitError) Error() string { return fmt.Sprintf("tree %s is corrupt: %s", e.id, e.reason) }
func (e *limitError) Unwrap() error { return e.sentinel }

func tooDeep(id objects.ID) error {
	return &limitError{sentinel: ErrTooDeep, id: id, reason: fmt.Sprintf("trees nest deeper than %d", objects.MaxPathDepth)}
}

// size is what measure learns of a tree.
type size struct {
	files  int64 // entries under it, counted at every path, at most maxCount
	height int   // levels of trees below it
}

const maxCount = 1 << 62

// measure counts, once per distinct tree, the entries a tree stands for.
type measure struct {
	src      Source
	sizes    map[objects.ID]size
	tolerate bool // a tree that cannot be read counts as empty (the walk reports it)
}

func (m *measure) tree(ctx context.Context, id objects.ID, depth int) (size, error) {
	if depth > objects.MaxPathDepth {
		return size{}, tooDeep(id)
	}
	if s, ok := m.sizes[id]; ok {
		if depth+s.height > objects.MaxPathDepth {
			return size{}, tooDeep(id)
		}
		return s, nil
	}
	if err := ctx.Err(); err != nil {
		return size{}, err
	}
	t, err := m.src.Tree(ctx, id)
	if err != nil {
		if m.tolerate && ctx.Err() == nil {
			m.sizes[id] = size{}
			return size{}, nil
		}
		return size{}, err
	}
	var s size
	for _, e := range t.Entries {
		if e.Kind != objects.KindDir {
			s.files++
			continue
		}
		sub, err := m.tree(ctx, e.ID, depth+1)
		if err != nil {
			if m.tolerate && errors.Is(err, ErrTooDeep) {
				continue // the walk reports it where it is reached
			}
			return size{}, err
		}
		s.files = min(s.files+sub.files, maxCount)
		s.height = max(s.height, sub.height+1)
	}
	m.sizes[id] = s
	return s, nil
}
