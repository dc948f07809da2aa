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
//
// With PathOrder set, files and references are visited in the byte order
// of their whole paths instead (the order of a sorted manifest): a
// subdirectory "a" is walked after a sibling file "a-b" or "a.txt", which
// sort before "a/...". The walk holds back only the subdirectories whose
// names are prefixes of names still to come, so it streams as tree order
// does.
package walk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// Source reads the objects of the directories a walk reaches.
type Source interface {
	// Node returns the decoded directory object id: a tree (a whole
	// directory, or a leaf of a split one) or an index node. A missing
	// object wraps objects.ErrNotFound, a damaged one objects.ErrCorrupt.
	Node(ctx context.Context, id objects.ID) (objects.DirNode, error)
}

// Prefetcher is a Source that can fetch many objects at once (from a
// remote): before walking into the subtrees of a tree, or the children of
// an index node, Walk hands it their IDs, so that the reads that follow are
// local.
type Prefetcher interface {
	Source
	Prefetch(ctx context.Context, ids []objects.ID) error
}

// Store reads directory objects from an object store.
func Store(g objects.Getter) Source { return storeSource{g} }

type storeSource struct{ g objects.Getter }

func (s storeSource) Node(ctx context.Context, id objects.ID) (objects.DirNode, error) {
	return objects.ReadDirNode(ctx, s.g, id)
}

// Cached reads objects from src and keeps up to CacheEntries of their
// entries (tree entries and index children) for walks that read the same
// trees again: a walk with MaxFiles measures every tree before it visits
// them, and fsck's or du's walks over many versions meet shared trees.
// Past the bound it forgets objects at random, so memory stays flat
// however many trees are read; a forgotten object is read again.
func Cached(src Source) Source {
	return &cached{src: src, nodes: map[objects.ID]objects.DirNode{}, max: CacheEntries}
}

// CacheEntries bounds the entries a Cached source keeps (a decoded entry
// takes about 150 bytes: 64 Ki of them about 10 MiB). Sources made after
// a change keep the new bound; tests lower it to see a walk's own memory.
var CacheEntries = 1 << 16

type cached struct {
	src   Source
	nodes map[objects.ID]objects.DirNode
	held  int // entries of the nodes kept
	max   int
}

func nodeEntries(n objects.DirNode) int {
	if n.Tree != nil {
		return len(n.Tree.Entries) + 1
	}
	if n.Index != nil {
		return len(n.Index.Children) + 1
	}
	return 1
}

func (c *cached) Node(ctx context.Context, id objects.ID) (objects.DirNode, error) {
	if n, ok := c.nodes[id]; ok {
		return n, nil
	}
	n, err := c.src.Node(ctx, id)
	if err != nil {
		return objects.DirNode{}, err
	}
	size := nodeEntries(n)
	if size > c.max {
		return n, nil // larger than the whole cache: not kept
	}
	for k, old := range c.nodes { // random order: forget until it fits
		if c.held+size <= c.max {
			break
		}
		c.held -= nodeEntries(old)
		delete(c.nodes, k)
	}
	c.nodes[id] = n
	c.held += size
	return n, nil
}

// Dir is a directory object reached by a walk: the object a directory's
// entry (or the walk's root) names, or, for a split directory, one of the
// index nodes and leaves below it (IndexDepth > 0), which hold ranges of
// the same directory's entries: the same Path and Depth, and no path
// component of their own.
type Dir struct {
	ID    objects.ID
	Path  string // slash-separated path from the walk's root, "" for the root
	Depth int    // directories above this one: 0 for the root
	// IndexDepth is 0 for a directory's own object, and for an object of
	// a split directory the index nodes between it and that one.
	IndexDepth int
}

