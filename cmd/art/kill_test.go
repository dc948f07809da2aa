package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The kill -9 harness: rounds in which about ten `art` processes — four
// concurrent committers (one with a 22 MiB file, stored as content-defined
// chunks, beside small and 1-2 MiB files), two checkouts switching
// directories between versions, two `gc --grace 0s` and up to two `rm` —
// run on one repository, each killed with SIGKILL after a random delay
// between 0 and the operation's typical duration (timed on unkilled runs).
// After every round, before anything repairs the repository:
//
//   - SQLite's PRAGMA integrity_check on .art/index.db (read-only) says ok;
//   - `art fsck` exits 0, and every command finishes within killCmdTimeout
//     (a stale lock would make it hang);
//   - every version a commit reported (its --json result was printed before
//     the kill) exists with the reported ID, and checks out byte-identical
//     to what was committed; numbers of artifacts nobody deletes are dense;
//     a version an `rm` reported deleted is gone, numbers are never reused;
//   - a version nobody reported (a commit killed after its transaction)
//     holds exactly the content one of the killed commits tried to record;
//   - each operation's own check (killJob.verify) holds: after a killed
//     checkout, checking out another version into its directory works as
//     is, and leaves exactly that version's files.
//
// At the end every live version is checked out again, and the index that
// `art reindex` rebuilds from the objects and ref documents must keep what
// was reported.
//
// Operations are rows of killOps. Each row plans its processes for a round
// (their command lines) and says how to read their output and check their
// effect; see killOps for how to add one (a push to a directory remote).
//
// ART_KILL_SEED=N replays the random choices of a run (delays, contents,
// targets); the timing of the processes is the machine's.

const (
	killCalibrationRuns = 2   // runs of each job key without a kill, to time it
	killRetimeEvery     = 5   // then one run in this many, to follow its typical duration
	killMinTotal        = 240 // kill points that landed, across the operations
	killMinPerOp        = 30  // ... of each operation
	killMaxRounds       = 150
	killBigSize         = 22 << 20
	// killCmdTimeout bounds every command run to check a round: one that
	// takes longer is taken for a hang (a stale lock) and fails the test.
	// It is below the index's SQLite busy timeout (60 s).
	killCmdTimeout = 30 * time.Second
)

// killOp is a row of the harness: an operation started, and killed, once a
// round.
type killOp struct {
	name string
	// plan returns the processes to start this round (none to sit it out).
	// Rows are planned in table order, so a row may rely on what the rows
	// above it reserved (rm reserves its target before checkout picks one).
	plan func(h *killHarness) []*killJob
}

// killJob is one process of a round.
type killJob struct {
	op   string   // the killOp's name, for counting kill points
	key  string   // what its typical duration is measured under, e.g. "commit big"
	args []string // art's arguments; it runs in the project directory
	// settle reads what the process reported, once every process of the
	// round has ended and before the repository is checked (it records
	// versions reported created or deleted).
	settle func(h *killHarness, o killOutcome)
	// verify checks the operation's effect after the repository-wide
	// checks passed; it may run more commands (h.mustRun).
	verify func(h *killHarness, o killOutcome)
}

// killOutcome is how a process of a round ended.
type killOutcome struct {
	stdout, stderr string
	killed         bool // the SIGKILL landed while it ran
	code           int  // exit code, when not killed
	elapsed        time.Duration
}

