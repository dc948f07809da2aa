package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/artvcs/art/repo/remote/remotetest"
)

// testRemote is a remote the end-to-end tests share between projects.
type testRemote struct {
	url string
	env []string // what a client needs (credentials, endpoint, token)
	dir string   // for directory-backed remotes: the store on disk
}

// dirRemote is a directory remote.
func dirRemote(t *testing.T) testRemote {
	dir := filepath.Join(t.TempDir(), "remote")
	return testRemote{url: dir, dir: dir}
}

// s3Remote is a fresh bucket on the test binary's MinIO server.
func s3Remote(t *testing.T) testRemote {
	m := remotetest.MinIO(t)
	bucket := m.NewBucket(t)
	return testRemote{url: "s3://" + bucket + "/team", env: []string{
		"AWS_ACCESS_KEY_ID=" + m.AccessKey, "AWS_SECRET_ACCESS_KEY=" + m.SecretKey,
		"AWS_ENDPOINT_URL=" + m.Endpoint, "AWS_REGION=" + m.Region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}}
}

func randToken(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// servedRemote starts `art serve` on a free loopback port with a write and
// a read token (and the flags given), and stops it when the test ends.
func servedRemote(t *testing.T, flags ...string) (r testRemote, readToken string) {
	t.Helper()
	dir := t.TempDir()
	write, read := randToken(t), randToken(t)
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# test tokens\nwrite "+write+"\nread "+read+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	store := filepath.Join(dir, "store")
	cmd := exec.Command(artBin, append([]string{"serve", "--addr", addr, "--token-file", tokens, "--root", store}, flags...)...)
	cmd.Env = baseEnv()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "serving") {
		t.Fatalf("art serve said %q, %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return testRemote{url: "http://" + addr, env: []string{"ART_TOKEN=" + write}, dir: store}, read
}

// drivers are the remote kinds every remote test runs on.
var drivers = []struct {
	name string
	make func(t *testing.T) testRemote
}{
	{"dir", dirRemote},
	{"s3", s3Remote},
	{"http", func(t *testing.T) testRemote { r, _ := servedRemote(t); return r }},
}

// remoteProject is a project using rem as origin.
func remoteProject(t *testing.T, rem testRemote) *project {
	p := newProject(t)
	p.env = append(p.env, rem.env...)
	p.ok("remote", "add", "origin", rem.url)
	return p
}

// versionIDs lists NAME's versions as "vN ID", newest first.
func (p *project) versionIDs(name string) []string {
	p.t.Helper()
	var vs []map[string]any
	p.json(&vs, "log", name)
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprint(v["version"], " ", v["id"]))
	}
	return out
}

// TestRemoteTwoRepos: for each driver, A pushes, an empty B pulls and
// checks out identical bytes; B pushes v1; A's own v1 push is refused; A
// pulls (its version becomes v2, reported) and pushes; both end with the
// same three versions; lineage travels.
func TestRemoteTwoRepos(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			rem := d.make(t)
			a, b := remoteProject(t, rem), remoteProject(t, rem)
			big := strings.Repeat("0123456789abcdef", 1<<20) // 16 MiB: chunked
			a.write("data/big.bin", big)
			a.write("data/labels.csv", "id,label\n1,cat\n")
			run := strings.TrimSpace(a.ok("run", "start", "--job-type", "prep", "-q"))
			a.runIn("", []string{"ART_RUN_ID=" + run}, "commit", "ds", "data", "-a", "best")
			a.runIn("", []string{"ART_RUN_ID=" + run}, "run", "finish")
			if out := a.ok("push"); !strings.Contains(out, "ds: pushed v0 to origin") {
				t.Fatalf("push said %q", out)
			}
			if out := b.ok("pull"); !strings.Contains(out, "ds: added v0 from origin") {
				t.Fatalf("pull said %q", out)
			}
			b.ok("checkout", "ds:best", "-o", "got")
			if b.read("got/big.bin") != big || b.read("got/labels.csv") != a.read("data/labels.csv") {
				t.Fatal("B checked out other bytes")
			}
			if la, lb := a.ok("lineage", "ds:v0", "--format", "json"), b.ok("lineage", "ds:v0", "--format", "json"); la != lb {
				t.Fatalf("lineage differs after pull:\nA: %s\nB: %s", la, lb)
			}

			b.write("data/labels.csv", "id,label\n1,dog\n")
			b.write("data/big.bin", big)
			b.ok("commit", "ds", "data")
			b.ok("push")
			a.write("data/labels.csv", "id,label\n1,cow\n")
			a.ok("commit", "ds", "data")
			res := a.fail(1, "push")
			if !strings.Contains(res.stderr, "art pull") {
				t.Fatalf("refused push should say to pull: %v", res)
			}
			out := a.ok("pull")
			if !strings.Contains(out, "your ds:v1 is now ds:v2") {
				t.Fatalf("pull should report the renumbering: %q", out)
			}
			a.ok("push")
			b.ok("pull")
			va, vb := a.versionIDs("ds"), b.versionIDs("ds")
			if len(va) != 3 || !slices.Equal(va, vb) {
				t.Fatalf("A has %v, B %v; want the same three versions", va, vb)
			}
			b.ok("checkout", "ds:v2", "-o", "v2")
			if b.read("v2/labels.csv") != "id,label\n1,cow\n" {
				t.Fatal("B's checkout of A's renumbered version differs")
			}
			a.ok("fsck")
			b.ok("fsck")
		})
	}
}

