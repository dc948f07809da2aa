package repo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
)

func TestVerify(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		twoVersions(t, r)
		dst := filepath.Join(root, "w")
		checkout(t, r, "ds:v0", dst, nil)
		res, err := r.Verify(ctx, "ds:v0", dst)
		if err != nil || res.Files != 4 || len(res.Problems) != 0 {
			t.Fatalf("Verify of a clean checkout = %+v, %v", res, err)
		}

		problems := func() []string {
			t.Helper()
			res, err := r.Verify(ctx, "ds:v0", dst)
			if !errors.Is(err, repo.ErrVerifyFailed) {
				t.Fatalf("Verify = %v, want ErrVerifyFailed", err)
			}
			var out []string
			for _, p := range res.Problems {
				out = append(out, p.Problem+" "+p.Path)
			}
			return out
		}
		writeFile(t, fsys, filepath.Join(dst, "a.txt"), "alphA", 0o644) // same size
		if got, want := problems(), []string{"modified a.txt"}; !slices.Equal(got, want) {
			t.Errorf("after an edit: %q, want %q", got, want)
		}
		writeFile(t, fsys, filepath.Join(dst, "run.sh"), "#!/bin/bash\n", 0o755) // other size
		if err := fsys.Remove(filepath.Join(dst, "dir", "sub", "c.txt")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, fsys, filepath.Join(dst, "dir", "extra.txt"), "x", 0o644)
		got, want := problems(), []string{"modified a.txt", "extra dir/extra.txt", "missing dir/sub/c.txt", "modified run.sh"}
		if !slices.Equal(got, want) {
			t.Errorf("problems %q, want %q", got, want)
		}
		// A directory where a file should be is missing that file.
		if err := fsys.Remove(filepath.Join(dst, "dir", "b.txt")); err != nil {
			t.Fatal(err)
		}
		if err := fsys.Mkdir(filepath.Join(dst, "dir", "b.txt"), 0o755); err != nil {
			t.Fatal(err)
		}
		if got := problems(); !slices.Contains(got, "missing dir/b.txt") {
			t.Errorf("problems %q, want missing dir/b.txt", got)
		}
		if _, err := r.Verify(ctx, "ds:v0", filepath.Join(root, "nowhere")); err == nil || errors.Is(err, repo.ErrVerifyFailed) {
			t.Errorf("Verify of a missing directory = %v, want another error", err)
		}
		if _, err := r.Verify(ctx, "ds:v9", dst); err == nil {
			t.Error("Verify of a missing version succeeded")
		}
	})
}

// TestVerifyManyFiles runs a checkout and verify over a few hundred files
// in nested directories.
func TestVerifyManyFiles(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		fs := files{}
		for i := range 300 {
			fs[fmt.Sprintf("d%d/e%d/f%03d.txt", i%7, i%3, i)] = fmt.Sprintf("file %d", i%50)
		}
		v, _ := logDir(t, r, "many", fs, nil)
		if v.Files != 300 {
			t.Fatalf("%d files, want 300", v.Files)
		}
		dst := filepath.Join(root, "w")
		res := checkout(t, r, "many", dst, nil)
		if res.Written != 300 {
			t.Errorf("checkout: %s", counts(res))
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), fs)
		if _, err := r.Verify(ctx, "many", dst); err != nil {
			t.Error(err)
		}
	})
}

// TestVerifyThroughSymlink: Verify looks at files as a checkout does, so a
// directory of the version replaced by a symbolic link to a copy of it
// holds none of its files (a checkout would not write through it).
func TestVerifyThroughSymlink(t *testing.T) {
	onlyOs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		twoVersions(t, r)
		dst := filepath.Join(root, "w")
		checkout(t, r, "ds:v0", dst, nil)
		if err := os.Rename(filepath.Join(dst, "dir"), filepath.Join(root, "copy")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(root, "copy"), filepath.Join(dst, "dir")); err != nil {
			t.Fatal(err)
		}
		res, err := r.Verify(ctx, "ds:v0", dst)
		if !errors.Is(err, repo.ErrVerifyFailed) {
			t.Fatalf("Verify = %v, want ErrVerifyFailed", err)
		}
		var got []string
		for _, p := range res.Problems {
			got = append(got, p.Problem+" "+p.Path)
		}
		if want := []string{"extra dir", "missing dir/b.txt", "missing dir/sub/c.txt"}; !slices.Equal(got, want) {
			t.Errorf("problems %q, want %q", got, want)
		}
	})
}
