package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"
)

// Local packs. Objects a pull receives (PackWriter), and the new chunks of
// a committed file (putChunked), are stored in a few pack files rather
// than in a file each: creating 20,000 files (or the 4,000 chunks of a
// 1 GiB file) costs far more than writing their bytes, and a pull
// followed by a checkout would otherwise create every file twice.
//
// DIR/pack/P.pack holds objects' bytes back to back; DIR/pack/P.idx holds
// the pack's header (EncodePackHeader, object entries only, in the order
// of the bytes), whose BLAKE3 is P. The store keeps what the indexes say
// in a PackIndex (base 0: the pack file holds no header). A pack's bytes are made durable before
// its index is linked, so an index always names complete bytes; a pack
// left without an index by a crash is never read, and RemoveStaleTemps
// removes it. Packs are never changed: deleting a packed object writes a
// new pack of the others (DeletePacked). A loose copy of an object takes
// precedence over a packed one, and every read is verified as for loose
// objects.
const packDirName = "pack"

// localPackTarget is the size at which a PackWriter starts a new pack.
const localPackTarget = 256 << 20

// packRacy is how long after a scan the pack directory's modification time
// is not trusted to reveal new packs: file systems stamp from a coarse
// clock, so a pack added in the same tick as a scan leaves it unchanged.
const packRacy = 2 * time.Second

// packScan is what the store's pack indexes say, read lazily and again
// when the pack directory changes. Its zero value is empty. mu is held
// to change idx (which has a lock of its own for readers) and guards the
// other fields.
type packScan struct {
	mu      sync.RWMutex
	idx     PackIndex
	bad     map[string]error // indexes that could not be read
	stamp   time.Time        // the pack directory's mtime at the last scan
	scanned time.Time        // when it was taken
}

func (s *FSStore) packDir() string { return filepath.Join(s.dir, packDirName) }

func (s *FSStore) packPath(name string) string {
	return filepath.Join(s.packDir(), name+PackSuffix)
}

func (s *FSStore) idxPath(name string) string {
	return filepath.Join(s.packDir(), name+PackIndexSuffix)
}

// scanPacks brings the index up to date with the pack directory: packs
// added since the last scan are read, and if one was removed the index is
// rebuilt. Unless force is set, nothing is read when the directory has not
// changed since a scan that came well after its last change.
func (s *FSStore) scanPacks(force bool) error {
	x := &s.packs
	fi, err := s.fs.Stat(s.packDir())
	if errors.Is(err, fs.ErrNotExist) {
		x.mu.Lock()
		if len(x.idx.Names()) > 0 {
			x.idx.replace(&PackIndex{})
			x.bad = nil
		}
		x.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat packs: %w", err)
	}
	now := time.Now()
	x.mu.RLock()
	fresh := fi.ModTime().Equal(x.stamp) && x.scanned.Sub(x.stamp) > packRacy
	x.mu.RUnlock()
	if fresh && !force {
		return nil
	}
	f, err := s.fs.Open(s.packDir())
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}
	entries, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}
	var names []string
	for _, e := range entries {
		if name, ok := PackNameOf(e, PackIndexSuffix); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bad == nil {
		x.bad = map[string]error{}
	}
	// A pack this index knows but the listing lacks was removed (a
	// rewrite), unless its index was linked after the listing: then it is
	// kept. Entries cannot be dropped one pack at a time, so the index is
	// rebuilt from the packs that remain, and replaces the old one whole
	// (readers meanwhile use the old one, and look a removed pack's
	// objects up again).
	rebuild := false
	listing := names[:len(names):len(names)]
	for _, name := range x.idx.Names() {
		if _, listed := slices.BinarySearch(listing, name); listed {
			continue
		}
		if _, err := s.fs.Stat(s.idxPath(name)); errors.Is(err, fs.ErrNotExist) {
			rebuild = true
		} else {
			names = append(names, name)
		}
	}
	into := &x.idx
	if rebuild {
		into = &PackIndex{}
		x.bad = map[string]error{}
	}
	for _, name := range names {
		if into.Holds(name) {
			continue
		}
		es, err := s.readIdx(name)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				x.bad[name] = err
			}
			continue
		}
		delete(x.bad, name)
		into.Add(name, 0, es)
	}
	if rebuild {
		x.idx.replace(into)
	}
	x.stamp, x.scanned = fi.ModTime(), now
	return nil
}

