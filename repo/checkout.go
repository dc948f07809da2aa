package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
)

// ErrLocalChanges is returned when a checkout would overwrite or delete a
// file that the user changed (or that art did not write), or write through
// a symbolic link. Nothing is changed; --force (CheckoutOptions.Force)
// replaces such files.
var ErrLocalChanges = errors.New("local changes would be lost")

// CheckoutOptions tune a checkout. A nil *CheckoutOptions is the zero value.
type CheckoutOptions struct {
	// Path restricts the checkout to one file or directory of the version.
	Path string
	// Force overwrites and deletes files the user changed, and replaces
	// symbolic links and other non-files in the way (never writing through
	// them).
	Force bool
	// Progress, if set, is called as bytes are written.
	Progress ProgressFunc
}

// CheckoutResult says what a checkout did.
type CheckoutResult struct {
	Version Version
	Dir     string
	Files   int // files (and file:// references) the version has in scope
	Written int // files written (or whose executable bit was set right)
	Skipped int // files already right, left alone
	Removed int // files of the previous checkout that the version no longer has
	// Refs counts references to remote URIs, which are listed in the
	// manifest but not downloaded.
	Refs int
}

// Checkout materialises the version ref names into dir; see Version.Download.
func (r *Repo) Checkout(ctx context.Context, ref, dir string, opts *CheckoutOptions) (CheckoutResult, error) {
	v, err := r.Resolve(ctx, ref)
	if err != nil {
		return CheckoutResult{}, err
	}
	return v.Download(ctx, dir, opts)
}

// DefaultDir is where a version is checked out when no directory is given:
// a directory named after the artifact in the current directory.
func (v Version) DefaultDir() string { return v.Name }

