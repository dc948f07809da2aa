package repo_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
)

const (
	benchSmallFiles = 1000
	benchSmallDirs  = 10
	benchSmallSize  = 4 << 10
	benchLargeSize  = 64 << 20
)

// benchEnv is a repository in root/.art on the OS file system, with its
// working data beside it.
type benchEnv struct {
	ctx  context.Context
	r    *repo.Repo
	root string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	root := b.TempDir()
	r, err := repo.Init(ctx, afero.NewOsFs(), filepath.Join(root, ".art"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return &benchEnv{ctx: ctx, r: r, root: root}
}

// smallFiles writes benchSmallFiles deterministic files of benchSmallSize
// bytes, spread over benchSmallDirs directories of root/data, and returns
// the directory and the files' paths.
func (e *benchEnv) smallFiles(b *testing.B) (string, []string) {
	b.Helper()
	dir := filepath.Join(e.root, "data")
	rng := rand.NewChaCha8([32]byte{'s', 'm', 'a', 'l', 'l'})
	buf := make([]byte, benchSmallSize)
	paths := make([]string, 0, benchSmallFiles)
	for i := range benchSmallFiles {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%benchSmallDirs))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		rng.Read(buf)
		p := filepath.Join(sub, fmt.Sprintf("f%04d.bin", i))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	return dir, paths
}

// largeFile writes a deterministic benchLargeSize file into root/big and
// returns the directory and the file's path.
func (e *benchEnv) largeFile(b *testing.B) (string, string) {
	b.Helper()
	dir := filepath.Join(e.root, "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, "model.bin")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.NewChaCha8([32]byte{'l', 'a', 'r', 'g', 'e'}), benchLargeSize); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, p
}

// bump overwrites the first 8 bytes of every file with seq, so the next
// Log stores new content.
func bump(b *testing.B, paths []string, seq uint64) {
	b.Helper()
	var head [8]byte
	binary.LittleEndian.PutUint64(head[:], seq)
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(head[:], 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// log logs dir as the artifact name and checks whether a version was
// created.
func (e *benchEnv) log(b *testing.B, name, dir string, wantCreated bool) {
	b.Helper()
	a := e.r.NewArtifact(name, "dataset")
	if err := a.AddDir(dir, ""); err != nil {
		b.Fatal(err)
	}
	_, created, err := e.r.Log(e.ctx, a, nil)
	if err != nil {
		b.Fatal(err)
	}
	if created != wantCreated {
		b.Fatalf("Log created=%v, want %v", created, wantCreated)
	}
}

// checkout checks name:latest out into dir and checks how many files it
// wrote.
func (e *benchEnv) checkout(b *testing.B, name, dir string, wantWritten int) {
	b.Helper()
	res, err := e.r.Checkout(e.ctx, name+":latest", dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	if res.Written != wantWritten {
		b.Fatalf("checkout wrote %d files, want %d", res.Written, wantWritten)
	}
}

// reportFiles reports files handled per second of timed work.
func reportFiles(b *testing.B, perOp int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(perOp)*float64(b.N)/s, "files/s")
	}
}

// BenchmarkLogSmallFiles logs 1,000 4 KiB files in 10 directories, every
// file changed since the previous version (outside the timed region), so
// each iteration stores 1,000 new blobs, 11 trees and a commit.
func BenchmarkLogSmallFiles(b *testing.B) {
	e := newBenchEnv(b)
	dir, paths := e.smallFiles(b)
	b.SetBytes(benchSmallFiles * benchSmallSize)
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		b.StopTimer()
		seq++
		bump(b, paths, seq)
		b.StartTimer()
		e.log(b, "small", dir, true)
	}
	reportFiles(b, benchSmallFiles)
}

// BenchmarkLogUnchanged re-logs the same 1,000 files: every file is read
// and hashed again, and the existing version is found.
func BenchmarkLogUnchanged(b *testing.B) {
	e := newBenchEnv(b)
	dir, _ := e.smallFiles(b)
	e.log(b, "small", dir, true)
	b.SetBytes(benchSmallFiles * benchSmallSize)
	b.ReportAllocs()
	for b.Loop() {
		e.log(b, "small", dir, false)
	}
	reportFiles(b, benchSmallFiles)
}

// BenchmarkLogLargeFile logs a 64 MiB file whose content changes (in its
// first 8 bytes, outside the timed region) every iteration.
func BenchmarkLogLargeFile(b *testing.B) {
	e := newBenchEnv(b)
	dir, p := e.largeFile(b)
	b.SetBytes(benchLargeSize)
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		b.StopTimer()
		seq++
		bump(b, []string{p}, seq)
		b.StartTimer()
		e.log(b, "large", dir, true)
	}
}

// BenchmarkCheckoutSmallFiles checks 1,000 4 KiB files out into a fresh
// directory each iteration (the previous one is removed untimed).
func BenchmarkCheckoutSmallFiles(b *testing.B) {
	e := newBenchEnv(b)
	dir, _ := e.smallFiles(b)
	e.log(b, "small", dir, true)
	b.SetBytes(benchSmallFiles * benchSmallSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		out := filepath.Join(e.root, fmt.Sprintf("out-%d", i))
		i++
		e.checkout(b, "small", out, benchSmallFiles)
		b.StopTimer()
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportFiles(b, benchSmallFiles)
}

// BenchmarkRecheckout checks the same version out again over an intact
// checkout of 1,000 files: nothing is written.
func BenchmarkRecheckout(b *testing.B) {
	e := newBenchEnv(b)
	dir, _ := e.smallFiles(b)
	e.log(b, "small", dir, true)
	out := filepath.Join(e.root, "out")
	e.checkout(b, "small", out, benchSmallFiles)
	b.ReportAllocs()
	for b.Loop() {
		e.checkout(b, "small", out, 0)
	}
	reportFiles(b, benchSmallFiles)
}

// BenchmarkCheckoutLargeFile checks a 64 MiB file out into a fresh
// directory each iteration (the previous one is removed untimed).
func BenchmarkCheckoutLargeFile(b *testing.B) {
	e := newBenchEnv(b)
	dir, _ := e.largeFile(b)
	e.log(b, "large", dir, true)
	b.SetBytes(benchLargeSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		out := filepath.Join(e.root, fmt.Sprintf("out-%d", i))
		i++
		e.checkout(b, "large", out, 1)
		b.StopTimer()
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkLogInRun measures what a run adds to a commit: each iteration
// logs a new version of a one-file artifact outside any run and another
// inside a running run (the run checked before and inside the version's
// transaction, and its output edge written in it), timing each, and
// reports both and their difference (target: under 2 ms).
func BenchmarkLogInRun(b *testing.B) {
	e := newBenchEnv(b)
	run, err := e.r.StartRun(e.ctx, "train", "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(e.root, "one")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(p, make([]byte, benchSmallSize), 0o644); err != nil {
		b.Fatal(err)
	}
	logOne := func(name string, opts *repo.LogOptions) time.Duration {
		a := e.r.NewArtifact(name, "dataset")
		if err := a.AddDir(dir, ""); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		_, created, err := e.r.Log(e.ctx, a, opts)
		d := time.Since(start)
		if err != nil || !created {
			b.Fatalf("Log %s: created=%v, %v", name, created, err)
		}
		return d
	}
	var seq uint64
	var outside, inside time.Duration
	for b.Loop() {
		b.StopTimer()
		seq++
		bump(b, []string{p}, seq)
		b.StartTimer()
		outside += logOne("outside", nil)
		b.StopTimer()
		seq++
		bump(b, []string{p}, seq)
		b.StartTimer()
		inside += logOne("inside", &repo.LogOptions{Run: run.ID})
	}
	n := float64(b.N)
	b.ReportMetric(float64(outside.Microseconds())/n/1000, "outside-ms")
	b.ReportMetric(float64(inside.Microseconds())/n/1000, "inside-ms")
	b.ReportMetric(float64((inside-outside).Microseconds())/n/1000, "extra-ms")
}