// TestConcurrentPushersMinIO: four processes push new versions of one
// artifact to one bucket at once, pulling and retrying when refused; every
// version ends on the remote and none is lost.
func TestConcurrentPushersMinIO(t *testing.T) {
	rem := s3Remote(t)
	seed := remoteProject(t, rem)
	seed.write("d/a.txt", "seed")
	seed.ok("commit", "ds", "d")
	seed.ok("push")
	const n = 4
	ps := make([]*project, n)
	for i := range ps {
		ps[i] = remoteProject(t, rem)
		ps[i].ok("pull")
		ps[i].write("d/a.txt", fmt.Sprintf("from pusher %d", i))
		ps[i].ok("commit", "ds", "d")
	}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; try < 20; try++ {
				res := p.run("push")
				if res.code == 0 {
					return
				}
				if !strings.Contains(res.stderr, "art pull") {
					errs <- fmt.Sprintf("pusher %d: %v", i, res)
					return
				}
				if res := p.run("pull"); res.code != 0 {
					errs <- fmt.Sprintf("pusher %d pull: %v", i, res)
					return
				}
			}
			errs <- fmt.Sprintf("pusher %d never got through", i)
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	check := remoteProject(t, rem)
	check.ok("pull")
	if got := check.versionIDs("ds"); len(got) != n+1 {
		t.Fatalf("remote has %d versions, want %d: %v", len(got), n+1, got)
	}
	seen := map[string]bool{}
	for _, v := range check.versions("ds") {
		dir := "out-" + v
		check.ok("checkout", "ds:"+v, "-o", dir)
		seen[check.read(dir+"/a.txt")] = true
	}
	for i := 0; i < n; i++ {
		if !seen[fmt.Sprintf("from pusher %d", i)] {
			t.Errorf("pusher %d's version was lost", i)
		}
	}
	check.ok("fsck")
}

