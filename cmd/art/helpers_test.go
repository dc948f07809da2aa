package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/artvcs/art/repo/remote/remotetest"
)

// artBin is the art binary TestMain builds once for the end-to-end tests.
var artBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "art-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	artBin = filepath.Join(dir, "art")
	build := exec.Command("go", "build", "-o", artBin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	remotetest.StopMinIO()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the art binary did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("art %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// project is a directory holding an art repository, where the tests run
// the binary.
type project struct {
	t   testing.TB
	dir string
	env []string // extra environment, KEY=VALUE
}

// baseEnv is the test process's environment without anything that would
// point art at another repository or run.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ART_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// newProject makes a temporary directory and runs `art init` in it.
func newProject(t testing.TB) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir()}
	p.ok("init")
	return p
}

// path returns the absolute path of rel inside the project.
func (p *project) path(rel string) string { return filepath.Join(p.dir, filepath.FromSlash(rel)) }

// runIn runs art with args in dir (relative to the project unless
// absolute) with the extra environment env.
func (p *project) runIn(dir string, env []string, args ...string) result {
	p.t.Helper()
	if !filepath.IsAbs(dir) {
		dir = p.path(dir)
	}
	cmd := exec.Command(artBin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(baseEnv(), p.env...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		p.t.Fatalf("run art %v: %v", args, err)
	}
	return res
}

// run runs art with args in the project directory.
func (p *project) run(args ...string) result {
	p.t.Helper()
	return p.runIn("", nil, args...)
}

// ok runs art, fails the test unless it succeeds with nothing on stderr,
// and returns its stdout.
func (p *project) ok(args ...string) string {
	p.t.Helper()
	res := p.run(args...)
	if res.code != 0 || res.stderr != "" {
		p.t.Fatalf("want success, got %v", res)
	}
	return res.stdout
}

// fail runs art and fails the test unless it exits with code and an
// "art: " message on stderr.
func (p *project) fail(code int, args ...string) result {
	p.t.Helper()
	res := p.run(args...)
	if res.code != code {
		p.t.Fatalf("want exit %d, got %v", code, res)
	}
	if !strings.HasPrefix(res.stderr, "art: ") {
		p.t.Fatalf("want an \"art: \" message on stderr, got %v", res)
	}
	return res
}

// json runs art with --json, expects success and decodes stdout into v.
func (p *project) json(v any, args ...string) {
	p.t.Helper()
	out := p.ok(append(args, "--json")...)
	decodeJSON(p.t, out, v)
}

// decodeJSON decodes exactly one JSON document from s into v.
func decodeJSON(t testing.TB, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode JSON: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document:\n%s", s)
	}
}

// write creates the file rel in the project with content.
func (p *project) write(rel, content string) {
	p.t.Helper()
	writeFile(p.t, p.path(rel), content)
}

// read returns the content of the file rel in the project.
func (p *project) read(rel string) string {
	p.t.Helper()
	b, err := os.ReadFile(p.path(rel))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// versionMap is a decoded version object.
type versionMap = map[string]any

// show returns `art show REF --json`.
func (p *project) show(ref string) versionMap {
	p.t.Helper()
	var v versionMap
	p.json(&v, "show", ref)
	return v
}

// manifestPaths returns the paths of a decoded `art show --json`.
func manifestPaths(t testing.TB, v versionMap) []string {
	t.Helper()
	entries, ok := v["manifest"].([]any)
	if !ok {
		t.Fatalf("manifest is %T, want a list", v["manifest"])
	}
	paths := make([]string, len(entries))
	for i, e := range entries {
		paths[i] = e.(map[string]any)["path"].(string)
	}
	return paths
}

// manifestEntry returns the entry at path of a decoded `art show --json`.
func manifestEntry(t testing.TB, v versionMap, path string) map[string]any {
	t.Helper()
	for _, e := range v["manifest"].([]any) {
		if m := e.(map[string]any); m["path"] == path {
			return m
		}
	}
	t.Fatalf("no %s in manifest %v", path, v["manifest"])
	return nil
}

// versions returns the version strings of `art log NAME --json`, newest
// first.
func (p *project) versions(name string) []string {
	p.t.Helper()
	var vs []versionMap
	p.json(&vs, "log", name)
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v["version"].(string)
	}
	return out
}

// artifactNames returns the names `art ls --json` lists.
func (p *project) artifactNames() []string {
	p.t.Helper()
	var arts []map[string]any
	p.json(&arts, "ls")
	out := make([]string, len(arts))
	for i, a := range arts {
		out[i] = a["name"].(string)
	}
	return out
}

// listFiles returns the files under dir, as sorted slash paths relative to
// it.
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
