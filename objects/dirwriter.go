package objects

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// PutFunc stores an object's bytes and returns its ID.
type PutFunc func(ctx context.Context, b []byte) (ID, error)

// PutTo returns the PutFunc of a store (PutBytes).
func PutTo(s Putter) PutFunc {
	return func(ctx context.Context, b []byte) (ID, error) { return PutBytes(ctx, s, b) }
}

// DirWriter writes one directory from its entries, given in name order: a
// directory of at most ShardThreshold entries as one tree, byte for byte
// what Tree.Encode gives; a larger one as leaves under index nodes (see
// TreeIndexHeader for the cutting rules). The objects depend only on the
// entries, so equal directories get equal IDs however they were built, and
// changing, adding or removing one entry rewrites one or two leaves and the
// index nodes above them.
//
// It holds at most ShardThreshold entries (the first ones, until it knows
// whether the directory is split; after that, the current leaf), one
// pending node per index level, and, past the threshold, 8 bytes of a hash
// of each entry's FoldName, to refuse two names one case-insensitive file
// system would take for one. Two different folded names sharing those 8
// bytes (a chance of about n²/2^65 for n entries) are refused as such a
// pair too. A DirWriter is not safe for concurrent use.
type DirWriter struct {
	put     PutFunc
	n       int64
	prev    string
	buf     []TreeEntry       // every entry while unsplit, then the current leaf
	exact   map[string]string // folded name -> name, while unsplit
	folded  map[uint64]struct{}
	sharded bool
	levels  []*pendingIndex // levels[k-1] is the node of level k being filled
	err     error           // the first error; sticky
	done    bool
}

type pendingIndex struct {
	children []IndexChild
	total    int64
}

// NewDirWriter returns a DirWriter storing its objects with put.
func NewDirWriter(put PutFunc) *DirWriter {
	return &DirWriter{put: put, exact: map[string]string{}}
}

// errWriterDone is returned by a DirWriter used after Finish.
var errWriterDone = errors.New("objects: DirWriter used after Finish")

