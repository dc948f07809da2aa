package repo_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/faulttest"
	"github.com/artvcs/art/repo"
	"github.com/artvcs/art/repo/worktree"
)

var (
	v0Files = files{"a.txt": "alpha", "dir/b.txt": "bravo", "dir/sub/c.txt": "charlie", "run.sh": "#!/bin/sh\n"}
	v1Files = files{"a.txt": "alpha2", "dir/b.txt": "bravo", "new.txt": "new", "run.sh": "#!/bin/sh\n"}
)

// twoVersions logs ds:v0 (v0Files) and ds:v1 (v1Files): v1 changes a.txt,
// drops dir/sub/c.txt (and so dir/sub) and adds new.txt.
func twoVersions(t testing.TB, r *repo.Repo) (repo.Version, repo.Version) {
	t.Helper()
	v0, _ := logDir(t, r, "ds", v0Files, nil)
	v1, _ := logDir(t, r, "ds", v1Files, nil)
	return v0, v1
}

func checkout(t testing.TB, r *repo.Repo, ref, dir string, opts *repo.CheckoutOptions) repo.CheckoutResult {
	t.Helper()
	res, err := r.Checkout(context.Background(), ref, dir, opts)
	if err != nil {
		t.Fatalf("Checkout(%s, %s): %v", ref, dir, err)
	}
	return res
}

func counts(res repo.CheckoutResult) string {
	return fmt.Sprintf("files %d written %d skipped %d removed %d", res.Files, res.Written, res.Skipped, res.Removed)
}

func TestCheckout(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		twoVersions(t, r)
		dst := filepath.Join(root, "work")

		res := checkout(t, r, "ds:v0", dst, nil)
		if got, want := counts(res), "files 4 written 4 skipped 0 removed 0"; got != want {
			t.Errorf("first checkout: %s, want %s", got, want)
		}
		if res.Version.Version.Version != 0 || res.Dir != dst {
			t.Errorf("result names %s in %s", res.Version.Ref(), res.Dir)
		}
		want := map[string]string{
			"a.txt": "-rw-r--r-- alpha", "dir": "dir", "dir/b.txt": "-rw-r--r-- bravo",
			"dir/sub": "dir", "dir/sub/c.txt": "-rw-r--r-- charlie", "run.sh": "-rwxr-xr-x #!/bin/sh\n",
		}
		if got := snapshot(t, fsys, dst); !maps.Equal(got, want) {
			t.Fatalf("checkout wrote %q, want %q", got, want)
		}
		if _, err := r.Verify(ctx, "ds:v0", dst); err != nil {
			t.Errorf("Verify: %v", err)
		}

		// Again: the stat cache says every file is right.
		res = checkout(t, r, "ds:v0", dst, nil)
		if got, want := counts(res), "files 4 written 0 skipped 4 removed 0"; got != want {
			t.Errorf("second checkout: %s, want %s", got, want)
		}

		// Switch in place to v1.
		res = checkout(t, r, "ds:v1", dst, nil)
		if got, want := counts(res), "files 4 written 2 skipped 2 removed 1"; got != want {
			t.Errorf("switch to v1: %s, want %s", got, want)
		}
		want = map[string]string{
			"a.txt": "-rw-r--r-- alpha2", "dir": "dir", "dir/b.txt": "-rw-r--r-- bravo",
			"new.txt": "-rw-r--r-- new", "run.sh": "-rwxr-xr-x #!/bin/sh\n",
		}
		if got := snapshot(t, fsys, dst); !maps.Equal(got, want) {
			t.Fatalf("after switching to v1: %q, want %q", got, want)
		}
		if _, err := r.Verify(ctx, "ds:v1", dst); err != nil {
			t.Errorf("Verify v1: %v", err)
		}
		// And back.
		res = checkout(t, r, "ds:v0", dst, nil)
		if got, want := counts(res), "files 4 written 2 skipped 2 removed 1"; got != want {
			t.Errorf("switch back to v0: %s, want %s", got, want)
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), v0Files)
		noTemps(t, fsys, dst)
	})
}