// readIdx reads and checks the index of the pack name.
func (s *FSStore) readIdx(name string) ([]PackEntry, error) {
	f, err := OpenFile(s.fs, s.idxPath(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPackHeader+1))
	if err != nil {
		return nil, fmt.Errorf("read pack index %s: %w", name, err)
	}
	es, err := ParsePackHeader(name, b)
	if err != nil {
		return nil, &CorruptError{ID: mustParseID(name), Reason: "pack index: " + err.Error()}
	}
	for _, e := range es {
		if e.Kind != PackObject {
			return nil, &CorruptError{ID: mustParseID(name), Reason: "pack index lists a " + e.PackKey.String()}
		}
	}
	return es, nil
}

func mustParseID(s string) ID {
	id, _ := ParseID(s)
	return id
}

// packed returns where id lies in a pack, scanning for new packs on a
// miss.
func (s *FSStore) packed(id ID) (PackLoc, bool) {
	if loc, ok := s.lookupPacked(id); ok {
		return loc, ok
	}
	if err := s.scanPacks(false); err != nil {
		return PackLoc{}, false
	}
	return s.lookupPacked(id)
}

// packWriteScan is how often at most a writer's miss rescans the pack
// directory (see packedForWrite).
const packWriteScan = 100 * time.Millisecond

// packedForWrite is packed for writers asking whether an object is stored
// already: a miss rescans at most every packWriteScan, since a pack another
// process added meanwhile only costs a duplicate copy (this process's own
// packs are always indexed). Without it, a commit writing packs and
// thousands of loose objects would list the pack directory for each.
func (s *FSStore) packedForWrite(id ID) (PackLoc, bool) {
	if loc, ok := s.lookupPacked(id); ok {
		return loc, ok
	}
	x := &s.packs
	x.mu.RLock()
	recent := time.Since(x.scanned) < packWriteScan
	x.mu.RUnlock()
	if recent {
		return PackLoc{}, false
	}
	if err := s.scanPacks(false); err != nil {
		return PackLoc{}, false
	}
	return s.lookupPacked(id)
}

func (s *FSStore) lookupPacked(id ID) (PackLoc, bool) {
	return s.packs.idx.Lookup(PackObjectKey(id))
}

