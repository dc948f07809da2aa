package faulttest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/afero"
)

// Op is a kind of file system operation.
type Op int

// The kinds of operations Fs counts. The ones before OpOpen change the
// file system (CrashAfter counts those); the rest only read.
const (
	OpWrite     Op = iota // File.Write, WriteAt, WriteString, Truncate
	OpSync                // File.Sync, of a file or a directory; Fs.SyncFS
	OpRename              // Fs.Rename
	OpCreate              // Create or OpenFile of a missing file, SymlinkIfPossible, CreateAnonymous
	OpRemove              // Fs.Remove, Fs.RemoveAll
	OpMkdir               // Fs.Mkdir, Fs.MkdirAll
	OpChtimes             // Fs.Chtimes
	OpOpenWrite           // OpenFile of an existing file for writing
	OpChmod               // Fs.Chmod, Fs.Chown
	OpLink                // Fs.LinkAnonymous
	OpOpen                // Open, or OpenFile for reading only
	OpRead                // File.Read, ReadAt, Readdir, Readdirnames
	OpStat                // Fs.Stat, LstatIfPossible, ReadlinkIfPossible, File.Stat
	numOps
)

var opNames = [numOps]string{"write", "sync", "rename", "create", "remove", "mkdir", "chtimes",
	"openwrite", "chmod", "link", "open", "read", "stat"}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Mutating reports whether operations of kind o change the file system.
func (o Op) Mutating() bool { return o < OpOpen }

// Ops returns every kind of operation, mutating ones first.
func Ops() []Op {
	out := make([]Op, numOps)
	for i := range out {
		out[i] = Op(i)
	}
	return out
}

// ErrCrashed is the error of every operation after the point CrashAfter
// chose, and of handles opened before a Crash or Revive.
var ErrCrashed = errors.New("faulttest: simulated crash")

// Fault makes operations fail.
type Fault struct {
	Op Op
	// N is the 1-based number of the operation of kind Op, counted since
	// New or Reset, that fails.
	N int64
	// Every makes every operation of kind Op from the Nth on fail.
	Every bool
	// Err is the error the operation fails with, wrapped in an
	// *os.PathError (nil means syscall.EIO).
	Err error
}

// Event is an operation that failed because of a Fault.
type Event struct {
	Op   Op
	N    int64  // its number among operations of its kind
	Path string // the file it was on
	Err  error  // what it returned
}

// Fs wraps an afero.Fs; see the package documentation. It is safe for
// concurrent use; every call holds one lock while it runs.
type Fs struct {
	base afero.Fs

	// OnUnsyncedClose, if set, is called (without locks held) with the
	// name of every file closed while it held writes made through that
	// handle and not yet synced.
	OnUnsyncedClose func(name string)

	// Portable, if set before use, makes CreateAnonymous and SyncFS
	// report errors.ErrUnsupported without counting an operation, so
	// that their users take their portable paths (named temp files and
	// renames, a sync per file).
	Portable bool

	mu        sync.Mutex
	counts    [numOps]int64
	mutations int64
	faults    []Fault
	events    []Event
	crashAt   int64 // CrashAfter's point in mutations
	crashSet  bool  // whether CrashAfter set one
	crashed   bool
	epoch     int // bumped by Crash and Revive: older handles are dead
	closed    []string

	// The crash model. nodes are the tracked files and directories by
	// their current names; changed holds, per directory, the entries
	// changed since it was last synced and what each was before.
	nodes   map[string]*node
	changed map[string]map[string]*node
	// anon holds the anonymous files not yet linked, by their hidden
	// names in the base file system (see anon.go); anonSeq numbers them.
	anon    map[string]*node
	anonSeq int
}

// node is a file, directory or symbolic link whose durable state the
// model tracks.
type node struct {
	path    string // current name; "" once it has none
	dir     bool
	link    string // the target, for a symbolic link
	isLink  bool
	mode    fs.FileMode
	durable []byte // the content a crash keeps
	dirty   bool   // written since its last successful sync
	// poisoned: a sync failed while it was dirty; later syncs succeed
	// but make nothing durable.
	poisoned bool
}

var (
	_ afero.Fs        = (*Fs)(nil)
	_ afero.Symlinker = (*Fs)(nil)
)

// New returns an Fs over base. Everything already in base counts as
// durable.
func New(base afero.Fs) *Fs {
	return &Fs{base: base, nodes: map[string]*node{}, changed: map[string]map[string]*node{},
		anon: map[string]*node{}}
}

// Base returns the wrapped file system.
func (f *Fs) Base() afero.Fs { return f.base }

// Inject adds a fault.
func (f *Fs) Inject(ft Fault) {
	if ft.Err == nil {
		ft.Err = syscall.EIO
	}
	f.mu.Lock()
	f.faults = append(f.faults, ft)
	f.mu.Unlock()
}