// TestCheckoutStatCache: once the state is older than the files, a
// re-checkout reads no file of the directory.
func TestCheckoutStatCache(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		cfs := &countingFs{Fs: fsys, under: filepath.Join(root, "w") + string(filepath.Separator)}
		r, _ := newRepo(t, cfs, root)
		twoVersions(t, r)
		dst := filepath.Join(root, "w")
		checkout(t, r, "ds:v0", dst, nil)
		// Files written within 20 ms of the save are hashed once more
		// (see TestCheckoutSameSizeEditRightAfter); then they are trusted.
		// The next save must come 20 ms after the files' times, which the
		// file system takes from a clock a few milliseconds coarse: wait
		// well past it.
		time.Sleep(50 * time.Millisecond)
		checkout(t, r, "ds:v0", dst, nil)
		cfs.opens.Store(0)
		res := checkout(t, r, "ds:v0", dst, nil)
		if res.Skipped != 4 || cfs.opens.Load() != 0 {
			t.Errorf("re-checkout: %s, opened %d files of the directory; want 4 skipped, none opened", counts(res), cfs.opens.Load())
		}
		// A touched file is hashed, found right, and kept.
		now := time.Now().Add(time.Second)
		if err := fsys.Chtimes(filepath.Join(dst, "a.txt"), now, now); err != nil {
			t.Fatal(err)
		}
		res = checkout(t, r, "ds:v0", dst, nil)
		if res.Skipped != 4 || cfs.opens.Load() != 1 {
			t.Errorf("after touching a file: %s, opened %d files; want 4 skipped, 1 opened", counts(res), cfs.opens.Load())
		}
	})
}

// countingFs counts the files opened under a directory.
type countingFs struct {
	afero.Fs
	under string
	opens atomic.Int64
}

// count counts opens of files (not directories, which are only listed)
// under c.under.
func (c *countingFs) count(name string) {
	if !strings.HasPrefix(name, c.under) {
		return
	}
	if fi, err := c.Fs.Stat(name); err == nil && fi.IsDir() {
		return
	}
	c.opens.Add(1)
}

func (c *countingFs) Open(name string) (afero.File, error) {
	c.count(name)
	return c.Fs.Open(name)
}

func (c *countingFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	c.count(name)
	return c.Fs.OpenFile(name, flag, perm)
}

func (c *countingFs) LstatIfPossible(name string) (fs.FileInfo, bool, error) {
	if l, ok := c.Fs.(afero.Lstater); ok {
		return l.LstatIfPossible(name)
	}
	fi, err := c.Fs.Stat(name)
	return fi, false, err
}

// TestCheckoutKeepsLocalChanges edits files after a checkout: switching
// versions is refused and changes nothing until forced.
func TestCheckoutKeepsLocalChanges(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		twoVersions(t, r)
		for _, tc := range []struct {
			what string
			edit func(dst string)
		}{
			{"edited file v1 changes", func(dst string) { writeFile(t, fsys, filepath.Join(dst, "a.txt"), "mine!", 0o644) }},
			{"edited file v1 keeps", func(dst string) { writeFile(t, fsys, filepath.Join(dst, "dir/b.txt"), "my bravo", 0o644) }},
			{"edited file v1 removes", func(dst string) { writeFile(t, fsys, filepath.Join(dst, "dir/sub/c.txt"), "my charlie", 0o644) }},
			{"untracked file where v1 adds one", func(dst string) { writeFile(t, fsys, filepath.Join(dst, "new.txt"), "old", 0o644) }},
			{"directory where v1 adds a file", func(dst string) { writeFile(t, fsys, filepath.Join(dst, "new.txt", "keep"), "k", 0o644) }},
			{"file replaced by a directory", func(dst string) {
				fsys.Remove(filepath.Join(dst, "a.txt"))
				writeFile(t, fsys, filepath.Join(dst, "a.txt", "inner"), "k", 0o644)
			}},
		} {
			dst := filepath.Join(root, strings.ReplaceAll(tc.what, " ", "-"))
			checkout(t, r, "ds:v0", dst, nil)
			tc.edit(dst)
			before := snapshot(t, fsys, dst)
			_, err := r.Checkout(ctx, "ds:v1", dst, nil)
			if !errors.Is(err, repo.ErrLocalChanges) {
				t.Errorf("%s: switch = %v, want ErrLocalChanges", tc.what, err)
				continue
			}
			if after := snapshot(t, fsys, dst); !maps.Equal(after, before) {
				t.Errorf("%s: the refused switch changed the directory:\nbefore %q\nafter  %q", tc.what, before, after)
			}
			// The refusal is stable: the edit is still noticed next time.
			if _, err := r.Checkout(ctx, "ds:v1", dst, nil); !errors.Is(err, repo.ErrLocalChanges) {
				t.Errorf("%s: second switch = %v, want ErrLocalChanges", tc.what, err)
			}
			res, err := r.Checkout(ctx, "ds:v1", dst, &repo.CheckoutOptions{Force: true})
			if err != nil {
				t.Errorf("%s: forced switch: %v", tc.what, err)
				continue
			}
			if _, err := r.Verify(ctx, "ds:v1", dst); err != nil && !strings.Contains(tc.what, "removes") {
				t.Errorf("%s: after the forced switch: %v (%s)", tc.what, err, counts(res))
			}
			got := fileSnapshot(t, fsys, dst)
			for p, c := range v1Files {
				if got[p] != c {
					t.Errorf("%s: forced switch left %s = %q, want %q", tc.what, p, got[p], c)
				}
			}
			if _, ok := got["dir/sub/c.txt"]; ok {
				t.Errorf("%s: forced switch kept dir/sub/c.txt", tc.what)
			}
		}
	})
}

