package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// ProgressFunc reports progress of a long operation: done out of total
// bytes. It may be called from several goroutines at once.
type ProgressFunc func(done, total int64)

// LogOptions tune Repo.Log. A nil *LogOptions is the zero value.
type LogOptions struct {
	// Aliases to point at the logged version (new or existing).
	Aliases []string
	// Run is the ID of the run producing this version, recorded in its
	// commit ("" for none).
	Run string
	// Progress, if set, is called as file bytes are stored.
	Progress ProgressFunc
}

// Version is one version of an artifact in a repository.
type Version struct {
	refs.Version
	repo *Repo
}

// Log stores the artifact's content and records it as the next version of
// its name, returning the version and whether it was created. If the
// content (the root tree, i.e. the digest) equals an existing version's,
// nothing new is recorded: that version is returned with created false and
// the aliases are applied to it.
//
// Every object is durable before the version is recorded; the version, its
// number and its aliases are written in one transaction. Nothing is written
// when the name, type, aliases or metadata are invalid or the type does not
// match the artifact's first version.
func (r *Repo) Log(ctx context.Context, a *Artifact, opts *LogOptions) (Version, bool, error) {
	if opts == nil {
		opts = &LogOptions{}
	}
	if a.repo != r {
		return Version{}, false, errors.New("log: artifact belongs to another repository")
	}
	if err := a.validate(opts.Aliases); err != nil {
		return Version{}, false, err
	}
	if typ, err := r.index().ArtifactType(ctx, a.Name); err == nil && typ != a.Type {
		return Version{}, false, fmt.Errorf("%w: %s has type %q, not %q", refs.ErrTypeMismatch, a.Name, typ, a.Type)
	}
	root, size, files, err := r.storeContent(ctx, a, opts.Progress)
	if err != nil {
		return Version{}, false, err
	}
	meta, _ := objects.CanonicalJSON(a.metadataJSON())
	var out refs.Version
	created := false
	err = r.writeTx(ctx, func(tx *sql.Tx) error {
		idx := refs.NewIndex(tx)
		if err := idx.EnsureArtifact(ctx, a.Name, a.Type); err != nil {
			return err
		}
		existing, err := idx.FindByTree(ctx, a.Name, root)
		switch {
		case err == nil:
			out = existing
		case errors.Is(err, refs.ErrNotFound):
			out, err = r.newVersion(ctx, idx, a, root, size, files, meta, opts.Run)
			if err != nil {
				return err
			}
			created = true
		default:
			return err
		}
		for _, al := range opts.Aliases {
			if _, err := idx.SetAlias(ctx, a.Name, al, out.Version); err != nil {
				return err
			}
		}
		out, err = idx.Resolve(ctx, refs.Ref{Name: a.Name, Kind: refs.ByVersion, Version: out.Version})
		return err
	})
	if err != nil {
		return Version{}, false, fmt.Errorf("log %s: %w", a.Name, err)
	}
	return Version{Version: out, repo: r}, created, nil
}

// newVersion allocates the next number, writes the commit object and
// indexes it. It runs inside Log's write transaction.
func (r *Repo) newVersion(ctx context.Context, idx *refs.Index, a *Artifact, root objects.ID,
	size, files int64, meta []byte, run string) (refs.Version, error) {
	n, err := idx.AllocateVersion(ctx, a.Name)
	if err != nil {
		return refs.Version{}, err
	}
	var parent objects.ID
	if prev, err := idx.Latest(ctx, a.Name); err == nil {
		parent = prev.Commit
	} else if !errors.Is(err, refs.ErrNotFound) {
		return refs.Version{}, err
	}
	c := &objects.Commit{Name: a.Name, Type: a.Type, Version: n, Tree: root, Parent: parent,
		Created: r.now().UTC(), Run: run, Description: a.Description, Metadata: meta}
	enc, err := c.Encode()
	if err != nil {
		return refs.Version{}, err
	}
	id, err := objects.PutBytes(ctx, r.store, enc)
	if err != nil {
		return refs.Version{}, err
	}
	v := refs.Version{Name: a.Name, Type: a.Type, Version: n, Commit: id, Tree: root, Size: size,
		Files: files, Created: c.Created, Description: a.Description, Metadata: meta, Producer: run}
	return v, idx.Insert(ctx, v)
}

// storeContent writes every file of a to the store (files in parallel,
// each streamed, read once) and then its trees, returning the root tree ID,
// total size and entry count.
func (r *Repo) storeContent(ctx context.Context, a *Artifact, progress ProgressFunc) (objects.ID, int64, int64, error) {
	a.mu.Lock()
	paths := a.paths()
	srcs := make([]source, len(paths))
	var total int64
	for i, p := range paths {
		srcs[i] = a.entries[p]
		if srcs[i].local != "" {
			total += srcs[i].size
		}
	}
	a.mu.Unlock()

	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * runtime.GOMAXPROCS(0))
	for i := range srcs {
		if srcs[i].local == "" {
			continue
		}
		g.Go(func() error {
			src := &srcs[i]
			f, err := r.fs.Open(src.local)
			if err != nil {
				return fmt.Errorf("read %s: %w", src.local, err)
			}
			defer f.Close()
			var rd = readerFunc(f.Read)
			if progress != nil {
				rd = func(p []byte) (int, error) {
					n, err := f.Read(p)
					progress(done.Add(int64(n)), total)
					return n, err
				}
			}
			id, n, err := r.store.Put(gctx, rd)
			if err != nil {
				return fmt.Errorf("store %s: %w", src.local, err)
			}
			src.blob, src.size = id, n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return objects.ZeroID, 0, 0, err
	}

	root := &dirNode{}
	var size int64
	for i, p := range paths {
		src := srcs[i]
		e := objects.TreeEntry{Kind: objects.KindFile, ID: src.blob, Size: src.size, Exec: src.exec}
		if src.isRef {
			e = objects.TreeEntry{Kind: objects.KindRef, Size: src.size, URI: src.uri, Digest: src.digest}
		}
		if e.Size > 0 {
			size += e.Size
		}
		root.insert(strings.Split(p, "/"), e)
	}
	id, err := root.write(ctx, r.store)
	return id, size, int64(len(paths)), err
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// dirNode is a directory being assembled into a tree.
type dirNode struct {
	entries []objects.TreeEntry
	subdirs map[string]*dirNode
}

func (d *dirNode) insert(parts []string, e objects.TreeEntry) {
	if len(parts) == 1 {
		e.Name = parts[0]
		d.entries = append(d.entries, e)
		return
	}
	if d.subdirs == nil {
		d.subdirs = map[string]*dirNode{}
	}
	sub := d.subdirs[parts[0]]
	if sub == nil {
		sub = &dirNode{}
		d.subdirs[parts[0]] = sub
	}
	sub.insert(parts[1:], e)
}

// write stores d's subtrees, then d, and returns d's tree ID.
func (d *dirNode) write(ctx context.Context, s objects.Putter) (objects.ID, error) {
	names := make([]string, 0, len(d.subdirs))
	for name := range d.subdirs {
		names = append(names, name)
	}
	sort.Strings(names)
	t := &objects.Tree{Entries: append([]objects.TreeEntry(nil), d.entries...)}
	for _, name := range names {
		id, err := d.subdirs[name].write(ctx, s)
		if err != nil {
			return objects.ZeroID, err
		}
		t.Entries = append(t.Entries, objects.TreeEntry{Name: name, Kind: objects.KindDir, ID: id})
	}
	enc, err := t.Encode()
	if err != nil {
		return objects.ZeroID, err
	}
	return objects.PutBytes(ctx, s, enc)
}