// killOps are the operations of the harness, planned in this order. To add
// one, append a row whose plan returns the command line and whose settle
// and verify say what its output promised and how to check it; the
// harness starts, kills, counts and times it like the others, and the
// total and per-operation minimums (killMinTotal, killMinPerOp) then count
// it too. A push to a directory remote, for instance: `art remote add
// origin DIR` once in TestKill9 after newProject, then a row
//
//	{"push", func(h *killHarness) []*killJob {
//		return []*killJob{{op: "push", key: "push", args: []string{"push", "origin", "--json"},
//			settle: func(h *killHarness, o killOutcome) { h.mustExitOK(o, "push") },
//			verify: func(h *killHarness, o killOutcome) {
//				// Killed or not, the next push works; then a fresh repository
//				// that pulls from origin holds every live version, byte-identical
//				// (h.mustRun, compareDir), and its fsck is clean.
//			}}}
//	}},
//
// with a settle that accepts exactly the refusals a push may print, if any.
var killOps = []killOp{
	{"commit", planCommits},
	{"rm", planRm},
	{"checkout", planCheckout},
	{"gc", func(h *killHarness) []*killJob { // two at once
		gc := &killJob{op: "gc", key: "gc", args: []string{"gc", "--grace", "0s", "--json"},
			settle: func(h *killHarness, o killOutcome) { h.mustExitOK(o, "gc") }}
		return []*killJob{gc, gc}
	}},
	{"push", func(h *killHarness) []*killJob {
		return []*killJob{{op: "push", key: "push", args: []string{"push", "origin", "--json"},
			settle: func(h *killHarness, o killOutcome) {
				// A push racing an rm and a gc of the same round may find
				// an object of a version deleted meanwhile gone: it fails
				// then, saying so, and sends no ref document naming it.
				if !o.killed && o.code != 0 && !strings.Contains(o.stderr, "object not found") {
					h.mustExitOK(o, "push")
				}
			},
			// Killed or not, the next push runs without cleanup.
			verify: func(h *killHarness, o killOutcome) { h.mustRun("push", "origin", "-q") }}}
	}},
}

// killCommitters commit to one repository in every round, each from its
// own directory. Nobody deletes versions of the dense artifacts, so their
// version numbers must stay 0..n-1 whatever was killed.
var killCommitters = []struct {
	name  string
	big   bool // a 22 MiB file (chunked) beside small ones
	alias bool // commit with -a hot
	dense bool
}{
	{name: "big", big: true},
	{name: "ds-0", dense: true},
	{name: "ds-0", dense: true},
	{name: "scratch", alias: true},
}

// rmArtifacts are the artifacts whose versions rm deletes.
var rmArtifacts = []string{"big", "scratch"}

// checkoutArtifacts are the artifacts checkout materialises, each into its
// own directory co/NAME, switching it from version to version.
var checkoutArtifacts = []string{"big", "ds-0", "scratch"}

type versionState int

const (
	vLive         versionState = iota // must exist
	vMaybeDeleted                     // an rm of it was killed: the next check settles it
	vDeleted                          // must not exist
)

// trackedVersion is a version the harness knows of.
type trackedVersion struct {
	ref     string // name:vN
	name    string
	num     int64
	id      string            // commit ID
	files   map[string]string // path -> SHA-256 of the content committed
	state   versionState
	checked bool // checked out byte-identical since it appeared
	// reportedDeleted is set when an rm printed its result.
	reportedDeleted bool
}

// killAttempt is the content of a commit that was killed without reporting:
// it may or may not have become a version.
type killAttempt struct {
	name  string
	files map[string]string
}

type killHarness struct {
	t   *testing.T
	p   *project
	rng *rand.Rand

	versions map[string]*trackedVersion // by ref
	attempts []killAttempt              // killed commits of the current round
	reserved map[string]bool            // refs rm targets this round
	bigBuf   []byte                     // the big file's content, changed a little every round
	nonce    int

	typical map[string]time.Duration // job key -> typical duration
	timings map[string][]time.Duration
	runs    map[string]int // job key -> processes started
	kills   map[string]int // op -> kill points that landed
	missed  map[string]int // op -> processes that finished before their kill
	round   int
	temps   map[string]bool // checkout temp files found left behind
	// roundLog says what ran in the round and how it ended, for failures.
	roundLog strings.Builder
}

// fatalf fails the test, saying what ran in the round.
func (h *killHarness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("round %d: %s\nthe round's processes:\n%s", h.round, fmt.Sprintf(format, args...), h.roundLog.String())
}