// TestCheckoutSameSizeEditRightAfter edits a file, keeping its size, right
// after the checkout that wrote it, on a file system whose clock ticks in
// whole seconds: the edit keeps the file's stat, and the stat cache must
// not take it for the file art wrote.
func TestCheckoutSameSizeEditRightAfter(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		fsys = coarseFs{fsys}
		r, _ := newRepo(t, fsys, root)
		twoVersions(t, r)
		for i := range 5 {
			dst := filepath.Join(root, fmt.Sprintf("w%d", i))
			checkout(t, r, "ds:v0", dst, nil)
			p := filepath.Join(dst, "a.txt")
			f, err := fsys.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("A"), 0) // "Alpha": same size
			f.Close()
			_, err = r.Checkout(ctx, "ds:v1", dst, nil)
			if !errors.Is(err, repo.ErrLocalChanges) {
				t.Fatalf("round %d: switch after a same-size edit = %v, want ErrLocalChanges", i, err)
			}
			if got := readFile(t, fsys, p); got != "Alpha" {
				t.Fatalf("round %d: the edit was overwritten with %q", i, got)
			}
			// A re-checkout of what is there hashes the doubtful files
			// but rewrites nothing.
			res := checkout(t, r, "ds:v0", filepath.Join(root, fmt.Sprintf("v%d", i)), nil)
			res = checkout(t, r, "ds:v0", filepath.Join(root, fmt.Sprintf("v%d", i)), nil)
			if res.Written != 0 || res.Skipped != 4 {
				t.Errorf("re-checkout: %s", counts(res))
			}
		}
	})
}

// coarseFs reports modification times in whole seconds and no inode or
// change time, as FAT, HFS+ or ext3 do.
type coarseFs struct{ afero.Fs }

type coarseInfo struct{ fs.FileInfo }

func (i coarseInfo) ModTime() time.Time { return i.FileInfo.ModTime().Truncate(time.Second) }
func (i coarseInfo) Sys() any           { return nil }

func (c coarseFs) Stat(name string) (fs.FileInfo, error) {
	fi, err := c.Fs.Stat(name)
	if err != nil {
		return nil, err
	}
	return coarseInfo{fi}, nil
}

func (c coarseFs) LstatIfPossible(name string) (fs.FileInfo, bool, error) {
	l, ok := c.Fs.(afero.Lstater)
	if !ok {
		fi, err := c.Stat(name)
		return fi, false, err
	}
	fi, lstated, err := l.LstatIfPossible(name)
	if err != nil {
		return nil, lstated, err
	}
	return coarseInfo{fi}, lstated, nil
}

