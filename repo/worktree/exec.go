package worktree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
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

// ErrLocalChanges is returned when carrying out a plan would write over
// something that appeared since the directory was scanned, or through a
// symbolic link or a file where a directory must go. (Package repo
// returns the same error for a plan's conflicts.)
var ErrLocalChanges = errors.New("local changes would be lost")

// StaleTempAge is how old a temp file (TempPrefix) left in a checkout
// directory must be before a later checkout removes it: younger ones may
// belong to a checkout still running.
const StaleTempAge = 10 * time.Minute

// kernelCopyMin is the size from which a file is offered to
// Source.CopyTo.
const kernelCopyMin = 1 << 20

// Source gives the content of the entries a checkout writes.
type Source interface {
	// Open returns a reader of e's content that checks it against e.ID:
	// its last Read returns io.EOF only if the bytes hashed right, and
	// an error (wrapping objects.ErrCorrupt for a mismatch) otherwise.
	Open(ctx context.Context, e Entry) (io.ReadCloser, error)
	// CopyTo writes e's content into dst, which is empty, the way
	// objects.FSStore.CopyTo does: letting the kernel move the bytes,
	// still hashing them, calling progress with byte counts. ok false,
	// with nothing written, means it cannot, and the executor copies from
	// Open. It is asked only for entries of at least 1 MiB.
	CopyTo(ctx context.Context, e Entry, dst afero.File, progress func(int64)) (n int64, ok bool, err error)
}

// WholeReader is a Source that can also give a small entry's content
// whole, in fewer steps than Open and reads to the end. The executor asks
// it for entries of at most wholeMax bytes.
type WholeReader interface {
	// ReadInto returns e's content in buf (from its start, grown only if
	// the content is larger than its capacity), and only if it hashed to
	// e.ID: else the error wraps objects.ErrCorrupt.
	ReadInto(ctx context.Context, e Entry, buf []byte) ([]byte, error)
}

// wholeMax is the size up to which an entry is read whole (WholeReader)
// into a pooled buffer, and a staged file is written in one step
// (objects.WriteNewFile).
const wholeMax = 128 << 10

// Executor carries out plans in the directory Root of Fs. Run may be
// called several times, for successive plans (batches) of one checkout;
// each returns what it did, for the caller to record (Result.Apply).
// An Executor's fields must not change while a Run is going on.
type Executor struct {
	Fs     afero.Fs
	Root   string
	Source Source
	// Now is the clock against which temp files are judged stale (nil:
	// time.Now).
	Now func() time.Time
	// Progress, if set, is called as bytes are written (by several
	// writers at once), with the bytes written and the bytes to write,
	// both counted over every Run so far.
	Progress func(done, total int64)
	// Stage, for plans run in path order (the batches of one checkout),
	// writes every directory the checkout creates in a staging directory
	// beside it (named with StagePrefix), whose files are created
	// directly under their own names, and publishes it under its name in
	// one rename (Publish) once no later path can lie in it: none of its
	// files appears under its name before all of them are complete and
	// verified, and a file costs no pending file of its own.
	Stage bool

	done, total atomic.Int64

	mu     sync.Mutex
	dirs   map[string]dirInfo // root-relative directories known, and where their files go
	stages []stage            // staging directories not yet published, in the order made
}

// StagePrefix starts the names of the staging directories of a checkout
// with Executor.Stage. Verify ignores them, and a later checkout removes
// those older than StaleTempAge.
const StagePrefix = TempPrefix + "dir-"

// dirInfo is where the files of a directory of the checkout go.
type dirInfo struct {
	path   string // on the file system
	staged bool   // inside a staging directory, its own or an ancestor's
}

// stage is a staging directory: tmp becomes final, the root-relative rel.
type stage struct{ rel, tmp, final string }

// Result is what one Run did.
type Result struct {
	Written int // files written, or whose executable bit was set right
	Skipped int // files already right, left alone
	Removed int // old files removed
	// Files is the new record of each path Run wrote, set the mode of or
	// skipped.
	Files map[string]FileState
	// Dropped lists the old paths whose record goes (removed, or
	// forgotten); it is set only when every file was written.
	Dropped []string
}

