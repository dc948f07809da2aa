package repo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/chunker"
	"github.com/artvcs/art/repo"
	"github.com/artvcs/art/repo/remote"
)

// These tests run a pull, and a checkout of a fetched version (which
// fetches its files lazily), through faulttest.Fs at every injection
// point, with the machinery of fault_test.go (runFaultCase): repository
// B, on the faulty file system, takes from a directory remote what
// repository A (on the OS file system, not under test) pushed there.
// The remote is shared, read only, by every point.
//
// At every point the pull either succeeds, and B then holds A's two
// versions (the same commits, checking out equal to their sources, with
// A's alias and run), or it returns an error that wraps the injected
// fault and records no version. Afterwards, and after a power loss, Fsck
// is clean (garbage is allowed; every chunk list in the store names only
// stored chunks) and every version B lists is one of A's (after a crash,
// each checks out intact); pulling again without faults brings both
// versions, checking out intact.

// The versions A pushes: a chunked file (5 KiB: two or three chunks) that
// v1 changes in the middle, so that they share a chunk, a file v1 keeps
// and one it changes, in a subdirectory. Small, since every object a pull
// stores is twenty-odd injection points.
var (
	pullChunking = repo.Chunking{Algorithm: chunker.Algorithm, MinFileSize: 4 << 10,
		Params: chunker.Params{Min: 1024, Avg: 2048, Max: 4096}}
	pullBig0 = randString(11, 5<<10)
	pullBig1 = pullBig0[:2<<10] + randString(12, 256) + pullBig0[2<<10+256:]
	pullV0   = files{"a.txt": "alpha", "dir/b.txt": "bravo", "big.bin": pullBig0}
	pullV1   = files{"a.txt": "alpha", "dir/b.txt": "bravo, changed", "big.bin": pullBig1}
)

// pullSource is repository A's side: the remote it pushed to and what it
// holds.
type pullSource struct {
	tr      remote.Transport
	sources map[string]files      // "data:v0" -> the files it checks out as
	commits map[string]objects.ID // "data:v0" -> its commit
	run     string                // the run that produced data:v1

	// results holds, per point, what its Pull returned.
	results sync.Map // *faultEnv -> repo.PullResult
}

