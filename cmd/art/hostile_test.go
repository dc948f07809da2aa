package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// treeState lists everything under dir without following links — files
// with their content, directories, links with their target — leaving out
// the index database, which SQLite may touch on any read.
func treeState(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".", strings.HasPrefix(rel, ".art/index.db"):
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameState(t testing.TB, what string, before, after map[string]string) {
	t.Helper()
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
	if len(d) > 0 {
		t.Fatalf("%s changed files: %s", what, strings.Join(d, ", "))
	}
}

// failClean runs art, wants exit code code with a short "art: " message
// holding no raw control character (one final newline aside) beyond the
// arguments echoed back, and nothing changed in the project.
func (p *project) failClean(code int, args ...string) result {
	p.t.Helper()
	before := treeState(p.t, p.dir)
	res := p.run(args...)
	if res.code != code || !strings.HasPrefix(res.stderr, "art: ") {
		p.t.Fatalf("want exit %d with an \"art: \" message, got %.2000v", code, res)
	}
	// The user's own arguments may come back as typed (that is their
	// text, not data from a tree, a directory or a remote): judge the
	// rest of the message.
	msg := strings.TrimSuffix(res.stderr, "\n")
	for _, a := range args {
		if len(a) > 2 {
			msg = strings.ReplaceAll(msg, a, "ARG")
		}
	}
	if code == 1 && (strings.Contains(msg, "\n") || len(msg) > 600) {
		p.t.Errorf("art %.80q: want one short line on stderr, got %d bytes: %.300q", args, len(msg), msg)
	}
	for _, r := range msg {
		if unicode.IsControl(r) && r != '\n' {
			p.t.Errorf("art %.80q: stderr holds control character %U: %.300q", args, r, msg)
			break
		}
	}
	sameState(p.t, "art "+strings.Join(args, " "), before, treeState(p.t, p.dir))
	return res
}

// badRefNames are artifact names (and aliases) the CLI must refuse before
// anything is created. NUL cannot be passed in argv.
var badRefNames = []string{
	"../x", "..", ".", "a//b", "a/b", "/abs", "x.lock", "x.", ".x", ".art", "a..b", "a b", "a:b:c", "a@b", "@x", ":x",
	"\x1b[31mred", "a\tb", "a\nb", "a\r", "ünï", "ｘ", "a\u200bb", strings.Repeat("n", 129), strings.Repeat("n", 10<<10),
	"a\\b", "C:x", "x*", "a~1",
}

func TestHostileArtifactNames(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "one")
	p.ok("commit", "ds", "data")
	p.ok("checkout", "ds", "-o", "co")
	for _, name := range append(badRefNames, "") {
		res := p.failClean(1, "commit", "--", name, "data")
		if !strings.Contains(res.stderr, "invalid") {
			t.Errorf("commit %.40q: %q does not say what is invalid", name, res.stderr)
		}
		p.failClean(1, "commit", "ds", "data", "-a", name)
		p.failClean(1, "commit", "ds", "data", "-t", name)
		p.failClean(1, "checkout", "--", name)
		p.failClean(1, "checkout", "--", name+":v0")
		p.failClean(1, "checkout", "--", "ds:"+name)
		p.failClean(1, "alias", "add", "--", "ds:v0", name)
		p.failClean(1, "alias", "add", "--", name+":v0", "best")
	}
	// A name that looks like an option is a usage error unless after --.
	for _, name := range []string{"-x", "--x", "-"} {
		if name != "-" {
			p.failClean(2, "commit", name, "data")
			p.failClean(2, "checkout", name)
		}
		p.failClean(1, "commit", "--", name, "data")
		p.failClean(1, "checkout", "--", name)
	}
	for _, ref := range []string{"ds@../x", "ds@abc", "ds@ABCD", "ds:v0:v1", "ds:v0@abcd", "ds@", "ds:", "ds:latest."} {
		p.failClean(1, "checkout", ref)
		p.failClean(1, "alias", "add", ref, "best")
	}
	if got := p.artifactNames(); len(got) != 1 || got[0] != "ds" {
		t.Fatalf("artifacts %v after refused commands", got)
	}
	if got := p.versions("ds"); len(got) != 1 {
		t.Fatalf("versions %v after refused commands", got)
	}
}

