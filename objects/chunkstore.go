package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects/chunker"
)

// ChunkListSuffix ends the name of a chunk list file: a chunked blob
// abcdef… is stored as DIR/ab/cdef….chunks beside the objects, its chunks
// as ordinary objects.
const ChunkListSuffix = ".chunks"

// ListPath returns the file that holds id's chunk list (which may not
// exist).
func (s *FSStore) ListPath(id ID) string { return s.Path(id) + ChunkListSuffix }

// maxChunkListSize bounds a chunk list read into memory: 64 MiB of list
// describes some 230 GiB of content at the default chunk size.
const maxChunkListSize = MaxMetaObjectSize

// ReadChunkList returns the chunk list of the blob id, or an error wrapping
// ErrNotFound if id is not stored as chunks. A list that cannot be decoded,
// or that names another blob, is a *CorruptError naming id.
func (s *FSStore) ReadChunkList(ctx context.Context, id ID) (*ChunkList, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := OpenFile(s.fs, s.ListPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: chunk list of %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("open chunk list %s: %w", id, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxChunkListSize+1))
	if err != nil {
		return nil, fmt.Errorf("read chunk list %s: %w", id, err)
	}
	if len(b) > maxChunkListSize {
		return nil, &CorruptError{ID: id, Reason: "chunk list larger than any valid one"}
	}
	l, err := DecodeChunkList(b)
	if err != nil {
		return nil, &CorruptError{ID: id, Reason: err.Error()}
	}
	if l.Blob != id {
		return nil, &CorruptError{ID: id, Reason: "chunk list describes blob " + l.Blob.String()}
	}
	return l, nil
}

// checkChunks refuses a chunk list whose chunks are not all present with
// the sizes it gives: a missing chunk wraps ErrNotFound, a wrong-size one
// is a *CorruptError naming the chunk.
func (s *FSStore) checkChunks(ctx context.Context, l *ChunkList) error {
	seen := make(map[ID]bool, len(l.Chunks))
	for _, c := range l.Chunks {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		size, err := s.storedSize(c.ID)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: chunk %s of blob %s", ErrNotFound, c.ID, l.Blob)
		}
		if err != nil {
			return fmt.Errorf("stat chunk %s: %w", c.ID, err)
		}
		if size != c.Size {
			return &CorruptError{ID: c.ID, Reason: fmt.Sprintf("chunk of blob %s has %d bytes, its list says %d", l.Blob, size, c.Size)}
		}
	}
	return nil
}

// blameChunk explains why the chunks of l joined into content hashing to
// got instead of l.Blob: a *CorruptError naming the first chunk whose
// bytes do not hash to its ID, or naming the blob when every chunk is
// intact (the list itself is wrong).
func (s *FSStore) blameChunk(ctx context.Context, l *ChunkList, got ID) error {
	h := NewHasher()
	for _, c := range l.Chunks {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, _, err := s.openRaw(c.ID)
		if err != nil {
			return fmt.Errorf("open chunk %s: %w", c.ID, err)
		}
		h.Reset()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read chunk %s: %w", c.ID, err)
		}
		if sum := h.Sum(); n != c.Size || sum != c.ID {
			return &CorruptError{ID: c.ID, Reason: fmt.Sprintf("chunk of blob %s hashes to %s", l.Blob, sum)}
		}
	}
	return &CorruptError{ID: l.Blob, Reason: "chunks join into content that hashes to " + got.String()}
}

// openChunked returns a reader of the blob l describes, after checking
// that every chunk is present with the right size. The reader checks each
// chunk against its ID if perChunk, and always the whole against l.Blob.
func (s *FSStore) openChunked(ctx context.Context, l *ChunkList, perChunk bool) (io.ReadCloser, error) {
	if err := s.checkChunks(ctx, l); err != nil {
		return nil, err
	}
	r := &chunkedReader{s: s, ctx: ctx, l: l, whole: NewHasher(), i: -1}
	if perChunk {
		r.part = NewHasher()
	}
	return r, nil
}

