package repo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/afero"
	_ "modernc.org/sqlite" // the SQLite driver

	"github.com/artvcs/art/lineage"
	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// DirName is the name of the repository directory inside a project.
const DirName = ".art"

// FormatVersion is the repository format this code reads and writes.
const FormatVersion = 1

var (
	// ErrNotRepository is returned by Open for a directory that holds no
	// repository.
	ErrNotRepository = errors.New("not an art repository")
	// ErrExists is returned by Init when a repository is already there.
	ErrExists = errors.New("repository already exists")
	// ErrUnsupported is returned for a repository written by a newer art.
	ErrUnsupported = errors.New("unsupported repository format")
)

// Config is the repository's config file. Every writer reads it so all
// write objects the same way.
type Config struct {
	Format  int    `json:"format"`
	Hash    string `json:"hash"`
	Created string `json:"created"`
	// Chunking says which files are stored as chunks and how they are
	// cut (absent: every file is stored whole).
	Chunking *objects.Chunking `json:"chunking,omitempty"`
}

// Chunking says which files a repository stores as content-defined
// chunks, and how it cuts them (objects.Chunking).
type Chunking = objects.Chunking

// Options tune a repository handle. The zero value is ready to use.
type Options struct {
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Chunking is what Init records in a new repository's config (nil
	// means objects.DefaultChunking(); a zero Chunking turns chunking
	// off, so every file is stored whole). Open ignores it: a repository
	// always chunks as its config says.
	Chunking *objects.Chunking
}

// Repo is an open repository. It is safe for concurrent use by several
// goroutines; several processes may use one repository at once.
type Repo struct {
	fs    afero.Fs
	dir   string
	store *objects.FSStore
	db    *sql.DB
	now   func() time.Time
	mem   bool // in-memory database (non-OS file system)

	remotes transports // open remote transports, by remote name
}

// Init creates a repository in dir (which may exist but must not already
// hold a repository) and opens it. On a file system other than the OS one
// (afero.NewMemMapFs) the index is an in-memory SQLite database.
func Init(ctx context.Context, fsys afero.Fs, dir string, opts *Options) (*Repo, error) {
	cfgPath := filepath.Join(dir, "config")
	if _, err := fsys.Stat(cfgPath); err == nil {
		return nil, fmt.Errorf("%w in %s", ErrExists, dir)
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	for _, sub := range []string{"objects", "checkouts"} {
		if err := fsys.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create repository: %w", err)
		}
	}
	now := time.Now
	if opts != nil && opts.Now != nil {
		now = opts.Now
	}
	cfg := Config{Format: FormatVersion, Hash: "blake3", Created: now().UTC().Format(time.RFC3339)}
	ch := objects.DefaultChunking()
	if opts != nil && opts.Chunking != nil {
		ch = *opts.Chunking
	}
	if ch != (objects.Chunking{}) {
		if err := ch.Validate(); err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		cfg.Chunking = &ch
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := writeFileAtomic(fsys, cfgPath, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	return Open(ctx, fsys, dir, opts)
}

// Open opens the repository in dir.
func Open(ctx context.Context, fsys afero.Fs, dir string, opts *Options) (*Repo, error) {
	b, err := afero.ReadFile(fsys, filepath.Join(dir, "config"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotRepository, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%w: %s/config is not valid JSON: %v", ErrNotRepository, dir, err)
	}
	if cfg.Format != FormatVersion || cfg.Hash != "blake3" {
		return nil, fmt.Errorf("%w: format %d, hash %q (this art reads format %d, blake3)", ErrUnsupported, cfg.Format, cfg.Hash, FormatVersion)
	}
	if cfg.Chunking != nil {
		if err := cfg.Chunking.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s/config: %v", ErrUnsupported, dir, err)
		}
	}
	store, err := objects.NewFSStore(fsys, filepath.Join(dir, "objects"))
	if err != nil {
		return nil, err
	}
	store.Chunking = cfg.Chunking
	r := &Repo{fs: fsys, dir: dir, store: store, now: time.Now}
	if opts != nil && opts.Now != nil {
		r.now = opts.Now
		store.Now = opts.Now
	}
	if err := r.openDB(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Repo) openDB(ctx context.Context) error {
	var dsn string
	if _, ok := r.fs.(*afero.OsFs); ok {
		abs, err := filepath.Abs(filepath.Join(r.dir, "index.db"))
		if err != nil {
			return err
		}
		// The path is escaped: SQLite decodes a file: URI's %XX and
		// would otherwise take a '?' or '#' in a directory name for the
		// start of the query or fragment, opening another file.
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
		dsn = u.String() + "?_pragma=busy_timeout(60000)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"
	} else {
		r.mem = true
		dsn = ":memory:?_pragma=foreign_keys(1)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	if r.mem {
		// One connection: an in-memory database exists per connection.
		db.SetMaxOpenConns(1)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("open index: %w", err)
	}
	if !r.mem {
		var mode string
		if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			db.Close()
			return fmt.Errorf("open index: journal mode is %q, want wal (%v)", mode, err)
		}
	}
	if err := refs.Migrate(ctx, db); err != nil {
		db.Close()
		return err
	}
	if err := refs.ApplyMigrations(ctx, db, "lineage", lineage.Migrations); err != nil {
		db.Close()
		return err
	}
	if err := migrateRepo(ctx, db); err != nil {
		db.Close()
		return err
	}
	r.db = db
	return nil
}

// Close releases the repository's database and its open remotes.
func (r *Repo) Close() error {
	r.closeTransports()
	return r.db.Close()
}

// Dir returns the repository directory.
func (r *Repo) Dir() string { return r.dir }

// Fs returns the file system the repository and its checkouts live on.
func (r *Repo) Fs() afero.Fs { return r.fs }

// Store returns the object store.
func (r *Repo) Store() objects.Store { return r.store }

// DB returns the repository's SQLite database, shared by refs and lineage.
func (r *Repo) DB() *sql.DB { return r.db }

// index returns a read-only view of the version index.
func (r *Repo) index() *refs.Index { return refs.NewIndex(r.db) }

// writeTx runs fn in a write transaction (BEGIN IMMEDIATE: writers queue on
// SQLite's busy timeout rather than failing), committing if fn succeeds.
func (r *Repo) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// Find walks up from start looking for a DirName directory holding a
// repository and returns its path.
func Find(fsys afero.Fs, start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, DirName)
		if _, err := fsys.Stat(filepath.Join(cand, "config")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no %s directory in %s or any parent", ErrNotRepository, DirName, start)
		}
		dir = parent
	}
}

// writeFileAtomic writes b to name via a synced temp file and a rename.
func writeFileAtomic(fsys afero.Fs, name string, b []byte, perm os.FileMode) error {
	return writeFileAtomicFunc(fsys, name, perm, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeFileAtomicFunc is objects.WriteFileAtomic.
func writeFileAtomicFunc(fsys afero.Fs, name string, perm os.FileMode, write func(io.Writer) error) error {
	return objects.WriteFileAtomic(fsys, name, perm, write)
}
