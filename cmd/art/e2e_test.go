package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// wandbProject makes the project of the naming table in the W&B guide.
func wandbProject(t *testing.T) *project {
	p := newProject(t)
	p.write("images/cat.png", "meow")
	p.write("images/dog.png", "woof")
	p.write("checkpoints/model.h5", "checkpoint weights")
	p.write("model.h5", "final weights")
	return p
}

// TestNamingTable checks every row of the W&B naming table that has a CLI
// form (new_file is TestNewFile).
func TestNamingTable(t *testing.T) {
	t.Parallel()
	p := wandbProject(t)
	for i, tc := range []struct {
		call string
		args []string
		want map[string]string // artifact path -> content
	}{
		{"add_file('model.h5')", []string{"model.h5"}, map[string]string{"model.h5": "final weights"}},
		{"add_file('checkpoints/model.h5')", []string{"checkpoints/model.h5"}, map[string]string{"model.h5": "checkpoint weights"}},
		{"add_file('model.h5', name='models/mymodel.h5')", []string{"model.h5=models/mymodel.h5"}, map[string]string{"models/mymodel.h5": "final weights"}},
		{"add_dir('images')", []string{"images"}, map[string]string{"cat.png": "meow", "dog.png": "woof"}},
		{"add_dir('images', name='images')", []string{"images=images"}, map[string]string{"images/cat.png": "meow", "images/dog.png": "woof"}},
		{"add_file('model.h5', name='models/')", []string{"checkpoints/model.h5=models/"}, map[string]string{"models/model.h5": "checkpoint weights"}},
	} {
		t.Run(tc.call, func(t *testing.T) {
			p.t = t
			name := fmt.Sprintf("row%d", i)
			out := p.ok(append([]string{"commit", name}, tc.args...)...)
			if !strings.HasPrefix(out, "created "+name+":v0 (") {
				t.Fatalf("commit printed %q, want created %s:v0", out, name)
			}
			var want []string
			for path := range tc.want {
				want = append(want, path)
			}
			sort.Strings(want)
			if got := manifestPaths(t, p.show(name)); !slices.Equal(got, want) {
				t.Fatalf("manifest %v, want %v", got, want)
			}
			dir := "out-" + name
			p.ok("checkout", name, "-o", dir)
			if got := listFiles(t, p.path(dir)); !slices.Equal(got, want) {
				t.Fatalf("checked out %v, want %v", got, want)
			}
			for path, content := range tc.want {
				if got := p.read(dir + "/" + path); got != content {
					t.Fatalf("%s holds %q, want %q", path, got, content)
				}
			}
		})
	}
}

func TestTwoSourcesToOnePathRefused(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("a.txt", "a")
	p.write("b.txt", "b")
	res := p.fail(1, "commit", "x", "a.txt=f", "b.txt=f")
	if !strings.Contains(res.stderr, `"f"`) {
		t.Fatalf("error does not name the path: %v", res)
	}
	if got := p.artifactNames(); len(got) != 0 {
		t.Fatalf("artifacts after refused commit: %v", got)
	}
	// A directory and a file that overlap are refused too.
	p.write("d/f", "in d")
	p.fail(1, "commit", "x", "d", "a.txt=f")
	if got := p.artifactNames(); len(got) != 0 {
		t.Fatalf("artifacts after refused commit: %v", got)
	}
	// An empty DEST after '=' is a mistake, not a request for the default name.
	for _, args := range [][]string{{"commit", "x", "a.txt="}, {"commit", "x", "--ref", "file:///etc/hostname="}} {
		res := p.fail(1, args...)
		if !strings.Contains(res.stderr, "nothing after '='") {
			t.Fatalf("%v: %v, want a complaint about the empty DEST", args, res)
		}
	}
	if got := p.artifactNames(); len(got) != 0 {
		t.Fatalf("artifacts after refused commit: %v", got)
	}
}