// openPacked opens the pack file holding id, returning the file and where
// id lies in it. ok is false if id is not packed. A pack removed since it
// was indexed (rewritten by DeletePacked elsewhere) is looked up again.
func (s *FSStore) openPacked(id ID) (f afero.File, loc PackLoc, ok bool, err error) {
	for attempt := 0; ; attempt++ {
		loc, ok := s.packed(id)
		if !ok {
			return nil, loc, false, nil
		}
		f, err := OpenFile(s.fs, s.packPath(loc.Pack))
		if err == nil {
			return f, loc, true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 1 {
			return nil, loc, true, fmt.Errorf("open pack %s: %w", loc.Pack[:12], err)
		}
		if err := s.scanPacks(true); err != nil {
			return nil, loc, true, err
		}
	}
}

// sectionCloser reads a section of a file and closes the file.
type sectionCloser struct {
	*io.SectionReader
	f io.Closer
}

func (c sectionCloser) Close() error { return c.f.Close() }

// openRaw returns a reader of the stored bytes of the object id (loose or
// packed; not a chunked blob), unverified, and their size. A missing
// object wraps fs.ErrNotExist.
func (s *FSStore) openRaw(id ID) (io.ReadCloser, int64, error) {
	f, err := OpenFile(s.fs, s.Path(id))
	if err == nil {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, fi.Size(), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	pf, loc, ok, perr := s.openPacked(id)
	if perr != nil {
		return nil, 0, perr
	}
	if !ok {
		return nil, 0, err
	}
	return sectionCloser{io.NewSectionReader(pf, loc.Off, loc.Size), pf}, loc.Size, nil
}

// storedSize returns the size of the stored bytes of the object id (loose
// or packed; not a chunked blob). A missing object wraps fs.ErrNotExist.
func (s *FSStore) storedSize(id ID) (int64, error) {
	fi, err := s.fs.Stat(s.Path(id))
	if err == nil {
		return fi.Size(), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	if loc, ok := s.packed(id); ok {
		return loc.Size, nil
	}
	return 0, err
}

// statPacked returns the Info of the packed object id: its pack index's
// modification time stands for the object's.
func (s *FSStore) statPacked(id ID) (Info, bool, error) {
	loc, ok := s.packed(id)
	if !ok {
		return Info{}, false, nil
	}
	fi, err := s.fs.Stat(s.idxPath(loc.Pack))
	if errors.Is(err, fs.ErrNotExist) {
		// Rewritten meanwhile: look again.
		if err := s.scanPacks(true); err != nil {
			return Info{}, false, err
		}
		if loc, ok = s.lookupPacked(id); !ok {
			return Info{}, false, nil
		}
		fi, err = s.fs.Stat(s.idxPath(loc.Pack))
	}
	if err != nil {
		return Info{}, false, fmt.Errorf("stat pack %s: %w", loc.Pack[:12], err)
	}
	return Info{ID: id, Size: loc.Size, Stored: loc.Size, ModTime: fi.ModTime(), Packed: true}, true, nil
}

// refreshPacked sets the modification time of the index of the pack
// holding id to now, for gc's grace period, and returns the index's path.
func (s *FSStore) refreshPacked(id ID) (string, int64, bool, error) {
	loc, ok := s.packedForWrite(id)
	if !ok {
		return "", 0, false, nil
	}
	p := s.idxPath(loc.Pack)
	now := s.Now()
	if err := s.fs.Chtimes(p, now, now); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", 0, false, nil // rewritten meanwhile: store it anew
		}
		return "", 0, true, fmt.Errorf("refresh object %s: %w", id, err)
	}
	return p, loc.Size, true, nil
}

// Locate returns the file holding the stored bytes of the object id (not
// a chunked blob, whose bytes are its chunks) and where they lie in it:
// its loose file from 0, else its pack. It is for tools and tests that
// inspect or damage storage by hand; readers use Open. A missing object
// is ErrNotFound.
func (s *FSStore) Locate(id ID) (file string, off, size int64, err error) {
	if fi, err := s.fs.Stat(s.Path(id)); err == nil {
		return s.Path(id), 0, fi.Size(), nil
	}
	if loc, ok := s.packed(id); ok {
		return s.packPath(loc.Pack), loc.Off, loc.Size, nil
	}
	return "", 0, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// packedEntries returns a pull iterator over the packed objects, in the
// order of IDs (PackIndex.Walk), and what stops it: next returns the next
// one, false when there is none, or an error (the packs cannot be
// scanned, or the index's spill file read). An object packed twice, or
// packed also as a chunk list entry, is listed once for each.
func (s *FSStore) packedEntries(ctx context.Context) (next func() (Info, bool, error), stop func()) {
	if err := s.scanPacks(false); err != nil {
		return func() (Info, bool, error) { return Info{}, false, err }, func() {}
	}
	mtimes := map[string]time.Time{}
	var werr error
	pull, stop := iter.Pull(func(yield func(Info) bool) {
		werr = s.packs.idx.Walk(func(k PackKey, loc PackLoc) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			mt, ok := mtimes[loc.Pack]
			if !ok {
				fi, err := s.fs.Stat(s.idxPath(loc.Pack))
				if err != nil {
					return nil // rewritten meanwhile; its objects are listed anew next time
				}
				mt = fi.ModTime()
				mtimes[loc.Pack] = mt
			}
			if !yield(Info{ID: k.ID, Size: loc.Size, Stored: loc.Size, ModTime: mt, Packed: true}) {
				return errStopWalk
			}
			return nil
		})
	})
	next = func() (Info, bool, error) {
		i, ok := pull()
		if !ok && werr != nil && werr != errStopWalk {
			return Info{}, false, werr
		}
		return i, ok, nil
	}
	return next, stop
}

// BadPacks returns the pack indexes of the store that cannot be read (a
// damaged index hides its pack's objects), by pack name.
func (s *FSStore) BadPacks() (map[string]error, error) {
	if err := s.scanPacks(true); err != nil {
		return nil, err
	}
	x := &s.packs
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make(map[string]error, len(x.bad))
	for k, v := range x.bad {
		out[k] = v
	}
	return out, nil
}

// PackWriter stores objects in new pack files of the store, for writers of
// many objects at once (a pull). It is safe for concurrent use: concurrent
// calls write to packs of their own. Objects become visible when the pack
// holding them is finished (when it reaches its target size, or at Close)
// and durable when the batch syncs; record nothing naming them before.
type PackWriter struct {
	b    *Batch
	mu   sync.Mutex
	free *sync.Cond // signalled when a pack becomes idle or is finished
	idle []*packFile
	busy int // packs being written to
}

// maxWritingPacks bounds the packs a PackWriter writes at once; more
// concurrent callers wait for one.
const maxWritingPacks = 8

// NewPackWriter starts a pack writer whose packs the batch makes durable.
func (b *Batch) NewPackWriter() *PackWriter {
	w := &PackWriter{b: b}
	w.free = sync.NewCond(&w.mu)
	return w
}

// take returns an idle pack, or a new one if fewer than maxWritingPacks
// are open, else waits for one.
func (w *PackWriter) take() (*packFile, error) {
	w.mu.Lock()
	for len(w.idle) == 0 && w.busy+len(w.idle) >= maxWritingPacks {
		w.free.Wait()
	}
	w.busy++
	if n := len(w.idle); n > 0 {
		p := w.idle[n-1]
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		return p, nil
	}
	w.mu.Unlock()
	p, err := w.b.s.newPackFile()
	if err != nil {
		w.release(nil)
	}
	return p, err
}

// release ends a caller's use of p: kept for the next caller, or nil if
// it was finished or dropped.
func (w *PackWriter) release(p *packFile) {
	w.mu.Lock()
	w.busy--
	if p != nil {
		w.idle = append(w.idle, p)
	}
	w.mu.Unlock()
	w.free.Signal()
}

// packFile is a pack being written.
type packFile struct {
	s      *FSStore
	pf     *PendingFile
	es     []PackEntry
	size   int64
	kicked int64 // size when writeback was last started
}

// packWritebackEvery is how many bytes a pack gains between requests to
// start writing it back, so that the sync that finishes it has little
// left to wait for.
const packWritebackEvery = 8 << 20

func (s *FSStore) newPackFile() (*packFile, error) {
	if err := s.fs.MkdirAll(s.packDir(), 0o755); err != nil {
		return nil, fmt.Errorf("create pack dir: %w", err)
	}
	pf, err := CreatePending(s.fs, s.packDir(), tempPrefix, 0o444)
	if err != nil {
		return nil, fmt.Errorf("create pack: %w", err)
	}
	return &packFile{s: s, pf: pf}, nil
}

// add appends r's bytes as the object want, failing with a *CorruptError
// if they hash to something else (verify), or trusting them (a copy from
// another pack of this store).
func (p *packFile) add(ctx context.Context, want ID, r io.Reader, verify bool) (int64, error) {
	var w io.Writer = p.pf
	var h *Hasher
	if verify {
		h = hasherPool.Get().(*Hasher)
		defer hasherPool.Put(h)
		h.Reset()
		w = io.MultiWriter(p.pf, h)
	}
	buf := copyBufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(w, ctxReader{ctx, r}, *buf)
	copyBufPool.Put(buf)
	if err != nil {
		return n, fmt.Errorf("write pack: %w", err)
	}
	if verify {
		if got := h.Sum(); got != want {
			return n, &CorruptError{ID: want, Reason: "received content hashes to " + got.String()}
		}
	}
	p.appended(want, n)
	return n, nil
}

// addBytes appends b as the object id (whose hash the caller computed).
func (p *packFile) addBytes(id ID, b []byte) error {
	if _, err := p.pf.Write(b); err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	p.appended(id, int64(len(b)))
	return nil
}

// appended records the n bytes just written as the object id.
func (p *packFile) appended(id ID, n int64) {
	p.es = append(p.es, PackEntry{PackObjectKey(id), n})
	p.size += n
	if !p.s.NoSync && p.size-p.kicked >= packWritebackEvery {
		p.pf.startWriteback()
		p.kicked = p.size
	}
}

func (p *packFile) full() bool {
	return p.size >= localPackTarget || len(p.es) >= PackEntriesTarget
}

// finish publishes the pack: its bytes are made durable (unless the store
// skips syncs), then linked under its name, then its index is written,
// made durable and linked; batch (nil to sync here) makes the links
// durable. The store's index learns the pack at once.
func (p *packFile) finish(batch *Batch) error {
	s := p.s
	defer p.pf.Abort()
	if len(p.es) == 0 {
		return nil
	}
	hdr := EncodePackHeader(p.es)
	name := Hash(hdr).String()
	if !s.NoSync {
		if err := p.pf.Sync(); err != nil {
			return fmt.Errorf("sync pack: %w", err)
		}
	}
	packFile, idxFile := s.packPath(name), s.idxPath(name)
	if err := p.pf.Link(packFile); err != nil && !errors.Is(err, fs.ErrExist) {
		// ErrExist: the same header, so the same objects, are stored.
		return fmt.Errorf("store pack: %w", err)
	}
	ipf, err := CreatePending(s.fs, s.packDir(), tempPrefix, 0o444)
	if err != nil {
		return fmt.Errorf("create pack index: %w", err)
	}
	defer ipf.Abort()
	if _, err := ipf.Write(hdr); err != nil {
		return fmt.Errorf("write pack index: %w", err)
	}
	// The index's bytes are durable before its name: after a crash it is
	// complete or absent, never a damaged index fsck would report.
	if !s.NoSync {
		if err := ipf.Sync(); err != nil {
			return fmt.Errorf("sync pack index: %w", err)
		}
	}
	if err := ipf.Link(idxFile); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store pack index: %w", err)
	}
	if batch != nil {
		batch.written(idxFile, int64(len(hdr)))
		batch.mu.Lock()
		batch.added += p.size
		batch.made += len(p.es) - 1
		batch.mu.Unlock()
	} else if !s.NoSync {
		if err := SyncDir(s.fs, s.packDir()); err != nil {
			return fmt.Errorf("sync pack dir: %w", err)
		}
	}
	s.packs.mu.Lock()
	s.packs.idx.Add(name, 0, p.es)
	s.packs.mu.Unlock()
	return nil
}

