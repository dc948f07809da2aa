package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo"
)

// hostileNames are entry names no tree may hold: each could leave a
// checkout, reach the repository, or be another file on some file system.
// objects/hostile_test.go has the full table; these reach every layer.
var hostileNames = []string{
	"..", ".", ".art", ".ART", ".Art", "．ａｒｔ", ".a\u200brt", ".a\u200drt", ".art.", ".art::$INDEX_ALLOCATION",
	"ART~1", "C:x", "a\\b", "a\x00b", "a\nb", "name\r", "trailing ", "trailing.", "\x1b[2J", "gpj.\u202eexe",
	"..\u200c", strings.Repeat("n", 256),
}

// newRepoIn initialises a repository in root/proj/.art, so that root
// holds everything a checkout of proj could reach: proj/.art, proj, and
// root/outside.
func newRepoIn(t *testing.T, fsys afero.Fs, root string) (*repo.Repo, string) {
	t.Helper()
	proj := filepath.Join(root, "proj")
	r, err := repo.Init(context.Background(), fsys, filepath.Join(proj, ".art"), &repo.Options{Now: newClock().Now})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	writeFile(t, fsys, filepath.Join(root, "outside", "keep.txt"), "keep me", 0o644)
	return r, proj
}

// stableSnapshot is snapshot without the index database, which SQLite
// may touch on any read.
func stableSnapshot(t testing.TB, fsys afero.Fs, dir string) map[string]string {
	t.Helper()
	s := snapshot(t, fsys, dir)
	for p := range s {
		if strings.Contains(p, "/.art/index.db") {
			delete(s, p)
		}
	}
	return s
}

func diffSnapshots(before, after map[string]string) string {
	var d []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			d = append(d, "removed "+p)
		} else if a != b {
			d = append(d, "changed "+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			d = append(d, "added "+p)
		}
	}
	sort.Strings(d)
	return strings.Join(d, ", ")
}

