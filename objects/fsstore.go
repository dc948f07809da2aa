package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"
)

// tempPrefix marks objects being written; List skips them and gc removes
// stale ones.
const tempPrefix = ".tmp-"

// FSStore is a Store of loose, read-only files on an afero.Fs:
// DIR/ab/cdef… for the object abcdef…. Each file holds the object's raw
// bytes, so a checkout can copy or clone it directly.
type FSStore struct {
	fs  afero.Fs
	dir string
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// NoSync skips fsync calls; callers that sync in a batch set it.
	NoSync bool
}

var _ Store = (*FSStore)(nil)

// NewFSStore returns a store rooted at dir on fsys, creating dir if needed.
func NewFSStore(fsys afero.Fs, dir string) (*FSStore, error) {
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create object store: %w", err)
	}
	return &FSStore{fs: fsys, dir: dir, Now: time.Now}, nil
}

// Dir returns the store's root directory.
func (s *FSStore) Dir() string { return s.dir }

// Fs returns the file system the store is on.
func (s *FSStore) Fs() afero.Fs { return s.fs }

// Path returns the file that holds id (which may not exist).
func (s *FSStore) Path(id ID) string {
	h := id.String()
	return filepath.Join(s.dir, h[:2], h[2:])
}

// Open implements Getter.
func (s *FSStore) Open(ctx context.Context, id ID) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := OpenFile(s.fs, s.Path(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("open object %s: %w", id, err)
	}
	return NewVerifyingReader(f, id), nil
}

// Stat implements Getter.
func (s *FSStore) Stat(ctx context.Context, id ID) (Info, error) {
	fi, err := s.fs.Stat(s.Path(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return Info{}, fmt.Errorf("stat object %s: %w", id, err)
	}
	return Info{ID: id, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Put implements Putter.
func (s *FSStore) Put(ctx context.Context, r io.Reader) (ID, int64, error) {
	return s.put(ctx, r, nil, nil)
}

// PutExpect implements Putter.
func (s *FSStore) PutExpect(ctx context.Context, want ID, r io.Reader) (int64, error) {
	_, n, err := s.put(ctx, r, &want, nil)
	return n, err
}

// PutBytes stores b. Its ID is computed first, so an object that already
// exists costs one stat and a modification-time refresh, not a write.
func (s *FSStore) PutBytes(ctx context.Context, b []byte) (ID, error) {
	return s.putBytes(ctx, b, nil)
}

func (s *FSStore) putBytes(ctx context.Context, b []byte, batch *Batch) (ID, error) {
	id := Hash(b)
	if ok, _, err := s.refresh(id); err != nil || ok {
		return id, err
	}
	_, _, err := s.put(ctx, bytes.NewReader(b), &id, batch)
	return id, err
}

// refresh sets the modification time of an existing object to now and
// reports whether it exists, and its size.
func (s *FSStore) refresh(id ID) (bool, int64, error) {
	final := s.Path(id)
	fi, err := s.fs.Stat(final)
	if err != nil {
		return false, 0, nil
	}
	now := s.Now()
	if err := s.fs.Chtimes(final, now, now); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, 0, nil
		}
		return true, 0, fmt.Errorf("refresh object %s: %w", id, err)
	}
	return true, fi.Size(), nil
}

// put writes r to a pending file in the store directory while hashing it
// (one read of r), then, in order: syncs the file (unless batched); links
// it into place under its ID, which fails if the object already exists, in
// which case the pending file is dropped and the object's mtime refreshed;
// and syncs the object's directory so the link itself is durable. A
// pending file is anonymous where the OS allows (it vanishes on a crash)
// and otherwise a temp file removed on every error path.
func (s *FSStore) put(ctx context.Context, r io.Reader, want *ID, batch *Batch) (id ID, n int64, err error) {
	sync := !s.NoSync && batch == nil
	if err := ctx.Err(); err != nil {
		return id, 0, err
	}
	pf, err := CreatePending(s.fs, s.dir, tempPrefix, 0o444)
	if err != nil {
		return id, 0, fmt.Errorf("create temp object: %w", err)
	}
	defer pf.Abort()
	h := hasherPool.Get().(*Hasher)
	defer hasherPool.Put(h)
	h.Reset()
	buf := copyBufPool.Get().(*[]byte)
	n, err = io.CopyBuffer(io.MultiWriter(pf, h), ctxReader{ctx, r}, *buf)
	copyBufPool.Put(buf)
	if err != nil {
		return id, n, fmt.Errorf("write object: %w", err)
	}
	id = h.Sum()
	if want != nil && id != *want {
		return id, n, &CorruptError{ID: *want, Reason: "received content hashes to " + id.String()}
	}
	if sync {
		if err := pf.Sync(); err != nil {
			return id, n, fmt.Errorf("sync object %s: %w", id, err)
		}
	}
	final := s.Path(id)
	sub := filepath.Dir(final)
	for attempt := 0; ; attempt++ {
		err = pf.Link(final)
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			if err := s.mkdir(sub, sync); err != nil {
				return id, n, err
			}
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		// Already stored, by us earlier or by a concurrent writer: reuse
		// it, after refreshing it for gc's grace period.
		ok, size, err := s.refresh(id)
		if err != nil {
			return id, n, err
		}
		if !ok && attempt < 3 {
			continue // collected meanwhile: publish ours after all
		}
		if ok && size != n {
			// A damaged copy (truncated by a crash of another tool, say):
			// replace it with the bytes just verified.
			err = pf.Replace(final)
			break
		}
		// Another writer may not have synced it yet: it is durable only
		// once we have synced it too.
		if batch != nil {
			batch.written(final)
		} else if sync {
			if err := syncFile(s.fs, final); err != nil {
				return id, n, fmt.Errorf("sync object %s: %w", id, err)
			}
		}
		return id, n, nil
	}
	if err != nil {
		return id, n, fmt.Errorf("store object %s: %w", id, err)
	}
	if batch != nil {
		batch.written(final)
	}
	if sync {
		if err := SyncDir(s.fs, sub); err != nil {
			return id, n, fmt.Errorf("sync object dir: %w", err)
		}
	}
	return id, n, nil
}

var hasherPool = sync.Pool{New: func() any { return NewHasher() }}

func (s *FSStore) mkdir(dir string, sync bool) error {
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create object dir: %w", err)
	}
	if sync {
		if err := SyncDir(s.fs, s.dir); err != nil {
			return fmt.Errorf("sync object dir: %w", err)
		}
	}
	return nil
}