func TestCheckoutUntracked(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		twoVersions(t, r)

		// A file art did not write, in the way: refused, nothing written.
		dst := filepath.Join(root, "w1")
		writeFile(t, fsys, filepath.Join(dst, "dir", "b.txt"), "someone else's", 0o644)
		before := snapshot(t, fsys, dst)
		_, err := r.Checkout(ctx, "ds:v0", dst, nil)
		wantErr(t, "untracked file in the way", err, repo.ErrLocalChanges)
		if !strings.Contains(err.Error(), "dir/b.txt") {
			t.Errorf("error %q does not name dir/b.txt", err)
		}
		if after := snapshot(t, fsys, dst); !maps.Equal(after, before) {
			t.Errorf("refused checkout changed the directory: %q", after)
		}
		res, err := r.Checkout(ctx, "ds:v0", dst, &repo.CheckoutOptions{Force: true})
		if err != nil || res.Written != 4 {
			t.Fatalf("forced checkout: %s, %v", counts(res), err)
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), v0Files)

		// A file already right is kept, not rewritten (T9k's rule).
		dst = filepath.Join(root, "w2")
		writeFile(t, fsys, filepath.Join(dst, "dir", "b.txt"), "bravo", 0o644)
		res = checkout(t, r, "ds:v0", dst, nil)
		if res.Written != 3 || res.Skipped != 1 {
			t.Errorf("checkout over a right file: %s, want 3 written 1 skipped", counts(res))
		}

		// The user's own files that the version lacks are left alone, and
		// so is a directory that holds one.
		writeFile(t, fsys, filepath.Join(dst, "notes.md"), "mine", 0o644)
		writeFile(t, fsys, filepath.Join(dst, "dir", "sub", "mine.txt"), "mine too", 0o644)
		res = checkout(t, r, "ds:v1", dst, nil)
		if res.Removed != 1 {
			t.Errorf("switch: %s, want 1 removed", counts(res))
		}
		want := maps.Clone(v1Files)
		want["notes.md"], want["dir/sub/mine.txt"] = "mine", "mine too"
		equalFiles(t, fileSnapshot(t, fsys, dst), want)
		vr, err := r.Verify(ctx, "ds:v1", dst)
		wantErr(t, "Verify with the user's files", err, repo.ErrVerifyFailed)
		if len(vr.Problems) != 2 || vr.Problems[0].Problem != "extra" || vr.Problems[1].Problem != "extra" {
			t.Errorf("Verify problems %+v, want two extra files", vr.Problems)
		}
	})
}

// TestCheckoutFileAndDirSwap switches between versions where a file
// becomes a directory and back.
func TestCheckoutFileAndDirSwap(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "swap", files{"x": "a file", "keep": "k"}, nil)
		logDir(t, r, "swap", files{"x/y": "now a dir", "x/z/w": "deeper", "keep": "k"}, nil)
		dst := filepath.Join(root, "w")
		checkout(t, r, "swap:v0", dst, nil)
		res := checkout(t, r, "swap:v1", dst, nil)
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"x/y": "now a dir", "x/z/w": "deeper", "keep": "k"})
		if res.Removed != 1 || res.Written != 2 {
			t.Errorf("file to dir: %s, want 2 written 1 removed", counts(res))
		}
		res = checkout(t, r, "swap:v0", dst, nil)
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"x": "a file", "keep": "k"})
		if res.Removed != 2 || res.Written != 1 {
			t.Errorf("dir to file: %s, want 1 written 2 removed", counts(res))
		}
		if _, err := r.Verify(ctx, "swap:v0", dst); err != nil {
			t.Error(err)
		}
		// A user's file inside the directory stops the switch.
		checkout(t, r, "swap:v1", dst, nil)
		writeFile(t, fsys, filepath.Join(dst, "x", "mine"), "mine", 0o644)
		before := snapshot(t, fsys, dst)
		_, err := r.Checkout(ctx, "swap:v0", dst, nil)
		wantErr(t, "dir holding a user's file", err, repo.ErrLocalChanges)
		if after := snapshot(t, fsys, dst); !maps.Equal(after, before) {
			t.Errorf("refused switch changed the directory:\nbefore %q\nafter  %q", before, after)
		}
	})
}

// TestCheckoutModeChange switches between versions that differ only in a
// file's executable bit.
func TestCheckoutModeChange(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "tool", files{"run.sh": "echo\n"}, nil)
		src := filepath.Join(root, "plain")
		writeFile(t, fsys, filepath.Join(src, "run.sh"), "echo\n", 0o644)
		a := r.NewArtifact("tool", "dataset")
		if err := a.AddDir(src, ""); err != nil {
			t.Fatal(err)
		}
		if _, created, err := r.Log(context.Background(), a, nil); err != nil || !created {
			t.Fatalf("Log without the exec bit = %v, %v", created, err)
		}
		dst := filepath.Join(root, "w")
		mode := func() os.FileMode {
			fi, err := fsys.Stat(filepath.Join(dst, "run.sh"))
			if err != nil {
				t.Fatal(err)
			}
			return fi.Mode().Perm()
		}
		checkout(t, r, "tool:v0", dst, nil)
		if got := mode(); got != 0o755 {
			t.Fatalf("v0: mode %v", got)
		}
		res := checkout(t, r, "tool:v1", dst, nil)
		if got := mode(); got != 0o644 || res.Written != 1 {
			t.Errorf("v1: mode %v (%s), want -rw-r--r--", got, counts(res))
		}
		res = checkout(t, r, "tool:v0", dst, nil)
		if got := mode(); got != 0o755 || res.Written != 1 {
			t.Errorf("back to v0: mode %v (%s), want -rwxr-xr-x", got, counts(res))
		}
		res = checkout(t, r, "tool:v0", dst, nil)
		if res.Written != 0 || res.Skipped != 1 {
			t.Errorf("again: %s", counts(res))
		}
		// An untracked file with the right bytes but not the right mode.
		other := filepath.Join(root, "other")
		writeFile(t, fsys, filepath.Join(other, "run.sh"), "echo\n", 0o644)
		checkout(t, r, "tool:v0", other, nil)
		if fi, _ := fsys.Stat(filepath.Join(other, "run.sh")); fi.Mode().Perm() != 0o755 {
			t.Errorf("untracked right file kept mode %v", fi.Mode().Perm())
		}
	})
}