// Download materialises the version into root (W&B's Artifact.download).
// root "" means DefaultDir.
//
// Files already present with the right size and hash are not rewritten
// (only their executable bit is set right). Switching a directory from
// another checkout updates it in place: files the new version no longer
// has are removed, with directories they leave empty, and a file of the
// old version where the new one has a directory (or the reverse) is
// replaced. A file that the user changed since the last checkout, or that
// art did not write, is never overwritten or removed unless opts.Force is
// set: without it, ErrLocalChanges is returned, naming the files, before
// anything is written.
//
// A stat cache (size, modification time, inode, change time) kept in the
// repository spares re-hashing files that have not changed since a
// checkout; a file modified in the same tick of the file system's clock
// as the cache was saved is hashed all the same.
//
// Download never writes outside root and never follows a symbolic link
// inside it. Every file is written through a temp file and renamed into
// place only after its bytes hashed to the right ID, so corrupt bytes
// never reach root.
func (v Version) Download(ctx context.Context, root string, opts *CheckoutOptions) (CheckoutResult, error) {
	if opts == nil {
		opts = &CheckoutOptions{}
	}
	if root == "" {
		root = v.DefaultDir()
	}
	root = filepath.Clean(root)
	r := v.repo
	res := CheckoutResult{Version: v, Dir: root}
	scope := ""
	if opts.Path != "" {
		clean, err := objects.CleanPath(opts.Path)
		if err != nil {
			return res, err
		}
		scope = clean
	}
	manifest, err := v.Manifest(ctx)
	if err != nil {
		return res, err
	}
	var want []ManifestEntry
	for _, e := range manifest {
		// The decoder already refused unsafe names; every path is checked
		// again with the same validator before anything is written.
		if c, err := objects.CleanPath(e.Path); err != nil || c != e.Path {
			if err == nil {
				err = fmt.Errorf("%w: %q is not a clean path", objects.ErrInvalidPath, e.Path)
			}
			return res, fmt.Errorf("%w: %s: %w", objects.ErrCorrupt, v.Ref(), err)
		}
		if inScope(e.Path, scope) {
			want = append(want, e)
		}
	}
	if scope != "" && len(want) == 0 {
		return res, fmt.Errorf("%w: %s has no file or directory %q", ErrNotFound, v.Ref(), scope)
	}
	// A version that came by `art fetch`: bring the files it needs.
	if err := r.fetchMissing(ctx, v, want); err != nil {
		return res, err
	}
	if err := r.fs.MkdirAll(root, 0o755); err != nil {
		return res, fmt.Errorf("create %s: %w", root, err)
	}
	st, err := r.loadCheckoutState(root)
	if err != nil {
		return res, err
	}
	wantSet := make(map[string]bool, len(want))
	for _, e := range want {
		wantSet[e.Path] = true
	}

	// Plan: decide, for every path, whether to skip, write or remove, and
	// collect conflicts, before changing anything.
	type step struct {
		e      ManifestEntry
		write  bool
		chmod  bool // right bytes, wrong executable bit
		remove bool // an old file to delete
		drop   bool // an old file that is gone, no longer a file, or removed with what was in the way: forget it
		rec    fileState
		// block is what stands where the file or one of its directories
		// must go (a file, a directory or a symbolic link, root-relative),
		// and why; decided once every step is planned.
		block, blockWhy string
		clear           string // remove this (root-relative) before writing
		conflict        bool
		exists          bool // something is at the path: replace it, don't just link
	}
	var steps []step
	for _, e := range want {
		if e.IsRef() && !isFileURI(e.Ref) {
			res.Refs++
			continue
		}
		steps = append(steps, step{e: e})
	}
	var oldPaths []string
	for p := range st.Files {
		if inScope(p, scope) && !wantSet[p] {
			oldPaths = append(oldPaths, p)
		}
	}
	for p := range st.pending {
		if _, tracked := st.Files[p]; !tracked && inScope(p, scope) && !wantSet[p] {
			oldPaths = append(oldPaths, p)
		}
	}
	sort.Strings(oldPaths)
	for _, p := range oldPaths {
		steps = append(steps, step{e: ManifestEntry{Path: p}, remove: true})
	}
	res.Files = len(steps) - len(oldPaths)

	var mu sync.Mutex
	var conflicts []string
	conflict := func(s *step, p, why string) {
		mu.Lock()
		s.conflict = true
		conflicts = append(conflicts, p+" ("+why+")")
		mu.Unlock()
	}
	parents := &parentChecker{r: r, root: root, m: map[string]parentState{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkoutWorkers())
	for i := range steps {
		s := &steps[i]
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			full := filepath.Join(root, filepath.FromSlash(s.e.Path))
			ps := parents.check(s.e.Path)
			if ps.err != nil {
				return ps.err
			}
			if ps.bad != "" {
				if s.remove {
					s.drop = true // never delete through a link
				} else {
					s.block, s.blockWhy = ps.bad, ps.why
				}
				return nil
			}
			if ps.missing {
				// A directory on the way does not exist yet, so neither
				// does the file.
				s.write, s.drop = !s.remove, s.remove
				return nil
			}
			prev, tracked := st.Files[s.e.Path]
			fi, err := lstat(r.fs, full)
			if errors.Is(err, fs.ErrNotExist) {
				s.write, s.drop = !s.remove, s.remove
				return nil
			}
			if err != nil {
				return err
			}
			s.exists = true
			if !fi.Mode().IsRegular() {
				if s.remove {
					s.drop = true // not ours any more; leave it
					return nil
				}
				s.block, s.blockWhy = s.e.Path, whyDir
				if fi.Mode()&fs.ModeSymlink != 0 {
					s.blockWhy = whyLink
				} else if !fi.IsDir() {
					s.blockWhy = "is not a regular file"
				}
				return nil
			}
			cur := statOf(fi)
			s.chmod = !s.remove && (fi.Mode()&0o111 != 0) != s.e.Exec
			wantID := s.e.Digest
			if s.e.IsRef() {
				wantID = refBlobID(s.e)
			}
			// Unchanged since art wrote it? Only a file last modified
			// before the state was saved can be trusted by its stat: one
			// modified within the same tick of the file system's clock
			// may have changed after art recorded it, keeping its stat.
			unchanged := tracked && prev.sameStat(cur) && settled(cur.MTime, st.saved)
			if !s.remove && tracked && unchanged && prev.ID == wantID {
				s.rec = prev
				return nil // skip: stat cache says it is right
			}
			pending := st.pending[s.e.Path]
			var have objects.ID
			if !unchanged && (tracked || len(pending) > 0 || (!s.remove && cur.Size == s.e.Size)) {
				if have, err = hashFile(r.fs, full); err != nil {
					return err
				}
			}
			if !s.remove && !unchanged && have == wantID && cur.Size == s.e.Size {
				s.rec = fileState{ID: wantID, stat: cur}
				return nil // skip: already right
			}
			if tracked && (unchanged || have == prev.ID) || !unchanged && slices.Contains(pending, have) {
				// Ours and untouched (or written by a checkout that was
				// interrupted): safe to replace or remove.
				s.write = !s.remove
				return nil
			}
			if opts.Force {
				s.write = !s.remove
				return nil
			}
			if !tracked && s.remove {
				s.drop = true // an interrupted checkout's file, changed since: leave it
				return nil
			}
			if tracked {
				conflict(s, s.e.Path, "changed since checkout")
			} else if !s.remove {
				conflict(s, s.e.Path, "not written by art")
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}

	// Decide what stands in the way of a file. Old files of ours that are
	// to be removed anyway (a file where the version now has a directory,
	// a directory of them where it now has a file) are cleared first;
	// anything else only when forced.
	removable := map[string]bool{}
	for _, s := range steps {
		if s.remove && !s.drop && !s.conflict {
			removable[s.e.Path] = true
		}
	}
	for i := range steps {
		s := &steps[i]
		if s.block == "" {
			continue
		}
		ok := false
		switch s.blockWhy {
		case whyFileAsDir:
			ok = removable[s.block]
		case whyDir:
			ok = r.onlyRemovable(root, s.block, removable)
		}
		switch {
		case ok || opts.Force:
			s.write, s.clear = true, s.block
		case s.blockWhy == whyDir:
			conflict(s, s.block, "is a directory holding files art did not write or that changed")
		default:
			conflict(s, s.block, s.blockWhy)
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		conflicts = slices.Compact(conflicts)
		more := ""
		if len(conflicts) > 10 {
			more = fmt.Sprintf(" and %d more", len(conflicts)-10)
			conflicts = conflicts[:10]
		}
		return res, fmt.Errorf("%w in %s: %s%s",
			ErrLocalChanges, root, strings.Join(conflicts, ", "), more)
	}

	// Before changing anything, record what each file is about to hold:
	// if this checkout is killed, the next one knows those contents for
	// its own, as it knows the old ones.
	pending := map[string][]objects.ID{}
	for p, ids := range st.pending {
		pending[p] = ids
	}
	for _, s := range steps {
		if s.write {
			id := s.e.Digest
			if s.e.IsRef() {
				id = refBlobID(s.e)
			}
			if !slices.Contains(pending[s.e.Path], id) {
				pending[s.e.Path] = append(pending[s.e.Path], id)
			}
		}
	}
	if !maps.EqualFunc(pending, st.pending, slices.Equal[[]objects.ID]) {
		if err := r.savePending(root, pending); err != nil {
			return res, err
		}
	}

	dirSet := map[string]bool{".": true}
	for i := range steps {
		dirSet[path.Dir(steps[i].e.Path)] = true
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	r.removeStaleTemps(root, dirs)

	// Execute: clear what is in the way (one at a time: several files may
	// wait on one path), write files in parallel, then remove old ones.
	var cleared []string
	for _, s := range steps {
		if s.clear != "" {
			cleared = append(cleared, s.clear)
		}
	}
	sort.Strings(cleared)
	cleared = slices.Compact(cleared)
	for _, c := range cleared {
		if err := r.fs.RemoveAll(filepath.Join(root, filepath.FromSlash(c))); err != nil {
			return res, fmt.Errorf("checkout: remove %s: %w", c, err)
		}
		for i := range steps {
			if s := &steps[i]; s.remove && !s.drop && inScope(s.e.Path, c) {
				s.drop = true
				res.Removed++
			}
		}
	}
	var total int64
	for _, s := range steps {
		if s.write {
			total += s.e.Size
		}
	}
	var done atomic.Int64
	made := &sync.Map{} // directories known to exist and be real directories
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(checkoutWorkers())
	newState := &checkoutState{Dir: st.Dir, Name: v.Name, Version: v.Version.Version, Files: map[string]fileState{}}
	for p, fsx := range st.Files {
		if !inScope(p, scope) {
			newState.Files[p] = fsx
		}
	}
	var stMu sync.Mutex
	record := func(p string, f fileState) {
		stMu.Lock()
		newState.Files[p] = f
		stMu.Unlock()
	}
	for i := range steps {
		s := &steps[i]
		if s.remove || s.drop {
			continue
		}
		if !s.write && !s.chmod {
			res.Skipped++
			record(s.e.Path, s.rec)
			continue
		}
		res.Written++
		g.Go(func() error {
			var rec fileState
			var err error
			if s.write {
				rec, err = r.writeFile(gctx, root, s.e, s.exists || s.clear != "", made, func(n int64) {
					if opts.Progress != nil {
						opts.Progress(done.Add(n), total)
					}
				})
			} else {
				rec, err = r.setMode(root, s.e, s.rec.ID)
			}
			if err != nil {
				return fmt.Errorf("checkout %s: %w", s.e.Path, err)
			}
			record(s.e.Path, rec)
			return nil
		})
	}
	werr := g.Wait()
	if werr == nil {
		var dirs []string
		for _, s := range steps {
			if !s.remove || s.drop {
				continue
			}
			full := filepath.Join(root, filepath.FromSlash(s.e.Path))
			if err := r.fs.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
				werr = fmt.Errorf("remove %s: %w", s.e.Path, err)
				break
			}
			res.Removed++
			dirs = append(dirs, filepath.Dir(full))
		}
		r.removeEmptyDirs(root, dirs)
	} else {
		// Keep the old records of files not rewritten, so a retry still
		// knows they were ours.
		for _, s := range steps {
			if _, ok := newState.Files[s.e.Path]; !ok {
				if prev, ok := st.Files[s.e.Path]; ok {
					newState.Files[s.e.Path] = prev
				}
			}
		}
	}
	if err := r.saveCheckoutState(root, newState); err != nil && werr == nil {
		werr = err
	}
	if werr == nil {
		// Every file in scope is now recorded as it is: what an
		// interrupted checkout left pending there is settled.
		for p := range pending {
			if inScope(p, scope) {
				delete(pending, p)
			}
		}
		if err := r.savePending(root, pending); err != nil {
			werr = err
		}
	}
	return res, werr
}

// onlyRemovable reports whether the directory rel (under root) holds
// nothing but directories and files in removable: old files of ours that
// the checkout removes anyway. Symbolic links are never removable.
func (r *Repo) onlyRemovable(root, rel string, removable map[string]bool) bool {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	err := afero.Walk(r.fs, dir, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Mode()&fs.ModeSymlink == 0 {
			return nil
		}
		sub, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() || !removable[filepath.ToSlash(sub)] {
			return fs.ErrExist
		}
		return nil
	})
	return err == nil
}

// Why a path is in the way of a checkout.
const (
	whyLink      = "is a symbolic link"
	whyFileAsDir = "is a file where the version has a directory"
	whyDir       = "is a directory"
)

func inScope(p, scope string) bool {
	return scope == "" || p == scope || strings.HasPrefix(p, scope+"/")
}

func isFileURI(uri string) bool { return strings.HasPrefix(uri, "file://") }

// refBlobID returns the BLAKE3 recorded for a file:// reference.
func refBlobID(e ManifestEntry) objects.ID {
	id, _ := objects.ParseID(strings.TrimPrefix(e.RefDigest, "blake3:"))
	return id
}

// unsafeParent returns the first directory on the way to p (inside root)
// that is a symbolic link or not a directory, and why; or the error of a
// directory that could not be looked at (one that is missing is fine: it
// will be created).
func (r *Repo) unsafeParent(root, p string) (string, string, error) {
	parts := splitPath(p)
	cur := root
	for i, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		fi, err := lstat(r.fs, cur)
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", nil // missing: will be created
		}
		if err != nil {
			return "", "", err
		}
		rel := strings.Join(parts[:i+1], "/")
		if fi.Mode()&fs.ModeSymlink != 0 {
			return rel, whyLink, nil
		}
		if !fi.IsDir() {
			return rel, whyFileAsDir, nil
		}
	}
	return "", "", nil
}

