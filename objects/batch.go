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
type Batch struct {
	s     *FSStore
	mu    sync.Mutex
	files []string // objects this batch created or reused unsynced
	added int64    // bytes of the objects this batch created
	made  int      // how many objects this batch created
}

// syncEachMax is the most objects a Batch syncs one by one; above it,
// Sync uses one SyncFS where the file system has it.
const syncEachMax = 64

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
	b.files = append(b.files, path)
	b.added += n
	b.made++
	b.mu.Unlock()
}

// reused records an existing file the batch relies on, which another
// writer may not have synced yet.
func (b *Batch) reused(path string) {
	b.mu.Lock()
	b.files = append(b.files, path)
	b.mu.Unlock()
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
	b.mu.Unlock()
	if len(files) == 0 || b.s.NoSync {
		return nil
	}
	// syncfs flushes everything dirty on the file system, the user's own
	// fresh files included; for a few objects, fsyncs of just those are
	// cheaper. Past that, one call beats thousands.
	if len(files) > syncEachMax {
		if err := syncWholeFS(b.s.fs, b.s.dir); err == nil {
			return nil
		} else if !errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("sync objects: %w", err)
		}
	}
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
