package repo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo"
)

// artifactOf returns an artifact of name and type holding the files fs,
// written to a fresh source directory.
func artifactOf(t testing.TB, r *repo.Repo, name, typ string, fs files) *repo.Artifact {
	t.Helper()
	src, err := afero.TempDir(r.Fs(), filepath.Dir(r.Dir()), "src-")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, r.Fs(), src, fs)
	a := r.NewArtifact(name, typ)
	if err := a.AddDir(src, ""); err != nil {
		t.Fatalf("AddDir: %v", err)
	}
	return a
}

// runLog logs fs as the next version of name inside run.
func runLog(t testing.TB, run *repo.Run, r *repo.Repo, name, typ string, fs files) (repo.Version, bool) {
	t.Helper()
	v, created, err := run.LogArtifact(context.Background(), artifactOf(t, r, name, typ, fs), nil)
	if err != nil {
		t.Fatalf("LogArtifact %s in run %s: %v", name, run.ID, err)
	}
	return v, created
}

func startRun(t testing.TB, r *repo.Repo, jobType, name string, config map[string]any) *repo.Run {
	t.Helper()
	run, err := r.StartRun(context.Background(), jobType, name, config)
	if err != nil {
		t.Fatalf("StartRun(%s): %v", jobType, err)
	}
	return run
}

func TestRunProducesAndConsumes(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		raw, _ := logDir(t, r, "raw", files{"rows.csv": "a,b\n1,2\n"}, nil)

		run := startRun(t, r, "preprocess", "clean it", map[string]any{"drop_na": true, "ratio": 0.5})
		if len(run.ID) != 8 || strings.Trim(run.ID, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("run ID %q, want 8 lowercase base-36 characters", run.ID)
		}
		if run.Status != repo.RunRunning || run.JobType != "preprocess" || run.Name != "clean it" ||
			string(run.Config) != `{"drop_na":true,"ratio":0.5}` || run.Host == "" || !run.Finished.IsZero() {
			t.Fatalf("started run %+v", run.Run)
		}
		used, err := run.UseArtifact(ctx, "raw:latest")
		if err != nil || used.Version.Commit != raw.Version.Commit {
			t.Fatalf("UseArtifact=%v, %v", used.Ref(), err)
		}
		clean, created := runLog(t, run, r, "clean", "dataset", files{"rows.csv": "a,b\n1,2\n", "meta": "x"})
		if !created || clean.Producer != run.ID {
			t.Fatalf("logged %s created=%v producer %q, want created by %s", clean.Ref(), created, clean.Producer, run.ID)
		}
		c, err := clean.ReadCommit(ctx)
		if err != nil || c.Run != run.ID {
			t.Fatalf("commit run %q, %v; want %s", c.Run, err, run.ID)
		}
		if by, err := clean.LoggedBy(ctx); err != nil || by == nil || by.ID != run.ID {
			t.Fatalf("LoggedBy(clean)=%v, %v", by, err)
		}
		if by, err := raw.LoggedBy(ctx); err != nil || by != nil {
			t.Fatalf("LoggedBy(raw)=%v, %v; want nil (logged outside any run)", by, err)
		}
		if users, err := raw.UsedBy(ctx); err != nil || len(users) != 1 || users[0].ID != run.ID {
			t.Fatalf("UsedBy(raw)=%v, %v", users, err)
		}

		clk.Advance(time.Minute)
		before := objectIDs(t, r)
		if err := run.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if run.Status != repo.RunFinished || run.Object.IsZero() || !run.Finished.Equal(clk.Now().UTC()) {
			t.Fatalf("finished run %+v", run.Run)
		}
		after := objectIDs(t, r)
		if len(after) != len(before)+1 || !after[run.Object] {
			t.Fatalf("Finish wrote %d objects, want 1 (the run object)", len(after)-len(before))
		}
		o, err := objects.ReadRun(ctx, r.Store(), run.Object)
		if err != nil {
			t.Fatal(err)
		}
		if o.ID != run.ID || o.JobType != "preprocess" || o.Status != objects.RunFinished ||
			!slices.Equal(o.Inputs, []objects.ID{raw.Version.Commit}) || !slices.Equal(o.Outputs, []objects.ID{clean.Version.Commit}) {
			t.Fatalf("run object %+v", o)
		}
		got, err := r.Run(ctx, run.ID)
		if err != nil || got.Status != repo.RunFinished || got.Object != run.Object {
			t.Fatalf("Run(%s)=%+v, %v", run.ID, got, err)
		}
		ins, err := got.Inputs(ctx)
		if err != nil || len(ins) != 1 || ins[0].Ref() != "raw:v0" {
			t.Fatalf("Inputs=%v, %v", ins, err)
		}
		outs, err := got.Outputs(ctx)
		if err != nil || len(outs) != 1 || outs[0].Ref() != "clean:v0" {
			t.Fatalf("Outputs=%v, %v", outs, err)
		}
	})
}

