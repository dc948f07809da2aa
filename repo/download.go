package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo/remote"
)

// downloader receives objects from a remote, verifying each before it is
// stored. Entries in packs are read by byte range, neighbours in one
// request; objects in no pack are read one by one under their own keys.
type downloader struct {
	r      *Repo
	t      remote.Transport
	remote string
	// xp is the remote's pack index, replaced (reload) when a pack it
	// lists is found gone (deleted by a remote gc since it was read).
	xp       atomic.Pointer[objects.PackIndex]
	reloadMu sync.Mutex
	batch    *objects.Batch
	sem
	done idDone // trees here, or being fetched

	objects  atomic.Int64
	bytes    atomic.Int64
	progress TransferProgress

	mu    sync.Mutex
	wants []wantBlob // file contents a walk asked for
}

// idDone is a set of object IDs safe for concurrent use: a map of full IDs
// under a mutex, about half the memory of a sync.Map's entries.
type idDone struct {
	mu sync.Mutex
	m  map[objects.ID]struct{}
}

// add adds id and reports whether it was not there before.
func (s *idDone) add(id objects.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; ok {
		return false
	}
	if s.m == nil {
		s.m = map[objects.ID]struct{}{}
	}
	s.m[id] = struct{}{}
	return true
}

func (s *idDone) has(id objects.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[id]
	return ok
}

// wantBlob is a file's content a pull needs.
type wantBlob struct {
	id   objects.ID
	size int64
}

func (r *Repo) newDownloader(ctx context.Context, t remote.Transport, remoteName string, progress TransferProgress) (*downloader, error) {
	x, err := r.loadRemoteIndex(ctx, t, remoteName)
	if err != nil {
		return nil, err
	}
	d := &downloader{r: r, t: t, remote: remoteName, batch: r.store.NewBatch(),
		sem: newSem(), progress: progress}
	d.xp.Store(x)
	return d, nil
}

// artifact fetches what doc names that is missing here: the commits and
// trees of versions not here (with file contents if blobs), file contents
// of versions here whose files are not (if blobs), and run objects.
func (d *downloader) artifact(ctx context.Context, doc *remoteDoc, blobs bool) (*fetched, error) {
	got := &fetched{commits: map[objects.ID]*objects.Commit{}, runs: map[objects.ID]*objects.Run{}}
	idx := d.r.index()
	for _, v := range doc.Versions {
		if lv, err := idx.ByCommit(ctx, v.Commit); err == nil {
			if blobs {
				if err := d.tree(ctx, lv.Tree, true); err != nil {
					return nil, err
				}
			}
			continue
		}
		b, err := d.meta(ctx, v.Commit)
		if errors.Is(err, ErrObjectNotFound) {
			return nil, fmt.Errorf("%w: the ref document of %s on remote %s names %s, commit %s, which the remote does not hold",
				remote.ErrBadResponse, doc.Name, d.remote, refs.VersionString(v.Version), v.Commit)
		}
		if err != nil {
			return nil, err
		}
		c, err := objects.DecodeCommit(b)
		if err != nil {
			return nil, fmt.Errorf("commit %s from remote %s: %w", v.Commit, d.remote, err)
		}
		if c.Name != doc.Name || c.Type != doc.Type || c.Version != v.Version {
			return nil, fmt.Errorf("%w: the ref document of %s on remote %s lists commit %s as %s:%s, but it is %s:%s of type %s",
				remote.ErrBadResponse, doc.Name, d.remote, v.Commit.Short(), doc.Name, refs.VersionString(v.Version),
				c.Name, refs.VersionString(c.Version), c.Type)
		}
		if err := d.tree(ctx, c.Tree, blobs); err != nil {
			return nil, err
		}
		got.commits[v.Commit] = c
	}
	if blobs {
		ws := d.wants
		d.wants = nil
		if err := d.blobs(ctx, ws); err != nil {
			return nil, err
		}
	}
	x := d.r.lineage()
	for id, obj := range doc.Runs {
		if run, err := x.Run(ctx, id); err == nil && !run.Running() {
			continue
		}
		b, err := d.meta(ctx, obj)
		if err != nil {
			return nil, err
		}
		o, err := objects.DecodeRun(b)
		if err != nil {
			return nil, fmt.Errorf("run object %s from remote %s: %w", obj, d.remote, err)
		}
		if o.ID != id {
			return nil, fmt.Errorf("%w: remote %s lists run %s with the object of run %s", remote.ErrBadResponse, d.remote, id, o.ID)
		}
		got.runs[obj] = o
	}
	return got, nil
}