// forgeTree stores a tree encoded by hand, bypassing every check of
// Tree.Encode: lines are "kind\tname\t...", sorted here by name.
func forgeTree(t testing.TB, r *repo.Repo, lines ...string) objects.ID {
	t.Helper()
	sort.Slice(lines, func(i, j int) bool { return strings.Split(lines[i], "\t")[1] < strings.Split(lines[j], "\t")[1] })
	var b strings.Builder
	b.WriteString(objects.TreeHeader)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	id, err := objects.PutBytes(context.Background(), r.Store(), []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func fileLine(name string, id objects.ID, size int) string {
	return fmt.Sprintf("file\t%s\t%d\t%s", name, size, id)
}

func dirLine(name string, id objects.ID) string { return fmt.Sprintf("dir\t%s\t%s", name, id) }

// forgeCommit stores a commit of version 0 of name with root tree tree; a
// Reindex makes it a version, as a pull of a forged object would.
func forgeCommit(t testing.TB, r *repo.Repo, name string, tree objects.ID) {
	t.Helper()
	c := &objects.Commit{Name: name, Type: "dataset", Tree: tree, Created: time.Unix(1, 0)}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objects.PutBytes(context.Background(), r.Store(), b); err != nil {
		t.Fatal(err)
	}
}

// TestCheckoutRefusesForgedTrees writes trees holding hostile names
// straight into the store (as a damaged store or a hostile remote could
// hand them over) and checks them out into the directory holding the
// repository: each checkout fails with ErrCorrupt naming the invalid path,
// and nothing anywhere changes.
func TestCheckoutRefusesForgedTrees(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, proj := newRepoIn(t, fsys, root)
		blob, err := objects.PutBytes(ctx, r.Store(), []byte("pwned"))
		if err != nil {
			t.Fatal(err)
		}
		leaf := forgeTree(t, r, fileLine("config", blob, 5), fileLine("escape.txt", blob, 5))
		type forged struct {
			what string
			tree objects.ID
		}
		var cases []forged
		for _, h := range hostileNames {
			cases = append(cases,
				forged{fmt.Sprintf("file %q", h), forgeTree(t, r, fileLine(h, blob, 5))},
				forged{fmt.Sprintf("dir %q", h), forgeTree(t, r, dirLine(h, leaf), fileLine("ok", blob, 5))},
				forged{fmt.Sprintf("sub/%q", h), forgeTree(t, r, dirLine("sub", forgeTree(t, r, fileLine(h, blob, 5))))},
			)
		}
		for _, pair := range [][2]string{{"A.txt", "a.txt"}, {"\u00e9", "e\u0301"}, {"K", "\u212a"}, {"ab", "a\u200cb"}, {"dup", "dup"}} {
			cases = append(cases, forged{fmt.Sprintf("%q and %q", pair[0], pair[1]),
				forgeTree(t, r, fileLine(pair[0], blob, 5), dirLine(pair[1], leaf))})
		}
		for i, c := range cases {
			forgeCommit(t, r, fmt.Sprintf("evil%d", i), c.tree)
		}
		if _, err := r.Reindex(ctx); err != nil {
			t.Fatalf("Reindex: %v", err)
		}
		before := stableSnapshot(t, fsys, root)
		for i, c := range cases {
			ref := fmt.Sprintf("evil%d", i)
			for _, force := range []bool{false, true} {
				_, err := r.Checkout(ctx, ref, proj, &repo.CheckoutOptions{Force: force})
				if !errors.Is(err, objects.ErrCorrupt) {
					t.Fatalf("checkout of a tree with %s (force %v): err = %v, want ErrCorrupt", c.what, force, err)
				}
				if !strings.Contains(err.Error(), "invalid path") && !strings.Contains(err.Error(), "malformed") {
					t.Errorf("checkout of a tree with %s: %v; want the reason named", c.what, err)
				}
				if len(err.Error()) > 600 {
					t.Errorf("checkout of a tree with %s: error of %d bytes", c.what, len(err.Error()))
				}
			}
			if _, err := r.Checkout(ctx, ref, filepath.Join(root, "fresh"), nil); !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("checkout of a tree with %s into a new directory: %v, want ErrCorrupt", c.what, err)
			}
			v, err := r.Resolve(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Manifest(ctx); !errors.Is(err, objects.ErrCorrupt) {
				t.Errorf("Manifest of a tree with %s: %v, want ErrCorrupt", c.what, err)
			}
			if after := stableSnapshot(t, fsys, root); !maps.Equal(after, before) {
				t.Fatalf("checkout of a tree with %s changed files: %s", c.what, diffSnapshots(before, after))
			}
		}
		// fsck names every forged tree.
		rep, err := r.Fsck(ctx, nil)
		if !errors.Is(err, repo.ErrDamaged) {
			t.Fatalf("Fsck: %v, want ErrDamaged", err)
		}
		damaged := map[objects.ID]bool{}
		for _, p := range rep.Problems {
			damaged[p.ID] = true
		}
		for _, c := range cases {
			if !damaged[c.tree] && !damagedBelow(t, r, c.tree, damaged) {
				t.Errorf("fsck does not report the tree with %s", c.what)
			}
		}
	})
}

// damagedBelow reports whether a tree reachable from id (read without
// validation: only its dir lines) is in damaged.
func damagedBelow(t testing.TB, r *repo.Repo, id objects.ID, damaged map[objects.ID]bool) bool {
	b, err := objects.ReadAll(context.Background(), r.Store(), id, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, "\t"); f[0] == "dir" && len(f) == 3 {
			sub, err := objects.ParseID(f[2])
			if err == nil && (damaged[sub] || damagedBelow(t, r, sub, damaged)) {
				return true
			}
		}
	}
	return false
}

