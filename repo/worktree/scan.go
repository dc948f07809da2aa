package worktree

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/spf13/afero"
	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
)

// TempPrefix starts the names of files being written into a checkout
// where the OS has no anonymous files. Verify ignores them, and a later
// checkout removes those older than StaleTempAge.
const TempPrefix = ".art-tmp-"

// workers is how many paths a checkout looks at or writes at once.
func workers() int { return 4 * runtime.GOMAXPROCS(0) }

// Scan looks, in parallel, at what is at each path of want and old under
// root on fsys: the Disk map NewPlan decides from. It never follows a
// symbolic link: a path behind one (or behind a file where a directory
// must go) is Blocked. It hashes a file only when st.NeedsHash asks, and
// lists a directory only where the version wants a file. Scan changes
// nothing; it may be called once for all paths or once per batch.
func Scan(ctx context.Context, fsys afero.Fs, root string, want []Entry, old []string, st *State) (map[string]Disk, error) {
	return ScanCached(ctx, fsys, root, want, old, st, nil)
}

// HashCache remembers the hashes a Scan computed, by path and Stat, for a
// later Scan of the same paths (a checkout's second pass) to reuse while
// the file's Stat is the same. It keeps at most Max of them (0: 65,536),
// forgetting at random past that. It is safe for concurrent use.
type HashCache struct {
	Max int
	mu  sync.Mutex
	m   map[string]hashed
}

type hashed struct {
	stat Stat
	id   objects.ID
}

func (c *HashCache) get(p string, s Stat) (objects.ID, bool) {
	if c == nil {
		return objects.ZeroID, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[p]
	if !ok || h.stat != s {
		return objects.ZeroID, false
	}
	return h.id, true
}

func (c *HashCache) put(p string, s Stat, id objects.ID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]hashed{}
	}
	limit := c.Max
	if limit <= 0 {
		limit = 1 << 16
	}
	for k := range c.m {
		if len(c.m) < limit {
			break
		}
		delete(c.m, k)
	}
	c.m[p] = hashed{s, id}
}