func TestReferenceAndMetadata(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("big.csv", "x,y\n1,2\n")
	p.write("small.txt", "s")
	uri := "file://" + filepath.ToSlash(p.path("big.csv"))
	p.ok("commit", "refs", "small.txt", "--ref", uri+"=data/big.csv", "--ref", "s3://bucket/key.bin",
		"--meta", "epochs=12", "--meta", "lr=0.001", "--meta", "note=hello world", "--meta", `conf={"a":[1,true]}`,
		"-m", "with references")
	v := p.show("refs")
	if got, want := manifestPaths(t, v), []string{"data/big.csv", "key.bin", "small.txt"}; !slices.Equal(got, want) {
		t.Fatalf("manifest %v, want %v", got, want)
	}
	e := manifestEntry(t, v, "data/big.csv")
	if e["ref"] != uri || !strings.HasPrefix(fmt.Sprint(e["digest"]), "blake3:") || fmt.Sprint(e["size"]) != "8" {
		t.Fatalf("file reference entry %v", e)
	}
	if e := manifestEntry(t, v, "key.bin"); e["ref"] != "s3://bucket/key.bin" || e["size"] != nil || e["digest"] != nil {
		t.Fatalf("s3 reference entry %v (want unknown size and digest as null)", e)
	}
	meta, _ := v["metadata"].(map[string]any)
	if fmt.Sprint(meta["epochs"]) != "12" || fmt.Sprint(meta["lr"]) != "0.001" || meta["note"] != "hello world" ||
		fmt.Sprint(meta["conf"]) != "map[a:[1 true]]" {
		t.Fatalf("metadata %v", v["metadata"])
	}
	if v["description"] != "with references" {
		t.Fatalf("description %v", v["description"])
	}
	// The file reference is checked out (and checked); the remote one is not.
	out := p.ok("checkout", "refs", "-o", "co")
	if !strings.Contains(out, "1 reference") {
		t.Fatalf("checkout does not mention the remote reference: %q", out)
	}
	if got, want := listFiles(t, p.path("co")), []string{"data/big.csv", "small.txt"}; !slices.Equal(got, want) {
		t.Fatalf("checked out %v, want %v", got, want)
	}
	p.fail(2, "commit", "refs", "small.txt", "--meta", "novalue")
}

