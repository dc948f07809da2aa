package lineage_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/artvcs/art/lineage"
	"github.com/artvcs/art/objects"
)

// openDB returns a fresh in-memory database with the lineage tables.
func openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", ":memory:?_pragma=foreign_keys(1)")
	if err != nil {
		tb.Fatal(err)
	}
	// One connection: an in-memory database exists per connection.
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	migrate(tb, db)
	return db
}

func migrate(tb testing.TB, db *sql.DB) {
	tb.Helper()
	for i, step := range lineage.Migrations {
		if _, err := db.Exec(step); err != nil {
			tb.Fatalf("migration %d: %v", i, err)
		}
	}
}

// commit returns a stand-in commit ID for a version such as "raw:v0".
func commit(ref string) objects.ID { return objects.Hash([]byte(ref)) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

// start records a running run.
func start(tb testing.TB, x *lineage.Index, id, jobType string) lineage.Run {
	tb.Helper()
	r := lineage.Run{ID: id, JobType: jobType, Config: json.RawMessage(`{}`), Host: "h", Started: t0, Status: lineage.StatusRunning}
	if err := x.Insert(context.Background(), r); err != nil {
		tb.Fatalf("Insert(%s): %v", id, err)
	}
	return r
}

func TestNewRunID(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id, err := lineage.NewRunID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != lineage.RunIDLen || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("NewRunID()=%q, want %d lowercase base-36 characters", id, lineage.RunIDLen)
		}
		if err := lineage.ValidateRunID(id); err != nil {
			t.Fatalf("ValidateRunID(%q): %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewRunID returned %q twice", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "ABCDEFGH", "abc-defg", "abc defg", strings.Repeat("a", 33), "é"} {
		if err := lineage.ValidateRunID(bad); !errors.Is(err, lineage.ErrInvalidRunID) {
			t.Errorf("ValidateRunID(%q)=%v, want ErrInvalidRunID", bad, err)
		}
	}
}

func TestRunLifecycle(t *testing.T) {
	ctx := context.Background()
	x := lineage.NewIndex(openDB(t))
	start(t, x, "run00001", "train")
	raw, model := commit("raw:v0"), commit("model:v0")
	if err := x.AddInput(ctx, "run00001", raw); err != nil {
		t.Fatal(err)
	}
	if err := x.AddInput(ctx, "run00001", raw); err != nil { // twice is once
		t.Fatal(err)
	}
	if err := x.AddOutput(ctx, "run00001", model, true); err != nil {
		t.Fatal(err)
	}
	if err := x.AddOutput(ctx, "run00001", model, false); err != nil { // created stays set
		t.Fatal(err)
	}
	if got, err := x.Inputs(ctx, "run00001"); err != nil || !slices.Equal(got, []objects.ID{raw}) {
		t.Fatalf("Inputs=%v, %v; want [raw]", got, err)
	}
	if got, err := x.Outputs(ctx, "run00001"); err != nil || !slices.Equal(got, []objects.ID{model}) {
		t.Fatalf("Outputs=%v, %v; want [model]", got, err)
	}
	if r, err := x.LoggedBy(ctx, model); err != nil || r.ID != "run00001" {
		t.Fatalf("LoggedBy(model)=%v, %v; want run00001", r.ID, err)
	}
	if _, err := x.LoggedBy(ctx, raw); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("LoggedBy(raw) err=%v, want ErrNotFound", err)
	}
	if rs, err := x.UsedBy(ctx, raw); err != nil || len(rs) != 1 || rs[0].ID != "run00001" {
		t.Fatalf("UsedBy(raw)=%v, %v", rs, err)
	}

	obj := objects.Hash([]byte("run object"))
	end := t0.Add(time.Hour)
	if err := x.Finish(ctx, "run00001", lineage.StatusFinished, end, obj); err != nil {
		t.Fatal(err)
	}
	r, err := x.Run(ctx, "run00001")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != lineage.StatusFinished || !r.Finished.Equal(end) || r.Object != obj || r.Running() {
		t.Fatalf("after Finish: %+v", r)
	}

	// An ended run refuses everything and stays as it is.
	if err := x.Finish(ctx, "run00001", lineage.StatusFailed, end.Add(time.Hour), objects.Hash(nil)); !errors.Is(err, lineage.ErrNotRunning) {
		t.Fatalf("second Finish err=%v, want ErrNotRunning", err)
	}
	if err := x.AddInput(ctx, "run00001", commit("other:v0")); !errors.Is(err, lineage.ErrNotRunning) {
		t.Fatalf("AddInput after Finish err=%v, want ErrNotRunning", err)
	}
	if err := x.AddOutput(ctx, "run00001", commit("other:v0"), true); !errors.Is(err, lineage.ErrNotRunning) {
		t.Fatalf("AddOutput after Finish err=%v, want ErrNotRunning", err)
	}
	if again, _ := x.Run(ctx, "run00001"); again.Status != r.Status || again.Object != r.Object || !again.Finished.Equal(r.Finished) {
		t.Fatalf("run changed by refused calls: %+v, was %+v", again, r)
	}
	if got, _ := x.Inputs(ctx, "run00001"); len(got) != 1 {
		t.Fatalf("inputs changed by a refused call: %v", got)
	}

	// Unknown and malformed IDs.
	for _, err := range []error{
		x.AddInput(ctx, "nosuchrn", raw),
		x.AddOutput(ctx, "nosuchrn", raw, true),
		x.Finish(ctx, "nosuchrn", lineage.StatusFinished, end, obj),
		func() error { _, err := x.Run(ctx, "nosuchrn"); return err }(),
	} {
		if !errors.Is(err, lineage.ErrNotFound) {
			t.Errorf("unknown run: err=%v, want ErrNotFound", err)
		}
	}
	if _, err := x.Run(ctx, "Bad ID"); !errors.Is(err, lineage.ErrInvalidRunID) {
		t.Errorf("Run(bad id) err=%v, want ErrInvalidRunID", err)
	}
	if err := x.Finish(ctx, "run00001", "running", end, obj); !errors.Is(err, lineage.ErrInvalidStatus) {
		t.Errorf("Finish(status running) err=%v, want ErrInvalidStatus", err)
	}
	if err := x.AddInput(ctx, "run00001", raw); !errors.Is(err, lineage.ErrNotRunning) {
		t.Errorf("err=%v", err)
	}
}