// TestServeRefusals: art serve refuses requests without a token, with a
// wrong one, a read token writing, a traversal path and an oversized
// body, each with the right status, and stores nothing.
func TestServeRefusals(t *testing.T) {
	rem, readToken := servedRemote(t, "--max-object-size", "1GiB")
	writeToken := strings.TrimPrefix(rem.env[0], "ART_TOKEN=")
	obj := "objects/ab/" + strings.Repeat("c", 62)
	// A pack whose header is right but whose object is not: "alphX" for
	// the ID of "alpha".
	alpha := blake3.Sum256([]byte("alpha"))
	hdr := "art pack 1\ncount 1\no " + hex.EncodeToString(alpha[:]) + " 5\n"
	name := blake3.Sum256([]byte(hdr))
	pack := "packs/" + hex.EncodeToString(name[:])
	cases := []struct {
		name, method, path, token string
		body                      io.Reader
		size                      int64
		want                      int
	}{
		{"no token", "GET", "/v1/k/refs/ds.json", "", nil, 0, 401},
		{"wrong token", "GET", "/v1/k/refs/ds.json", randToken(t), nil, 0, 401},
		{"read token writing", "PUT", "/v1/k/" + obj, readToken, strings.NewReader("x"), 1, 403},
		{"traversal", "GET", "/v1/k/objects/../../etc/passwd", writeToken, nil, 0, 400},
		{"encoded traversal", "GET", "/v1/k/objects/%2e%2e/%2e%2e/etc/passwd", writeToken, nil, 0, 400},
		{"oversized body", "PUT", "/v1/k/" + obj, writeToken, io.LimitReader(zeroReader{}, 2<<30), 2 << 30, 413},
		{"outside objects and refs", "PUT", "/v1/k/etc/passwd", writeToken, strings.NewReader("x"), 1, 0},
		{"forged pack", "PUT", "/v1/k/" + pack + ".pack", writeToken, strings.NewReader(hdr + "alphX"), int64(len(hdr)) + 5, 0},
		{"pack under another name", "PUT", "/v1/k/packs/" + strings.Repeat("d", 64) + ".pack", writeToken, strings.NewReader(hdr + "alpha"), int64(len(hdr)) + 5, 0},
		{"pack index before its pack", "PUT", "/v1/k/" + pack + ".idx", writeToken, strings.NewReader(hdr), int64(len(hdr)), 0},
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, tc := range cases {
		req, err := http.NewRequestWithContext(context.Background(), tc.method, rem.url+tc.path, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = tc.path // send the path as written, uncleaned
		if tc.body != nil {
			req.ContentLength = tc.size
			req.Header.Set("If-None-Match", "*")
		}
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			if tc.want == 413 {
				continue // the server may cut the upload before the client reads the status
			}
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if tc.want == 0 {
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s: status %d, want a 4xx", tc.name, resp.StatusCode)
			}
		} else if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d (%s), want %d", tc.name, resp.StatusCode, strings.TrimSpace(string(b)), tc.want)
		}
		if strings.Contains(string(b), writeToken) || strings.Contains(string(b), readToken) {
			t.Errorf("%s: the response echoes a token", tc.name)
		}
	}
	var stored []string
	filepath.Walk(rem.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			stored = append(stored, p)
		}
		return nil
	})
	if len(stored) != 0 {
		t.Fatalf("refused requests stored %v", stored)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestServeMaxObjectSize: a file stored whole travels as one pack of its
// size; a server whose limit is below it refuses the push with a clear
// error naming --max-object-size, the remote keeps no version, and under
// the default limit the same push goes through.
func TestServeMaxObjectSize(t *testing.T) {
	p := &project{t: t, dir: t.TempDir()}
	p.ok("init", "--no-chunking")
	p.write("data/model.bin", strings.Repeat("weights!", 1<<18)) // 2 MiB, one blob
	p.ok("commit", "m", "data", "-t", "model")

	small, _ := servedRemote(t, "--max-object-size", "1M")
	p.env = append(p.env, small.env...)
	p.ok("remote", "add", "small", small.url)
	res := p.fail(1, "push", "small")
	if !strings.Contains(res.stderr, "too large") || !strings.Contains(res.stderr, "--max-object-size") {
		t.Fatalf("push over the server's limit: %v; want an error saying so and naming --max-object-size", res)
	}
	if _, err := os.Stat(filepath.Join(small.dir, "refs", "m.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused push left a ref document on the server (%v)", err)
	}

	def, _ := servedRemote(t)
	p.env = append(p.env, def.env...)
	p.ok("remote", "add", "def", def.url)
	p.ok("push", "def")
	q := remoteProject(t, def)
	q.ok("pull")
	q.ok("checkout", "m", "-o", "got")
	if q.read("got/model.bin") != p.read("data/model.bin") {
		t.Fatal("the pulled model differs from the pushed one")
	}

	p.fail(2, "serve", "--open", "--max-object-size", "lots")
}

func TestParseByteSize(t *testing.T) {
	for s, want := range map[string]int64{"1048576": 1 << 20, "512K": 512 << 10, "64MiB": 64 << 20, "2G": 2 << 30,
		"64GiB": 64 << 30, "1t": 1 << 40, " 7 ": 7} {
		if got, err := parseByteSize(s); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1", "1.5G", "G", "12X", "99999999999T"} {
		if got, err := parseByteSize(s); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", s, got)
		}
	}
}

