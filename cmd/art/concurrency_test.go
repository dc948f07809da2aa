package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
)

// TestSixteenProcesses runs 16 workers on one repository at once, each
// starting art processes back to back: six commit to one artifact (nobody
// deletes its versions), two commit to another whose versions three
// workers delete as they are reported, three add and remove aliases, and
// two run `gc --grace 0s`. Every command must succeed — no "database is
// locked", no SQLITE_BUSY, no retry exhausted — except the refusals the
// workers provoke on purpose (removing an alias or a version a second
// time), which must be exactly "not found". Afterwards every version
// reported created and not deleted exists with its ID, the first
// artifact's numbers are dense and unique, the aliases are where their
// last move put them, and fsck and SQLite's integrity_check are clean.
func TestSixteenProcesses(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	const (
		sharedCommitters = 6
		churnCommitters  = 2
		aliasWorkers     = 3
		rmWorkers        = 3
		gcWorkers        = 2
		perWorker        = 10 // commands each committer, alias and gc worker runs
	)
	if n := sharedCommitters + churnCommitters + aliasWorkers + rmWorkers + gcWorkers; n != 16 {
		t.Fatalf("%d workers", n)
	}
	// shared:latest must resolve for the alias workers from the start.
	p.write("seed.txt", "seed")
	var first versionMap
	p.json(&first, "commit", "shared", "seed.txt")

	var (
		mu       sync.Mutex
		failures []string
		shared   = map[string]string{"v0": first["id"].(string)} // version -> ID reported
		churn    = map[string]string{}                           // version -> ID reported
		deleted  = map[string]bool{}                             // churn versions rm reported
		aliases  = map[string]string{}                           // alias -> version its last add reported
		commands int
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// art runs one command and fails the test unless it exits with want
	// (0, or 1 for an expected refusal); a refusal's message must start
	// with refusal. Whatever happens, nothing may mention a busy database.
	art := func(want int, refusal string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, artBin, args...)
		cmd.Dir = p.dir
		cmd.Env = baseEnv()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		mu.Lock()
		commands++
		mu.Unlock()
		code := 0
		if err != nil {
			code = -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
		}
		what := fmt.Sprintf("art %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		low := strings.ToLower(stderr.String() + stdout.String())
		switch {
		case strings.Contains(low, "locked") || strings.Contains(low, "busy"):
			fail("busy database reached the user: %s", what)
		case code != want:
			fail("want exit %d: %s", want, what)
		case want != 0 && !strings.HasPrefix(stderr.String(), refusal):
			fail("want a refusal starting %q: %s", refusal, what)
		}
		return stdout.String()
	}
	decode := func(out string, args ...string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			fail("art %s printed %q: %v", strings.Join(args, " "), out, err)
			return nil
		}
		return m
	}

	var wg, committersDone sync.WaitGroup
	toDelete := make(chan string, churnCommitters*perWorker)
	commit := func(w int, name string, record map[string]string, then func(version string)) {
		for i := range perWorker {
			dir := filepath.Join("in", fmt.Sprint(w), fmt.Sprint(i))
			p.write(dir+"/own.txt", fmt.Sprintf("worker %d commit %d", w, i))
			p.write(dir+"/common.txt", "the same in every version")
			args := []string{"commit", name, dir, "--json"}
			m := decode(art(0, "", args...), args...)
			if m == nil {
				continue
			}
			v, _ := m["version"].(string)
			mu.Lock()
			if _, dup := record[v]; dup || m["created"] != true {
				failures = append(failures, fmt.Sprintf("commit %s reported %s (created %v) twice or not created", name, v, m["created"]))
			}
			record[v] = m["id"].(string)
			mu.Unlock()
			if then != nil {
				then(v)
			}
		}
	}
	for w := range sharedCommitters {
		wg.Go(func() { commit(w, "shared", shared, nil) })
	}
	for w := range churnCommitters {
		committersDone.Add(1)
		wg.Go(func() {
			defer committersDone.Done()
			commit(100+w, "churn", churn, func(v string) { toDelete <- "churn:" + v })
		})
	}
	go func() { committersDone.Wait(); close(toDelete) }()
	for range rmWorkers {
		wg.Go(func() {
			for ref := range toDelete {
				args := []string{"rm", ref, "--json"}
				if m := decode(art(0, "", args...), args...); m != nil {
					mu.Lock()
					deleted[m["version"].(string)] = true
					mu.Unlock()
				}
				// Again: refused, precisely.
				art(1, "art: not found: "+ref+";", "rm", ref)
			}
		})
	}
	for w := range aliasWorkers {
		alias := fmt.Sprintf("a%d", w)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWorker {
				args := []string{"alias", "add", "shared:latest", alias, "--json"}
				m := decode(art(0, "", args...), args...)
				if m == nil {
					continue
				}
				if i == perWorker-1 {
					mu.Lock()
					aliases[alias] = m["version"].(string)
					mu.Unlock()
					break
				}
				art(0, "", "alias", "rm", "shared", alias)
				if rng.IntN(2) == 0 {
					art(1, "art: not found: alias shared:"+alias+";", "alias", "rm", "shared", alias)
				}
			}
		})
	}
	for w := range gcWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for range perWorker {
				art(0, "", "gc", "--grace", "0s")
				time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
			}
		})
	}
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start)
	if len(failures) > 0 {
		sort.Strings(failures)
		t.Fatalf("%d of %d commands went wrong:\n%s", len(failures), commands, strings.Join(failures, "\n"))
	}

	// Every reported version, with its ID; shared's numbers dense.
	var vs []versionMap
	p.json(&vs, "log", "shared")
	got := map[string]string{}
	gotAliases := map[string]string{}
	for _, v := range vs {
		got[v["version"].(string)] = v["id"].(string)
		for _, a := range toStrings(v["aliases"]) {
			gotAliases[a] = v["version"].(string)
		}
	}
	want := sharedCommitters*perWorker + 1
	if len(got) != want || len(shared) != want {
		t.Fatalf("shared has %d versions, %d reported; want %d", len(got), len(shared), want)
	}
	for i := range want {
		v := fmt.Sprintf("v%d", i)
		if got[v] == "" || got[v] != shared[v] {
			t.Fatalf("shared:%s is %q, reported %q: numbers not dense and unique", v, got[v], shared[v])
		}
	}
	delete(gotAliases, "latest")
	if !mapsEqual(gotAliases, aliases) {
		t.Fatalf("aliases %v, want %v (where each worker's last add put them)", gotAliases, aliases)
	}
	vs = nil
	p.json(&vs, "log", "churn")
	gotChurn := map[string]string{}
	for _, v := range vs {
		gotChurn[v["version"].(string)] = v["id"].(string)
	}
	wantChurn := map[string]string{}
	for v, id := range churn {
		if !deleted[v] {
			wantChurn[v] = id
		}
	}
	if len(churn) != churnCommitters*perWorker || !mapsEqual(gotChurn, wantChurn) {
		t.Fatalf("churn has %v; %d reported created, %d deleted: want %v", gotChurn, len(churn), len(deleted), wantChurn)
	}
	p.ok("fsck")
	if got := integrityCheck(t, p.path(".art/index.db")); got != "ok" {
		t.Fatalf("PRAGMA integrity_check: %s", got)
	}
	t.Logf("%d commands from 16 workers in %s: %d versions of shared, %d of churn created and %d deleted",
		commands, elapsed.Round(time.Millisecond), len(shared), len(churn), len(deleted))
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestVersionAllocationRace has 32 goroutines Log new content to one
// artifact at once, through one repository handle and through one handle
// each (as separate processes would): every Log succeeds, and the numbers
// are 0..31, each once. refs has no compare-and-swap primitive of its
// own: version allocation (refs.Index.AllocateVersion in Log's BEGIN
// IMMEDIATE transaction) is the read-modify-write that must not lose an
// update.
func TestVersionAllocationRace(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{true, false} {
		name := "one handle"
		if !shared {
			name = "a handle each"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), repo.DirName)
			r, err := repo.Init(ctx, afero.NewOsFs(), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			const n = 32
			nums := make([]int64, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					rr := r
					if !shared {
						var err error
						if rr, err = repo.Open(ctx, afero.NewOsFs(), dir, nil); err != nil {
							errs[i] = err
							return
						}
						defer rr.Close()
					}
					a := rr.NewArtifact("race", "dataset")
					w, err := a.NewFile(ctx, "own.txt")
					if err != nil {
						errs[i] = err
						return
					}
					fmt.Fprintf(w, "goroutine %d", i)
					if err := w.Close(); err != nil {
						errs[i] = err
						return
					}
					<-start
					v, created, err := rr.Log(ctx, a, nil)
					if err == nil && !created {
						err = fmt.Errorf("new content not created (%s)", v.Ref())
					}
					nums[i], errs[i] = v.Version.Version, err
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("goroutine %d: %v", i, err)
				}
			}
			sorted := slices.Clone(nums)
			slices.Sort(sorted)
			for i, v := range sorted {
				if v != int64(i) {
					t.Fatalf("version numbers %v: want 0..%d, each once", sorted, n-1)
				}
			}
			vs, err := r.Versions(ctx, "race")
			if err != nil || len(vs) != n {
				t.Fatalf("Versions: %d, %v; want %d", len(vs), err, n)
			}
		})
	}
}