// openEntry opens the content of e for reading, verified against id: the
// stored blob, or the file a file:// reference names.
func (r *Repo) openEntry(ctx context.Context, e ManifestEntry, id objects.ID) (io.ReadCloser, error) {
	if !e.IsRef() {
		return r.store.Open(ctx, id)
	}
	u, err := url.Parse(e.Ref)
	if err != nil {
		return nil, err
	}
	f, err := r.fs.Open(u.Path)
	if err != nil {
		return nil, fmt.Errorf("reference %s: %w", e.Ref, err)
	}
	return objects.NewVerifyingReader(f, id), nil
}

// staleTempAge is how old a temp file left in a checkout directory must be
// before a later checkout removes it (younger ones may belong to a
// checkout still running).
const staleTempAge = 10 * time.Minute

// removeStaleTemps deletes files named like checkout temp files in dirs
// (root-relative, "." for root) that an interrupted checkout left behind.
// A directory reached through a symbolic link is skipped.
// Names are listed without stat'ing every file; only candidates are.
func (r *Repo) removeStaleTemps(root string, dirs []string) {
	cutoff := r.now().Add(-staleTempAge)
	for _, d := range dirs {
		if d != "." {
			// Never list a directory through a symbolic link: the temp
			// files there are not ours.
			if bad, _, err := r.unsafeParent(root, d+"/x"); bad != "" || err != nil {
				continue
			}
		}
		dir := filepath.Join(root, filepath.FromSlash(d))
		f, err := r.fs.Open(dir)
		if err != nil {
			continue
		}
		names, _ := f.Readdirnames(-1)
		f.Close()
		for _, n := range names {
			if !strings.HasPrefix(n, checkoutTempPrefix) {
				continue
			}
			p := filepath.Join(dir, n)
			if fi, err := lstat(r.fs, p); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
				r.fs.Remove(p)
			}
		}
	}
}