// chunkedReader concatenates the chunks of a list, checking each chunk's
// bytes against its ID as it ends and the whole against the blob's ID at
// the end. Like VerifyingReader it returns io.EOF only after the content
// has been verified, and a *CorruptError instead otherwise.
type chunkedReader struct {
	s     *FSStore
	ctx   context.Context
	l     *ChunkList
	i     int           // current chunk, -1 before the first
	f     io.ReadCloser // the open chunk
	left  int64         // bytes of chunk i still to read
	whole *Hasher
	part  *Hasher // nil: chunks are not checked one by one, only the whole
	err   error
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for r.f == nil || r.left == 0 {
		if err := r.next(); err != nil {
			r.err = err
			return 0, err
		}
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.Read(p)
	r.whole.Write(p[:n])
	if r.part != nil {
		r.part.Write(p[:n])
	}
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		c := r.l.Chunks[r.i]
		r.err = &CorruptError{ID: c.ID, Reason: fmt.Sprintf("chunk of blob %s is shorter than its %d bytes", r.l.Blob, c.Size)}
		return n, r.err
	}
	if err != nil && err != io.EOF {
		r.err = err
		return n, err
	}
	return n, nil
}

// next finishes chunk i (verifying it) and opens chunk i+1, or, after the
// last chunk, verifies the whole blob and returns io.EOF.
func (r *chunkedReader) next() error {
	if r.f != nil {
		c := r.l.Chunks[r.i]
		r.f.Close()
		r.f = nil
		if r.part == nil {
			// Only the whole is checked.
		} else if got := r.part.Sum(); got != c.ID {
			return &CorruptError{ID: c.ID, Reason: fmt.Sprintf("chunk of blob %s hashes to %s", r.l.Blob, got)}
		}
	}
	r.i++
	if r.i == len(r.l.Chunks) {
		if got := r.whole.Sum(); got != r.l.Blob {
			return &CorruptError{ID: r.l.Blob, Reason: "chunks join into content that hashes to " + got.String()}
		}
		return io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	c := r.l.Chunks[r.i]
	f, _, err := r.s.openRaw(c.ID)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: chunk %s of blob %s", ErrNotFound, c.ID, r.l.Blob)
	}
	if err != nil {
		return fmt.Errorf("open chunk %s: %w", c.ID, err)
	}
	r.f, r.left = f, c.Size
	if r.part != nil {
		r.part.Reset()
	}
	return nil
}

func (r *chunkedReader) Close() error {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	if r.err == nil {
		r.err = errors.New("read after close")
	}
	return nil
}

// chunkerPool holds Chunkers (each with a buffer of twice the largest
// chunk) for the store's parameters.
type chunkerPool struct {
	p    chunker.Params
	pool sync.Pool
}

var (
	chunkerPoolsMu sync.Mutex
	chunkerPools   = map[chunker.Params]*chunkerPool{}
)

func getChunker(r io.Reader, p chunker.Params) (*chunker.Chunker, func(), error) {
	chunkerPoolsMu.Lock()
	cp := chunkerPools[p]
	if cp == nil {
		cp = &chunkerPool{p: p}
		chunkerPools[p] = cp
	}
	chunkerPoolsMu.Unlock()
	if c, ok := cp.pool.Get().(*chunker.Chunker); ok {
		c.Reset(r)
		return c, func() { c.Reset(nil); cp.pool.Put(c) }, nil
	}
	c, err := chunker.New(r, p)
	if err != nil {
		return nil, nil, err
	}
	return c, func() { c.Reset(nil); cp.pool.Put(c) }, nil
}