func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("the kill -9 harness takes a while; not with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ART_KILL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("ART_KILL_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (replay the choices with ART_KILL_SEED=%d)", seed, seed)
	start := time.Now()
	h := &killHarness{
		t:        t,
		p:        newProject(t),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		versions: map[string]*trackedVersion{},
		typical:  map[string]time.Duration{},
		timings:  map[string][]time.Duration{},
		kills:    map[string]int{},
		missed:   map[string]int{},
		runs:     map[string]int{},
		temps:    map[string]bool{},
	}
	h.p.ok("remote", "add", "origin", filepath.Join(t.TempDir(), "remote"))
	h.bigBuf = make([]byte, killBigSize)
	fillRandom(h.rng, h.bigBuf)

	for h.round = 0; !h.enoughKills(); h.round++ {
		if h.round >= killMaxRounds {
			t.Fatalf("%d rounds landed too few kill points: %v (want %d in all, %d per operation)",
				h.round, h.kills, killMinTotal, killMinPerOp)
		}
		h.runRound()
	}
	h.finalCheck()

	total := 0
	var ops []string
	for _, op := range killOps {
		total += h.kills[op.name]
		ops = append(ops, fmt.Sprintf("%s %d (+%d finished before the kill)", op.name, h.kills[op.name], h.missed[op.name]))
	}
	live := 0
	for _, v := range h.versions {
		if v.state == vLive {
			live++
		}
	}
	t.Logf("typical durations: %v", h.typical)
	t.Logf("%d kill points in %d rounds (%s), %d versions live at the end, %d checkout temp files left by killed checkouts, %s",
		total, h.round, strings.Join(ops, ", "), live, len(h.temps), time.Since(start).Round(time.Millisecond))
}

func (h *killHarness) enoughKills() bool {
	total := 0
	for _, op := range killOps {
		if h.kills[op.name] < killMinPerOp {
			return false
		}
		total += h.kills[op.name]
	}
	return total >= killMinTotal
}