// TestCheckoutCurrentDir checks out into "." (dstack's default
// local_path) and switches it in place.
func TestCheckoutCurrentDir(t *testing.T) {
	root := t.TempDir()
	fsys := afero.NewOsFs()
	r, _ := newRepo(t, fsys, root)
	twoVersions(t, r)
	work := filepath.Join(root, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	if _, err := r.DownloadTag(context.Background(), "ds:v0", "", ""); err != nil {
		t.Fatal(err)
	}
	equalFiles(t, fileSnapshot(t, fsys, work), v0Files)
	res := checkout(t, r, "ds:v1", ".", nil)
	if res.Removed != 1 {
		t.Errorf("switch: %s", counts(res))
	}
	if got, want := snapshot(t, fsys, work)["dir/sub"], ""; got != want {
		t.Errorf("dir/sub left behind empty")
	}
	res = checkout(t, r, "ds:v1", work, nil)
	if res.Written != 0 || res.Skipped != 4 {
		t.Errorf("the same directory by its absolute path: %s", counts(res))
	}
}

func TestCheckoutPath(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		twoVersions(t, r)
		dst := filepath.Join(root, "one")
		res := checkout(t, r, "ds:v0", dst, &repo.CheckoutOptions{Path: "a.txt"})
		if res.Files != 1 || res.Written != 1 {
			t.Errorf("Path a.txt: %s", counts(res))
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"a.txt": "alpha"})

		dst = filepath.Join(root, "sub")
		checkout(t, r, "ds:v0", dst, &repo.CheckoutOptions{Path: "dir/"})
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"dir/b.txt": "bravo", "dir/sub/c.txt": "charlie"})
		// Switching only that directory leaves the rest alone.
		writeFile(t, fsys, filepath.Join(dst, "a.txt"), "not art's", 0o644)
		res = checkout(t, r, "ds:v1", dst, &repo.CheckoutOptions{Path: "dir"})
		if res.Removed != 1 || res.Skipped != 1 {
			t.Errorf("Path dir v0 -> v1: %s", counts(res))
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"dir/b.txt": "bravo", "a.txt": "not art's"})

		for _, p := range []string{"nope", "dir/sub/nope", "di", "dir/b"} {
			_, err := r.Checkout(ctx, "ds:v0", filepath.Join(root, "none"), &repo.CheckoutOptions{Path: p})
			wantErr(t, "Path "+p, err, repo.ErrNotFound)
		}
		_, err := r.Checkout(ctx, "ds:v0", filepath.Join(root, "none"), &repo.CheckoutOptions{Path: "../a.txt"})
		wantErr(t, "Path ../a.txt", err, objects.ErrInvalidPath)
		if _, err := fsys.Stat(filepath.Join(root, "none")); err == nil {
			if got := snapshot(t, fsys, filepath.Join(root, "none")); len(got) > 0 {
				t.Errorf("refused checkouts wrote %q", got)
			}
		}
	})
}