func TestVersionsAndAliases(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "one")

	var c versionMap
	p.json(&c, "commit", "ds", "data", "-a", "best")
	if c["created"] != true || c["version"] != "v0" {
		t.Fatalf("first commit: %v", c)
	}
	id0 := c["id"].(string)

	// Same content: nothing new.
	if out := p.ok("commit", "ds", "data"); out != "unchanged: ds:v0\n" {
		t.Fatalf("same content printed %q", out)
	}
	p.json(&c, "commit", "ds", "data")
	if c["created"] != false || c["version"] != "v0" || c["id"] != id0 {
		t.Fatalf("same content JSON: %v", c)
	}
	if got := p.versions("ds"); !slices.Equal(got, []string{"v0"}) {
		t.Fatalf("versions %v after unchanged commits", got)
	}

	// Changed content: v1, latest moves, best stays.
	p.write("data/a.txt", "two")
	if out := p.ok("commit", "ds", "data"); !regexp.MustCompile(`^created ds:v1 \(1 file, 3 B\) id [0-9a-f]{12}\n$`).MatchString(out) {
		t.Fatalf("second commit printed %q", out)
	}
	if v := p.show("ds:latest"); v["version"] != "v1" {
		t.Fatalf("latest is %v", v["version"])
	}
	if v := p.show("ds:best"); v["version"] != "v0" || !slices.Equal(toStrings(v["aliases"]), []string{"best"}) {
		t.Fatalf("best is %v with aliases %v", v["version"], v["aliases"])
	}
	if v := p.show("ds"); !slices.Equal(toStrings(v["aliases"]), []string{"latest"}) {
		t.Fatalf("v1 aliases %v", v["aliases"])
	}
	// Logging v0's content again matches v0 and leaves latest alone.
	p.write("data/a.txt", "one")
	if out := p.ok("commit", "ds", "data", "-a", "prod"); out != "unchanged: ds:v0\n" {
		t.Fatalf("old content printed %q", out)
	}
	if v := p.show("ds:latest"); v["version"] != "v1" {
		t.Fatalf("latest moved to %v", v["version"])
	}
	if v := p.show("ds:prod"); v["version"] != "v0" {
		t.Fatalf("prod is %v, want the matched v0", v["version"])
	}

	// Moving an alias.
	if out := p.ok("alias", "add", "ds:v1", "best"); out != "ds:best -> ds:v1 (moved from v0)\n" {
		t.Fatalf("alias add printed %q", out)
	}
	if v := p.show("ds:best"); v["version"] != "v1" {
		t.Fatalf("best is %v after moving", v["version"])
	}
	if out := p.ok("alias", "add", "ds:v0", "best"); out != "ds:best -> ds:v0 (moved from v1)\n" {
		t.Fatalf("alias add printed %q", out)
	}
	if v := p.show("ds:v1"); !slices.Equal(toStrings(v["aliases"]), []string{"latest"}) {
		t.Fatalf("v1 aliases %v after best moved away", v["aliases"])
	}
	p.ok("alias", "add", "ds:v1", "best")
	p.ok("alias", "rm", "ds", "prod")
	p.fail(1, "show", "ds:prod")
	p.fail(1, "alias", "rm", "ds", "prod")

	// Lookup by ID prefix.
	if v := p.show("ds@" + id0[:8]); v["version"] != "v0" || v["id"] != id0 {
		t.Fatalf("ds@%s is %v", id0[:8], v)
	}

	// Log text: newest first with aliases.
	log := p.ok("log", "ds")
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "v1  ") || !strings.Contains(lines[0], "[best, latest]") ||
		!strings.HasPrefix(lines[1], "v0  "+id0[:12]) {
		t.Fatalf("log:\n%s", log)
	}
	ls := p.ok("ls")
	if !regexp.MustCompile(`(?m)^NAME +TYPE +LATEST +VERSIONS +ALIASES\nds +dataset +v1 +2 +best:v1$`).MatchString(ls) {
		t.Fatalf("ls:\n%s", ls)
	}

	// Diff.
	p.write("data/new.txt", "new")
	p.ok("commit", "ds", "data")
	if out := p.ok("diff", "ds:v1", "ds:v2"); out != "M a.txt\n+ new.txt\n" {
		t.Fatalf("diff v1 v2:\n%s", out)
	}
	if out := p.ok("diff", "ds:v2", "ds:v1"); out != "M a.txt\n- new.txt\n" {
		t.Fatalf("diff v2 v1:\n%s", out)
	}
	var changes []map[string]any
	p.json(&changes, "diff", "ds:v1", "ds:v2")
	if len(changes) != 2 || changes[0]["op"] != "modified" || changes[1]["op"] != "added" || changes[1]["path"] != "new.txt" {
		t.Fatalf("diff JSON %v", changes)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "one")
	p.ok("commit", "ds", "data")
	p.write("data/a.txt", "two")

	res := p.fail(1, "commit", "ds", "data", "-t", "model")
	if !strings.Contains(res.stderr, "type") {
		t.Fatalf("type mismatch message: %v", res)
	}
	for _, name := range []string{"../x", "-x", "a b", "x/y", ""} {
		p.fail(1, "commit", "--", name, "data")
	}
	for _, alias := range []string{"latest", "v7", "a b"} {
		p.fail(1, "commit", "ds", "data", "-a", alias)
	}
	p.fail(1, "alias", "add", "ds:v0", "latest")
	p.fail(1, "alias", "add", "ds:v0", "v3")
	p.fail(1, "alias", "rm", "ds", "latest")
	p.fail(1, "show", "ds:v9")
	p.fail(1, "show", "nope")
	p.fail(1, "show", "ds@zz")
	p.fail(1, "commit", "ds", "missing-file")

	if got := p.versions("ds"); !slices.Equal(got, []string{"v0"}) {
		t.Fatalf("versions %v after refused commits", got)
	}
	if got := p.artifactNames(); !slices.Equal(got, []string{"ds"}) {
		t.Fatalf("artifacts %v after refused commits", got)
	}
	if v := p.show("ds:v0"); !slices.Equal(toStrings(v["aliases"]), []string{"latest"}) {
		t.Fatalf("aliases %v after refused alias changes", v["aliases"])
	}
	res = p.fail(1, "show", "nope")
	if !strings.Contains(res.stderr, "art ls") {
		t.Fatalf("not-found message does not point to art ls: %v", res)
	}
}