// Apply updates the record st with what r did: the records of Files
// replace the old ones, those of Dropped go, and every other path keeps
// its record (a file a failed Run did not get to is still what it was).
func (r Result) Apply(st *State) {
	if st.Files == nil {
		st.Files = map[string]FileState{}
	}
	maps.Copy(st.Files, r.Files)
	for _, p := range r.Dropped {
		delete(st.Files, p)
	}
}

// Run carries out p in x.Root. A plan with conflicts is refused with
// ErrLocalChanges, touching nothing. Otherwise Run removes the temp files
// stale checkouts left in the directories p touches, clears what is in the
// way (one path at a time: several files may wait on one path), writes
// files in parallel, then removes old files and the directories they
// leave empty. Every file goes to a pending file in its directory and is
// published under its name only after its bytes hashed to its ID; no
// directory is created or entered through a symbolic link or a file. A
// write fails with ErrLocalChanges where something appeared since the
// scan at a path the plan writes without Replace, or where a directory on
// the way is not one. Run saves no record: see Result and Checkout.
func (x *Executor) Run(ctx context.Context, p Plan) (Result, error) {
	res, _, err := x.run(ctx, p)
	return res, err
}

// run is Run; wrote reports whether it got as far as writing (it stops
// before when a clear fails).
func (x *Executor) run(ctx context.Context, p Plan) (res Result, wrote bool, err error) {
	if len(p.Conflicts) > 0 {
		return res, false, fmt.Errorf("%w in %s: %s (and %d more)", ErrLocalChanges, x.Root, p.Conflicts[0], len(p.Conflicts)-1)
	}
	dirSet := map[string]bool{".": true}
	for _, a := range p.Actions {
		dirSet[path.Dir(a.Path)] = true
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	x.removeStaleTemps(dirs)

	gone := make([]bool, len(p.Actions)) // removed by a clear
	for _, c := range p.Clears() {
		x.forgetDirs(c)
		if err := x.Fs.RemoveAll(filepath.Join(x.Root, filepath.FromSlash(c))); err != nil {
			return res, false, fmt.Errorf("checkout: remove %s: %w", c, err)
		}
		for i, a := range p.Actions {
			if a.Kind == Remove && !gone[i] && InScope(a.Path, c) {
				gone[i] = true
				res.Removed++
			}
		}
	}
	var total int64
	for _, a := range p.Actions {
		if a.Kind == Write || a.Kind == Clear {
			total += a.Entry.Size
		}
	}
	total = x.total.Add(total)
	// One progress function for every file: the Source may keep it.
	progress := func(n int64) {
		if x.Progress != nil {
			x.Progress(x.done.Add(n), total)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers())
	res.Files = make(map[string]FileState, len(p.Actions))
	var mu sync.Mutex
	record := func(p string, f FileState) {
		mu.Lock()
		res.Files[p] = f
		mu.Unlock()
	}
	for _, a := range p.Actions {
		switch a.Kind {
		case Remove, Forget, Conflict:
			continue
		case Skip:
			res.Skipped++
			record(a.Path, a.Record)
			continue
		}
		e := a.Entry
		res.Written++
		g.Go(func() error {
			var rec FileState
			var err error
			if a.Kind == Chmod {
				rec, err = x.setMode(e, a.Record.ID)
			} else {
				rec, err = x.writeFile(gctx, e, a.Replace, progress)
			}
			if err != nil {
				return fmt.Errorf("checkout %s: %w", e.Path, err)
			}
			record(e.Path, rec)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, true, err
	}
	var emptied []string
	for i, a := range p.Actions {
		if a.Kind == Remove || a.Kind == Forget {
			res.Dropped = append(res.Dropped, a.Path)
		}
		if a.Kind != Remove || gone[i] || err != nil {
			continue
		}
		full := filepath.Join(x.Root, filepath.FromSlash(a.Path))
		if rerr := x.Fs.Remove(full); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("remove %s: %w", a.Path, rerr)
			continue
		}
		res.Removed++
		emptied = append(emptied, filepath.Dir(full))
	}
	x.removeEmptyDirs(emptied)
	return res, true, err
}

// Checkout is one checkout of the directory Executor.Root with its record
// in Records: what carrying out a plan there takes beyond Run.
type Checkout struct {
	Executor *Executor
	Records  Records
	// State is the directory's record as loaded (Records.Load).
	State *State
	// Scope is the plan's Input.Scope; Name and Version are what the
	// saved record says the directory holds.
	Scope   string
	Name    string
	Version int64
}

// Run carries out p and keeps the record, in this order: before changing
// anything it saves what each file is about to hold (Plan.Pending) if that
// is new, so that if the checkout is killed the next one knows those
// contents for its own, as it knows the old ones; then Executor.Run; then
// the new record (State with the Result applied: on a failure the files
// not rewritten keep their old records, so a retry still knows they were
// ours); and, only when all went well, the pending record without the
// paths in Scope, which are all recorded as they are now. A clear that
// fails leaves the record as it was, and a plan with conflicts is refused
// as by Executor.Run, touching nothing.
func (c Checkout) Run(ctx context.Context, p Plan) (Result, error) {
	root := c.Executor.Root
	if len(p.Conflicts) > 0 {
		return c.Executor.Run(ctx, p)
	}
	pending := p.Pending(c.State.Pending)
	if !maps.EqualFunc(pending, c.State.Pending, slices.Equal[[]objects.ID]) {
		if err := c.Records.SavePending(root, pending); err != nil {
			return Result{}, err
		}
	}
	res, wrote, werr := c.Executor.run(ctx, p)
	if !wrote {
		return res, werr
	}
	next := &State{Dir: c.State.Dir, Name: c.Name, Version: c.Version, Files: maps.Clone(c.State.Files)}
	res.Apply(next)
	if err := c.Records.Save(root, next); err != nil && werr == nil {
		werr = err
	}
	if werr == nil {
		for p := range pending {
			if InScope(p, c.Scope) {
				delete(pending, p)
			}
		}
		if err := c.Records.SavePending(root, pending); err != nil {
			werr = err
		}
	}
	return res, werr
}

// removeStaleTemps deletes files named like checkout temp files in dirs
// (root-relative, "." for the root) that an interrupted checkout left
// behind. A directory reached through a symbolic link is skipped. Names
// are listed without stat'ing every file; only candidates are.
func (x *Executor) removeStaleTemps(dirs []string) {
	now := time.Now
	if x.Now != nil {
		now = x.Now
	}
	cutoff := now().Add(-StaleTempAge)
	for _, d := range dirs {
		if d != "." {
			// Never list a directory through a symbolic link: the temp
			// files there are not ours.
			if bad, _, err := unsafeParent(x.Fs, x.Root, d+"/x"); bad != "" || err != nil {
				continue
			}
		}
		dir := filepath.Join(x.Root, filepath.FromSlash(d))
		f, err := x.Fs.Open(dir)
		if err != nil {
			continue
		}
		names, _ := f.Readdirnames(-1)
		f.Close()
		for _, n := range names {
			if !strings.HasPrefix(n, TempPrefix) {
				continue
			}
			p := filepath.Join(dir, n)
			fi, err := lstat(x.Fs, p)
			switch {
			case err != nil || !fi.ModTime().Before(cutoff):
			case fi.Mode().IsRegular():
				x.Fs.Remove(p)
			case fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 && strings.HasPrefix(n, StagePrefix) && !x.staging(p):
				// A killed checkout's staging directory.
				x.Fs.RemoveAll(p)
			}
		}
	}
}

// writeFile writes one entry under the root. The bytes go to a pending
// file in the target directory (anonymous where the OS allows), verified
// on the way, and the file is published under its name (replacing what is
// there when replace is set) only after its content hashed right, so
// corrupt or partial bytes never appear under the file's name. In a
// staging directory (Stage) the file is created under its name there, as
// nothing in it is visible before Publish.
func (x *Executor) writeFile(ctx context.Context, e Entry, replace bool, progress func(int64)) (FileState, error) {
	dir, staged, err := x.dirFor(path.Dir(e.Path))
	if err != nil {
		return FileState{}, err
	}
	full := filepath.Join(dir, path.Base(e.Path))
	if staged {
		return x.writeStaged(ctx, e, full, progress)
	}
	pf, err := objects.CreatePending(x.Fs, dir, TempPrefix, fileMode(e))
	if err != nil {
		return FileState{}, err
	}
	defer pf.Abort()
	if err := x.fill(ctx, e, pf.File(), progress); err != nil {
		return FileState{}, err
	}
	if replace {
		err = pf.Replace(full)
	} else if err = pf.Link(full); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%w: %s appeared during the checkout", ErrLocalChanges, e.Path)
	}
	if err != nil {
		return FileState{}, err
	}
	fi, err := lstat(x.Fs, full)
	if err != nil {
		return FileState{}, err
	}
	return FileState{ID: e.ID, Stat: StatOf(fi)}, nil
}

// writeStaged writes e to full, a new name inside a staging directory; a
// file that fails is removed.
func (x *Executor) writeStaged(ctx context.Context, e Entry, full string, progress func(int64)) (FileState, error) {
	if wr, ok := x.Source.(WholeReader); ok && e.Size <= wholeMax {
		bufp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bufp)
		data, err := x.readWhole(ctx, wr, e, *bufp, progress)
		if err != nil {
			return FileState{}, err
		}
		fi, err := objects.WriteNewFile(x.Fs, full, data, fileMode(e))
		if err != nil {
			return FileState{}, err
		}
		return FileState{ID: e.ID, Stat: StatOf(fi)}, nil
	}
	f, err := x.Fs.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode(e))
	if err != nil {
		return FileState{}, err
	}
	fi, err := func() (fs.FileInfo, error) {
		if err := x.fill(ctx, e, f, progress); err != nil {
			f.Close()
			return nil, err
		}
		fi, err := f.Stat()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return fi, err
	}()
	if err != nil {
		x.Fs.Remove(full)
		return FileState{}, err
	}
	return FileState{ID: e.ID, Stat: StatOf(fi)}, nil
}

