package worktree

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// memSource serves content from memory, verified like the store's; bad
// holds, per ID, bytes served instead (a damaged object).
type memSource struct {
	data map[objects.ID][]byte
	bad  map[objects.ID][]byte
}

func (s *memSource) add(content string) objects.ID {
	id := objects.Hash([]byte(content))
	if s.data == nil {
		s.data = map[objects.ID][]byte{}
	}
	s.data[id] = []byte(content)
	return id
}

func (s *memSource) Open(ctx context.Context, e Entry) (io.ReadCloser, error) {
	b, ok := s.bad[e.ID]
	if !ok {
		if b, ok = s.data[e.ID]; !ok {
			return nil, objects.ErrNotFound
		}
	}
	return objects.NewVerifyingReader(io.NopCloser(bytes.NewReader(b)), e.ID), nil
}

func (s *memSource) CopyTo(ctx context.Context, e Entry, dst afero.File, progress func(int64)) (int64, bool, error) {
	return 0, false, nil
}

// tree is a checkout directory with its records and a source.
type tree struct {
	t   *testing.T
	fs  afero.Fs
	src *memSource
	x   *Executor
	rs  Records
}

// forEachFs runs f on a real temp directory and on a MemMapFs.
func forEachFs(t *testing.T, f func(t *testing.T, w *tree)) {
	for _, name := range []string{"os", "mem"} {
		t.Run(name, func(t *testing.T) {
			var fsys afero.Fs = afero.NewMemMapFs()
			base := "/w"
			if name == "os" {
				fsys, base = afero.NewOsFs(), t.TempDir()
			}
			root := filepath.Join(base, "out")
			if err := fsys.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			src := &memSource{}
			f(t, &tree{t: t, fs: fsys, src: src,
				x:  &Executor{Fs: fsys, Root: root, Source: src},
				rs: Records{Fs: fsys, Dir: filepath.Join(base, "records")}})
		})
	}
}

// want stores files (path -> content; a path ending in "*" is executable)
// in the source and returns them as entries, sorted by path.
func (w *tree) want(files map[string]string) []Entry {
	var out []Entry
	for _, p := range slices.Sorted(maps.Keys(files)) {
		c := files[p]
		out = append(out, Entry{Path: strings.TrimSuffix(p, "*"), ID: w.src.add(c), Size: int64(len(c)), Exec: strings.HasSuffix(p, "*")})
	}
	return out
}

// plan scans the directory against the record and plans want.
func (w *tree) plan(want []Entry, force bool) (Plan, *State) {
	w.t.Helper()
	st, err := w.rs.Load(w.x.Root)
	if err != nil {
		w.t.Fatal(err)
	}
	disk, err := Scan(context.Background(), w.fs, w.x.Root, want, Removals(want, st, ""), st)
	if err != nil {
		w.t.Fatal(err)
	}
	return NewPlan(Input{Want: want, Disk: disk, State: st, Force: force}), st
}

// checkout scans, plans and runs want with the record protocol.
func (w *tree) checkout(files map[string]string, force bool) (Plan, Result, error) {
	w.t.Helper()
	want := w.want(files)
	p, st := w.plan(want, force)
	res, err := Checkout{Executor: w.x, Records: w.rs, State: st, Name: "ds", Version: 1}.Run(context.Background(), p)
	return p, res, err
}