// runRound starts every planned process, kills each after its random
// delay, then checks the repository. A job whose key has been timed fewer
// than killCalibrationRuns times, and one in killRetimeEvery after that,
// runs to the end instead, to be timed.
func (h *killHarness) runRound() {
	t := h.t
	h.reserved = map[string]bool{}
	h.attempts = nil
	var jobs []*killJob
	for _, op := range killOps {
		jobs = append(jobs, op.plan(h)...)
	}
	cmds := make([]*exec.Cmd, len(jobs))
	outs := make([][2]*bytes.Buffer, len(jobs))
	delays := make([]time.Duration, len(jobs))
	for i, j := range jobs {
		delays[i] = -1
		h.runs[j.key]++
		if typical, ok := h.typical[j.key]; ok && h.runs[j.key]%killRetimeEvery != 0 {
			// Between 0 and the typical duration: kills land all over the
			// run, and the processes that are quicker this time finish.
			delays[i] = time.Duration(h.rng.Float64() * float64(typical))
		}
		cmd := exec.Command(artBin, j.args...)
		cmd.Dir = h.p.dir
		cmd.Env = baseEnv()
		outs[i] = [2]*bytes.Buffer{{}, {}}
		cmd.Stdout, cmd.Stderr = outs[i][0], outs[i][1]
		cmds[i] = cmd
	}
	starts := make([]time.Time, len(jobs))
	for i, cmd := range cmds {
		starts[i] = time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if delays[i] >= 0 {
			p := cmd.Process
			time.AfterFunc(delays[i], func() { p.Signal(syscall.SIGKILL) })
		}
	}
	// A process still running after killCmdTimeout is hung: kill it too,
	// and fail below.
	var hung []string
	watchdog := time.AfterFunc(killCmdTimeout, func() {
		for i, cmd := range cmds {
			if delays[i] < 0 {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
	})
	// Wait for each process on its own, to time it.
	errs := make([]error, len(cmds))
	ends := make([]time.Time, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() {
			errs[i] = cmd.Wait()
			ends[i] = time.Now()
		})
	}
	wg.Wait()
	outcomes := make([]killOutcome, len(jobs))
	h.roundLog.Reset()
	for i, cmd := range cmds {
		err := errs[i]
		o := killOutcome{stdout: outs[i][0].String(), stderr: outs[i][1].String(), elapsed: ends[i].Sub(starts[i])}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
			o.killed = true
		case err != nil && cmd.ProcessState.ExitCode() < 0:
			h.fatalf("art %s: %v", strings.Join(jobs[i].args, " "), err)
		default:
			o.code = cmd.ProcessState.ExitCode()
		}
		outcomes[i] = o
		j := jobs[i]
		switch {
		case delays[i] < 0:
			fmt.Fprintf(&h.roundLog, "  art %s: timed, %s, exit %d\n", strings.Join(j.args, " "), o.elapsed.Round(time.Millisecond), o.code)
		case o.killed:
			fmt.Fprintf(&h.roundLog, "  art %s: killed at %s\n", strings.Join(j.args, " "), delays[i].Round(time.Millisecond))
		default:
			fmt.Fprintf(&h.roundLog, "  art %s: exit %d after %s, before its kill at %s\n", strings.Join(j.args, " "), o.code, o.elapsed.Round(time.Millisecond), delays[i].Round(time.Millisecond))
		}
		switch {
		case delays[i] < 0 && o.killed:
			hung = append(hung, "art "+strings.Join(j.args, " "))
		case delays[i] < 0:
			// The median of the last few timed runs.
			ds := append(h.timings[j.key], o.elapsed)
			if len(ds) > killRetimeEvery {
				ds = ds[1:]
			}
			h.timings[j.key] = ds
			if len(ds) >= killCalibrationRuns {
				ds = slices.Clone(ds)
				slices.Sort(ds)
				h.typical[j.key] = ds[len(ds)/2]
			}
		case o.killed:
			h.kills[j.op]++
		default:
			h.missed[j.op]++
		}
	}
	watchdog.Stop()
	if len(hung) > 0 {
		h.fatalf("still running after %s (hung?): %s", killCmdTimeout, strings.Join(hung, "; "))
	}
	for i, j := range jobs {
		if j.settle != nil {
			j.settle(h, outcomes[i])
		}
	}
	h.checkRepo()
	for i, j := range jobs {
		if j.verify != nil {
			j.verify(h, outcomes[i])
		}
	}
}

// mustExitOK fails the test if a process that was not killed failed.
func (h *killHarness) mustExitOK(o killOutcome, what string) {
	h.t.Helper()
	if !o.killed && o.code != 0 {
		h.fatalf("%s failed (exit %d):\n%s%s", what, o.code, o.stdout, o.stderr)
	}
}