// TestDeepTree forges a version whose trees nest 10,000 deep: every walk
// stops at objects.MaxPathDepth with an error, quickly and without
// exhausting the stack, and nothing is written or collected.
func TestDeepTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fsys := afero.NewMemMapFs()
	r, proj := newRepoIn(t, fsys, "/work")
	blob, err := objects.PutBytes(ctx, r.Store(), []byte("deep"))
	if err != nil {
		t.Fatal(err)
	}
	id := forgeTree(t, r, fileLine("f", blob, 4))
	const depth = 10000
	for range depth {
		// Written straight to the store's layout: PutBytes renames into
		// place, and afero's in-memory Rename scans every file.
		b := []byte(objects.TreeHeader + dirLine("d", id) + "\n")
		id = objects.Hash(b)
		if err := afero.WriteFile(fsys, objectPath(t, r, id), b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := objects.ReadTree(ctx, r.Store(), id); err != nil {
		t.Fatalf("the forged top tree does not read back: %v", err)
	}
	forgeCommit(t, r, "deep", id)
	if _, err := r.Reindex(ctx); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	logDir(t, r, "other-deep", files{"x": "x"}, nil)
	objs := countObjects(t, r)
	before := stableSnapshot(t, fsys, "/work")
	start := time.Now()
	if _, err := r.Checkout(ctx, "deep", filepath.Join(proj, "out"), nil); !errors.Is(err, objects.ErrCorrupt) ||
		!strings.Contains(err.Error(), "nest") {
		t.Errorf("Checkout: %v, want ErrCorrupt (trees nest too deep)", err)
	}
	v, err := r.Resolve(ctx, "deep")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Manifest(ctx); !errors.Is(err, objects.ErrCorrupt) {
		t.Errorf("Manifest: %v, want ErrCorrupt", err)
	}
	// GetPath reads only the directories on the path asked for: d/f is
	// not there, and the path to the file is deeper than any path may be.
	if _, err := v.GetPath(ctx, "d/f"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("GetPath(d/f): %v, want ErrNotFound", err)
	}
	if _, err := v.GetPath(ctx, strings.Repeat("d/", depth)+"f"); !errors.Is(err, objects.ErrInvalidPath) {
		t.Errorf("GetPath of the deep file: %v, want ErrInvalidPath", err)
	}
	if _, err := r.Verify(ctx, "deep", proj); err == nil {
		t.Error("Verify of a too-deep version succeeded")
	}
	// Diff reads only what differs: a version against itself reads nothing,
	// against another the too-deep tree is refused.
	if ch, err := r.Diff(ctx, "deep", "deep"); err != nil || len(ch) != 0 {
		t.Errorf("Diff of a version with itself: %v, %v; want no change", ch, err)
	}
	if _, err := r.Diff(ctx, "deep", "other-deep"); !errors.Is(err, objects.ErrCorrupt) {
		t.Errorf("Diff: %v, want ErrCorrupt", err)
	}
	if _, err := r.Fsck(ctx, nil); !errors.Is(err, repo.ErrDamaged) {
		t.Errorf("Fsck: %v, want ErrDamaged", err)
	}
	if _, err := r.GC(ctx, &repo.GCOptions{}); err == nil {
		t.Error("GC over a too-deep version succeeded; it must refuse to guess what is live")
	}
	if _, err := r.DiskUsage(ctx); err == nil {
		t.Log("DiskUsage over a too-deep version succeeded")
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("walking a %d-deep version took %v", depth, el)
	}
	if got := countObjects(t, r); got != objs {
		t.Errorf("%d objects after the walks, want %d", got, objs)
	}
	if after := stableSnapshot(t, fsys, "/work"); !maps.Equal(after, before) {
		t.Errorf("walks of a too-deep version changed files: %s", diffSnapshots(before, after))
	}
}

// TestBuilderRefusesHostilePaths: every way into an artifact (AddFile,
// AddDir, NewFile, AddReference, as a name or under a directory) refuses
// hostile names with ErrInvalidPath, before any object is written.
func TestBuilderRefusesHostilePaths(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, proj := newRepoIn(t, fsys, root)
		writeFiles(t, fsys, proj, files{"model.h5": "weights", "images/cat.png": "cat"})
		file, dir := filepath.Join(proj, "model.h5"), filepath.Join(proj, "images")
		objs := countObjects(t, r)
		a := r.NewArtifact("bad", "dataset")
		var paths []string
		for _, h := range hostileNames {
			paths = append(paths, h, "dir/"+h, h+"/x", "a/"+h+"/b")
		}
		paths = append(paths, "/abs", "../x", "a/../../x", "a//../b", "C:/x", strings.Repeat("d/", objects.MaxPathDepth+1)+"f")
		for _, p := range paths {
			if p == "." || p == "dir/." || p == "./x" || p == "a/./b" {
				continue // "." components are dropped: these are valid paths
			}
			wantErr(t, fmt.Sprintf("AddFile %.40q", p), a.AddFile(file, p), objects.ErrInvalidPath)
			wantErr(t, fmt.Sprintf("AddDir %.40q", p), a.AddDir(dir, p), objects.ErrInvalidPath)
			wantErr(t, fmt.Sprintf("AddReference %.40q", p), a.AddReference(ctx, "s3://b/k", p), objects.ErrInvalidPath)
			w, err := a.NewFile(ctx, p)
			if err == nil {
				w.Close()
			}
			wantErr(t, fmt.Sprintf("NewFile %.40q", p), err, objects.ErrInvalidPath)
		}
		if got := countObjects(t, r); got != objs {
			t.Errorf("refused adds wrote %d objects", got-objs)
		}
		v, _, err := r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ps := manifestPaths(t, v); len(ps) != 0 {
			t.Errorf("artifact holds %q after only refused adds", ps)
		}
	})
}

