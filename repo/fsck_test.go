package repo_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo"
)

// fsck runs Fsck and returns its problems, checking the error agrees.
func fsck(t testing.TB, r *repo.Repo) (repo.FsckReport, []repo.FsckProblem) {
	t.Helper()
	rep, err := r.Fsck(context.Background(), nil)
	if (err != nil) != (len(rep.Problems) > 0) || err != nil && !errors.Is(err, repo.ErrDamaged) {
		t.Fatalf("Fsck = %d problems, err %v", len(rep.Problems), err)
	}
	return rep, rep.Problems
}

func affects(p repo.FsckProblem) []string {
	var out []string
	for _, a := range p.Affects {
		out = append(out, a.Version+" "+a.Path)
	}
	sort.Strings(out)
	return out
}

// sharedRepo logs ds:v0, ds:v1 (both holding dir/b.txt = "bravo") and
// other:v0 (holding "bravo" as x/y.txt).
func sharedRepo(t testing.TB, fsys afero.Fs, root string) (*repo.Repo, repo.Version, repo.Version) {
	t.Helper()
	r, _ := newRepo(t, fsys, root)
	v0, v1 := twoVersions(t, r)
	logDir(t, r, "other", files{"x/y.txt": "bravo", "z": "zulu"}, nil)
	return r, v0, v1
}

func TestFsckClean(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, _, _ := sharedRepo(t, fsys, root)
		rep, problems := fsck(t, r)
		if len(problems) != 0 {
			t.Fatalf("clean repository: %+v", problems)
		}
		if rep.Objects != countObjects(t, r) || rep.Versions != 3 || rep.Bytes == 0 {
			t.Errorf("report %+v, want every object (%d) and 3 versions", rep, countObjects(t, r))
		}
	})
}

func TestFsckCorruptBlob(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, v0, _ := sharedRepo(t, fsys, root)
		id := entry(t, v0, "dir/b.txt").Digest
		flipBit(t, r, id)
		_, problems := fsck(t, r)
		if len(problems) != 1 {
			t.Fatalf("problems %+v, want one", problems)
		}
		p := problems[0]
		if p.ID != id || p.Kind != "corrupt" {
			t.Errorf("problem %s %s, want corrupt %s", p.Kind, p.ID.Short(), id.Short())
		}
		if got, want := affects(p), []string{"ds:v0 dir/b.txt", "ds:v1 dir/b.txt", "other:v0 x/y.txt"}; !slices.Equal(got, want) {
			t.Errorf("affects %q, want %q", got, want)
		}
	})
}

func TestFsckMissingBlob(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, _, v1 := sharedRepo(t, fsys, root)
		id := entry(t, v1, "new.txt").Digest
		removeObject(t, r, id)
		_, problems := fsck(t, r)
		if len(problems) != 1 || problems[0].ID != id || problems[0].Kind != "missing" {
			t.Fatalf("problems %+v, want %s missing", problems, id.Short())
		}
		if got, want := affects(problems[0]), []string{"ds:v1 new.txt"}; !slices.Equal(got, want) {
			t.Errorf("affects %q, want %q", got, want)
		}
	})
}

func TestFsckCorruptTreeAndCommit(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, v0, v1 := sharedRepo(t, fsys, root)
		tree, err := objects.ReadTree(ctx, r.Store(), v0.Tree)
		if err != nil {
			t.Fatal(err)
		}
		dir, ok := tree.Find("dir")
		if !ok || dir.Kind != objects.KindDir {
			t.Fatalf("v0 has no dir tree: %+v", tree)
		}
		flipBit(t, r, dir.ID)
		_, problems := fsck(t, r)
		if len(problems) != 1 || problems[0].ID != dir.ID || problems[0].Kind != "corrupt" {
			t.Fatalf("problems %+v, want tree %s corrupt", problems, dir.ID.Short())
		}
		if got, want := affects(problems[0]), []string{"ds:v0 dir/"}; !slices.Equal(got, want) {
			t.Errorf("affects %q, want %q", got, want)
		}

		flipBit(t, r, v1.Version.Commit)
		_, problems = fsck(t, r)
		if len(problems) != 2 {
			t.Fatalf("problems %+v, want the tree and the commit", problems)
		}
		for _, p := range problems {
			if p.ID == v1.Version.Commit {
				if got := affects(p); !slices.Equal(got, []string{"ds:v1 "}) {
					t.Errorf("commit affects %q, want ds:v1", got)
				}
			}
		}

		// Damaged garbage is reported too, affecting nothing.
		if _, err := r.Delete(ctx, "ds:v0", true); err != nil {
			t.Fatal(err)
		}
		_, problems = fsck(t, r)
		found := false
		for _, p := range problems {
			if p.ID == dir.ID {
				found = true
				if len(p.Affects) != 0 {
					t.Errorf("garbage tree affects %q", affects(p))
				}
			}
		}
		if !found {
			t.Error("a corrupt unreferenced tree is not reported")
		}
	})
}

func TestFsckSizeMismatch(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, v0, _ := sharedRepo(t, fsys, root)
		id := entry(t, v0, "a.txt").Digest
		p := objectPath(t, r, id)
		r.Fs().Chmod(p, 0o644)
		if err := afero.WriteFile(r.Fs(), p, []byte("alpha and more"), 0o444); err != nil {
			t.Fatal(err)
		}
		_, problems := fsck(t, r)
		if len(problems) != 1 || problems[0].ID != id || problems[0].Kind != "corrupt" {
			t.Fatalf("problems %+v, want %s corrupt", problems, id.Short())
		}
		if got := affects(problems[0]); !slices.Equal(got, []string{"ds:v0 a.txt"}) {
			t.Errorf("affects %q", got)
		}
	})
}