// TestEndedRunRefused: a finished run cannot be finished, logged to or
// used again, an unknown run cannot be logged to, and each refusal
// changes nothing: no version, no object, no edge.
func TestEndedRunRefused(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "raw", files{"a": "1"}, nil)
		run := startRun(t, r, "train", "", nil)
		if err := run.Finish(ctx, errors.New("diverged")); err != nil {
			t.Fatal(err)
		}
		if run.Status != repo.RunFailed {
			t.Fatalf("status %q after Finish(err), want failed", run.Status)
		}
		objs := countObjects(t, r)
		wantErr(t, "Finish twice", run.Finish(ctx, nil), repo.ErrRunNotRunning)
		wantErr(t, "FinishStatus twice", run.FinishStatus(ctx, repo.RunFailed), repo.ErrRunNotRunning)
		_, _, err := run.LogArtifact(ctx, artifactOf(t, r, "model", "model", files{"w": "weights"}), nil)
		wantErr(t, "LogArtifact in a finished run", err, repo.ErrRunNotRunning)
		_, err = run.UseArtifact(ctx, "raw")
		wantErr(t, "UseArtifact in a finished run", err, repo.ErrRunNotRunning)
		_, err = run.Checkout(ctx, "raw", filepath.Join(root, "co"), nil)
		wantErr(t, "Checkout in a finished run", err, repo.ErrRunNotRunning)
		if ok, _ := afero.Exists(fsys, filepath.Join(root, "co")); ok {
			t.Fatal("a refused checkout created its directory")
		}
		_, _, err = r.Log(ctx, artifactOf(t, r, "model", "model", files{"w": "weights"}), &repo.LogOptions{Run: "zzzzzzzz"})
		wantErr(t, "Log with an unknown run", err, repo.ErrRunNotFound)
		_, _, err = r.Log(ctx, artifactOf(t, r, "model", "model", files{"w": "weights"}), &repo.LogOptions{Run: "Not An ID"})
		wantErr(t, "Log with a malformed run ID", err, repo.ErrInvalidRunID)
		if got := countObjects(t, r); got != objs {
			t.Fatalf("refused calls changed the object count from %d to %d", objs, got)
		}
		if _, err := r.Resolve(ctx, "model"); !errors.Is(err, repo.ErrVersionNotFound) {
			t.Fatalf("a refused log created model: %v", err)
		}
		again, _ := r.Run(ctx, run.ID)
		if again.Status != repo.RunFailed || again.Object != run.Object {
			t.Fatalf("refused calls changed the run: %+v", again.Run)
		}
		if ins, _ := again.Inputs(ctx); len(ins) != 0 {
			t.Fatalf("refused UseArtifact recorded %v", ins)
		}
		_, err = r.Run(ctx, "zzzzzzzz")
		wantErr(t, "Run(unknown)", err, repo.ErrRunNotFound)
		wantErr(t, "FinishStatus(bogus)", startRun(t, r, "x", "", nil).FinishStatus(ctx, "done"), repo.ErrInvalidStatus)

		// Bad starts.
		_, err = r.StartRun(ctx, "pre process", "", nil)
		wantErr(t, "StartRun(bad job type)", err, repo.ErrInvalidName)
		_, err = r.StartRun(ctx, "train", "two\nlines", nil)
		wantErr(t, "StartRun(bad name)", err, repo.ErrInvalidConfig)
		_, err = r.StartRun(ctx, "train", "", map[string]any{"f": func() {}})
		wantErr(t, "StartRun(bad config)", err, repo.ErrInvalidConfig)
	})
}