// mustRun runs art to completion within killCmdTimeout and fails the test
// unless it exits 0.
func (h *killHarness) mustRun(args ...string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), killCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, artBin, args...)
	cmd.Dir = h.p.dir
	cmd.Env = baseEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		h.fatalf("art %s did not finish within %s (a stale lock?)\n%s", strings.Join(args, " "), killCmdTimeout, stderr.String())
	}
	if err != nil {
		h.fatalf("art %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func (h *killHarness) mustJSON(v any, args ...string) {
	h.t.Helper()
	decodeJSON(h.t, h.mustRun(append(args, "--json")...), v)
}

// ---- commit

// planCommits writes each committer's directory afresh (its stable file
// is kept, for the stat cache) and commits it.
func planCommits(h *killHarness) []*killJob {
	var jobs []*killJob
	for i, c := range killCommitters {
		dir := filepath.Join("in", strconv.Itoa(i))
		files := h.writeContent(dir, c.big)
		args := []string{"commit", c.name, dir, "--json"}
		if c.alias {
			args = append(args, "-a", "hot")
		}
		name := c.name
		key := "commit small"
		if c.big {
			key = "commit big"
		}
		jobs = append(jobs, &killJob{op: "commit", key: key, args: args,
			settle: func(h *killHarness, o killOutcome) { h.settleCommit(name, files, o) }})
	}
	return jobs
}

// writeContent gives a committer's directory new content, unique to this
// round, and returns its files' hashes: a few small files (one of them
// sometimes empty), a 1-2 MiB file half the time, and in the big
// committer's the 22 MiB file, changed in two places since the last round
// (so most of its chunks are shared with the version before).
func (h *killHarness) writeContent(dir string, big bool) map[string]string {
	h.nonce++
	files := map[string]string{}
	put := func(rel string, b []byte) {
		full := h.p.path(filepath.Join(dir, rel))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			h.t.Fatal(err)
		}
		files[filepath.ToSlash(rel)] = sha256Hex(b)
	}
	drop := func(rel string) {
		if err := os.Remove(h.p.path(filepath.Join(dir, rel))); err != nil && !errors.Is(err, os.ErrNotExist) {
			h.t.Fatal(err)
		}
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		fillRandom(h.rng, b)
		return b
	}
	// Unchanged since the first round: the stat cache's case.
	stable := h.p.path(filepath.Join(dir, "stable.bin"))
	if b, err := os.ReadFile(stable); err == nil {
		files["stable.bin"] = sha256Hex(b)
	} else {
		put("stable.bin", random(64<<10))
	}
	put("nonce.txt", []byte(fmt.Sprintf("attempt %d of round %d\n", h.nonce, h.round)))
	put("sub/small.bin", random(h.rng.IntN(64<<10)))
	put("sub/deep/tiny.bin", random(h.rng.IntN(512)))
	if h.rng.IntN(4) == 0 {
		put("empty", nil)
	} else {
		drop("empty")
	}
	if h.rng.IntN(2) == 0 {
		put("mid.bin", random(1<<20+h.rng.IntN(1<<20)))
	} else {
		drop("mid.bin")
	}
	if big {
		for range 2 {
			off := h.rng.IntN(len(h.bigBuf) - 64<<10)
			fillRandom(h.rng, h.bigBuf[off:off+64<<10])
		}
		put("big.bin", h.bigBuf)
	}
	return files
}

// settleCommit records what a commit reported: a version created, or
// nothing if it was killed first (then it may have committed all the
// same: checkRepo matches any version nobody reported to such attempts).
func (h *killHarness) settleCommit(name string, files map[string]string, o killOutcome) {
	t := h.t
	var res map[string]any
	if o.stdout != "" && json.Unmarshal([]byte(o.stdout), &res) == nil {
		if res["created"] != true {
			h.fatalf("commit %s of new content reported %v", name, o.stdout)
		}
		ref := fmt.Sprintf("%s:%s", res["name"], res["version"])
		if res["name"] != name {
			h.fatalf("commit %s reported %s", name, ref)
		}
		if old, ok := h.versions[ref]; ok {
			h.fatalf("commit reported %s (%s), which was already %s", ref, res["id"], old.id)
		}
		h.versions[ref] = &trackedVersion{ref: ref, name: name, num: parseVersion(t, res["version"]),
			id: fmt.Sprint(res["id"]), files: files}
		return
	}
	if !o.killed {
		h.fatalf("commit %s exited %d without a result:\n%s%s", name, o.code, o.stdout, o.stderr)
	}
	h.attempts = append(h.attempts, killAttempt{name: name, files: files})
}

// ---- rm