// kernelCopyMin is the size from which checkout lets the kernel copy.
const kernelCopyMin = 1 << 20

// copyVerified copies src (a verifying reader) into w through a pooled
// buffer; a hash mismatch surfaces as src's error at the end.
func copyVerified(w io.Writer, src io.Reader, e ManifestEntry, id objects.ID, progress func(int64)) (int64, error) {
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	buf := *bufp
	var n int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
			progress(int64(k))
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			if e.IsRef() && errors.Is(rerr, objects.ErrCorrupt) {
				return n, fmt.Errorf("reference %s changed since it was logged (size or checksum differs)", e.Ref)
			}
			return n, rerr
		}
	}
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
	r    *Repo
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
	ps.bad, ps.why, ps.err = c.r.unsafeParent(c.root, p)
	if ps.bad == "" && ps.err == nil {
		_, err := lstat(c.r.fs, filepath.Join(c.root, filepath.FromSlash(dir)))
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

// checkoutTempPrefix starts the names of files being written into a
// checkout where the OS has no anonymous files; Verify ignores them.
const checkoutTempPrefix = ".art-tmp-"

// checkoutWorkers is how many files a checkout plans or writes at once.
func checkoutWorkers() int { return 4 * runtime.GOMAXPROCS(0) }

// writeFile writes one entry under root. The bytes go to a pending file
// in the target directory (anonymous where the OS allows), verified on
// the way, and the file is published under its name (replacing what is
// there when replace is set) only after its content hashed right, so
// corrupt or partial bytes never appear under the file's name.
func (r *Repo) writeFile(ctx context.Context, root string, e ManifestEntry, replace bool, made *sync.Map, progress func(int64)) (fileState, error) {
	full := filepath.Join(root, filepath.FromSlash(e.Path))
	dir := filepath.Dir(full)
	if _, ok := made.Load(dir); !ok {
		if err := r.mkdirs(root, e.Path); err != nil {
			return fileState{}, err
		}
		made.Store(dir, true)
	}
	id := e.Digest
	if e.IsRef() {
		id = refBlobID(e)
	}
	pf, err := objects.CreatePending(r.fs, dir, checkoutTempPrefix, fileMode(e))
	if err != nil {
		return fileState{}, err
	}
	defer pf.Abort()
	var n int64
	copied := false
	if !e.IsRef() && e.Size >= kernelCopyMin {
		// Let the kernel move large files (reflink or copy_file_range),
		// still hashing every byte.
		if n, copied, err = r.store.CopyTo(ctx, id, pf.File(), progress); err != nil {
			return fileState{}, err
		}
	}
	if !copied {
		src, err := r.openEntry(ctx, e, id)
		if err != nil {
			return fileState{}, err
		}
		n, err = copyVerified(pf, src, e, id, progress)
		src.Close()
		if err != nil {
			return fileState{}, err
		}
	}
	if n != e.Size {
		return fileState{}, &objects.CorruptError{ID: id, Reason: fmt.Sprintf("%d bytes, want %d", n, e.Size)}
	}
	if replace {
		err = pf.Replace(full)
	} else if err = pf.Link(full); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%w: %s appeared during the checkout", ErrLocalChanges, e.Path)
	}
	if err != nil {
		return fileState{}, err
	}
	fi, err := lstat(r.fs, full)
	if err != nil {
		return fileState{}, err
	}
	return fileState{ID: id, stat: statOf(fi)}, nil
}

