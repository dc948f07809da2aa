package repo

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
	"github.com/artvcs/art/refs"
)

// Resolve returns the version a reference names ("name", "name:v3",
// "name:latest", "name:ALIAS", "name@IDPREFIX").
func (r *Repo) Resolve(ctx context.Context, ref string) (Version, error) {
	parsed, err := refs.Parse(ref)
	if err != nil {
		return Version{}, err
	}
	v, err := r.index().Resolve(ctx, parsed)
	if err != nil {
		return Version{}, err
	}
	return Version{Version: v, repo: r}, nil
}

// Versions returns every version of an artifact, newest first.
func (r *Repo) Versions(ctx context.Context, name string) ([]Version, error) {
	if err := refs.ValidateName(name); err != nil {
		return nil, err
	}
	vs, err := r.index().Versions(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]Version, len(vs))
	for i, v := range vs {
		out[i] = Version{Version: v, repo: r}
	}
	return out, nil
}

// Artifacts lists the repository's artifacts by name.
func (r *Repo) Artifacts(ctx context.Context) ([]refs.Artifact, error) {
	return r.index().Artifacts(ctx)
}

// AddAlias points alias at the version ref names, moving it from another
// version of the same artifact if needed. It returns the version now
// aliased and the version number the alias left (-1 if it is new).
func (r *Repo) AddAlias(ctx context.Context, ref, alias string) (Version, int64, error) {
	if err := refs.ValidateAlias(alias); err != nil {
		return Version{}, -1, err
	}
	parsed, err := refs.Parse(ref)
	if err != nil {
		return Version{}, -1, err
	}
	var out refs.Version
	prev := int64(-1)
	err = r.writeTx(ctx, func(tx *sql.Tx) error {
		idx := refs.NewIndex(tx)
		v, err := idx.Resolve(ctx, parsed)
		if err != nil {
			return err
		}
		if prev, err = idx.SetAlias(ctx, v.Name, alias, v.Version); err != nil {
			return err
		}
		out, err = idx.Resolve(ctx, refs.Ref{Name: v.Name, Kind: refs.ByVersion, Version: v.Version})
		return err
	})
	if err != nil {
		return Version{}, -1, err
	}
	r.saveRefDoc(ctx, out.Name)
	return Version{Version: out, repo: r}, prev, nil
}

// RemoveAlias removes alias from the artifact name.
func (r *Repo) RemoveAlias(ctx context.Context, name, alias string) error {
	if err := refs.ValidateName(name); err != nil {
		return err
	}
	err := r.writeTx(ctx, func(tx *sql.Tx) error {
		return refs.NewIndex(tx).RemoveAlias(ctx, name, alias)
	})
	if err != nil {
		return err
	}
	r.saveRefDoc(ctx, name)
	return nil
}

// Delete removes the version ref names. A version with aliases is refused
// (refs.ErrHasAliases) unless force is set. Its number is never reused, and
// its objects become garbage for GC once nothing else uses them.
func (r *Repo) Delete(ctx context.Context, ref string, force bool) (Version, error) {
	parsed, err := refs.Parse(ref)
	if err != nil {
		return Version{}, err
	}
	var out refs.Version
	err = r.writeTx(ctx, func(tx *sql.Tx) error {
		idx := refs.NewIndex(tx)
		v, err := idx.Resolve(ctx, parsed)
		if err != nil {
			return err
		}
		out = v
		return idx.Delete(ctx, v.Name, v.Version, force)
	})
	if err != nil {
		return Version{}, err
	}
	r.saveRefDoc(ctx, out.Name)
	return Version{Version: out, repo: r}, nil
}

// ReadCommit reads and verifies the version's commit object.
func (v Version) ReadCommit(ctx context.Context) (*objects.Commit, error) {
	return objects.ReadCommit(ctx, v.repo.store, v.Version.Commit)
}

