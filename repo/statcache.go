package repo

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"

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
// committed from (statcache/<hash of the directory's absolute path>):
// a header with the gc generation it is valid for and the directory, then
// one record per file below it, in the order written. Reading 20,000
// records this way takes a few milliseconds.
const statCacheHeader = "art statcache 2\n"

func (r *Repo) statCachePath(dir string) string {
	return filepath.Join(r.dir, "statcache", objects.Hash([]byte(dir)).String()[:32])
}

// cacheRoot is the directory a source's cache entry is filed under.
func cacheRoot(s source) string {
	if s.root != "" {
		return s.root
	}
	return filepath.Dir(s.abs)
}

// loadStatCache returns the entries, valid for gc generation gen, of the
// directories srcs come from, keyed by absolute path.
func (r *Repo) loadStatCache(srcs []source, gen int64) map[string]cacheEntry {
	out := map[string]cacheEntry{}
	seen := map[string]bool{}
	for _, s := range srcs {
		if s.abs == "" || seen[cacheRoot(s)] {
			continue
		}
		root := cacheRoot(s)
		seen[root] = true
		r.readStatCache(root, gen, out)
	}
	return out
}

// readStatCache adds the valid entries of root's cache file to out. A
// missing, stale or damaged file adds nothing: the cache only saves reads.
func (r *Repo) readStatCache(root string, gen int64, out map[string]cacheEntry) {
	f, err := r.fs.Open(r.statCachePath(root))
	if err != nil {
		return
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head := make([]byte, len(statCacheHeader))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != statCacheHeader {
		return
	}
	g, err := binary.ReadVarint(br)
	if err != nil || g != gen {
		return
	}
	dir, err := readString(br)
	if err != nil || dir != root {
		return
	}
	entries := map[string]cacheEntry{}
	for {
		rel, err := readString(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
		var e cacheEntry
		var v [5]int64
		for i := range v {
			if v[i], err = binary.ReadVarint(br); err != nil {
				return
			}
		}
		e.stat = fileStat{Size: v[0], MTime: v[1], CTime: v[2], Ino: uint64(v[3]), Dev: uint64(v[4])}
		if _, err := io.ReadFull(br, e.blob[:]); err != nil {
			return
		}
		entries[filepath.Join(root, rel)] = e
	}
	for k, e := range entries {
		out[k] = e
	}
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

// saveStatCache rewrites the cache files of the directories srcs come from
// with the entries of srcs that may be cached, stamped with gc generation
// gen. Errors are ignored: a missing cache only costs reads next time.
func (r *Repo) saveStatCache(srcs []source, gen int64) {
	byRoot := map[string][]source{}
	for _, s := range srcs {
		if s.abs != "" && cacheable(s) {
			root := cacheRoot(s)
			byRoot[root] = append(byRoot[root], s)
		}
	}
	if len(byRoot) == 0 {
		return
	}
	if err := r.fs.MkdirAll(filepath.Join(r.dir, "statcache"), 0o755); err != nil {
		return
	}
	for root, ss := range byRoot {
		writeFileAtomicFunc(r.fs, r.statCachePath(root), 0o644, func(w io.Writer) error {
			var buf [binary.MaxVarintLen64]byte
			io.WriteString(w, statCacheHeader)
			w.Write(buf[:binary.PutVarint(buf[:], gen)])
			writeString(w, root)
			for _, s := range ss {
				rel, err := filepath.Rel(root, s.abs)
				if err != nil {
					return err
				}
				writeString(w, rel)
				for _, v := range []int64{s.stat.Size, s.stat.MTime, s.stat.CTime, int64(s.stat.Ino), int64(s.stat.Dev)} {
					w.Write(buf[:binary.PutVarint(buf[:], v)])
				}
				if _, err := w.Write(s.blob[:]); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

func writeString(w io.Writer, s string) {
	var buf [binary.MaxVarintLen64]byte
	w.Write(buf[:binary.PutUvarint(buf[:], uint64(len(s)))])
	io.WriteString(w, s)
}

// clearStatCache removes every cache file (GC does, after bumping the gc
// generation, so stale files do not accumulate).
func (r *Repo) clearStatCache() {
	r.fs.RemoveAll(filepath.Join(r.dir, "statcache"))
}

// cacheable reports whether a file's stat is safe to cache (see racyWindow).
func cacheable(s source) bool {
	return s.abs != "" && settled(s.stat.MTime, s.statAt) && settled(s.stat.CTime, s.statAt)
}

// settled reports whether a file time t is far enough before the moment
// at which it was read that a later write would have changed it (see
// worktree.Settled).
func settled(t, at int64) bool { return worktree.Settled(t, at) }

// errGCRaced is returned inside Log when a GC ran while its files were
// being stored; Log then stores them again without the cache.
var errGCRaced = errors.New("a gc kept running during the commit; try again")
