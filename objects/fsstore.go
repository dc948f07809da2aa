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
// bytes, so a checkout can copy or clone it directly. Objects written in
// bulk (by a PackWriter, and a chunked file's new chunks) lie in pack files
// under DIR/pack instead, also as raw bytes; every method but Path serves
// both.
type FSStore struct {
	fs  afero.Fs
	dir string
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// NoSync skips fsync calls; callers that sync in a batch set it.
	NoSync bool
	// Chunking, if set, makes PutSized store content of at least
	// Chunking.MinFileSize as a chunked blob (see ChunkList). It must be
	// valid (Chunking.Validate). Reads understand chunked blobs whatever
	// it is set to.
	Chunking *Chunking

	packs packScan // the local packs' indexes (see PackWriter)
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
			if pf, loc, ok, err := s.openPacked(id); err != nil {
				return nil, err
			} else if ok {
				return NewVerifyingReader(sectionCloser{io.NewSectionReader(pf, loc.Off, loc.Size), pf}, id), nil
			}
			l, lerr := s.ReadChunkList(ctx, id)
			if errors.Is(lerr, ErrNotFound) {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
			}
			if lerr != nil {
				return nil, lerr
			}
			return s.openChunked(ctx, l, true)
		}
		return nil, fmt.Errorf("open object %s: %w", id, err)
	}
	return NewVerifyingReader(f, id), nil
}