// ScanCached is Scan, reusing and remembering hashes in cache (nil for
// none).
func ScanCached(ctx context.Context, fsys afero.Fs, root string, want []Entry, old []string, st *State, cache *HashCache) (map[string]Disk, error) {
	if st == nil {
		st = &State{}
	}
	out := make([]Disk, len(want)+len(old))
	parents := &parentChecker{fs: fsys, root: root, m: map[string]parentState{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers())
	for i := range out {
		var e *Entry
		var p string
		if i < len(want) {
			e = &want[i]
			p = e.Path
		} else {
			p = old[i-len(want)]
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			d, err := diskAt(fsys, root, p, e, st, parents, cache)
			out[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := make(map[string]Disk, len(out))
	for i, d := range out {
		if i < len(want) {
			m[want[i].Path] = d
		} else {
			m[old[i-len(want)]] = d
		}
	}
	return m, nil
}

// diskAt looks at the path p under root; e is what the version wants
// there (nil for an old path).
func diskAt(fsys afero.Fs, root, p string, e *Entry, st *State, parents *parentChecker, cache *HashCache) (Disk, error) {
	ps := parents.check(p)
	if ps.err != nil {
		return Disk{}, ps.err
	}
	if ps.bad != "" {
		return Disk{Kind: Blocked, Block: ps.bad, Why: ps.why}, nil
	}
	if ps.missing {
		// A directory on the way does not exist yet, so neither does
		// the file.
		return Disk{Kind: Absent}, nil
	}
	full := filepath.Join(root, filepath.FromSlash(p))
	fi, err := lstat(fsys, full)
	if errors.Is(err, fs.ErrNotExist) {
		return Disk{Kind: Absent}, nil
	}
	if err != nil {
		return Disk{}, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return Disk{Kind: Symlink}, nil
	case fi.IsDir():
		d := Disk{Kind: Dir}
		if e != nil {
			d.Holds, d.HoldsOther = listFiles(fsys, root, p)
		}
		return d, nil
	case !fi.Mode().IsRegular():
		return Disk{Kind: Irregular}, nil
	}
	d := Disk{Kind: File, Stat: StatOf(fi), Exec: fi.Mode()&0o111 != 0}
	if st.NeedsHash(p, e, d.Stat) {
		if id, ok := cache.get(p, d.Stat); ok {
			d.Hash = id
		} else if d.Hash, err = hashFile(fsys, full); err != nil {
			return Disk{}, err
		} else {
			// Reused only by the same checkout's next pass, moments later:
			// a file rewritten in between keeping its Stat is the race a
			// single pass has between its scan and its run.
			cache.put(p, d.Stat, d.Hash)
		}
	}
	return d, nil
}

// listFiles returns the regular files (root-relative) below the directory
// rel of root, and whether it holds anything else: a symbolic link, a
// special file, or something that could not be listed. It stops at the
// first such thing: a directory holding one is never cleared unforced.
func listFiles(fsys afero.Fs, root, rel string) (files []string, other bool) {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	err := afero.Walk(fsys, dir, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Mode()&fs.ModeSymlink == 0 {
			return nil
		}
		if !info.Mode().IsRegular() {
			return fs.ErrExist
		}
		sub, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(sub))
		return nil
	})
	return files, err != nil
}

// unsafeParent returns the first directory on the way to p (inside root)
// that is a symbolic link or not a directory, and why; or the error of a
// directory that could not be looked at (one that is missing is fine: it
// will be created).
func unsafeParent(fsys afero.Fs, root, p string) (string, string, error) {
	parts := strings.Split(p, "/")
	cur := root
	for i, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		fi, err := lstat(fsys, cur)
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", nil // missing: will be created
		}
		if err != nil {
			return "", "", err
		}
		rel := strings.Join(parts[:i+1], "/")
		if fi.Mode()&fs.ModeSymlink != 0 {
			return rel, WhyLink, nil
		}
		if !fi.IsDir() {
			return rel, WhyFileAsDir, nil
		}
	}
	return "", "", nil
}

// parentState is what lies on the way to a path inside a checkout root.
type parentState struct {
	bad, why string // the first directory that is not a real one, and why
	missing  bool   // a directory on the way does not exist
	err      error  // a directory on the way could not be looked at
}

// parentChecker memoises unsafeParent per directory: every file of a
// directory shares the answer.
type parentChecker struct {
	fs   afero.Fs
	root string
	mu   sync.Mutex
	m    map[string]parentState
}

func (c *parentChecker) check(p string) parentState {
	dir := path.Dir(p)
	if dir == "." {
		return parentState{}
	}
	c.mu.Lock()
	ps, ok := c.m[dir]
	c.mu.Unlock()
	if ok {
		return ps
	}
	ps.bad, ps.why, ps.err = unsafeParent(c.fs, c.root, p)
	if ps.bad == "" && ps.err == nil {
		_, err := lstat(c.fs, filepath.Join(c.root, filepath.FromSlash(dir)))
		if errors.Is(err, fs.ErrNotExist) {
			ps.missing = true
		} else if err != nil {
			ps.err = err
		}
	}
	c.mu.Lock()
	c.m[dir] = ps
	c.mu.Unlock()
	return ps
}

func lstat(fsys afero.Fs, p string) (fs.FileInfo, error) {
	if l, ok := fsys.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(p)
		return fi, err
	}
	return fsys.Stat(p)
}

func hashFile(fsys afero.Fs, p string) (objects.ID, error) {
	f, err := objects.OpenFile(fsys, p)
	if err != nil {
		return objects.ZeroID, err
	}
	defer f.Close()
	h := objects.NewHasher()
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	if _, err := io.CopyBuffer(h, f, *bufp); err != nil {
		return objects.ZeroID, err
	}
	return h.Sum(), nil
}

// bufPool holds the buffers files are hashed and copied through.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