// FailNth makes the nth operation of kind op fail with err (nil: EIO).
func (f *Fs) FailNth(op Op, n int64, err error) { f.Inject(Fault{Op: op, N: n, Err: err}) }

// FailFrom makes every operation of kind op from the nth on fail with err
// (nil: EIO).
func (f *Fs) FailFrom(op Op, n int64, err error) {
	f.Inject(Fault{Op: op, N: n, Every: true, Err: err})
}

// ClearFaults removes every fault and crash point; counts are kept.
func (f *Fs) ClearFaults() {
	f.mu.Lock()
	f.faults, f.crashSet = nil, false
	f.mu.Unlock()
}

// Reset zeroes the counts and forgets faults, events, the crash point and
// the files closed unsynced. The crash model is kept (see Settle).
func (f *Fs) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts, f.mutations = [numOps]int64{}, 0
	f.faults, f.events, f.closed = nil, nil, nil
	f.crashSet, f.crashed = false, false
}

// Count returns how many operations of kind op were made since New or
// Reset (failed ones included).
func (f *Fs) Count(op Op) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// Counts returns Count for every kind.
func (f *Fs) Counts() map[Op]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[Op]int64, numOps)
	for i, n := range f.counts {
		m[Op(i)] = n
	}
	return m
}

// Mutations returns how many mutating operations were made since New or
// Reset.
func (f *Fs) Mutations() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mutations
}

// Events returns the operations that failed because of a fault.
func (f *Fs) Events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Event(nil), f.events...)
}

// CrashAfter lets n more mutating operations happen, then makes every
// operation fail with ErrCrashed until Crash or Revive.
func (f *Fs) CrashAfter(n int64) {
	f.mu.Lock()
	f.crashAt, f.crashSet = f.mutations+n, true
	f.crashed = false
	f.mu.Unlock()
}

// Crashed reports whether the crash point CrashAfter set was reached.
func (f *Fs) Crashed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed
}

// Revive ends a simulated crash as a killed process would: nothing is
// lost, and what was not durable still is not. Open handles die.
func (f *Fs) Revive() {
	f.mu.Lock()
	f.crashSet, f.crashed = false, false
	f.epoch++
	f.dropAnonymous() // the dead process's anonymous files go with it
	f.mu.Unlock()
}

// Settle declares everything on the file system durable, as if it had
// all been synced.
func (f *Fs) Settle() {
	f.mu.Lock()
	f.nodes, f.changed = map[string]*node{}, map[string]map[string]*node{}
	for _, n := range f.anon {
		if b, err := afero.ReadFile(f.base, n.path); err == nil {
			n.durable, n.dirty, n.poisoned = b, false, false
		}
	}
	f.mu.Unlock()
}

// ClosedUnsynced returns the names of files closed with unsynced writes
// made through the closed handle, in order, since New or Reset.
func (f *Fs) ClosedUnsynced() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.closed...)
}

