package repo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects/chunker"
	"github.com/artvcs/art/objects/faulttest"
	"github.com/artvcs/art/repo"
)

// These tests run commit (Log), checkout (Download) and GC through
// faulttest.Fs at every point where they touch the file system:
//
//   - fault points: for every kind of operation and every N up to the
//     count of a clean run, the Nth operation of that kind fails (EIO or
//     ENOSPC). The operation under test must return an error that wraps
//     the injected one, or succeed without having lied: an fsync error on
//     an object never ends in a success, and after a simulated power loss
//     right after it, everything it reported is intact.
//   - crash points: after N mutating operations (N = 0 … the clean run's
//     count) the process "dies" (every later call fails), then either
//     the power fails too (unsynced data and directory entries are lost)
//     or only the process was killed (Revive: nothing is lost).
//
// After each point: every version reported created checks out equal to
// its source, Fsck finds no damage (garbage is allowed), and running the
// operation again without faults succeeds (nothing left behind blocks it)
// with the right result.
//
// The repository index is an in-memory SQLite database here (the wrapper
// is not an *afero.OsFs): it survives the simulated crash, as a committed
// transaction would with synchronous=FULL, so the checks run on the same
// handle. What a crash can take is what is on the file system.

// faultChunking cuts files of 4 KiB and more into 256 B to 4 KiB chunks, so
// the 12 KiB file below is a chunk list and about a dozen chunks.
var faultChunking = repo.Chunking{Algorithm: chunker.Algorithm, MinFileSize: 4 << 10,
	Params: chunker.Params{Min: 256, Avg: 1024, Max: 4096}}

var (
	faultBig0 = randString(7, 12<<10)
	faultBig1 = faultBig0[:6<<10] + randString(8, 1024) + faultBig0[7<<10:]
	faultV0   = files{"a.txt": "alpha", "dir/b.txt": "bravo", "old.txt": "only in v0", "big.bin": faultBig0}
	faultV1   = files{"a.txt": "alpha", "dir/b.txt": "bravo, changed", "dir/c.txt": "charlie", "big.bin": faultBig1}
	// faultScratch is garbage once deleted: a small file and a chunked one
	// of its own.
	faultScratch = files{"s.txt": "scratch", "big.bin": randString(9, 8<<10)}
	faultSources = map[string]files{"v0": faultV0, "v1": faultV1, "scratch": faultScratch}
)

// faultEnv is one repository on a faulttest.Fs, for one injection point.
type faultEnv struct {
	ctx  context.Context
	fs   *faulttest.Fs
	r    *repo.Repo
	clk  *clock
	root string
	// versions are the versions reported created, by ref, with the
	// files each must check out as.
	versions map[string]files
	n        int // fresh directory counter
}

func newFaultEnv(t *testing.T, base afero.Fs, root string) *faultEnv {
	t.Helper()
	ctx := context.Background()
	f := faulttest.New(base)
	clk := newClock()
	ch := faultChunking
	r, err := repo.Init(ctx, f, filepath.Join(root, ".art"), &repo.Options{Now: clk.Now, Chunking: &ch})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	for name, fs := range faultSources {
		writeFiles(t, base, filepath.Join(root, "src", name), fs)
	}
	return &faultEnv{ctx: ctx, fs: f, r: r, clk: clk, root: root, versions: map[string]files{}}
}

// log logs the source src ("v0" or "v1") as a version of name and records
// it if it is reported.
func (e *faultEnv) log(name, src string) (repo.Version, error) {
	a := e.r.NewArtifact(name, "dataset")
	if err := a.AddDir(filepath.Join(e.root, "src", src), ""); err != nil {
		return repo.Version{}, err
	}
	v, _, err := e.r.Log(e.ctx, a, nil)
	if err == nil {
		e.versions[v.Ref()] = faultSources[src]
	}
	return v, err
}

func (e *faultEnv) mustLog(t *testing.T, name, src string) repo.Version {
	t.Helper()
	v, err := e.log(name, src)
	if err != nil {
		t.Fatalf("Log %s from %s: %v", name, src, err)
	}
	return v
}

// fresh returns a new directory name under the root.
func (e *faultEnv) fresh(what string) string {
	e.n++
	return filepath.Join(e.root, fmt.Sprintf("%s-%d", what, e.n))
}

// diffFiles describes how got differs from want ("" if equal).
func diffFiles(got, want files) string {
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
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}