// PutExpect stores r's bytes as the object want in a pack, failing with a
// *CorruptError, and leaving nothing of them, if they hash to anything
// else; the pack's other objects are then dropped too (the caller is
// expected to fail as a whole). Callers check first whether the store
// has the object.
func (w *PackWriter) PutExpect(ctx context.Context, want ID, r io.Reader) (int64, error) {
	p, err := w.take()
	if err != nil {
		return 0, err
	}
	n, err := p.add(ctx, want, r, true)
	if err != nil {
		// The pack's other objects go too: the caller fails as a whole.
		p.pf.Abort()
		w.release(nil)
		return n, err
	}
	if p.full() {
		err = p.finish(w.b)
		w.release(nil)
		return n, err
	}
	w.release(p)
	return n, nil
}

// Close finishes the packs being written; their objects are then visible.
func (w *PackWriter) Close() error {
	w.mu.Lock()
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	var first error
	for _, p := range idle {
		if err := p.finish(w.b); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Abort drops the packs being written.
func (w *PackWriter) Abort() {
	w.mu.Lock()
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, p := range idle {
		p.pf.Abort()
	}
}

// DeletePacked removes the packed copies of ids: each pack holding some of
// them is replaced by a pack of its other objects (copied as they are,
// damage included, for fsck to report), or removed if none remain. The
// new pack is durable before the old one goes. A pack whose index was
// refreshed at or after cutoff (a writer reused one of its objects) is
// left alone, unless cutoff is zero. IDs not packed are ignored; it
// returns how many packed objects it removed.
func (s *FSStore) DeletePacked(ctx context.Context, ids []ID, cutoff time.Time) (int, error) {
	if err := s.scanPacks(true); err != nil {
		return 0, err
	}
	byPack := map[string]map[ID]bool{}
	for _, id := range ids {
		if loc, ok := s.lookupPacked(id); ok {
			if byPack[loc.Pack] == nil {
				byPack[loc.Pack] = map[ID]bool{}
			}
			byPack[loc.Pack][id] = true
		}
	}
	removed := 0
	for name, drop := range byPack {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if !cutoff.IsZero() {
			if fi, err := s.fs.Stat(s.idxPath(name)); err != nil || !fi.ModTime().Before(cutoff) {
				continue
			}
		}
		n, err := s.rewritePack(ctx, name, drop)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	if len(byPack) > 0 {
		if err := s.scanPacks(true); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// rewritePack replaces the pack name by one without the objects in drop
// (none, if nothing remains) and returns how many it dropped.
func (s *FSStore) rewritePack(ctx context.Context, name string, drop map[ID]bool) (int, error) {
	es, err := s.readIdx(name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // rewritten meanwhile
	}
	if err != nil {
		return 0, err
	}
	removed := 0
	keep := false
	for _, e := range es {
		if drop[e.ID] {
			removed++
		} else {
			keep = true
		}
	}
	if keep {
		src, err := OpenFile(s.fs, s.packPath(name))
		if err != nil {
			return 0, fmt.Errorf("open pack %s: %w", name[:12], err)
		}
		defer src.Close()
		p, err := s.newPackFile()
		if err != nil {
			return 0, err
		}
		defer p.pf.Abort()
		var off int64
		for _, e := range es {
			if !drop[e.ID] {
				n, err := p.add(ctx, e.ID, io.NewSectionReader(src, off, e.Size), false)
				if err == nil && n != e.Size {
					err = &CorruptError{ID: e.ID, Reason: fmt.Sprintf("pack %s is shorter than its index says", name[:12])}
				}
				if err != nil {
					return 0, err
				}
			}
			off += e.Size
		}
		if err := p.finish(nil); err != nil {
			return 0, err
		}
	}
	// The index goes first: a pack without one is never read.
	for _, f := range []string{s.idxPath(name), s.packPath(name)} {
		if err := s.fs.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("delete pack %s: %w", name[:12], err)
		}
	}
	if !s.NoSync {
		if err := SyncDir(s.fs, s.packDir()); err != nil {
			return removed, fmt.Errorf("sync pack dir: %w", err)
		}
	}
	return removed, nil
}

// removeStalePacks deletes temp files in the pack directory, and packs
// without an index, older than cutoff.
func (s *FSStore) removeStalePacks(cutoff time.Time) int {
	entries, err := afero.ReadDir(s.fs, s.packDir())
	if err != nil {
		return 0
	}
	idx := map[string]bool{}
	for _, e := range entries {
		if name, ok := PackNameOf(e.Name(), PackIndexSuffix); ok {
			idx[name] = true
		}
	}
	n := 0
	for _, e := range entries {
		name, isPack := PackNameOf(e.Name(), PackSuffix)
		stale := strings.HasPrefix(e.Name(), tempPrefix) || isPack && !idx[name]
		if stale && e.ModTime().Before(cutoff) {
			if err := s.fs.Remove(filepath.Join(s.packDir(), e.Name())); err == nil {
				n++
			}
		}
	}
	return n
}

// openPackedOS is openPacked on the OS file system, for kernel copies.
func (s *FSStore) openPackedOS(id ID) (*os.File, PackLoc, bool, error) {
	f, loc, ok, err := s.openPacked(id)
	if !ok || err != nil {
		return nil, loc, ok, err
	}
	if of, isOS := f.(*os.File); isOS {
		return of, loc, true, nil
	}
	f.Close()
	return nil, loc, false, nil
}
