package objects

import "context"

// ReadDirNode reads, verifies and decodes one object of a directory: a tree
// or an index node. Undecodable bytes are reported as a *CorruptError
// naming id.
func ReadDirNode(ctx context.Context, s Getter, id ID) (DirNode, error) {
	b, err := ReadAll(ctx, s, id, MaxMetaObjectSize)
	if err != nil {
		return DirNode{}, err
	}
	n, err := DecodeDirNode(b)
	if err != nil {
		return DirNode{}, &CorruptError{ID: id, Reason: err.Error()}
	}
	return n, nil
}

// DirVerifier checks that the entries read from the objects of one split
// directory, in order, are exactly what a DirWriter writes for them: it
// writes them again, hashing instead of storing, and compares the result
// with the directory's ID. That covers what no single object shows: order
// and FoldName collisions across leaves, and every cut. It holds what a
// DirWriter holds.
type DirVerifier struct {
	id ID
	w  *DirWriter
}

// NewDirVerifier returns a DirVerifier for the directory id.
func NewDirVerifier(id ID) *DirVerifier {
	return &DirVerifier{id: id, w: NewDirWriter(func(_ context.Context, b []byte) (ID, error) { return Hash(b), nil })}
}

// Add takes the next entry read; an error is a *CorruptError naming the
// directory.
func (v *DirVerifier) Add(e TreeEntry) error {
	if err := v.w.Add(context.Background(), e); err != nil {
		return &CorruptError{ID: v.id, Reason: "split directory: " + err.Error()}
	}
	return nil
}

// Finish reports, as a *CorruptError naming the directory, whether the
// entries added are not what the directory's ID stands for.
func (v *DirVerifier) Finish() error {
	got, err := v.w.Finish(context.Background())
	if err != nil {
		return &CorruptError{ID: v.id, Reason: "split directory: " + err.Error()}
	}
	if got != v.id {
		return &CorruptError{ID: v.id, Reason: "split directory is not split where its entries put the cuts (it re-encodes to " + got.Short() + ")"}
	}
	return nil
}

// ReadDir calls fn for every entry of the directory id in name order,
// reading its objects one at a time: a tree whole, a split directory leaf
// by leaf, holding one leaf and the index nodes above it (and a DirVerifier)
// at once. A split directory is checked as it is read (each child is what
// its index node claims, see CheckChild and CheckTop) and, once fn has seen
// every entry, as a whole (DirVerifier): a damaged one is a *CorruptError
// naming the object, which may come after fn has seen entries. An error
// from fn stops the read and is returned as is.
func ReadDir(ctx context.Context, s Getter, id ID, fn func(TreeEntry) error) error {
	n, err := ReadDirNode(ctx, s, id)
	if err != nil {
		return err
	}
	if n.Tree != nil {
		for _, e := range n.Tree.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
	if err := CheckTop(n.Index); err != nil {
		return &CorruptError{ID: id, Reason: err.Error()}
	}
	v := NewDirVerifier(id)
	if err := readIndex(ctx, s, n.Index, v, fn); err != nil {
		return err
	}
	return v.Finish()
}

func readIndex(ctx context.Context, s Getter, x *TreeIndex, v *DirVerifier, fn func(TreeEntry) error) error {
	for _, c := range x.Children {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := ReadDirNode(ctx, s, c.ID)
		if err != nil {
			return err
		}
		if err := CheckChild(x.Level, c, n); err != nil {
			return &CorruptError{ID: c.ID, Reason: err.Error()}
		}
		if n.Index != nil {
			if err := readIndex(ctx, s, n.Index, v, fn); err != nil {
				return err
			}
			continue
		}
		for _, e := range n.Tree.Entries {
			if err := v.Add(e); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// FindEntry returns the entry named name of the directory id, reading only
// the objects on the way to it: a tree, or for a split directory the index
// nodes whose ranges hold name and one leaf, each checked against what its
// parent claims (the directory as a whole is checked only by ReadDir and
// walk.Walker). ok is false when there is no such entry.
func FindEntry(ctx context.Context, s Getter, id ID, name string) (e TreeEntry, ok bool, err error) {
	n, err := ReadDirNode(ctx, s, id)
	if err != nil {
		return TreeEntry{}, false, err
	}
	if n.Index != nil {
		if err := CheckTop(n.Index); err != nil {
			return TreeEntry{}, false, &CorruptError{ID: id, Reason: err.Error()}
		}
	}
	for n.Index != nil {
		x := n.Index
		i := x.Find(name)
		if i < 0 {
			return TreeEntry{}, false, nil
		}
		c := x.Children[i]
		if n, err = ReadDirNode(ctx, s, c.ID); err != nil {
			return TreeEntry{}, false, err
		}
		if err := CheckChild(x.Level, c, n); err != nil {
			return TreeEntry{}, false, &CorruptError{ID: c.ID, Reason: err.Error()}
		}
	}
	e, ok = n.Tree.Find(name)
	return e, ok, nil
}