// checkoutProject has ds:v0 = {a.txt, b.txt, sub/c.txt} and
// ds:v1 = {a.txt changed, sub/c.txt, d.txt}.
func checkoutProject(t *testing.T) *project {
	p := newProject(t)
	p.write("data/a.txt", "a0")
	p.write("data/b.txt", "b0")
	p.write("data/sub/c.txt", "c0")
	p.ok("commit", "ds", "data")
	p.write("data/a.txt", "a1")
	os.Remove(p.path("data/b.txt"))
	p.write("data/d.txt", "d1")
	p.ok("commit", "ds", "data")
	return p
}

func TestCheckout(t *testing.T) {
	t.Parallel()
	p := checkoutProject(t)

	out := p.ok("checkout", "ds:v0", "-o", "wd")
	if out != "checked out ds:v0 to wd (3 files: 3 written, 0 skipped, 0 removed)\n" {
		t.Fatalf("first checkout printed %q", out)
	}
	// Again: nothing written.
	var co map[string]any
	p.json(&co, "checkout", "ds:v0", "-o", "wd")
	if fmt.Sprintf("%v %v %v", co["written"], co["skipped"], co["files"]) != "0 3 3" {
		t.Fatalf("second checkout %v", co)
	}

	// Switch in place to v1.
	out = p.ok("checkout", "ds:v1", "-o", "wd")
	if out != "checked out ds:v1 to wd (3 files: 2 written, 1 skipped, 1 removed)\n" {
		t.Fatalf("switch printed %q", out)
	}
	if got, want := listFiles(t, p.path("wd")), []string{"a.txt", "d.txt", "sub/c.txt"}; !slices.Equal(got, want) {
		t.Fatalf("after switch: %v, want %v", got, want)
	}
	if got := p.read("wd/a.txt"); got != "a1" {
		t.Fatalf("a.txt = %q after switch", got)
	}
	p.ok("verify", "ds:v1", "wd")

	// A local edit blocks a switch.
	p.write("wd/a.txt", "my edit")
	res := p.fail(1, "checkout", "ds:v0", "-o", "wd")
	if !strings.Contains(res.stderr, "a.txt") || !strings.Contains(res.stderr, "--force") {
		t.Fatalf("local change message: %v", res)
	}
	if got := p.read("wd/a.txt"); got != "my edit" {
		t.Fatalf("edited file overwritten: %q", got)
	}
	if got, want := listFiles(t, p.path("wd")), []string{"a.txt", "d.txt", "sub/c.txt"}; !slices.Equal(got, want) {
		t.Fatalf("refused checkout changed files: %v", got)
	}

	// verify names the edited file.
	res = p.fail(1, "verify", "ds:v1", "wd")
	if !strings.Contains(res.stdout, "modified  a.txt") {
		t.Fatalf("verify output: %v", res)
	}
	var vr map[string]any
	res = p.run("verify", "ds:v1", "wd", "--json")
	decodeJSON(t, res.stdout, &vr)
	if res.code != 1 || vr["ok"] != false || fmt.Sprint(vr["problems"]) != "[map[path:a.txt problem:modified]]" {
		t.Fatalf("verify --json: %v", res)
	}

	// --force overwrites.
	out = p.ok("checkout", "ds:v0", "-o", "wd", "--force")
	if got := p.read("wd/a.txt"); got != "a0" {
		t.Fatalf("a.txt = %q after --force", got)
	}
	if got, want := listFiles(t, p.path("wd")), []string{"a.txt", "b.txt", "sub/c.txt"}; !slices.Equal(got, want) {
		t.Fatalf("after forced switch: %v, want %v (%s)", got, want, out)
	}
	if out := p.ok("verify", "ds:v0", "wd"); out != "ok: ds:v0 matches wd (3 files)\n" {
		t.Fatalf("verify printed %q", out)
	}

	// --path: one file, one directory.
	p.ok("checkout", "ds:v1", "--path", "d.txt", "-o", "one")
	if got := listFiles(t, p.path("one")); !slices.Equal(got, []string{"d.txt"}) {
		t.Fatalf("--path d.txt: %v", got)
	}
	p.ok("checkout", "ds:v1", "--path", "sub", "-o", "two")
	if got := listFiles(t, p.path("two")); !slices.Equal(got, []string{"sub/c.txt"}) {
		t.Fatalf("--path sub: %v", got)
	}
	p.fail(1, "checkout", "ds:v1", "--path", "nope", "-o", "three")

	// Default directory: ./NAME, relative to the working directory.
	if err := os.Mkdir(p.path("work"), 0o755); err != nil {
		t.Fatal(err)
	}
	res = p.runIn("work", nil, "checkout", "ds")
	if res.code != 0 || res.stdout != "checked out ds:v1 to ds (3 files: 3 written, 0 skipped, 0 removed)\n" {
		t.Fatalf("default checkout: %v", res)
	}
	if got := p.read("work/ds/d.txt"); got != "d1" {
		t.Fatalf("work/ds/d.txt = %q", got)
	}
}

