package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
)

// TestNewFile covers the new_file row of the W&B naming table, which has
// no CLI form, through the library.
func TestNewFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := repo.Init(ctx, afero.NewOsFs(), filepath.Join(t.TempDir(), repo.DirName), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := r.NewArtifact("notes", "dataset")
	w, err := a.NewFile(ctx, "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	v, created, err := r.Log(ctx, a, nil)
	if err != nil || !created {
		t.Fatalf("Log: %v, created %v", err, created)
	}
	m, err := v.Manifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || m[0].Path != "hello.txt" || m[0].Size != 5 {
		t.Fatalf("manifest %+v, want hello.txt (5 bytes)", m)
	}
}

// inProcess runs art commands in-process in dir, as a test would drive
// the CLI without a binary.
type inProcess struct {
	t   *testing.T
	dir string
	env map[string]string
}

func (p *inProcess) run(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	var out, errb bytes.Buffer
	a := &app{
		stdout:           &out,
		stderr:           &errb,
		getenv:           func(k string) string { return p.env[k] },
		wd:               p.dir,
		stderrIsTerminal: func() bool { return false },
	}
	err := a.execute(context.Background(), args)
	if err != nil {
		a.printError(err)
	}
	return out.String(), errb.String(), exitCode(err)
}

func TestInProcess(t *testing.T) {
	t.Parallel()
	p := &inProcess{t: t, dir: t.TempDir()}
	writeFile(t, filepath.Join(p.dir, "data", "x.txt"), "x")

	if out, errs, code := p.run("init"); code != 0 || !strings.HasSuffix(out, filepath.Join(p.dir, ".art")+"\n") {
		t.Fatalf("init: %d %q %q", code, out, errs)
	}
	if out, errs, code := p.run("commit", "ds", "data", "-a", "best"); code != 0 || !strings.HasPrefix(out, "created ds:v0 (1 file, 1 B) id ") {
		t.Fatalf("commit: %d %q %q", code, out, errs)
	}
	// Relative paths are resolved against the app's directory, not the
	// process's.
	if out, errs, code := p.run("checkout", "ds:best"); code != 0 || out != "checked out ds:v0 to ds (1 file: 1 written, 0 skipped, 0 removed)\n" {
		t.Fatalf("checkout: %d %q %q", code, out, errs)
	}
	if got := listFiles(t, filepath.Join(p.dir, "ds")); !slices.Equal(got, []string{"x.txt"}) {
		t.Fatalf("checked out %v", got)
	}
	if _, errs, code := p.run("show", "ds:v1"); code != 1 || !strings.HasPrefix(errs, "art: not found") || !strings.Contains(errs, "art log NAME") {
		t.Fatalf("show ds:v1: %d %q", code, errs)
	}
	if _, errs, code := p.run("log"); code != 2 || !strings.Contains(errs, "Usage:") {
		t.Fatalf("log without NAME: %d %q", code, errs)
	}

	other := &inProcess{t: t, dir: t.TempDir(), env: map[string]string{"ART_DIR": p.dir}}
	if out, errs, code := other.run("ls"); code != 0 || !strings.Contains(out, "best:v0") {
		t.Fatalf("ls with ART_DIR: %d %q %q", code, out, errs)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestProgress(t *testing.T) {
	t.Parallel()
	newApp := func(w io.Writer, terminal bool, delay time.Duration) *app {
		return &app{stderr: w, stderrIsTerminal: func() bool { return terminal }, progressDelay: delay}
	}

	// Not a terminal, or quiet, or JSON: no progress function at all.
	var buf syncBuffer
	if f, _ := newApp(&buf, false, 0).progress("x"); f != nil {
		t.Fatal("progress on a non-terminal")
	}
	a := newApp(&buf, true, 0)
	a.global.quiet = true
	if f, _ := a.progress("x"); f != nil {
		t.Fatal("progress with -q")
	}
	a = newApp(&buf, true, 0)
	a.global.json = true
	if f, _ := a.progress("x"); f != nil {
		t.Fatal("progress with --json")
	}

	// A quick operation draws nothing.
	f, done := newApp(&buf, true, time.Hour).progress("quick")
	f(10, 100)
	done()
	if buf.String() != "" {
		t.Fatalf("quick operation drew %q", buf.String())
	}

	// A slow one draws bytes from many goroutines; updates after the end
	// are ignored.
	f, done = newApp(&buf, true, 0).progress("storing")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				f(int64(i*100+j)*1024, 800*1024)
			}
		}()
	}
	wg.Wait()
	time.Sleep(150 * time.Millisecond) // past the bar's throttle
	f(800*1024, 800*1024)
	done()
	f(1, 1)
	if out := buf.String(); !strings.Contains(out, "storing") || !strings.Contains(out, "KiB") {
		t.Fatalf("progress drew %q", out)
	}
}

// TestShowJSONStreamed prints `art show --json` of versions (files whose
// names JSON would escape, a directory beside a file that sorts between
// it and its entries, a reference, no file at all) entry by entry, and
// compares it byte for byte with the one document printJSON prints of the
// version and its whole manifest.
func TestShowJSONStreamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	r, err := repo.Init(ctx, afero.NewOsFs(), filepath.Join(dir, repo.DirName), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := r.NewArtifact("ds", "dataset")
	for name, content := range map[string]string{"a/b": "b", "a-b<&>": "x", `q"uote`: "q", "a0": ""} {
		w, err := a.NewFile(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AddReference(ctx, "https://example.com/data.csv", "ref/data.csv"); err != nil {
		t.Fatal(err)
	}
	a.Metadata = map[string]any{"k": "<v>"}
	full, _, err := r.Log(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty, _, err := r.Log(ctx, r.NewArtifact("empty", "dataset"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []repo.Version{full, empty} {
		var streamed, whole bytes.Buffer
		if err := (&app{stdout: &streamed}).printShowJSON(ctx, v); err != nil {
			t.Fatal(err)
		}
		m, err := v.Manifest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := (&app{stdout: &whole}).printJSON(struct {
			versionJSON
			Manifest []manifestEntryJSON `json:"manifest"`
		}{newVersionJSON(v), newManifestJSON(m)}); err != nil {
			t.Fatal(err)
		}
		if streamed.String() != whole.String() {
			t.Errorf("%s: streamed\n%s\nwant\n%s", v.Ref(), streamed.String(), whole.String())
		}
	}
}