// TestAliasMoveRace has 32 goroutines move one alias at once, each to its
// own version. Moving an alias reads where it points and writes the new
// place in one transaction, so the moves are a chain: each reports the
// version it moved the alias from, and every value the alias held — none
// at first, then each mover's version but the last — was moved from by
// exactly one goroutine (one winner per base value: no lost update), and
// the alias ends on the version nobody moved it from.
func TestAliasMoveRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := repo.Init(ctx, afero.NewOsFs(), filepath.Join(t.TempDir(), repo.DirName), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 32
	for i := range n {
		a := r.NewArtifact("model", "model")
		w, err := a.NewFile(ctx, "weights")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "weights %d", i)
		w.Close()
		if _, _, err := r.Log(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	prevs := make([]int64, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, prevs[i], errs[i] = r.AddAlias(ctx, fmt.Sprintf("model:v%d", i), "best")
		})
	}
	close(start)
	wg.Wait()
	from := map[int64][]int{} // base value -> goroutines that moved the alias from it
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
		from[prevs[i]] = append(from[prevs[i]], i)
	}
	var last []int64
	for i := range n {
		if len(from[int64(i)]) == 0 {
			last = append(last, int64(i))
		}
	}
	for base, movers := range from {
		if len(movers) != 1 {
			t.Errorf("%d goroutines moved the alias from %d: %v (want exactly one)", len(movers), base, movers)
		}
	}
	if len(from[-1]) != 1 || len(last) != 1 {
		t.Fatalf("moves do not form one chain: from %v, ends %v", from, last)
	}
	v, err := r.Resolve(ctx, "model:best")
	if err != nil || v.Version.Version != last[0] {
		t.Fatalf("model:best = %v, %v; want v%d, where the chain ends", v.Ref(), err, last[0])
	}
}
