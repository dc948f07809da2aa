package repo_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo"
)

// forEachFs runs fn as a subtest on an in-memory file system (in-memory
// SQLite) and on the OS file system under t.TempDir() (a real SQLite file).
func forEachFs(t *testing.T, fn func(t *testing.T, fsys afero.Fs, root string)) {
	t.Helper()
	t.Run("mem", func(t *testing.T) {
		t.Parallel()
		fn(t, afero.NewMemMapFs(), "/work")
	})
	t.Run("os", func(t *testing.T) {
		t.Parallel()
		fn(t, afero.NewOsFs(), t.TempDir())
	})
}

// forEachFsSerial is forEachFs with the subtests one after the other, for
// tests that measure the process (memory).
func forEachFsSerial(t *testing.T, fn func(t *testing.T, fsys afero.Fs, root string)) {
	t.Helper()
	t.Run("mem", func(t *testing.T) { fn(t, afero.NewMemMapFs(), "/work") })
	t.Run("os", func(t *testing.T) { fn(t, afero.NewOsFs(), t.TempDir()) })
}

// onlyOs runs fn on the OS file system only (symbolic links, real modes,
// several processes).
func onlyOs(t *testing.T, fn func(t *testing.T, fsys afero.Fs, root string)) {
	t.Helper()
	t.Parallel()
	fn(t, afero.NewOsFs(), t.TempDir())
}

// clock is a settable time source for repo.Options.Now. It starts at the
// real time so that file modification times written by the file system
// agree with it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newRepo initialises a repository in root/.art, closed when the test ends.
func newRepo(t testing.TB, fsys afero.Fs, root string) (*repo.Repo, *clock) {
	t.Helper()
	c := newClock()
	r, err := repo.Init(context.Background(), fsys, filepath.Join(root, ".art"), &repo.Options{Now: c.Now})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, c
}

// files is a directory's content: path (slash-separated) -> content.
type files map[string]string

// writeFiles creates each file under dir with mode 0644 (0755 for names
// ending in ".sh").
func writeFiles(t testing.TB, fsys afero.Fs, dir string, fs files) {
	t.Helper()
	for p, content := range fs {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		writeFile(t, fsys, filepath.Join(dir, filepath.FromSlash(p)), content, mode)
	}
}