// TestRunRelogsExisting: a run that logs content equal to an existing
// version gets it as an output, but the version keeps its producer.
func TestRunRelogsExisting(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		first := startRun(t, r, "train", "", nil)
		v, _ := runLog(t, first, r, "model", "model", files{"w": "same"})
		second := startRun(t, r, "train", "", nil)
		again, created := runLog(t, second, r, "model", "model", files{"w": "same"})
		if created || again.Version.Commit != v.Version.Commit || again.Producer != first.ID {
			t.Fatalf("re-log: created=%v %s producer %q, want unchanged, produced by %s", created, again.Ref(), again.Producer, first.ID)
		}
		if by, _ := again.LoggedBy(ctx); by == nil || by.ID != first.ID {
			t.Fatalf("LoggedBy=%v, want %s", by, first.ID)
		}
		outs, err := second.Outputs(ctx)
		if err != nil || len(outs) != 1 || outs[0].Ref() != "model:v0" {
			t.Fatalf("second run's outputs %v, %v", outs, err)
		}
	})
}

// pipeline logs raw data, preprocesses it into clean data, trains a model
// on it and evaluates the model, each step in a finished run, and returns
// the runs.
func pipeline(t testing.TB, r *repo.Repo, clk *clock) (prep, train, eval *repo.Run) {
	t.Helper()
	ctx := context.Background()
	logDir(t, r, "raw", files{"rows.csv": "a,b\n1,2\n,3\n"}, nil)
	use := func(run *repo.Run, ref string) {
		t.Helper()
		if _, err := run.UseArtifact(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(run *repo.Run) {
		t.Helper()
		clk.Advance(time.Second)
		if err := run.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	prep = startRun(t, r, "preprocess", "", nil)
	use(prep, "raw")
	runLog(t, prep, r, "clean", "dataset", files{"rows.csv": "a,b\n1,2\n"})
	finish(prep)
	train = startRun(t, r, "train", "baseline", map[string]any{"lr": 0.001})
	use(train, "clean")
	runLog(t, train, r, "model", "model", files{"model.bin": "weights"})
	finish(train)
	eval = startRun(t, r, "evaluate", "", nil)
	use(eval, "model:latest")
	use(eval, "clean:latest")
	runLog(t, eval, r, "metrics", "result", files{"metrics.json": `{"acc":0.9}`})
	finish(eval)
	return prep, train, eval
}

// refsOf returns the graph's nodes as "name:vN" for versions and job types
// for runs, and its edges between those, sorted.
func refsOf(g *repo.LineageGraph) (nodes, edges []string) {
	label := map[string]string{}
	for _, n := range g.Nodes {
		l := n.Ref()
		if n.Kind == "run" {
			l = n.JobType
		}
		label[n.ID] = l
		nodes = append(nodes, l)
	}
	for _, e := range g.Edges {
		edges = append(edges, label[e.From]+">"+label[e.To])
	}
	slices.Sort(nodes)
	slices.Sort(edges)
	return nodes, edges
}

func TestLineage(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		pipeline(t, r, clk)
		g, err := r.Lineage(ctx, "model:latest", repo.Upstream, 0)
		if err != nil {
			t.Fatal(err)
		}
		nodes, edges := refsOf(g)
		if want := []string{"clean:v0", "model:v0", "preprocess", "raw:v0", "train"}; !slices.Equal(nodes, want) {
			t.Fatalf("upstream nodes %v, want %v", nodes, want)
		}
		if want := []string{"clean:v0>train", "preprocess>clean:v0", "raw:v0>preprocess", "train>model:v0"}; !slices.Equal(edges, want) {
			t.Fatalf("upstream edges %v, want %v", edges, want)
		}
		for _, n := range g.Nodes {
			if n.Kind == "version" && n.Type == "" {
				t.Fatalf("version node %+v not described", n)
			}
		}
		g, err = r.Lineage(ctx, "raw", repo.Downstream, 0)
		if err != nil {
			t.Fatal(err)
		}
		nodes, _ = refsOf(g)
		if want := []string{"clean:v0", "evaluate", "metrics:v0", "model:v0", "preprocess", "raw:v0", "train"}; !slices.Equal(nodes, want) {
			t.Fatalf("downstream nodes %v, want %v", nodes, want)
		}
		g, err = r.Lineage(ctx, "raw", repo.Downstream, 1)
		if err != nil {
			t.Fatal(err)
		}
		if nodes, _ = refsOf(g); !slices.Equal(nodes, []string{"clean:v0", "preprocess", "raw:v0"}) {
			t.Fatalf("downstream depth 1 nodes %v", nodes)
		}

		// A deleted version is still named, from its commit, which GC keeps
		// for the runs that name it (its content goes).
		if _, err := r.Delete(ctx, "clean:v0", true); err != nil {
			t.Fatal(err)
		}
		if _, err := r.GC(ctx, &repo.GCOptions{Grace: -1}); err != nil {
			t.Fatal(err)
		}
		g, err = r.Lineage(ctx, "model", repo.Upstream, 0)
		if err != nil {
			t.Fatal(err)
		}
		clean := 0
		for _, n := range g.Nodes {
			if n.Ref() == "clean:v0" {
				clean++
				if !n.Deleted || n.Type != "dataset" {
					t.Fatalf("deleted clean:v0 node %+v", n)
				}
			}
		}
		if clean != 1 {
			t.Fatalf("upstream of model after deleting clean:v0: %v", g.Nodes)
		}
		if _, err := r.Fsck(ctx, nil); err != nil {
			t.Fatalf("fsck after GC: %v", err)
		}
	})
}

func TestGCKeepsRuns(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		prep, train, eval := pipeline(t, r, clk)
		running := startRun(t, r, "export", "", nil)
		model := mustResolve(t, r, "model")
		if _, err := running.UseArtifact(ctx, "model"); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"raw:v0", "model:v0"} {
			if _, err := r.Delete(ctx, ref, true); err != nil {
				t.Fatal(err)
			}
		}
		// Past the files' times and gc's allowance for coarse file clocks.
		clk.Advance(time.Minute)
		rep, err := r.GC(ctx, &repo.GCOptions{Grace: -1})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Deleted == 0 {
			t.Fatalf("GC deleted nothing after two versions were deleted: %+v", rep)
		}
		live := objectIDs(t, r)
		for _, run := range []*repo.Run{prep, train, eval} {
			if !live[run.Object] {
				t.Fatalf("GC deleted the run object of %s", run.JobType)
			}
		}
		if !live[model.Version.Commit] {
			t.Fatal("GC deleted the commit of model:v0, which runs name")
		}
		if live[model.Tree] {
			t.Fatal("GC kept the content of deleted model:v0")
		}
		if err := running.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Fsck(ctx, nil); err != nil {
			t.Fatalf("fsck: %v", err)
		}
	})
}