func (d *downloader) count(n int64) {
	o := d.objects.Add(1)
	b := d.bytes.Add(n)
	if d.progress != nil {
		d.progress(o, b)
	}
}

// get opens key on the remote, refusing content larger than max bytes or,
// if want >= 0, of another size than want.
func (d *downloader) get(ctx context.Context, key string, max, want int64) (io.ReadCloser, int64, error) {
	rc, info, err := d.t.Get(ctx, key)
	if errors.Is(err, remote.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s is not on remote %s", ErrObjectNotFound, key, d.remote)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s from remote %s: %w", key, d.remote, err)
	}
	if info.Size > max || want >= 0 && info.Size != want {
		rc.Close()
		return nil, 0, fmt.Errorf("%w: %s on remote %s has %d bytes, want %s", ErrCorrupt, key, d.remote, info.Size, sizeWant(max, want))
	}
	return rc, info.Size, nil
}

func sizeWant(max, want int64) string {
	if want >= 0 {
		return fmt.Sprint(want)
	}
	return fmt.Sprintf("at most %d", max)
}

// idx returns the remote's pack index as last read.
func (d *downloader) idx() *objects.PackIndex { return d.xp.Load() }

// reload reads the remote's pack index again, after a pack the one held
// lists was found gone: a remote gc deleted it, having put what it keeps
// in another (or what it held is no longer used). It returns false if
// the index did not change (the pack is gone with nothing in its place:
// the remote is damaged).
func (d *downloader) reload(ctx context.Context, held *objects.PackIndex) (bool, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if d.idx() != held {
		return true, nil // another reader reloaded meanwhile
	}
	x, err := d.r.loadRemoteIndex(ctx, d.t, d.remote)
	if err != nil {
		return false, err
	}
	d.xp.Store(x)
	return x != held, nil
}

// open opens the entry k: from its pack if an index lists it, else under
// its own key. Content larger than max or, if want >= 0, of another size
// than want is refused.
func (d *downloader) open(ctx context.Context, k objects.PackKey, max, want int64) (io.ReadCloser, int64, error) {
	held := d.idx()
	loc, ok := held.Lookup(k)
	if !ok {
		key := remoteObjectKey(k.ID)
		if k.Kind == objects.PackList {
			key = remoteListKey(k.ID)
		}
		return d.get(ctx, key, max, want)
	}
	if loc.Size > max || want >= 0 && loc.Size != want {
		return nil, 0, fmt.Errorf("%w: pack %s on remote %s lists %s with %d bytes, want %s", ErrCorrupt, shortName(loc.Pack), d.remote, k, loc.Size, sizeWant(max, want))
	}
	if loc.Size == 0 {
		return io.NopCloser(eofReader{}), 0, nil
	}
	rc, err := d.t.GetRange(ctx, packKeyOf(loc.Pack), loc.Off, loc.Size)
	if errors.Is(err, remote.ErrNotFound) {
		// The pack is gone: read the index again, and the entry from
		// where it is now.
		if changed, rerr := d.reload(ctx, held); rerr != nil {
			return nil, 0, rerr
		} else if changed {
			if nl, ok := d.idx().Lookup(k); ok && nl.Pack != loc.Pack && nl.Size == loc.Size {
				loc = nl
				rc, err = d.t.GetRange(ctx, packKeyOf(loc.Pack), loc.Off, loc.Size)
			}
		}
	}
	if err != nil {
		return nil, 0, d.rangeError(loc.Pack, err)
	}
	return rc, loc.Size, nil
}

