package repo

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/artvcs/art/objects"
)

// A commit streams: Log walks the artifact's directories one at a time,
// depth first in tree order, hashing the files of each on a bounded pool
// of workers while the walk goes on, and writes each directory's tree as
// soon as its files and subdirectories are stored. What is held is the
// listing of the directories on the current path (each with its entries),
// the files in flight, and the stat cache's block for the directory being
// listed: memory grows with the widest directory and the depth, not with
// the count of files.

// dirMount is a local directory added with AddDir, listed when the
// artifact is logged.
type dirMount struct {
	local  string // the directory as given
	abs    string // its absolute path: the stat cache's root
	prefix string // the cleaned artifact path it is added at ("" for the root)
	origin string // for error messages
}

// vdir is a directory of the artifact as the add calls shaped it: files
// added one by one, explicit subdirectories, and the local directories
// whose listings merge into it.
type vdir struct {
	files  map[string]*source
	subs   map[string]*vdir
	mounts []mountDir
}

// mountDir is the directory rel (slash-separated, "" for the top) below a
// dirMount.
type mountDir struct {
	m   *dirMount
	rel string
}

func (d mountDir) local() string {
	if d.rel == "" {
		return d.m.local
	}
	return filepath.Join(d.m.local, filepath.FromSlash(d.rel))
}

func (d mountDir) child(name string) mountDir {
	if d.rel == "" {
		return mountDir{d.m, name}
	}
	return mountDir{d.m, d.rel + "/" + name}
}

func (v *vdir) sub(name string) *vdir {
	if v.subs == nil {
		v.subs = map[string]*vdir{}
	}
	s := v.subs[name]
	if s == nil {
		s = &vdir{}
		v.subs[name] = s
	}
	return s
}

// shape builds the artifact's vdir tree. a.mu is held.
func (a *Artifact) shape() *vdir {
	root := &vdir{}
	for p, src := range a.entries {
		parts := strings.Split(p, "/")
		d := root
		for _, part := range parts[:len(parts)-1] {
			d = d.sub(part)
		}
		if d.files == nil {
			d.files = map[string]*source{}
		}
		s := src
		d.files[parts[len(parts)-1]] = &s
	}
	for i := range a.mounts {
		m := &a.mounts[i]
		d := root
		if m.prefix != "" {
			for _, part := range strings.Split(m.prefix, "/") {
				d = d.sub(part)
			}
		}
		d.mounts = append(d.mounts, mountDir{m: m})
	}
	return root
}

// builder stores an artifact's content: see storeContent.
type builder struct {
	r        *Repo
	batch    *objects.Batch
	cache    *statCaches
	progress ProgressFunc
	statAt   int64

	sem    chan struct{} // a slot per file being stored
	dirSem chan struct{} // a slot per extra goroutine building a directory
	wg     sync.WaitGroup
	errMu  sync.Mutex
	err    error
	ctx    context.Context
	stop   context.CancelFunc

	done, total      atomic.Int64
	files, size      atomic.Int64
	cacheHits, reads atomic.Int64
}

func (b *builder) fail(err error) {
	b.errMu.Lock()
	if b.err == nil {
		b.err = err
		b.stop()
	}
	b.errMu.Unlock()
}

func (b *builder) failed() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.err
}

// child is one name of a directory being built.
type child struct {
	name   string
	src    *source // a file or reference; nil for a directory
	sub    *vdir   // explicit entries below a directory
	mounts []mountDir
	from   mountDir // the mount a file was listed from (m nil: added by name)
	origin string
}