// state is what reindexing must preserve: every artifact, version and
// run, and the lineage of every version in both directions.
func state(t testing.TB, r *repo.Repo) string {
	t.Helper()
	return stateWith(t, r, false)
}

// stateWith is state; with unknownAdded, every version's Added is given
// as unknown (what reindex without ref documents can tell).
func stateWith(t testing.TB, r *repo.Repo, unknownAdded bool) string {
	t.Helper()
	ctx := context.Background()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	arts, err := r.Artifacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	enc.Encode(arts)
	for _, a := range arts {
		vs, err := r.Versions(ctx, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if unknownAdded {
				v.Version.Added = -1
			}
			enc.Encode(v.Version)
			g, err := r.Lineage(ctx, v.Ref(), repo.BothWays, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
		}
	}
	runs, err := r.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		enc.Encode(run.Run)
		ins, _ := run.Inputs(ctx)
		outs, _ := run.Outputs(ctx)
		enc.Encode([]any{ins, outs})
	}
	return b.String()
}

// loseIndex closes r, deletes its index (on the OS file system; an
// in-memory index goes with the handle) and reopens it.
func loseIndex(t *testing.T, fsys afero.Fs, r *repo.Repo, clk *clock) *repo.Repo {
	t.Helper()
	dir := r.Dir()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := fsys.Remove(filepath.Join(dir, "index.db"+suffix)); err != nil && !errors.Is(err, afero.ErrFileNotFound) {
			if ok, _ := afero.Exists(fsys, filepath.Join(dir, "index.db"+suffix)); ok {
				t.Fatal(err)
			}
		}
	}
	r2, err := repo.Open(context.Background(), fsys, dir, &repo.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r2.Close() })
	if arts, _ := r2.Artifacts(context.Background()); len(arts) != 0 {
		t.Fatalf("reopened repository still has an index: %v", arts)
	}
	return r2
}