// TestRemoteRm: for each driver, `art rm --remote` removes a version from
// the remote's list (refusing an aliased one without --force, changing
// nothing), leaves the local repository alone, no push sends it back, a
// pull reports it and `pull --prune` removes it; the JSON shapes hold.
func TestRemoteRm(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			rem := d.make(t)
			a, b := remoteProject(t, rem), remoteProject(t, rem)
			for i, alias := range []string{"", "best", ""} {
				a.write("data/f.txt", fmt.Sprint("version ", i))
				args := []string{"commit", "ds", "data"}
				if alias != "" {
					args = append(args, "-a", alias)
				}
				a.ok(args...)
			}
			a.ok("push")
			b.ok("pull")
			all := a.versionIDs("ds")

			res := a.fail(1, "rm", "ds:v1", "--remote", "origin")
			if !strings.Contains(res.stderr, "art: ") || !strings.Contains(res.stderr, "best") || !strings.Contains(res.stderr, "--force") {
				t.Fatalf("rm of an aliased version on the remote: %+v", res)
			}
			a.fail(1, "rm", "ds:v7", "--remote", "origin")
			a.fail(1, "rm", "ds:v0", "--remote", "nowhere")
			c := remoteProject(t, rem)
			c.ok("pull")
			if got := c.versionIDs("ds"); !slices.Equal(got, all) {
				t.Fatalf("refusals changed the remote: %v, want %v", got, all)
			}

			rm := a.jsonOut(0, "rm", "ds:best", "--remote", "origin", "--force")
			pinKeys(t, "rm --remote", rm, "remote name version id size files aliases")
			if rm.at("version").value != "v1" || rm.at("remote").value != "origin" || len(rm.at("aliases").items) != 1 {
				t.Fatalf("rm --remote --json: version %v remote %v aliases %d", rm.at("version").value, rm.at("remote").value, len(rm.at("aliases").items))
			}
			if got := a.versionIDs("ds"); !slices.Equal(got, all) {
				t.Fatalf("rm --remote changed the local repository: %v", got)
			}
			if out := a.ok("push"); !strings.Contains(out, "did not send v1: removed from origin") {
				t.Fatalf("push said %q", out)
			}
			// What the remote holds: v1's objects are garbage now.
			du := a.jsonOut(0, "du", "--remote", "origin")
			pinKeys(t, "du --remote", du, "remote artifacts logical stored live garbage packs loose_objects")
			pinKeys(t, "du --remote artifact", du.at("artifacts", 0), "name versions logical")
			if g, _ := du.at("garbage").value.(json.Number).Int64(); g <= 0 {
				t.Fatalf("du --remote: no garbage after rm --remote")
			}
			if out := a.ok("du", "--remote", "origin"); !strings.Contains(out, "garbage for `art gc --remote origin`") {
				t.Fatalf("du --remote said %q", out)
			}
			gc := a.jsonOut(0, "gc", "--remote", "origin", "--grace", "1h")
			pinKeys(t, "gc --remote", gc, "remote step sweep_in_seconds versions live_objects packs stored_bytes live_bytes candidates candidate_bytes rewritten expired deleted_packs freed_bytes")
			if gc.at("step").value != "marked" || gc.at("candidates").value.(json.Number).String() != "0" {
				t.Fatalf("gc --remote of young packs: step %v, candidates %v", gc.at("step").value, gc.at("candidates").value)
			}
			a.fail(2, "gc", "--remote", "origin", "--grace", "10ms")
			d := remoteProject(t, rem)
			d.ok("pull")
			if got := d.versionIDs("ds"); len(got) != 2 || !strings.HasPrefix(got[0], "v2 ") || !strings.HasPrefix(got[1], "v0 ") {
				t.Fatalf("a fresh pull got %v, want v2 and v0", got)
			}
			if out := b.ok("pull"); !strings.Contains(out, "v1 removed from origin; kept here") {
				t.Fatalf("pull said %q", out)
			}
			if got := b.versionIDs("ds"); !slices.Equal(got, all) {
				t.Fatalf("pull without --prune changed B: %v", got)
			}
			pulled := b.jsonOut(0, "pull", "--prune")
			if p := pulled.at("artifacts", 0).at("pruned"); p == nil || len(p.items) != 1 || p.items[0].value != "v1" {
				t.Fatal("pull --prune --json does not list v1 as pruned")
			}
			b.fail(1, "show", "ds:v1")
			b.ok("checkout", "ds:v2", "-o", "got")
			if b.read("got/f.txt") != "version 2" {
				t.Fatal("B's checkout after the prune differs")
			}
			b.ok("fsck")
		})
	}
}