// withoutTemps returns fs without checkout temp files, and their names.
func withoutTemps(fs files) (files, []string) {
	out := files{}
	var temps []string
	for p, c := range fs {
		if strings.HasPrefix(filepath.Base(p), ".art-tmp-") {
			temps = append(temps, p)
			continue
		}
		out[p] = c
	}
	return out, temps
}

// checkIntact checks every reported version out to a fresh directory,
// compares it with its source, and runs Fsck: no damage allowed.
func (e *faultEnv) checkIntact(t *testing.T, at string) {
	t.Helper()
	for ref, want := range e.versions {
		out := e.fresh("verify")
		if _, err := e.r.Checkout(e.ctx, ref, out, nil); err != nil {
			t.Fatalf("%s: checkout of reported version %s: %v", at, ref, err)
		}
		if d := diffFiles(fileSnapshot(t, e.fs.Base(), out), want); d != "" {
			t.Fatalf("%s: reported version %s checks out wrong: %s", at, ref, d)
		}
		e.fs.Base().RemoveAll(out)
	}
	rep, err := e.r.Fsck(e.ctx, nil)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("%s: fsck: %v %+v", at, err, rep.Problems)
	}
}

// faultCase is an operation to run at every injection point.
type faultCase struct {
	name string
	// prepare sets the repository up before the operation; its file
	// system operations are not counted and all count as durable.
	prepare func(t *testing.T, e *faultEnv)
	// run is the operation under test.
	run func(e *faultEnv) error
	// check verifies what the operation left, given its error and what
	// happened: the fault events, whether it was crashed and how.
	check func(t *testing.T, e *faultEnv, p pointResult)
	// retry runs the operation again with no faults and checks the
	// result.
	retry func(t *testing.T, e *faultEnv, p pointResult)
}

// pointResult is what happened at one injection point.
type pointResult struct {
	at       string // the point, for messages
	err      error  // what run returned
	events   []faulttest.Event
	killed   bool // the process died (CrashAfter)
	powerOff bool // and unsynced data was lost (Crash)
}

// faultedRemove reports whether a remove failed: the one fault that may
// leave a temp file behind.
func (p pointResult) faultedRemove() bool {
	for _, ev := range p.events {
		if ev.Op == faulttest.OpRemove {
			return true
		}
	}
	return false
}

// faultStats counts what a case ran.
type faultStats struct {
	faultPoints, notReached, failed, succeeded int
	crashPoints, killPoints                    int
	counts                                     map[faulttest.Op]int64
}

func (s faultStats) String() string {
	var kinds []string
	for _, op := range faulttest.Ops() {
		if n := s.counts[op]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%v %d", op, n))
		}
	}
	return fmt.Sprintf("%d fault points (%s; %d returned an error, %d succeeded, %d not reached), %d crash points, %d kill points",
		s.faultPoints, strings.Join(kinds, ", "), s.failed, s.succeeded, s.notReached, s.crashPoints, s.killPoints)
}

// runFaultCase runs fc at every injection point on an in-memory file
// system and on the OS one.
func runFaultCase(t *testing.T, fc faultCase) {
	t.Run("mem", func(t *testing.T) {
		t.Parallel()
		runFaultPoints(t, fc, func() (afero.Fs, string, func()) {
			return afero.NewMemMapFs(), "/w", func() {}
		})
	})
	t.Run("os", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		i := 0
		runFaultPoints(t, fc, func() (afero.Fs, string, func()) {
			i++
			root := filepath.Join(dir, fmt.Sprint(i))
			return afero.NewOsFs(), root, func() { os.RemoveAll(root) }
		})
	})
}