// TestCheckoutSymlinks puts symbolic links where a checkout writes: it
// never writes or deletes through them.
func TestCheckoutSymlinks(t *testing.T) {
	onlyOs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		many := files{"a.txt": "alpha"}
		for i := range 40 {
			many[fmt.Sprintf("dir/images/%02d.png", i)] = fmt.Sprintf("image %d", i)
		}
		logDir(t, r, "img", many, nil)
		outside := filepath.Join(root, "outside")
		if err := os.MkdirAll(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, fsys, filepath.Join(outside, "target.txt"), "keep me", 0o644)
		outsideBefore := snapshot(t, fsys, outside)

		// A link where a directory goes.
		dst := filepath.Join(root, "w1")
		if err := os.MkdirAll(filepath.Join(dst, "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dst, "dir", "images")); err != nil {
			t.Fatal(err)
		}
		_, err := r.Checkout(ctx, "img:v0", dst, nil)
		wantErr(t, "link as a directory", err, repo.ErrLocalChanges)
		if got := snapshot(t, fsys, outside); !maps.Equal(got, outsideBefore) {
			t.Fatalf("checkout wrote through the link: %q", got)
		}
		res, err := r.Checkout(ctx, "img:v0", dst, &repo.CheckoutOptions{Force: true})
		if err != nil {
			t.Fatalf("forced: %v", err)
		}
		if got := snapshot(t, fsys, outside); !maps.Equal(got, outsideBefore) {
			t.Fatalf("forced checkout wrote through the link: %q", got)
		}
		fi, err := os.Lstat(filepath.Join(dst, "dir", "images"))
		if err != nil || !fi.IsDir() {
			t.Fatalf("dir/images after a forced checkout: %v, %v; want a real directory", fi, err)
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), many)
		if res.Written != len(many) {
			t.Errorf("forced: %s", counts(res))
		}

		// A link where a file goes.
		dst = filepath.Join(root, "w2")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(outside, "target.txt"), filepath.Join(dst, "a.txt")); err != nil {
			t.Fatal(err)
		}
		_, err = r.Checkout(ctx, "img:v0", dst, nil)
		wantErr(t, "link as a file", err, repo.ErrLocalChanges)
		if _, err := r.Checkout(ctx, "img:v0", dst, &repo.CheckoutOptions{Force: true}); err != nil {
			t.Fatalf("forced: %v", err)
		}
		if got := snapshot(t, fsys, outside); !maps.Equal(got, outsideBefore) {
			t.Fatalf("checkout wrote through a file link: %q", got)
		}
		if fi, err := os.Lstat(filepath.Join(dst, "a.txt")); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("a.txt after a forced checkout: %v, %v; want a regular file", fi, err)
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), many)

		// A checked-out directory swapped for a link: switching to a
		// version without it deletes nothing through the link.
		logDir(t, r, "img", files{"a.txt": "alpha"}, nil)
		writeFile(t, fsys, filepath.Join(outside, "00.png"), "image 0", 0o644)
		outsideBefore = snapshot(t, fsys, outside)
		if err := os.RemoveAll(filepath.Join(dst, "dir", "images")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dst, "dir", "images")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Checkout(ctx, "img:v1", dst, nil); err != nil {
			t.Fatalf("switch: %v", err)
		}
		if got := snapshot(t, fsys, outside); !maps.Equal(got, outsideBefore) {
			t.Fatalf("switch deleted through a link: %q, want %q", got, outsideBefore)
		}
		// The repository's own directory is outside too.
		if _, err := r.Fsck(ctx, nil); err != nil {
			t.Error(err)
		}
	})
}

// TestCheckoutCorruptObject damages a blob: the checkout fails naming it,
// and no byte of it reaches the target directory.
func TestCheckoutCorruptObject(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		v0, v1 := twoVersions(t, r)
		bad := entry(t, v0, "dir/sub/c.txt").Digest
		flipBit(t, r, bad)

		dst := filepath.Join(root, "fresh")
		_, err := r.Checkout(ctx, "ds:v0", dst, nil)
		wantErr(t, "checkout of a corrupt blob", err, objects.ErrCorrupt)
		var ce *objects.CorruptError
		if !errors.As(err, &ce) || ce.ID != bad || !strings.Contains(err.Error(), bad.String()) {
			t.Errorf("error %v does not name object %s", err, bad)
		}
		if _, err := fsys.Stat(filepath.Join(dst, "dir", "sub", "c.txt")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the corrupt file was created: %v", err)
		}
		noTemps(t, fsys, dst)

		// In place: the old file stays as it was.
		dst = filepath.Join(root, "inplace")
		checkout(t, r, "ds:v0", dst, &repo.CheckoutOptions{Path: "a.txt"})
		flipBit(t, r, entry(t, v1, "a.txt").Digest)
		_, err = r.Checkout(ctx, "ds:v1", dst, nil)
		wantErr(t, "switch to a corrupt blob", err, objects.ErrCorrupt)
		if got := readFile(t, fsys, filepath.Join(dst, "a.txt")); got != "alpha" {
			t.Errorf("a.txt = %q after a failed switch, want v0's", got)
		}
		noTemps(t, fsys, dst)
		// A missing blob is reported as missing.
		removeObject(t, r, entry(t, v1, "new.txt").Digest)
		_, err = r.Checkout(ctx, "ds:v1", filepath.Join(root, "missing"), &repo.CheckoutOptions{Path: "new.txt"})
		wantErr(t, "checkout of a missing blob", err, objects.ErrNotFound)
	})
}