// TestAddDirRefusesHostileFileNames: a source directory holding a file
// whose name no tree may hold is refused whole (the OS file system can hold
// names the validator refuses).
func TestAddDirRefusesHostileFileNames(t *testing.T) {
	onlyOs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, proj := newRepoIn(t, fsys, root)
		for i, name := range []string{".ART", ".a\u200brt", "．ａｒｔ", "ART~1", "a\nb", "name\r", "trailing ", "trailing.",
			"a\\b", "C:x", "\x1b[2J", "gpj.\u202eexe", "..\u200c", strings.Repeat("n", 255) + "é"} {
			src := filepath.Join(proj, fmt.Sprintf("src%d", i))
			writeFiles(t, fsys, src, files{"ok.txt": "fine"})
			if err := os.WriteFile(filepath.Join(src, name), []byte("x"), 0o644); err != nil {
				t.Logf("the OS refuses %q: %v", name, err)
				continue
			}
			t.Logf("AddDir holding %.40q", name)
			addDirRefused(t, r, "ds", src, objects.ErrInvalidPath)
		}
		// Two files one case- or normalisation-insensitive file system
		// takes for one.
		for i, pair := range [][2]string{{"A.txt", "a.txt"}, {"\u00e9.txt", "e\u0301.txt"}, {"K", "\u212a"}, {"ab", "a\u200cb"}} {
			src := filepath.Join(proj, fmt.Sprintf("pair%d", i))
			writeFiles(t, fsys, src, files{pair[0]: "one", "sub/" + pair[1]: "two", pair[1]: "two"})
			t.Logf("AddDir holding %q and %q", pair[0], pair[1])
			addDirRefused(t, r, "ds", src, repo.ErrDuplicatePath)
		}

	})
}

// TestBuilderRefusesCollidingPaths: two paths one case- or
// normalisation-insensitive file system would take for one are refused
// when the second is added, as files or as directories on the way.
func TestBuilderRefusesCollidingPaths(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, proj := newRepoIn(t, fsys, root)
		writeFiles(t, fsys, proj, files{"f": "content"})
		file := filepath.Join(proj, "f")
		objs := countObjects(t, r)
		for _, pair := range [][2]string{
			{"A.txt", "a.txt"},
			{"\u00e9", "e\u0301"},
			{"caf\u00e9/x", "CAFE\u0301/y"},
			{"K/x", "\u212a"},
			{"s", "\u017f"},
			{"\u03a3", "\u03c2"},
			{"ab/c", "a\u200cb/d"},
			{"d/\u00c5", "d/\u212b"},
		} {
			a := r.NewArtifact("ds", "dataset")
			if err := a.AddFile(file, pair[0]); err != nil {
				t.Fatalf("AddFile %q: %v", pair[0], err)
			}
			wantErr(t, fmt.Sprintf("AddFile %q after %q", pair[1], pair[0]), a.AddFile(file, pair[1]), repo.ErrDuplicatePath)
			wantErr(t, fmt.Sprintf("AddReference %q after %q", pair[1], pair[0]), a.AddReference(ctx, "s3://b/k", pair[1]), repo.ErrDuplicatePath)
			w, err := a.NewFile(ctx, pair[1])
			if err == nil {
				_, _ = w.Write([]byte("new"))
				err = w.Close()
			}
			wantErr(t, fmt.Sprintf("NewFile %q after %q", pair[1], pair[0]), err, repo.ErrDuplicatePath)
		}
		// NewFile stores its bytes as they come: that blob is the only
		// object written.
		if got := countObjects(t, r) - objs; got > 1 {
			t.Errorf("refused adds wrote %d objects", got)
		}
	})
}

