package worktree

import (
	"cmp"
	"context"
	"path"
	"slices"
	"strings"

	"github.com/spf13/afero"
)

// What Verify finds wrong with a path.
const (
	Missing  = "missing"  // a file the version has is not there as a regular file
	Modified = "modified" // it is there with another size or content
	Extra    = "extra"    // a file the version does not have is there
)

// Problem is one way a directory differs from the files a version wants.
type Problem struct {
	Path    string // root-relative, slash-separated
	Problem string // Missing, Modified or Extra
}

// Verify compares the directory dir of fsys with want, the files of a
// version (references to remote URIs left out), and returns the
// differences sorted by path; none means dir holds exactly want. It looks
// at each path as a checkout would (Scan, with no record, so every file of
// the right size is hashed): a file reached through a symbolic link, or
// that is not a regular file, is Missing. Every other non-directory under
// dir that want lacks is Extra, except checkout temp files (TempPrefix).
func Verify(ctx context.Context, fsys afero.Fs, dir string, want []Entry) ([]Problem, error) {
	// Feed a Verifier the entries in tree order: a directory's files and
	// subdirectories before the names that follow it as a path ("a/x"
	// before "a-b"), so '/' sorts before every other byte.
	es := slices.Clone(want)
	slices.SortFunc(es, func(a, b Entry) int { return treeCompare(a.Path, b.Path) })
	v := &Verifier{Fs: fsys, Root: dir}
	if err := v.Enter(ctx, ""); err != nil {
		return nil, err
	}
	open := []string{""} // the directories entered and not left
	for _, e := range es {
		d := path.Dir(e.Path)
		if d == "." {
			d = ""
		}
		for !within(d, open[len(open)-1]) {
			if err := v.Leave(ctx); err != nil {
				return nil, err
			}
			open = open[:len(open)-1]
		}
		for top := open[len(open)-1]; top != d; top = open[len(open)-1] {
			// Enter the next directory on the way from top down to d.
			rest := d
			if top != "" {
				rest = d[len(top)+1:]
			}
			comp, _, _ := strings.Cut(rest, "/")
			next := comp
			if top != "" {
				next = top + "/" + comp
			}
			if err := v.Enter(ctx, next); err != nil {
				return nil, err
			}
			open = append(open, next)
		}
		if err := v.File(ctx, e); err != nil {
			return nil, err
		}
	}
	for range open {
		if err := v.Leave(ctx); err != nil {
			return nil, err
		}
	}
	return v.Finish(ctx)
}

// within reports whether the directory d is dir or below it ("" is the
// root).
func within(d, dir string) bool {
	return dir == "" || d == dir || strings.HasPrefix(d, dir+"/")
}

// treeCompare compares two paths in the order a walk of trees visits
// them: component by component ('/' before every other byte).
func treeCompare(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x == '/' {
			return -1
		}
		if y == '/' {
			return 1
		}
		return cmp.Compare(x, y)
	}
	return cmp.Compare(len(a), len(b))
}