// TestRemoteGCWhilePushing: for a directory remote and MinIO, four
// processes push new versions of two artifacts (pulling and retrying when
// refused) and remove every other one of their own from the remote, while
// a fifth runs `art gc --remote --grace 1s` in a loop. Afterwards every
// version reported pushed and not removed pulls into a fresh repository
// and checks out byte-identical, fsck is clean, and once gc has settled
// the remote stores little more than its live bytes.
func TestRemoteGCWhilePushing(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			rem := d.make(t)
			const pushers, rounds = 4, 6
			type pushed struct{ name, version, content string }
			var mu sync.Mutex
			var kept []pushed
			var problems []string
			fail := func(format string, args ...any) {
				mu.Lock()
				problems = append(problems, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			ps := make([]*project, pushers)
			for i := range ps {
				ps[i] = remoteProject(t, rem)
			}
			gcer := remoteProject(t, rem)
			var wg sync.WaitGroup
			done := make(chan struct{})
			gcRuns := 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				for gcRuns < 200 {
					select {
					case <-done:
						return
					default:
					}
					if res := gcer.run("gc", "--remote", "origin", "--grace", "1s"); res.code != 0 {
						fail("gc: %v", res)
						return
					}
					gcRuns++
					time.Sleep(200 * time.Millisecond)
				}
			}()
			var pwg sync.WaitGroup
			for i, p := range ps {
				pwg.Add(1)
				go func() {
					defer pwg.Done()
					name := []string{"left", "right"}[i%2]
					var prev string
					for r := range rounds {
						content := fmt.Sprintf("pusher %d round %d\n%s", i, r, strings.Repeat("x", 1000*(i+1)))
						p.write("d/own.txt", content)
						p.write("d/common.txt", "the same everywhere")
						if res := p.run("commit", name, "d", "-q"); res.code != 0 {
							fail("pusher %d commit: %v", i, res)
							return
						}
						var version string
						for try := 0; ; try++ {
							res := p.runIn("", nil, "push", "--strategy", "new", "--json")
							if res.code == 0 {
								var out struct {
									Artifacts []struct {
										Name     string   `json:"name"`
										Versions []string `json:"versions"`
									} `json:"artifacts"`
								}
								if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
									fail("pusher %d push printed %q: %v", i, res.stdout, err)
									return
								}
								for _, a := range out.Artifacts {
									if a.Name == name && len(a.Versions) > 0 {
										version = a.Versions[len(a.Versions)-1]
									}
								}
								break
							}
							if try == 20 {
								fail("pusher %d never got through: %v", i, res)
								return
							}
							time.Sleep(50 * time.Millisecond)
						}
						if version == "" {
							fail("pusher %d round %d: the push reported no version of %s", i, r, name)
							return
						}
						if r%2 == 1 {
							if res := p.run("rm", name+":"+prev, "--remote", "origin", "--force"); res.code != 0 {
								fail("pusher %d rm --remote %s:%s: %v", i, name, prev, res)
								return
							}
							mu.Lock()
							kept = slices.DeleteFunc(kept, func(k pushed) bool { return k.name == name && k.version == prev })
							mu.Unlock()
						}
						mu.Lock()
						kept = append(kept, pushed{name, version, content})
						mu.Unlock()
						prev = version
					}
				}()
			}
			pwg.Wait()
			close(done)
			wg.Wait()
			if len(problems) > 0 {
				t.Fatalf("%d problems:\n%s", len(problems), strings.Join(problems, "\n"))
			}
			if gcRuns < 3 {
				t.Fatalf("only %d gc runs beside the pushes", gcRuns)
			}
			if len(kept) != pushers*rounds/2 {
				t.Fatalf("%d versions kept, want %d", len(kept), pushers*rounds/2)
			}
			check := func(stage string) {
				fresh := remoteProject(t, rem)
				fresh.ok("pull")
				for _, k := range kept {
					dir := "out-" + k.name + "-" + k.version
					if res := fresh.run("checkout", k.name+":"+k.version, "-o", dir); res.code != 0 {
						t.Fatalf("%s: %s:%s does not check out: %v", stage, k.name, k.version, res)
					}
					if got := fresh.read(dir + "/own.txt"); got != k.content {
						t.Fatalf("%s: %s:%s holds %.30q, want %.30q", stage, k.name, k.version, got, k.content)
					}
				}
				for _, name := range []string{"left", "right"} {
					if got := len(fresh.versionIDs(name)); got != pushers*rounds/4 {
						t.Fatalf("%s: a fresh pull has %d versions of %s, want %d", stage, got, name, pushers*rounds/4)
					}
				}
				fresh.ok("fsck")
			}
			check("after the pushes")
			// Settle: a grace period after the last push, finish the round
			// in progress, then a mark of everything the pushes left and,
			// a grace period later, its sweep.
			gcStep := func() (string, float64) {
				out := gcer.ok("gc", "--remote", "origin", "--grace", "1s", "--json")
				var m map[string]any
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatal(err)
				}
				n, _ := m["candidates"].(float64)
				return fmt.Sprint(m["step"]), n
			}
			time.Sleep(2200 * time.Millisecond)
			step, n := gcStep()
			for i := 0; step == "waiting"; i++ {
				if i == 5 {
					t.Fatal("the gc round in progress never swept")
				}
				time.Sleep(2200 * time.Millisecond)
				step, n = gcStep()
			}
			if step == "swept" {
				step, n = gcStep()
			}
			if step != "marked" {
				t.Fatalf("a gc after the round: %s, want marked", step)
			}
			if n > 0 {
				time.Sleep(2200 * time.Millisecond)
				if step, _ := gcStep(); step != "swept" {
					t.Fatalf("a gc a grace period after the mark: %s, want swept", step)
				}
			}
			check("after the last sweep")
			rep := gcer.jsonOut(0, "gc", "--remote", "origin", "--grace", "1s", "--dry-run")
			stored, _ := rep.at("stored_bytes").value.(json.Number).Int64()
			live, _ := rep.at("live_bytes").value.(json.Number).Int64()
			if live <= 0 || float64(stored) > 1.1*float64(live) {
				t.Fatalf("the remote stores %d bytes for %d live", stored, live)
			}
			t.Logf("%d gc runs beside the pushes; %d bytes stored for %d live", gcRuns, stored, live)
		})
	}
}