func TestReindex(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		pipeline(t, r, clk)
		logDir(t, r, "raw", files{"rows.csv": "v1"}, nil)
		logDir(t, r, "raw", files{"rows.csv": "v2"}, nil)
		logDir(t, r, "raw", files{"rows.csv": "v3"}, nil)
		if _, _, err := r.AddAlias(ctx, "raw:v1", "best"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.AddAlias(ctx, "model:v0", "prod"); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"raw:v2", "raw:v3"} { // the newest too: numbers must not be reused
			if _, err := r.Delete(ctx, ref, false); err != nil {
				t.Fatal(err)
			}
		}
		want := state(t, r)

		// On the live index: everything, running runs included, stays.
		running := startRun(t, r, "export", "", nil)
		if _, err := running.UseArtifact(ctx, "model"); err != nil {
			t.Fatal(err)
		}
		wantRunning := state(t, r)
		rep, err := r.Reindex(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Running != 1 || rep.Runs != 3 || rep.Versions != 5 || rep.Artifacts != 4 {
			t.Fatalf("reindex of the live index: %+v", rep)
		}
		if got := state(t, r); got != wantRunning {
			t.Fatalf("state after reindex:\n%s\nwant:\n%s", got, wantRunning)
		}
		if err := running.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
		want = state(t, r)

		// From nothing.
		r = loseIndex(t, fsys, r, clk)
		if rep, err = r.Reindex(ctx); err != nil {
			t.Fatal(err)
		}
		if rep.Running != 0 || rep.Runs != 4 || rep.Versions != 5 || len(rep.UnknownRuns) != 0 {
			t.Fatalf("reindex from nothing: %+v", rep)
		}
		if got := state(t, r); got != want {
			t.Fatalf("state after reindex:\n%s\nwant:\n%s", got, want)
		}
		v, created := logDir(t, r, "raw", files{"rows.csv": "v4"}, nil)
		if !created || v.Version.Version != 4 {
			t.Fatalf("next raw version after reindex is %s, want raw:v4", v.Ref())
		}
		if _, err := r.Fsck(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReindexOrphanCommit: a commit written by a transaction that never
// committed shares its number with the version that later took it;
// reindex keeps the real one, from the ref document or, without it, as
// the newer.
func TestReindexOrphanCommit(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		v0, _ := logDir(t, r, "ds", files{"a": "0"}, nil)
		// The orphan: a v1 whose transaction died after its commit object.
		orphanTree := mustResolve(t, r, "ds:v0").Tree
		c := &objects.Commit{Name: "ds", Type: "dataset", Version: 1, Tree: orphanTree, Parent: v0.Version.Commit,
			Created: clk.Now().Add(-time.Hour), Metadata: json.RawMessage("{}")}
		enc, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		orphan, err := objects.PutBytes(ctx, r.Store(), enc)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		v1, _ := logDir(t, r, "ds", files{"a": "1"}, nil)
		if v1.Version.Version != 1 || v1.Version.Commit == orphan {
			t.Fatalf("logged %s", v1.Ref())
		}
		want := state(t, r)
		for _, withDoc := range []bool{true, false} {
			if !withDoc {
				if err := fsys.RemoveAll(filepath.Join(r.Dir(), "refs")); err != nil {
					t.Fatal(err)
				}
				// What each version added to the store is in no object.
				want = stateWith(t, r, true)
			}
			r = loseIndex(t, fsys, r, clk)
			rep, err := r.Reindex(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Skipped != 1 {
				t.Fatalf("reindex (ref document %v) skipped %d commits, want 1 (the orphan)", withDoc, rep.Skipped)
			}
			if got := state(t, r); got != want {
				t.Fatalf("state after reindex (ref document %v):\n%s\nwant:\n%s", withDoc, got, want)
			}
		}
	})
}

// TestReindexKeepsUncommittedOut: a commit killed after writing its
// commit object but before its transaction leaves an orphan above the
// artifact's next number, and an rm killed before it rewrote the ref
// document leaves a document that still lists the version. Reindex of an
// intact index keeps exactly its versions.
func TestReindexKeepsUncommittedOut(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		v0, _ := logDir(t, r, "ds", files{"a": "0"}, nil)
		c := &objects.Commit{Name: "ds", Type: "dataset", Version: 1, Tree: mustResolve(t, r, "ds:v0").Tree,
			Parent: v0.Version.Commit, Created: clk.Now(), Metadata: json.RawMessage("{}")}
		enc, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := objects.PutBytes(ctx, r.Store(), enc); err != nil {
			t.Fatal(err)
		}
		want := state(t, r)
		rep, err := r.Reindex(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := state(t, r); got != want || rep.Skipped != 1 {
			t.Fatalf("reindex of an intact index (skipped %d):\n%s\nwant:\n%s", rep.Skipped, got, want)
		}
		// An rm killed after its transaction, before it rewrote the ref
		// document: the document still lists the version.
		logDir(t, r, "ds", files{"a": "1"}, nil)
		docPath := filepath.Join(r.Dir(), "refs", "ds.json")
		stale, err := afero.ReadFile(fsys, docPath)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Delete(ctx, "ds:v0", false); err != nil {
			t.Fatal(err)
		}
		if err := afero.WriteFile(fsys, docPath, stale, 0o644); err != nil {
			t.Fatal(err)
		}
		want = state(t, r)
		if _, err := r.Reindex(ctx); err != nil {
			t.Fatal(err)
		}
		if got := state(t, r); got != want {
			t.Fatalf("reindex after a killed rm brought a version back:\n%s\nwant:\n%s", got, want)
		}
		r = loseIndex(t, fsys, r, clk)
		if _, err := r.Reindex(ctx); err != nil {
			t.Fatal(err)
		}
		if got := state(t, r); got != want {
			t.Fatalf("reindex with the index lost:\n%s\nwant:\n%s", got, want)
		}
	})
}

func TestRefDocument(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"a": "0"}, nil)
		v1, _ := logDir(t, r, "ds", files{"a": "1"}, &repo.LogOptions{Aliases: []string{"best"}})
		logDir(t, r, "ds", files{"a": "2"}, nil)
		if _, err := r.Delete(ctx, "ds:v0", false); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Name        string            `json:"name"`
			Type        string            `json:"type"`
			NextVersion int64             `json:"next_version"`
			Aliases     map[string]int64  `json:"aliases"`
			Deleted     []int64           `json:"deleted"`
			Versions    map[string]string `json:"versions"`
		}
		b, err := afero.ReadFile(fsys, filepath.Join(r.Dir(), "refs", "ds.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Name != "ds" || doc.Type != "dataset" || doc.NextVersion != 3 || doc.Aliases["best"] != 1 ||
			!slices.Equal(doc.Deleted, []int64{0}) || doc.Versions["1"] != v1.Version.Commit.String() || len(doc.Versions) != 2 {
			t.Fatalf("ref document %s", b)
		}
		if err := r.RemoveAlias(ctx, "ds", "best"); err != nil {
			t.Fatal(err)
		}
		b, _ = afero.ReadFile(fsys, filepath.Join(r.Dir(), "refs", "ds.json"))
		if strings.Contains(string(b), "best") {
			t.Fatalf("ref document kept a removed alias: %s", b)
		}
	})
}