// fileMode is the mode a checkout gives the file of e.
func fileMode(e ManifestEntry) os.FileMode {
	if e.Exec {
		return 0o755
	}
	return 0o644
}

// setMode gives the file of e under root, whose content is id, its mode.
func (r *Repo) setMode(root string, e ManifestEntry, id objects.ID) (fileState, error) {
	full := filepath.Join(root, filepath.FromSlash(e.Path))
	if err := r.fs.Chmod(full, fileMode(e)); err != nil {
		return fileState{}, err
	}
	fi, err := lstat(r.fs, full)
	if err != nil {
		return fileState{}, err
	}
	return fileState{ID: id, stat: statOf(fi)}, nil
}

// mkdirs creates the directories leading to p under root, refusing to pass
// through a symbolic link or anything else that is not a directory.
func (r *Repo) mkdirs(root, p string) error {
	parts := splitPath(p)
	cur := root
	for _, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		fi, err := lstat(r.fs, cur)
		if err == nil && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if err == nil {
			return fmt.Errorf("%w: %s is not a directory", ErrLocalChanges, cur)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err // an I/O error, not a verdict on the path
		}
		if err := r.fs.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err = lstat(r.fs, cur)
		if err != nil {
			return err
		}
		if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s is not a directory", ErrLocalChanges, cur)
		}
	}
	return nil
}