// Unsynced returns, sorted, every name a crash would now change: files
// with unsynced content, and entries created, removed or renamed in a
// directory not synced since.
func (f *Fs) Unsynced() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := map[string]bool{}
	for dir, m := range f.changed {
		for name, prior := range m {
			p := filepath.Join(dir, name)
			if prior == nil {
				if _, err := f.lstat(p); err != nil {
					continue // made and gone again: a crash changes nothing
				}
			} else if f.nodes[p] == prior {
				continue // the same file as before: only its content counts
			}
			set[p] = true
		}
	}
	for p, n := range f.nodes {
		if n.dirty || n.poisoned {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// begin counts an operation and returns the error it must fail with, if
// any. f.mu is held.
func (f *Fs) begin(op Op, name string) error {
	if f.crashSet && f.mutations >= f.crashAt {
		f.crashed = true
	}
	if f.crashed {
		return &os.PathError{Op: op.String(), Path: name, Err: ErrCrashed}
	}
	f.counts[op]++
	if op.Mutating() {
		f.mutations++
	}
	n := f.counts[op]
	for _, ft := range f.faults {
		if ft.Op == op && (n == ft.N || ft.Every && n >= ft.N) {
			err := &os.PathError{Op: op.String(), Path: name, Err: ft.Err}
			f.events = append(f.events, Event{Op: op, N: n, Path: name, Err: err})
			return err
		}
	}
	return nil
}

func clean(name string) string { return filepath.Clean(name) }

func (f *Fs) lstat(name string) (fs.FileInfo, error) {
	if l, ok := f.base.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(name)
		return fi, err
	}
	return f.base.Stat(name)
}

// track returns the node at name, starting to track it (its current
// content counts as durable) if it is not yet; nil if nothing is there.
func (f *Fs) track(name string) *node {
	if n := f.nodes[name]; n != nil {
		return n
	}
	fi, err := f.lstat(name)
	if err != nil {
		return nil
	}
	n := &node{path: name, mode: fi.Mode()}
	switch {
	case fi.IsDir():
		n.dir = true
	case fi.Mode()&fs.ModeSymlink != 0:
		n.isLink = true
		if r, ok := f.base.(afero.LinkReader); ok {
			n.link, _ = r.ReadlinkIfPossible(name)
		}
	default:
		b, err := afero.ReadFile(f.base, name)
		if err != nil {
			return nil
		}
		n.durable = b
	}
	f.nodes[name] = n
	return n
}

// noteChange records that the entry name in its directory is about to
// change, remembering what it is now if this is the first change since
// the directory was last synced.
func (f *Fs) noteChange(name string) {
	dir, base := filepath.Dir(name), filepath.Base(name)
	m := f.changed[dir]
	if m == nil {
		m = map[string]*node{}
		f.changed[dir] = m
	}
	if _, ok := m[base]; !ok {
		m[base] = f.track(name)
	}
}

// unlink forgets the nodes at name and below it (removed).
func (f *Fs) unlink(name string) {
	for p, n := range f.nodes {
		if p == name || strings.HasPrefix(p, name+string(filepath.Separator)) {
			n.path = ""
			delete(f.nodes, p)
		}
	}
}

// Name implements afero.Fs.
func (f *Fs) Name() string { return "faulttest(" + f.base.Name() + ")" }

// Create implements afero.Fs.
func (f *Fs) Create(name string) (afero.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open implements afero.Fs.
func (f *Fs) Open(name string) (afero.File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// OpenFile implements afero.Fs.
func (f *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	write := flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0
	op := OpOpen
	exists := false
	if write {
		_, err := f.base.Stat(name)
		exists = err == nil
		op = OpOpenWrite
		if !exists && flag&os.O_CREATE != 0 {
			op = OpCreate
		}
	}
	if err := f.begin(op, name); err != nil {
		return nil, err
	}
	if f.anon[name] != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	}
	var n *node
	switch {
	case op == OpCreate:
		f.noteChange(name)
	case exists:
		n = f.track(name) // before O_TRUNC changes it
	default:
		n = f.nodes[name]
	}
	bf, err := f.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if op == OpCreate {
		n = &node{path: name, mode: perm}
		f.nodes[name] = n
	} else if n != nil && flag&os.O_TRUNC != 0 {
		n.dirty = true
	}
	return &file{fs: f, f: bf, name: name, node: n, epoch: f.epoch}, nil
}

// Mkdir implements afero.Fs.
func (f *Fs) Mkdir(name string, perm os.FileMode) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpMkdir, name); err != nil {
		return err
	}
	if _, err := f.lstat(name); err == nil {
		return f.base.Mkdir(name, perm) // fails: it exists
	}
	f.noteChange(name)
	if err := f.base.Mkdir(name, perm); err != nil {
		return err
	}
	f.nodes[name] = &node{path: name, dir: true, mode: fs.ModeDir | perm}
	return nil
}

// MkdirAll implements afero.Fs.
func (f *Fs) MkdirAll(name string, perm os.FileMode) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpMkdir, name); err != nil {
		return err
	}
	var missing []string
	for p := name; ; p = filepath.Dir(p) {
		if _, err := f.lstat(p); err == nil {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for _, p := range missing {
		f.noteChange(p)
	}
	err := f.base.MkdirAll(name, perm)
	for _, p := range missing {
		if fi, err := f.lstat(p); err == nil && fi.IsDir() {
			f.nodes[p] = &node{path: p, dir: true, mode: fi.Mode()}
		}
	}
	return err
}

// Remove implements afero.Fs.
func (f *Fs) Remove(name string) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRemove, name); err != nil {
		return err
	}
	if _, err := f.lstat(name); err != nil {
		return f.base.Remove(name) // fails: nothing there
	}
	f.noteChange(name)
	if err := f.base.Remove(name); err != nil {
		return err
	}
	f.unlink(name)
	return nil
}

// RemoveAll implements afero.Fs.
func (f *Fs) RemoveAll(name string) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRemove, name); err != nil {
		return err
	}
	if _, err := f.lstat(name); err != nil {
		return f.base.RemoveAll(name)
	}
	// Remember every entry below name, so that a crash before the
	// directories are synced can bring them back.
	var below []string
	afero.Walk(f.base, name, func(p string, _ fs.FileInfo, err error) error {
		if err == nil && f.anon[clean(p)] == nil {
			below = append(below, p)
		}
		return nil
	})
	for _, p := range below {
		f.noteChange(clean(p))
	}
	err := f.base.RemoveAll(name)
	for _, p := range below {
		if _, lerr := f.lstat(p); lerr != nil {
			f.unlink(clean(p))
		}
	}
	return err
}

