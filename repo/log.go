package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"time"

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
	unlockGC := func() {}
	defer func() { unlockGC() }()
	for attempt := 0; ; attempt++ {
		if attempt == gcRetriesUnlocked {
			// GCs keep overlapping this commit: wait for the one in
			// progress and hold the next off until the version is
			// recorded. Without the lock, the retries go on as before.
			if unlock, lerr := r.lockGC(false); lerr == nil {
				unlockGC = unlock
			}
		}
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
		if c.cache != nil {
			c.cache.close(err == nil && c.reads > 0)
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
// a version whose objects a GC may have collected. From attempt
// gcRetriesUnlocked on it holds the gc lock, so only a GC that the lock
// does not order (another process on a file system without flock) can
// race it that often.
const maxGCRetries = 8

// content is what storeContent stored.
type content struct {
	root      objects.ID // the root tree: the digest
	size      int64      // bytes of files and sized references
	files     int64      // entries
	cacheHits int        // files taken from the stat cache, unread
	reads     int        // files read
	added     int64      // bytes of the objects this store created
	cache     *statCaches
}

// storeContent writes every file of a to the store and then its trees,
// streaming (see commitwalk.go): directories are listed and built one at
// a time, depth first, while files are stored on a bounded pool of
// workers, each streamed and read once (hashed while it is copied);
// files whose stat matches the stat cache are not read at all (when
// useCache is set). All objects are written as one Batch and made durable
// by a single Sync before storeContent returns. The caller closes
// c.cache, publishing the new stat cache once the version is recorded.
func (r *Repo) storeContent(ctx context.Context, a *Artifact, progress ProgressFunc, useCache bool, gen int64) (content, error) {
	c := content{cache: r.newStatCaches(gen, useCache)}
	ok := false
	defer func() {
		if !ok {
			c.cache.close(false)
		}
	}()
	a.mu.Lock()
	root := a.shape()
	a.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := &builder{r: r, batch: r.store.NewBatch(), cache: c.cache, progress: progress,
		statAt: time.Now().UnixNano(), sem: make(chan struct{}, storeWorkers()),
		dirSem: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), ctx: ctx, stop: cancel}
	id, _, err := b.dir(root, root.mounts, "", 0)
	b.wg.Wait()
	if ferr := b.failed(); ferr != nil {
		err = ferr
	}
	if err != nil {
		return c, err
	}
	c.root = id
	if err := b.batch.Sync(ctx); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// A GC collected an object of ours before it was synced.
			return c, errGCRaced
		}
		return c, err
	}
	c.files, c.size = b.files.Load(), b.size.Load()
	c.cacheHits, c.reads = int(b.cacheHits.Load()), int(b.reads.Load())
	c.added = b.batch.Added()
	ok = true
	return c, nil
}

// storeWorkers is how many files are stored at once: enough to keep every
// core hashing while others wait on I/O.
func storeWorkers() int { return 4 * runtime.GOMAXPROCS(0) }

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