// fill copies e's content, verified, into dst, which is empty: through
// the kernel for large files where the Source can, else from Source.Open.
func (x *Executor) fill(ctx context.Context, e Entry, dst afero.File, progress func(int64)) error {
	var n int64
	copied := false
	var err error
	if e.Size >= kernelCopyMin {
		// Let the kernel move large files (reflink or copy_file_range),
		// still hashing every byte.
		if n, copied, err = x.Source.CopyTo(ctx, e, dst, progress); err != nil {
			return err
		}
	}
	if wr, ok := x.Source.(WholeReader); ok && !copied && e.Size <= wholeMax {
		bufp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bufp)
		data, err := x.readWhole(ctx, wr, e, *bufp, progress)
		if err != nil {
			return err
		}
		_, err = dst.Write(data)
		return err
	}
	if !copied {
		src, err := x.Source.Open(ctx, e)
		if err != nil {
			return err
		}
		n, err = copyVerified(dst, src, progress)
		src.Close()
		if err != nil {
			return err
		}
	}
	if n != e.Size {
		return &objects.CorruptError{ID: e.ID, Reason: fmt.Sprintf("%d bytes, want %d", n, e.Size)}
	}
	return nil
}

// readWhole reads e's content whole through wr into buf, checked
// against e's size (wr checks its hash).
func (x *Executor) readWhole(ctx context.Context, wr WholeReader, e Entry, buf []byte, progress func(int64)) ([]byte, error) {
	data, err := wr.ReadInto(ctx, e, buf)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != e.Size {
		return nil, &objects.CorruptError{ID: e.ID, Reason: fmt.Sprintf("%d bytes, want %d", len(data), e.Size)}
	}
	progress(e.Size)
	return data, nil
}

