package faulttest

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/afero"
)

// Crash simulates a power loss now and the reboot after it: it changes
// the wrapped file system to what the model says survives (see the
// package documentation), forgets faults' crash point, and makes handles
// opened before it fail. Everything left is durable. Call it when no
// operation is running.
func (f *Fs) Crash() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	type entry struct {
		path  string
		prior *node // nil: the name did not exist
	}
	var es []entry
	for dir, m := range f.changed {
		for name, prior := range m {
			es = append(es, entry{filepath.Join(dir, name), prior})
		}
	}
	depth := func(p string) int { return strings.Count(p, string(filepath.Separator)) }
	sort.Slice(es, func(i, j int) bool {
		if di, dj := depth(es[i].path), depth(es[j].path); di != dj {
			return di > dj
		}
		return es[i].path < es[j].path
	})
	// Deepest first: take away every changed entry, except a directory
	// that was a directory before too (its own entries are restored one
	// by one).
	for _, e := range es {
		fi, err := f.lstat(e.path)
		if err != nil {
			continue
		}
		if e.prior != nil && e.prior.dir && fi.IsDir() {
			continue
		}
		if err := f.base.RemoveAll(e.path); err != nil {
			return err
		}
	}
	// Shallowest first: put back what was there before, if the directory
	// holding it survived.
	restored := map[string]bool{}
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.prior == nil {
			continue
		}
		if fi, err := f.lstat(filepath.Dir(e.path)); err != nil || !fi.IsDir() {
			continue
		}
		restored[e.path] = true
		switch {
		case e.prior.dir:
			if err := f.base.Mkdir(e.path, e.prior.mode.Perm()); err != nil && !os.IsExist(err) {
				return err
			}
		case e.prior.isLink:
			if l, ok := f.base.(afero.Linker); ok {
				if err := l.SymlinkIfPossible(e.prior.link, e.path); err != nil {
					return err
				}
			}
		default:
			if err := f.rewrite(e.path, e.prior.durable, e.prior.mode); err != nil {
				return err
			}
		}
	}
	// Files that kept their names lose what was written since their last
	// successful sync.
	for p, n := range f.nodes {
		if restored[p] || n.dir || n.isLink || !(n.dirty || n.poisoned) {
			continue
		}
		fi, err := f.lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := f.rewrite(p, n.durable, fi.Mode()); err != nil {
			return err
		}
	}
	f.nodes, f.changed = map[string]*node{}, map[string]map[string]*node{}
	f.dropAnonymous() // nothing names them: they are gone
	f.crashSet, f.crashed = false, false
	f.epoch++
	return nil
}

// rewrite makes name a regular file holding b with mode.
func (f *Fs) rewrite(name string, b []byte, mode fs.FileMode) error {
	f.base.Chmod(name, 0o600) // a read-only file, if it exists
	if err := afero.WriteFile(f.base, name, b, 0o600); err != nil {
		return err
	}
	return f.base.Chmod(name, mode.Perm())
}