// putChunked stores what r yields as a chunked blob: it cuts the stream
// with s.Chunking's parameters, stores every chunk as an object (chunks
// already present cost a stat and a refresh), and then the chunk list
// under the whole content's ID, unless that blob is already stored, whole
// or as chunks. The stream is read once; the whole-content hash and the
// cutting run on this goroutine while chunks are hashed and written by up
// to GOMAXPROCS others, each holding one chunk, so memory stays bounded
// by a few chunks whatever the size. Everything is added to batch, which
// the caller syncs; with a nil batch putChunked makes and syncs its own.
func (s *FSStore) putChunked(ctx context.Context, r io.Reader, batch *Batch) (ID, int64, error) {
	own := batch == nil
	if own {
		batch = s.NewBatch()
	}
	ch, release, err := getChunker(ctxReader{ctx, r}, s.Chunking.chunkerParams())
	if err != nil {
		return ZeroID, 0, err
	}
	defer release()
	whole := hasherPool.Get().(*Hasher)
	defer hasherPool.Put(whole)
	whole.Reset()
	// Each worker holds one chunk: a free list of as many buffers as
	// workers, so memory is fixed whatever the size.
	workers := runtime.GOMAXPROCS(0)
	free := make(chan []byte, workers)
	for range workers {
		free <- make([]byte, 0, s.Chunking.Max)
	}

	// New chunks go into packs of this file's own, not a file each.
	cp := &chunkPacker{s: s, batch: batch}
	defer cp.abort()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	var chunks []*Chunk
	var n int64
	for {
		b, err := ch.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			g.Wait()
			return ZeroID, n, fmt.Errorf("write object: %w", err)
		}
		whole.Write(b)
		n += int64(len(b))
		c := &Chunk{Size: int64(len(b))}
		chunks = append(chunks, c)
		buf := append((<-free)[:0], b...)
		g.Go(func() error {
			defer func() { free <- buf }()
			c.ID = Hash(buf)
			return cp.put(gctx, c.ID, buf)
		})
		if gctx.Err() != nil {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return ZeroID, n, err
	}
	// The chunks are visible (and their bytes durable) before any list
	// names them.
	if err := cp.finish(); err != nil {
		return ZeroID, n, err
	}
	id := whole.Sum()
	if len(chunks) == 0 {
		// Empty content: nothing to chunk.
		return s.putSmall(ctx, id, nil, batch, own)
	}
	// A blob already stored, whole or chunked, is reused as it is.
	if p, size, ok, err := s.refreshStored(id); err != nil {
		return id, n, err
	} else if ok && size == n {
		return id, n, s.finishOwn(ctx, batch, own, s.reuse(p, batch))
	}
	l := &ChunkList{Blob: id, Size: n, Chunks: make([]Chunk, len(chunks))}
	for i, c := range chunks {
		l.Chunks[i] = *c
	}
	enc, err := l.Encode()
	if err != nil {
		return id, n, err
	}
	final := s.ListPath(id)
	damaged := false
	if ok, _, err := s.refreshFile(id, final); err != nil {
		return id, n, err
	} else if ok {
		// A list equal to ours names chunks just stored or refreshed
		// above. Any other list (left by a crash before its chunks were
		// durable, damaged, or cut with other parameters) may name chunks
		// that are gone: replace it with ours.
		if old, err := s.ReadChunkList(ctx, id); err == nil {
			if oldEnc, err := old.Encode(); err == nil && bytes.Equal(oldEnc, enc) {
				return id, n, s.finishOwn(ctx, batch, own, s.reuse(final, batch))
			}
		}
		damaged = true
	}
	pf, err := CreatePending(s.fs, s.dir, tempPrefix, 0o444)
	if err != nil {
		return id, n, fmt.Errorf("create temp object: %w", err)
	}
	defer pf.Abort()
	if _, err := pf.Write(enc); err != nil {
		return id, n, fmt.Errorf("write chunk list: %w", err)
	}
	if damaged {
		// Replace the other list with the one just made.
		if err := pf.Sync(); err != nil {
			return id, n, fmt.Errorf("sync chunk list %s: %w", id, err)
		}
		if err := pf.Replace(final); err != nil {
			return id, n, fmt.Errorf("store chunk list %s: %w", id, err)
		}
		batch.written(final, int64(len(enc)))
	} else if err := s.publishAt(pf, id, final, int64(len(enc)), batch); err != nil {
		return id, n, err
	}
	return id, n, s.finishOwn(ctx, batch, own, nil)
}

// chunkPacker stores the new chunks of one file in packs: a chunk already
// stored (loose or packed) is refreshed and reused, a new one appended to
// the current pack (once, if the file repeats it). It is safe for
// concurrent use.
type chunkPacker struct {
	s     *FSStore
	batch *Batch
	mu    sync.Mutex
	p     *packFile
	seen  map[ID]bool
}

func (c *chunkPacker) put(ctx context.Context, id ID, b []byte) error {
	if p, size, ok, err := c.s.refreshStored(id); err != nil {
		return err
	} else if ok && size == int64(len(b)) {
		return c.s.reuse(p, c.batch)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[id] {
		return nil
	}
	if c.p == nil {
		p, err := c.s.newPackFile()
		if err != nil {
			return err
		}
		c.p, c.seen = p, map[ID]bool{}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.p.addBytes(id, b); err != nil {
		return err
	}
	c.seen[id] = true
	if c.p.full() {
		p := c.p
		c.p = nil
		return p.finish(c.batch)
	}
	return nil
}

// finish publishes the pack being written, if any.
func (c *chunkPacker) finish() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return nil
	}
	p := c.p
	c.p = nil
	return p.finish(c.batch)
}

func (c *chunkPacker) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		c.p.pf.Abort()
		c.p = nil
	}
}