func runFaultPoints(t *testing.T, fc faultCase, newBase func() (afero.Fs, string, func())) {
	start := time.Now()
	// point sets up a fresh repository, arms the wrapper, runs the
	// operation and checks the outcome.
	point := func(at string, arm func(f *faulttest.Fs), after func(e *faultEnv, p *pointResult)) (*faultEnv, pointResult) {
		base, root, cleanup := newBase()
		defer cleanup()
		e := newFaultEnv(t, base, root)
		defer e.r.Close()
		fc.prepare(t, e)
		e.fs.Settle()
		e.fs.Reset()
		arm(e.fs)
		p := pointResult{at: at}
		p.err = func() (err error) {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("%s: panic: %v\n%s", at, v, debug.Stack())
				}
			}()
			return fc.run(e)
		}()
		p.events = e.fs.Events()
		e.fs.ClearFaults()
		after(e, &p)
		return e, p
	}

	var st faultStats
	// A clean run: it must succeed, and it gives the counts.
	e, p := point("clean run", func(*faulttest.Fs) {}, func(e *faultEnv, p *pointResult) {
		if p.err != nil {
			t.Fatalf("clean run: %v", p.err)
		}
		st.counts = e.fs.Counts()
		fc.check(t, e, *p)
		// Power loss right after it: everything reported survives.
		if err := e.fs.Crash(); err != nil {
			t.Fatal(err)
		}
		p.powerOff = true
		fc.check(t, e, *p)
		fc.retry(t, e, *p)
	})
	_, _ = e, p
	mutations := int64(0)
	for _, op := range faulttest.Ops() {
		if op.Mutating() {
			mutations += st.counts[op]
		}
	}

	// Fault points.
	for _, op := range faulttest.Ops() {
		for n := int64(1); n <= st.counts[op]; n++ {
			errno := error(syscall.EIO)
			if n%2 == 0 {
				errno = syscall.ENOSPC
			}
			at := fmt.Sprintf("%v #%d fails (%v)", op, n, errno)
			st.faultPoints++
			point(at, func(f *faulttest.Fs) { f.FailNth(op, n, errno) }, func(e *faultEnv, p *pointResult) {
				switch {
				case len(p.events) == 0:
					// Another interleaving of the goroutines: fewer
					// operations of this kind this time.
					st.notReached++
					if p.err != nil {
						t.Errorf("%s: no fault fired, yet: %v", at, p.err)
					}
				case p.err != nil:
					st.failed++
					if !errors.Is(p.err, errno) {
						t.Errorf("%s: the error does not wrap the injected %v: %v", at, errno, p.err)
					}
				default:
					st.succeeded++
					objDir := filepath.Join(e.r.Dir(), "objects") + string(filepath.Separator)
					if ev := p.events[0]; ev.Op == faulttest.OpSync && strings.HasPrefix(ev.Path+string(filepath.Separator), objDir) {
						t.Errorf("%s: fsync of %s failed, yet the operation succeeded", at, ev.Path)
					}
				}
				fc.check(t, e, *p)
				if err := e.fs.Crash(); err != nil {
					t.Fatal(err)
				}
				p.powerOff = true
				fc.check(t, e, *p)
				fc.retry(t, e, *p)
			})
		}
	}

	// Crash points: the process dies after n mutations; then the power
	// fails too, or not.
	for _, power := range []bool{true, false} {
		for n := int64(0); n <= mutations; n++ {
			at := fmt.Sprintf("killed after %d of %d mutations", n, mutations)
			if power {
				at = fmt.Sprintf("power lost after %d of %d mutations", n, mutations)
				st.crashPoints++
			} else {
				st.killPoints++
			}
			point(at, func(f *faulttest.Fs) { f.CrashAfter(n) }, func(e *faultEnv, p *pointResult) {
				p.killed = e.fs.Crashed()
				if p.err != nil && !p.killed {
					t.Errorf("%s: not crashed, yet: %v", at, p.err)
				}
				if power {
					if err := e.fs.Crash(); err != nil {
						t.Fatal(err)
					}
					p.powerOff = p.killed
				} else {
					e.fs.Revive()
				}
				fc.check(t, e, *p)
				fc.retry(t, e, *p)
			})
		}
	}
	t.Logf("%s: %v in %v", fc.name, st, time.Since(start).Round(time.Millisecond))
}

// TestFaultCommit logs v1 of an artifact (a changed chunked file, a file
// reused from v0, new and removed files) at every injection point.
func TestFaultCommit(t *testing.T) {
	runFaultCase(t, faultCase{
		name:    "commit",
		prepare: func(t *testing.T, e *faultEnv) { e.mustLog(t, "data", "v0") },
		run: func(e *faultEnv) error {
			_, err := e.log("data", "v1")
			return err
		},
		check: func(t *testing.T, e *faultEnv, p pointResult) {
			if p.err == nil && !p.killed && !p.powerOff {
				// Durability order: nothing a version names may be
				// unsynced once Log has returned.
				objDir := filepath.Join(e.r.Dir(), "objects")
				for _, u := range e.fs.Unsynced() {
					if strings.HasPrefix(u, objDir) && !strings.HasPrefix(filepath.Base(u), ".tmp-") {
						t.Errorf("%s: Log returned, but %s is not durable", p.at, u)
					}
				}
			}
			e.checkIntact(t, p.at)
		},
		retry: func(t *testing.T, e *faultEnv, p pointResult) {
			v, err := e.log("data", "v1")
			if err != nil {
				t.Fatalf("%s: Log again: %v", p.at, err)
			}
			if v.Version.Version != 1 {
				t.Errorf("%s: Log again made %s, want data:v1", p.at, v.Ref())
			}
			e.checkIntact(t, p.at+", logged again")
		},
	})
}

