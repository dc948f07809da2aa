package worktree

import (
	"context"
	"io/fs"
	"path/filepath"
	"sort"
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
	disk, err := Scan(ctx, fsys, dir, want, nil, &State{})
	if err != nil {
		return nil, err
	}
	wanted := make(map[string]bool, len(want))
	var out []Problem
	for _, e := range want {
		wanted[e.Path] = true
		switch d := disk[e.Path]; {
		case d.Kind != File:
			out = append(out, Problem{Path: e.Path, Problem: Missing})
		case d.Stat.Size != e.Size || d.Hash != e.ID:
			out = append(out, Problem{Path: e.Path, Problem: Modified})
		}
	}
	err = afero.Walk(fsys, dir, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !wanted[rel] && !strings.HasPrefix(filepath.Base(rel), TempPrefix) {
			out = append(out, Problem{Path: rel, Problem: Extra})
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