func TestCorruptObjectCaught(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	payload := strings.Repeat("precious bytes ", 1000)
	p.write("data/payload.bin", payload)
	p.write("data/ok.txt", "fine")
	p.ok("commit", "ds", "data")
	digest := manifestEntry(t, p.show("ds"), "payload.bin")["digest"].(string)

	obj := p.path(".art/objects/" + digest[:2] + "/" + digest[2:])
	if err := os.Chmod(obj, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0x04
	if err := os.WriteFile(obj, b, 0o444); err != nil {
		t.Fatal(err)
	}

	res := p.fail(1, "fsck")
	if !strings.Contains(res.stdout, digest) || !strings.Contains(res.stdout, "ds:v0 payload.bin") {
		t.Fatalf("fsck does not name the object and what it affects: %v", res)
	}
	var rep map[string]any
	res = p.run("fsck", "--json")
	decodeJSON(t, res.stdout, &rep)
	probs, _ := rep["problems"].([]any)
	if res.code != 1 || rep["ok"] != false || len(probs) != 1 {
		t.Fatalf("fsck --json: %v", res)
	}
	prob := probs[0].(map[string]any)
	if prob["id"] != digest || prob["kind"] != "corrupt" ||
		fmt.Sprint(prob["affects"]) != "[map[path:payload.bin version:ds:v0]]" {
		t.Fatalf("fsck problem %v", prob)
	}

	res = p.fail(1, "checkout", "ds", "-o", "co")
	if !strings.Contains(res.stderr, "corrupt") {
		t.Fatalf("checkout error: %v", res)
	}
	if _, err := os.Lstat(p.path("co/payload.bin")); !os.IsNotExist(err) {
		t.Fatalf("co/payload.bin exists after a failed checkout (err %v)", err)
	}
	for _, f := range listFiles(t, p.path("co")) {
		got, err := os.ReadFile(p.path("co/" + f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, b) || f != "ok.txt" || string(got) != "fine" {
			t.Fatalf("checkout left %s (%d bytes)", f, len(got))
		}
	}
}

func TestRmAndGC(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "a0")
	p.ok("commit", "ds", "data")
	p.write("data/only-in-v1.bin", "garbage to be")
	p.ok("commit", "ds", "data", "-a", "best")
	gone := manifestEntry(t, p.show("ds:v1"), "only-in-v1.bin")["digest"].(string)
	goneObj := p.path(".art/objects/" + gone[:2] + "/" + gone[2:])

	res := p.fail(1, "rm", "ds:v1")
	if !strings.Contains(res.stderr, "best") || !strings.Contains(res.stderr, "--force") {
		t.Fatalf("rm of an aliased version: %v", res)
	}
	if got := p.versions("ds"); !slices.Equal(got, []string{"v1", "v0"}) {
		t.Fatalf("versions %v after refused rm", got)
	}
	p.ok("rm", "ds:v1", "--force")
	if got := p.versions("ds"); !slices.Equal(got, []string{"v0"}) {
		t.Fatalf("versions %v after rm", got)
	}
	if v := p.show("ds"); v["version"] != "v0" {
		t.Fatalf("latest is %v after rm", v["version"])
	}
	p.fail(1, "show", "ds:best")

	// Numbers are never reused.
	os.Remove(p.path("data/only-in-v1.bin"))
	p.write("data/b.txt", "b2")
	var c versionMap
	p.json(&c, "commit", "ds", "data")
	if c["version"] != "v2" {
		t.Fatalf("commit after deleting v1 made %v, want v2", c["version"])
	}

	// With the default grace period, fresh garbage is kept.
	var g map[string]any
	p.json(&g, "gc")
	if fmt.Sprint(g["deleted"]) != "0" || fmt.Sprint(g["young"]) == "0" {
		t.Fatalf("gc with default grace: %v", g)
	}
	time.Sleep(100 * time.Millisecond) // past gc's allowance for coarse file clocks
	p.json(&g, "gc", "--dry-run", "--grace", "0s")
	if fmt.Sprint(g["deleted"]) != "0" || fmt.Sprint(g["garbage"]) == "0" || g["dry_run"] != true {
		t.Fatalf("gc --dry-run: %v", g)
	}
	if _, err := os.Stat(goneObj); err != nil {
		t.Fatalf("dry run deleted %s: %v", gone, err)
	}
	out := p.ok("gc", "--grace", "0s")
	if !strings.HasPrefix(out, "deleted ") || strings.HasPrefix(out, "deleted 0 ") {
		t.Fatalf("gc printed %q", out)
	}
	if _, err := os.Stat(goneObj); !os.IsNotExist(err) {
		t.Fatalf("garbage object %s still there (err %v)", gone, err)
	}
	p.ok("fsck")
	for _, ref := range []string{"ds:v0", "ds:v2"} {
		dir := "co-" + ref[3:]
		p.ok("checkout", ref, "-o", dir)
		p.ok("verify", ref, dir)
	}
	p.fail(2, "gc", "--grace", "soon")
}

func TestRepositoryDiscovery(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "a")
	p.ok("commit", "ds", "data")
	outside := t.TempDir()
	if err := os.MkdirAll(p.path("deep/er/still"), 0o755); err != nil {
		t.Fatal(err)
	}

	want := []string{"ds"}
	for _, tc := range []struct {
		name string
		dir  string
		env  []string
		args []string
	}{
		{"walk up", p.path("deep/er/still"), nil, nil},
		{"--repo project", outside, nil, []string{"--repo", p.dir}},
		{"--repo .art", outside, nil, []string{"--repo", p.path(".art")}},
		{"--repo relative", p.path("deep"), nil, []string{"--repo", ".."}},
		{"ART_DIR project", outside, []string{"ART_DIR=" + p.dir}, nil},
		{"ART_DIR .art", outside, []string{"ART_DIR=" + p.path(".art")}, nil},
		{"--repo over ART_DIR", outside, []string{"ART_DIR=" + outside}, []string{"--repo", p.dir}},
	} {
		res := p.runIn(tc.dir, tc.env, append([]string{"ls", "--json"}, tc.args...)...)
		if res.code != 0 {
			t.Fatalf("%s: %v", tc.name, res)
		}
		var arts []map[string]any
		decodeJSON(t, res.stdout, &arts)
		if len(arts) != len(want) || arts[0]["name"] != want[0] {
			t.Fatalf("%s: ls %v", tc.name, arts)
		}
	}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"no repository", nil, []string{"ls"}},
		{"--repo not a repository", nil, []string{"ls", "--repo", outside}},
		{"ART_DIR not a repository", []string{"ART_DIR=" + outside}, []string{"ls"}},
	} {
		res := p.runIn(outside, tc.env, tc.args...)
		if res.code != 1 || !strings.HasPrefix(res.stderr, "art: ") || !strings.Contains(res.stderr, "art init") {
			t.Fatalf("%s: %v", tc.name, res)
		}
	}

	res := p.runIn(outside, nil, "init", "sub")
	if res.code != 0 || res.stdout != "initialized empty art repository in "+filepath.Join(outside, "sub", ".art")+"\n" {
		t.Fatalf("init sub: %v", res)
	}
	res = p.runIn(outside, nil, "--repo", "other", "init", "-q")
	if res.code != 0 || res.stdout != "" || !isFile(filepath.Join(outside, "other", ".art", "config")) {
		t.Fatalf("init --repo other: %v", res)
	}
	if res := p.run("init"); res.code != 1 || !strings.Contains(res.stderr, "already exists") {
		t.Fatalf("second init: %v", res)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	for _, args := range [][]string{
		{"ls", "--no-such-flag"},
		{"show"},
		{"show", "a", "b"},
		{"diff", "a"},
		{"frobnicate"},
		{"alias", "frob"},
		{"commit"},
		{"commit", "ds"},
		{"checkout", "ds", "-o"},
	} {
		res := p.run(args...)
		if res.code != 2 || !strings.HasPrefix(res.stderr, "art: ") || !strings.Contains(res.stderr, "Usage:") {
			t.Fatalf("want exit 2 with usage, got %v", res)
		}
		if res.stdout != "" {
			t.Fatalf("usage error wrote to stdout: %v", res)
		}
	}
	if out := p.ok("--version"); !strings.HasPrefix(out, "art ") {
		t.Fatalf("--version printed %q", out)
	}
	if out := p.ok("--help"); !strings.Contains(out, "checkout") {
		t.Fatalf("--help printed %q", out)
	}
	// -q silences status messages but not errors.
	p.write("f.txt", "f")
	if out := p.ok("commit", "-q", "ds", "f.txt"); out != "" {
		t.Fatalf("commit -q printed %q", out)
	}
	p.fail(1, "-q", "show", "nope")
}