// Entry is a file or a reference reached by a walk.
type Entry struct {
	objects.TreeEntry
	Path  string // slash-separated path from the walk's root
	Depth int    // directories above the entry: 1 for an entry of the root
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
	// PathOrder visits entries in the order of their paths (see Order).
	// A subdirectory of a split directory may then be walked after Leave
	// of the leaf that names it: walks about objects leave it unset.
	PathOrder bool

	// Enter and Leave are called for every object a directory consists
	// of: its own object (IndexDepth 0) and, for a split directory, each
	// index node and leaf below it (IndexDepth > 0), each entered before
	// the objects and entries below it and left after them, so that a walk
	// that marks, checks or copies objects sees them all, and sees what an
	// object names before leaving it. A walk that is about directories, not
	// objects, ignores IndexDepth > 0. SkipDir from Enter of a node skips
	// what is below that node only.
	Enter func(ctx context.Context, d Dir) error
	Entry func(ctx context.Context, e Entry) error
	Chunk func(ctx context.Context, file Entry, c objects.Chunk) error
	Leave func(ctx context.Context, d Dir) error
	// TreeError, when set, is called when an object of d cannot be read,
	// is not what its index node claims, nests too deep, or when the
	// split directory d (IndexDepth 0) is not as a DirWriter writes it:
	// returning nil skips the object (for the last, the rest of the
	// directory) and goes on, returning an error stops the walk with it.
	// Unset, the walk stops with err.
	TreeError func(ctx context.Context, d Dir, err error) error
}