func (w *tree) mustCheckout(files map[string]string) Result {
	w.t.Helper()
	_, res, err := w.checkout(files, false)
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

func (w *tree) path(p string) string { return filepath.Join(w.x.Root, filepath.FromSlash(p)) }

func (w *tree) read(p string) string {
	w.t.Helper()
	b, err := afero.ReadFile(w.fs, w.path(p))
	if err != nil {
		w.t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

func (w *tree) write(p, content string) {
	w.t.Helper()
	if err := w.fs.MkdirAll(filepath.Dir(w.path(p)), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := afero.WriteFile(w.fs, w.path(p), []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *tree) exists(p string) bool {
	_, err := lstat(w.fs, w.path(p))
	return err == nil
}

// files lists what is under the root: "path" per file, "path/" per
// directory, sorted.
func (w *tree) files() []string {
	w.t.Helper()
	var out []string
	err := afero.Walk(w.fs, w.x.Root, func(p string, info fs.FileInfo, err error) error {
		if err != nil || p == w.x.Root {
			return err
		}
		rel, _ := filepath.Rel(w.x.Root, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *tree) record() *State {
	w.t.Helper()
	st, err := w.rs.Load(w.x.Root)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func counts(r Result) [3]int { return [3]int{r.Written, r.Skipped, r.Removed} }

func TestExecutorWrites(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		v1 := map[string]string{"a.txt": "alpha", "d/e/b.sh*": "#!/bin/sh\n"}
		res := w.mustCheckout(v1)
		if got := counts(res); got != [3]int{2, 0, 0} {
			t.Errorf("written, skipped, removed = %v", got)
		}
		if got, want := w.files(), []string{"a.txt", "d/", "d/e/", "d/e/b.sh"}; !slices.Equal(got, want) {
			t.Errorf("files %q, want %q (no temp files)", got, want)
		}
		if w.read("a.txt") != "alpha" || w.read("d/e/b.sh") != "#!/bin/sh\n" {
			t.Error("wrong content")
		}
		for p, mode := range map[string]fs.FileMode{"a.txt": 0o644, "d/e/b.sh": 0o755} {
			fi, err := lstat(w.fs, w.path(p))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o111 != mode&0o111 {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
			}
			got, want := res.Files[p], FileState{ID: objects.Hash([]byte(w.read(p))), Stat: StatOf(fi)}
			if _, isOS := w.fs.(*afero.OsFs); !isOS {
				// MemMapFs sets a file's mtime again when a closed
				// handle is closed once more (PendingFile.Abort).
				got.MTime, want.MTime = 0, 0
			}
			if got != want {
				t.Errorf("%s: result record %+v, want %+v", p, got, want)
			}
		}
		st := w.record()
		if !maps.Equal(st.Files, res.Files) || st.Name != "ds" || st.Version != 1 {
			t.Errorf("saved record %+v, want the result's files %+v", st, res.Files)
		}
		if len(st.Pending) != 0 {
			t.Errorf("pending record left after a checkout that finished: %v", st.Pending)
		}

		// Again: nothing to do.
		res = w.mustCheckout(v1)
		if got := counts(res); got != [3]int{0, 2, 0} {
			t.Errorf("again: written, skipped, removed = %v", got)
		}
	})
}

func TestExecutorChmod(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		w.mustCheckout(map[string]string{"run.sh*": "echo\n"})
		p, _, err := w.checkout(map[string]string{"run.sh": "echo\n"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if k := p.Actions[0].Kind; k != Chmod {
			t.Fatalf("planned %v, want chmod", k)
		}
		fi, err := lstat(w.fs, w.path("run.sh"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o111 != 0 {
			t.Errorf("mode %v: executable bit still set", fi.Mode())
		}
		if w.read("run.sh") != "echo\n" {
			t.Error("content changed by a chmod")
		}
		if got := w.record().Files["run.sh"].Stat; got.Size != 5 || got.CTime != StatOf(fi).CTime {
			t.Errorf("record stat %+v, want the file's after the chmod %+v", got, StatOf(fi))
		}
	})
}

func TestExecutorRemovesOldFilesAndEmptyDirs(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		w.mustCheckout(map[string]string{"keep": "k", "old/x/y.txt": "y", "old/z.txt": "z", "mixed/gone": "g"})
		w.write("mixed/mine", "the user's")
		_, res, err := w.checkout(map[string]string{"keep": "k"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := counts(res); got != [3]int{0, 1, 3} {
			t.Errorf("written, skipped, removed = %v", got)
		}
		if got, want := w.files(), []string{"keep", "mixed/", "mixed/mine"}; !slices.Equal(got, want) {
			t.Errorf("files %q, want %q", got, want)
		}
		if got, want := res.Dropped, []string{"mixed/gone", "old/x/y.txt", "old/z.txt"}; !slices.Equal(got, want) {
			t.Errorf("dropped %q, want %q", got, want)
		}
		if got := slices.Sorted(maps.Keys(w.record().Files)); !slices.Equal(got, []string{"keep"}) {
			t.Errorf("record of %q, want only keep", got)
		}
		if !w.exists(".") {
			t.Error("the root was removed")
		}
	})
}

func TestExecutorClears(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		// A file of ours where the version now has a directory.
		w.mustCheckout(map[string]string{"a": "file"})
		p, res, err := w.checkout(map[string]string{"a/b": "inside"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Clears(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("clears %q", got)
		}
		if got := counts(res); got != [3]int{1, 0, 1} {
			t.Errorf("written, skipped, removed = %v", got)
		}
		if w.read("a/b") != "inside" {
			t.Error("a/b not written")
		}
		// A directory of ours where it now has a file.
		_, res, err = w.checkout(map[string]string{"a": "a file again"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := counts(res); got != [3]int{1, 0, 1} {
			t.Errorf("back: written, skipped, removed = %v", got)
		}
		if got := w.files(); !slices.Equal(got, []string{"a"}) || w.read("a") != "a file again" {
			t.Errorf("files %q", got)
		}
	})
}

func TestExecutorLeavesConflictsUntouched(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		w.mustCheckout(map[string]string{"a": "alpha", "b": "bravo"})
		before := w.record()
		w.write("a", "the user's edit")
		p, res, err := w.checkout(map[string]string{"a": "ALPHA", "b": "BRAVO", "c": "charlie"}, false)
		if !errors.Is(err, ErrLocalChanges) {
			t.Fatalf("err = %v, want ErrLocalChanges", err)
		}
		if len(p.Conflicts) != 1 || p.Conflicts[0].Path != "a" {
			t.Errorf("conflicts %v", p.Conflicts)
		}
		if got := counts(res); got != [3]int{} {
			t.Errorf("written, skipped, removed = %v, want nothing", got)
		}
		if w.read("a") != "the user's edit" || w.read("b") != "bravo" || w.exists("c") {
			t.Error("a plan with a conflict changed the directory")
		}
		if after := w.record(); !maps.Equal(after.Files, before.Files) || len(after.Pending) != 0 {
			t.Errorf("record changed: %+v", after)
		}
	})
}

func TestExecutorRefusesSymlinkedParent(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	root := filepath.Join(base, "out")
	for _, d := range []string{outside, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := &memSource{}
	fsys := afero.NewOsFs()
	x := &Executor{Fs: fsys, Root: root, Source: src}
	want := []Entry{{Path: "l/f", ID: src.add("data"), Size: 4}}

	// Planned while l was missing; a link appears before the write.
	disk, err := Scan(ctx, fsys, root, want, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlan(Input{Want: want, Disk: disk})
	if err := os.Symlink(outside, filepath.Join(root, "l")); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(ctx, p); !errors.Is(err, ErrLocalChanges) {
		t.Fatalf("write through a link: %v, want ErrLocalChanges", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "f")); err == nil {
		t.Fatal("a file was written through a symbolic link")
	}

	// Scanned with the link: a conflict, unless forced, when the link
	// (not what it points to) is replaced.
	disk, err = Scan(ctx, fsys, root, want, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := disk["l/f"]; d.Kind != Blocked || d.Block != "l" || d.Why != WhyLink {
		t.Fatalf("scan: %+v, want blocked by the link l", d)
	}
	if p := NewPlan(Input{Want: want, Disk: disk}); len(p.Conflicts) != 1 {
		t.Fatalf("unforced plan: conflicts %v", p.Conflicts)
	}
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(ctx, NewPlan(Input{Want: want, Disk: disk, Force: true})); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, "l"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("l is not a real directory now: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || string(b) != "keep" {
		t.Error("clearing the link touched what it pointed to")
	}
	if _, err := os.Lstat(filepath.Join(outside, "f")); err == nil {
		t.Error("a file was written through a symbolic link")
	}
}

func TestExecutorFileAppeared(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		want := w.want(map[string]string{"a": "ours"})
		p, _ := w.plan(want, false)
		w.write("a", "someone's")
		if _, err := w.x.Run(context.Background(), p); !errors.Is(err, ErrLocalChanges) ||
			!strings.Contains(err.Error(), "appeared during the checkout") {
			t.Fatalf("err = %v, want ErrLocalChanges: appeared", err)
		}
		if w.read("a") != "someone's" {
			t.Error("a file that appeared was replaced")
		}
	})
}

func TestExecutorCorruptSourcePending(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		w.mustCheckout(map[string]string{"a": "alpha", "b": "bravo"})
		want := w.want(map[string]string{"a": "ALPHA", "b": "bravo"})
		w.src.bad = map[objects.ID][]byte{want[0].ID: []byte("ALPHa")}
		_, _, err := w.checkout(map[string]string{"a": "ALPHA", "b": "bravo"}, false)
		var ce *objects.CorruptError
		if !errors.Is(err, objects.ErrCorrupt) || !errors.As(err, &ce) || ce.ID != want[0].ID {
			t.Fatalf("err = %v, want a *CorruptError naming a's content", err)
		}
		if w.read("a") != "alpha" {
			t.Error("corrupt bytes reached the file's name")
		}
		if got := w.files(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("files %q (a temp file left?)", got)
		}
		st := w.record()
		if got := st.Pending["a"]; !slices.Equal(got, []objects.ID{want[0].ID}) {
			t.Errorf("pending[a] = %v, want the ID being written", got)
		}
		if st.Files["a"].ID != objects.Hash([]byte("alpha")) {
			t.Error("the old record of a file not rewritten was lost")
		}

		w.src.bad = nil
		res := w.mustCheckout(map[string]string{"a": "ALPHA", "b": "bravo"})
		if got := counts(res); got != [3]int{1, 1, 0} {
			t.Errorf("retry: written, skipped, removed = %v", got)
		}
		if st := w.record(); len(st.Pending) != 0 || st.Files["a"].ID != want[0].ID {
			t.Errorf("after the retry: %+v", st)
		}
	})
}

// TestExecutorBatches: one Executor runs successive plans of one
// directory; their results add up to the record, and progress counts
// over all of them.
func TestExecutorBatches(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		var mu sync.Mutex
		var done, total int64
		w.x.Progress = func(d, t int64) { // called from the writers, in parallel
			mu.Lock()
			done, total = max(done, d), t
			mu.Unlock()
		}
		st := &State{Files: map[string]FileState{}}
		for _, batch := range []map[string]string{{"one/a": "aa", "one/b": "bbb"}, {"two/c": "cccc"}} {
			p, _ := w.plan(w.want(batch), false)
			res, err := w.x.Run(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			res.Apply(st)
		}
		if got := slices.Sorted(maps.Keys(st.Files)); !slices.Equal(got, []string{"one/a", "one/b", "two/c"}) {
			t.Errorf("accumulated record of %q", got)
		}
		if done != 9 || total != 9 {
			t.Errorf("progress %d of %d, want 9 of 9", done, total)
		}
		if w.read("two/c") != "cccc" {
			t.Error("second batch not written")
		}
	})
}

func TestExecutorRemovesStaleTemps(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		now := time.Now()
		w.x.Now = func() time.Time { return now }
		w.write("d/"+TempPrefix+"old", "partial")
		w.write(TempPrefix+"young", "partial")
		w.write("elsewhere/"+TempPrefix+"old", "partial") // a directory the plan does not touch
		stale := now.Add(-StaleTempAge - time.Minute)
		for _, p := range []string{"d/" + TempPrefix + "old", "elsewhere/" + TempPrefix + "old"} {
			if err := w.fs.Chtimes(w.path(p), stale, stale); err != nil {
				t.Fatal(err)
			}
		}
		w.mustCheckout(map[string]string{"d/f": "f"})
		if w.exists("d/" + TempPrefix + "old") {
			t.Error("a stale temp file was left")
		}
		if !w.exists(TempPrefix+"young") || !w.exists("elsewhere/"+TempPrefix+"old") {
			t.Error("a young temp file, or one in a directory the checkout does not touch, was removed")
		}
	})
}

func TestScan(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		w.write("f", "five!")
		w.write("d/x", "x")
		w.write("g", "wrong size")
		want := []Entry{
			{Path: "f", ID: objects.Hash([]byte("five!")), Size: 5},
			{Path: "g", Size: 5},
			{Path: "d", Size: 1},
			{Path: "missing/p", Size: 1},
			{Path: "f/under", Size: 1},
		}
		disk, err := Scan(context.Background(), w.fs, w.x.Root, want, []string{"d/x"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := disk["f"]; d.Kind != File || d.Hash != want[0].ID || d.Stat.Size != 5 {
			t.Errorf("f: %+v, want a file hashed (untracked, of the right size)", d)
		}
		if d := disk["g"]; d.Kind != File || d.Hash != objects.ZeroID {
			t.Errorf("g: %+v, want a file not hashed (untracked, of another size)", d)
		}
		if d := disk["d"]; d.Kind != Dir || !slices.Equal(d.Holds, []string{"d/x"}) || d.HoldsOther {
			t.Errorf("d: %+v, want a directory holding d/x", d)
		}
		if d := disk["missing/p"]; d.Kind != Absent {
			t.Errorf("missing/p: %+v", d)
		}
		if d := disk["f/under"]; d.Kind != Blocked || d.Block != "f" || d.Why != WhyFileAsDir {
			t.Errorf("f/under: %+v", d)
		}
		if d := disk["d/x"]; d.Kind != File || d.Hash != objects.ZeroID {
			t.Errorf("old path d/x: %+v, want a file, not hashed", d)
		}
		if _, ok := w.fs.(*afero.OsFs); !ok {
			return
		}
		if err := os.Symlink(w.path("d"), w.path("l")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(w.path("d"), w.path("d/link")); err != nil {
			t.Fatal(err)
		}
		want = []Entry{{Path: "l", Size: 1}, {Path: "l/x", Size: 1}, {Path: "d", Size: 1}}
		disk, err = Scan(context.Background(), w.fs, w.x.Root, want, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := disk["l"]; d.Kind != Symlink {
			t.Errorf("l: %+v", d)
		}
		if d := disk["l/x"]; d.Kind != Blocked || d.Block != "l" || d.Why != WhyLink {
			t.Errorf("l/x: %+v", d)
		}
		if d := disk["d"]; !d.HoldsOther {
			t.Errorf("d: %+v, want HoldsOther (a link inside)", d)
		}
	})
}

func TestVerify(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		want := w.want(map[string]string{"a": "alpha", "b": "bravo", "c": "charlie", "s/d": "delta"})
		w.write("a", "alpha")
		w.write("b", "BRAVO") // same size
		w.write("s/d", "delta")
		w.write("s/extra", "x")
		w.write(TempPrefix+"123", "partial")
		got, err := Verify(context.Background(), w.fs, w.x.Root, want)
		if err != nil {
			t.Fatal(err)
		}
		exp := []Problem{{"b", Modified}, {"c", Missing}, {"s/extra", Extra}}
		if !slices.Equal(got, exp) {
			t.Errorf("problems %v, want %v", got, exp)
		}
		w.fs.Remove(w.path("s/extra"))
		w.write("b", "bravo")
		w.write("c", "charlie")
		if got, err := Verify(context.Background(), w.fs, w.x.Root, want); err != nil || len(got) != 0 {
			t.Errorf("a right directory: %v, %v", got, err)
		}
	})
}

// TestVerifyShapes compares directories with versions where the two
// disagree about what is a directory: a directory of the version that is
// a file on disk, a file of the version that is a directory on disk, a
// directory the version lacks, a directory beside a file that sorts
// between it and its entries ("a" and "a-b"), and a symbolic link to a
// directory outside, which is not looked into.
func TestVerifyShapes(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		want := w.want(map[string]string{"a/x": "x", "a-b": "ab", "d/y": "y", "f": "f", "l/z": "z"})
		w.write("a/x", "x")
		w.write("a/new", "n")
		w.write("a-b", "ab")
		w.write("d", "a file where a directory goes")
		w.write("f/inner/deep", "a directory where a file goes")
		w.write("other/q", "q")
		exp := []Problem{{"a/new", Extra}, {"d", Extra}, {"d/y", Missing}, {"f", Missing},
			{"f/inner/deep", Extra}, {"l/z", Missing}, {"other/q", Extra}}
		if ln, ok := w.fs.(afero.Symlinker); ok {
			outside := filepath.Join(filepath.Dir(w.x.Root), "outside")
			if err := w.fs.MkdirAll(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := afero.WriteFile(w.fs, filepath.Join(outside, "z"), []byte("z"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := ln.SymlinkIfPossible(outside, w.path("l")); err != nil {
				t.Fatal(err)
			}
			exp = slices.Insert(exp, 5, Problem{"l", Extra})
		}
		got, err := Verify(context.Background(), w.fs, w.x.Root, want)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, exp) {
			t.Errorf("problems\n%v, want\n%v", got, exp)
		}
	})
}

// TestVerifierMisuse: a file or a leave fed outside any directory is an
// error, not a panic.
func TestVerifierMisuse(t *testing.T) {
	v := &Verifier{Fs: afero.NewMemMapFs(), Root: "/x"}
	if err := v.File(context.Background(), Entry{Path: "a"}); err == nil {
		t.Error("File before Enter succeeded")
	}
	if err := v.Leave(context.Background()); err == nil {
		t.Error("Leave before Enter succeeded")
	}
}

// TestExecutorStages runs batches in path order with Stage: a directory
// the checkout creates shows no name of its own, and none of its files,
// until the batches have passed it and Publish names it whole; a
// directory that was there already gets its files one by one, as without
// Stage; the record's stats hold after the rename.
func TestExecutorStages(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		w.x.Stage = true
		w.write("old/keep", "mine")
		st := &State{Files: map[string]FileState{}}
		batches := []map[string]string{
			{"a/x": "ax", "a/y/z": "ayz"},
			{"a/zz": "azz", "new/deep/f": "f"},
			{"old/g": "g", "top": "top"},
		}
		for i, batch := range batches {
			want := w.want(batch)
			p, _ := w.plan(want, false)
			res, err := w.x.Run(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			res.Apply(st)
			switch i {
			case 0:
				// a/ may still get files: nothing of it is visible yet.
				if w.exists("a") || w.exists("a/x") {
					t.Fatalf("after batch 0, a staged directory is visible: %q", w.files())
				}
			case 2:
				if w.read("old/g") != "g" || w.read("top") != "top" {
					t.Fatal("files in directories already there were not written at once")
				}
			}
			if err := w.x.Publish(want[len(want)-1].Path); err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				// Past a/ now; new/ holds the last path of the batch.
				if w.read("a/y/z") != "ayz" || w.read("a/zz") != "azz" {
					t.Fatalf("a/ not published after the batches passed it: %q", w.files())
				}
				if w.exists("new") {
					t.Fatal("new/ published while a later batch may still write in it")
				}
			}
		}
		if err := w.x.Publish(""); err != nil {
			t.Fatal(err)
		}
		wantFiles := []string{"a/", "a/x", "a/y/", "a/y/z", "a/zz", "new/", "new/deep/", "new/deep/f", "old/", "old/g", "old/keep", "top"}
		if got := w.files(); !slices.Equal(got, wantFiles) {
			t.Fatalf("after Publish: %q, want %q", got, wantFiles)
		}
		// The records of staged files vouch for them by their stats after
		// the rename.
		for p, f := range st.Files {
			if !InScope(p, "a") && !InScope(p, "new") {
				continue
			}
			fi, err := lstat(w.fs, w.path(p))
			if err != nil {
				t.Fatal(err)
			}
			if StatOf(fi) != f.Stat {
				t.Errorf("%s: recorded %+v, now %+v", p, f.Stat, StatOf(fi))
			}
		}
	})
}

// TestExecutorStageNameTaken: a directory that appears, while the
// checkout stages it, under the name the staging directory was to take is
// left alone; Publish says so (ErrLocalChanges), and the staged files go.
func TestExecutorStageNameTaken(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		w.x.Stage = true
		p, _ := w.plan(w.want(map[string]string{"d/f": "art's"}), false)
		if _, err := w.x.Run(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		w.write("d/mine", "the user's") // appeared meanwhile
		if err := w.x.Publish(""); !errors.Is(err, ErrLocalChanges) || !strings.Contains(err.Error(), "d") {
			t.Fatalf("Publish over a directory that appeared: %v, want ErrLocalChanges naming d", err)
		}
		if got := w.files(); !slices.Equal(got, []string{"d/", "d/mine"}) {
			t.Fatalf("after the refused Publish: %q, want the user's directory alone", got)
		}
		if w.read("d/mine") != "the user's" {
			t.Fatal("the user's file changed")
		}
	})
}

// TestExecutorStaleStage: a staging directory a killed checkout left is
// removed by a later checkout once it is StaleTempAge old, a young one is
// not, and Verify passes over both.
func TestExecutorStaleStage(t *testing.T) {
	forEachFs(t, func(t *testing.T, w *tree) {
		now := time.Now()
		w.x.Now = func() time.Time { return now }
		old, young := StagePrefix+"1-old", StagePrefix+"2-young"
		w.write(old+"/f", "half")
		w.write(young+"/f", "half")
		stale := now.Add(-StaleTempAge - time.Minute)
		if err := w.fs.Chtimes(w.path(old), stale, stale); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{"f": "f"}
		if probs, err := Verify(context.Background(), w.fs, w.x.Root, w.want(files)); err != nil || len(probs) != 1 {
			t.Fatalf("Verify before the checkout: %v %v, want only f missing", probs, err)
		}
		w.mustCheckout(files)
		if w.exists(old) {
			t.Error("a stale staging directory was left")
		}
		if !w.exists(young + "/f") {
			t.Error("a young staging directory (maybe a running checkout's) was removed")
		}
		if probs, err := Verify(context.Background(), w.fs, w.x.Root, w.want(files)); err != nil || len(probs) != 0 {
			t.Fatalf("Verify took a staging directory for the user's: %v %v", probs, err)
		}
	})
}
