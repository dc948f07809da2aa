package repo_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo"
)

func TestResolve(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		v0, _ := logDir(t, r, "ds", files{"a": "0"}, nil)
		v1, _ := logDir(t, r, "ds", files{"a": "1"}, &repo.LogOptions{Aliases: []string{"best"}})
		v2, _ := logDir(t, r, "ds", files{"a": "2"}, nil)
		logDir(t, r, "other", files{"a": "1"}, &repo.LogOptions{Aliases: []string{"best"}})

		for ref, want := range map[string]repo.Version{
			"ds": v2, "ds:latest": v2, "ds:v0": v0, "ds:v1": v1, "ds:v2": v2, "ds:best": v1,
			"ds@" + v1.Version.Commit.String()[:8]: v1, "ds@" + v0.Version.Commit.String(): v0,
		} {
			got := mustResolve(t, r, ref)
			if got.Version.Commit != want.Version.Commit || got.Name != "ds" {
				t.Errorf("Resolve(%q) = %s, want %s", ref, got.Ref(), want.Ref())
			}
		}
		if got := mustResolve(t, r, "ds:v1"); !slices.Equal(got.Aliases, []string{"best"}) {
			t.Errorf("v1 aliases %q, want [best]", got.Aliases)
		}
		for _, ref := range []string{"nope", "nope:v0", "ds:v3", "ds:worst", "ds@deadbeef", "other@" + v0.Version.Commit.String()[:8]} {
			if _, err := r.Resolve(ctx, ref); err == nil {
				t.Errorf("Resolve(%q) succeeded", ref)
			} else {
				wantErr(t, "Resolve "+ref, err, refs.ErrNotFound)
			}
		}
		for _, ref := range []string{"", "ds:", "ds@xyz", "ds@ab", "a b", "ds:v1:v2"} {
			if _, err := r.Resolve(ctx, ref); err == nil {
				t.Errorf("Resolve(%q) succeeded", ref)
			}
		}

		// latest moves back when the newest version is deleted.
		if _, err := r.Delete(ctx, "ds:latest", false); err != nil {
			t.Fatalf("Delete newest: %v", err)
		}
		if got := mustResolve(t, r, "ds:latest"); got.Version.Version != 1 || !slices.Equal(got.Aliases, []string{"best", "latest"}) {
			t.Errorf("after deleting v2 latest is %s %q, want v1 [best latest]", got.Ref(), got.Aliases)
		}
		if _, err := r.Resolve(ctx, "ds:v2"); err == nil {
			t.Error("deleted v2 still resolves")
		}
	})
}

func TestAliases(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"a": "0"}, nil)
		logDir(t, r, "ds", files{"a": "1"}, nil)

		v, prev, err := r.AddAlias(ctx, "ds:v1", "best")
		if err != nil || prev != -1 || v.Version.Version != 1 || !slices.Equal(v.Aliases, []string{"best", "latest"}) {
			t.Fatalf("AddAlias new = %s %q prev %d err %v", v.Ref(), v.Aliases, prev, err)
		}
		v, prev, err = r.AddAlias(ctx, "ds:v0", "best")
		if err != nil || prev != 1 || v.Version.Version != 0 || !slices.Equal(v.Aliases, []string{"best"}) {
			t.Fatalf("AddAlias move = %s %q prev %d err %v, want v0 [best] prev 1", v.Ref(), v.Aliases, prev, err)
		}
		if got := mustResolve(t, r, "ds:v1"); !slices.Equal(got.Aliases, []string{"latest"}) {
			t.Errorf("v1 still has %q after the alias moved", got.Aliases)
		}
		if got := mustResolve(t, r, "ds:best"); got.Version.Version != 0 {
			t.Errorf("best names %s, want v0", got.Ref())
		}
		for _, bad := range []string{"latest", "v3", "", "a b"} {
			if _, _, err := r.AddAlias(ctx, "ds:v0", bad); err == nil {
				t.Errorf("AddAlias(%q) succeeded", bad)
			}
		}
		if _, _, err := r.AddAlias(ctx, "ds:v7", "x"); err == nil {
			t.Error("AddAlias on a missing version succeeded")
		} else {
			wantErr(t, "AddAlias missing", err, refs.ErrNotFound)
		}

		if err := r.RemoveAlias(ctx, "ds", "best"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Resolve(ctx, "ds:best"); err == nil {
			t.Error("removed alias still resolves")
		}
		wantErr(t, "RemoveAlias twice", r.RemoveAlias(ctx, "ds", "best"), refs.ErrNotFound)
		if err := r.RemoveAlias(ctx, "ds", "latest"); err == nil {
			t.Error("RemoveAlias(latest) succeeded")
		}
		arts, err := r.Artifacts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(arts) != 1 || arts[0].Latest != 1 || arts[0].Versions != 2 || len(arts[0].Aliases) != 0 {
			t.Errorf("Artifacts = %+v", arts)
		}
	})
}