// removeEmptyDirs removes directories (below root) left empty by removed
// files.
func (r *Repo) removeEmptyDirs(root string, dirs []string) {
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	seen := map[string]bool{}
	for _, d := range dirs {
		for !seen[d] {
			if rel, err := filepath.Rel(root, d); err != nil || rel == "." || rel == ".." ||
				strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				break
			}
			seen[d] = true
			entries, err := afero.ReadDir(r.fs, d)
			if err != nil || len(entries) > 0 {
				break
			}
			if r.fs.Remove(d) != nil {
				break
			}
			d = filepath.Dir(d)
		}
	}
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
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	if _, err := io.CopyBuffer(h, f, *bufp); err != nil {
		return objects.ZeroID, err
	}
	return h.Sum(), nil
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// fileStat is what the stat cache compares to decide a file is unchanged.
type fileStat struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"`
	Ino   uint64 `json:"ino,omitempty"`
	Dev   uint64 `json:"dev,omitempty"`
	CTime int64  `json:"ctime,omitempty"`
}

func statOf(fi fs.FileInfo) fileStat {
	s := fileStat{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	sysStat(fi, &s)
	return s
}

// fileState records a file that a checkout wrote or found right.
type fileState struct {
	ID objects.ID `json:"id"`
	stat
}

type stat = fileStat

func (f fileState) sameStat(s fileStat) bool { return f.stat == s }

// checkoutState is what a directory was last checked out to, kept in the
// repository (checkouts/<hash of the directory's absolute path>.json).
type checkoutState struct {
	Dir     string               `json:"dir"`
	Name    string               `json:"name"`
	Version int64                `json:"version"`
	Files   map[string]fileState `json:"files"`
	// saved is when the state was last saved (its file's modification
	// time, in nanoseconds; 0 if never): see Download's use of the stat
	// cache.
	saved int64
	// pending is what checkouts that did not finish (killed, or failed
	// halfway) were writing: path -> the IDs it may now hold besides its
	// record in Files. It is kept beside the state (.pending.json), so
	// saving it leaves saved alone.
	pending map[string][]objects.ID
}

// pendingState is the .pending.json file beside a checkout state.
type pendingState struct {
	Dir   string                  `json:"dir"`
	Files map[string][]objects.ID `json:"files"`
}

func (r *Repo) statePath(root string) (string, string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", "", err
	}
	key := objects.Hash([]byte(abs)).String()[:32]
	return filepath.Join(r.dir, "checkouts", key+".json"), abs, nil
}

