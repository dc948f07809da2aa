package repo

import (
	"context"
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
	"github.com/artvcs/art/repo/worktree"
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
		if worktree.InScope(e.Path, scope) {
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

	// Plan: look at every path, then decide, before changing anything,
	// whether to skip, write or remove it, and what conflicts.
	var ents []ManifestEntry // what the plan's first actions write, in order
	var wt []worktree.Entry
	for _, e := range want {
		if e.IsRef() && !isFileURI(e.Ref) {
			res.Refs++
			continue
		}
		ents = append(ents, e)
		wt = append(wt, worktree.Entry{Path: e.Path, ID: entryID(e), Size: e.Size, Exec: e.Exec})
	}
	res.Files = len(wt)
	old := worktree.Removals(wt, st, scope)
	disk, err := r.diskState(ctx, root, wt, old, st)
	if err != nil {
		return res, err
	}
	plan := worktree.NewPlan(worktree.Input{Want: wt, Scope: scope, Disk: disk, State: st, Force: opts.Force})
	if len(plan.Conflicts) > 0 {
		conflicts := make([]string, len(plan.Conflicts))
		for i, c := range plan.Conflicts {
			conflicts[i] = c.String()
		}
		more := ""
		if len(conflicts) > 10 {
			more = fmt.Sprintf(" and %d more", len(conflicts)-10)
			conflicts = conflicts[:10]
		}
		return res, fmt.Errorf("%w in %s: %s%s",
			ErrLocalChanges, root, strings.Join(conflicts, ", "), more)
	}
	return r.execute(ctx, root, scope, v, ents, plan, st, opts, res)
}

// diskState looks, in parallel, at what is at each path of want and old
// under root: what worktree.NewPlan decides from. It hashes a file only
// when st.NeedsHash asks, and lists a directory only where the version
// wants a file.
func (r *Repo) diskState(ctx context.Context, root string, want []worktree.Entry, old []string, st *worktree.State) (map[string]worktree.Disk, error) {
	out := make([]worktree.Disk, len(want)+len(old))
	parents := &parentChecker{r: r, root: root, m: map[string]parentState{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkoutWorkers())
	for i := range out {
		var e *worktree.Entry
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
			d, err := r.diskAt(root, p, e, st, parents)
			out[i] = d
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := make(map[string]worktree.Disk, len(out))
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
func (r *Repo) diskAt(root, p string, e *worktree.Entry, st *worktree.State, parents *parentChecker) (worktree.Disk, error) {
	ps := parents.check(p)
	if ps.err != nil {
		return worktree.Disk{}, ps.err
	}
	if ps.bad != "" {
		return worktree.Disk{Kind: worktree.Blocked, Block: ps.bad, Why: ps.why}, nil
	}
	if ps.missing {
		// A directory on the way does not exist yet, so neither does
		// the file.
		return worktree.Disk{Kind: worktree.Absent}, nil
	}
	full := filepath.Join(root, filepath.FromSlash(p))
	fi, err := lstat(r.fs, full)
	if errors.Is(err, fs.ErrNotExist) {
		return worktree.Disk{Kind: worktree.Absent}, nil
	}
	if err != nil {
		return worktree.Disk{}, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return worktree.Disk{Kind: worktree.Symlink}, nil
	case fi.IsDir():
		d := worktree.Disk{Kind: worktree.Dir}
		if e != nil {
			d.Holds, d.HoldsOther = r.listFiles(root, p)
		}
		return d, nil
	case !fi.Mode().IsRegular():
		return worktree.Disk{Kind: worktree.Irregular}, nil
	}
	d := worktree.Disk{Kind: worktree.File, Stat: statOf(fi), Exec: fi.Mode()&0o111 != 0}
	if st.NeedsHash(p, e, d.Stat) {
		if d.Hash, err = hashFile(r.fs, full); err != nil {
			return worktree.Disk{}, err
		}
	}
	return d, nil
}

// listFiles returns the regular files (root-relative) below the directory
// rel of root, and whether it holds anything else: a symbolic link, a
// special file, or something that could not be listed. It stops at the
// first such thing: a directory holding one is never cleared unforced.
func (r *Repo) listFiles(root, rel string) (files []string, other bool) {
	dir := filepath.Join(root, filepath.FromSlash(rel))
	err := afero.Walk(r.fs, dir, func(p string, info fs.FileInfo, err error) error {
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

// execute carries out plan, which has no conflicts, in root: ents are the
// entries of its first actions. It records what each file is about to
// hold before changing anything, clears what is in the way, writes files
// in parallel, removes old ones, and saves the checkout record.
func (r *Repo) execute(ctx context.Context, root, scope string, v Version, ents []ManifestEntry, plan worktree.Plan, st *worktree.State, opts *CheckoutOptions, res CheckoutResult) (CheckoutResult, error) {
	// Before changing anything, record what each file is about to hold:
	// if this checkout is killed, the next one knows those contents for
	// its own, as it knows the old ones.
	pending := plan.Pending(st.Pending)
	if !maps.EqualFunc(pending, st.Pending, slices.Equal[[]objects.ID]) {
		if err := r.savePending(root, pending); err != nil {
			return res, err
		}
	}

	dirSet := map[string]bool{".": true}
	for _, a := range plan.Actions {
		dirSet[path.Dir(a.Path)] = true
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	r.removeStaleTemps(root, dirs)

	// Clear what is in the way (one at a time: several files may wait on
	// one path), write files in parallel, then remove old ones.
	gone := make([]bool, len(plan.Actions)) // removed by a clear
	for _, c := range plan.Clears() {
		if err := r.fs.RemoveAll(filepath.Join(root, filepath.FromSlash(c))); err != nil {
			return res, fmt.Errorf("checkout: remove %s: %w", c, err)
		}
		for i, a := range plan.Actions {
			if a.Kind == worktree.Remove && !gone[i] && worktree.InScope(a.Path, c) {
				gone[i] = true
				res.Removed++
			}
		}
	}
	var total int64
	for _, a := range plan.Actions {
		if a.Kind == worktree.Write || a.Kind == worktree.Clear {
			total += a.Entry.Size
		}
	}
	var done atomic.Int64
	made := &sync.Map{} // directories known to exist and be real directories
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkoutWorkers())
	newState := &worktree.State{Dir: st.Dir, Name: v.Name, Version: v.Version.Version, Files: map[string]fileState{}}
	for p, fsx := range st.Files {
		if !worktree.InScope(p, scope) {
			newState.Files[p] = fsx
		}
	}
	var stMu sync.Mutex
	record := func(p string, f fileState) {
		stMu.Lock()
		newState.Files[p] = f
		stMu.Unlock()
	}
	for i, a := range plan.Actions {
		switch a.Kind {
		case worktree.Remove, worktree.Forget:
			continue
		case worktree.Skip:
			res.Skipped++
			record(a.Path, a.Record)
			continue
		}
		e := ents[i]
		res.Written++
		g.Go(func() error {
			var rec fileState
			var err error
			if a.Kind == worktree.Chmod {
				rec, err = r.setMode(root, e, a.Record.ID)
			} else {
				rec, err = r.writeFile(gctx, root, e, a.Replace, made, func(n int64) {
					if opts.Progress != nil {
						opts.Progress(done.Add(n), total)
					}
				})
			}
			if err != nil {
				return fmt.Errorf("checkout %s: %w", e.Path, err)
			}
			record(e.Path, rec)
			return nil
		})
	}
	werr := g.Wait()
	if werr == nil {
		var dirs []string
		for i, a := range plan.Actions {
			if a.Kind != worktree.Remove || gone[i] {
				continue
			}
			full := filepath.Join(root, filepath.FromSlash(a.Path))
			if err := r.fs.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
				werr = fmt.Errorf("remove %s: %w", a.Path, err)
				break
			}
			res.Removed++
			dirs = append(dirs, filepath.Dir(full))
		}
		r.removeEmptyDirs(root, dirs)
	} else {
		// Keep the old records of files not rewritten, so a retry still
		// knows they were ours.
		for _, a := range plan.Actions {
			if _, ok := newState.Files[a.Path]; !ok {
				if prev, ok := st.Files[a.Path]; ok {
					newState.Files[a.Path] = prev
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
			if worktree.InScope(p, scope) {
				delete(pending, p)
			}
		}
		if err := r.savePending(root, pending); err != nil {
			werr = err
		}
	}
	return res, werr
}

func isFileURI(uri string) bool { return strings.HasPrefix(uri, "file://") }

// entryID is the ID of e's content: its blob, or the BLAKE3 recorded for
// a file:// reference.
func entryID(e ManifestEntry) objects.ID {
	if e.IsRef() {
		return refBlobID(e)
	}
	return e.Digest
}

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
			return rel, worktree.WhyLink, nil
		}
		if !fi.IsDir() {
			return rel, worktree.WhyFileAsDir, nil
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
	return fileState{ID: id, Stat: statOf(fi)}, nil
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
	return fileState{ID: id, Stat: statOf(fi)}, nil
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

// The checkout record's types are package worktree's.
type (
	fileStat      = worktree.Stat
	fileState     = worktree.FileState
	checkoutState = worktree.State
)

func statOf(fi fs.FileInfo) fileStat {
	s := fileStat{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	sysStat(fi, &s)
	return s
}

// records are the repository's checkout records (checkouts/).
func (r *Repo) records() worktree.Records {
	return worktree.Records{Fs: r.fs, Dir: filepath.Join(r.dir, "checkouts")}
}

func (r *Repo) loadCheckoutState(root string) (*checkoutState, error) {
	return r.records().Load(root)
}

func (r *Repo) saveCheckoutState(root string, st *checkoutState) error {
	return r.records().Save(root, st)
}

// savePending records what the checkout of root is about to write (see
// worktree.State.Pending), or removes the record when there is none.
func (r *Repo) savePending(root string, files map[string][]objects.ID) error {
	return r.records().SavePending(root, files)
}