// rangeError explains a failed read of the pack name.
func (d *downloader) rangeError(pack string, err error) error {
	if errors.Is(err, remote.ErrInvalidRange) || errors.Is(err, remote.ErrNotFound) {
		return &DamagedPackError{Remote: d.remote, Keys: []string{packIndexKey(pack)},
			Err: fmt.Errorf("%w: pack %s on remote %s is shorter than its index says, or gone (%v)", ErrCorrupt, shortName(pack), d.remote, err)}
	}
	return fmt.Errorf("fetch pack %s from remote %s: %w", shortName(pack), d.remote, err)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// meta returns a small object (commit, tree, run), from the store if it is
// here, else fetched, verified and stored.
func (d *downloader) meta(ctx context.Context, id objects.ID) ([]byte, error) {
	if b, err := objects.ReadAll(ctx, d.r.store, id, objects.MaxMetaObjectSize); err == nil {
		return b, nil
	} else if !errors.Is(err, objects.ErrNotFound) {
		return nil, err
	}
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	rc, _, err := d.open(ctx, objects.PackObjectKey(id), objects.MaxMetaObjectSize, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, objects.MaxMetaObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s from remote %s: %w", id, d.remote, err)
	}
	if got := objects.Hash(b); got != id {
		return nil, fmt.Errorf("remote %s: %w", d.remote, &objects.CorruptError{ID: id, Reason: "received content hashes to " + got.String()})
	}
	if _, err := d.batch.PutBytes(ctx, b); err != nil {
		return nil, err
	}
	d.count(int64(len(b)))
	return b, nil
}

// tree fetches a tree (decoding it, which refuses unsafe entry names) and
// the trees below it, the subtrees of each tree in parallel; with blobs it
// notes the file contents to fetch. A tree walked before is skipped whole.
func (d *downloader) tree(ctx context.Context, id objects.ID, blobs bool) error {
	w := walk.Walker{
		Source: &pullTrees{d: d, fetched: map[objects.ID][]byte{}},
		Enter: func(_ context.Context, dir walk.Dir) error {
			if d.done.has(dir.ID) {
				return walk.SkipDir
			}
			return nil
		},
		Entry: func(ctx context.Context, e walk.Entry) error {
			if blobs && e.Kind == objects.KindFile {
				d.wants = append(d.wants, wantBlob{e.ID, e.Size})
				if len(d.wants) >= pullBatch {
					// Fetch as the walk goes: memory holds a batch of
					// wanted contents, not a version's.
					ws := d.wants
					d.wants = nil
					return d.blobs(ctx, ws)
				}
			}
			return nil
		},
		Leave: func(_ context.Context, dir walk.Dir) error {
			d.done.add(dir.ID)
			return nil
		},
		TreeError: func(_ context.Context, dir walk.Dir, err error) error {
			if errors.Is(err, walk.ErrTooDeep) {
				return fmt.Errorf("%w: tree %s from remote %s nests too deep", ErrInvalidPath, dir.ID, d.remote)
			}
			return err
		},
	}
	return w.Walk(ctx, id, "")
}

// pullTrees is the walk.Source of a pull: a tree comes from the store if
// it is here, else from the remote, verified and stored (downloader.meta).
// Prefetch fetches the subtrees of a tree in parallel before the walk
// reads them one by one.
type pullTrees struct {
	d       *downloader
	mu      sync.Mutex
	fetched map[objects.ID][]byte // prefetched and not yet read by the walk
	kept    int                   // bytes in fetched
}

// prefetchKeep is how many bytes of prefetched trees a pull keeps in
// memory for the walk; the others it reads back from the store, where
// they are already (a directory of a thousand subdirectories of a
// thousand files each would otherwise hold 100 MiB of trees). A variable
// for the tests of flat memory, which lower it.
var prefetchKeep = 8 << 20

func (s *pullTrees) Node(ctx context.Context, id objects.ID) (objects.DirNode, error) {
	s.mu.Lock()
	b, ok := s.fetched[id]
	delete(s.fetched, id)
	s.kept -= len(b)
	s.mu.Unlock()
	if !ok {
		var err error
		if b, err = s.d.meta(ctx, id); err != nil {
			return objects.DirNode{}, err
		}
	}
	n, err := objects.DecodeDirNode(b)
	if err != nil {
		return objects.DirNode{}, fmt.Errorf("tree %s from remote %s: %w", id, s.d.remote, err)
	}
	return n, nil
}

func (s *pullTrees) Prefetch(ctx context.Context, ids []objects.ID) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferWorkers)
	for _, id := range ids {
		if s.d.done.has(id) {
			continue
		}
		g.Go(func() error {
			b, err := s.d.meta(gctx, id)
			if err != nil {
				return err
			}
			s.mu.Lock()
			if s.kept+len(b) <= prefetchKeep {
				s.fetched[id] = b
				s.kept += len(b)
			}
			s.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// blobs fetches the file contents ws that are not here: whole blobs and
// the chunks of chunked ones from packs, by byte range, then each chunk
// list once its chunks are stored; contents in no pack one by one.
func (d *downloader) blobs(ctx context.Context, ws []wantBlob) error {
	var loose []wantBlob
	var lists []objects.PackKey
	listSize := map[objects.ID]int64{}
	need := map[objects.PackKey]bool{}
	var data []objects.PackKey
	// Each content once per batch; one fetched by an earlier batch is in
	// the store by now (its pack is closed), so the store answers for it:
	// no set of every content the pull saw.
	seen := make(map[objects.ID]bool, len(ws))
	for _, w := range ws {
		if seen[w.id] {
			continue
		}
		seen[w.id] = true
		if ok, err := d.r.store.Complete(ctx, w.id); err != nil {
			return err
		} else if ok {
			continue
		}
		switch {
		case d.idx().Has(objects.PackListKey(w.id)):
			lists = append(lists, objects.PackListKey(w.id))
			listSize[w.id] = w.size
		case d.idx().Has(objects.PackObjectKey(w.id)):
			if k := objects.PackObjectKey(w.id); !need[k] {
				need[k] = true
				data = append(data, k)
			}
		default:
			loose = append(loose, w)
		}
	}
	// Chunk lists first (small), to learn which chunks are missing.
	got := map[objects.ID]*objects.ChunkList{}
	var gotMu sync.Mutex
	err := d.ranges(ctx, lists, func(k objects.PackKey, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		l, err := d.decodeList(b, k.ID, listSize[k.ID])
		if err != nil {
			return err
		}
		gotMu.Lock()
		got[k.ID] = l
		gotMu.Unlock()
		d.count(size)
		return nil
	})
	if err != nil {
		return err
	}
	var looseChunks []objects.Chunk
	for _, k := range lists {
		for _, c := range got[k.ID].Chunks {
			ck := objects.PackObjectKey(c.ID)
			if need[ck] {
				continue
			}
			need[ck] = true
			if _, err := d.r.store.Stat(ctx, c.ID); err == nil {
				continue
			}
			if loc, ok := d.idx().Lookup(ck); ok && loc.Size == c.Size {
				data = append(data, ck)
			} else {
				looseChunks = append(looseChunks, c)
			}
		}
	}
	// File contents and chunks go into local packs, a few files instead
	// of one each; large objects stay loose, where a checkout can clone
	// them whole.
	pw := d.batch.NewPackWriter()
	err = d.ranges(ctx, data, func(k objects.PackKey, size int64, r io.Reader) error {
		var n int64
		var err error
		if size < packLooseMin {
			n, err = pw.PutExpect(ctx, k.ID, r)
		} else {
			n, err = d.batch.PutExpect(ctx, k.ID, r)
		}
		if err == nil && n != size {
			err = fmt.Errorf("%w: %s has %d bytes, its pack says %d", ErrCorrupt, k.ID, n, size)
		}
		if err != nil {
			return fmt.Errorf("object %s from remote %s: %w", k.ID.Short(), d.remote, err)
		}
		d.count(size)
		return nil
	})
	if err != nil {
		pw.Abort()
		return err
	}
	if err := pw.Close(); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferWorkers)
	for _, c := range looseChunks {
		g.Go(func() error { return d.object(gctx, c.ID, c.Size) })
	}
	for _, w := range loose {
		g.Go(func() error { return d.blob(gctx, w.id, w.size) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(packWorkers)
	for _, k := range lists {
		g.Go(func() error {
			if err := d.batch.PutChunkList(gctx, got[k.ID]); err != nil {
				return fmt.Errorf("blob %s from remote %s: %w", k.ID.Short(), d.remote, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// pullBatch is how many wanted file contents a pull gathers before it
// fetches them (the most a pack lists, so a batch can fill one). A
// variable for the tests only.
var pullBatch = objects.MaxPackEntries

// packLooseMin is the size from which a pulled object is stored loose
// rather than in a local pack.
const packLooseMin = 16 << 20

// decodeList decodes b, received as the chunk list of blob id of size
// bytes (-1 if not known), refusing a list of another blob or size.
func (d *downloader) decodeList(b []byte, id objects.ID, size int64) (*objects.ChunkList, error) {
	l, err := objects.DecodeChunkList(b)
	if err == nil && (l.Blob != id || size >= 0 && l.Size != size) {
		err = fmt.Errorf("it describes %d bytes of blob %s", l.Size, l.Blob.Short())
	}
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", d.remote, &objects.CorruptError{ID: id, Reason: "chunk list: " + err.Error()})
	}
	return l, nil
}

// rangeGap is how many unwanted bytes between two wanted entries of a pack
// a download reads and drops rather than making another request.
const rangeGap = 1 << 20

// byteRange is one request: entries of one pack, in order.
type byteRange struct {
	pack       string
	start, end int64
	entries    []objects.PackKey
	locs       []objects.PackLoc
}

// ranges reads the entries ks (each in some pack) with as few requests as
// it can, packWorkers*2 at once, and hands each entry's bytes to fn, which
// must read them all.
func (d *downloader) ranges(ctx context.Context, ks []objects.PackKey, fn func(k objects.PackKey, size int64, r io.Reader) error) error {
	return d.rangesOnce(ctx, ks, fn, true)
}

// rangesOnce is ranges; with retry, the entries of packs found gone are
// read again, once, from where a fresh pack index says they are now.
func (d *downloader) rangesOnce(ctx context.Context, ks []objects.PackKey, fn func(k objects.PackKey, size int64, r io.Reader) error, retry bool) error {
	held := d.idx()
	type item struct {
		k    objects.PackKey
		pack string
		loc  objects.PackLoc
	}
	items := make([]item, 0, len(ks))
	for _, k := range ks {
		loc, ok := held.Lookup(k)
		if !ok {
			return fmt.Errorf("%w: %s is in no pack of remote %s", ErrObjectNotFound, k, d.remote)
		}
		items = append(items, item{k, loc.Pack, loc})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].pack != items[j].pack {
			return items[i].pack < items[j].pack
		}
		return items[i].loc.Off < items[j].loc.Off
	})
	var rs []*byteRange
	for _, it := range items {
		end := it.loc.Off + it.loc.Size
		if n := len(rs); n > 0 && rs[n-1].pack == it.pack && it.loc.Off-rs[n-1].end <= rangeGap && it.loc.Off >= rs[n-1].end {
			r := rs[n-1]
			r.end = end
			r.entries = append(r.entries, it.k)
			r.locs = append(r.locs, it.loc)
			continue
		}
		rs = append(rs, &byteRange{pack: it.pack, start: it.loc.Off, end: end, entries: []objects.PackKey{it.k}, locs: []objects.PackLoc{it.loc}})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * packWorkers)
	var goneMu sync.Mutex
	var gone []*byteRange // ranges of packs gone, none of whose entries fn saw
	for _, br := range rs {
		g.Go(func() error {
			err := d.readRange(gctx, br, fn)
			var pg *packGoneError
			if retry && errors.As(err, &pg) {
				goneMu.Lock()
				gone = append(gone, br)
				goneMu.Unlock()
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil || len(gone) == 0 {
		return err
	}
	changed, err := d.reload(ctx, held)
	if err != nil {
		return err
	}
	if !changed {
		return d.rangeError(gone[0].pack, remote.ErrNotFound)
	}
	var again []objects.PackKey
	for _, br := range gone {
		again = append(again, br.entries...)
	}
	return d.rangesOnce(ctx, again, fn, false)
}

// packGoneError is a range read of a pack that is not on the remote (a
// remote gc may have deleted it since the index was read).
type packGoneError struct{ err error }

func (e *packGoneError) Error() string { return e.err.Error() }
func (e *packGoneError) Unwrap() error { return e.err }

func (d *downloader) readRange(ctx context.Context, br *byteRange, fn func(k objects.PackKey, size int64, r io.Reader) error) error {
	if br.end == br.start {
		for _, k := range br.entries {
			if err := fn(k, 0, eofReader{}); err != nil {
				return err
			}
		}
		return nil
	}
	key := packKeyOf(br.pack)
	rc, err := d.t.GetRange(ctx, key, br.start, br.end-br.start)
	if errors.Is(err, remote.ErrNotFound) {
		return &packGoneError{d.rangeError(br.pack, err)}
	}
	if err != nil {
		return d.rangeError(br.pack, err)
	}
	defer rc.Close()
	pos := br.start
	for i, k := range br.entries {
		loc := br.locs[i]
		if gap := loc.Off - pos; gap > 0 {
			if _, err := io.CopyN(io.Discard, rc, gap); err != nil {
				return fmt.Errorf("fetch %s from remote %s: %w", key, d.remote, err)
			}
		}
		lr := &io.LimitedReader{R: rc, N: loc.Size}
		if err := fn(k, loc.Size, lr); err != nil {
			return err
		}
		if lr.N != 0 {
			return fmt.Errorf("fetch %s from remote %s: %w: %s was not read in full", key, d.remote, remote.ErrBadResponse, k)
		}
		pos = loc.Off + loc.Size
	}
	return nil
}

// chunkedGuess is the size from which a blob in no pack is looked for as
// a chunk list first.
const chunkedGuess = 1 << 20

// blob fetches a file's content unless it is here: the whole blob, or its
// chunk list and the chunks missing here.
func (d *downloader) blob(ctx context.Context, id objects.ID, size int64) error {
	if ok, err := d.r.store.Complete(ctx, id); err != nil {
		return err
	} else if ok {
		return nil
	}
	order := []bool{false, true} // whole, then chunked
	if size >= chunkedGuess || d.idx().Has(objects.PackListKey(id)) {
		order = []bool{true, false}
	}
	var err error
	for _, chunked := range order {
		if chunked {
			err = d.chunked(ctx, id, size)
		} else {
			err = d.object(ctx, id, size)
		}
		if !errors.Is(err, ErrObjectNotFound) {
			break
		}
	}
	return err
}

// object fetches one object unless it is here; size is its size, or -1
// if not known.
func (d *downloader) object(ctx context.Context, id objects.ID, size int64) error {
	if _, err := d.r.store.Stat(ctx, id); err == nil {
		return nil
	}
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	rc, n, err := d.open(ctx, objects.PackObjectKey(id), 1<<40, size)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := d.batch.PutExpect(ctx, id, io.LimitReader(rc, n)); err != nil {
		return fmt.Errorf("object %s from remote %s: %w", id.Short(), d.remote, err)
	}
	d.count(n)
	return nil
}

// chunked fetches a chunk list, the chunks missing here, then checks the
// whole and stores the list.
func (d *downloader) chunked(ctx context.Context, id objects.ID, size int64) error {
	k := objects.PackListKey(id)
	if err := d.acquire(ctx); err != nil {
		return err
	}
	rc, _, err := d.open(ctx, k, objects.MaxMetaObjectSize, -1)
	if err != nil {
		d.release()
		return err
	}
	b, err := io.ReadAll(io.LimitReader(rc, objects.MaxMetaObjectSize+1))
	rc.Close()
	d.release()
	if err != nil {
		return fmt.Errorf("fetch the %s from remote %s: %w", k, d.remote, err)
	}
	l, err := d.decodeList(b, id, size)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferWorkers)
	seen := map[objects.ID]bool{}
	for _, c := range l.Chunks {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		g.Go(func() error { return d.object(gctx, c.ID, c.Size) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := d.batch.PutChunkList(ctx, l); err != nil {
		return fmt.Errorf("blob %s from remote %s: %w", id.Short(), d.remote, err)
	}
	d.count(int64(len(b)))
	return nil
}

// fetchMissing brings from its remote the files of a fetched version that
// are not here yet (a checkout of a version that came by `art fetch`).
func (r *Repo) fetchMissing(ctx context.Context, v Version, entries []ManifestEntry) error {
	if v.Remote == "" {
		return nil
	}
	var missing []wantBlob
	for _, e := range entries {
		if e.IsRef() {
			continue
		}
		if ok, err := r.store.Complete(ctx, e.Digest); err != nil {
			return err
		} else if !ok {
			missing = append(missing, wantBlob{e.Digest, e.Size})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	t, err := r.transport(ctx, v.Remote)
	if err != nil {
		return fmt.Errorf("%s has %d file(s) not fetched yet: %w", v.Ref(), len(missing), err)
	}
	d, err := r.newDownloader(ctx, t, v.Remote, nil)
	if err != nil {
		return fmt.Errorf("%s has %d file(s) not fetched yet: %w", v.Ref(), len(missing), err)
	}
	if err := d.blobs(ctx, missing); err != nil {
		return err
	}
	return d.batch.Sync(ctx)
}