func (r *Repo) loadCheckoutState(root string) (*checkoutState, error) {
	p, abs, err := r.statePath(root)
	if err != nil {
		return nil, err
	}
	st := &checkoutState{Dir: abs, Files: map[string]fileState{}}
	if st.pending, err = r.loadPending(pendingPath(p), abs); err != nil {
		return nil, err
	}
	fi, err := r.fs.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := r.fs.Open(p)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		// Not damage: a state read in part would make art forget files
		// it wrote (and so refuse to replace them, or leave them behind).
		return nil, fmt.Errorf("read checkout state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil || st.Dir != abs {
		// A damaged state file only costs re-hashing: start afresh.
		return &checkoutState{Dir: abs, Files: map[string]fileState{}, pending: st.pending}, nil
	}
	if st.Files == nil {
		st.Files = map[string]fileState{}
	}
	for p := range st.Files {
		// A damaged record must not send a checkout (which removes the
		// files it lists that the new version lacks) outside root or
		// into a repository.
		if c, err := objects.CleanPath(p); err != nil || c != p {
			delete(st.Files, p)
		}
	}
	st.saved = fi.ModTime().UnixNano()
	return st, nil
}

func pendingPath(statePath string) string {
	return strings.TrimSuffix(statePath, ".json") + ".pending.json"
}

// loadPending reads the pending file at p (see checkoutState.pending),
// keeping only clean paths. A damaged file is as good as none, but an
// error reading it is returned, like one reading the state: forgetting
// what an interrupted checkout wrote would refuse those files.
func (r *Repo) loadPending(p, abs string) (map[string][]objects.ID, error) {
	out := map[string][]objects.ID{}
	b, err := afero.ReadFile(r.fs, p)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkout state: %w", err)
	}
	var ps pendingState
	if json.Unmarshal(b, &ps) != nil || ps.Dir != abs {
		return out, nil
	}
	for p, ids := range ps.Files {
		if c, err := objects.CleanPath(p); err == nil && c == p && len(ids) > 0 {
			out[p] = ids
		}
	}
	return out, nil
}

// savePending records what the checkout of root is about to write (see
// checkoutState.pending), or removes the record when there is none.
func (r *Repo) savePending(root string, files map[string][]objects.ID) error {
	sp, abs, err := r.statePath(root)
	if err != nil {
		return err
	}
	p := pendingPath(sp)
	if len(files) == 0 {
		if err := r.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := r.fs.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeFileAtomicFunc(r.fs, p, 0o644, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(pendingState{Dir: abs, Files: files})
	})
}

func (r *Repo) saveCheckoutState(root string, st *checkoutState) error {
	p, _, err := r.statePath(root)
	if err != nil {
		return err
	}
	if err := r.fs.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeFileAtomicFunc(r.fs, p, 0o644, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(st)
	})
}
