package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/afero"
	"golang.org/x/sync/errgroup"
)

// Batch writes many objects to an FSStore and makes them durable together:
// its puts skip the per-object fsync, and Sync then flushes them all at
// once (above syncEachMax objects, one FSSyncer.SyncFS of the store's
// file system where it has one, syncfs(2) on Linux, like git's
// core.fsyncMethod=batch). Objects written by a batch are visible at once
// but are durable only after Sync returns nil; record nothing that names
// them before that. A Batch is safe for concurrent use.
//
// A Batch's memory is bounded whatever its size: it lists at most
// batchListMax unsynced objects. When the list fills, the batch makes
// them durable early, with one SyncFS (after which it lists nothing more:
// Sync ends with another SyncFS) or, where there is none, by fsyncing
// them and starting a new list.
type Batch struct {
	s     *FSStore
	mu    sync.Mutex
	files []string // objects this batch created or reused unsynced
	whole bool     // SyncFS works here: Sync syncs the file system, files is unused
	err   error    // the first early sync's failure, returned by Sync
	added int64    // bytes of the objects this batch created
	made  int      // how many objects this batch created
}

// syncEachMax is the most objects a Batch syncs one by one; above it,
// Sync uses one SyncFS where the file system has it.
const syncEachMax = 64

// batchListMax is the most unsynced objects a Batch lists (about 100 bytes
// each) before it makes them durable early.
var batchListMax = 16384

// NewBatch starts a batch of writes to s.
func (s *FSStore) NewBatch() *Batch { return &Batch{s: s} }

// Put is FSStore.Put without the fsync.
func (b *Batch) Put(ctx context.Context, r io.Reader) (ID, int64, error) {
	return b.s.put(ctx, r, nil, b)
}

// PutExpect is FSStore.PutExpect without the fsync.
func (b *Batch) PutExpect(ctx context.Context, want ID, r io.Reader) (int64, error) {
	_, n, err := b.s.put(ctx, r, &want, b)
	return n, err
}

// PutSized is FSStore.PutSized without the fsync.
func (b *Batch) PutSized(ctx context.Context, r io.Reader, size int64) (ID, int64, error) {
	return b.s.putSized(ctx, r, size, b)
}

// PutBytes is FSStore.PutBytes without the fsync.
func (b *Batch) PutBytes(ctx context.Context, p []byte) (ID, error) {
	return b.s.putBytes(ctx, p, b)
}

// written records a file the batch created, of n bytes.
func (b *Batch) written(path string, n int64) {
	b.mu.Lock()
	b.added += n
	b.made++
	b.note(path)
}

// reused records an existing file the batch relies on, which another
// writer may not have synced yet.
func (b *Batch) reused(path string) {
	b.mu.Lock()
	b.note(path)
}

// note lists path as unsynced and unlocks b.mu; when the list is full it
// first makes the listed objects durable (see Batch).
func (b *Batch) note(path string) {
	if b.whole || b.s.NoSync {
		b.mu.Unlock()
		return
	}
	b.files = append(b.files, path)
	if len(b.files) < batchListMax {
		b.mu.Unlock()
		return
	}
	files := b.files
	b.files = nil
	if err := syncWholeFS(b.s.fs, b.s.dir); err == nil {
		b.whole = true
		b.mu.Unlock()
		return
	} else if !errors.Is(err, errors.ErrUnsupported) {
		if b.err == nil {
			b.err = fmt.Errorf("sync objects: %w", err)
		}
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	if err := b.syncEach(context.Background(), files); err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
}

// Created returns how many new objects (chunk lists included) the batch
// wrote.
func (b *Batch) Created() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.made
}

// Added returns how many bytes the batch added to the store: the sizes of
// the objects and chunk lists it created.
func (b *Batch) Added() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.added
}

// Sync makes every object the batch wrote durable: their contents and the
// directory entries naming them. It returns the first error; an error
// means the objects may not survive a crash and must not be recorded.
func (b *Batch) Sync(ctx context.Context) error {
	b.mu.Lock()
	files := append([]string(nil), b.files...)
	whole, early := b.whole, b.err
	b.mu.Unlock()
	if early != nil {
		return early
	}
	if b.s.NoSync || len(files) == 0 && !whole {
		return nil
	}
	// syncfs flushes everything dirty on the file system, the user's own
	// fresh files included; for a few objects, fsyncs of just those are
	// cheaper. Past that, one call beats thousands.
	if whole || len(files) > syncEachMax {
		if err := syncWholeFS(b.s.fs, b.s.dir); err == nil {
			return nil
		} else if whole || !errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("sync objects: %w", err)
		}
	}
	return b.syncEach(ctx, files)
}

// syncEach makes files durable one by one (see Sync).
func (b *Batch) syncEach(ctx context.Context, files []string) error {
	// Few objects, or no syncfs: fsync each file in parallel, then each
	// directory, those holding chunk lists last: a list must not become
	// durable before the chunks it names, or a crash (or a failed sync)
	// in between would leave a list naming missing chunks, which readers
	// take for a stored blob. (One syncfs cannot order them; if it fails,
	// the batch fails and nothing names the objects.)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	dirs := map[string]bool{b.s.dir: true}
	listDirs := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, ChunkListSuffix) {
			listDirs[filepath.Dir(f)] = true
		} else {
			dirs[filepath.Dir(f)] = true
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return syncFile(b.s.fs, f)
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("sync objects: %w", err)
	}
	for d := range dirs {
		if listDirs[d] {
			continue // below, with the lists
		}
		if err := SyncDir(b.s.fs, d); err != nil {
			return fmt.Errorf("sync objects: %w", err)
		}
	}
	for d := range listDirs {
		if err := SyncDir(b.s.fs, d); err != nil {
			return fmt.Errorf("sync objects: %w", err)
		}
	}
	return nil
}

func syncFile(fsys afero.Fs, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
