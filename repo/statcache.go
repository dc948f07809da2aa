package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
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
// below which the file is not cached; it exceeds the timestamp granularity
// of common Linux file systems (a jiffy on ext4, 1 ns on others).
const racyWindow = 20_000_000 // 20 ms in ns

var repoMigrations = []string{
	`CREATE TABLE stat_cache (
		path TEXT PRIMARY KEY,
		size INTEGER NOT NULL,
		mtime INTEGER NOT NULL,
		ctime INTEGER NOT NULL,
		ino INTEGER NOT NULL,
		blob TEXT NOT NULL
	) STRICT, WITHOUT ROWID`,
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

// loadStatCache returns the cached entries for the absolute paths of srcs.
// Paths are read by range: one query per directory added, not per file.
func (r *Repo) loadStatCache(ctx context.Context, srcs []source) (map[string]cacheEntry, error) {
	var roots []string
	for _, s := range srcs {
		if s.abs != "" {
			roots = append(roots, s.abs)
		}
	}
	sort.Strings(roots)
	// Collapse to the directories holding the files: siblings share one
	// range query.
	var ranges []string
	for _, p := range roots {
		d := p[:strings.LastIndexByte(p, '/')+1]
		if len(ranges) > 0 && strings.HasPrefix(d, ranges[len(ranges)-1]) {
			continue
		}
		ranges = append(ranges, d)
	}
	out := map[string]cacheEntry{}
	for _, d := range ranges {
		if err := r.scanStatCache(ctx, d, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *Repo) scanStatCache(ctx context.Context, prefix string, out map[string]cacheEntry) error {
	rows, err := r.db.QueryContext(ctx, `SELECT path, size, mtime, ctime, ino, blob FROM stat_cache
		WHERE path >= ? AND path < ?`, prefix, prefix+"\xff")
	if err != nil {
		return fmt.Errorf("read stat cache: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, blob string
		var e cacheEntry
		if err := rows.Scan(&p, &e.stat.Size, &e.stat.MTime, &e.stat.CTime, &e.stat.Ino, &blob); err != nil {
			return err
		}
		if e.blob, err = objects.ParseID(blob); err != nil {
			continue // a damaged row only costs a re-read
		}
		out[p] = e
	}
	return rows.Err()
}

// cacheable reports whether a file's stat is safe to cache (see racyWindow).
func cacheable(s source) bool {
	return s.abs != "" && s.stat.MTime < s.statAt-racyWindow && s.stat.CTime < s.statAt-racyWindow
}

// saveStatCache records the blobs of the cacheable sources in tx.
func saveStatCache(ctx context.Context, tx *sql.Tx, srcs []source) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO stat_cache (path, size, mtime, ctime, ino, blob)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size,
		mtime = excluded.mtime, ctime = excluded.ctime, ino = excluded.ino, blob = excluded.blob`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, s := range srcs {
		if _, err := stmt.ExecContext(ctx, s.abs, s.stat.Size, s.stat.MTime, s.stat.CTime, int64(s.stat.Ino), s.blob.String()); err != nil {
			return fmt.Errorf("write stat cache: %w", err)
		}
	}
	return nil
}

// errGCRaced is returned inside Log when a GC started after the stat cache
// was read; Log then stores the files again without the cache.
var errGCRaced = errors.New("gc started during commit")