// TestLogRefusesHostileNames: bad artifact names, types and aliases are
// refused by Log before any object or version is written, and by NewFile
// before its bytes are stored.
func TestLogRefusesHostileNames(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, proj := newRepoIn(t, fsys, root)
		writeFiles(t, fsys, proj, files{"f": "content"})
		objs := countObjects(t, r)
		bad := []string{"", "../x", "a//b", "a/b", "-x", ".x", "x.lock", "x.", "a..b", "a:b", "a@b", "a\x00", "a\n", "a\x1b",
			"ünï", ".art", strings.Repeat("n", 10<<10)}
		for _, name := range bad {
			a := r.NewArtifact(name, "dataset")
			if err := a.AddFile(filepath.Join(proj, "f"), ""); err != nil {
				t.Fatal(err)
			}
			_, _, err := r.Log(ctx, a, nil)
			wantErr(t, fmt.Sprintf("Log name %.40q", name), err, refs.ErrInvalidName)
			if len(err.Error()) > 300 {
				t.Errorf("Log name %.40q: error of %d bytes", name, len(err.Error()))
			}
			a = r.NewArtifact("ds", name)
			if err := a.AddFile(filepath.Join(proj, "f"), ""); err != nil {
				t.Fatal(err)
			}
			_, _, err = r.Log(ctx, a, nil)
			wantErr(t, fmt.Sprintf("Log type %.40q", name), err, refs.ErrInvalidName)
			a = r.NewArtifact("ds", "dataset")
			if err := a.AddFile(filepath.Join(proj, "f"), ""); err != nil {
				t.Fatal(err)
			}
			_, _, err = r.Log(ctx, a, &repo.LogOptions{Aliases: []string{name}})
			wantErr(t, fmt.Sprintf("Log alias %.40q", name), err, refs.ErrInvalidName)
			a = r.NewArtifact(name, "dataset")
			if w, err := a.NewFile(ctx, "new.txt"); err == nil {
				_, _ = w.Write([]byte("new bytes " + name))
				w.Close()
				if _, _, err := r.Log(ctx, a, nil); !errors.Is(err, refs.ErrInvalidName) {
					t.Errorf("Log after NewFile, name %.40q: %v", name, err)
				}
			} else {
				wantErr(t, fmt.Sprintf("NewFile in an artifact named %.40q", name), err, refs.ErrInvalidName)
			}
		}
		if got := countObjects(t, r); got != objs {
			t.Errorf("refused logs wrote %d objects", got-objs)
		}
		if arts, err := r.Artifacts(ctx); err != nil || len(arts) != 0 {
			t.Errorf("artifacts after refused logs: %v, %v", arts, err)
		}
	})
}