// dir builds the directory v (nil when only mounts shape it) merged with
// the listings of mounts, at artifact path p ("" for the root), and
// returns its tree's ID and whether it holds any entry.
func (b *builder) dir(v *vdir, mounts []mountDir, p string, depth int) (objects.ID, bool, error) {
	if err := b.ctx.Err(); err != nil {
		return objects.ZeroID, false, err
	}
	if depth > objects.MaxPathDepth {
		return objects.ZeroID, false, fmt.Errorf("%w: %q nests deeper than %d", objects.ErrInvalidPath, p, objects.MaxPathDepth)
	}
	byName := map[string]*child{}
	folded := map[string]string{}
	add := func(c *child, isDir bool) error {
		full := joinPath(p, c.name)
		if prev, ok := byName[c.name]; ok {
			if isDir && prev.src == nil {
				prev.mounts = append(prev.mounts, c.mounts...)
				if c.sub != nil {
					prev.sub = c.sub
				}
				return nil
			}
			switch {
			case prev.src != nil && c.src != nil:
				return fmt.Errorf("%w: %q from %s and from %s", ErrDuplicatePath, full, prev.origin, c.origin)
			case isDir:
				return fmt.Errorf("%w: %q from %s is a directory, but it is a file from %s", ErrDuplicatePath, full, c.origin, prev.origin)
			default:
				return fmt.Errorf("%w: %q from %s is also a directory from %s", ErrDuplicatePath, full, c.origin, prev.origin)
			}
		}
		f := objects.FoldName(c.name)
		if other, ok := folded[f]; ok {
			return fmt.Errorf("%w: %q from %s and %q differ only in case or Unicode normalisation", ErrDuplicatePath, full, c.origin, joinPath(p, other))
		}
		folded[f] = c.name
		byName[c.name] = c
		return nil
	}
	if v != nil {
		for name, src := range v.files {
			if err := add(&child{name: name, src: src, origin: src.origin}, false); err != nil {
				return objects.ZeroID, false, err
			}
		}
		for name, sub := range v.subs {
			if err := add(&child{name: name, sub: sub, mounts: sub.mounts, origin: "the artifact's paths"}, true); err != nil {
				return objects.ZeroID, false, err
			}
		}
	}
	for _, md := range mounts {
		if err := b.list(md, p, add); err != nil {
			return objects.ZeroID, false, err
		}
	}

	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	entries := make([]objects.TreeEntry, len(names))
	keep := make([]bool, len(names))
	var dirWG sync.WaitGroup
	for i, name := range names {
		c := byName[name]
		if c.src == nil {
			sub := func() error {
				id, any, err := b.dir(c.sub, c.mounts, joinPath(p, name), depth+1)
				if err != nil {
					return err
				}
				if any {
					entries[i] = objects.TreeEntry{Name: name, Kind: objects.KindDir, ID: id}
					keep[i] = true
				}
				return nil
			}
			// Subdirectories are built on other goroutines while there
			// are slots (listing and stat'ing is most of a recommit),
			// else on this one.
			select {
			case b.dirSem <- struct{}{}:
				dirWG.Add(1)
				go func() {
					defer func() { <-b.dirSem; dirWG.Done() }()
					if err := sub(); err != nil {
						b.fail(err)
					}
				}()
			default:
				if err := sub(); err != nil {
					b.fail(err)
				}
			}
		} else {
			keep[i] = true
			if err := b.file(c, &entries[i], &dirWG); err != nil {
				b.fail(err)
			}
		}
		if b.failed() != nil {
			break // (after the goroutines started here are done)
		}
	}
	dirWG.Wait()
	if err := b.failed(); err != nil {
		return objects.ZeroID, false, err
	}
	t := &objects.Tree{Entries: make([]objects.TreeEntry, 0, len(entries))}
	for i, e := range entries {
		if keep[i] {
			if e.Kind != objects.KindDir && e.Size > 0 {
				b.size.Add(e.Size)
			}
			t.Entries = append(t.Entries, e)
		}
	}
	// What the stat cache learnt from this directory, block by block.
	learnt := cacheBlocks{}
	for i, name := range names {
		c := byName[name]
		if c.src != nil && cacheable(*c.src) {
			learnt.record(*c.src, entries[i].ID)
		}
	}
	b.cache.write(learnt)
	if len(t.Entries) == 0 && p != "" {
		return objects.ZeroID, false, nil
	}
	// Entries are in name order; past ShardThreshold of them the directory
	// is written as leaves under index nodes.
	id, err := objects.WriteDir(b.ctx, b.batch.PutBytes, t)
	return id, true, err
}