// Rename implements afero.Fs.
func (f *Fs) Rename(oldname, newname string) error {
	oldname, newname = clean(oldname), clean(newname)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRename, oldname); err != nil {
		return err
	}
	return f.rename(oldname, newname)
}

// RenameNoReplace implements objects.NoReplaceRenamer: Rename, counted as
// an OpRename, unless newname exists (then an error wrapping fs.ErrExist,
// and nothing changed), in one step under the Fs's lock.
func (f *Fs) RenameNoReplace(oldname, newname string) error {
	oldname, newname = clean(oldname), clean(newname)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRename, oldname); err != nil {
		return err
	}
	if _, err := f.lstat(newname); err == nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EEXIST}
	}
	return f.rename(oldname, newname)
}

// rename is Rename once counted; f.mu is held.
func (f *Fs) rename(oldname, newname string) error {
	fi, err := f.lstat(oldname)
	if err != nil {
		return f.base.Rename(oldname, newname) // fails: nothing to rename
	}
	if fi.IsDir() {
		// Not modelled: durable at once. Move what is tracked below.
		if err := f.base.Rename(oldname, newname); err != nil {
			return err
		}
		f.rekey(oldname, newname)
		return nil
	}
	n := f.track(oldname)
	f.noteChange(oldname)
	f.noteChange(newname)
	if err := f.base.Rename(oldname, newname); err != nil {
		return err
	}
	if m := f.nodes[newname]; m != nil && m != n {
		m.path = ""
	}
	delete(f.nodes, oldname)
	if n != nil {
		n.path = newname
		f.nodes[newname] = n
	}
	return nil
}

// rekey moves the tracking of everything below the directory oldname to
// newname.
func (f *Fs) rekey(oldname, newname string) {
	sep := string(filepath.Separator)
	move := func(p string) (string, bool) {
		if p == oldname {
			return newname, true
		}
		if rest, ok := strings.CutPrefix(p, oldname+sep); ok {
			return filepath.Join(newname, rest), true
		}
		return "", false
	}
	nodes := map[string]*node{}
	for p, n := range f.nodes {
		if q, ok := move(p); ok {
			n.path, p = q, q
		}
		nodes[p] = n
	}
	f.nodes = nodes
	changed := map[string]map[string]*node{}
	for d, m := range f.changed {
		if q, ok := move(d); ok {
			d = q
		}
		changed[d] = m
	}
	f.changed = changed
}

// Stat implements afero.Fs.
func (f *Fs) Stat(name string) (os.FileInfo, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpStat, name); err != nil {
		return nil, err
	}
	if f.anon[name] != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: syscall.ENOENT}
	}
	return f.base.Stat(name)
}

// LstatIfPossible implements afero.Lstater.
func (f *Fs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpStat, name); err != nil {
		return nil, false, err
	}
	if f.anon[name] != nil {
		return nil, false, &os.PathError{Op: "lstat", Path: name, Err: syscall.ENOENT}
	}
	if l, ok := f.base.(afero.Lstater); ok {
		return l.LstatIfPossible(name)
	}
	fi, err := f.base.Stat(name)
	return fi, false, err
}

// SymlinkIfPossible implements afero.Linker.
func (f *Fs) SymlinkIfPossible(oldname, newname string) error {
	newname = clean(newname)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpCreate, newname); err != nil {
		return err
	}
	l, ok := f.base.(afero.Linker)
	if !ok {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: afero.ErrNoSymlink}
	}
	f.noteChange(newname)
	if err := l.SymlinkIfPossible(oldname, newname); err != nil {
		return err
	}
	delete(f.nodes, newname)
	f.track(newname)
	return nil
}

// ReadlinkIfPossible implements afero.LinkReader.
func (f *Fs) ReadlinkIfPossible(name string) (string, error) {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpStat, name); err != nil {
		return "", err
	}
	if r, ok := f.base.(afero.LinkReader); ok {
		return r.ReadlinkIfPossible(name)
	}
	return "", &os.PathError{Op: "readlink", Path: name, Err: afero.ErrNoReadlink}
}

// Chmod implements afero.Fs.
func (f *Fs) Chmod(name string, mode os.FileMode) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpChmod, name); err != nil {
		return err
	}
	return f.base.Chmod(name, mode)
}

// Chown implements afero.Fs.
func (f *Fs) Chown(name string, uid, gid int) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpChmod, name); err != nil {
		return err
	}
	return f.base.Chown(name, uid, gid)
}

// Chtimes implements afero.Fs.
func (f *Fs) Chtimes(name string, atime, mtime time.Time) error {
	name = clean(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpChtimes, name); err != nil {
		return err
	}
	return f.base.Chtimes(name, atime, mtime)
}
