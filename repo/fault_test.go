package repo_test

import (
	"context"
	"errors"
	"flag"
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

	"github.com/artvcs/art/objects"
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
//     an object never ends in a success, Fsck is clean right away, and
//     after a simulated power loss right after it, everything it reported
//     is intact.
//   - crash points: after N mutating operations (N = 0 … the clean run's
//     count) the process "dies" (every later call fails), then either
//     the power fails too (unsynced data and directory entries are lost)
//     or only the process was killed (Revive: nothing is lost).
//
// After each point: every version reported created checks out equal to
// its source, Fsck finds no damage (garbage is allowed), and running the
// operation again without faults succeeds (nothing left behind blocks it)
// with the right result. One exception, counted in the log: a checkout
// does not fsync the files it writes but does its saved state, so after a
// power loss (not a kill) the files may be older than the state says and
// checking out again needs --force (and a file the new version dropped
// may come back and stay).
//
// Every point runs on an in-memory file system; every 40th also on the
// OS one (real fsyncs are slow). Under the race detector or -short, every
// 20th in memory only; -fault.all runs every point everywhere.
//
// faulttest.Fs implements objects.AnonymousCreator and FSSyncer, so
// objects and checkout files are written as on Linux's OS file system:
// anonymous pending files, linked into place. The repository index is an
// in-memory SQLite database here (the wrapper is not an *afero.OsFs): it survives the simulated crash, as a committed
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
	// notes are things worth counting that happened at this point.
	notes []string
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

// withoutTemps returns fs without checkout temp files (staging
// directories included), and their names.
func withoutTemps(fs files) (files, []string) {
	out := files{}
	var temps []string
	for p, c := range fs {
		// A temp file, or anything in a staging directory.
		if strings.HasPrefix(filepath.Base(p), ".art-tmp-") || strings.Contains(p, "/.art-tmp-dir-") ||
			strings.HasPrefix(p, ".art-tmp-dir-") {
			temps = append(temps, p)
			continue
		}
		out[p] = c
	}
	return out, temps
}

// checkIntact checks the reported versions refs (all of them if none is
// given) out to fresh directories, compares each with its source, and
// runs Fsck: no damage allowed.
func (e *faultEnv) checkIntact(t *testing.T, at string, refs ...string) {
	t.Helper()
	if len(refs) == 0 {
		for ref := range e.versions {
			refs = append(refs, ref)
		}
	}
	for _, ref := range refs {
		want, ok := e.versions[ref]
		if !ok {
			t.Fatalf("%s: %s was not reported created", at, ref)
		}
		out := e.fresh("verify")
		if _, err := e.r.Checkout(e.ctx, ref, out, nil); err != nil {
			t.Fatalf("%s: checkout of reported version %s: %v", at, ref, err)
		}
		if d := diffFiles(fileSnapshot(t, e.fs.Base(), out), want); d != "" {
			t.Fatalf("%s: reported version %s checks out wrong: %s", at, ref, d)
		}
		e.fs.Base().RemoveAll(out)
	}
	e.fsck(t, at)
}

// fsck fails the test if Fsck finds damage (garbage is allowed), or if a
// chunk list, even one no version uses, names a chunk that is not
// stored: Stat takes a list for a stored blob, so one left incomplete
// would make a pull or a commit skip content the store lacks.
func (e *faultEnv) fsck(t *testing.T, at string) {
	t.Helper()
	rep, err := e.r.Fsck(e.ctx, nil)
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("%s: fsck: %v %+v", at, err, rep.Problems)
	}
	// A store of its own on what the disk holds, loose files or packs.
	s, err := objects.NewFSStore(e.fs.Base(), e.r.Store().(*objects.FSStore).Dir())
	if err != nil {
		t.Fatal(err)
	}
	err = s.List(e.ctx, func(i objects.Info) error {
		if !i.Chunked {
			return nil
		}
		l, err := s.ReadChunkList(e.ctx, i.ID)
		if err != nil {
			return err
		}
		for _, c := range l.Chunks {
			if _, err := s.Stat(e.ctx, c.ID); err != nil {
				return fmt.Errorf("chunk list %s names chunk %s: %w", i.ID.Short(), c.ID.Short(), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", at, err)
	}
}

// checkAfter is the check common to every case: right after a fault,
// with the process alive and nothing lost, Fsck must be clean; after a
// crash, every reported version must also check out intact.
func (e *faultEnv) checkAfter(t *testing.T, p pointResult) {
	t.Helper()
	if p.killed || p.powerOff {
		e.checkIntact(t, p.at)
	} else {
		e.fsck(t, p.at)
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

// eventPaths names the files the faults hit.
func (p pointResult) eventPaths() string {
	var out []string
	for _, ev := range p.events {
		out = append(out, ev.Path)
	}
	return strings.Join(out, ", ")
}

// faultStats counts what a case ran.
type faultStats struct {
	faultPoints, notReached, failed, succeeded int
	crashPoints, killPoints                    int
	counts                                     map[faulttest.Op]int64
	notes                                      map[string]int
}

func (s faultStats) String() string {
	var kinds []string
	for _, op := range faulttest.Ops() {
		if n := s.counts[op]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%v %d", op, n))
		}
	}
	out := fmt.Sprintf("%d fault points (%s; %d returned the error, %d succeeded, %d not reached), %d power-loss points, %d kill points",
		s.faultPoints, strings.Join(kinds, ", "), s.failed, s.succeeded, s.notReached, s.crashPoints, s.killPoints)
	for _, k := range sortedKeys(s.notes) {
		out += fmt.Sprintf("; %s: %d", k, s.notes[k])
	}
	return out
}

// faultAll runs every injection point, on the OS file system too, even
// under the race detector or -short.
var faultAll = flag.Bool("fault.all", false, "run every fault injection point, on the OS file system too")

// faultStrides returns how injection points are spaced on the in-memory
// file system and on the OS one (0: the clean run only): every point in
// memory, every 40th on the OS file system (each costs real fsyncs);
// under the race detector or -short, every 20th in memory and the clean
// run on the OS file system.
func faultStrides() (mem, osfs int) {
	switch {
	case *faultAll:
		return 1, 1
	case raceEnabled || testing.Short():
		return 20, 0
	}
	return 1, 40
}

// runFaultCase runs fc at the injection points on an in-memory file
// system and on the OS one (under t.TempDir()).
func runFaultCase(t *testing.T, fc faultCase) {
	memStride, osStride := faultStrides()
	t.Run("mem", func(t *testing.T) {
		t.Parallel()
		runFaultPoints(t, fc, memStride, func() (afero.Fs, string, func()) {
			return afero.NewMemMapFs(), "/w", func() {}
		})
	})
	t.Run("os", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		i := 0
		runFaultPoints(t, fc, osStride, func() (afero.Fs, string, func()) {
			i++
			root := filepath.Join(dir, fmt.Sprint(i))
			return afero.NewOsFs(), root, func() { os.RemoveAll(root) }
		})
	})
}

// runFaultPoints runs the clean run and then every stride-th injection
// point (fault points of each kind, then crash points, in one sequence).
func runFaultPoints(t *testing.T, fc faultCase, stride int, newBase func() (afero.Fs, string, func())) {
	start := time.Now()
	st := faultStats{notes: map[string]int{}}
	// point runs an injection point as a subtest if the stride picks it:
	// it sets up a fresh repository, arms the wrapper, runs the operation
	// and hands the outcome to after.
	seq := -1
	point := func(name, at string, arm func(f *faulttest.Fs), after func(t *testing.T, e *faultEnv, p *pointResult)) bool {
		seq++
		if name != "clean" && (stride == 0 || seq%stride != 0) {
			return false
		}
		body := func(t *testing.T) {
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
			after(t, e, &p)
			for _, n := range e.notes {
				st.notes[n]++
			}
		}
		if name == "clean" {
			body(t) // not a subtest, so that -run can pick points
		} else {
			t.Run(name, body)
		}
		return true
	}
	powerFails := func(t *testing.T, e *faultEnv, p *pointResult) {
		t.Helper()
		if err := e.fs.Crash(); err != nil {
			t.Fatal(err)
		}
		p.powerOff = true
		p.at += ", then the power fails"
	}

	// A clean run: it must succeed, and it gives the counts.
	point("clean", "clean run", func(*faulttest.Fs) {}, func(t *testing.T, e *faultEnv, p *pointResult) {
		if p.err != nil {
			t.Fatalf("clean run: %v", p.err)
		}
		st.counts = e.fs.Counts()
		fc.check(t, e, *p)
		powerFails(t, e, p) // right after it: everything reported survives
		fc.check(t, e, *p)
		fc.retry(t, e, *p)
	})
	mutations := int64(0)
	for _, op := range faulttest.Ops() {
		if op.Mutating() {
			mutations += st.counts[op]
		}
	}

	// Fault points: the Nth operation of a kind fails; then the power
	// fails.
	for _, op := range faulttest.Ops() {
		for n := int64(1); n <= st.counts[op]; n++ {
			errno := error(syscall.EIO)
			if n%2 == 0 {
				errno = syscall.ENOSPC
			}
			at := fmt.Sprintf("%v #%d fails (%v)", op, n, errno)
			ran := point(fmt.Sprintf("%v#%d", op, n), at, func(f *faulttest.Fs) { f.FailNth(op, n, errno) }, func(t *testing.T, e *faultEnv, p *pointResult) {
				if len(p.events) > 0 {
					p.at += " on " + p.eventPaths()
				}
				switch {
				case len(p.events) == 0:
					// Another interleaving of the goroutines: fewer
					// operations of this kind this time.
					st.notReached++
					if p.err != nil {
						t.Errorf("%s: no fault fired, yet: %v", p.at, p.err)
					}
				case p.err != nil:
					st.failed++
					if !errors.Is(p.err, errno) {
						t.Errorf("%s: the error does not wrap the injected %v: %v", p.at, errno, p.err)
					}
				default:
					st.succeeded++
					objDir := filepath.Join(e.r.Dir(), "objects") + string(filepath.Separator)
					if ev := p.events[0]; ev.Op == faulttest.OpSync && strings.HasPrefix(ev.Path+string(filepath.Separator), objDir) {
						t.Errorf("%s: an object's fsync failed, yet the operation succeeded", p.at)
					}
				}
				fc.check(t, e, *p)
				powerFails(t, e, p)
				fc.check(t, e, *p)
				fc.retry(t, e, *p)
			})
			if ran {
				st.faultPoints++
			}
		}
	}

	// Crash points: the process dies after n mutations; then the power
	// fails too, or not.
	for _, power := range []bool{true, false} {
		for n := int64(0); n <= mutations; n++ {
			name, at := fmt.Sprintf("kill@%d", n), fmt.Sprintf("killed after %d of %d mutations", n, mutations)
			if power {
				name = fmt.Sprintf("power@%d", n)
			}
			ran := point(name, at, func(f *faulttest.Fs) { f.CrashAfter(n) }, func(t *testing.T, e *faultEnv, p *pointResult) {
				p.killed = e.fs.Crashed()
				if p.err != nil && !p.killed {
					t.Errorf("%s: not crashed, yet: %v", p.at, p.err)
				}
				if power {
					powerFails(t, e, p)
				} else {
					e.fs.Revive()
				}
				fc.check(t, e, *p)
				fc.retry(t, e, *p)
			})
			switch {
			case !ran:
			case power:
				st.crashPoints++
			default:
				st.killPoints++
			}
		}
	}
	t.Logf("%s: %v; in %v", fc.name, st, time.Since(start).Round(time.Millisecond))
}

// TestFaultCommit logs v1 of an artifact (a changed chunked file, a file
// reused from v0, new and removed files) at every injection point.
func TestFaultCommit(t *testing.T) {
	t.Parallel()
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
			e.checkAfter(t, p)
		},
		retry: func(t *testing.T, e *faultEnv, p pointResult) {
			v, err := e.log("data", "v1")
			if err != nil {
				t.Fatalf("%s: Log again: %v", p.at, err)
			}
			if v.Version.Version != 1 {
				t.Errorf("%s: Log again made %s, want data:v1", p.at, v.Ref())
			}
			e.checkIntact(t, p.at+", logged again", v.Ref())
		},
	})
}

// TestFaultCheckout switches a checkout of v0 to v1 (a file rewritten, one
// added, one removed, a chunked file changed, one unchanged) at every
// injection point.
// outDir is the checkout directory of the checkout fault tests.
func outDir(e *faultEnv) string { return filepath.Join(e.root, "out") }

// checkoutAgain checks data:v1 out again into outDir(e) after the fault point
// p and returns what the directory holds (temp files aside). A checkout
// does not fsync the files it writes, but it does its saved state: after a
// power loss the files can be older than the state says, and the next
// checkout takes them for local changes. It refuses (the safe way); forcing
// puts v1 back, and the note says so.
func checkoutAgain(t *testing.T, e *faultEnv, p pointResult) files {
	t.Helper()
	_, err := e.r.Checkout(e.ctx, "data:v1", outDir(e), nil)
	if p.powerOff && errors.Is(err, repo.ErrLocalChanges) {
		e.notes = append(e.notes, "after a power loss, checking out again needed --force")
		_, err = e.r.Checkout(e.ctx, "data:v1", outDir(e), &repo.CheckoutOptions{Force: true})
	}
	if err != nil {
		t.Fatalf("%s: checkout again: %v", p.at, err)
	}
	got, _ := withoutTemps(fileSnapshot(t, e.fs.Base(), outDir(e)))
	return got
}

func TestFaultCheckout(t *testing.T) {
	t.Parallel()
	runFaultCase(t, faultCase{
		name: "checkout",
		prepare: func(t *testing.T, e *faultEnv) {
			e.mustLog(t, "data", "v0")
			e.mustLog(t, "data", "v1")
			if _, err := e.r.Checkout(e.ctx, "data:v0", outDir(e), nil); err != nil {
				t.Fatal(err)
			}
		},
		run: func(e *faultEnv) error {
			_, err := e.r.Checkout(e.ctx, "data:v1", outDir(e), nil)
			return err
		},
		check: func(t *testing.T, e *faultEnv, p pointResult) {
			got, temps := withoutTemps(fileSnapshot(t, e.fs.Base(), outDir(e)))
			if p.err == nil && !p.killed && !p.powerOff {
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
			e.checkAfter(t, p)
		},
		retry: func(t *testing.T, e *faultEnv, p pointResult) {
			got := checkoutAgain(t, e, p)
			stayed := false
			for path, c := range got {
				if _, ok := faultV1[path]; !ok && p.powerOff && c == faultV0[path] {
					stayed = true
					// Its removal was lost with the power, and the state
					// (durable) no longer names it as art's: it stays.
					e.notes = append(e.notes, "after a power loss, a file v1 dropped came back and stayed")
					delete(got, path)
				}
			}
			if d := diffFiles(got, faultV1); d != "" {
				t.Fatalf("%s: checkout again: the directory differs from v1: %s", p.at, d)
			}
			if _, err := e.r.Verify(e.ctx, "data:v1", outDir(e)); err != nil && !stayed {
				t.Errorf("%s: verify after checking out again: %v", p.at, err)
			}
		},
	})
}

// TestFaultGC collects the garbage of a deleted artifact (a commit, a
// tree, a small file, a chunked file's list and chunks), with two live
// versions sharing chunks, at every injection point.
func TestFaultGC(t *testing.T) {
	t.Parallel()
	runFaultCase(t, faultCase{
		name: "gc",
		prepare: func(t *testing.T, e *faultEnv) {
			e.mustLog(t, "data", "v0")
			e.mustLog(t, "data", "v1")
			e.mustLog(t, "scratch", "scratch")
			if _, err := e.r.Delete(e.ctx, "scratch:v0", true); err != nil {
				t.Fatal(err)
			}
			delete(e.versions, "scratch:v0")
			e.clk.Advance(2 * repo.DefaultGrace)
		},
		run:   runGC,
		check: func(t *testing.T, e *faultEnv, p pointResult) { e.checkAfter(t, p) },
		retry: gcAgain,
	})
}

// runGC is the operation of the gc fault cases.
func runGC(e *faultEnv) error {
	_, err := e.r.GC(e.ctx, nil)
	return err
}

// gcAgain is the retry of the gc fault cases: a second gc succeeds, leaves
// no garbage, and every reported version is intact.
func gcAgain(t *testing.T, e *faultEnv, p pointResult) {
	if err := runGC(e); err != nil {
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
}