// dirFor returns where the files of the root-relative directory rel go,
// and whether that is inside a staging directory, making what is missing
// on the way: a real directory, or with Stage a staging directory for the
// first one missing. It never passes through a symbolic link or anything
// else that is not a directory.
func (x *Executor) dirFor(rel string) (string, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dirForLocked(rel)
}

func (x *Executor) dirForLocked(rel string) (string, bool, error) {
	if rel == "." {
		return x.Root, false, nil
	}
	if d, ok := x.dirs[rel]; ok {
		return d.path, d.staged, nil
	}
	parent, staged, err := x.dirForLocked(path.Dir(rel))
	if err != nil {
		return "", false, err
	}
	full := filepath.Join(parent, path.Base(rel))
	d := dirInfo{path: full, staged: staged}
	switch fi, err := lstat(x.Fs, full); {
	case staged:
		// Inside a staging directory of ours: nobody else's names.
		if err := x.Fs.Mkdir(full, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", false, err
		}
	case err == nil && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0:
	case err == nil:
		return "", false, fmt.Errorf("%w: %s is not a directory", ErrLocalChanges, full)
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, err // an I/O error, not a verdict on the path
	case x.Stage:
		tmp, err := x.makeStage(parent)
		if err != nil {
			return "", false, err
		}
		x.stages = append(x.stages, stage{rel: rel, tmp: tmp, final: full})
		d = dirInfo{path: tmp, staged: true}
	default:
		if err := x.Fs.Mkdir(full, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", false, err
		}
		fi, err := lstat(x.Fs, full)
		if err != nil {
			return "", false, err
		}
		if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
			return "", false, fmt.Errorf("%w: %s is not a directory", ErrLocalChanges, full)
		}
	}
	if x.dirs == nil {
		x.dirs = map[string]dirInfo{}
	}
	x.dirs[rel] = d
	return d.path, d.staged, nil
}