// Walk walks the tree root, whose entries' paths start with prefix (""
// for none).
func (w *Walker) Walk(ctx context.Context, root objects.ID, prefix string) error {
	if w.MaxFiles > 0 {
		m := &measure{src: w.Source, sizes: map[objects.ID]size{}, tolerate: w.TreeError != nil}
		s, err := m.tree(ctx, root, 0, -1, 0)
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

// errAbandon unwinds the walk of a split directory found damaged once
// TreeError chose to go on beside it.
var errAbandon = errors.New("walk: directory abandoned")

func (w *Walker) treeError(ctx context.Context, d Dir, err error) error {
	if w.TreeError == nil || ctx.Err() != nil {
		return err
	}
	return w.TreeError(ctx, d, err)
}

// enter calls Enter, reporting whether to go below d.
func (w *Walker) enter(ctx context.Context, d Dir) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if w.Enter != nil {
		if err := w.Enter(ctx, d); errors.Is(err, SkipDir) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return true, nil
}

func (w *Walker) prefetch(ctx context.Context, ids []objects.ID) error {
	if p, ok := w.Source.(Prefetcher); ok && len(ids) > 0 {
		return p.Prefetch(ctx, ids)
	}
	return nil
}

func (w *Walker) dir(ctx context.Context, d Dir) error {
	if ok, err := w.enter(ctx, d); !ok {
		return err
	}
	if d.Depth > objects.MaxPathDepth {
		return w.treeError(ctx, d, tooDeep(d.ID))
	}
	n, err := w.Source.Node(ctx, d.ID)
	if err != nil {
		return w.treeError(ctx, d, err)
	}
	if n.Tree != nil {
		if err := w.entries(ctx, d, n.Tree, nil); err != nil {
			return err
		}
	} else {
		if err := objects.CheckTop(n.Index); err != nil {
			return w.treeError(ctx, d, &objects.CorruptError{ID: d.ID, Reason: err.Error()})
		}
		s := &split{dir: d, v: objects.NewDirVerifier(d.ID), whole: true}
		if err := w.index(ctx, s, d, n.Index); err != nil {
			if errors.Is(err, errAbandon) && s.abandoned {
				return nil
			}
			return err
		}
		if err := w.release(ctx, d, &s.held, nil); err != nil {
			return err
		}
		if s.whole {
			if err := s.v.Finish(); err != nil {
				if err := w.treeError(ctx, d, err); err != nil {
					return err
				}
				return nil
			}
		}
	}
	if w.Leave != nil {
		return w.Leave(ctx, d)
	}
	return nil
}

// split is the walk of one split directory.
type split struct {
	dir       Dir                  // its own object
	v         *objects.DirVerifier // fed every entry, when whole
	whole     bool                 // every leaf was read (none skipped)
	abandoned bool                 // found damaged: the rest is skipped
	held      []held               // PathOrder: subdirectories held back
}

// held is a subdirectory that a PathOrder walk holds back until the
// entries whose paths sort before its own are visited.
type held struct {
	e    objects.TreeEntry
	path string
}

// index walks the children of the index node x, an object of s.dir.
func (w *Walker) index(ctx context.Context, s *split, node Dir, x *objects.TreeIndex) error {
	ids := make([]objects.ID, len(x.Children))
	for i, c := range x.Children {
		ids[i] = c.ID
	}
	if err := w.prefetch(ctx, ids); err != nil {
		return err
	}
	for _, c := range x.Children {
		cd := Dir{ID: c.ID, Path: s.dir.Path, Depth: s.dir.Depth, IndexDepth: node.IndexDepth + 1}
		ok, err := w.enter(ctx, cd)
		if err != nil {
			return err
		}
		if !ok {
			s.whole = false
			continue
		}
		n, err := w.Source.Node(ctx, c.ID)
		if err == nil {
			if cerr := objects.CheckChild(x.Level, c, n); cerr != nil {
				err = &objects.CorruptError{ID: c.ID, Reason: cerr.Error()}
			}
		}
		if err != nil {
			if err := w.treeError(ctx, cd, err); err != nil {
				return err
			}
			s.whole = false
			continue
		}
		if n.Index != nil {
			err = w.index(ctx, s, cd, n.Index)
		} else {
			err = w.entries(ctx, s.dir, n.Tree, s)
		}
		if err != nil {
			return err
		}
		if w.Leave != nil {
			if err := w.Leave(ctx, cd); err != nil {
				return err
			}
		}
	}
	return nil
}

// entries walks the entries of t, the tree of d or, when s is set, a leaf
// of the split directory d.
func (w *Walker) entries(ctx context.Context, d Dir, t *objects.Tree, s *split) error {
	var ids []objects.ID
	for _, e := range t.Entries {
		if e.Kind == objects.KindDir {
			ids = append(ids, e.ID)
		}
	}
	if err := w.prefetch(ctx, ids); err != nil {
		return err
	}
	var local []held
	hold := &local
	if s != nil {
		hold = &s.held
	}
	for _, e := range t.Entries {
		if s != nil && s.whole {
			if err := s.v.Add(e); err != nil {
				if err := w.treeError(ctx, d, err); err != nil {
					return err
				}
				s.abandoned = true
				return errAbandon
			}
		}
		p := e.Name
		if d.Path != "" {
			p = d.Path + "/" + e.Name
		}
		if w.PathOrder {
			if err := w.release(ctx, d, hold, &e); err != nil {
				return err
			}
			if e.Kind == objects.KindDir {
				i := len(*hold)
				for i > 0 && keyCompare(e, (*hold)[i-1].e) < 0 {
					i--
				}
				*hold = slices.Insert(*hold, i, held{e: e, path: p})
				continue
			}
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
	if s == nil {
		return w.release(ctx, d, hold, nil)
	}
	return nil
}

// release walks the subdirectories of d held back (sorted by path) whose
// paths sort before next's, or all of them when next is nil.
func (w *Walker) release(ctx context.Context, d Dir, hold *[]held, next *objects.TreeEntry) error {
	for len(*hold) > 0 {
		h := (*hold)[0]
		if next != nil && keyCompare(h.e, *next) > 0 {
			return nil
		}
		*hold = (*hold)[1:]
		if err := w.dir(ctx, Dir{ID: h.e.ID, Path: h.path, Depth: d.Depth + 1}); err != nil {
			return err
		}
	}
	return nil
}

// keyCompare compares two entries of one directory by the paths below
// them: a directory's name sorts as if followed by "/".
func keyCompare(a, b objects.TreeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	at := func(e objects.TreeEntry) int { // the key's byte at n, -1 past its end
		switch {
		case len(e.Name) > n:
			return int(e.Name[n])
		case e.Kind == objects.KindDir:
			return '/'
		}
		return -1
	}
	return cmp.Compare(at(a), at(b))
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

// size is what measure learns of a directory object.
type size struct {
	files   int64 // entries under it, counted at every path, at most maxCount
	height  int   // levels of directories below it
	entries int64 // entries of its own range: a tree's, or an index node's total
	level   int   // 0 for a tree, an index node's level
}

const maxCount = 1 << 62

// measure counts, once per distinct object, the entries a directory stands
// for. An index node's children must hold what it claims.
type measure struct {
	src      Source
	sizes    map[objects.ID]size
	tolerate bool // an object that cannot be read counts as empty (the walk reports it)
}

// tree measures the directory object id at path depth depth: a
// directory's own object when level is -1, else a child of an index node,
// which must be of that level (0: a leaf) and hold count entries.
func (m *measure) tree(ctx context.Context, id objects.ID, depth, level int, count int64) (size, error) {
	if depth > objects.MaxPathDepth {
		return size{}, tooDeep(id)
	}
	s, ok := m.sizes[id]
	if !ok {
		var err error
		if s, ok, err = m.read(ctx, id, depth, level); err != nil {
			return size{}, err
		}
		if ok {
			m.sizes[id] = s
		}
	}
	if depth+s.height > objects.MaxPathDepth {
		return size{}, tooDeep(id)
	}
	if level >= 0 && (s.level != level || s.entries != count) {
		if m.tolerate { // the walk refuses the node where it is reached
			return size{}, nil
		}
		return size{}, &objects.CorruptError{ID: id, Reason: fmt.Sprintf("tree index claims %d entries at level %d, the node holds %d at level %d", count, level, s.entries, s.level)}
	}
	return s, nil
}

// read reads and measures id, wanted at level (see tree). A node of
// another level is not measured further (a forged chain of index nodes
// could otherwise nest as deep as it has nodes): ok is false, and s holds
// its level only.
func (m *measure) read(ctx context.Context, id objects.ID, depth, level int) (s size, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return size{}, false, err
	}
	n, err := m.src.Node(ctx, id)
	if err == nil && level == -1 && n.Index != nil {
		if cerr := objects.CheckTop(n.Index); cerr != nil {
			err = &objects.CorruptError{ID: id, Reason: cerr.Error()}
		}
	}
	if err != nil {
		if m.tolerate && ctx.Err() == nil {
			return size{level: -1}, true, nil // matches no claim
		}
		return size{}, false, err
	}
	if n.Index != nil {
		s.level = n.Index.Level
	}
	if level >= 0 && s.level != level {
		return s, false, nil
	}
	s, err = m.count(ctx, depth, n)
	return s, err == nil, err
}

// count measures the decoded node n.
func (m *measure) count(ctx context.Context, depth int, n objects.DirNode) (size, error) {
	var s size
	if n.Index != nil {
		s.level = n.Index.Level
		for _, c := range n.Index.Children {
			sub, err := m.tree(ctx, c.ID, depth, n.Index.Level-1, c.Count)
			if err != nil {
				if m.tolerate && errors.Is(err, ErrTooDeep) {
					continue
				}
				return size{}, err
			}
			s.files = min(s.files+sub.files, maxCount)
			s.height = max(s.height, sub.height)
			s.entries = min(s.entries+c.Count, maxCount)
		}
		return s, nil
	}
	s.entries = int64(len(n.Tree.Entries))
	for _, e := range n.Tree.Entries {
		if e.Kind != objects.KindDir {
			s.files++
			continue
		}
		sub, err := m.tree(ctx, e.ID, depth+1, -1, 0)
		if err != nil {
			if m.tolerate && errors.Is(err, ErrTooDeep) {
				continue // the walk reports it where it is reached
			}
			return size{}, err
		}
		s.files = min(s.files+sub.files, maxCount)
		s.height = max(s.height, sub.height+1)
	}
	return s, nil
}