// planRm deletes up to two live versions of rmArtifacts, one process
// each (keeping the two newest of each artifact), and reserves them so
// checkout leaves them alone this round.
func planRm(h *killHarness) []*killJob {
	var cands []*trackedVersion
	for _, name := range rmArtifacts {
		live := h.liveVersions(name)
		if len(live) > 2 {
			cands = append(cands, live[:len(live)-2]...)
		}
	}
	var jobs []*killJob
	for range 2 {
		if len(cands) == 0 {
			break
		}
		i := h.rng.IntN(len(cands))
		v := cands[i]
		cands = slices.Delete(cands, i, i+1)
		h.reserved[v.ref] = true
		jobs = append(jobs, &killJob{op: "rm", key: "rm", args: []string{"rm", v.ref, "--force", "--json"},
			settle: func(h *killHarness, o killOutcome) {
				var res map[string]any
				switch {
				case o.stdout != "" && json.Unmarshal([]byte(o.stdout), &res) == nil:
					if got := fmt.Sprintf("%s:%s", res["name"], res["version"]); got != v.ref {
						h.fatalf("rm %s reported deleting %s", v.ref, got)
					}
					v.state, v.reportedDeleted = vDeleted, true
				case o.killed:
					v.state = vMaybeDeleted
				default:
					h.fatalf("rm %s exited %d:\n%s%s", v.ref, o.code, o.stdout, o.stderr)
				}
			}})
	}
	return jobs
}

// ---- checkout

// planCheckout switches co/NAME to another version, for two artifacts of
// checkoutArtifacts, leaving alone the versions rm reserved. After a
// killed checkout the next one (unkilled) goes to yet another version, or
// the same one if there is no other: it must work without any cleanup, and
// the directory must then hold exactly that version's files.
func planCheckout(h *killHarness) []*killJob {
	var jobs []*killJob
	for _, i := range h.rng.Perm(len(checkoutArtifacts)) {
		name := checkoutArtifacts[i]
		v := h.pickCheckout(name, "")
		if v == nil {
			continue
		}
		dir := filepath.Join("co", name)
		jobs = append(jobs, &killJob{op: "checkout", key: "checkout " + name,
			args:   []string{"checkout", v.ref, "-o", dir, "--json"},
			settle: func(h *killHarness, o killOutcome) { h.mustExitOK(o, "checkout "+v.ref) },
			verify: func(h *killHarness, o killOutcome) {
				want := v
				if o.killed {
					if w := h.pickCheckout(name, v.ref); w != nil {
						want = w
					}
					h.mustRun("checkout", want.ref, "-o", dir, "--json")
				}
				if err := compareDir(h.p.path(dir), want.files, h.temps); err != nil {
					h.fatalf("%s after checkout of %s (killed: %v, then %s): %v", dir, v.ref, o.killed, want.ref, err)
				}
			}})
		if len(jobs) == 2 {
			break
		}
	}
	return jobs
}

