package faulttest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/afero"
)

// The capabilities of objects (objects.AnonymousCreator, objects.FSSyncer,
// and objects.NoReplaceRenamer in fs.go) that Fs implements, so that code asking for them runs under the crash
// model the path it runs on the OS file system. Fs emulates anonymous
// files on every base file system with hidden names: a file in the base
// directory that listings, Stat and Open through the Fs never show, and
// that Close (unlinked), Crash and Revive remove.

// hiddenPrefix starts the base names of anonymous files.
const hiddenPrefix = ".faulttest-anon-"

// CreateAnonymous implements objects.AnonymousCreator: it creates an
// anonymous file in dir, counted as an OpCreate (a fault fails it with
// nothing made). The file has no name a crash could keep: unless
// LinkAnonymous names it, it vanishes at Close, Crash or Revive. Its
// content is tracked from empty, as a new file's. With Portable set it
// reports errors.ErrUnsupported and counts nothing.
func (f *Fs) CreateAnonymous(dir string, perm os.FileMode) (afero.File, error) {
	if f.Portable {
		return nil, fmt.Errorf("faulttest: anonymous files: %w", errors.ErrUnsupported)
	}
	dir = clean(dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpCreate, dir); err != nil {
		return nil, err
	}
	fi, err := f.base.Stat(dir)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: syscall.ENOENT}
	}
	if !fi.IsDir() {
		return nil, &os.PathError{Op: "open", Path: dir, Err: syscall.ENOTDIR}
	}
	for {
		f.anonSeq++
		name := filepath.Join(dir, fmt.Sprint(hiddenPrefix, f.anonSeq))
		bf, err := f.base.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, os.ErrExist) {
			continue // left by an Fs before this one
		}
		if err != nil {
			return nil, err
		}
		n := &node{path: name, mode: perm}
		f.anon[name] = n
		return &file{fs: f, f: bf, name: name, node: n, epoch: f.epoch}, nil
	}
}

// LinkAnonymous implements objects.AnonymousCreator: it names h, an
// anonymous file from CreateAnonymous, final, counted as an OpLink (a
// fault fails it with nothing changed). Under the crash model the new
// name is a change of final's directory, lost at a crash unless the
// directory is synced after it, and the content a crash keeps is what
// the file held at its last successful Sync (nothing if never synced).
func (f *Fs) LinkAnonymous(h afero.File, final string) error {
	final = clean(final)
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, ok := h.(*file)
	if !ok || fh.fs != f {
		return &os.LinkError{Op: "link", Old: h.Name(), New: final, Err: syscall.EXDEV}
	}
	if fh.epoch != f.epoch {
		return &os.LinkError{Op: "link", Old: fh.name, New: final, Err: ErrCrashed}
	}
	if err := f.begin(OpLink, final); err != nil {
		return err
	}
	n := fh.node
	if fh.closed || n == nil || f.anon[n.path] != n {
		return &os.LinkError{Op: "link", Old: fh.name, New: final, Err: syscall.EINVAL}
	}
	if fi, err := f.base.Stat(filepath.Dir(final)); err != nil || !fi.IsDir() {
		return &os.LinkError{Op: "link", Old: fh.name, New: final, Err: syscall.ENOENT}
	}
	if _, err := f.lstat(final); err == nil || f.anon[final] != nil {
		return &os.LinkError{Op: "link", Old: fh.name, New: final, Err: syscall.EEXIST}
	}
	f.noteChange(final)
	if err := f.base.Rename(n.path, final); err != nil {
		return err
	}
	delete(f.anon, n.path)
	n.path = final
	f.nodes[final] = n
	fh.name = final
	return nil
}

// SyncFS implements objects.FSSyncer: it makes everything on the file
// system durable, as syncing every file and directory would (files whose
// Sync failed excepted: they stay poisoned). It is counted as an OpSync;
// a fault fails it having made nothing durable, and poisons every file
// with unsynced writes, as a failed Sync poisons its file. With Portable
// set it reports errors.ErrUnsupported and counts nothing.
func (f *Fs) SyncFS(dir string) error {
	if f.Portable {
		return fmt.Errorf("faulttest: syncfs: %w", errors.ErrUnsupported)
	}
	dir = clean(dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpSync, dir); err != nil {
		if !errors.Is(err, ErrCrashed) {
			for _, n := range f.nodes {
				n.poisoned = n.poisoned || n.dirty
			}
			for _, n := range f.anon {
				n.poisoned = n.poisoned || n.dirty
			}
		}
		return err
	}
	if _, err := f.base.Stat(dir); err != nil {
		return err
	}
	for _, m := range []map[string]*node{f.nodes, f.anon} {
		for _, n := range m {
			if n.dir || n.isLink || !n.dirty || n.poisoned || n.path == "" {
				continue
			}
			b, err := afero.ReadFile(f.base, n.path)
			if err != nil {
				return err
			}
			n.durable, n.dirty = b, false
		}
	}
	f.changed = map[string]map[string]*node{}
	return nil
}

// forgetAnonymous removes the anonymous file n, closed unlinked. f.mu is
// held.
func (f *Fs) forgetAnonymous(n *node) {
	delete(f.anon, n.path)
	f.base.Remove(n.path)
	n.path = ""
}

// dropAnonymous removes every anonymous file not linked: the process
// holding them is gone. f.mu is held.
func (f *Fs) dropAnonymous() {
	for _, n := range f.anon {
		f.forgetAnonymous(n)
	}
}