// TestHostileDestinations: `art commit NAME PATH=DEST` and --path refuse
// every DEST no tree may hold, before anything is written.
func TestHostileDestinations(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("f.txt", "content")
	p.write("data/a.txt", "one")
	p.ok("commit", "ds", "f.txt")
	for _, dest := range []string{
		"../x", "../../x", "x/../../y", "/abs", "/", ".art/x", ".art", ".ART/config", ".Art", "．ａｒｔ/x", ".a\u200brt/x",
		".art./x", "ART~1/x", "a\\b", "C:x", "trailing.", "trailing ", "x/trailing./y", "a\tb", "name\r", "\x1b[2J",
		"..\u200c/x", strings.Repeat("n", 256), strings.Repeat("d/", 257) + "f",
	} {
		res := p.failClean(1, "commit", "ds", "f.txt="+dest)
		if !strings.Contains(res.stderr, "invalid path") && !strings.Contains(res.stderr, "file name too long") {
			t.Errorf("commit f.txt=%.40q: %q does not say the path is invalid", dest, res.stderr)
		}
		p.failClean(1, "commit", "ds", "data="+dest)
		p.failClean(1, "commit", "ds", "--ref", "s3://b/k="+dest)
		p.failClean(1, "checkout", "ds", "-o", "co", "--path", dest)
	}
	// Two sources one case- or normalisation-insensitive file system
	// takes for one file.
	for _, pair := range [][2]string{{"A.txt", "a.txt"}, {"\u00e9", "e\u0301"}, {"K", "\u212a"}} {
		p.failClean(1, "commit", "ds", "f.txt="+pair[0], "data/a.txt="+pair[1])
	}
	if got := p.versions("ds"); len(got) != 1 {
		t.Fatalf("versions %v after refused commits", got)
	}
}

// TestHostileSourceFileNames: a directory holding a file whose name no
// tree may hold is refused whole, the name shown escaped.
func TestHostileSourceFileNames(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/ok.txt", "fine")
	p.ok("commit", "ds", "data")
	for _, name := range []string{"a\nb", "\x1b[31mred", "name\r", ".ART", "trailing.", "．ａｒｔ", "gpj.\u202eexe", "a\\b"} {
		dir := filepath.Join(p.dir, "bad")
		os.RemoveAll(dir)
		writeFile(t, filepath.Join(dir, "ok.txt"), "fine")
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := p.failClean(1, "commit", "ds", "bad")
		if !strings.Contains(res.stderr, "invalid path") {
			t.Errorf("commit of a directory holding %q: %q", name, res.stderr)
		}
	}
	if got := p.versions("ds"); len(got) != 1 {
		t.Fatalf("versions %v after refused commits", got)
	}
}

// TestCheckoutSymlinkOutside: `art checkout` into a directory where a link
// points outside writes nothing through it, with or without --force.
func TestCheckoutSymlinkOutside(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.write("data/a.txt", "alpha")
	p.write("data/dir/b.txt", "bravo")
	p.ok("commit", "ds", "data")
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "keep.txt"), "keep me")
	if err := os.MkdirAll(p.path("co"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, p.path("co/dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "keep.txt"), p.path("co/a.txt")); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, outside)
	res := p.failClean(1, "checkout", "ds", "-o", "co")
	if !strings.Contains(res.stderr, "symbolic link") {
		t.Errorf("checkout over links: %q does not name the links", res.stderr)
	}
	p.ok("checkout", "ds", "-o", "co", "--force")
	sameState(t, "checkout --force over links", before, treeState(t, outside))
	for _, f := range []string{"co/a.txt", "co/dir", "co/dir/b.txt"} {
		if fi, err := os.Lstat(p.path(f)); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			t.Errorf("%s after checkout --force: %v, %v", f, fi, err)
		}
	}
	if got := p.read("co/dir/b.txt"); got != "bravo" {
		t.Errorf("co/dir/b.txt = %q", got)
	}
}