func TestDelete(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"a": "0"}, &repo.LogOptions{Aliases: []string{"prod"}})
		logDir(t, r, "ds", files{"a": "1"}, nil)
		_, err := r.Delete(ctx, "ds:v0", false)
		wantErr(t, "Delete aliased", err, refs.ErrHasAliases)
		if got := mustResolve(t, r, "ds:prod"); got.Version.Version != 0 {
			t.Fatalf("refused Delete changed prod to %s", got.Ref())
		}
		d, err := r.Delete(ctx, "ds:prod", true)
		if err != nil || d.Version.Version != 0 {
			t.Fatalf("forced Delete = %s, %v", d.Ref(), err)
		}
		if _, err := r.Resolve(ctx, "ds:prod"); err == nil {
			t.Error("alias of a deleted version still resolves")
		}
		if _, err := r.Delete(ctx, "ds:v0", true); err == nil {
			t.Error("deleting a deleted version succeeded")
		}

		// Numbers are never reused, even for the newest or for equal content.
		if _, err := r.Delete(ctx, "ds:v1", false); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Resolve(ctx, "ds"); err == nil {
			t.Error("an artifact without versions resolves")
		}
		v, created := logDir(t, r, "ds", files{"a": "1"}, nil)
		if !created || v.Version.Version != 2 {
			t.Errorf("log after deleting v0, v1 = %s created=%v, want a new v2", v.Ref(), created)
		}
		c, err := v.ReadCommit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Parent.IsZero() {
			t.Errorf("v2's parent is %s, but no version was left", c.Parent.Short())
		}
		v, _ = logDir(t, r, "ds", files{"a": "3"}, nil)
		if v.Version.Version != 3 {
			t.Errorf("next version %s, want v3", v.Ref())
		}
	})
}

func TestDiff(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"same": "s", "mod": "old", "gone": "g", "dir/x": "x", "exec.sh": "e"}, nil)
		src := filepath.Join(root, "v1")
		writeFiles(t, fsys, src, files{"same": "s", "mod": "new", "new": "n", "dir/x": "x", "dir/y": "y"})
		writeFile(t, fsys, filepath.Join(src, "exec.sh"), "e", 0o644) // loses its exec bit
		a := r.NewArtifact("ds", "dataset")
		if err := a.AddDir(src, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Log(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		changes, err := r.Diff(ctx, "ds:v0", "ds:v1")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.Op+" "+c.Path)
			if (c.Old == nil) != (c.Op == "added") || (c.New == nil) != (c.Op == "removed") {
				t.Errorf("%s %s: old %v new %v", c.Op, c.Path, c.Old, c.New)
			}
		}
		want := []string{"added dir/y", "modified exec.sh", "removed gone", "modified mod", "added new"}
		if !slices.Equal(got, want) {
			t.Errorf("Diff = %q, want %q", got, want)
		}
		if c := changes[3]; c.Old.Digest != hashOf("old") || c.New.Digest != hashOf("new") {
			t.Errorf("modified mod: %s -> %s", c.Old.Digest.Short(), c.New.Digest.Short())
		}
		back, err := r.Diff(ctx, "ds:v1", "ds:v0")
		if err != nil || len(back) != len(want) || back[0].Op != "removed" {
			t.Errorf("reverse Diff = %v, %v", back, err)
		}
		if same, err := r.Diff(ctx, "ds:v1", "ds:latest"); err != nil || len(same) != 0 {
			t.Errorf("Diff of a version with itself = %v, %v", same, err)
		}
		if _, err := r.Diff(ctx, "ds:v0", "ds:v9"); err == nil {
			t.Error("Diff with a missing version succeeded")
		}
	})
}