// TestRetentionEndToEnd is the scenario through the binary on a
// directory remote and MinIO: 20 versions, --keep-last 3, one older
// version aliased: after gc, exactly 4 versions remain here and on the
// remote, and the freed bytes are reported.
func TestRetentionEndToEnd(t *testing.T) {
	for _, d := range drivers[:2] {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			rem := d.make(t)
			p := remoteProject(t, rem)
			contents := map[string]string{}
			for i := range 20 {
				c := fmt.Sprintf("version %d\n%s", i, strings.Repeat("data ", 2000))
				p.write("d/f.txt", c)
				p.ok("commit", "ds", "d", "-q")
				contents[fmt.Sprint("v", i)] = c
			}
			p.ok("alias", "add", "ds:v5", "golden")
			p.fail(2, "retention", "ds", "--keep-last", "0")
			p.fail(2, "retention", "ds", "--clear", "--keep-last", "3")
			p.fail(1, "retention", "nope", "--keep-last", "3")
			r := p.jsonOut(0, "retention", "ds", "--keep-last", "3")
			pinKeys(t, "retention", r, "name keep_last keep_within policy")
			if r.at("keep_last").value.(json.Number).String() != "3" || r.at("keep_within").value != nil {
				t.Fatalf("retention --json: keep_last %v keep_within %v", r.at("keep_last").value, r.at("keep_within").value)
			}
			if out := p.ok("retention", "ds"); !strings.Contains(out, "keep the last 3 versions") {
				t.Fatalf("retention said %q", out)
			}
			p.ok("push")
			want := []string{"v19", "v18", "v17", "v5"}
			dry := p.jsonOut(0, "gc", "--dry-run")
			if n := len(dry.at("expired").items); n != 16 {
				t.Fatalf("gc --dry-run lists %d versions to expire, want 16", n)
			}
			if got := p.versions("ds"); len(got) != 20 {
				t.Fatalf("a dry run deleted versions: %v", got)
			}
			time.Sleep(100 * time.Millisecond)
			gc := p.jsonOut(0, "gc", "--grace", "0s")
			freed, _ := gc.at("bytes").value.(json.Number).Int64()
			if n := len(gc.at("expired").items); n != 16 || freed < 16*10000 {
				t.Fatalf("gc expired %d versions and freed %d bytes; want 16 and their files", n, freed)
			}
			if got := p.versions("ds"); !slices.Equal(got, want) {
				t.Fatalf("after gc this repository has %v, want %v", got, want)
			}
			p.ok("fsck")
			// The remote: the policy is there; a gc there removes the same,
			// and once marked and swept a grace period apart, frees them.
			gcRemote := func() *jsonNode { return p.jsonOut(0, "gc", "--remote", "origin", "--grace", "1s") }
			first := gcRemote()
			if n := len(first.at("expired").items); n != 16 {
				t.Fatalf("gc --remote expired %d versions, want 16", n)
			}
			var freedThere int64
			for i := 0; i < 6 && freedThere == 0; i++ {
				time.Sleep(2200 * time.Millisecond)
				n, _ := gcRemote().at("freed_bytes").value.(json.Number).Int64()
				freedThere += n
			}
			if freedThere < 16*10000 {
				t.Fatalf("gc --remote freed %d bytes, want the expired versions' files", freedThere)
			}
			fresh := remoteProject(t, rem)
			fresh.ok("pull")
			if got := fresh.versions("ds"); !slices.Equal(got, want) {
				t.Fatalf("a fresh pull has %v, want %v", got, want)
			}
			for _, v := range want {
				fresh.ok("checkout", "ds:"+v, "-o", "out-"+v)
				if fresh.read("out-"+v+"/f.txt") != contents[v] {
					t.Fatalf("ds:%s pulled after gc differs", v)
				}
			}
			fresh.ok("fsck")
		})
	}
}