func TestRunsAndConfig(t *testing.T) {
	ctx := context.Background()
	x := lineage.NewIndex(openDB(t))
	r := lineage.Run{ID: "a1", JobType: "train", Name: "first", Config: json.RawMessage(`{"lr": 0.1, "b": [1, 2]}`),
		Host: "gpu", Started: t0, Status: lineage.StatusRunning}
	if err := x.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}
	r2 := r
	r2.ID, r2.Started = "b2", t0.Add(time.Minute)
	if err := x.Insert(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if err := x.Insert(ctx, r2); err == nil {
		t.Fatal("Insert of an existing ID succeeded")
	}
	bad := r
	bad.ID, bad.Config = "c3", json.RawMessage(`[1]`)
	if err := x.Insert(ctx, bad); !errors.Is(err, objects.ErrMalformed) {
		t.Fatalf("Insert(config array) err=%v, want ErrMalformed", err)
	}
	rs, err := x.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != "b2" || rs[1].ID != "a1" {
		t.Fatalf("Runs=%v, want b2, a1 (newest first)", rs)
	}
	if got, want := string(rs[1].Config), `{"b":[1,2],"lr":0.1}`; got != want {
		t.Fatalf("config=%s, want canonical %s", got, want)
	}
	if !rs[1].Started.Equal(t0) || !rs[1].Finished.IsZero() || rs[1].Host != "gpu" || rs[1].Name != "first" {
		t.Fatalf("run read back as %+v", rs[1])
	}
}

// pipeline records raw → preprocess → clean → train (+ tokenizer) → model →
// evaluate → report, and returns the index.
func pipeline(t *testing.T) *lineage.Index {
	t.Helper()
	ctx := context.Background()
	x := lineage.NewIndex(openDB(t))
	for _, step := range []struct {
		run, job string
		in, out  []string
	}{
		{"prep0001", "preprocess", []string{"raw:v0"}, []string{"clean:v0"}},
		{"tok00001", "tokenize", nil, []string{"tokenizer:v0"}},
		{"train001", "train", []string{"clean:v0", "tokenizer:v0"}, []string{"model:v0"}},
		{"eval0001", "evaluate", []string{"model:v0", "clean:v0"}, []string{"report:v0"}},
	} {
		start(t, x, step.run, step.job)
		for _, in := range step.in {
			if err := x.AddInput(ctx, step.run, commit(in)); err != nil {
				t.Fatal(err)
			}
		}
		for _, out := range step.out {
			if err := x.AddOutput(ctx, step.run, commit(out), true); err != nil {
				t.Fatal(err)
			}
		}
	}
	return x
}