// pickCheckout returns a live version of name that rm leaves alone this
// round, other than not ("" for any), or nil.
func (h *killHarness) pickCheckout(name, not string) *trackedVersion {
	var cands []*trackedVersion
	for _, v := range h.liveVersions(name) {
		if !h.reserved[v.ref] && v.ref != not {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[h.rng.IntN(len(cands))]
}

// liveVersions returns the live versions of name, oldest first.
func (h *killHarness) liveVersions(name string) []*trackedVersion {
	var out []*trackedVersion
	for _, v := range h.versions {
		if v.name == name && v.state == vLive {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].num < out[j].num })
	return out
}

// ---- checks

// checkRepo checks the repository as the round's kills left it.
func (h *killHarness) checkRepo() {
	t := h.t
	// First, before any art command opens (and recovers) the index.
	if got := integrityCheck(t, h.p.path(".art/index.db")); got != "ok" {
		h.fatalf("PRAGMA integrity_check: %s", got)
	}
	h.mustRun("fsck")

	var arts []map[string]any
	h.mustJSON(&arts, "ls")
	present := map[string]map[string]any{} // ref -> version JSON
	for _, a := range arts {
		name := a["name"].(string)
		var vs []map[string]any
		h.mustJSON(&vs, "log", name)
		var nums []int64
		for _, v := range vs {
			present[name+":"+v["version"].(string)] = v
			nums = append(nums, parseVersion(t, v["version"]))
		}
		for _, c := range killCommitters {
			if c.name == name && c.dense {
				slices.Sort(nums)
				for i, n := range nums {
					if n != int64(i) {
						h.fatalf("%s has versions %v: not dense, though nothing deleted any", name, nums)
					}
				}
			}
		}
	}
	for ref, v := range h.versions {
		got, ok := present[ref]
		switch {
		case v.state == vMaybeDeleted && ok, v.state == vLive && ok:
			if got["id"] != v.id {
				h.fatalf("%s is %s, was reported as %s", ref, got["id"], v.id)
			}
			v.state = vLive
		case v.state == vMaybeDeleted:
			v.state = vDeleted
		case v.state == vLive:
			h.fatalf("%s (%s) was reported created and is lost", ref, v.id)
		case ok: // vDeleted
			h.fatalf("%s was deleted, or its number used before, and exists as %s", ref, got["id"])
		}
	}
	// A version nobody reported must be one a killed commit of this round
	// was recording, with exactly its content.
	var unknown []string
	for ref := range present {
		if h.versions[ref] == nil {
			unknown = append(unknown, ref)
		}
	}
	sort.Strings(unknown)
	for _, ref := range unknown {
		got := present[ref]
		name := got["name"].(string)
		dir := h.checkoutFresh(ref)
		match := -1
		for i, a := range h.attempts {
			if a.name == name && compareDir(dir, a.files, nil) == nil {
				match = i
				break
			}
		}
		os.RemoveAll(dir)
		if match < 0 {
			h.fatalf("%s (%s) exists but no commit of this round was recording its content", ref, got["id"])
		}
		h.versions[ref] = &trackedVersion{ref: ref, name: name, num: parseVersion(t, got["version"]),
			id: got["id"].(string), files: h.attempts[match].files, checked: true}
		h.attempts = slices.Delete(h.attempts, match, match+1)
	}
	// Check out what appeared this round, and one older version.
	var old []*trackedVersion
	for _, ref := range sortedKeys(h.versions) {
		v := h.versions[ref]
		if v.state != vLive {
			continue
		}
		if v.checked {
			old = append(old, v)
			continue
		}
		h.checkVersion(v)
	}
	if len(old) > 0 {
		h.checkVersion(old[h.rng.IntN(len(old))])
	}
}

// checkVersion checks v out into a fresh directory and compares it with
// what was committed.
func (h *killHarness) checkVersion(v *trackedVersion) {
	dir := h.checkoutFresh(v.ref)
	defer os.RemoveAll(dir)
	if err := compareDir(dir, v.files, nil); err != nil {
		h.fatalf("%s (%s) does not check out as committed: %v", v.ref, v.id, err)
	}
	v.checked = true
}

func (h *killHarness) checkoutFresh(ref string) string {
	dir := h.p.path("verify")
	if err := os.RemoveAll(dir); err != nil {
		h.t.Fatal(err)
	}
	h.mustRun("checkout", ref, "-o", dir, "-q")
	return dir
}

// finalCheck checks out every live version once more.
func (h *killHarness) finalCheck() {
	h.checkRepo()
	for _, ref := range sortedKeys(h.versions) {
		if v := h.versions[ref]; v.state == vLive {
			h.checkVersion(v)
		}
	}
	// The index rebuilt from the objects and ref documents keeps what was
	// reported: every live version, with its ID; no version reported
	// deleted. (An rm killed after its transaction but before it rewrote
	// the artifact's ref document is undone by a reindex: it was never
	// reported, so either outcome is allowed.)
	h.mustRun("reindex")
	present := h.presentVersions()
	for _, ref := range sortedKeys(h.versions) {
		v := h.versions[ref]
		got, ok := present[ref]
		switch {
		case v.state == vLive && (!ok || got != v.id):
			h.fatalf("after art reindex, %s is %q, want %s", ref, got, v.id)
		case v.reportedDeleted && ok:
			h.fatalf("after art reindex, %s, reported deleted, is back", ref)
		}
	}
	for ref := range present {
		if h.versions[ref] == nil {
			h.fatalf("after art reindex, %s exists, which nobody committed", ref)
		}
	}
	h.mustRun("fsck")

	// The remote that the pushes were killed against: one more push, and a
	// fresh repository pulls every live version with its ID and files.
	h.mustRun("push", "origin", "-q")
	clone := newProject(h.t)
	clone.ok("remote", "add", "origin", h.remoteDir())
	clone.ok("pull", "-q")
	var got map[string]string
	for _, name := range clone.artifactNames() {
		var vs []map[string]any
		clone.json(&vs, "log", name)
		for _, v := range vs {
			if got == nil {
				got = map[string]string{}
			}
			got[fmt.Sprint(v["name"], ":", v["version"])] = fmt.Sprint(v["id"])
		}
	}
	for _, ref := range sortedKeys(h.versions) {
		v := h.versions[ref]
		if v.state != vLive {
			continue
		}
		if got[ref] != v.id {
			h.fatalf("pulled from the remote, %s is %q, want %s", ref, got[ref], v.id)
		}
		dir := clone.path("co-" + strings.ReplaceAll(ref, ":", "-"))
		clone.ok("checkout", ref, "-o", dir, "-q")
		if err := compareDir(dir, v.files, nil); err != nil {
			h.fatalf("%s pulled from the remote: %v", ref, err)
		}
	}
	clone.ok("fsck", "-q")
}

// remoteDir returns the directory remote the harness pushes to.
func (h *killHarness) remoteDir() string {
	out := h.mustRun("remote", "ls", "--json")
	var rs []map[string]string
	decodeJSON(h.t, out, &rs)
	return rs[0]["url"]
}

// presentVersions returns the ID of every version, by ref.
func (h *killHarness) presentVersions() map[string]string {
	var arts []map[string]any
	h.mustJSON(&arts, "ls")
	out := map[string]string{}
	for _, a := range arts {
		var vs []map[string]any
		h.mustJSON(&vs, "log", a["name"].(string))
		for _, v := range vs {
			out[fmt.Sprintf("%s:%s", v["name"], v["version"])] = v["id"].(string)
		}
	}
	return out
}

// integrityCheck returns what SQLite's PRAGMA integrity_check says of the
// database at path, opened read-only: "ok" when it is sound.
func integrityCheck(t testing.TB, path string) string {
	t.Helper()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`PRAGMA integrity_check`)
	if err != nil {
		t.Fatalf("integrity_check of %s: %v", path, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("integrity_check of %s: %v", path, err)
	}
	return strings.Join(lines, "\n")
}

// compareDir returns an error unless dir holds exactly the files of want
// (slash path -> SHA-256), and nothing else but, if temps is not nil,
// checkout temp files (.art-tmp-*), which it adds to temps: a checkout killed
// between naming its temp file and renaming it leaves one, removed by a
// later checkout once it is 10 minutes old.
func compareDir(dir string, want map[string]string, temps map[string]bool) error {
	got := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		if temps != nil && strings.HasPrefix(fi.Name(), ".art-tmp-") {
			temps[p] = true
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		hs := sha256.New()
		if _, err := io.Copy(hs, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = hex.EncodeToString(hs.Sum(nil))
		return nil
	})
	if err != nil {
		return err
	}
	var diffs []string
	for _, p := range sortedKeys(want) {
		switch g, ok := got[p]; {
		case !ok:
			diffs = append(diffs, p+" missing")
		case g != want[p]:
			diffs = append(diffs, p+" differs")
		}
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, p+" should not be there")
		}
	}
	if len(diffs) > 0 {
		return errors.New(strings.Join(diffs, ", "))
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fillRandom fills b from rng, 8 bytes at a time.
func fillRandom(rng *rand.Rand, b []byte) {
	for len(b) >= 8 {
		v := rng.Uint64()
		for i := range 8 {
			b[i] = byte(v >> (8 * i))
		}
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

func parseVersion(t testing.TB, v any) int64 {
	t.Helper()
	s, _ := v.(string)
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "v"), 10, 64)
	if err != nil || !strings.HasPrefix(s, "v") {
		t.Fatalf("version %v is not vN", v)
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