// newPullSource makes repository A with data:v0 (pullV0) and data:v1
// (pullV1, logged by a run that used v0, aliased "best") and pushes them
// to a directory remote.
func newPullSource(t *testing.T) *pullSource {
	t.Helper()
	ctx := context.Background()
	ch := pullChunking
	a, err := repo.Init(ctx, afero.NewOsFs(), filepath.Join(t.TempDir(), "a", ".art"),
		&repo.Options{Now: newClock().Now, Chunking: &ch})
	if err != nil {
		t.Fatalf("Init A: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	tr, _ := sharedRemote(t)
	a.SetTransport("origin", tr)
	v0, _ := logDir(t, a, "data", pullV0, nil)
	run := startRun(t, a, "train", "fit", nil)
	if _, err := run.UseArtifact(ctx, "data:v0"); err != nil {
		t.Fatal(err)
	}
	v1, _, err := run.LogArtifact(ctx, artifactOf(t, a, "data", "dataset", pullV1), &repo.LogOptions{Aliases: []string{"best"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	l0, l1 := chunkList(t, a, entry(t, v0, "big.bin").Digest), chunkList(t, a, entry(t, v1, "big.bin").Digest)
	shared := func(c objects.Chunk) bool {
		return slices.ContainsFunc(l0.Chunks, func(d objects.Chunk) bool { return c.ID == d.ID })
	}
	if len(l0.Chunks) < 2 || !slices.ContainsFunc(l1.Chunks, shared) || !slices.ContainsFunc(l1.Chunks, func(c objects.Chunk) bool { return !shared(c) }) {
		t.Fatalf("big.bin: %d chunks in v0, %d in v1: want a few, some shared, some not", len(l0.Chunks), len(l1.Chunks))
	}
	push(t, a)
	return &pullSource{
		tr:      tr,
		sources: map[string]files{"data:v0": pullV0, "data:v1": pullV1},
		commits: map[string]objects.ID{"data:v0": v0.Version.Commit, "data:v1": v1.Version.Commit},
		run:     run.ID,
	}
}

// record returns the refs of the versions B lists (sorted), failing the
// test unless each is one of A's under the same number, and adds them to
// the versions checkIntact checks out.
func (s *pullSource) record(t *testing.T, e *faultEnv, at string) []string {
	t.Helper()
	vs, err := e.r.Versions(e.ctx, "data")
	if err != nil && !errors.Is(err, repo.ErrVersionNotFound) {
		t.Fatalf("%s: versions: %v", at, err)
	}
	var got []string
	for _, v := range vs {
		ref := v.Ref()
		if want, ok := s.commits[ref]; !ok || v.Version.Commit != want {
			t.Fatalf("%s: B lists %s as commit %s, which is not A's", at, ref, v.Version.Commit.Short())
		}
		e.versions[ref] = s.sources[ref]
		got = append(got, ref)
	}
	slices.Sort(got)
	return got
}

// checkComplete fails the test unless B holds both of A's versions, with
// A's alias and run.
func (s *pullSource) checkComplete(t *testing.T, e *faultEnv, at string) {
	t.Helper()
	if got := s.record(t, e, at); !slices.Equal(got, []string{"data:v0", "data:v1"}) {
		t.Fatalf("%s: B has %v, want data:v0 and data:v1", at, got)
	}
	best, err := e.r.Resolve(e.ctx, "data:best")
	if err != nil || best.Version.Commit != s.commits["data:v1"] {
		t.Errorf("%s: data:best resolves to %v (%v), want data:v1", at, best.Ref(), err)
	}
	if v1, err := e.r.Resolve(e.ctx, "data:v1"); err != nil || v1.Producer != s.run {
		t.Errorf("%s: data:v1 was produced by run %q (%v), want %s", at, v1.Producer, err, s.run)
	}
}

// objectsDurable fails the test if an object (not a temp file) a crash
// could lose is in B's store: after a pull or fetch returned, everything
// a version names must be durable.
func objectsDurable(t *testing.T, e *faultEnv, p pointResult, what string) {
	t.Helper()
	objDir := filepath.Join(e.r.Dir(), "objects")
	for _, u := range e.fs.Unsynced() {
		if strings.HasPrefix(u, objDir) && !strings.HasPrefix(filepath.Base(u), ".tmp-") {
			t.Errorf("%s: %s returned, but %s is not durable", p.at, what, u)
		}
	}
}

// TestFaultPull pulls A's two versions into an empty B at every injection
// point.
func TestFaultPull(t *testing.T) {
	t.Parallel()
	src := newPullSource(t)
	runFaultCase(t, faultCase{
		name:    "pull",
		prepare: func(t *testing.T, e *faultEnv) { e.r.SetTransport("origin", src.tr) },
		run: func(e *faultEnv) error {
			res, err := e.r.Pull(e.ctx, "origin", nil, nil)
			src.results.Store(e, res)
			return err
		},
		check: func(t *testing.T, e *faultEnv, p pointResult) {
			got := src.record(t, e, p.at)
			switch {
			case p.err == nil:
				// Reported done: both versions are here, and stay
				// through a power loss.
				src.checkComplete(t, e, p.at)
				if !p.killed && !p.powerOff {
					objectsDurable(t, e, p, "Pull")
					v, _ := src.results.Load(e)
					res := v.(repo.PullResult)
					if len(res.Artifacts) != 1 || res.Artifacts[0].Name != "data" ||
						!slices.Equal(res.Artifacts[0].Versions, []string{"v0", "v1"}) || res.Artifacts[0].Runs != 1 {
						t.Errorf("%s: Pull reported %+v, want data v0 and v1 and a run", p.at, res.Artifacts)
					}
				}
			case len(got) > 0:
				// The versions are recorded in one transaction, after
				// everything else the pull can fail on.
				t.Errorf("%s: Pull failed (%v), yet B lists %v", p.at, p.err, got)
			}
			// Fsck; after a crash, every version listed checks out too
			// (the retry below checks them out in every case).
			e.checkAfter(t, p)
		},
		retry: func(t *testing.T, e *faultEnv, p pointResult) {
			src.results.Delete(e)
			if _, err := e.r.Pull(e.ctx, "origin", nil, nil); err != nil {
				t.Fatalf("%s: pull again: %v", p.at, err)
			}
			at := p.at + ", pulled again"
			src.checkComplete(t, e, at)
			e.checkIntact(t, at)
		},
	})
}

// TestFaultFetchCheckout: B has fetched A's versions (no file contents)
// and checked data:v0 out (which fetched its files); a checkout of
// data:v1 to a new directory, which fetches the chunks v0 does not share
// and the files that changed, runs at every injection point.
func TestFaultFetchCheckout(t *testing.T) {
	t.Parallel()
	src := newPullSource(t)
	runFaultCase(t, faultCase{
		name: "fetch-checkout",
		prepare: func(t *testing.T, e *faultEnv) {
			e.r.SetTransport("origin", src.tr)
			if _, err := e.r.Fetch(e.ctx, "origin", nil, nil); err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			src.checkComplete(t, e, "fetched")
			if _, err := e.r.Checkout(e.ctx, "data:v0", filepath.Join(e.root, "out0"), nil); err != nil {
				t.Fatal(err)
			}
		},
		run: func(e *faultEnv) error {
			_, err := e.r.Checkout(e.ctx, "data:v1", outDir(e), nil)
			return err
		},
		check: func(t *testing.T, e *faultEnv, p pointResult) {
			got, temps := withoutTemps(snapshotIfAny(t, e.fs.Base(), outDir(e)))
			if p.err == nil && !p.killed && !p.powerOff {
				objectsDurable(t, e, p, "Checkout")
				if d := diffFiles(got, pullV1); d != "" {
					t.Errorf("%s: checkout succeeded but the directory differs from v1: %s", p.at, d)
				}
			}
			for path, c := range got {
				if c != pullV1[path] && !(p.powerOff && c == "") {
					t.Errorf("%s: %s holds %s, not v1's", p.at, path, quote(c))
				}
			}
			if len(temps) > 0 && !p.faultedRemove() && !p.killed {
				t.Errorf("%s: temp files left behind: %v", p.at, temps)
			}
			// Not checkIntact: checking v1 out would fetch what the
			// checkout again below must fetch itself.
			src.record(t, e, p.at)
			e.fsck(t, p.at)
		},
		retry: func(t *testing.T, e *faultEnv, p pointResult) {
			got := checkoutAgain(t, e, p)
			if d := diffFiles(got, pullV1); d != "" {
				t.Fatalf("%s: checkout again: the directory differs from v1: %s", p.at, d)
			}
			if _, err := e.r.Verify(e.ctx, "data:v1", outDir(e)); err != nil {
				t.Errorf("%s: verify after checking out again: %v", p.at, err)
			}
			at := p.at + ", checked out again"
			src.checkComplete(t, e, at)
			e.checkIntact(t, at)
		},
	})
}

// snapshotIfAny is fileSnapshot, with no files if dir does not exist.
func snapshotIfAny(t *testing.T, fsys afero.Fs, dir string) files {
	t.Helper()
	if _, err := fsys.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return files{}
	}
	return fileSnapshot(t, fsys, dir)
}

// TestFaultGCPacks collects a pulled version's objects, which share local
// packs with a live version's, at every injection point: gc rewrites those
// packs, and a fault or crash anywhere must leave data:v1 intact.
func TestFaultGCPacks(t *testing.T) {
	t.Parallel()
	src := newPullSource(t)
	runFaultCase(t, faultCase{
		name: "gc-packs",
		prepare: func(t *testing.T, e *faultEnv) {
			e.r.SetTransport("origin", src.tr)
			if _, err := e.r.Pull(e.ctx, "origin", nil, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := e.r.Delete(e.ctx, "data:v0", true); err != nil {
				t.Fatal(err)
			}
			e.versions["data:v1"] = pullV1
			e.clk.Advance(2 * repo.DefaultGrace)
		},
		run:   runGC,
		check: func(t *testing.T, e *faultEnv, p pointResult) { e.checkAfter(t, p) },
		retry: gcAgain,
	})
}
