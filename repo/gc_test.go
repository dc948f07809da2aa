package repo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo"
)

// reachable returns the objects a version uses: its commit, trees and
// blobs.
func reachable(t testing.TB, r *repo.Repo, v repo.Version) map[objects.ID]bool {
	t.Helper()
	ctx := context.Background()
	ids := map[objects.ID]bool{v.Version.Commit: true}
	var walk func(id objects.ID)
	walk = func(id objects.ID) {
		ids[id] = true
		tree, err := objects.ReadTree(ctx, r.Store(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tree.Entries {
			switch e.Kind {
			case objects.KindDir:
				walk(e.ID)
			case objects.KindFile:
				ids[e.ID] = true
			}
		}
	}
	walk(v.Tree)
	return ids
}

func TestGC(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		v0, v1 := twoVersions(t, r)
		other, _ := logDir(t, r, "other", files{"x/y.txt": "charlie", "z": "zulu"}, nil)
		keep := reachable(t, r, v0)
		for id := range reachable(t, r, other) {
			keep[id] = true
		}
		only1 := map[objects.ID]bool{}
		for id := range reachable(t, r, v1) {
			if !keep[id] {
				only1[id] = true
			}
		}
		// v1's commit, root tree, dir tree, a.txt and new.txt.
		if len(only1) != 5 {
			t.Fatalf("v1 alone uses %d objects, want 5", len(only1))
		}
		all := objectIDs(t, r)

		// Nothing is garbage yet.
		rep, err := r.GC(ctx, &repo.GCOptions{Grace: -1})
		if err != nil || rep.Deleted != 0 || rep.Garbage != 0 || rep.Live != len(all) {
			t.Fatalf("GC of a repository without garbage = %+v, %v (%d objects)", rep, err, len(all))
		}
		if _, err := r.Delete(ctx, "ds:v1", true); err != nil {
			t.Fatal(err)
		}

		// Young garbage is kept by the default grace period.
		rep, err = r.GC(ctx, nil)
		if err != nil || rep.Deleted != 0 || rep.Young != len(only1) || rep.Garbage != 0 {
			t.Fatalf("GC with the default grace = %+v, %v; want %d young, none deleted", rep, err, len(only1))
		}
		// A dry run reports and deletes nothing. (The clock stands still
		// from Init: move it past the files' real modification times.)
		clk.Advance(time.Minute)
		rep, err = r.GC(ctx, &repo.GCOptions{Grace: -1, DryRun: true})
		if err != nil || rep.Garbage != len(only1) || rep.Deleted != 0 || rep.Bytes == 0 {
			t.Fatalf("dry run = %+v, %v; want %d garbage, none deleted", rep, err, len(only1))
		}
		if got := countObjects(t, r); got != len(all) {
			t.Fatalf("dry run deleted %d objects", len(all)-got)
		}
		// Without grace, exactly v1's own objects go.
		rep, err = r.GC(ctx, &repo.GCOptions{Grace: -1})
		if err != nil || rep.Deleted != len(only1) || rep.Garbage != len(only1) || rep.Live != len(keep) {
			t.Fatalf("GC = %+v, %v; want %d deleted, %d live", rep, err, len(only1), len(keep))
		}
		left := objectIDs(t, r)
		for id := range all {
			if left[id] == only1[id] {
				t.Errorf("object %s: kept %v, used only by the deleted version %v", id.Short(), left[id], only1[id])
			}
		}
		if _, problems := fsck(t, r); len(problems) != 0 {
			t.Errorf("Fsck after GC: %+v", problems)
		}
		for _, ref := range []string{"ds:v0", "other"} {
			dst := filepath.Join(root, "after-gc", ref)
			checkout(t, r, ref, dst, nil)
			if _, err := r.Verify(ctx, ref, dst); err != nil {
				t.Error(err)
			}
		}
		if rep, err := r.GC(ctx, &repo.GCOptions{Grace: -1}); err != nil || rep.Deleted != 0 {
			t.Errorf("second GC = %+v, %v", rep, err)
		}
	})
}

// TestGCKeepsReusedObjects: an unreferenced object that a writer Puts
// again (as a commit in flight would) is young again and survives GC.
func TestGCKeepsReusedObjects(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		v, _ := logDir(t, r, "ds", files{"a": "reused later", "b": "not reused"}, nil)
		garbage := reachable(t, r, v)
		if _, err := r.Delete(ctx, "ds:v0", false); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * repo.DefaultGrace)
		id, _, err := r.Store().Put(ctx, bytes.NewReader([]byte("reused later")))
		if err != nil {
			t.Fatal(err)
		}
		if id != entry(t, v, "a").Digest {
			t.Fatal("Put returned another ID")
		}
		rep, err := r.GC(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Deleted != len(garbage)-1 || rep.Young != 1 {
			t.Errorf("GC = %+v; want %d deleted and the reused blob young", rep, len(garbage)-1)
		}
		left := objectIDs(t, r)
		if len(left) != 1 || !left[id] {
			t.Errorf("left %d objects, want only the reused blob", len(left))
		}
		// Logging it again is a new version that uses it.
		v2, created := logDir(t, r, "ds", files{"a": "reused later"}, nil)
		if !created || v2.Version.Version != 1 {
			t.Fatalf("log after GC = %s created=%v", v2.Ref(), created)
		}
		clk.Advance(2 * repo.DefaultGrace)
		if rep, err := r.GC(ctx, nil); err != nil || rep.Deleted != 0 {
			t.Errorf("GC = %+v, %v; want nothing deleted", rep, err)
		}
		if _, problems := fsck(t, r); len(problems) != 0 {
			t.Errorf("Fsck: %+v", problems)
		}
	})
}