// List implements Lister.
func (s *FSStore) List(ctx context.Context, fn func(Info) error) error {
	subs, err := afero.ReadDir(s.fs, s.dir)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		files, err := afero.ReadDir(s.fs, filepath.Join(s.dir, sub.Name()))
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		for _, f := range files {
			id, err := ParseID(sub.Name() + f.Name())
			if err != nil || f.IsDir() {
				continue // not an object file
			}
			if err := fn(Info{ID: id, Size: f.Size(), ModTime: f.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements Deleter.
func (s *FSStore) Delete(ctx context.Context, id ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.fs.Remove(s.Path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("delete object %s: %w", id, err)
	}
	return nil
}

// RemoveStaleTemps deletes temp files left by writes that were interrupted
// (a crash, a kill) and are older than cutoff. It returns how many it
// removed.
func (s *FSStore) RemoveStaleTemps(cutoff time.Time) (int, error) {
	entries, err := afero.ReadDir(s.fs, s.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.ModTime().Before(cutoff) {
			if err := s.fs.Remove(path.Join(s.dir, e.Name())); err == nil {
				n++
			}
		}
	}
	return n, nil
}

// SyncDir fsyncs a directory so that renames and creations inside it are
// durable. It is a no-op on file systems without directory sync.
func SyncDir(fsys afero.Fs, dir string) error {
	f, err := fsys.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !isSyncUnsupported(err) {
		return err
	}
	return nil
}

func isSyncUnsupported(err error) bool {
	var pe *os.PathError
	if errors.As(err, &pe) {
		// EINVAL: the file system does not support syncing directories.
		return errors.Is(pe.Err, errEINVAL)
	}
	return false
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// ctxReader stops a long copy when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// VerifyingReader hashes what it reads and reports a *CorruptError at the
// end if the content does not match the expected ID.
type VerifyingReader struct {
	r    io.ReadCloser
	want ID
	h    *Hasher
	err  error
}

// NewVerifyingReader wraps r, which should yield the object want.
func NewVerifyingReader(r io.ReadCloser, want ID) *VerifyingReader {
	return &VerifyingReader{r: r, want: want, h: NewHasher()}
}

// Read implements io.Reader. At EOF it returns io.EOF only if everything
// read hashed to the expected ID; otherwise a *CorruptError.
func (v *VerifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := v.h.Sum(); got != v.want {
			v.err = &CorruptError{ID: v.want, Reason: "content hashes to " + got.String()}
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = err
	}
	return n, err
}

// Close closes the underlying reader.
func (v *VerifyingReader) Close() error { return v.r.Close() }