// ManifestEntry is one file or reference of a version.
type ManifestEntry struct {
	Path   string     // slash-separated path inside the version
	Size   int64      // bytes; -1 for a reference of unknown size
	Digest objects.ID // blob ID; zero for a reference
	Exec   bool       // the file is executable
	Ref    string     // URI of a reference ("" for stored content)
	// RefDigest is the checksum or ETag recorded for a reference.
	RefDigest string
}

// IsRef reports whether the entry is a reference rather than stored content.
func (e ManifestEntry) IsRef() bool { return e.Ref != "" }

// Manifest returns the version's files and references sorted by path.
// It holds the whole manifest: WalkManifest streams it.
func (v Version) Manifest(ctx context.Context) ([]ManifestEntry, error) {
	var out []ManifestEntry
	err := v.WalkManifest(ctx, func(e ManifestEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// WalkManifest calls fn for each of the version's files and references,
// sorted by path, reading one directory at a time: its memory does not
// grow with the count of files. An error from fn stops the walk and is
// returned. Trees that nest too deep or expand to more than
// MaxVersionFiles entries are refused (an error wrapping
// objects.ErrCorrupt) before fn is first called.
func (v Version) WalkManifest(ctx context.Context, fn func(ManifestEntry) error) error {
	return v.repo.walkTree(ctx, v.Tree, "", func(p string, e objects.TreeEntry) error {
		return fn(manifestEntry(p, e))
	})
}

// diffBudget is what one Diff may look at: see diffTrees. A variable for
// the tests only.
var diffBudget int64 = 2 * MaxVersionFiles

// MaxVersionFiles bounds the files and references of one version once its
// trees are expanded. Trees share subtrees, so a handful of forged
// objects (each directory holding two entries for the same subtree, 40
// deep) could otherwise stand for 2^40 paths.
const MaxVersionFiles = 1 << 24

// walkTree calls fn for every file and reference under tree id, in the
// order of their slash-separated paths. Trees nesting deeper than
// objects.MaxPathDepth or expanding to more than MaxVersionFiles entries
// are refused as corrupt (walk.ErrTooDeep, walk.ErrTooMany) before fn is
// first called, whatever they share.
func (r *Repo) walkTree(ctx context.Context, id objects.ID, prefix string,
	fn func(path string, e objects.TreeEntry) error) error {
	w := walk.Walker{
		Source:    walk.Cached(walk.Store(r.store)),
		MaxFiles:  MaxVersionFiles,
		PathOrder: true,
		Entry:     func(_ context.Context, e walk.Entry) error { return fn(e.Path, e.TreeEntry) },
	}
	return w.Walk(ctx, id, prefix)
}

// GetPath returns the manifest entry stored at name in the version
// (W&B's Artifact.get_path).
func (v Version) GetPath(ctx context.Context, name string) (ManifestEntry, error) {
	clean, err := objects.CleanPath(name)
	if err != nil {
		return ManifestEntry{}, err
	}
	// Descend one directory per component, reading only the objects on
	// the way (for a split directory, the index nodes that hold the name).
	id := v.Tree
	parts := splitPath(clean)
	for i, name := range parts {
		e, ok, err := objects.FindEntry(ctx, v.repo.store, id, name)
		if err != nil {
			return ManifestEntry{}, err
		}
		if !ok {
			break
		}
		if i == len(parts)-1 {
			if e.Kind != objects.KindDir {
				return manifestEntry(clean, e), nil
			}
			break
		}
		if e.Kind != objects.KindDir {
			break
		}
		id = e.ID
	}
	return ManifestEntry{}, fmt.Errorf("%w: %s has no file %q", ErrNotFound, v.Ref(), clean)
}

// Change is one difference between two versions.
type Change struct {
	Path string
	Op   string // "added", "removed" or "modified"
	Old  *ManifestEntry
	New  *ManifestEntry
}

// Diff compares the versions a and b name and returns what changed from a
// to b, sorted by path.
func (r *Repo) Diff(ctx context.Context, a, b string) ([]Change, error) {
	va, err := r.Resolve(ctx, a)
	if err != nil {
		return nil, err
	}
	vb, err := r.Resolve(ctx, b)
	if err != nil {
		return nil, err
	}
	var out []Change
	budget := diffBudget
	if err := r.diffTrees(ctx, va.Tree, vb.Tree, "", 0, &budget, &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// diffTrees appends to out what changed from directory a to directory b
// at path prefix. Equal IDs are equal content, so a subtree both share is
// skipped without being read: the cost grows with the change, and memory
// with the widest pair of directories compared (plus the changes).
//
// budget is what the whole comparison may still look at (entries compared
// and changes listed): two versions of at most MaxVersionFiles paths each
// never need more than twice that, while forged trees that differ at every
// level of a 2^40-path bomb would; they are refused as corrupt.
func (r *Repo) diffTrees(ctx context.Context, a, b objects.ID, prefix string, depth int, budget *int64, out *[]Change) error {
	if a == b {
		return nil
	}
	if depth > objects.MaxPathDepth {
		return fmt.Errorf("%w: %q nests deeper than %d", objects.ErrCorrupt, prefix, objects.MaxPathDepth)
	}
	ea, eb, err := r.diffEntries(ctx, a, b)
	if err != nil {
		return err
	}
	spend := func(n int) error {
		if *budget -= int64(n); *budget < 0 {
			return fmt.Errorf("%w: the trees of the two versions expand to more than %d entries", objects.ErrCorrupt, MaxVersionFiles)
		}
		return nil
	}
	if err := spend(len(ea) + len(eb)); err != nil {
		return err
	}
	// side adds every file under e (a file, or a whole subtree) as op.
	side := func(e objects.TreeEntry, op string) error {
		p := joinPath(prefix, e.Name)
		var ms []ManifestEntry
		if e.Kind == objects.KindDir {
			w := walk.Walker{
				Source:   walk.Cached(walk.Store(r.store)),
				MaxFiles: MaxVersionFiles,
				Enter: func(_ context.Context, d walk.Dir) error {
					// The subtree's depth counts from the version's root.
					if depth+1+d.Depth > objects.MaxPathDepth {
						return fmt.Errorf("%w: %q nests deeper than %d", objects.ErrCorrupt, d.Path, objects.MaxPathDepth)
					}
					return nil
				},
				Entry: func(_ context.Context, e walk.Entry) error {
					ms = append(ms, manifestEntry(e.Path, e.TreeEntry))
					return nil
				},
			}
			if err := w.Walk(ctx, e.ID, p); err != nil {
				return err
			}
		} else {
			ms = []ManifestEntry{manifestEntry(p, e)}
		}
		if err := spend(len(ms)); err != nil {
			return err
		}
		for k := range ms {
			c := Change{Path: ms[k].Path, Op: op}
			if op == "removed" {
				c.Old = &ms[k]
			} else {
				c.New = &ms[k]
			}
			*out = append(*out, c)
		}
		return nil
	}
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case j >= len(eb) || i < len(ea) && ea[i].Name < eb[j].Name:
			err = side(ea[i], "removed")
			i++
		case i >= len(ea) || eb[j].Name < ea[i].Name:
			err = side(eb[j], "added")
			j++
		default:
			x, y := ea[i], eb[j]
			i++
			j++
			switch dx, dy := x.Kind == objects.KindDir, y.Kind == objects.KindDir; {
			case dx && dy:
				err = r.diffTrees(ctx, x.ID, y.ID, joinPath(prefix, x.Name), depth+1, budget, out)
			case dx || dy:
				if err = side(x, "removed"); err == nil {
					err = side(y, "added")
				}
			default:
				p := joinPath(prefix, x.Name)
				mx, my := manifestEntry(p, x), manifestEntry(p, y)
				if mx != my {
					*out = append(*out, Change{Path: p, Op: "modified", Old: &mx, New: &my})
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dirLeaf is one leaf of a directory: the directory's tree itself, or a
// leaf of a split directory with what its index node claims of it.
type dirLeaf struct {
	id    objects.ID
	claim *objects.IndexChild // nil for a directory's own tree
}

// dirLeaves returns the leaves of the directory id in order, reading the
// directory's index nodes (a few per 100,000 entries) but no leaf, each
// index node checked against what its parent claims. A directory that is
// one tree is its own leaf.
func (r *Repo) dirLeaves(ctx context.Context, id objects.ID) ([]dirLeaf, error) {
	n, err := objects.ReadDirNode(ctx, r.store, id)
	if err != nil {
		return nil, err
	}
	if n.Tree != nil {
		return []dirLeaf{{id: id}}, nil
	}
	if err := objects.CheckTop(n.Index); err != nil {
		return nil, &objects.CorruptError{ID: id, Reason: err.Error()}
	}
	var out []dirLeaf
	var walk func(x *objects.TreeIndex) error
	walk = func(x *objects.TreeIndex) error {
		for i := range x.Children {
			c := &x.Children[i]
			if x.Level == 1 {
				out = append(out, dirLeaf{id: c.ID, claim: c})
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			cn, err := objects.ReadDirNode(ctx, r.store, c.ID)
			if err != nil {
				return err
			}
			if err := objects.CheckChild(x.Level, *c, cn); err != nil {
				return &objects.CorruptError{ID: c.ID, Reason: err.Error()}
			}
			if err := walk(cn.Index); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(n.Index)
}

// diffEntries reads the entries of the directories a and b that Diff must
// compare: all of them but those of the leaves both share. Leaves hold
// runs of entries contiguous in name order, so a leaf both directories
// have holds, in each, every entry whose name lies in its range: leaving
// it out on both sides leaves out equal entries only. A change in a
// directory of 100,000 entries then reads the leaves it touched, not the
// directory. Each leaf read is checked against its index node's claim.
func (r *Repo) diffEntries(ctx context.Context, a, b objects.ID) (ea, eb []objects.TreeEntry, err error) {
	la, err := r.dirLeaves(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	lb, err := r.dirLeaves(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	in := func(ls []dirLeaf) map[objects.ID]bool {
		m := make(map[objects.ID]bool, len(ls))
		for _, l := range ls {
			m[l.id] = true
		}
		return m
	}
	ina, inb := in(la), in(lb)
	read := func(ls []dirLeaf, other map[objects.ID]bool) ([]objects.TreeEntry, error) {
		var es []objects.TreeEntry
		for _, l := range ls {
			if other[l.id] {
				continue
			}
			n, err := objects.ReadDirNode(ctx, r.store, l.id)
			if err != nil {
				return nil, err
			}
			if l.claim != nil {
				err = objects.CheckChild(1, *l.claim, n)
			} else if n.Tree == nil {
				err = fmt.Errorf("%w: not a tree", objects.ErrMalformed)
			}
			if err != nil {
				return nil, &objects.CorruptError{ID: l.id, Reason: err.Error()}
			}
			if len(es)+len(n.Tree.Entries) > MaxVersionFiles {
				return nil, fmt.Errorf("%w: directory holds more than %d entries", objects.ErrCorrupt, MaxVersionFiles)
			}
			es = append(es, n.Tree.Entries...)
		}
		return es, nil
	}
	if ea, err = read(la, inb); err != nil {
		return nil, nil, err
	}
	eb, err = read(lb, ina)
	return ea, eb, err
}

// manifestEntry is the manifest entry of the file or reference e at p.
func manifestEntry(p string, e objects.TreeEntry) ManifestEntry {
	m := ManifestEntry{Path: p, Size: e.Size, Digest: e.ID, Exec: e.Exec}
	if e.Kind == objects.KindRef {
		m.Ref, m.RefDigest = e.URI, e.Digest
	}
	return m
}

// splitPath splits a cleaned artifact path into its components.
func splitPath(p string) []string { return strings.Split(p, "/") }