func TestFsckRunObject(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		run := startRun(t, r, "train", "", nil)
		runLog(t, run, r, "model", "model", files{"w": "weights"})
		if err := run.Finish(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Fsck(ctx, nil); err != nil {
			t.Fatal(err)
		}
		flipBit(t, r, run.Object)
		rep, err := r.Fsck(ctx, nil)
		wantErr(t, "fsck of a damaged run object", err, repo.ErrDamaged)
		if len(rep.Problems) != 1 || rep.Problems[0].ID != run.Object || len(rep.Problems[0].Affects) != 1 ||
			!strings.Contains(rep.Problems[0].Affects[0].Version, "run object") {
			t.Fatalf("problems %+v", rep.Problems)
		}
		_, err = r.GC(ctx, &repo.GCOptions{Grace: -1})
		wantErr(t, "gc with a damaged run object", err, repo.ErrCorrupt)
	})
}

// TestRefDocumentConcurrent: with many writers, the ref document ends up
// describing the final index (the last writer reads the latest state).
func TestRefDocumentConcurrent(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 4 {
					a := artifactOf(t, r, "ds", "dataset", files{"f": fmt.Sprintf("%d-%d", w, i)})
					if _, _, err := r.Log(ctx, a, &repo.LogOptions{Aliases: []string{fmt.Sprintf("w%d", w)}}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		b, err := afero.ReadFile(fsys, filepath.Join(r.Dir(), "refs", "ds.json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			NextVersion int64             `json:"next_version"`
			Aliases     map[string]int64  `json:"aliases"`
			Versions    map[string]string `json:"versions"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		arts, err := r.Artifacts(ctx)
		if err != nil || len(arts) != 1 {
			t.Fatal(arts, err)
		}
		if doc.NextVersion != 24 || len(doc.Versions) != 24 || fmt.Sprint(doc.Aliases) != fmt.Sprint(arts[0].Aliases) {
			t.Fatalf("ref document %s\ndoes not match the index: %+v", b, arts[0])
		}
	})
}