// TestDiffSkipsSharedSubtrees: Diff reads only the directories that
// differ (a subtree both versions share is skipped by its ID, so its
// objects are never read), and a directory replaced by a file, or a file by
// a directory, shows every file below it.
func TestDiffSkipsSharedSubtrees(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		v0, _ := logDir(t, r, "ds", files{"keep/a": "a", "keep/deep/b": "b", "ch/x": "1", "swap/f": "f", "g": "g"}, nil)
		v1, _ := logDir(t, r, "ds", files{"keep/a": "a", "keep/deep/b": "b", "ch/x": "2", "swap": "now a file", "g/in": "dir"}, nil)
		keep, ok, err := objects.FindEntry(ctx, r.Store(), v0.Tree, "keep")
		if err != nil || !ok {
			t.Fatalf("keep/ in v0: %v, %v", ok, err)
		}
		removeObject(t, r, keep.ID)
		if _, err := v1.Manifest(ctx); err == nil {
			t.Fatal("the manifest reads without keep/'s tree: the test removed nothing")
		}
		changes, err := r.Diff(ctx, "ds:v0", "ds:v1")
		if err != nil {
			t.Fatalf("Diff read a subtree both versions share: %v", err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.Op+" "+c.Path)
		}
		want := []string{"modified ch/x", "removed g", "added g/in", "added swap", "removed swap/f"}
		if !slices.Equal(got, want) {
			t.Errorf("Diff = %q, want %q", got, want)
		}
	})
}

// TestConcurrentLogProcesses logs from eight repository handles at once,
// as eight processes would: every version is recorded, numbered densely,
// each the child of the one before.
func TestConcurrentLogProcesses(t *testing.T) {
	onlyOs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		got := make([]repo.Version, n)
		for i := range n {
			src := filepath.Join(root, fmt.Sprintf("src%d", i))
			writeFiles(t, fsys, src, files{"shared.txt": "same in all", "own.txt": fmt.Sprintf("writer %d", i)})
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := repo.Open(ctx, fsys, r.Dir(), nil)
				if err != nil {
					errs[i] = err
					return
				}
				defer h.Close()
				a := h.NewArtifact("shared", "dataset")
				if err := a.AddDir(src, ""); err != nil {
					errs[i] = err
					return
				}
				v, created, err := h.Log(ctx, a, &repo.LogOptions{Aliases: []string{fmt.Sprintf("w%d", i)}})
				if err == nil && !created {
					err = fmt.Errorf("writer %d: not created", i)
				}
				got[i], errs[i] = v, err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		var nums []int64
		for _, v := range got {
			nums = append(nums, v.Version.Version)
		}
		slices.Sort(nums)
		if !slices.Equal(nums, []int64{0, 1, 2, 3, 4, 5, 6, 7}) {
			t.Fatalf("versions %v, want v0..v7", nums)
		}
		vs, err := r.Versions(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].Version.Version < vs[j].Version.Version })
		if len(vs) != n {
			t.Fatalf("%d versions indexed, want %d", len(vs), n)
		}
		for i, v := range vs {
			c, err := v.ReadCommit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 && c.Parent != vs[i-1].Version.Commit {
				t.Errorf("%s's parent is %s, want %s", v.Ref(), c.Parent.Short(), vs[i-1].Version.Commit.Short())
			}
			if len(v.Aliases) == 0 {
				t.Errorf("%s lost its alias", v.Ref())
			}
		}

		// Four processes logging the same new content: one version.
		src := filepath.Join(root, "same")
		writeFiles(t, fsys, src, files{"same.txt": "the same for all"})
		created := make([]bool, 4)
		same := make([]repo.Version, 4)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := repo.Open(ctx, fsys, r.Dir(), nil)
				if err != nil {
					errs[i] = err
					return
				}
				defer h.Close()
				a := h.NewArtifact("shared", "dataset")
				if errs[i] = a.AddDir(src, ""); errs[i] == nil {
					same[i], created[i], errs[i] = h.Log(ctx, a, nil)
				}
			}()
		}
		wg.Wait()
		for i := range 4 {
			if errs[i] != nil {
				t.Fatalf("writer %d: %v", i, errs[i])
			}
			if same[i].Version.Version != 8 {
				t.Errorf("writer %d got %s, want shared:v8", i, same[i].Ref())
			}
		}
		if n := len(slices.DeleteFunc(created, func(c bool) bool { return !c })); n != 1 {
			t.Errorf("%d writers created the version, want 1", n)
		}

		if rep, err := r.Fsck(ctx, nil); err != nil || len(rep.Problems) != 0 {
			t.Errorf("Fsck after concurrent logs: %v %+v", err, rep.Problems)
		}
	})
}