// TestGCAgedByChtimes ages the object files themselves rather than the
// clock.
func TestGCAgedByChtimes(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"a": "0"}, nil)
		v1, _ := logDir(t, r, "ds", files{"a": "1"}, nil)
		if _, err := r.Delete(ctx, "ds:v0", false); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-3 * time.Hour)
		for id := range objectIDs(t, r) {
			if err := fsys.Chtimes(objectPath(t, r, id), old, old); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := r.GC(ctx, nil)
		if err != nil || rep.Deleted != 3 || rep.Young != 0 {
			t.Fatalf("GC = %+v, %v; want v0's commit, tree and blob deleted", rep, err)
		}
		if got, want := len(objectIDs(t, r)), len(reachable(t, r, v1)); got != want {
			t.Errorf("%d objects left, want %d", got, want)
		}
	})
}

// TestGCRefusesDamagedTree: GC cannot know what a damaged tree holds, so
// it deletes nothing.
func TestGCRefusesDamagedTree(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"a": "0"}, nil)
		v1, _ := logDir(t, r, "ds", files{"a": "1"}, nil)
		if _, err := r.Delete(ctx, "ds:v0", false); err != nil {
			t.Fatal(err)
		}
		flipBit(t, r, v1.Tree)
		before := countObjects(t, r)
		_, err := r.GC(ctx, &repo.GCOptions{Grace: -1})
		var ue *repo.UnreadableError
		if !errors.As(err, &ue) || ue.Op != "gc" || ue.Kind != "tree" || ue.ID != v1.Tree || !errors.Is(err, repo.ErrCorrupt) {
			t.Fatalf("GC with a damaged tree: %v, want an UnreadableError naming the tree, wrapping ErrCorrupt", err)
		}
		_, err = r.DiskUsage(ctx)
		if !errors.As(err, &ue) || ue.Op != "du" || ue.ID != v1.Tree || !errors.Is(err, repo.ErrCorrupt) {
			t.Fatalf("DiskUsage with a damaged tree: %v, want an UnreadableError naming the tree, wrapping ErrCorrupt", err)
		}
		if got := countObjects(t, r); got != before {
			t.Errorf("GC deleted %d objects", before-got)
		}
	})
}

// TestCommitOutlastsGCs commits while GCs run back to back, with no
// pause between them and no grace period: each commit is overlapped by a
// GC on every attempt it makes without the gc lock, and must still
// record its version (waiting for the lock) rather than give up; what it
// recorded must be whole.
func TestCommitOutlastsGCs(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		dir := filepath.Join(root, ".art")
		r, err := repo.Init(ctx, fsys, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		collector := r
		if _, ok := fsys.(*afero.OsFs); ok {
			// Another handle, as another process would hold.
			if collector, err = repo.Open(ctx, fsys, dir, nil); err != nil {
				t.Fatal(err)
			}
			defer collector.Close()
		}
		done := make(chan struct{})
		gcErr := make(chan error, 1)
		rounds := 0
		go func() {
			defer close(gcErr)
			for ; rounds < 20000; rounds++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := collector.GC(ctx, &repo.GCOptions{Grace: -1}); err != nil {
					gcErr <- err
					return
				}
			}
		}()
		var versions []repo.Version
		want := map[string]string{}
		for i := range 8 {
			fs := files{}
			for j := range 30 {
				fs[fmt.Sprintf("d%d/f%d", j%3, j)] = fmt.Sprintf("commit %d file %d", i, j)
			}
			fs["same"] = "in every version"
			v, _ := logDir(t, r, "ds", fs, nil) // fails the test on an error
			versions = append(versions, v)
			want[v.Ref()] = fs["d1/f1"]
		}
		close(done)
		if err := <-gcErr; err != nil {
			t.Fatalf("GC: %v", err)
		}
		if rounds < 2 {
			t.Fatalf("only %d GCs ran beside the commits", rounds)
		}
		if _, problems := fsck(t, r); len(problems) != 0 {
			t.Fatalf("Fsck after %d GCs: %+v", rounds, problems)
		}
		for _, v := range versions {
			got, err := objects.ReadAll(ctx, r.Store(), entry(t, v, "d1/f1").Digest, 1<<20)
			if err != nil || string(got) != want[v.Ref()] {
				t.Errorf("%s d1/f1 = %q, %v; want %q", v.Ref(), got, err, want[v.Ref()])
			}
		}
	})
}
