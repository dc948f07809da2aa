package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jsonNode is a decoded JSON value that remembers the order of an object's
// keys.
type jsonNode struct {
	keys   []string // an object's keys, in order; nil for other values
	fields map[string]*jsonNode
	items  []*jsonNode // a list's elements
	value  any         // a scalar (json.Number, string, bool or nil)
	object bool
	list   bool
}

// parseJSON decodes exactly one JSON document.
func parseJSON(t testing.TB, s string) *jsonNode {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		t.Fatalf("decode JSON: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document:\n%s", s)
	}
	return n
}

func parseNode(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		n := &jsonNode{object: true, keys: []string{}, fields: map[string]*jsonNode{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.(string))
			n.fields[k.(string)] = v
		}
		_, err := dec.Token() // }
		return n, err
	case json.Delim('['):
		n := &jsonNode{list: true, items: []*jsonNode{}}
		for dec.More() {
			v, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		_, err := dec.Token() // ]
		return n, err
	}
	return &jsonNode{value: tok}, nil
}

// at returns the value at path: object keys (string) and list indexes
// (int), or nil if there is none.
func (n *jsonNode) at(path ...any) *jsonNode {
	for _, step := range path {
		switch s := step.(type) {
		case string:
			if n == nil || !n.object {
				return nil
			}
			n = n.fields[s]
		case int:
			if n == nil || !n.list || s >= len(n.items) {
				return nil
			}
			n = n.items[s]
		}
	}
	return n
}

// find returns the first element of the list n whose key k is the string v.
func (n *jsonNode) find(k, v string) *jsonNode {
	if n == nil {
		return nil
	}
	for _, it := range n.items {
		if f := it.at(k); f != nil && f.value == v {
			return it
		}
	}
	return nil
}

// jsonOut runs art with args and --json (which may fail, as verify and
// fsck do on problems) and parses its stdout.
func (p *project) jsonOut(code int, args ...string) *jsonNode {
	p.t.Helper()
	res := p.runIn("", nil, append(args, "--json")...)
	if res.code != code {
		p.t.Fatalf("want exit %d, got %v", code, res)
	}
	return parseJSON(p.t, res.stdout)
}

// pinKeys fails unless n is an object whose keys are exactly keys (space
// separated), in that order.
func pinKeys(t *testing.T, what string, n *jsonNode, keys string) {
	t.Helper()
	if n == nil || !n.object {
		t.Fatalf("%s: no object there", what)
	}
	if got := strings.Join(n.keys, " "); got != keys {
		t.Fatalf("%s: keys %q, want %q", what, got, keys)
	}
}

// pinList fails unless n is a list (not null) of length want (-1: any).
func pinList(t *testing.T, what string, n *jsonNode, want int) {
	t.Helper()
	if n == nil || !n.list {
		t.Fatalf("%s: want a list, got %+v", what, n)
	}
	if want >= 0 && len(n.items) != want {
		t.Fatalf("%s: %d elements, want %d", what, len(n.items), want)
	}
}

// pinNull fails unless n is JSON null.
func pinNull(t *testing.T, what string, n *jsonNode) {
	t.Helper()
	if n == nil || n.object || n.list || n.value != nil {
		t.Fatalf("%s: want null, got %+v", what, n)
	}
}