// TestCheckoutNeverWritesThroughSymlinks puts symbolic links pointing
// outside where a checkout writes — at a file, at a directory on the way,
// dangling, looping, into the store — and checks out with and without
// --force: nothing outside changes (not even a stale temp file there is
// cleaned up), the link is refused without --force and replaced, never
// followed, with it.
func TestCheckoutNeverWritesThroughSymlinks(t *testing.T) {
	onlyOs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, proj := newRepoIn(t, fsys, root)
		want := files{"a.txt": "alpha", "dir/b.txt": "bravo", "dir/sub/c.txt": "charlie", "deep/x/y/z.txt": "zulu"}
		logDir(t, r, "ds", want, nil)
		outside := filepath.Join(root, "outside")
		stale := filepath.Join(outside, ".art-tmp-stale")
		writeFile(t, fsys, stale, "not the checkout's", 0o644)
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(stale, old, old); err != nil {
			t.Fatal(err)
		}
		objects := filepath.Join(proj, ".art", "objects")
		for i, c := range []struct {
			link, target string
			path         string // CheckoutOptions.Path
		}{
			{link: "a.txt", target: filepath.Join(outside, "keep.txt")},
			{link: "a.txt", target: filepath.Join(outside, "new.txt")}, // dangling
			{link: "a.txt", target: outside},
			{link: "dir", target: outside},
			{link: "dir", target: "."}, // relative, to the checkout root
			{link: "dir", target: "dir"},
			{link: "dir/sub", target: outside},
			{link: "dir/sub", target: "../../outside"},
			{link: "deep/x", target: outside, path: "deep/x/y"},
			{link: "deep/x/y/z.txt", target: filepath.Join(outside, "keep.txt"), path: "deep/x/y/z.txt"},
			{link: "dir", target: objects},
		} {
			for _, force := range []bool{false, true} {
				what := fmt.Sprintf("%s -> %s (force %v)", c.link, c.target, force)
				dst := filepath.Join(root, fmt.Sprintf("co%d-%v", i, force))
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, c.link)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(c.target, filepath.Join(dst, c.link)); err != nil {
					t.Fatal(err)
				}
				outBefore, storeBefore := snapshot(t, fsys, outside), snapshot(t, fsys, objects)
				_, err := r.Checkout(ctx, "ds", dst, &repo.CheckoutOptions{Force: force, Path: c.path})
				if !force && !errors.Is(err, repo.ErrLocalChanges) {
					t.Errorf("%s: err = %v, want ErrLocalChanges", what, err)
				}
				if force && err != nil {
					t.Errorf("%s: %v", what, err)
				}
				if got := snapshot(t, fsys, outside); !maps.Equal(got, outBefore) {
					t.Fatalf("%s: the checkout changed outside: %s", what, diffSnapshots(outBefore, got))
				}
				if got := snapshot(t, fsys, objects); !maps.Equal(got, storeBefore) {
					t.Fatalf("%s: the checkout changed the store: %s", what, diffSnapshots(storeBefore, got))
				}
				fi, err := os.Lstat(filepath.Join(dst, c.link))
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if isLink := fi.Mode()&os.ModeSymlink != 0; isLink == force {
					t.Errorf("%s: link still there: %v", what, isLink)
				}
				if force {
					got := fileSnapshot(t, fsys, dst)
					for p, content := range want {
						if inScopeOf(p, c.path) && got[p] != content {
							t.Errorf("%s: %s = %q, want %q", what, p, got[p], content)
						}
					}
				}
			}
		}

		// A checked-out directory swapped for a link: switching to a
		// version without its files deletes nothing through the link,
		// and cleans up no temp file there.
		dst := filepath.Join(root, "switch")
		checkout(t, r, "ds:v0", dst, nil)
		logDir(t, r, "ds", files{"a.txt": "alpha"}, nil)
		if err := os.RemoveAll(filepath.Join(dst, "dir", "sub")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, fsys, filepath.Join(outside, "c.txt"), "charlie", 0o644)
		if err := os.Symlink(outside, filepath.Join(dst, "dir", "sub")); err != nil {
			t.Fatal(err)
		}
		outBefore := snapshot(t, fsys, outside)
		for _, force := range []bool{false, true} {
			if _, err := r.Checkout(ctx, "ds:v1", dst, &repo.CheckoutOptions{Force: force}); err != nil {
				t.Fatalf("switch (force %v): %v", force, err)
			}
			if got := snapshot(t, fsys, outside); !maps.Equal(got, outBefore) {
				t.Fatalf("switch (force %v) changed outside: %s", force, diffSnapshots(outBefore, got))
			}
		}
	})
}

func inScopeOf(p, scope string) bool {
	return scope == "" || p == scope || strings.HasPrefix(p, scope+"/")
}