func TestCheckoutProgress(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, _ := newRepo(t, fsys, root)
		v0, _ := twoVersions(t, r)
		var mu sync.Mutex
		var last, total int64
		res := checkout(t, r, "ds:v0", filepath.Join(root, "w"), &repo.CheckoutOptions{Progress: func(d, tot int64) {
			mu.Lock()
			defer mu.Unlock()
			last, total = max(last, d), tot
		}})
		if last != v0.Size || total != v0.Size || res.Written != 4 {
			t.Errorf("progress reached %d of %d, want %d", last, total, v0.Size)
		}
	})
}

// TestCheckoutStreamsInBatches switches a directory of 10,000 files
// (several batches of the streaming checkout) to a version that changes
// files in every batch. A file the user changed in the last batch, and
// twelve more in the middle, refuse the switch before anything is written,
// even in the first batch; with Force it goes through, removing the files
// the new version lacks, and the record then vouches for every file.
func TestCheckoutStreamsInBatches(t *testing.T) {
	t.Parallel()
	fsys := afero.NewOsFs()
	root := t.TempDir()
	r, _ := newRepo(t, fsys, root)
	v0, v1 := files{}, files{}
	for i := range 10_000 {
		p := fmt.Sprintf("d%02d/f%04d", i/500, i)
		v0[p] = fmt.Sprint("v0 ", i)
		switch {
		case i%1000 == 7: // gone in v1
		case i%100 == 3:
			v1[p] = fmt.Sprint("v1 ", i)
		default:
			v1[p] = v0[p]
		}
	}
	v1["zz/new"] = "new"
	logDir(t, r, "ds", v0, nil)
	logDir(t, r, "ds", v1, nil)
	dst := filepath.Join(root, "w")
	if res := checkout(t, r, "ds:v0", dst, nil); res.Written != 10_000 {
		t.Fatalf("checkout: %s", counts(res))
	}
	edited := []string{"d19/f9903"} // the last batch
	for i := 5003; i < 6300; i += 100 {
		edited = append(edited, fmt.Sprintf("d%02d/f%04d", i/500, i))
	}
	for _, p := range edited {
		writeFile(t, fsys, filepath.Join(dst, p), "mine", 0o644)
	}
	before := fileSnapshot(t, fsys, dst)
	_, err := r.Checkout(context.Background(), "ds:v1", dst, nil)
	if !errors.Is(err, repo.ErrLocalChanges) || !strings.Contains(err.Error(), "d10/f5003") || !strings.Contains(err.Error(), "and 4 more") {
		t.Fatalf("switch over edited files: %v, want ErrLocalChanges naming the first ten and 4 more", err)
	}
	equalFiles(t, fileSnapshot(t, fsys, dst), before)
	res, err := r.Checkout(context.Background(), "ds:v1", dst, &repo.CheckoutOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 10 || res.Files != len(v1) {
		t.Errorf("forced switch: %s, want 10 removed of %d files", counts(res), len(v1))
	}
	equalFiles(t, fileSnapshot(t, fsys, dst), v1)
	time.Sleep(50 * time.Millisecond) // past the racy window of the record
	if res := checkout(t, r, "ds:v1", dst, nil); res.Skipped != len(v1) || res.Written != 0 {
		t.Errorf("re-checkout: %s, want every file skipped", counts(res))
	}
	if _, err := r.Verify(context.Background(), "ds:v1", dst); err != nil {
		t.Error(err)
	}
}

// TestRecheckoutRacyFiles: files written too near the saving of the
// checkout record for their stats to vouch for them (worktree.Settled) are
// hashed by the next checkout of the same version, which then saves the
// record again as it is, in one pass over the directory, writing no file;
// the checkout after it trusts every stat and hashes nothing.
func TestRecheckoutRacyFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fsys := faulttest.New(afero.NewOsFs())
	r, _ := newRepo(t, fsys, root)
	src := files{}
	for i := range 300 {
		src[fmt.Sprintf("d%d/f%03d", i%3, i)] = fmt.Sprint("content ", i)
	}
	logDir(t, r, "ds", src, nil)
	dst := filepath.Join(root, "w")
	checkout(t, r, "ds:v0", dst, nil)
	// Every file racy: the record saved 1 ms after the oldest of them.
	var oldest time.Time
	for p := range src {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if oldest.IsZero() || fi.ModTime().Before(oldest) {
			oldest = fi.ModTime()
		}
	}
	recs, _ := filepath.Glob(filepath.Join(r.Dir(), "checkouts", "*[0-9a-f].json"))
	if len(recs) != 1 {
		t.Fatalf("checkout records %q, want one", recs)
	}
	forged := oldest.Add(time.Millisecond)
	if err := os.Chtimes(recs[0], forged, forged); err != nil {
		t.Fatal(err)
	}
	recheckout := func() (opens, stats int64) {
		t.Helper()
		fsys.Reset()
		if res := checkout(t, r, "ds:v0", dst, nil); res.Skipped != len(src) || res.Written != 0 {
			t.Fatalf("re-checkout: %s, want every file skipped", counts(res))
		}
		return fsys.Count(faulttest.OpOpen), fsys.Count(faulttest.OpStat)
	}
	// The record saved again now vouches for files older than the racy
	// window.
	time.Sleep(2 * worktree.RacyWindow * time.Nanosecond)
	opens, stats := recheckout()
	if opens < int64(len(src)) || stats >= 2*int64(len(src)) {
		t.Errorf("re-checkout of racy files: %d opens, %d stats; want each file hashed, in one pass (under %d stats)", opens, stats, 2*len(src))
	}
	fi, err := os.Stat(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().After(forged) {
		t.Error("the record was not saved again")
	}
	if opens, _ := recheckout(); opens >= int64(len(src)) {
		t.Errorf("the checkout after it opened %d files: the record still does not vouch for them", opens)
	}
	equalFiles(t, fileSnapshot(t, afero.NewOsFs(), dst), src)
}

// TestSwitchLooksOnce: a switch between versions that share most files
// looks at each shared file once (the first pass); the second plans and
// writes only the paths the first found something to do at, and records
// the others as they were.
func TestSwitchLooksOnce(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fsys := faulttest.New(afero.NewOsFs()) // counts what it is asked
	r, _ := newRepo(t, fsys, root)
	v0, v1 := files{}, files{}
	const n = 4500 // two batches
	for i := range n {
		p := fmt.Sprintf("d%d/f%04d", i%6, i)
		v0[p] = fmt.Sprint("content ", i)
		v1[p] = v0[p]
	}
	for i := 5; i < n; i += 450 { // ten files differ
		p := fmt.Sprintf("d%d/f%04d", i%6, i)
		v1[p] = fmt.Sprint("changed ", i)
	}
	logDir(t, r, "ds", v0, nil)
	logDir(t, r, "ds", v1, nil)
	dst := filepath.Join(root, "w")
	checkout(t, r, "ds:v0", dst, nil)
	time.Sleep(2 * worktree.RacyWindow * time.Nanosecond) // stats vouch for every file
	fsys.Reset()
	res := checkout(t, r, "ds:v1", dst, nil)
	if res.Written != 10 || res.Skipped != n-10 {
		t.Errorf("switch: %s, want 10 written and %d skipped", counts(res), n-10)
	}
	if stats := fsys.Count(faulttest.OpStat); stats >= n*3/2 {
		t.Errorf("switch: %d stats for %d files: the second pass looked at the shared files again", stats, n)
	}
	equalFiles(t, fileSnapshot(t, afero.NewOsFs(), dst), v1)
	if _, err := r.Verify(context.Background(), "ds:v1", dst); err != nil {
		t.Error(err)
	}
	// The record kept the shared files' stats: the re-checkout hashes none.
	fsys.Reset()
	if res := checkout(t, r, "ds:v1", dst, nil); res.Skipped != n || res.Written != 0 {
		t.Errorf("re-checkout: %s, want every file skipped", counts(res))
	}
	if opens := fsys.Count(faulttest.OpOpen); opens > 100 {
		t.Errorf("re-checkout after the switch opened %d files: the record lost their stats", opens)
	}
}