func TestConcurrentCommits(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	const n = 8
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range n {
		dir := p.path(fmt.Sprintf("in%d", i))
		writeFile(t, filepath.Join(dir, "shared.txt"), "the same in every version")
		writeFile(t, filepath.Join(dir, "own.txt"), fmt.Sprintf("content of process %d", i))
		cmds[i] = exec.Command(artBin, "commit", "ds", dir)
		cmds[i].Dir = p.dir
		cmds[i].Env = baseEnv()
		outs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	reported := map[string]bool{}
	re := regexp.MustCompile(`^created ds:(v\d+) \(2 files`)
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		m := re.FindStringSubmatch(outs[i].String())
		if m == nil {
			t.Fatalf("process %d printed %q", i, outs[i])
		}
		reported[m[1]] = true
	}
	got := p.versions("ds")
	var want []string
	for i := n - 1; i >= 0; i-- {
		want = append(want, fmt.Sprintf("v%d", i))
	}
	if !slices.Equal(got, want) || len(reported) != n {
		t.Fatalf("versions %v (reported %v), want %v", got, reported, want)
	}
	p.ok("fsck")
}

func TestJSONShapes(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "a")
	p.write("data/sub/b.txt", "bb")

	versionFields := map[string]string{
		"name": "string", "type": "string", "version": "string", "id": "string", "digest": "string",
		"size": "number", "files": "number", "aliases": "list", "description": "string",
		"metadata": "object", "created_at": "string", "producer": "null", "added": "number",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range versionFields {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	var commit map[string]any
	p.json(&commit, "commit", "ds", "data", "-m", "d")
	checkShape(t, "commit", commit, with(map[string]string{"created": "bool"}))
	checkVersionValues(t, commit)

	var show map[string]any
	p.json(&show, "show", "ds:v0")
	checkShape(t, "show", show, with(map[string]string{"manifest": "list"}))
	checkVersionValues(t, show)
	for _, e := range show["manifest"].([]any) {
		checkShape(t, "manifest entry", e.(map[string]any), map[string]string{"path": "string", "size": "number", "digest": "string"})
	}
	if got := manifestPaths(t, show); !slices.Equal(got, []string{"a.txt", "sub/b.txt"}) {
		t.Fatalf("manifest paths %v", got)
	}

	var log []any
	p.json(&log, "log", "ds")
	if len(log) != 1 {
		t.Fatalf("log %v", log)
	}
	checkShape(t, "log", log[0].(map[string]any), versionFields)

	p.ok("alias", "add", "ds", "best")
	var ls []any
	p.json(&ls, "ls")
	if len(ls) != 1 {
		t.Fatalf("ls %v", ls)
	}
	art := ls[0].(map[string]any)
	checkShape(t, "ls", art, map[string]string{"name": "string", "type": "string", "latest": "string", "versions": "number", "aliases": "object"})
	if art["latest"] != "v0" || fmt.Sprint(art["versions"]) != "1" || fmt.Sprint(art["aliases"]) != "map[best:v0]" {
		t.Fatalf("ls %v", art)
	}
	p.ok("rm", "ds", "--force")
	p.json(&ls, "ls")
	checkShape(t, "ls (no versions)", ls[0].(map[string]any), map[string]string{"name": "string", "type": "string", "latest": "null", "versions": "number", "aliases": "object"})

	p.ok("commit", "ds", "data")
	var co map[string]any
	p.json(&co, "checkout", "ds", "-o", "out")
	checkShape(t, "checkout", co, map[string]string{"name": "string", "version": "string", "path": "string",
		"files": "number", "written": "number", "skipped": "number", "removed": "number"})
	if co["name"] != "ds" || co["version"] != "v1" || co["path"] != p.path("out") || fmt.Sprintf("%v %v", co["files"], co["written"]) != "2 2" {
		t.Fatalf("checkout %v", co)
	}

	// Producer comes from ART_RUN_ID, which must name a running run.
	run := p.startRun("--job-type", "train")
	p.write("data/c.txt", "c")
	res := p.runIn("", []string{"ART_RUN_ID=" + run}, "commit", "ds", "data", "--json")
	var prod map[string]any
	decodeJSON(t, res.stdout, &prod)
	if prod["producer"] != run {
		t.Fatalf("producer %v, want %s", prod["producer"], run)
	}
}

// checkShape fails unless m has exactly the fields of want with the JSON
// types named there (string, number, bool, list, object, null).
func checkShape(t *testing.T, what string, m map[string]any, want map[string]string) {
	t.Helper()
	for field, typ := range want {
		v, ok := m[field]
		if !ok {
			t.Fatalf("%s: no field %q in %v", what, field, m)
		}
		if got := jsonType(v); got != typ {
			t.Fatalf("%s: %q is %s (%v), want %s", what, field, got, v, typ)
		}
	}
	for field := range m {
		if _, ok := want[field]; !ok {
			t.Fatalf("%s: unexpected field %q", what, field)
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	default:
		if _, ok := v.(interface{ Int64() (int64, error) }); ok {
			return "number"
		}
		return fmt.Sprintf("%T", v)
	}
}

// checkVersionValues checks the formats of a version object's values.
func checkVersionValues(t *testing.T, v map[string]any) {
	t.Helper()
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if !hex64.MatchString(v["id"].(string)) || !hex64.MatchString(v["digest"].(string)) {
		t.Fatalf("id %v, digest %v: want 64 hex digits", v["id"], v["digest"])
	}
	if !regexp.MustCompile(`^v\d+$`).MatchString(v["version"].(string)) {
		t.Fatalf("version %v", v["version"])
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`).MatchString(v["created_at"].(string)) {
		t.Fatalf("created_at %v: want RFC 3339 UTC", v["created_at"])
	}
	if fmt.Sprint(v["size"], " ", v["files"]) != "3 2" || !slices.Equal(toStrings(v["aliases"]), []string{"latest"}) {
		t.Fatalf("size %v files %v aliases %v", v["size"], v["files"], v["aliases"])
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, s := range l {
		out[i], _ = s.(string)
	}
	return out
}