// TestCheckoutStateCannotReachOutside damages the record of what a
// directory was checked out to (kept in the repository) so that it claims
// files outside the directory, in the store, and in the repository: the
// next checkout, which removes files of the old version that the new one
// lacks, removes none of them.
func TestCheckoutStateCannotReachOutside(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, proj := newRepoIn(t, fsys, root)
		logDir(t, r, "ds", files{"a.txt": "alpha"}, nil)
		dst := filepath.Join(root, "co")
		checkout(t, r, "ds", dst, nil)
		abs, err := filepath.Abs(dst)
		if err != nil {
			t.Fatal(err)
		}
		statePath := filepath.Join(r.Dir(), "checkouts", objects.Hash([]byte(abs)).String()[:32]+".json")
		b, err := afero.ReadFile(fsys, statePath)
		if err != nil {
			t.Fatalf("the checkout state is not where this test expects it: %v", err)
		}
		var st map[string]any
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		keep := hashOf("keep me").String()
		var victims []string
		for _, p := range []string{"../outside/keep.txt", "/" + filepath.ToSlash(filepath.Join(root, "outside", "keep.txt")),
			"../proj/.art/config", ".art/config", "./../outside/keep.txt", "a.txt/../../outside/keep.txt", "..\\outside\\keep.txt"} {
			st["files"].(map[string]any)[p] = map[string]any{"id": keep, "size": 7, "mtime": 1}
			victims = append(victims, p)
		}
		writeFile(t, fsys, filepath.Join(dst, ".art", "config"), "mine", 0o644)
		b, err = json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, fsys, statePath, string(b), 0o644)
		before := stableSnapshot(t, fsys, root)
		delete(before, "co/a.txt")
		if _, err := r.Checkout(ctx, "ds", dst, &repo.CheckoutOptions{Force: true}); err != nil {
			t.Fatalf("checkout after the state was damaged: %v", err)
		}
		after := stableSnapshot(t, fsys, root)
		delete(after, "co/a.txt")
		for p := range after {
			if strings.HasPrefix(p, "proj/.art/checkouts/") {
				delete(after, p)
				delete(before, p)
			}
		}
		if !maps.Equal(after, before) {
			t.Fatalf("a checkout with state claiming %q changed: %s", victims, diffSnapshots(before, after))
		}
		if got := readFile(t, fsys, filepath.Join(root, "outside", "keep.txt")); got != "keep me" {
			t.Fatalf("outside/keep.txt = %q", got)
		}
		_ = proj
	})
}