// TestJSONKeys pins the keys, their order, and [] against null, of every
// --json shape that TestJSONShapes does not: the README's "`--json`
// shapes" section is the contract, and these structs are in cmd/art.
func TestJSONKeys(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	pinKeys(t, "init", parseJSON(t, (&project{t: t, dir: t.TempDir()}).ok("init", "--json")), "path")

	// Empty repository: lists are [], not null.
	du := p.jsonOut(0, "du")
	pinKeys(t, "du", du, "artifacts logical stored on_disk garbage objects chunked")
	pinList(t, "du artifacts (none)", du.at("artifacts"), 0)
	pinList(t, "remote ls (none)", p.jsonOut(0, "remote", "ls"), 0)

	p.write("data/a.txt", "a")
	p.write("data/b.txt", "b")
	p.write("ref.bin", "ref")
	p.ok("commit", "ds", "data")
	p.write("data/a.txt", "a2")
	if err := os.Remove(p.path("data/b.txt")); err != nil {
		t.Fatal(err)
	}
	p.write("data/c.txt", "c")
	p.ok("commit", "ds", "data", "--ref", "file://"+filepath.ToSlash(p.path("ref.bin"))+"=r.bin", "--ref", "s3://bucket/x.csv")

	// diff: each kind of change, file and reference entries.
	diff := p.jsonOut(0, "diff", "ds:v0", "ds:v1")
	pinList(t, "diff", diff, 5)
	pinKeys(t, "diff modified", diff.find("path", "a.txt"), "path op old new")
	pinKeys(t, "diff removed", diff.find("path", "b.txt"), "path op old")
	pinKeys(t, "diff added", diff.find("path", "c.txt"), "path op new")
	pinKeys(t, "diff entry", diff.find("path", "a.txt").at("old"), "path size digest")
	pinKeys(t, "diff reference", diff.find("path", "r.bin").at("new"), "path size ref digest")
	unknown := diff.find("path", "x.csv").at("new")
	pinKeys(t, "diff reference of unknown size", unknown, "path size ref digest")
	pinNull(t, "size of an unknown reference", unknown.at("size"))
	pinNull(t, "digest of an unknown reference", unknown.at("digest"))
	pinList(t, "diff (no changes)", p.jsonOut(0, "diff", "ds:v0", "ds:v0"), 0)

	show := p.jsonOut(0, "show", "ds:v1")
	pinKeys(t, "show", show, "name type version id digest size files aliases description metadata created_at producer added manifest")
	pinKeys(t, "show manifest file", show.at("manifest").find("path", "a.txt"), "path size digest")
	pinKeys(t, "show manifest reference", show.at("manifest").find("path", "x.csv"), "path size ref digest")

	du = p.jsonOut(0, "du")
	pinKeys(t, "du artifact", du.at("artifacts", 0), "name versions logical stored")

	// verify and fsck, clean and with problems.
	p.ok("checkout", "ds:v0", "-o", "co")
	v := p.jsonOut(0, "verify", "ds:v0", "co")
	pinKeys(t, "verify", v, "name version path files ok problems")
	pinList(t, "verify problems (none)", v.at("problems"), 0)
	p.write("co/a.txt", "changed")
	v = p.jsonOut(1, "verify", "ds:v0", "co")
	pinKeys(t, "verify problem", v.at("problems", 0), "path problem")
	f := p.jsonOut(0, "fsck")
	pinKeys(t, "fsck", f, "objects bytes versions ok problems")
	pinList(t, "fsck problems (none)", f.at("problems"), 0)

	pinKeys(t, "gc", p.jsonOut(0, "gc", "--dry-run"), "live garbage deleted young bytes dry_run expired evicted evicted_bytes")
	pinKeys(t, "reindex", p.jsonOut(0, "reindex"), "objects artifacts versions runs running skipped unknown_runs damaged bad_ref_documents")
	pinKeys(t, "alias add", p.jsonOut(0, "alias", "add", "ds:v0", "best"), "name alias version previous")
	pinKeys(t, "alias rm", p.jsonOut(0, "alias", "rm", "ds", "best"), "alias name")

	// Lineage: version and run nodes, edges; a deleted version.
	pinKeys(t, "run start", p.jsonOut(0, "run", "start", "--job-type", "other"), "id job_type name")
	run := p.startRun("--job-type", "train")
	pinKeys(t, "run show", p.jsonOut(0, "run", "show", run), "id job_type name status host config started_at finished_at object inputs outputs")
	p.inRun(run, "checkout", "ds:v0", "-o", "in")
	p.write("model.bin", "w")
	p.inRun(run, "commit", "model", "model.bin", "-t", "model")
	p.ok("run", "finish", run)
	pinKeys(t, "run ls", p.jsonOut(0, "run", "ls").at(0), "id job_type name status host config started_at finished_at object")
	p.ok("rm", "ds:v0", "--force")
	g := p.jsonOut(0, "lineage", "model")
	pinKeys(t, "lineage", g, "root direction depth nodes edges")
	pinKeys(t, "lineage version node", g.at("nodes").find("name", "model"), "kind id name version type")
	pinKeys(t, "lineage deleted version node", g.at("nodes").find("name", "ds"), "kind id name version type deleted")
	pinKeys(t, "lineage run node", g.at("nodes").find("kind", "run"), "kind id job_type name status")
	pinKeys(t, "lineage edge", g.at("edges", 0), "from to")
	pinList(t, "lineage edges (none)", p.jsonOut(0, "lineage", "ds:v1").at("edges"), 0)

	// Damage: an fsck problem names what it affects.
	var blob string
	for _, e := range show.at("manifest").items {
		if e.at("path").value == "c.txt" {
			blob = e.at("digest").value.(string)
		}
	}
	obj := p.path(".art/objects/" + blob[:2] + "/" + blob[2:])
	if err := os.Chmod(obj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(obj, []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	f = p.jsonOut(1, "fsck")
	pinKeys(t, "fsck problem", f.at("problems", 0), "id kind detail affects")
	pinKeys(t, "fsck affected", f.at("problems", 0, "affects", 0), "version path")
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	p.write("c.txt", "c")
	p.ok("commit", "fix", "c.txt") // stores the blob again

	// Remotes: push and pull with every strategy's extra keys.
	rem := t.TempDir()
	pinKeys(t, "remote add", p.jsonOut(0, "remote", "add", "origin", rem), "name url")
	pinKeys(t, "remote ls", p.jsonOut(0, "remote", "ls").at(0), "name url")
	push := p.jsonOut(0, "push")
	pinKeys(t, "push", push, "remote artifacts objects bytes")
	pinKeys(t, "push artifact", push.at("artifacts").find("name", "ds"), "name versions up_to_date")
	pinList(t, "push versions (up to date)", p.jsonOut(0, "push").at("artifacts", 0, "versions"), 0)

	q := newProject(t)
	q.ok("remote", "add", "origin", rem)
	pull := q.jsonOut(0, "pull")
	pinKeys(t, "pull", pull, "remote artifacts objects bytes")
	pinKeys(t, "pull artifact", pull.at("artifacts").find("name", "ds"), "name versions runs")
	pinKeys(t, "fetch", q.jsonOut(0, "fetch"), "remote artifacts objects bytes")
	pinList(t, "pull versions (up to date)", q.jsonOut(0, "pull").at("artifacts", 0, "versions"), 0)

	// Both sides gain ds:v2 and move best.
	q.write("q.txt", "q")
	q.ok("commit", "ds", "q.txt")
	q.ok("alias", "add", "ds:v1", "best")
	p.write("p.txt", "p")
	p.ok("commit", "ds", "p.txt")
	p.ok("alias", "add", "ds:v2", "best")
	p.ok("push")
	pinKeys(t, "push skipped", q.jsonOut(0, "push", "ds", "--strategy", "skip").at("artifacts", 0), "name versions up_to_date skipped")
	pushed := q.jsonOut(0, "push", "ds", "--strategy", "new").at("artifacts", 0)
	pinKeys(t, "push after a pull", pushed, "name versions up_to_date pulled")
	pinKeys(t, "push pulled", pushed.at("pulled"), "name versions renumbered alias_conflicts runs")
	pinKeys(t, "renumbered", pushed.at("pulled", "renumbered", 0), "from to id")
	pinKeys(t, "alias conflict", pushed.at("pulled", "alias_conflicts", 0), "alias remote local")

	// p lacks q's ds:v3 and makes a v3 of its own: replace drops q's.
	p.write("p2.txt", "p2")
	p.ok("commit", "ds", "p2.txt")
	pinKeys(t, "push replaced", p.jsonOut(0, "push", "ds", "--strategy", "replace").at("artifacts", 0), "name versions up_to_date replaced")
	pinKeys(t, "pull skipped", q.jsonOut(0, "pull", "ds", "--strategy", "skip").at("artifacts", 0), "name versions skipped runs")
	pinKeys(t, "pull replaced", q.jsonOut(0, "pull", "ds", "--strategy", "replace").at("artifacts", 0), "name versions replaced runs")

	pinKeys(t, "remote rm", p.jsonOut(0, "remote", "rm", "origin"), "removed")
	if out := p.ok("remote", "ls", "--json"); !bytes.Equal([]byte(out), []byte("[]\n")) {
		t.Fatalf("remote ls --json with none: %q, want []", out)
	}
}