// describe names g's version nodes by their stand-in refs, as the caller
// (package repo) does from the version index.
func describe(g *lineage.Graph) {
	refs := map[string]string{}
	for _, r := range []string{"raw:v0", "clean:v0", "tokenizer:v0", "model:v0", "report:v0"} {
		refs[commit(r).String()] = r
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if n.Kind == lineage.KindVersion {
			name, v, _ := strings.Cut(refs[n.ID], ":v")
			n.Name, n.Type = name, "dataset"
			n.Version = int64(v[0] - '0')
		}
	}
}

// shape returns the graph's nodes and edges by label, sorted.
func shape(g *lineage.Graph) (nodes []string, edges []string) {
	label := map[string]string{}
	for _, n := range g.Nodes {
		l := n.ID
		if n.Kind == lineage.KindVersion {
			l = n.Ref()
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

func TestUpstreamDownstream(t *testing.T) {
	ctx := context.Background()
	x := pipeline(t)
	for _, tc := range []struct {
		name      string
		from      string
		dir       lineage.Direction
		depth     int
		wantNodes []string
		wantEdges []string
	}{
		{"model up", "model:v0", lineage.Up, 10,
			[]string{"clean:v0", "model:v0", "prep0001", "raw:v0", "tok00001", "tokenizer:v0", "train001"},
			[]string{"clean:v0>train001", "prep0001>clean:v0", "raw:v0>prep0001", "tok00001>tokenizer:v0", "tokenizer:v0>train001", "train001>model:v0"}},
		{"model up depth 1", "model:v0", lineage.Up, 1,
			[]string{"clean:v0", "model:v0", "tokenizer:v0", "train001"},
			[]string{"clean:v0>train001", "tokenizer:v0>train001", "train001>model:v0"}},
		{"raw down", "raw:v0", lineage.Down, 10,
			[]string{"clean:v0", "eval0001", "model:v0", "prep0001", "raw:v0", "report:v0", "train001"},
			[]string{"clean:v0>eval0001", "clean:v0>train001", "eval0001>report:v0", "model:v0>eval0001", "prep0001>clean:v0", "raw:v0>prep0001", "train001>model:v0"}},
		{"raw down depth 2", "raw:v0", lineage.Down, 2,
			[]string{"clean:v0", "eval0001", "model:v0", "prep0001", "raw:v0", "report:v0", "train001"},
			[]string{"clean:v0>eval0001", "clean:v0>train001", "eval0001>report:v0", "prep0001>clean:v0", "raw:v0>prep0001", "train001>model:v0"}},
		{"raw up", "raw:v0", lineage.Up, 10, []string{"raw:v0"}, nil},
		{"clean both", "clean:v0", lineage.Both, 1,
			[]string{"clean:v0", "eval0001", "model:v0", "prep0001", "raw:v0", "report:v0", "train001"},
			[]string{"clean:v0>eval0001", "clean:v0>train001", "eval0001>report:v0", "prep0001>clean:v0", "raw:v0>prep0001", "train001>model:v0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := x.Graph(ctx, commit(tc.from), tc.dir, tc.depth)
			if err != nil {
				t.Fatal(err)
			}
			describe(g)
			if g.Nodes[0].ID != commit(tc.from).String() || g.Root != g.Nodes[0].ID {
				t.Fatalf("first node %v, want the root %s", g.Nodes[0], tc.from)
			}
			nodes, edges := shape(g)
			if !slices.Equal(nodes, tc.wantNodes) {
				t.Errorf("nodes %v\nwant  %v", nodes, tc.wantNodes)
			}
			if !slices.Equal(edges, tc.wantEdges) {
				t.Errorf("edges %v\nwant  %v", edges, tc.wantEdges)
			}
		})
	}
	if g, err := x.Upstream(ctx, commit("model:v0"), 0); err != nil || g.Depth != lineage.DefaultDepth {
		t.Fatalf("Upstream(depth 0)=%v, %v; want depth %d", g, err, lineage.DefaultDepth)
	}
}

// TestCycle: a run that logs the very version it used makes a cycle, which
// the walk must survive.
func TestCycle(t *testing.T) {
	ctx := context.Background()
	x := lineage.NewIndex(openDB(t))
	start(t, x, "loop", "noop")
	v := commit("v:v0")
	if err := x.AddInput(ctx, "loop", v); err != nil {
		t.Fatal(err)
	}
	if err := x.AddOutput(ctx, "loop", v, false); err != nil {
		t.Fatal(err)
	}
	g, err := x.Graph(ctx, v, lineage.Both, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 || len(g.Edges) != 2 {
		t.Fatalf("graph %+v, want 2 nodes and 2 edges", g)
	}
	var sb strings.Builder
	if err := g.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "(see above)") {
		t.Fatalf("text tree of a cycle:\n%s", sb.String())
	}
}

func TestRestoreAndDropEnded(t *testing.T) {
	ctx := context.Background()
	x := pipeline(t)
	obj := objects.Hash([]byte("obj"))
	if err := x.Finish(ctx, "prep0001", lineage.StatusFinished, t0.Add(time.Hour), obj); err != nil {
		t.Fatal(err)
	}
	kept, err := x.DropEnded(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kept != 3 {
		t.Fatalf("DropEnded kept %d running runs, want 3", kept)
	}
	if _, err := x.Run(ctx, "prep0001"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("ended run survived DropEnded: %v", err)
	}
	r := lineage.Run{ID: "prep0001", JobType: "preprocess", Config: json.RawMessage(`{}`), Started: t0,
		Finished: t0.Add(time.Hour), Status: lineage.StatusFinished, Object: obj}
	if err := x.Restore(ctx, r, []objects.ID{commit("raw:v0")}, []lineage.Output{{Commit: commit("clean:v0"), Created: true}}); err != nil {
		t.Fatal(err)
	}
	// Restoring over a running run replaces it.
	r2 := lineage.Run{ID: "train001", JobType: "train", Config: json.RawMessage(`{}`), Started: t0,
		Finished: t0.Add(time.Hour), Status: lineage.StatusFailed, Object: obj}
	if err := x.Restore(ctx, r2, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.Run(ctx, "train001"); got.Status != lineage.StatusFailed {
		t.Fatalf("restored run status %q, want failed", got.Status)
	}
	if got, _ := x.Inputs(ctx, "train001"); len(got) != 0 {
		t.Fatalf("restored run kept old inputs %v", got)
	}
	if got, err := x.LoggedBy(ctx, commit("clean:v0")); err != nil || got.ID != "prep0001" || got.Object != obj {
		t.Fatalf("LoggedBy(clean) after restore = %+v, %v", got, err)
	}
	ids, err := x.ObjectIDs(ctx)
	if err != nil || len(ids) != 2 {
		t.Fatalf("ObjectIDs=%v, %v; want 2", ids, err)
	}
	cs, err := x.CommitIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 5 {
		t.Fatalf("CommitIDs=%d commits, want 5", len(cs))
	}
}

func TestObjectRoundTrip(t *testing.T) {
	r := lineage.Run{ID: "k3x9q2b7", JobType: "train", Name: "n", Config: json.RawMessage(`{"a":1}`), Host: "h",
		Started: t0, Status: lineage.StatusRunning}
	o := r.ObjectOf(lineage.StatusFailed, t0.Add(time.Second), []objects.ID{commit("a")}, []objects.ID{commit("b")})
	enc, err := o.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := objects.DecodeRun(enc)
	if err != nil {
		t.Fatal(err)
	}
	back := lineage.FromObject(objects.Hash(enc), dec)
	if back.ID != r.ID || back.JobType != r.JobType || back.Name != r.Name || string(back.Config) != `{"a":1}` ||
		back.Host != r.Host || !back.Started.Equal(t0) || !back.Finished.Equal(t0.Add(time.Second)) ||
		back.Status != lineage.StatusFailed || back.Object != objects.Hash(enc) {
		t.Fatalf("FromObject(ObjectOf(r))=%+v", back)
	}
}
