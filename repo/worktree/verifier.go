package worktree

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/afero"
)

// verifyBatch is how many files a Verifier looks at (Scan) at once.
const verifyBatch = 4096

// A Verifier compares the directory Root of Fs with a version fed to it
// one directory at a time, as a walk of the version's trees visits them:
// Enter for each directory (the root first, with path ""), File for each
// file in it, Leave once its files and subdirectories were fed. It finds
// what Verify finds, in memory bounded by the widest directory and a
// batch of files, not by the count of files: files are looked at
// (Scan, with no record, so every file of the right size is hashed) a
// batch at a time, and each directory on disk is listed once, when it is
// entered, and compared with the version's names when it is left.
//
// A directory on disk is listed only if it is reached from Root through
// real directories: one behind a symbolic link is not looked into (the
// version's files below it are Missing, and the link itself is Extra).
type Verifier struct {
	Fs   afero.Fs
	Root string

	stack    []*verifyDir
	batch    []Entry
	problems []Problem
}

// errNotEntered: File or Leave with no directory entered (a caller's bug).
var errNotEntered = errors.New("worktree: Verifier fed a file or a leave outside any directory")

// verifyDir is a directory of the version being fed.
type verifyDir struct {
	path   string
	listed bool                   // a real directory on disk, listed
	disk   map[string]fs.FileInfo // what the listing found, by name
	want   map[string]bool        // the version's names: true for a directory
}

// Enter starts the directory p of the version (slash-separated, "" for
// the root).
func (v *Verifier) Enter(ctx context.Context, p string) error {
	d := &verifyDir{path: p, want: map[string]bool{}}
	if len(v.stack) == 0 {
		d.listed = true
	} else {
		parent := v.stack[len(v.stack)-1]
		name := path.Base(p)
		parent.want[name] = true
		fi, ok := parent.disk[name]
		d.listed = parent.listed && ok && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0
	}
	if d.listed {
		infos, err := afero.ReadDir(v.Fs, filepath.Join(v.Root, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		d.disk = make(map[string]fs.FileInfo, len(infos))
		for _, fi := range infos {
			d.disk[fi.Name()] = fi
		}
	}
	v.stack = append(v.stack, d)
	return ctx.Err()
}

// File feeds a file of the directory last entered and not left.
func (v *Verifier) File(ctx context.Context, e Entry) error {
	if len(v.stack) == 0 {
		return errNotEntered
	}
	v.stack[len(v.stack)-1].want[path.Base(e.Path)] = false
	v.batch = append(v.batch, e)
	if len(v.batch) >= verifyBatch {
		return v.flush(ctx)
	}
	return nil
}

// Leave ends the directory last entered: what its listing holds that the
// version does not is Extra (every file below it, for a directory).
func (v *Verifier) Leave(ctx context.Context) error {
	if len(v.stack) == 0 {
		return errNotEntered
	}
	d := v.stack[len(v.stack)-1]
	v.stack = v.stack[:len(v.stack)-1]
	if !d.listed {
		return nil
	}
	for name, fi := range d.disk {
		isDir, wanted := d.want[name]
		p := name
		if d.path != "" {
			p = d.path + "/" + name
		}
		realDir := fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0
		switch {
		case realDir && wanted && isDir, !realDir && wanted && !isDir:
			// the version's own: entered, or looked at by Scan
		case realDir && strings.HasPrefix(name, StagePrefix):
			// a checkout's staging directory
		case realDir:
			if err := v.extraBelow(p); err != nil {
				return err
			}
		case !strings.HasPrefix(name, TempPrefix):
			v.problems = append(v.problems, Problem{Path: p, Problem: Extra})
		}
	}
	return ctx.Err()
}

// extraBelow reports every non-directory below the directory p as Extra.
func (v *Verifier) extraBelow(p string) error {
	dir := filepath.Join(v.Root, filepath.FromSlash(p))
	return afero.Walk(v.Fs, dir, func(full string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && strings.HasPrefix(info.Name(), StagePrefix) {
			return filepath.SkipDir
		}
		if info.IsDir() || strings.HasPrefix(info.Name(), TempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(v.Root, full)
		if err != nil {
			return err
		}
		v.problems = append(v.problems, Problem{Path: filepath.ToSlash(rel), Problem: Extra})
		return nil
	})
}

// flush looks at the files of the batch.
func (v *Verifier) flush(ctx context.Context) error {
	if len(v.batch) == 0 {
		return nil
	}
	disk, err := Scan(ctx, v.Fs, v.Root, v.batch, nil, &State{})
	if err != nil {
		return err
	}
	for _, e := range v.batch {
		switch d := disk[e.Path]; {
		case d.Kind != File:
			v.problems = append(v.problems, Problem{Path: e.Path, Problem: Missing})
		case d.Stat.Size != e.Size || d.Hash != e.ID:
			v.problems = append(v.problems, Problem{Path: e.Path, Problem: Modified})
		}
	}
	v.batch = v.batch[:0]
	return nil
}

// Finish looks at the files not yet looked at and returns every
// difference found, sorted by path.
func (v *Verifier) Finish(ctx context.Context) ([]Problem, error) {
	err := v.flush(ctx)
	sort.Slice(v.problems, func(i, j int) bool { return v.problems[i].Path < v.problems[j].Path })
	return v.problems, err
}