// Stat implements Getter. For a chunked blob it reads the chunk list's
// header for the size; Info.Chunked is set and Info.Stored is the list's
// own size.
func (s *FSStore) Stat(ctx context.Context, id ID) (Info, error) {
	fi, err := s.fs.Stat(s.Path(id))
	if err == nil {
		return Info{ID: id, Size: fi.Size(), Stored: fi.Size(), ModTime: fi.ModTime()}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("stat object %s: %w", id, err)
	}
	if info, ok, err := s.statPacked(id); ok || err != nil {
		return info, err
	}
	info, err := s.statList(id, s.ListPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return info, err
}

// statList returns the Info of the chunk list file name, for blob id,
// reading the size from the list's header.
func (s *FSStore) statList(id ID, name string) (Info, error) {
	f, err := OpenFile(s.fs, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, err
		}
		return Info{}, fmt.Errorf("stat chunk list %s: %w", id, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("stat chunk list %s: %w", id, err)
	}
	var head [len(ChunkListHeader) + 2*IDSize + 32]byte
	k, err := io.ReadFull(f, head[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Info{}, fmt.Errorf("read chunk list %s: %w", id, err)
	}
	size, ok := chunkListSize(head[:k])
	if !ok {
		return Info{}, &CorruptError{ID: id, Reason: "chunk list has no valid header"}
	}
	return Info{ID: id, Size: size, Stored: fi.Size(), ModTime: fi.ModTime(), Chunked: true}, nil
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
	return id, s.putHashed(ctx, id, b, batch)
}

// putHashed stores b, whose ID the caller has just computed as id. An
// object that exists costs a stat and a modification-time refresh.
func (s *FSStore) putHashed(ctx context.Context, id ID, b []byte, batch *Batch) error {
	if p, size, ok, err := s.refreshStored(id); err != nil {
		return err
	} else if ok && size == int64(len(b)) {
		return s.reuse(p, batch)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pf, err := CreatePending(s.fs, s.dir, tempPrefix, 0o444)
	if err != nil {
		return fmt.Errorf("create temp object: %w", err)
	}
	defer pf.Abort()
	if _, err := pf.Write(b); err != nil {
		return fmt.Errorf("write object: %w", err)
	}
	// Loose and packed copies were looked for above.
	return s.publishAt(pf, id, s.Path(id), int64(len(b)), batch)
}

// reuse makes an existing object file, which another writer may not have
// synced yet, durable before the caller records anything naming it: now
// if there is no batch, else when the batch syncs.
func (s *FSStore) reuse(final string, batch *Batch) error {
	if batch != nil {
		batch.reused(final)
		return nil
	}
	if s.NoSync {
		return nil
	}
	if err := syncFile(s.fs, final); err != nil {
		return fmt.Errorf("sync object %s: %w", filepath.Base(final), err)
	}
	return nil
}

// refreshStored sets the modification time of the stored object id (its
// loose file, else its pack's index) to now and reports whether it exists,
// its size, and the file that was refreshed.
func (s *FSStore) refreshStored(id ID) (string, int64, bool, error) {
	p := s.Path(id)
	ok, size, err := s.refreshFile(id, p)
	if ok || err != nil {
		return p, size, ok, err
	}
	return s.refreshPacked(id)
}

func (s *FSStore) refreshFile(id ID, final string) (bool, int64, error) {
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
// (one read of r), then publishes it under its ID (see publish). A
// pending file is anonymous where the OS allows (it vanishes on a crash)
// and otherwise a temp file removed on every error path.
func (s *FSStore) put(ctx context.Context, r io.Reader, want *ID, batch *Batch) (id ID, n int64, err error) {
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
	return id, n, s.publish(pf, id, n, batch)
}

// publish makes the pending file pf, holding the n bytes of object id,
// the object, in order: syncs the file (unless batched); links it into
// place under its ID, which fails if the object already exists, in which
// case pf is dropped and the object's mtime refreshed (or, if the
// existing copy has the wrong size, replaced); and syncs the object's
// directory so the link itself is durable.
func (s *FSStore) publish(pf *PendingFile, id ID, n int64, batch *Batch) error {
	if p, size, ok, err := s.refreshPacked(id); err != nil {
		return err
	} else if ok && size == n {
		// Packed already (by a pull): keep that copy.
		pf.Abort()
		return s.reuse(p, batch)
	}
	return s.publishAt(pf, id, s.Path(id), n, batch)
}

// writebackMin is the size from which a batched object's bytes start
// going to disk as soon as it is written (the sync at the end of the
// batch then has less to wait for). Smaller objects are left for that
// sync, which writes them together. Measured on a 1 GiB pull (about 4,000
// chunks) and a 4 x 256 MiB commit: 15–25% faster.
const writebackMin = 64 << 10

func (s *FSStore) publishAt(pf *PendingFile, id ID, final string, n int64, batch *Batch) error {
	sync := !s.NoSync && batch == nil
	if sync {
		if err := pf.Sync(); err != nil {
			return fmt.Errorf("sync object %s: %w", id, err)
		}
	} else if batch != nil && !s.NoSync && n >= writebackMin {
		// The batch's one sync at the end will wait for these bytes:
		// start writing them now, while the next objects are made.
		pf.startWriteback()
	}
	sub := filepath.Dir(final)
	var err error
	for attempt := 0; ; attempt++ {
		err = pf.Link(final)
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			if err := s.mkdir(sub, sync); err != nil {
				return err
			}
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		// Already stored, by us earlier or by a concurrent writer: reuse
		// it, after refreshing it for gc's grace period.
		ok, size, err := s.refreshFile(id, final)
		if err != nil {
			return err
		}
		if !ok && attempt < 3 {
			continue // collected meanwhile: publish ours after all
		}
		if ok && size != n {
			// A damaged copy (truncated by a crash of another tool, say):
			// replace it with the bytes just verified.
			if err = pf.Replace(final); err == nil && batch != nil {
				batch.written(final, n)
			}
			break
		}
		return s.reuse(final, batch)
	}
	if err != nil {
		return fmt.Errorf("store object %s: %w", id, err)
	}
	if batch != nil {
		batch.written(final, n)
	}
	if sync {
		if err := SyncDir(s.fs, sub); err != nil {
			return fmt.Errorf("sync object dir: %w", err)
		}
	}
	return nil
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

// List implements Lister. It lists in the order of IDs, the loose
// objects (the object directories are read one at a time, each sorted by
// name, which for hex names is the order of IDs) merged with the packed
// ones (PackIndex.Walk, in the same order), so that a packed object with a
// loose copy is listed once, loose, without a set of the loose IDs.
func (s *FSStore) List(ctx context.Context, fn func(Info) error) error {
	subs, err := afero.ReadDir(s.fs, s.dir)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	packed, stop := s.packedEntries(ctx)
	defer stop()
	p, more, err := packed()
	if err != nil {
		return err
	}
	// emitPacked lists the packed objects before id, and skips those of
	// id itself when skip (it has a whole loose copy).
	emitPacked := func(id *ID, skip bool) error {
		for more {
			if id != nil {
				c := bytes.Compare(p.ID[:], id[:])
				if c > 0 || c == 0 && !skip {
					return nil
				}
				if c == 0 {
					if p, more, err = packed(); err != nil {
						return err
					}
					continue
				}
			}
			if err := fn(p); err != nil {
				return err
			}
			if p, more, err = packed(); err != nil {
				return err
			}
		}
		return nil
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
			if f.IsDir() {
				continue
			}
			name, chunked := strings.CutSuffix(f.Name(), ChunkListSuffix)
			id, err := ParseID(sub.Name() + name)
			if err != nil {
				continue // not an object file
			}
			info := Info{ID: id, Size: f.Size(), Stored: f.Size(), ModTime: f.ModTime()}
			if chunked {
				if info, err = s.statList(id, filepath.Join(s.dir, sub.Name(), f.Name())); err != nil {
					var ce *CorruptError
					if errors.Is(err, fs.ErrNotExist) {
						continue // deleted meanwhile
					} else if !errors.As(err, &ce) {
						return err
					}
					// Listed with an unknown size; readers report the damage.
					info = Info{ID: id, Size: -1, Stored: f.Size(), ModTime: f.ModTime(), Chunked: true}
				}
			}
			if err := emitPacked(&id, !chunked); err != nil {
				return err
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return emitPacked(nil, false)
}

// Delete implements Deleter. For a chunked blob it removes the chunk list
// (and a whole copy, if both are stored); the chunks are objects of their
// own, deleted by their IDs. A packed copy is removed by rewriting its
// pack (see DeletePacked, which deletes many at once).
func (s *FSStore) Delete(ctx context.Context, id ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	found := false
	for _, name := range []string{s.Path(id), s.ListPath(id)} {
		err := s.fs.Remove(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete object %s: %w", id, err)
		}
		found = true
	}
	if _, ok := s.packed(id); ok {
		n, err := s.DeletePacked(ctx, []ID{id}, time.Time{})
		if err != nil {
			return err
		}
		found = found || n > 0
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return nil
}

// RemoveStaleTemps deletes temp files left by writes that were interrupted
// (a crash, a kill), and packs left without an index, older than cutoff.
// It returns how many it removed.
func (s *FSStore) RemoveStaleTemps(cutoff time.Time) (int, error) {
	entries, err := afero.ReadDir(s.fs, s.dir)
	if err != nil {
		return 0, err
	}
	n := s.removeStalePacks(cutoff)
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

// NewVerifyingReader wraps r, which should yield the object want. Its
// hasher comes from a pool and goes back at Close (a checkout opens one
// reader per file: allocating a hasher each time cost more than hashing a
// 4 KiB file).
func NewVerifyingReader(r io.ReadCloser, want ID) *VerifyingReader {
	h := hasherPool.Get().(*Hasher)
	h.Reset()
	return &VerifyingReader{r: r, want: want, h: h}
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

// Close closes the underlying reader; reads after it fail.
func (v *VerifyingReader) Close() error {
	if v.h != nil {
		hasherPool.Put(v.h)
		v.h = nil
		v.err = errReadAfterClose
	}
	return v.r.Close()
}

var errReadAfterClose = errors.New("read of a closed object")

// ReadInto reads the content of the blob id, which the caller knows to
// be size bytes, into buf (from its start; grown only if size is larger
// than its capacity) and returns it only if it is size bytes that hash to
// id: else the error wraps ErrCorrupt. A missing object wraps
// ErrNotFound. It is Open and reads to the end in fewer steps, for small
// blobs: a loose one on the OS file system costs an open, one read and a
// close, as bytes a damaged file holds past size are not read (the first
// size bytes hashed to id are id's content; fsck finds the rest).
func (s *FSStore) ReadInto(ctx context.Context, id ID, size int64, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, &CorruptError{ID: id, Reason: fmt.Sprintf("size %d", size)}
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, 0, size)
	}
	var b []byte
	var err error
	if isOS(s.fs) {
		b, err = readFileInto(s.Path(id), buf[:size])
	} else {
		b, err = readAllInto(s.fs.Open, s.Path(id), buf[:size])
	}
	if errors.Is(err, fs.ErrNotExist) && isOS(s.fs) {
		// Packed: one positioned read of the pack (a pack gone meanwhile,
		// rewritten by a gc, goes the long way below).
		if loc, ok := s.packed(id); ok && loc.Size == size {
			if b, perr := preadFile(s.packPath(loc.Pack), buf[:size], loc.Off); perr == nil && int64(len(b)) == size {
				return checkRead(id, b)
			}
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		// Packed or chunked: through Open, which knows both.
		rc, err := s.Open(ctx, id)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err = ReadToEnd(rc, buf) // verified by Open's reader
		if err != nil {
			return nil, err
		}
		if int64(len(b)) != size {
			return nil, &CorruptError{ID: id, Reason: fmt.Sprintf("%d bytes, want %d", len(b), size)}
		}
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open object %s: %w", id, err)
	}
	if int64(len(b)) != size {
		return nil, &CorruptError{ID: id, Reason: fmt.Sprintf("%d bytes, want %d", len(b), size)}
	}
	return checkRead(id, b)
}

// checkRead returns b if it hashes to id, else a *CorruptError.
func checkRead(id ID, b []byte) ([]byte, error) {
	h := hasherPool.Get().(*Hasher)
	defer hasherPool.Put(h)
	h.Reset()
	h.Write(b)
	if got := h.Sum(); got != id {
		return nil, &CorruptError{ID: id, Reason: "content hashes to " + got.String()}
	}
	return b, nil
}

// readAllInto reads the file name, opened with open, into buf until buf
// is full or the file ends.
func readAllInto(open func(string) (afero.File, error), name string, buf []byte) ([]byte, error) {
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

// ReadToEnd reads r to its end into buf (from its start), growing it only
// if r holds more than its capacity, and returns what it read.
func ReadToEnd(r io.Reader, buf []byte) ([]byte, error) {
	b := buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
