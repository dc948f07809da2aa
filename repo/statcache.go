package repo

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"path/filepath"
	"sync"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo/worktree"
)

// The stat cache maps a local file, by absolute path and stat (size,
// modification and change times, inode, device), to the blob its content
// was stored as, so that recommitting unchanged files reads no file data.
//
// Two rules keep it exact:
//   - Racy files are not cached. A file whose modification or change time
//     is within racyWindow of the moment it was stat'ed could still be
//     rewritten within the same timestamp tick, so its stat would not change.
//   - GC invalidates it. Cached blobs are used without being read, so they
//     must not have been collected: GC clears the cache and bumps the gc
//     generation before it marks, and Log refuses to record a version whose
//     cache hits were read under an older generation (it stores the files
//     again instead).

// racyWindow is the margin between a file's times and the stat taken of it
// below which the file is not cached (worktree.RacyWindow: the rule a
// checkout applies to its record too).
const racyWindow = worktree.RacyWindow

var repoMigrations = []string{
	`CREATE TABLE settings (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT`,
	`INSERT INTO settings (key, value) VALUES ('gc_generation', 0)`,
}

func migrateRepo(ctx context.Context, db *sql.DB) error {
	return refs.ApplyMigrations(ctx, db, "repo", repoMigrations)
}

// gcGeneration returns how many GCs have started in the repository.
func gcGeneration(ctx context.Context, q refs.Queryer) (int64, error) {
	var g int64
	err := q.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'gc_generation'`).Scan(&g)
	return g, err
}

type cacheEntry struct {
	stat fileStat
	blob objects.ID
}

// The cache is kept as one file per local directory that files were
// committed from (statcache/<hash of the directory's absolute path>): the
// directory given to AddDir, or the directory of a file given to AddFile.
// A commit reads, for each directory it lists, only that directory's
// block, and writes a new file as it goes, published when the version is
// recorded; so it holds one directory's entries at a time, plus an index
// of one small record per directory.
//
//	header  statCacheHeader, varint gc generation, string root
//	block   string rel (slash-separated, "" for root itself), uvarint n,
//	        n x (string name, varint size, mtime, ctime, inode, device,
//	        32-byte blob ID), uint32 CRC-32C of the block's bytes
//	index   uvarint count, count x (string rel, uvarint offset,
//	        uvarint length), uint32 CRC-32C of the index's bytes
//	trailer uint64 offset of the index (little endian), statCacheMagic
//
// Strings are a uvarint length and the bytes. A directory may have more
// than one block (AddFile and AddDir of one directory). A file of another
// version of the format, another generation or another root, or a block
// whose checksum fails, is a miss: the cache only saves reads.
const (
	statCacheHeader = "art statcache 3\n"
	statCacheMagic  = "ASC3"
	statTrailerLen  = 8 + len(statCacheMagic)
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func (r *Repo) statCachePath(dir string) string {
	return filepath.Join(r.dir, "statcache", objects.Hash([]byte(dir)).String()[:32])
}

// statCaches is a commit's view of the stat cache: the files it reads
// from and the new files it writes, by root directory. Only the walk's
// goroutine calls close; block and write are safe for concurrent use.
type statCaches struct {
	r       *Repo
	gen     int64
	use     bool // read the old files (false: write only)
	mu      sync.Mutex
	readers map[string]*statCacheReader
	writers map[string]*statCacheWriter
}

// cacheBlocks are the records of one directory being built, by root and
// rel, not yet written.
type cacheBlocks map[[2]string][]cacheRecord

type cacheRecord struct {
	name string
	e    cacheEntry
}

func (r *Repo) newStatCaches(gen int64, use bool) *statCaches {
	return &statCaches{r: r, gen: gen, use: use, readers: map[string]*statCacheReader{},
		writers: map[string]*statCacheWriter{}}
}

// block returns the cached entries of the directory rel below root, by
// name (nil if none).
func (c *statCaches) block(root, rel string) map[string]cacheEntry {
	if !c.use {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rd, ok := c.readers[root]
	if !ok {
		rd = c.r.openStatCache(root, c.gen)
		c.readers[root] = rd
	}
	if rd == nil {
		return nil
	}
	return rd.block(rel)
}

// record notes in p that src was stored as blob id, for the new cache
// file of its root.
func (p cacheBlocks) record(src source, id objects.ID) {
	if src.name != "" {
		k := [2]string{src.root, src.rel}
		p[k] = append(p[k], cacheRecord{src.name, cacheEntry{src.stat, id}})
		return
	}
	root, rel := src.root, ""
	if root == "" {
		root = filepath.Dir(src.abs)
	} else if d := filepath.Dir(src.abs); d != root {
		r, err := filepath.Rel(root, d)
		if err != nil {
			return
		}
		rel = filepath.ToSlash(r)
	}
	k := [2]string{root, rel}
	p[k] = append(p[k], cacheRecord{filepath.Base(src.abs), cacheEntry{src.stat, id}})
}

// write writes the blocks of p. A failure to write only drops that
// root's new file.
func (c *statCaches) write(p cacheBlocks) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, recs := range p {
		w, ok := c.writers[k[0]]
		if !ok {
			w = c.r.createStatCache(k[0], c.gen)
			c.writers[k[0]] = w
		}
		if w != nil && !w.writeBlock(k[1], recs) {
			w.pf.Abort()
			c.writers[k[0]] = nil
		}
	}
}

// close closes the files read; then publish (the version is recorded)
// or abort (it is not, or nothing was read) the new ones.
func (c *statCaches) close(publish bool) {
	for _, rd := range c.readers {
		if rd != nil {
			rd.f.Close()
		}
	}
	c.readers = map[string]*statCacheReader{}
	for root, w := range c.writers {
		if w == nil {
			continue
		}
		if !publish || !w.finish() {
			w.pf.Abort()
			continue
		}
		if err := w.pf.Replace(c.r.statCachePath(root)); err != nil {
			w.pf.Abort()
		}
	}
	c.writers = map[string]*statCacheWriter{}
}

type statCacheReader struct {
	f     afero.File
	index map[string][][2]int64 // rel -> (offset, length) of its blocks
}

// openStatCache opens root's cache file for generation gen, or returns nil.
func (r *Repo) openStatCache(root string, gen int64) *statCacheReader {
	f, err := r.fs.Open(r.statCachePath(root))
	if err != nil {
		return nil
	}
	rd, ok := readStatCacheIndex(f, root, gen)
	if !ok {
		f.Close()
		return nil
	}
	return rd
}

func readStatCacheIndex(f afero.File, root string, gen int64) (*statCacheReader, bool) {
	fi, err := f.Stat()
	if err != nil || fi.Size() < int64(len(statCacheHeader)+statTrailerLen) {
		return nil, false
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, fi.Size()), 4096)
	head := make([]byte, len(statCacheHeader))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != statCacheHeader {
		return nil, false
	}
	if g, err := binary.ReadVarint(br); err != nil || g != gen {
		return nil, false
	}
	if dir, err := readString(br); err != nil || dir != root {
		return nil, false
	}
	var tr [statTrailerLen]byte
	if _, err := f.ReadAt(tr[:], fi.Size()-int64(statTrailerLen)); err != nil || string(tr[8:]) != statCacheMagic {
		return nil, false
	}
	off := int64(binary.LittleEndian.Uint64(tr[:8]))
	end := fi.Size() - int64(statTrailerLen)
	if off < int64(len(statCacheHeader)) || off > end-4 || end-off > 1<<30 {
		return nil, false
	}
	b := make([]byte, end-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, false
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, false
	}
	rd := &statCacheReader{f: f, index: map[string][][2]int64{}}
	n, k := binary.Uvarint(body)
	if k <= 0 {
		return nil, false
	}
	body = body[k:]
	for i := uint64(0); i < n; i++ {
		rel, rest, ok := cutString(body)
		if !ok {
			return nil, false
		}
		bo, k1 := binary.Uvarint(rest)
		if k1 <= 0 {
			return nil, false
		}
		bl, k2 := binary.Uvarint(rest[k1:])
		if k2 <= 0 || bo+bl > uint64(off) {
			return nil, false
		}
		body = rest[k1+k2:]
		rd.index[rel] = append(rd.index[rel], [2]int64{int64(bo), int64(bl)})
	}
	return rd, len(body) == 0
}

// block reads the entries of the directory rel; a damaged block is a miss.
func (rd *statCacheReader) block(rel string) map[string]cacheEntry {
	locs := rd.index[rel]
	if len(locs) == 0 {
		return nil
	}
	out := map[string]cacheEntry{}
	for _, loc := range locs {
		if loc[1] < 4 || loc[1] > 1<<30 {
			return nil
		}
		b := make([]byte, loc[1])
		if _, err := rd.f.ReadAt(b, loc[0]); err != nil {
			return nil
		}
		body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
		if crc32.Checksum(body, crcTable) != sum {
			return nil
		}
		got, rest, ok := cutString(body)
		if !ok || got != rel {
			return nil
		}
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)) {
			return nil
		}
		rest = rest[k:]
		for i := uint64(0); i < n; i++ {
			name, r2, ok := cutString(rest)
			if !ok {
				return nil
			}
			var v [5]int64
			for j := range v {
				x, k := binary.Varint(r2)
				if k <= 0 {
					return nil
				}
				v[j], r2 = x, r2[k:]
			}
			if len(r2) < objects.IDSize {
				return nil
			}
			var e cacheEntry
			e.stat = fileStat{Size: v[0], MTime: v[1], CTime: v[2], Ino: uint64(v[3]), Dev: uint64(v[4])}
			copy(e.blob[:], r2[:objects.IDSize])
			rest = r2[objects.IDSize:]
			out[name] = e
		}
		if len(rest) != 0 {
			return nil
		}
	}
	return out
}

// cutString splits a uvarint-length-prefixed string off b.
func cutString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 1<<16 || uint64(len(b)-k) < n {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

func readString(br *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return "", err
	}
	if n > 1<<16 {
		return "", errors.New("stat cache: string too long")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", io.ErrUnexpectedEOF
	}
	return string(b), nil
}

type statCacheWriter struct {
	pf    *objects.PendingFile
	w     *bufio.Writer
	off   int64
	index []byte // the index's records so far
	count uint64
	buf   []byte
}

// createStatCache starts root's new cache file, or returns nil.
func (r *Repo) createStatCache(root string, gen int64) *statCacheWriter {
	dir := filepath.Join(r.dir, "statcache")
	if err := r.fs.MkdirAll(dir, 0o755); err != nil {
		return nil
	}
	pf, err := objects.CreatePending(r.fs, dir, ".tmp-", 0o644)
	if err != nil {
		return nil
	}
	w := &statCacheWriter{pf: pf, w: bufio.NewWriterSize(pf, 64<<10)}
	b := append([]byte(statCacheHeader), binary.AppendVarint(nil, gen)...)
	b = appendString(b, root)
	if !w.write(b) {
		pf.Abort()
		return nil
	}
	return w
}

func (w *statCacheWriter) write(b []byte) bool {
	n, err := w.w.Write(b)
	w.off += int64(n)
	return err == nil
}

func (w *statCacheWriter) writeBlock(rel string, recs []cacheRecord) bool {
	b := appendString(w.buf[:0], rel)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, rc := range recs {
		b = appendString(b, rc.name)
		for _, v := range []int64{rc.e.stat.Size, rc.e.stat.MTime, rc.e.stat.CTime, int64(rc.e.stat.Ino), int64(rc.e.stat.Dev)} {
			b = binary.AppendVarint(b, v)
		}
		b = append(b, rc.e.blob[:]...)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	w.buf = b
	w.index = appendString(w.index, rel)
	w.index = binary.AppendUvarint(w.index, uint64(w.off))
	w.index = binary.AppendUvarint(w.index, uint64(len(b)))
	w.count++
	return w.write(b)
}

// finish writes the index and the trailer and flushes the file.
func (w *statCacheWriter) finish() bool {
	at := w.off
	b := binary.AppendUvarint(nil, w.count)
	b = append(b, w.index...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	b = append(b, statCacheMagic...)
	return w.write(b) && w.w.Flush() == nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// clearStatCache removes every cache file (GC does, after bumping the gc
// generation, so stale files do not accumulate).
func (r *Repo) clearStatCache() {
	r.fs.RemoveAll(filepath.Join(r.dir, "statcache"))
}

// cacheable reports whether a file's stat is safe to cache (see racyWindow).
func cacheable(s source) bool {
	return (s.abs != "" || s.name != "") && settled(s.stat.MTime, s.statAt) && settled(s.stat.CTime, s.statAt)
}

// settled reports whether a file time t is far enough before the moment
// at which it was read that a later write would have changed it (see
// worktree.Settled).
func settled(t, at int64) bool { return worktree.Settled(t, at) }

// errGCRaced is returned inside Log when a GC ran while its files were
// being stored; Log then stores them again without the cache.
var errGCRaced = errors.New("a gc kept running during the commit; try again")