// PutSized is Put for content expected to be size bytes long (a file's
// size from stat): content of at least Chunking.MinFileSize is stored as
// a chunked blob. The size only picks the representation; the ID is that
// of the bytes read either way.
func (s *FSStore) PutSized(ctx context.Context, r io.Reader, size int64) (ID, int64, error) {
	return s.putSized(ctx, r, size, nil)
}

func (s *FSStore) putSized(ctx context.Context, r io.Reader, size int64, batch *Batch) (ID, int64, error) {
	if s.Chunking != nil && size >= s.Chunking.MinFileSize {
		return s.putChunked(ctx, r, batch)
	}
	return s.put(ctx, r, nil, batch)
}

// putSmall stores b (whose ID is id) whole, for putChunked.
func (s *FSStore) putSmall(ctx context.Context, id ID, b []byte, batch *Batch, own bool) (ID, int64, error) {
	err := s.putHashed(ctx, id, b, batch)
	return id, int64(len(b)), s.finishOwn(ctx, batch, own, err)
}

// finishOwn syncs a batch putChunked made itself, unless err is set.
func (s *FSStore) finishOwn(ctx context.Context, batch *Batch, own bool, err error) error {
	if err != nil || !own {
		return err
	}
	return batch.Sync(ctx)
}

// PutChunkList stores l as the chunk list of the blob l.Blob, for content
// received from elsewhere (a pull): it checks that every chunk is stored
// with the size l gives and that the chunks join into content that hashes
// to l.Blob, reading them all, before the list is written. A blob already
// stored, whole or chunked, is left as it is.
func (b *Batch) PutChunkList(ctx context.Context, l *ChunkList) error {
	s := b.s
	// Already stored, whole or as complete chunks: refresh it for gc's
	// grace period. An incomplete list is replaced below.
	if ok, err := s.Complete(ctx, l.Blob); err != nil {
		return err
	} else if ok {
		if p, _, ok, err := s.refreshStored(l.Blob); err != nil {
			return err
		} else if ok {
			return s.reuse(p, b)
		}
		final := s.ListPath(l.Blob)
		if ok, _, err := s.refreshFile(l.Blob, final); err != nil {
			return err
		} else if ok {
			return s.reuse(final, b)
		}
	}
	enc, err := l.Encode()
	if err != nil {
		return err
	}
	// The whole content hashing to l.Blob proves every chunk's bytes (a
	// chunk file damaged since it was stored fails that, and every later
	// read of the chunk): one hash of the content is enough.
	rc, err := s.openChunked(ctx, l, false)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return err
	}
	pf, err := CreatePending(s.fs, s.dir, tempPrefix, 0o444)
	if err != nil {
		return fmt.Errorf("create temp object: %w", err)
	}
	defer pf.Abort()
	if _, err := pf.Write(enc); err != nil {
		return fmt.Errorf("write chunk list: %w", err)
	}
	final := s.ListPath(l.Blob)
	if _, err := s.fs.Stat(final); err == nil {
		// An incomplete list: replace it with this one, whose chunks
		// were all just checked.
		if err := pf.Sync(); err != nil {
			return fmt.Errorf("sync chunk list %s: %w", l.Blob, err)
		}
		if err := pf.Replace(final); err != nil {
			return fmt.Errorf("store chunk list %s: %w", l.Blob, err)
		}
		b.written(final, int64(len(enc)))
		return nil
	}
	return s.publishAt(pf, l.Blob, final, int64(len(enc)), b)
}

// Complete reports whether the blob id is stored and readable in full:
// whole, or as a chunk list whose chunks are all stored with the sizes it
// gives (a crash can leave a list whose chunks never became durable; such
// a list does not count, and a writer replaces it). It answers writers
// (pull, fetch, PutChunkList) deciding whether to store a blob: a pack
// another process linked in the last 100 ms may be missed, which costs
// only a copy stored twice, so a pull asking about thousands of blobs while
// its own packs land lists the pack directory at most every 100 ms
// (packedForWrite), not for each.
func (s *FSStore) Complete(ctx context.Context, id ID) (bool, error) {
	if _, err := s.fs.Stat(s.Path(id)); err == nil {
		return true, nil
	}
	if _, ok := s.packedForWrite(id); ok {
		return true, nil
	}
	l, err := s.ReadChunkList(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return false, nil
		}
		return false, err
	}
	if err := s.checkChunks(ctx, l); err != nil {
		var ce *CorruptError
		if errors.Is(err, ErrNotFound) || errors.As(err, &ce) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