// TestMaxCache: `art gc --max-cache` shrinks the store under the limit by
// evicting what the remote holds, least recently used first; a checkout
// of the evicted version fetches and verifies what it needs; what no
// remote holds (an unpushed version, a local-only artifact) is never
// evicted, and checks out with the remote gone.
func TestMaxCache(t *testing.T) {
	rem := dirRemote(t)
	p := remoteProject(t, rem)
	fill := func(seed, n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "%d-%d ", seed, i*7919%100003)
		}
		return b.String()[:n]
	}
	pushed := map[string]string{}
	for i := range 5 {
		pushed[fmt.Sprintf("a%d.bin", i)] = fill(i, 300<<10)
		p.write(fmt.Sprintf("v0/a%d.bin", i), pushed[fmt.Sprintf("a%d.bin", i)])
	}
	p.ok("commit", "ds", "v0", "-q")
	p.ok("push")
	p.write("v1/b.bin", fill(100, 100<<10))
	p.ok("commit", "ds", "v1", "-q") // not pushed
	p.write("scratch/c.bin", fill(200, 100<<10))
	p.ok("commit", "scratch", "scratch", "-q") // never pushed
	stored := func() int64 {
		n, _ := p.jsonOut(0, "du").at("stored").value.(json.Number).Int64()
		return n
	}
	before := stored()
	if before < 1700<<10 {
		t.Fatalf("the store holds %d bytes", before)
	}
	p.fail(2, "gc", "--max-cache", "lots")
	p.fail(2, "gc", "--max-cache", "1MiB", "--remote", "origin")
	dry := p.jsonOut(0, "gc", "--max-cache", "600KiB", "--dry-run")
	if n, _ := dry.at("evicted").value.(json.Number).Int64(); n == 0 {
		t.Fatal("gc --max-cache --dry-run would evict nothing")
	}
	if stored() != before {
		t.Fatal("a dry run evicted")
	}
	gc := p.jsonOut(0, "gc", "--max-cache", "600KiB")
	n, _ := gc.at("evicted").value.(json.Number).Int64()
	freed, _ := gc.at("evicted_bytes").value.(json.Number).Int64()
	if n < 4 || freed < 4*300<<10 {
		t.Fatalf("gc --max-cache evicted %d contents (%d bytes)", n, freed)
	}
	if after := stored(); after > 600<<10 {
		t.Fatalf("the store holds %d bytes after gc --max-cache 600KiB", after)
	}
	p.ok("fsck")
	p.ok("checkout", "ds:v0", "-o", "out0")
	for name, c := range pushed {
		if p.read("out0/"+name) != c {
			t.Fatalf("%s checked out after eviction differs", name)
		}
	}
	p.ok("verify", "ds:v0", "out0")
	// Evict everything it can, then take the remote away: what was never
	// pushed still checks out.
	p.ok("gc", "--max-cache", "1")
	if err := os.Rename(rem.dir, rem.dir+".gone"); err != nil {
		t.Fatal(err)
	}
	p.ok("checkout", "ds:v1", "-o", "out1")
	p.ok("checkout", "scratch", "-o", "out2")
	if p.read("out1/b.bin") != fill(100, 100<<10) || p.read("out2/c.bin") != fill(200, 100<<10) {
		t.Fatal("unpushed contents differ after eviction")
	}
	if res := p.run("checkout", "ds:v0", "-o", "out3"); res.code == 0 {
		t.Fatal("ds:v0 checked out with its contents evicted and the remote gone")
	}
	// With the remote gone, eviction finds nothing it holds: it evicts
	// nothing (or, unreachable, refuses).
	res := p.runIn("", nil, "gc", "--max-cache", "1", "--json")
	if res.code == 0 {
		if n := parseJSON(t, res.stdout).at("evicted").value.(json.Number).String(); n != "0" {
			t.Fatalf("gc --max-cache with the remote gone evicted %s", n)
		}
	} else if !strings.Contains(res.stderr, "nothing was evicted") {
		t.Fatalf("gc --max-cache with the remote gone: %v", res)
	}
	p.ok("checkout", "ds:v1", "-o", "out4")
	p.ok("fsck")
}