// list adds the entries of the local directory md to a directory being
// built at artifact path p.
func (b *builder) list(md mountDir, p string, add func(*child, bool) error) error {
	dir := md.local()
	f, err := b.r.fs.Open(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	infos, err := f.Readdir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	cached := b.cache.block(md.m.abs, md.rel)
	for _, info := range infos {
		name := info.Name()
		if err := objects.ValidateName(name); err != nil {
			return fmt.Errorf("%s: path %q: %w", md.m.origin, joinPath(p, name), err)
		}
		if info.IsDir() {
			if err := add(&child{name: name, mounts: []mountDir{md.child(name)}, origin: md.m.origin}, true); err != nil {
				return err
			}
			continue
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			local := filepath.Join(dir, name)
			target, err := b.r.fs.Stat(local)
			if err != nil {
				return fmt.Errorf("%s is a broken symbolic link: %w", local, err)
			}
			if target.IsDir() {
				return fmt.Errorf("%s is a symbolic link to a directory; add its target with its own AddDir", local)
			}
			info = target
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", filepath.Join(dir, name))
		}
		src := &source{ldir: dir, rel: md.rel, name: name, root: md.m.abs,
			stat: statOf(info), statAt: b.statAt, size: info.Size(), exec: info.Mode()&0o111 != 0, origin: md.m.origin}
		if e, ok := cached[name]; ok && e.stat == src.stat {
			src.blob, src.cached = e.blob, true
		}
		if err := add(&child{name: name, src: src, from: md, origin: md.m.origin}, false); err != nil {
			return err
		}
	}
	return nil
}

// file fills in e for the file or reference of c: at once when its content
// is known (a reference, a NewFile, a stat cache hit), else by storing it
// on the worker pool (wg counts it).
func (b *builder) file(c *child, e *objects.TreeEntry, wg *sync.WaitGroup) error {
	src := c.src
	*e = objects.TreeEntry{Name: c.name, Kind: objects.KindFile, ID: src.blob, Size: src.size, Exec: src.exec}
	if src.isRef {
		*e = objects.TreeEntry{Name: c.name, Kind: objects.KindRef, Size: src.size, URI: src.uri, Digest: src.digest}
	}
	b.files.Add(1)
	if src.local == "" && src.ldir == "" {
		return nil
	}
	if src.root == "" && src.abs != "" {
		// AddFile's sources are looked up here (AddDir's were when listed).
		if ce, ok := b.cache.block(filepath.Dir(src.abs), "")[filepath.Base(src.abs)]; ok && ce.stat == src.stat {
			src.blob, src.cached = ce.blob, true
		}
	}
	b.total.Add(src.size)
	if src.cached {
		e.ID = src.blob
		b.cacheHits.Add(1)
		if b.progress != nil {
			b.progress(b.done.Add(src.size), b.total.Load())
		}
		return nil
	}
	b.reads.Add(1)
	select {
	case b.sem <- struct{}{}:
	case <-b.ctx.Done():
		if err := b.failed(); err != nil {
			return err
		}
		return b.ctx.Err()
	}
	wg.Add(1)
	b.wg.Add(1)
	go func() {
		defer func() { <-b.sem; wg.Done(); b.wg.Done() }()
		id, n, err := b.store(src)
		if err != nil {
			b.fail(err)
			return
		}
		if n != src.stat.Size {
			src.abs, src.name = "", "" // changed since it was listed: do not cache
		}
		src.blob, src.size = id, n
		e.ID, e.Size = id, n
	}()
	return nil
}

func (b *builder) store(src *source) (objects.ID, int64, error) {
	local := src.path()
	f, err := objects.OpenFile(b.r.fs, local)
	if err != nil {
		return objects.ZeroID, 0, fmt.Errorf("read %s: %w", local, err)
	}
	defer f.Close()
	var rd = readerFunc(f.Read)
	if b.progress != nil {
		rd = func(p []byte) (int, error) {
			n, err := f.Read(p)
			b.progress(b.done.Add(int64(n)), b.total.Load())
			return n, err
		}
	}
	id, n, err := b.batch.PutSized(b.ctx, rd, src.stat.Size)
	if err != nil {
		return objects.ZeroID, 0, fmt.Errorf("store %s: %w", local, err)
	}
	return id, n, nil
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return path.Join(dir, name)
}