// Add adds the next entry. An invalid entry, a name not after the last
// one's (out of order or a duplicate), or one with the FoldName of an
// earlier entry is an error wrapping ErrMalformed or ErrInvalidPath, as
// Tree.Encode gives; so is any error of put. After an error, every call
// returns it.
func (w *DirWriter) Add(ctx context.Context, e TreeEntry) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errWriterDone
	}
	if err := w.add(ctx, e); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *DirWriter) add(ctx context.Context, e TreeEntry) error {
	if err := e.validate(); err != nil {
		return err
	}
	if w.n > 0 {
		switch {
		case e.Name == w.prev:
			return fmt.Errorf("%w: duplicate tree entry %q", ErrMalformed, e.Name)
		case e.Name < w.prev:
			return fmt.Errorf("%w: tree entry %q after %q: entries out of order", ErrMalformed, e.Name, w.prev)
		}
	}
	f := FoldName(e.Name)
	if !w.sharded {
		if other, ok := w.exact[f]; ok {
			return fmt.Errorf("%w: tree entries %q and %q differ only in case or Unicode normalisation (one file on some file systems)", ErrInvalidPath, other, e.Name)
		}
		w.exact[f] = e.Name
	} else if err := w.fold(e.Name, f); err != nil {
		return err
	}
	w.n++
	w.prev = e.Name
	if w.sharded {
		return w.leafAdd(ctx, e)
	}
	w.buf = append(w.buf, e)
	if len(w.buf) <= ShardThreshold {
		return nil
	}
	// Past the threshold: the directory is split. Cut what was held into
	// leaves, and keep folded names as hashes from now on.
	w.sharded = true
	w.folded = make(map[uint64]struct{}, 2*ShardThreshold)
	for f := range w.exact {
		w.folded[foldHash(f)] = struct{}{}
	}
	w.exact = nil
	held := w.buf
	w.buf = make([]TreeEntry, 0, LeafMaxEntries)
	for _, e := range held {
		if err := w.leafAdd(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (w *DirWriter) fold(name, f string) error {
	h := foldHash(f)
	if _, ok := w.folded[h]; ok {
		return fmt.Errorf("%w: tree entry %q differs from an earlier one only in case or Unicode normalisation (one file on some file systems)", ErrInvalidPath, name)
	}
	w.folded[h] = struct{}{}
	return nil
}

func foldHash(folded string) uint64 {
	sum := Hash([]byte(folded))
	return binary.LittleEndian.Uint64(sum[:8])
}

func (w *DirWriter) leafAdd(ctx context.Context, e TreeEntry) error {
	if n := len(w.buf); n == LeafMaxEntries || n >= LeafMinEntries && leafCut(e.Name) {
		if err := w.flushLeaf(ctx); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, e)
	return nil
}

func (w *DirWriter) flushLeaf(ctx context.Context) error {
	b, err := (&Tree{Entries: w.buf}).Encode()
	if err != nil {
		return err
	}
	id, err := w.put(ctx, b)
	if err != nil {
		return err
	}
	// A copy: the name may be part of a decoded leaf's bytes, which the
	// pending index node must not keep alive.
	c := IndexChild{First: strings.Clone(w.buf[0].Name), Count: int64(len(w.buf)), ID: id}
	clear(w.buf) // drop references to names and URIs
	w.buf = w.buf[:0]
	return w.addChild(ctx, 1, c)
}

func (w *DirWriter) addChild(ctx context.Context, level int, c IndexChild) error {
	if level > MaxIndexLevel {
		return fmt.Errorf("%w: directory needs more than %d index levels", ErrMalformed, MaxIndexLevel)
	}
	if level > len(w.levels) {
		w.levels = append(w.levels, &pendingIndex{})
	}
	p := w.levels[level-1]
	if n := len(p.children); n == IndexMaxChildren || n >= IndexMinChildren && indexCut(level, c.First) {
		if err := w.flushIndex(ctx, level); err != nil {
			return err
		}
	}
	p.children = append(p.children, c)
	p.total += c.Count
	return nil
}

// writeIndex stores the pending node of level and returns it as a child.
func (w *DirWriter) writeIndex(ctx context.Context, level int) (IndexChild, error) {
	p := w.levels[level-1]
	b, err := (&TreeIndex{Level: level, Children: p.children}).Encode()
	if err != nil {
		return IndexChild{}, err
	}
	id, err := w.put(ctx, b)
	if err != nil {
		return IndexChild{}, err
	}
	c := IndexChild{First: p.children[0].First, Count: p.total, ID: id}
	p.children, p.total = p.children[:0], 0
	return c, nil
}

func (w *DirWriter) flushIndex(ctx context.Context, level int) error {
	c, err := w.writeIndex(ctx, level)
	if err != nil {
		return err
	}
	return w.addChild(ctx, level+1, c)
}

// Finish writes what is pending and returns the directory's ID: its tree's
// when it has at most ShardThreshold entries (an empty directory is the
// empty tree), else its top index node's. The DirWriter cannot be used
// after.
func (w *DirWriter) Finish(ctx context.Context) (ID, error) {
	if w.err != nil {
		return ID{}, w.err
	}
	if w.done {
		return ID{}, errWriterDone
	}
	w.done = true
	id, err := w.finish(ctx)
	if err != nil {
		w.err = err
	}
	return id, err
}

func (w *DirWriter) finish(ctx context.Context) (ID, error) {
	if !w.sharded {
		b, err := (&Tree{Entries: w.buf}).Encode()
		if err != nil {
			return ID{}, err
		}
		return w.put(ctx, b)
	}
	if err := w.flushLeaf(ctx); err != nil {
		return ID{}, err
	}
	// The highest level holds the one node that is the top: every level
	// below it has cut at least once (that is how the level above began),
	// so the top has at least two children.
	for level := 1; ; level++ {
		if level == len(w.levels) {
			c, err := w.writeIndex(ctx, level)
			return c.ID, err
		}
		if err := w.flushIndex(ctx, level); err != nil {
			return ID{}, err
		}
	}
}

// WriteDir writes the directory t (in any order: its entries are sorted
// first) as a DirWriter does, and returns its ID. For at most
// ShardThreshold entries it stores exactly t.Encode()'s bytes.
func WriteDir(ctx context.Context, put PutFunc, t *Tree) (ID, error) {
	es := append([]TreeEntry(nil), t.Entries...)
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	w := NewDirWriter(put)
	for _, e := range es {
		if err := w.Add(ctx, e); err != nil {
			return ID{}, err
		}
	}
	return w.Finish(ctx)
}