func writeFile(t testing.TB, fsys afero.Fs, name, content string, mode os.FileMode) {
	t.Helper()
	if err := fsys.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(fsys, name, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, fsys afero.Fs, name string) string {
	t.Helper()
	b, err := afero.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// logDir logs the files fs (written to a fresh source directory) as a
// version of name.
func logDir(t testing.TB, r *repo.Repo, name string, fs files, opts *repo.LogOptions) (repo.Version, bool) {
	t.Helper()
	src, err := afero.TempDir(r.Fs(), filepath.Dir(r.Dir()), "src-")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, r.Fs(), src, fs)
	a := r.NewArtifact(name, "dataset")
	if err := a.AddDir(src, ""); err != nil {
		t.Fatalf("AddDir: %v", err)
	}
	v, created, err := r.Log(context.Background(), a, opts)
	if err != nil {
		t.Fatalf("Log %s: %v", name, err)
	}
	return v, created
}

// snapshot returns every entry under dir, without following symbolic
// links: files as "mode content", directories as "dir", links as
// "-> target".
func snapshot(t testing.TB, fsys afero.Fs, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := afero.Walk(fsys, dir, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case info.IsDir():
			out[rel] = "dir"
		default:
			b, err := afero.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			out[rel] = info.Mode().Perm().String() + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

// fileSnapshot is snapshot restricted to regular files, without modes:
// path -> content.
func fileSnapshot(t testing.TB, fsys afero.Fs, dir string) files {
	t.Helper()
	out := files{}
	for p, s := range snapshot(t, fsys, dir) {
		if s == "dir" || strings.HasPrefix(s, "-> ") {
			continue
		}
		_, content, _ := strings.Cut(s, " ")
		out[p] = content
	}
	return out
}

func equalFiles(t testing.TB, got, want files) {
	t.Helper()
	var problems []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			problems = append(problems, "missing "+p)
		} else if g != w {
			problems = append(problems, p+": got "+quote(g)+", want "+quote(w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			problems = append(problems, "extra "+p)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		t.Fatalf("files differ:\n  %s", strings.Join(problems, "\n  "))
	}
}

func quote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return "\"" + s + "\""
}

// objectIDs lists the repository's objects.
func objectIDs(t testing.TB, r *repo.Repo) map[objects.ID]bool {
	t.Helper()
	ids := map[objects.ID]bool{}
	if err := r.Store().List(context.Background(), func(i objects.Info) error {
		ids[i.ID] = true
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	return ids
}

func countObjects(t testing.TB, r *repo.Repo) int { t.Helper(); return len(objectIDs(t, r)) }

func objectPath(t testing.TB, r *repo.Repo, id objects.ID) string {
	t.Helper()
	s, ok := r.Store().(*objects.FSStore)
	if !ok {
		t.Fatalf("store is %T, want *objects.FSStore", r.Store())
	}
	return s.Path(id)
}

// flipBit damages the stored object id, loose or packed: one bit of its
// middle byte.
func flipBit(t testing.TB, r *repo.Repo, id objects.ID) {
	t.Helper()
	p, off, size, err := r.Store().(*objects.FSStore).Locate(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Fs().Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := afero.ReadFile(r.Fs(), p)
	if err != nil {
		t.Fatal(err)
	}
	b[off+size/2] ^= 0x10
	if err := afero.WriteFile(r.Fs(), p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Fs().Chmod(p, 0o444); err != nil {
		t.Fatal(err)
	}
}

// removeObject deletes an object behind the repository's back: its file,
// or its entry in a pack.
func removeObject(t testing.TB, r *repo.Repo, id objects.ID) {
	t.Helper()
	if err := r.Store().(*objects.FSStore).Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

// entry returns the manifest entry at p of v.
func entry(t testing.TB, v repo.Version, p string) repo.ManifestEntry {
	t.Helper()
	e, err := v.GetPath(context.Background(), p)
	if err != nil {
		t.Fatalf("GetPath(%q): %v", p, err)
	}
	return e
}

func manifestPaths(t testing.TB, v repo.Version) []string {
	t.Helper()
	m, err := v.Manifest(context.Background())
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	ps := make([]string, len(m))
	for i, e := range m {
		ps[i] = e.Path
	}
	return ps
}

func mustResolve(t testing.TB, r *repo.Repo, ref string) repo.Version {
	t.Helper()
	v, err := r.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", ref, err)
	}
	return v
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

// noTemps fails if any checkout temp file is left under dir.
func noTemps(t testing.TB, fsys afero.Fs, dir string) {
	t.Helper()
	for p := range snapshot(t, fsys, dir) {
		if strings.Contains(filepath.Base(p), ".art-tmp-") {
			t.Errorf("temp file left behind: %s", p)
		}
	}
}

func hashOf(s string) objects.ID { return objects.Hash([]byte(s)) }

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// addDirRefused adds dir to a fresh artifact name and logs it, and fails
// unless AddDir (which checks the directory itself) or Log (which lists
// what it holds) refuses it with target and no version of name is recorded.
func addDirRefused(t testing.TB, r *repo.Repo, name, dir string, target error) {
	t.Helper()
	ctx := context.Background()
	a := r.NewArtifact(name, "dataset")
	err := a.AddDir(dir, "")
	if err == nil {
		_, _, err = r.Log(ctx, a, nil)
	}
	wantErr(t, fmt.Sprintf("AddDir+Log of %s", dir), err, target)
	if _, err := r.Resolve(ctx, name+":latest"); !errors.Is(err, repo.ErrVersionNotFound) {
		t.Fatalf("after a refused AddDir of %s, %s:latest: %v, want not found", dir, name, err)
	}
}