// TestDiffDivergingBomb diffs two tree bombs over different blobs: they
// share no subtree at any level, so a diff that only skips equal IDs would
// compare 2^43 pairs of trees. Diff's budget (twice MaxVersionFiles
// entries, set lower here so the test is quick; not parallel, since it
// sets it) refuses them as corrupt.
func TestDiffDivergingBomb(t *testing.T) {
	defer repo.SetDiffBudget(1 << 16)()
	ctx := context.Background()
	r, _ := newRepoIn(t, afero.NewMemMapFs(), "/work")
	for _, name := range []string{"x", "y"} {
		blob, err := objects.PutBytes(ctx, r.Store(), []byte(name))
		if err != nil {
			t.Fatal(err)
		}
		id := forgeTree(t, r, fileLine("f", blob, 1), fileLine("g", blob, 1))
		for range 42 {
			id = forgeTree(t, r, dirLine("a", id), dirLine("b", id))
		}
		forgeCommit(t, r, "bomb-"+name, id)
	}
	if _, err := r.Reindex(ctx); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	start := time.Now()
	if ch, err := r.Diff(ctx, "bomb-x", "bomb-y"); !errors.Is(err, objects.ErrCorrupt) {
		t.Errorf("Diff of two diverging bombs: %d changes, %v; want ErrCorrupt", len(ch), err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("refusing diverging bombs took %v", el)
	}
	// Under the same budget, versions that differ a little still diff.
	logDir(t, r, "small", files{"a": "1", "b": "2"}, nil)
	logDir(t, r, "small", files{"a": "1", "b": "3", "c": "4"}, nil)
	ch, err := r.Diff(ctx, "small:v0", "small:v1")
	if err != nil || len(ch) != 2 {
		t.Errorf("Diff(small:v0, small:v1) = %+v, %v; want b modified and c added", ch, err)
	}
}

// TestTreeBomb forges a version of 44 small trees, each holding two
// entries for the one below: 2^43 paths. Every walk refuses it at once
// instead of expanding it, and a tree shared by a shallow and a deep path
// is still held to the depth limit.
func TestTreeBomb(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fsys := afero.NewMemMapFs()
	r, proj := newRepoIn(t, fsys, "/work")
	blob, err := objects.PutBytes(ctx, r.Store(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	id := forgeTree(t, r, fileLine("f", blob, 1), fileLine("g", blob, 1))
	for range 42 {
		id = forgeTree(t, r, dirLine("a", id), dirLine("b", id))
	}
	forgeCommit(t, r, "bomb", id)

	// A subtree reached both near the root and at the depth limit.
	deep := forgeTree(t, r, fileLine("f", blob, 1))
	shared := forgeTree(t, r, dirLine("s", deep))
	chain := shared
	for range objects.MaxPathDepth - 1 {
		chain = forgeTree(t, r, dirLine("d", chain))
	}
	forgeCommit(t, r, "shared", forgeTree(t, r, dirLine("a", shared), dirLine("z", chain)))

	start := time.Now()
	if _, err := r.Reindex(ctx); err != nil {
		t.Fatalf("Reindex: %v", err)
	}
	logDir(t, r, "other-bomb", files{"x": "x"}, nil)
	for _, ref := range []string{"bomb", "shared"} {
		v, err := r.Resolve(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Manifest(ctx); !errors.Is(err, objects.ErrCorrupt) {
			t.Errorf("Manifest(%s): %v, want ErrCorrupt", ref, err)
		}
		if _, err := r.Checkout(ctx, ref, filepath.Join(proj, ref), nil); !errors.Is(err, objects.ErrCorrupt) {
			t.Errorf("Checkout(%s): %v, want ErrCorrupt", ref, err)
		}
		if _, err := r.Diff(ctx, ref, "other-bomb"); !errors.Is(err, objects.ErrCorrupt) {
			t.Errorf("Diff(%s): %v, want ErrCorrupt", ref, err)
		}
	}
	// fsck reports the bomb as a damaged version instead of walking it.
	rep, err := r.Fsck(ctx, nil)
	if !errors.Is(err, repo.ErrDamaged) {
		t.Errorf("Fsck: %v, want ErrDamaged", err)
	}
	found := false
	for _, p := range rep.Problems {
		for _, a := range p.Affects {
			found = found || a.Version == "bomb:v0" && p.ID == id
		}
	}
	if !found {
		t.Errorf("Fsck problems %+v, want the bomb's root tree charged to bomb:v0", rep.Problems)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("refusing a tree bomb took %v", el)
	}
}

// TestCompatCallsRefuseHostileInput: the dstack/T9k-style calls reach the
// same validators — Upload with a bad tag or artifact path, DownloadTag
// and GetPath with a path leaving the version — and change nothing.
func TestCompatCallsRefuseHostileInput(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, proj := newRepoIn(t, fsys, root)
		writeFiles(t, fsys, proj, files{"data/a.txt": "alpha", "f.txt": "eff"})
		v, _, err := r.Upload(ctx, filepath.Join(proj, "data"), "", "good")
		if err != nil {
			t.Fatal(err)
		}
		objs := countObjects(t, r)
		before := stableSnapshot(t, fsys, root)
		for _, tag := range []string{"../x", "a//b", "-x", "x.lock", "x.", ".art", strings.Repeat("n", 10<<10)} {
			_, _, err := r.Upload(ctx, filepath.Join(proj, "data"), "", tag)
			wantErr(t, fmt.Sprintf("Upload tag %.40q", tag), err, refs.ErrInvalidName)
			_, err = r.DownloadTag(ctx, tag, "", filepath.Join(root, "dl"))
			if !errors.Is(err, refs.ErrInvalidRef) && !errors.Is(err, refs.ErrInvalidName) {
				t.Errorf("DownloadTag(%.40q): %v, want ErrInvalidRef", tag, err)
			}
		}
		for _, p := range []string{"../x", "/abs", ".art", ".ART/x", "a/../../x", "C:x", "x."} {
			for _, src := range []string{"data", "f.txt"} {
				_, _, err := r.Upload(ctx, filepath.Join(proj, src), p, "good")
				wantErr(t, fmt.Sprintf("Upload %s to %q", src, p), err, objects.ErrInvalidPath)
			}
			_, err := r.DownloadTag(ctx, "good", p, filepath.Join(root, "dl"))
			wantErr(t, fmt.Sprintf("DownloadTag path %q", p), err, objects.ErrInvalidPath)
			_, err = v.GetPath(ctx, p)
			wantErr(t, fmt.Sprintf("GetPath %q", p), err, objects.ErrInvalidPath)
		}
		if got := countObjects(t, r); got != objs {
			t.Errorf("refused calls wrote %d objects", got-objs)
		}
		if after := stableSnapshot(t, fsys, root); !maps.Equal(after, before) {
			t.Errorf("refused calls changed files: %s", diffSnapshots(before, after))
		}
	})
}