// TestConcurrentLogOneHandle shares one handle between goroutines.
func TestConcurrentLogOneHandle(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			src := filepath.Join(root, fmt.Sprintf("src%d", i))
			writeFiles(t, fsys, src, files{"own.txt": fmt.Sprintf("writer %d", i)})
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := r.NewArtifact("shared", "dataset")
				if err := a.AddDir(src, ""); err != nil {
					errs <- err
					return
				}
				_, _, err := r.Log(ctx, a, nil)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		vs, err := r.Versions(ctx, "shared")
		if err != nil || len(vs) != n || vs[0].Version.Version != n-1 {
			t.Fatalf("Versions = %d versions, newest %v, err %v", len(vs), vs[0].Ref(), err)
		}
	})
}

// TestGetPathAndWalkManifest looks files up one by one, in a nested
// directory and in a directory large enough to be split into index nodes
// and leaves, and streams the manifest: sorted by path as Manifest is,
// though "a" is a directory beside the file "a-b".
func TestGetPathAndWalkManifest(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t, afero.NewMemMapFs(), "/work")
	fs := files{"a/b/c.txt": "c", "a-b": "ab", "a.txt": "at"}
	for i := range 5000 {
		fs[fmt.Sprintf("big/f%04d", i)] = fmt.Sprint(i)
	}
	v, _ := logDir(t, r, "ds", fs, nil)
	for p, content := range map[string]string{"a/b/c.txt": "c", "a-b": "ab", "big/f0000": "0", "big/f4999": "4999"} {
		e, err := v.GetPath(ctx, p)
		if err != nil || e.Path != p || e.Digest != objects.Hash([]byte(content)) {
			t.Errorf("GetPath(%q) = %+v, %v", p, e, err)
		}
	}
	for _, p := range []string{"a", "a/b", "big/f5000", "a/b/c.txt/d", "nope/x"} {
		if _, err := v.GetPath(ctx, p); !errors.Is(err, repo.ErrNotFound) {
			t.Errorf("GetPath(%q): %v, want ErrNotFound", p, err)
		}
	}
	var paths []string
	if err := v.WalkManifest(ctx, func(e repo.ManifestEntry) error {
		paths = append(paths, e.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(fs) || !slices.IsSorted(paths) || paths[0] != "a-b" || paths[2] != "a/b/c.txt" {
		t.Errorf("WalkManifest: %d paths (want %d), sorted %v, first %q", len(paths), len(fs), slices.IsSorted(paths), paths[:3])
	}
	m, err := v.Manifest(ctx)
	if err != nil || len(m) != len(paths) {
		t.Fatalf("Manifest: %d entries, %v", len(m), err)
	}
}

// TestDiffSkipsSharedLeaves diffs two versions of a directory of 10,000
// entries (split into leaves under an index node) that differ in one file
// and one added: the leaves both share are not read (one is removed from
// the store, and the diff still succeeds), and the changes are right.
func TestDiffSkipsSharedLeaves(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t, afero.NewMemMapFs(), "/work")
	fs := files{}
	for i := range 10_000 {
		fs[fmt.Sprintf("big/f%05d", i)] = fmt.Sprint(i)
	}
	v0, _ := logDir(t, r, "ds", fs, nil)
	fs["big/f09999"] = "changed"
	fs["big/f10000"] = "added"
	logDir(t, r, "ds", fs, nil)
	big, ok, err := objects.FindEntry(ctx, r.Store(), v0.Tree, "big")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	n, err := objects.ReadDirNode(ctx, r.Store(), big.ID)
	if err != nil || n.Index == nil || n.Index.Level != 1 || len(n.Index.Children) < 2 {
		t.Fatalf("big/ is not one index node over leaves: %+v, %v", n.Index, err)
	}
	removeObject(t, r, n.Index.Children[0].ID) // holds f00000..., both versions share it
	changes, err := r.Diff(ctx, "ds:v0", "ds:v1")
	if err != nil {
		t.Fatalf("Diff read a leaf both versions share: %v", err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.Op+" "+c.Path)
	}
	if want := []string{"modified big/f09999", "added big/f10000"}; !slices.Equal(got, want) {
		t.Errorf("Diff = %q, want %q", got, want)
	}
}