// TestFaultCheckout switches a checkout of v0 to v1 (a file rewritten, one
// added, one removed, a chunked file changed, one unchanged) at every
// injection point.
func TestFaultCheckout(t *testing.T) {
	out := func(e *faultEnv) string { return filepath.Join(e.root, "out") }
	runFaultCase(t, faultCase{
		name: "checkout",
		prepare: func(t *testing.T, e *faultEnv) {
			e.mustLog(t, "data", "v0")
			e.mustLog(t, "data", "v1")
			if _, err := e.r.Checkout(e.ctx, "data:v0", out(e), nil); err != nil {
				t.Fatal(err)
			}
		},
		run: func(e *faultEnv) error {
			_, err := e.r.Checkout(e.ctx, "data:v1", out(e), nil)
			return err
		},
		check: func(t *testing.T, e *faultEnv, p pointResult) {
			got, temps := withoutTemps(fileSnapshot(t, e.fs.Base(), out(e)))
			if p.err == nil && !p.killed {
				if d := diffFiles(got, faultV1); d != "" {
					t.Errorf("%s: checkout succeeded but the directory differs from v1: %s", p.at, d)
				}
			}
			// Never a partial or wrong file under a real name: each is
			// v0's or v1's.
			for path, c := range got {
				if c != faultV0[path] && c != faultV1[path] {
					t.Errorf("%s: %s holds %s, neither v0's nor v1's", p.at, path, quote(c))
				}
			}
			if len(temps) > 0 && !p.faultedRemove() && !p.killed {
				t.Errorf("%s: temp files left behind: %v", p.at, temps)
			}
			e.checkIntact(t, p.at)
		},
		retry: func(t *testing.T, e *faultEnv, p pointResult) {
			_, err := e.r.Checkout(e.ctx, "data:v1", out(e), nil)
			if err != nil {
				t.Fatalf("%s: checkout again: %v", p.at, err)
			}
			got, _ := withoutTemps(fileSnapshot(t, e.fs.Base(), out(e)))
			if d := diffFiles(got, faultV1); d != "" {
				t.Fatalf("%s: checkout again: the directory differs from v1: %s", p.at, d)
			}
			if _, err := e.r.Verify(e.ctx, "data:v1", out(e)); err != nil {
				t.Errorf("%s: verify after checking out again: %v", p.at, err)
			}
		},
	})
}

// TestFaultGC collects the garbage of a deleted artifact, with two live
// versions (one sharing chunks with the other), at every injection point.
func TestFaultGC(t *testing.T) {
	runFaultCase(t, faultCase{
		name: "gc",
		prepare: func(t *testing.T, e *faultEnv) {
			e.mustLog(t, "data", "v0")
			e.mustLog(t, "data", "v1")
			e.mustLog(t, "scratch", "v0") // shares every object with data:v0 but its commit
			e.mustLog(t, "scratch", "scratch")
			for _, ref := range []string{"scratch:v0", "scratch:v1"} {
				if _, err := e.r.Delete(e.ctx, ref, true); err != nil {
					t.Fatal(err)
				}
				delete(e.versions, ref)
			}
			e.clk.Advance(2 * repo.DefaultGrace)
		},
		run: func(e *faultEnv) error {
			_, err := e.r.GC(e.ctx, nil)
			return err
		},
		check: func(t *testing.T, e *faultEnv, p pointResult) {
			e.checkIntact(t, p.at)
		},
		retry: func(t *testing.T, e *faultEnv, p pointResult) {
			if _, err := e.r.GC(e.ctx, nil); err != nil {
				t.Fatalf("%s: gc again: %v", p.at, err)
			}
			rep, err := e.r.GC(e.ctx, &repo.GCOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Garbage != 0 {
				t.Errorf("%s: after gc again, %d objects of garbage are left", p.at, rep.Garbage)
			}
			e.checkIntact(t, p.at+", collected again")
		},
	})
}
