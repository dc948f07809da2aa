package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/lineage"
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
	// commit ("" for none). It must name a running run: an unknown run
	// (ErrRunNotFound) or one that has ended (ErrRunNotRunning) is refused
	// before anything is written. The run's output edge is recorded in the
	// version's transaction.
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
// match the artifact's first version, or when opts.Run does not name a
// running run.
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
	if opts.Run != "" {
		if _, err := r.lineage().Running(ctx, opts.Run); err != nil {
			return Version{}, false, fmt.Errorf("log %s: %w", a.Name, err)
		}
	}
	meta, _ := objects.CanonicalJSON(a.metadataJSON())
	var out refs.Version
	created := false
	var err error
	for attempt := 0; ; attempt++ {
		var gen int64
		if gen, err = gcGeneration(ctx, r.db); err != nil {
			return Version{}, false, err
		}
		var c content
		// The stat cache is used on the first attempt only: a retry
		// follows a GC, which may have collected what it names.
		c, err = r.storeContent(ctx, a, opts.Progress, attempt == 0, gen)
		if errors.Is(err, errGCRaced) && attempt < maxGCRetries {
			continue
		}
		if err != nil {
			return Version{}, false, fmt.Errorf("log %s: %w", a.Name, err)
		}
		err = r.writeTx(ctx, func(tx *sql.Tx) error {
			// A GC that ran while the files were stored may have deleted
			// objects they reused (or the stat cache named): store again.
			if now, err := gcGeneration(ctx, tx); err != nil {
				return err
			} else if now != gen {
				return errGCRaced
			}
			idx := refs.NewIndex(tx)
			if opts.Run != "" { // again, now that the run cannot end before we commit
				if _, err := lineage.NewIndex(tx).Running(ctx, opts.Run); err != nil {
					return err
				}
			}
			if err := idx.EnsureNewArtifact(ctx, a.Name, a.Type); err != nil {
				return err
			}
			existing, err := idx.FindByTree(ctx, a.Name, c.root)
			switch {
			case err == nil:
				out = existing
			case errors.Is(err, refs.ErrNotFound):
				out, err = r.newVersion(ctx, idx, a, c, meta, opts.Run)
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
			if opts.Run != "" {
				if err := lineage.NewIndex(tx).AddOutput(ctx, opts.Run, out.Commit, created); err != nil {
					return err
				}
			}
			out, err = idx.Resolve(ctx, refs.Ref{Name: a.Name, Kind: refs.ByVersion, Version: out.Version})
			return err
		})
		if err == nil && c.reads > 0 {
			r.saveStatCache(c.srcs, gen)
		}
		if !errors.Is(err, errGCRaced) || attempt >= maxGCRetries {
			break
		}
	}
	if err != nil {
		return Version{}, false, fmt.Errorf("log %s: %w", a.Name, err)
	}
	if created || len(opts.Aliases) > 0 {
		r.saveRefDoc(ctx, a.Name)
	}
	return Version{Version: out, repo: r}, created, nil
}

// newVersion allocates the next number, writes the commit object and
// indexes it. It runs inside Log's write transaction.
func (r *Repo) newVersion(ctx context.Context, idx *refs.Index, a *Artifact, c content, meta []byte, run string) (refs.Version, error) {
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
	cm := &objects.Commit{Name: a.Name, Type: a.Type, Version: n, Tree: c.root, Parent: parent,
		Created: r.now().UTC(), Run: run, Description: a.Description, Metadata: meta}
	enc, err := cm.Encode()
	if err != nil {
		return refs.Version{}, err
	}
	id, err := objects.PutBytes(ctx, r.store, enc)
	if err != nil {
		return refs.Version{}, err
	}
	v := refs.Version{Name: a.Name, Type: a.Type, Version: n, Commit: id, Tree: c.root, Size: c.size,
		Files: c.files, Added: c.added + int64(len(enc)), Created: cm.Created, Description: a.Description,
		Metadata: meta, Producer: run}
	return v, idx.Insert(ctx, v)
}

// maxGCRetries bounds how often Log stores its files again because GCs
// kept overlapping it; past that it fails (errGCRaced) rather than record
// a version whose objects a GC may have collected.
const maxGCRetries = 8

// content is what storeContent stored.
type content struct {
	root      objects.ID // the root tree: the digest
	size      int64      // bytes of files and sized references
	files     int64      // entries
	cacheHits int        // files taken from the stat cache, unread
	reads     int        // files read
	added     int64      // bytes of the objects this store created
	srcs      []source   // every source, with its blob, for the stat cache
}

// storeContent writes every file of a to the store and then its trees.
// Files go through a bounded worker pool, each streamed and read once
// (hashed while it is copied); files whose stat matches the stat cache are
// not read at all (when useCache is set). All objects are written as one
// Batch and made durable by a single Sync before storeContent returns.
func (r *Repo) storeContent(ctx context.Context, a *Artifact, progress ProgressFunc, useCache bool, gen int64) (content, error) {
	var c content
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

	var cache map[string]cacheEntry
	if useCache {
		cache = r.loadStatCache(srcs, gen)
	}
	batch := r.store.NewBatch()
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeWorkers())
	for i := range srcs {
		src := &srcs[i]
		if src.local == "" {
			continue
		}
		if e, ok := cache[src.abs]; ok && e.stat == src.stat {
			src.blob = e.blob
			c.cacheHits++
			if progress != nil {
				progress(done.Add(src.size), total)
			}
			continue
		}
		c.reads++
		g.Go(func() error {
			f, err := objects.OpenFile(r.fs, src.local)
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
			id, n, err := batch.PutSized(gctx, rd, src.stat.Size)
			if err != nil {
				return fmt.Errorf("store %s: %w", src.local, err)
			}
			if n != src.stat.Size {
				src.abs = "" // changed since it was added: do not cache
			}
			src.blob, src.size = id, n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return c, err
	}

	root := &dirNode{}
	for i, p := range paths {
		src := srcs[i]
		e := objects.TreeEntry{Kind: objects.KindFile, ID: src.blob, Size: src.size, Exec: src.exec}
		if src.isRef {
			e = objects.TreeEntry{Kind: objects.KindRef, Size: src.size, URI: src.uri, Digest: src.digest}
		}
		if e.Size > 0 {
			c.size += e.Size
		}
		root.insert(strings.Split(p, "/"), e)
	}
	var err error
	if c.root, err = root.write(ctx, batch); err != nil {
		return c, err
	}
	if err := batch.Sync(ctx); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// A GC collected an object of ours before it was synced.
			return c, errGCRaced
		}
		return c, err
	}
	c.files = int64(len(paths))
	c.srcs = srcs
	c.added = batch.Added()
	return c, nil
}

// storeWorkers is how many files are stored at once: enough to keep every
// core hashing while others wait on I/O.
func storeWorkers() int { return 4 * runtime.GOMAXPROCS(0) }

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
func (d *dirNode) write(ctx context.Context, s *objects.Batch) (objects.ID, error) {
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
	return s.PutBytes(ctx, enc)
}