// makeStage makes a new staging directory in the directory parent.
func (x *Executor) makeStage(parent string) (string, error) {
	for i := 0; ; i++ {
		tmp := filepath.Join(parent, fmt.Sprintf("%s%d-%x", StagePrefix, os.Getpid(), rand.Uint64()))
		err := x.Fs.Mkdir(tmp, 0o755)
		if err == nil || !errors.Is(err, fs.ErrExist) || i == 8 {
			return tmp, err
		}
	}
}

// Publish gives the staging directories (Stage) their names, each in one
// rename that never replaces, and forgets the directories it knows, but
// for those holding the path last: with plans run in path order, call it
// after each Run with the plan's last path, and with "" at the end, when
// every staging directory is published. A staging directory whose name
// was taken meanwhile is removed with the files in it (ErrLocalChanges).
// After a Run that failed, Publish("") still publishes what was staged:
// every file in it is complete and verified, and in Run's Result.
func (x *Executor) Publish(last string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var first error
	keep := x.stages[:0]
	for _, s := range x.stages {
		if last != "" && InScope(last, s.rel) {
			keep = append(keep, s)
			continue
		}
		if err := objects.RenameNoReplace(x.Fs, s.tmp, s.final); err != nil {
			x.Fs.RemoveAll(s.tmp)
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("%w: %s appeared during the checkout", ErrLocalChanges, s.rel)
			}
			if first == nil {
				first = fmt.Errorf("checkout %s: %w", s.rel, err)
			}
		}
	}
	clear(x.stages[len(keep):])
	x.stages = keep
	for rel := range x.dirs {
		if last == "" || !InScope(last, rel) {
			delete(x.dirs, rel)
		}
	}
	return first
}

// copyVerified copies src (a verifying reader) into w through a pooled
// buffer; a hash mismatch surfaces as src's error at the end.
func copyVerified(w io.Writer, src io.Reader, progress func(int64)) (int64, error) {
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
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
			return n, rerr
		}
	}
}

// fileMode is the mode a checkout gives the file of e.
func fileMode(e Entry) os.FileMode {
	if e.Exec {
		return 0o755
	}
	return 0o644
}

// setMode gives the file of e, whose content is id, its mode.
func (x *Executor) setMode(e Entry, id objects.ID) (FileState, error) {
	full := filepath.Join(x.Root, filepath.FromSlash(e.Path))
	if err := x.Fs.Chmod(full, fileMode(e)); err != nil {
		return FileState{}, err
	}
	fi, err := lstat(x.Fs, full)
	if err != nil {
		return FileState{}, err
	}
	return FileState{ID: id, Stat: StatOf(fi)}, nil
}

// staging reports whether p is one of x's own staging directories.
func (x *Executor) staging(p string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.ContainsFunc(x.stages, func(s stage) bool { return s.tmp == p })
}

// forgetDirs forgets what dirFor knows of the root-relative directory
// rel and below it, which is going away.
func (x *Executor) forgetDirs(rel string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for d := range x.dirs {
		if InScope(d, rel) {
			delete(x.dirs, d)
		}
	}
}

// removeEmptyDirs removes directories (below the root) left empty by
// removed files.
func (x *Executor) removeEmptyDirs(dirs []string) {
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	seen := map[string]bool{}
	for _, d := range dirs {
		for !seen[d] {
			rel, err := filepath.Rel(x.Root, d)
			if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				break
			}
			seen[d] = true
			entries, err := afero.ReadDir(x.Fs, d)
			if err != nil || len(entries) > 0 {
				break
			}
			if x.Fs.Remove(d) != nil {
				break
			}
			x.forgetDirs(filepath.ToSlash(rel))
			d = filepath.Dir(d)
		}
	}
}