// TestRemoteGCSigkill: `art gc --remote` killed with SIGKILL after a
// random delay, on copies of one directory remote holding removed
// versions, a mostly dead pack and an interrupted push's pack, in the
// mark and in the sweep, at 60 points in all: after each kill every kept
// version pulls and checks out identical, and the next runs finish the
// job (the remote ends as small as after an uninterrupted gc).
func TestRemoteGCSigkill(t *testing.T) {
	rem := dirRemote(t)
	p := remoteProject(t, rem)
	kept := map[string]string{}
	for i := range 8 {
		c := fmt.Sprintf("version %d\n%s", i, strings.Repeat(fmt.Sprint(i), 40000))
		p.write("d/own.txt", c)
		p.write("d/shared.txt", "in every version")
		p.ok("commit", "ds", "d", "-q")
		p.ok("push")
		if i%2 == 1 || i == 7 {
			kept[fmt.Sprint("v", i)] = c
		}
	}
	for i := 0; i < 7; i += 2 {
		p.ok("rm", fmt.Sprintf("ds:v%d", i), "--remote", "origin")
	}
	if err := os.WriteFile(filepath.Join(rem.dir, "packs", strings.Repeat("ab", 32)+".pack"), []byte("half a pack"), 0o644); err != nil {
		t.Fatal(err)
	}
	age := func(dir string) {
		old := time.Now().Add(-2 * time.Hour)
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				os.Chtimes(path, old, old)
			}
			return err
		})
	}
	age(rem.dir)
	copyTree := func(src, dst string) {
		if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
	}
	gcIn := func(dir string) *project {
		q := newProject(t)
		q.ok("remote", "add", "origin", dir)
		return q
	}
	packs := func(dir string) int {
		names, _ := filepath.Glob(filepath.Join(dir, "packs", "[0-9a-f]*.pack")) // not the driver's lock files
		return len(names)
	}
	// An uninterrupted round, timed: the mark, then (aged) the sweep.
	clean := filepath.Join(t.TempDir(), "clean")
	copyTree(rem.dir, clean)
	g := gcIn(clean)
	start := time.Now()
	g.ok("gc", "--remote", "origin", "--grace", "1h")
	markTime := time.Since(start)
	marked := filepath.Join(t.TempDir(), "marked")
	copyTree(clean, marked)
	age(clean)
	start = time.Now()
	g.ok("gc", "--remote", "origin", "--grace", "1h")
	sweepTime := time.Since(start)
	want := packs(clean)
	if want >= packs(rem.dir) {
		t.Fatalf("an uninterrupted gc left %d packs of %d", want, packs(rem.dir))
	}
	check := func(dir, when string) {
		t.Helper()
		q := gcIn(dir)
		q.ok("pull")
		for v, c := range kept {
			q.ok("checkout", "ds:"+v, "-o", "out-"+v)
			if q.read("out-"+v+"/own.txt") != c {
				t.Fatalf("%s: ds:%s differs", when, v)
			}
		}
		q.ok("fsck")
	}
	rng := mrand.New(mrand.NewPCG(16, 3))
	points := 0
	for _, phase := range []struct {
		from string
		took time.Duration
	}{{rem.dir, markTime}, {marked, sweepTime}} {
		for range 30 {
			dir := filepath.Join(t.TempDir(), "r")
			copyTree(phase.from, dir)
			age(dir)
			q := gcIn(dir)
			cmd := exec.Command(artBin, "gc", "--remote", "origin", "--grace", "1h")
			cmd.Dir = q.dir
			cmd.Env = baseEnv()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.Int64N(int64(phase.took) + 1)))
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			points++
			check(dir, fmt.Sprintf("after a kill at point %d", points))
			// The next runs finish the job.
			var runs []string
			docOf := func() string { b, _ := os.ReadFile(filepath.Join(dir, "gc", "state.json")); return string(b) }
			runs = append(runs, "after the kill: "+docOf())
			for range 3 {
				age(dir)
				runs = append(runs, q.ok("gc", "--remote", "origin", "--grace", "1h", "--json"), docOf())
			}
			if got := packs(dir); got > want {
				a, _ := filepath.Glob(filepath.Join(dir, "packs", "*"))
				b, _ := filepath.Glob(filepath.Join(clean, "packs", "*"))
				doc, _ := os.ReadFile(filepath.Join(dir, "gc", "state.json"))
				t.Fatalf("after a kill at point %d and three more runs, %d packs; an uninterrupted gc leaves %d\n%v\n%v\n%s\n%s", points, got, want, a, b, doc, strings.Join(runs, "\n"))
			}
			check(dir, fmt.Sprintf("after the runs that followed kill %d", points))
		}
	}
	t.Logf("killed at %d points (mark %v, sweep %v uninterrupted)", points, markTime, sweepTime)
}
