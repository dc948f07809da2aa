package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// inRun runs art with ART_RUN_ID set to run and expects success.
func (p *project) inRun(run string, args ...string) string {
	p.t.Helper()
	res := p.runIn("", []string{"ART_RUN_ID=" + run}, args...)
	if res.code != 0 || res.stderr != "" {
		p.t.Fatalf("want success, got %v", res)
	}
	return res.stdout
}

// startRun runs `art run start` with args and returns the run's ID.
func (p *project) startRun(args ...string) string {
	p.t.Helper()
	var out map[string]any
	p.json(&out, append([]string{"run", "start"}, args...)...)
	if len(out) != 3 {
		p.t.Fatalf("run start --json printed %v, want exactly id, job_type and name", out)
	}
	id, _ := out["id"].(string)
	if !regexp.MustCompile(`^[0-9a-z]{8}$`).MatchString(id) {
		p.t.Fatalf("run ID %q, want 8 lowercase base-36 characters", id)
	}
	return id
}

// objectCount counts the files in the object store.
func (p *project) objectCount() int {
	p.t.Helper()
	n := 0
	err := filepath.WalkDir(p.path(".art/objects"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// graph is a decoded `art lineage --json`.
type graph struct {
	Root  string           `json:"root"`
	Nodes []map[string]any `json:"nodes"`
	Edges []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"edges"`
}

func (p *project) lineage(args ...string) graph {
	p.t.Helper()
	var g graph
	p.json(&g, append([]string{"lineage"}, args...)...)
	return g
}

// label names a node: "name:vN" for a version, "job_type" for a run.
func label(n map[string]any) string {
	if n["kind"] == "run" {
		return n["job_type"].(string)
	}
	return fmt.Sprintf("%v:%v", n["name"], n["version"])
}

// labels returns the graph's node labels, sorted.
func (g graph) labels() []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, label(n))
	}
	slices.Sort(out)
	return out
}

// reaches reports whether a path of edges leads from the node labelled
// from to the one labelled to, and returns it.
func (g graph) reaches(from, to string) (bool, []string) {
	byID := map[string]string{}
	for _, n := range g.Nodes {
		byID[n["id"].(string)] = label(n)
	}
	next := map[string][]string{}
	for _, e := range g.Edges {
		next[byID[e.From]] = append(next[byID[e.From]], byID[e.To])
	}
	var path []string
	seen := map[string]bool{}
	var walk func(n string) bool
	walk = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		path = append(path, n)
		if n == to {
			return true
		}
		for _, m := range next[n] {
			if walk(m) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	return walk(from), path
}

// mlPipeline records raw data → preprocess run → clean data → train run →
// model → evaluate run → metrics with the CLI, and returns the three runs'
// IDs.
func mlPipeline(t *testing.T, p *project) (prep, train, eval string) {
	t.Helper()
	p.write("raw/rides.csv", "day,temp,rides\n1,3.1,80\n2,,95\n3,5.0,102\n")
	p.ok("commit", "raw-data", "raw", "-m", "January export")

	prep = p.startRun("--job-type", "preprocess", "--name", "drop empty rows", "--config", "drop_na=true")
	p.inRun(prep, "checkout", "raw-data:latest", "-o", "work/raw")
	p.write("clean/rides.csv", "day,temp,rides\n1,3.1,80\n3,5.0,102\n")
	p.inRun(prep, "commit", "clean-data", "clean")
	p.inRun(prep, "run", "finish")

	p.write("train.json", `{"lr": 0.001, "epochs": 20}`)
	train = p.startRun("--job-type", "train", "--config-file", "train.json", "--config", "epochs=30")
	p.inRun(train, "checkout", "clean-data:latest", "-o", "work/clean")
	p.write("out/model.bin", "weights v1")
	p.inRun(train, "commit", "model", "out/model.bin", "-t", "model", "-a", "candidate")
	p.ok("run", "finish", train)

	eval = p.startRun("--job-type", "evaluate")
	p.inRun(eval, "checkout", "model:latest", "-o", "work/model")
	p.inRun(eval, "checkout", "clean-data:latest", "-o", "work/clean")
	p.write("metrics/metrics.json", `{"mae": 4.2}`)
	p.inRun(eval, "commit", "metrics", "metrics", "-t", "result")
	p.inRun(eval, "run", "finish")
	return prep, train, eval
}

func TestLineageEndToEnd(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	prep, train, eval := mlPipeline(t, p)

	// Upstream of the model reaches the raw data through both runs.
	up := p.lineage("model:latest", "--up")
	if want := []string{"clean-data:v0", "model:v0", "preprocess", "raw-data:v0", "train"}; !slices.Equal(up.labels(), want) {
		t.Fatalf("upstream of model: %v, want %v", up.labels(), want)
	}
	if ok, path := up.reaches("raw-data:v0", "model:v0"); !ok || !slices.Equal(path, []string{"raw-data:v0", "preprocess", "clean-data:v0", "train", "model:v0"}) {
		t.Fatalf("upstream graph: raw-data reaches model by %v (%v), want through preprocess and train", path, ok)
	}
	for _, n := range up.Nodes {
		switch n["kind"] {
		case "version":
			if n["id"] == up.Root && label(n) != "model:v0" {
				t.Fatalf("root %v is not model:v0", n)
			}
			if _, ok := n["type"]; !ok {
				t.Fatalf("version node without type: %v", n)
			}
		case "run":
			if n["status"] != "finished" || n["name"] == nil {
				t.Fatalf("run node %v", n)
			}
		}
	}

	// Downstream of the raw data reaches the model and the evaluation run.
	down := p.lineage("raw-data", "--down")
	for _, want := range []string{"model:v0", "evaluate", "metrics:v0"} {
		if ok, _ := down.reaches("raw-data:v0", want); !ok {
			t.Fatalf("downstream of raw-data does not reach %s: %v", want, down.labels())
		}
	}
	if ok, _ := down.reaches("raw-data:v0", "model:v0"); !ok {
		t.Fatal("unreachable")
	}
	// Depth counts runs.
	if got := p.lineage("raw-data", "--down", "--depth", "1").labels(); !slices.Equal(got, []string{"clean-data:v0", "preprocess", "raw-data:v0"}) {
		t.Fatalf("downstream depth 1: %v", got)
	}
	// --format json is --json; neither --up nor --down is both.
	var both graph
	decodeJSON(t, p.ok("lineage", "clean-data", "--format", "json"), &both)
	if want := []string{"clean-data:v0", "evaluate", "metrics:v0", "model:v0", "preprocess", "raw-data:v0", "train"}; !slices.Equal(both.labels(), want) {
		t.Fatalf("both ways from clean-data: %v, want %v", both.labels(), want)
	}

	// Graphviz parses the dot output.
	dot := p.ok("lineage", "model:latest", "--format", "dot")
	checkDot(t, dot)
	for _, want := range []string{"raw-data:v0", "model:v0", "clean-data:v0", prep, train} {
		if !strings.Contains(dot, want) {
			t.Fatalf("dot output lacks %s:\n%s", want, dot)
		}
	}
	// Mermaid: a flowchart whose edges join declared nodes.
	mermaid := p.ok("lineage", "clean-data", "--format", "mermaid")
	checkMermaid(t, mermaid, len(both.Nodes), len(both.Edges))

	// The text tree.
	text := p.ok("lineage", "model", "--up")
	for _, want := range []string{
		"model:v0 (model)\n",
		"└── run " + train + " train (finished)\n",
		"    └── clean-data:v0 (dataset)\n",
		"        └── run " + prep + ` preprocess "drop empty rows" (finished)` + "\n",
		"            └── raw-data:v0 (dataset)\n",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("text tree lacks %q:\n%s", want, text)
		}
	}

	// show, log and run show name the runs.
	if got := p.show("model")["producer"]; got != train {
		t.Fatalf("show model: producer %v, want %s", got, train)
	}
	if got := p.show("raw-data")["producer"]; got != nil {
		t.Fatalf("show raw-data: producer %v, want null", got)
	}
	if out := p.ok("show", "model"); !strings.Contains(out, "producer:    "+train+" (train, finished)") {
		t.Fatalf("show model does not name its producer:\n%s", out)
	}
	if out := p.ok("log", "clean-data"); !strings.Contains(out, "by preprocess run "+prep) {
		t.Fatalf("log clean-data does not name its run:\n%s", out)
	}
	var run map[string]any
	p.json(&run, "run", "show", train)
	if fmt.Sprint(run["inputs"]) != "[clean-data:v0]" || fmt.Sprint(run["outputs"]) != "[model:v0]" ||
		run["status"] != "finished" || run["job_type"] != "train" || run["object"] == nil || run["finished_at"] == nil {
		t.Fatalf("run show %s: %v", train, run)
	}
	if got := fmt.Sprint(run["config"]); got != "map[epochs:30 lr:0.001]" {
		t.Fatalf("run config %s, want the file's lr and --config's epochs", got)
	}
	p.json(&run, "run", "show", eval)
	if fmt.Sprint(run["inputs"]) != "[clean-data:v0 model:v0]" || fmt.Sprint(run["outputs"]) != "[metrics:v0]" {
		t.Fatalf("run show %s: %v", eval, run)
	}
	if out := p.ok("run", "show", prep); !strings.Contains(out, "raw-data:v0 (dataset)") || !strings.Contains(out, `{"drop_na":true}`) {
		t.Fatalf("run show %s:\n%s", prep, out)
	}
	var runs []map[string]any
	p.json(&runs, "run", "ls")
	if len(runs) != 3 {
		t.Fatalf("run ls: %d runs, want 3", len(runs))
	}
	if out := p.ok("run", "ls"); !strings.Contains(out, prep) || !strings.Contains(out, "evaluate") {
		t.Fatalf("run ls:\n%s", out)
	}
	if p.ok("fsck", "-q") != "" {
		t.Fatal("fsck -q printed something")
	}
}

// checkDot has Graphviz render src and fails the test unless it succeeds.
// `make test` installs Graphviz: a missing dot fails, it does not skip.
func checkDot(t *testing.T, src string) {
	t.Helper()
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Fatalf("Graphviz dot is not installed (`make test` installs it: apt-get install graphviz): %v", err)
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = strings.NewReader(src)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s\ninput:\n%s", err, stderr.String(), src)
	}
	if !strings.Contains(stdout.String(), "<svg") {
		t.Fatal("dot -Tsvg printed no SVG")
	}
}

// checkMermaid checks a Mermaid flowchart: it starts with "flowchart",
// declares nodes nodes, and has edges edges whose endpoints are declared.
func checkMermaid(t *testing.T, src string, nodes, edges int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "flowchart ") {
		t.Fatalf("mermaid output does not start with flowchart:\n%s", src)
	}
	decl := regexp.MustCompile(`^\s+([A-Za-z][A-Za-z0-9_]*)(\(\[".*"\]\)|\(".*"\))$`)
	edge := regexp.MustCompile(`^\s+([A-Za-z][A-Za-z0-9_]*) --> ([A-Za-z][A-Za-z0-9_]*)$`)
	declared := map[string]bool{}
	var ends [][2]string
	for _, l := range lines[1:] {
		if m := decl.FindStringSubmatch(l); m != nil {
			declared[m[1]] = true
		} else if m := edge.FindStringSubmatch(l); m != nil {
			ends = append(ends, [2]string{m[1], m[2]})
		} else if !strings.HasPrefix(strings.TrimSpace(l), "class") {
			t.Fatalf("unexpected mermaid line %q", l)
		}
	}
	for _, e := range ends {
		if !declared[e[0]] || !declared[e[1]] {
			t.Fatalf("edge %s --> %s joins an undeclared node:\n%s", e[0], e[1], src)
		}
	}
	if len(declared) != nodes || len(ends) != edges {
		t.Fatalf("mermaid declares %d nodes and %d edges, want %d and %d:\n%s", len(declared), len(ends), nodes, edges, src)
	}
}

// indexAnswers is everything the index answers about the project: the
// lineage of every version both ways, every log, the artifact list and the
// runs.
func (p *project) indexAnswers() string {
	p.t.Helper()
	var b strings.Builder
	var arts []map[string]any
	p.json(&arts, "ls")
	b.WriteString(p.ok("ls", "--json"))
	for _, a := range arts {
		name := a["name"].(string)
		b.WriteString(p.ok("log", name, "--json"))
		b.WriteString(p.ok("log", name))
		for _, v := range p.versions(name) {
			b.WriteString(p.ok("lineage", name+":"+v, "--json"))
			b.WriteString(p.ok("lineage", name+":"+v))
			b.WriteString(p.ok("show", name+":"+v, "--json"))
		}
	}
	var runs []map[string]any
	p.json(&runs, "run", "ls")
	b.WriteString(p.ok("run", "ls", "--json"))
	for _, r := range runs {
		b.WriteString(p.ok("run", "show", r["id"].(string), "--json"))
	}
	return b.String()
}

func TestReindexEndToEnd(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	mlPipeline(t, p)
	// Aliases, a deleted version (the newest: its number must not come back)
	// and a second model that reuses nothing.
	p.write("out/model.bin", "weights v2")
	p.ok("commit", "model", "out/model.bin", "-t", "model")
	p.write("out/model.bin", "weights v3")
	p.ok("commit", "model", "out/model.bin", "-t", "model")
	p.ok("alias", "add", "model:v1", "prod")
	p.ok("rm", "model:v2")
	want := p.indexAnswers()

	matches, err := filepath.Glob(p.path(".art/index.db*"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no index files to delete: %v %v", matches, err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.artifactNames(); len(got) != 0 {
		t.Fatalf("artifacts without an index: %v", got)
	}
	out := p.ok("reindex")
	if !strings.HasPrefix(out, "reindexed 4 artifacts, 5 versions and 3 finished runs from ") {
		t.Fatalf("reindex printed %q", out)
	}
	if got := p.indexAnswers(); got != want {
		t.Fatalf("answers after reindex differ.\ngot:\n%s\nwant:\n%s", got, want)
	}
	p.write("out/model.bin", "weights v4")
	if out := p.ok("commit", "model", "out/model.bin", "-t", "model"); !strings.HasPrefix(out, "created model:v3 ") {
		t.Fatalf("commit after reindex: %q, want model:v3 (v2 was deleted, never reused)", out)
	}
	p.ok("fsck")
}

// TestRunBadInput: unknown runs, finishing twice and ART_RUN_ID naming a
// finished run are each a clear error that changes nothing.
func TestRunBadInput(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "a")
	p.ok("commit", "raw", "data")
	run := p.startRun("--job-type", "train")
	p.ok("run", "finish", run)

	objects := p.objectCount()
	unchanged := func(what string) {
		t.Helper()
		if got := p.objectCount(); got != objects {
			t.Fatalf("%s changed the object count from %d to %d", what, objects, got)
		}
		if got := p.artifactNames(); !slices.Equal(got, []string{"raw"}) {
			t.Fatalf("%s changed the artifacts: %v", what, got)
		}
	}
	expect := func(res result, code int, wants ...string) {
		t.Helper()
		if res.code != code || !strings.HasPrefix(res.stderr, "art: ") {
			t.Fatalf("want exit %d and an art: message, got %v", code, res)
		}
		for _, w := range wants {
			if !strings.Contains(res.stderr, w) {
				t.Fatalf("error lacks %q: %v", w, res)
			}
		}
	}

	// Finishing twice.
	expect(p.run("run", "finish", run), 1, "run is not running", run, "finished")
	expect(p.run("run", "finish", run, "--status", "failed"), 1, "run is not running")
	unchanged("finishing a run twice")

	// ART_RUN_ID naming a finished run: commit and checkout refuse.
	p.write("model.bin", "weights")
	env := []string{"ART_RUN_ID=" + run}
	expect(p.runIn("", env, "commit", "model", "model.bin", "-t", "model"), 1, "ART_RUN_ID", "not running", "art run start")
	unchanged("a commit in a finished run")
	expect(p.runIn("", env, "checkout", "raw", "-o", "co"), 1, "ART_RUN_ID", "not running")
	if _, err := os.Stat(p.path("co")); !os.IsNotExist(err) {
		t.Fatalf("a refused checkout created its directory: %v", err)
	}
	unchanged("a checkout in a finished run")
	var shown map[string]any
	p.json(&shown, "run", "show", run)
	if fmt.Sprint(shown["inputs"]) != "[]" || fmt.Sprint(shown["outputs"]) != "[]" {
		t.Fatalf("refused calls recorded edges: %v", shown)
	}

	// Unknown run IDs.
	env = []string{"ART_RUN_ID=zzzzzzzz"}
	expect(p.runIn("", env, "commit", "model", "model.bin", "-t", "model"), 1, "ART_RUN_ID", "run not found", "zzzzzzzz", "art run ls")
	expect(p.runIn("", env, "checkout", "raw", "-o", "co"), 1, "run not found")
	expect(p.run("run", "show", "zzzzzzzz"), 1, "run not found: zzzzzzzz")
	expect(p.run("run", "finish", "zzzzzzzz"), 1, "run not found")
	expect(p.runIn("", []string{"ART_RUN_ID=Not-An-ID"}, "commit", "model", "model.bin"), 1, "invalid run id")
	unchanged("unknown runs")

	// Usage errors.
	expect(p.run("run", "start"), 2, "--job-type")
	expect(p.run("run", "start", "--job-type", "train", "--config", "novalue"), 2, "--config")
	expect(p.run("run", "finish"), 2, "ART_RUN_ID")
	expect(p.run("run", "finish", run, "--status", "done"), 2, "--status")
	expect(p.run("lineage", "raw", "--depth", "0"), 2, "--depth")
	expect(p.run("lineage", "raw", "--format", "png"), 2, "--format")
	expect(p.run("lineage", "raw", "--format", "dot", "--json"), 2, "disagree")
	expect(p.run("run", "start", "--job-type", "bad type"), 1, "job type")
	expect(p.run("run", "start", "--job-type", "t", "--config-file", "missing.json"), 1, "--config-file")
	p.write("list.json", "[1, 2]")
	expect(p.run("run", "start", "--job-type", "t", "--config-file", "list.json"), 1, "JSON object")
	expect(p.run("lineage", "nosuch"), 1, "not found")
	var runs []map[string]any
	p.json(&runs, "run", "ls")
	if len(runs) != 1 {
		t.Fatalf("refused starts recorded runs: %v", runs)
	}
	unchanged("usage errors")
}
