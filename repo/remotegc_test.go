package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/dirremote"
)

// gcEnv is a repository on the OS file system with a directory remote
// "origin", whose files the tests age by hand (the remote's clock is its
// files' times).
type gcEnv struct {
	t      *testing.T
	ctx    context.Context
	r      *Repo
	tr     remote.Transport
	remote string // the remote's directory
}

func newGCEnv(t *testing.T) *gcEnv {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	r, err := Init(ctx, afero.NewOsFs(), filepath.Join(root, "a", ".art"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	dir := filepath.Join(root, "remote")
	tr, err := dirremote.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	r.SetTransport("origin", tr)
	return &gcEnv{t: t, ctx: ctx, r: r, tr: tr, remote: dir}
}

// commit logs the files (name -> content) as a version of name.
func (e *gcEnv) commit(r *Repo, name string, files map[string]string) Version {
	e.t.Helper()
	a := r.NewArtifact(name, "dataset")
	for p, c := range files {
		w, err := a.NewFile(e.ctx, p)
		if err != nil {
			e.t.Fatal(err)
		}
		w.Write([]byte(c))
		if err := w.Close(); err != nil {
			e.t.Fatal(err)
		}
	}
	v, _, err := r.Log(e.ctx, a, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *gcEnv) resolve(ref string) Version {
	e.t.Helper()
	v, err := e.r.Resolve(e.ctx, ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *gcEnv) push(r *Repo) {
	e.t.Helper()
	if _, err := r.Push(e.ctx, "origin", nil, nil); err != nil {
		e.t.Fatalf("Push: %v", err)
	}
}

// age sets the time of every key of the remote under prefix to d ago.
func (e *gcEnv) age(prefix string, d time.Duration) {
	e.t.Helper()
	when := time.Now().Add(-d)
	err := filepath.WalkDir(filepath.Join(e.remote, prefix), func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// packs lists the pack names on the remote (with a .pack key).
func (e *gcEnv) packs() []string {
	e.t.Helper()
	var out []string
	err := e.tr.List(e.ctx, remotePackDir, func(i remote.Info) error {
		if name, ok := remotePackName(i.Key, objects.PackSuffix); ok {
			out = append(out, name)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// sendPack sends the given local objects to the remote as one pack and
// returns its name.
func (e *gcEnv) sendPack(ids ...objects.ID) string {
	e.t.Helper()
	u, err := e.r.newUploader(e.ctx, e.tr, "origin", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var es []objects.PackEntry
	for _, id := range ids {
		info, err := e.r.store.Stat(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		es = append(es, objects.PackEntry{PackKey: objects.PackObjectKey(id), Size: info.Size})
	}
	if err := u.sendPack(e.ctx, es); err != nil {
		e.t.Fatal(err)
	}
	return objects.Hash(objects.EncodePackHeader(es)).String()
}

func (e *gcEnv) put(b []byte) objects.ID {
	e.t.Helper()
	id, err := objects.PutBytes(e.ctx, e.r.store, b)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *gcEnv) gc(grace time.Duration) RemoteGCReport {
	e.t.Helper()
	rep, err := e.r.RemoteGC(e.ctx, "origin", &RemoteGCOptions{Grace: grace})
	if err != nil {
		e.t.Fatalf("RemoteGC: %v", err)
	}
	return rep
}

// pulled checks that a fresh repository pulls name from the remote with
// exactly the versions want, each holding the files it was committed with.
func (e *gcEnv) pulled(name string, want ...Version) {
	e.t.Helper()
	// In memory: the pull is what is checked, not the file system.
	fresh, err := Init(e.ctx, afero.NewMemMapFs(), "/fresh/.art", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer fresh.Close()
	fresh.SetTransport("origin", e.tr)
	if _, err := fresh.Pull(e.ctx, "origin", []string{name}, nil); err != nil {
		e.t.Fatalf("a fresh pull: %v", err)
	}
	vs, err := fresh.Versions(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(vs) != len(want) {
		e.t.Fatalf("a fresh pull has %d versions of %s, want %d", len(vs), name, len(want))
	}
	for _, w := range want {
		v, err := fresh.Resolve(e.ctx, w.Ref())
		if err != nil || v.Tree != w.Tree {
			e.t.Fatalf("a fresh pull's %s: %v (tree %s, want %s)", w.Ref(), err, v.Tree.Short(), w.Tree.Short())
		}
		dir := "/fresh/co-" + w.Ref()
		if _, err := v.Download(e.ctx, dir, nil); err != nil {
			e.t.Fatalf("checkout of the pulled %s: %v", w.Ref(), err)
		}
		if res, err := v.Verify(e.ctx, dir); err != nil || len(res.Problems) > 0 {
			e.t.Fatalf("verify of the pulled %s: %+v, %v", w.Ref(), res, err)
		}
	}
	rep, err := fresh.Fsck(e.ctx, nil)
	if err != nil || len(rep.Problems) > 0 {
		e.t.Fatalf("fsck of the fresh pull: %+v, %v", rep.Problems, err)
	}
}

// TestRemoteGC: the two steps on a directory remote. The mark records as
// candidates the packs of a removed version that hold nothing live, a
// pack with no index (an interrupted push) and an unnamed pack, all older
// than the grace period, and keeps a dead pack that a surviving dead tree
// names; the sweep waits the grace period, then deletes exactly the
// candidates, and every kept version pulls whole.
func TestRemoteGC(t *testing.T) {
	e := newGCEnv(t)
	ctx := e.ctx
	v0 := e.commit(e.r, "ds", map[string]string{"a": "a of v0", "keep": "in both"})
	e.push(e.r)
	before := e.packs()
	big := strings.Repeat("a large file of v1 ", 100)
	v1 := e.commit(e.r, "ds", map[string]string{"a": "a of v1", "keep": "in both", "big": big})
	e.push(e.r)
	if _, err := e.r.DeleteOnRemote(ctx, "origin", "ds:v0", false); err != nil {
		t.Fatal(err)
	}
	// An interrupted push's pack with no index.
	orphan := objects.Hash([]byte("orphan")).String()
	if err := e.tr.PutIfAbsent(ctx, packKeyOf(orphan), bytes.NewReader([]byte("half a pack")), 11); err != nil {
		t.Fatal(err)
	}
	// A dead tree in a pack that stays (beside a live object) names a
	// blob alone in its pack: that pack must stay. Another dead blob
	// alone in its pack goes.
	y := e.put([]byte("named by a dead tree"))
	tree := &objects.Tree{Entries: []objects.TreeEntry{{Name: "y", Kind: objects.KindFile, ID: y, Size: 20}}}
	enc, err := tree.Encode()
	if err != nil {
		t.Fatal(err)
	}
	named := e.sendPack(y)
	mixed := e.sendPack(e.put(enc), e.put([]byte(big))) // mostly live: kept as it is
	unnamed := e.sendPack(e.put([]byte("named by nothing")))

	// Too young: nothing is a candidate.
	if rep := e.gc(time.Hour); rep.Step != "marked" || rep.Candidates != 0 {
		t.Fatalf("the first gc, everything young: %+v", rep)
	}
	e.age("packs", 2*time.Hour)
	rep := e.gc(time.Hour)
	if rep.Step != "marked" || rep.SweepIn <= time.Hour || rep.Versions != 1 {
		t.Fatalf("the mark: %+v", rep)
	}
	doc, _, _, err := getGCDoc(ctx, e.tr)
	if err != nil {
		t.Fatal(err)
	}
	// v0's own pack of metadata (its commit and root tree) holds nothing
	// live; its data pack holds "in both", which v1 uses.
	var v0Meta []string
	for _, p := range before {
		es, err := e.r.packEntries(ctx, e.tr, "origin", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			if en.ID == v0.Version.Commit {
				v0Meta = append(v0Meta, p)
			}
		}
	}
	want := append([]string{orphan, unnamed}, v0Meta...)
	sort.Strings(want)
	if !slices.Equal(doc.Candidates, want) || rep.Candidates != len(want) {
		t.Fatalf("candidates %v, want %v (v0's metadata, the orphan, the unnamed pack); not %s (named) or %s (mixed)",
			doc.Candidates, want, shortName(named), shortName(mixed))
	}
	if rep.CandidateBytes <= 0 || rep.StoredBytes <= rep.LiveBytes {
		t.Fatalf("bytes: %+v", rep)
	}

	// Not yet due: nothing deleted.
	packs := e.packs()
	if rep := e.gc(time.Hour); rep.Step != "waiting" || rep.SweepIn <= 0 {
		t.Fatalf("a gc before the grace period ran out: %+v", rep)
	}
	if got := e.packs(); !slices.Equal(got, packs) {
		t.Fatalf("a waiting gc changed the packs: %v -> %v", packs, got)
	}
	e.age("gc", 2*time.Hour)
	rep = e.gc(time.Hour)
	if rep.Step != "swept" || rep.Deleted != len(want) || rep.FreedBytes <= 0 {
		t.Fatalf("the sweep: %+v", rep)
	}
	left := e.packs()
	for _, p := range want {
		if slices.Contains(left, p) {
			t.Errorf("candidate %s still on the remote", shortName(p))
		}
	}
	for _, p := range []string{named, mixed} {
		if !slices.Contains(left, p) {
			t.Errorf("pack %s deleted", shortName(p))
		}
	}
	if len(left) != len(packs)-len(want) {
		t.Fatalf("%d packs left of %d, %d deleted", len(left), len(packs), len(want))
	}
	e.pulled("ds", v1)
	// Idle again; the next mark finds nothing new to take.
	doc, _, _, _ = getGCDoc(ctx, e.tr)
	if doc.Phase != gcIdle {
		t.Fatalf("after the sweep the gc document says %q", doc.Phase)
	}
	if rep := e.gc(time.Hour); rep.Candidates != 0 {
		t.Fatalf("a mark after the sweep: %+v", rep)
	}
}

// TestRemoteGCPushRevives: a push made while packs are candidates sends
// again what lies in them (here a version whose root tree is the removed
// version's) and the sweep keeps them, live again; and a push that read the gc document before a whole mark and
// sweep ran sees, before it swaps its document in, that packs it relied
// on are gone, and sends their objects again.
func TestRemoteGCPushRevives(t *testing.T) {
	e := newGCEnv(t)
	ctx := e.ctx
	v0files := map[string]string{"a": "a of v0", "b": "b of v0"}
	e.commit(e.r, "ds", v0files)
	e.push(e.r)
	v1 := e.commit(e.r, "ds", map[string]string{"a": "a of v1"})
	e.push(e.r)
	if _, err := e.r.DeleteOnRemote(ctx, "origin", "ds:v0", false); err != nil {
		t.Fatal(err)
	}
	e.age("packs", 2*time.Hour)
	if rep := e.gc(time.Hour); rep.Candidates == 0 {
		t.Fatalf("the mark found no candidates: %+v", rep)
	}
	// Another artifact with v0's files: the same root tree, whose pack
	// is a candidate.
	again := e.commit(e.r, "again", v0files)
	if again.Tree != e.resolve("ds:v0").Tree {
		t.Fatal("the same files made another tree")
	}
	e.push(e.r)
	e.age("gc", 2*time.Hour)
	// The candidates are live again: the sweep keeps them (the push sent
	// its own copies too, not relying on them).
	if rep := e.gc(time.Hour); rep.Step != "swept" || rep.Deleted != 0 {
		t.Fatalf("the sweep: %+v", rep)
	}
	e.pulled("ds", v1)
	e.pulled("again", again)

	// A push that read the gc document before the mark: its uploader is
	// made first, then a whole round of gc runs, then it pushes.
	other := e.commit(e.r, "other", map[string]string{"x": "x of other"})
	e.push(e.r)
	if _, err := e.r.DeleteOnRemote(ctx, "origin", "other:v0", false); err != nil {
		t.Fatal(err)
	}
	w := e.commit(e.r, "late", map[string]string{"x": "x of other"}) // relies on other's blob
	u, err := e.r.newUploader(ctx, e.tr, "origin", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.age("packs", 2*time.Hour)
	e.gc(time.Hour)
	e.age("gc", 2*time.Hour)
	if rep := e.gc(time.Hour); rep.Step != "swept" || rep.Deleted == 0 {
		t.Fatalf("the sweep of other's packs: %+v", rep)
	}
	if _, err := e.r.pushArtifact(ctx, e.tr, "origin", "late", u, &PushOptions{}); err != nil {
		t.Fatalf("the late push: %v", err)
	}
	e.pulled("late", w)
	_ = other

	// A push longer than the grace period: its own packs, sent and not
	// yet named by its document, become candidates and are swept before
	// it checks; it sends them again.
	slow := e.commit(e.r, "slow", map[string]string{"s": "the slow push's own file"})
	hooked := &hookTransport{Transport: e.tr, onGCRead: 2, hook: func() {
		e.age("packs", 2*time.Hour)
		e.gc(time.Hour)
		e.age("gc", 2*time.Hour)
		if rep := e.gc(time.Hour); rep.Step != "swept" || rep.Deleted == 0 {
			t.Errorf("the sweep during the slow push: %+v", rep)
		}
	}}
	su, err := e.r.newUploader(ctx, hooked, "origin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.pushArtifact(ctx, hooked, "origin", "slow", su, &PushOptions{}); err != nil {
		t.Fatalf("the slow push: %v", err)
	}
	if !hooked.ran {
		t.Fatal("the gc round never ran during the slow push")
	}
	e.pulled("slow", slow)
}

// hookTransport runs hook once, just before the onGCRead-th read of the
// gc document.
type hookTransport struct {
	remote.Transport
	onGCRead int
	hook     func()
	reads    int
	ran      bool
}

func (h *hookTransport) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	if key == gcDocKey {
		h.reads++
		if h.reads == h.onGCRead && !h.ran {
			h.ran = true
			h.hook()
		}
	}
	return h.Transport.Get(ctx, key)
}

// TestRemoteGCRefusals: a grace period below the minimum, an unknown
// remote, a damaged gc document: refused, nothing written.
func TestRemoteGCRefusals(t *testing.T) {
	e := newGCEnv(t)
	e.commit(e.r, "ds", map[string]string{"a": "a"})
	e.push(e.r)
	if _, err := e.r.RemoteGC(e.ctx, "origin", &RemoteGCOptions{Grace: time.Millisecond}); !errors.Is(err, ErrInvalidGrace) {
		t.Errorf("grace 1ms: %v", err)
	}
	if _, err := e.r.RemoteGC(e.ctx, "nowhere", nil); err == nil {
		t.Error("an unknown remote: no error")
	}
	if _, err := e.tr.Stat(e.ctx, gcDocKey); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("refused runs wrote the gc document: %v", err)
	}
	rep, err := e.r.RemoteGC(e.ctx, "origin", &RemoteGCOptions{DryRun: true})
	if err != nil || rep.Step != "dry-run" {
		t.Fatalf("dry run: %+v, %v", rep, err)
	}
	if _, err := e.tr.Stat(e.ctx, gcDocKey); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("a dry run wrote the gc document: %v", err)
	}
	if _, err := e.tr.CompareAndSwap(e.ctx, gcDocKey, "", []byte(`{"format": 1, "phase": "sweeping"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.RemoteGC(e.ctx, "origin", nil); !errors.Is(err, remote.ErrBadResponse) {
		t.Errorf("a damaged gc document: %v", err)
	}
	// A push refuses to rely on anything while it cannot read it.
	e.commit(e.r, "ds", map[string]string{"a": "b"})
	if _, err := e.r.Push(e.ctx, "origin", nil, nil); !errors.Is(err, remote.ErrBadResponse) {
		t.Errorf("a push beside a damaged gc document: %v", err)
	}
}

// TestRemoteGCRewrite: a pack mostly dead (a removed version's large file
// beside a small one a kept version shares) is rewritten: what stays is
// copied into a new pack, the old pack is a candidate, and the sweep
// deletes it once the new one holds all that stays.
func TestRemoteGCRewrite(t *testing.T) {
	e := newGCEnv(t)
	large := strings.Repeat("only in v0 ", 400)
	e.commit(e.r, "ds", map[string]string{"large": large, "small": "shared"})
	e.push(e.r)
	first := e.packs()
	v1 := e.commit(e.r, "ds", map[string]string{"small": "shared", "new": "new in v1"})
	e.push(e.r)
	if _, err := e.r.DeleteOnRemote(e.ctx, "origin", "ds:v0", false); err != nil {
		t.Fatal(err)
	}
	e.age("packs", 2*time.Hour)
	// A reader whose pack index predates the rewrite.
	reader, err := Init(e.ctx, afero.NewMemMapFs(), "/reader/.art", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	reader.SetTransport("origin", e.tr)
	stale, err := reader.newDownloader(e.ctx, e.tr, "origin", nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := e.gc(time.Hour)
	if rep.Rewritten != 1 || rep.Candidates != 2 {
		t.Fatalf("the mark: %+v; want v0's two packs, one rewritten", rep)
	}
	doc, _, _, err := getGCDoc(e.ctx, e.tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Rewrites) != 1 || !slices.Contains(first, doc.Rewrites[0].Pack) {
		t.Fatalf("rewrites %+v of v0's packs %v", doc.Rewrites, first)
	}
	into, err := e.r.packEntries(e.ctx, e.tr, "origin", doc.Rewrites[0].Into)
	if err != nil || len(into) != 1 || into[0].Size != int64(len("shared")) {
		t.Fatalf("the new pack holds %+v, %v; want the shared file alone", into, err)
	}
	before := rep.StoredBytes
	e.age("gc", 2*time.Hour)
	rep = e.gc(time.Hour)
	if rep.Step != "swept" || rep.Deleted != 2 {
		t.Fatalf("the sweep: %+v", rep)
	}
	if rep.StoredBytes >= before-int64(len(large)) {
		t.Fatalf("stored %d bytes after the sweep, %d before", rep.StoredBytes, before)
	}
	for _, p := range first {
		if slices.Contains(e.packs(), p) {
			t.Errorf("v0's pack %s is still there", shortName(p))
		}
	}
	e.pulled("ds", v1)
	// The stale reader finds the pack gone, reads the index again and
	// fetches the file from the new pack.
	shared := objects.Hash([]byte("shared"))
	if err := stale.blobs(e.ctx, []wantBlob{{shared, 6}}); err != nil {
		t.Fatalf("a read through an index older than the sweep: %v", err)
	}
	if err := stale.batch.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := objects.ReadAll(e.ctx, reader.store, shared, 100); err != nil || string(b) != "shared" {
		t.Fatalf("the reader holds %q, %v", b, err)
	}
}

// stopTransport dies at a request: request number at (counting from 0,
// every method) fails, and so does every one after it, as if the process
// had been killed there. With applied, a request that changes the remote
// is carried out before it fails (the process died before it heard back).
type stopTransport struct {
	remote.Transport
	mu      sync.Mutex
	at      int
	applied bool
	n       int
	changes []bool // of each request made: whether it changes the remote
}

var errKilled = errors.New("killed")

func (s *stopTransport) step(mutating bool, do func() error) error {
	s.mu.Lock()
	i := s.n
	s.n++
	s.changes = append(s.changes, mutating)
	s.mu.Unlock()
	switch {
	case i < s.at:
		return do()
	case i == s.at && mutating && s.applied:
		do()
	}
	return errKilled
}

func (s *stopTransport) Stat(ctx context.Context, key string) (remote.Info, error) {
	var info remote.Info
	err := s.step(false, func() (err error) { info, err = s.Transport.Stat(ctx, key); return })
	return info, err
}

func (s *stopTransport) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	var rc io.ReadCloser
	var info remote.Info
	err := s.step(false, func() (err error) { rc, info, err = s.Transport.Get(ctx, key); return })
	return rc, info, err
}

func (s *stopTransport) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := s.step(false, func() (err error) { rc, err = s.Transport.GetRange(ctx, key, off, n); return })
	return rc, err
}

func (s *stopTransport) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.step(true, func() error { return s.Transport.PutIfAbsent(ctx, key, r, size) })
}

func (s *stopTransport) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	var out string
	err := s.step(true, func() (err error) { out, err = s.Transport.CompareAndSwap(ctx, key, etag, data); return })
	return out, err
}

func (s *stopTransport) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	return s.step(false, func() error { return s.Transport.List(ctx, prefix, fn) })
}

func (s *stopTransport) Delete(ctx context.Context, key string) error {
	return s.step(true, func() error { return s.Transport.Delete(ctx, key) })
}

func (s *stopTransport) Close() error { return nil }

// copyDir copies the directory tree src to dst, keeping file times.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if de.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		return os.Chtimes(target, fi.ModTime(), fi.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRemoteGCKilled kills a remote gc at every request it makes, in the
// mark and in the sweep, with the request carried out or not: after each,
// every kept version pulls whole from the remote, and a gc run to the end
// afterwards (mark, then sweep a grace period later) reclaims everything
// an uninterrupted one does, leaving the kept versions whole.
func TestRemoteGCKilled(t *testing.T) {
	e := newGCEnv(t)
	var kept []Version
	for i := range 6 {
		v := e.commit(e.r, "ds", map[string]string{
			"own":                     strings.Repeat(fmt.Sprintf("version %d ", i), 200),
			"shared":                  "in every version",
			fmt.Sprintf("d%d/f", i%2): fmt.Sprint("file ", i),
		})
		e.push(e.r)
		if i%2 == 1 {
			kept = append(kept, v)
		}
	}
	for i := 0; i < 6; i += 2 {
		if _, err := e.r.DeleteOnRemote(e.ctx, "origin", fmt.Sprintf("ds:v%d", i), true); err != nil {
			t.Fatal(err)
		}
	}
	orphan := objects.Hash([]byte("orphan")).String()
	if err := e.tr.PutIfAbsent(e.ctx, packKeyOf(orphan), bytes.NewReader([]byte("half")), 4); err != nil {
		t.Fatal(err)
	}
	e.age("", 2*time.Hour)
	template := filepath.Join(t.TempDir(), "template")
	copyDir(t, e.remote, template)

	gcer, err := Init(e.ctx, afero.NewOsFs(), filepath.Join(t.TempDir(), "gcer", ".art"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gcer.Close()
	// gcOn runs one gc step on a copy of the remote in state dir through
	// a transport that dies at request at (-1: never), and returns the
	// requests made.
	gcOn := func(dir string, at int, applied bool) ([]bool, error) {
		tr, err := dirremote.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		st := &stopTransport{Transport: tr, at: at, applied: applied}
		if at < 0 {
			st.at = 1 << 30
		}
		// One machine runs every gc, as one would from cron: what it
		// keeps between runs (pack headers, trees) is named by content.
		gcer.SetTransport("origin", st)
		_, err = gcer.RemoteGC(e.ctx, "origin", &RemoteGCOptions{Grace: time.Hour})
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.changes, err
	}
	pulls := func(dir, what string) {
		tr, err := dirremote.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		saved := e.tr
		e.tr = tr
		defer func() { e.tr = saved }()
		e.t.Helper()
		e.pulled("ds", kept...)
	}
	age := func(dir string) {
		saved := e.remote
		e.remote = dir
		e.age("", 2*time.Hour)
		e.remote = saved
	}
	packsIn := func(dir string) []string {
		names, _ := filepath.Glob(filepath.Join(dir, "packs", "*.pack"))
		sort.Strings(names)
		for i, n := range names {
			names[i] = filepath.Base(n)
		}
		return names
	}
	// An uninterrupted run: a mark, then (aged) a sweep.
	clean := filepath.Join(t.TempDir(), "clean")
	copyDir(t, template, clean)
	markChanges, err := gcOn(clean, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	marked := filepath.Join(t.TempDir(), "marked")
	copyDir(t, clean, marked)
	age(clean)
	sweepChanges, err := gcOn(clean, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	want := packsIn(clean)
	if len(want) >= len(packsIn(template)) {
		t.Fatalf("an uninterrupted gc reclaimed nothing: %d packs of %d", len(want), len(packsIn(template)))
	}
	pulls(clean, "after an uninterrupted gc")

	// mutatingAt reports whether request at of an uninterrupted run of
	// the phase changes the remote (recorded by the counting runs).
	markReqs, sweepReqs := len(markChanges), len(sweepChanges)
	points := 0
	for _, phase := range []struct {
		name  string
		from  string
		total int
	}{{"mark", template, markReqs}, {"sweep", marked, sweepReqs}} {
		for at := 0; at < phase.total; at++ {
			for _, applied := range []bool{false, true} {
				dir := filepath.Join(t.TempDir(), "r")
				copyDir(t, phase.from, dir)
				if phase.name == "sweep" {
					age(dir)
				}
				changes, err := gcOn(dir, at, applied)
				if err == nil && len(changes) <= at {
					continue // this run needed fewer requests (what it kept from earlier runs)
				}
				if !errors.Is(err, errKilled) {
					t.Fatalf("%s killed at request %d: %v", phase.name, at, err)
				}
				if applied && !changes[at] {
					continue // nothing to carry out: the same as not applied
				}
				points++
				pulls(dir, "after a killed gc")
				// The next runs finish the job: whatever is due, until a
				// sweep after a mark that follows the kill.
				swept := false
				for range 4 {
					age(dir)
					tr, _ := dirremote.New(dir)
					d, _, _, err := getGCDoc(e.ctx, tr)
					tr.Close()
					if err != nil {
						t.Fatalf("%s killed at %d: the gc document: %v", phase.name, at, err)
					}
					wasMarked := d != nil && d.Phase == gcMarked
					if _, err := gcOn(dir, -1, false); err != nil {
						t.Fatalf("%s killed at %d, then a gc: %v", phase.name, at, err)
					}
					if wasMarked {
						if swept {
							break
						}
						swept = true
					}
				}
				if got := packsIn(dir); len(got) > len(want) {
					t.Fatalf("%s killed at request %d (applied %v): %d packs left after the next runs, an uninterrupted gc leaves %d",
						phase.name, at, applied, len(got), len(want))
				}
				pulls(dir, "after the next runs")
			}
		}
	}
	if points < 50 {
		t.Fatalf("only %d points to kill a gc at", points)
	}
	t.Logf("killed at %d points (%d requests to mark, %d to sweep)", points, markReqs, sweepReqs)
}

// TestRetention: keep-last 2 over six versions, one aliased, one the
// input of the run that produced a kept version of another artifact: gc
// deletes exactly the others (a dry run lists them first and deletes
// nothing); the policy travels with push and pull, and a remote gc
// applies it there.
func TestRetention(t *testing.T) {
	e := newGCEnv(t)
	ctx := e.ctx
	var vs []Version
	for i := range 6 {
		vs = append(vs, e.commit(e.r, "ds", map[string]string{"f": strings.Repeat(fmt.Sprint(i), 3000)}))
	}
	if _, _, err := e.r.AddAlias(ctx, "ds:v1", "golden"); err != nil {
		t.Fatal(err)
	}
	run, err := e.r.StartRun(ctx, "train", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.UseArtifact(ctx, "ds:v2"); err != nil {
		t.Fatal(err)
	}
	a := e.r.NewArtifact("model", "model")
	w, _ := a.NewFile(ctx, "w.bin")
	w.Write([]byte("weights"))
	w.Close()
	model, _, err := run.LogArtifact(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.r.SetRetention(ctx, "ds", Retention{KeepLast: -1}); !errors.Is(err, ErrInvalidRetention) {
		t.Fatalf("keep-last -1: %v", err)
	}
	if err := e.r.SetRetention(ctx, "nope", Retention{KeepLast: 2}); !errors.Is(err, ErrVersionNotFound) {
		t.Fatalf("an unknown artifact: %v", err)
	}
	if err := e.r.SetRetention(ctx, "ds", Retention{KeepLast: 2}); err != nil {
		t.Fatal(err)
	}
	e.push(e.r)
	want := []string{"ds:v0", "ds:v3"}
	dry, err := e.r.GC(ctx, &GCOptions{DryRun: true})
	if err != nil || !slices.Equal(dry.Expired, want) {
		t.Fatalf("dry run: %v, %v; want %v", dry.Expired, err, want)
	}
	if got, _ := e.r.Versions(ctx, "ds"); len(got) != 6 {
		t.Fatalf("a dry run deleted versions: %d left", len(got))
	}
	time.Sleep(2 * clockSlack) // no grace: every object older than gc's cutoff
	rep, err := e.r.GC(ctx, &GCOptions{Grace: -1})
	if err != nil || !slices.Equal(rep.Expired, want) || rep.Bytes < 6000 {
		t.Fatalf("gc: %+v, %v; want %v expired and their bytes freed", rep, err, want)
	}
	for _, v := range vs {
		_, err := e.r.Resolve(ctx, v.Ref())
		if gone := slices.Contains(want, v.Ref()); gone != errors.Is(err, ErrVersionNotFound) {
			t.Errorf("%s after gc: %v", v.Ref(), err)
		}
	}
	if _, err := e.r.Resolve(ctx, model.Ref()); err != nil {
		t.Fatal(err)
	}

	// Another machine pulls the policy; a remote gc applies it there.
	b, err := Init(ctx, afero.NewOsFs(), filepath.Join(t.TempDir(), ".art"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetTransport("origin", e.tr)
	if _, err := b.Pull(ctx, "origin", nil, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := b.Retention(ctx, "ds"); err != nil || p.KeepLast != 2 {
		t.Fatalf("the pulled policy: %+v, %v", p, err)
	}
	grep, err := e.r.RemoteGC(ctx, "origin", &RemoteGCOptions{Grace: time.Hour})
	if err != nil || !slices.Equal(grep.Expired, want) {
		t.Fatalf("remote gc: %v, %v; want %v removed", grep.Expired, err, want)
	}
	e.pulled("ds", vs[1], vs[2], vs[4], vs[5])
	// Clearing it travels too.
	if err := b.SetRetention(ctx, "ds", Retention{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Push(ctx, "origin", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.Pull(ctx, "origin", nil, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := e.r.Retention(ctx, "ds"); err != nil || !p.IsZero() {
		t.Fatalf("the cleared policy after a pull: %+v, %v", p, err)
	}
}

// TestServedStoreGC: what `art serve` lets a remote gc do, and nothing
// more: swap the gc document (a valid one) and the clock, delete packs;
// never delete a ref document or anything else.
func TestServedStoreGC(t *testing.T) {
	ctx := context.Background()
	tr, err := dirremote.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	s := ServedStore(tr)
	verify := UploadVerifier(tr)
	name := strings.Repeat("ab", 32)
	if err := tr.PutIfAbsent(ctx, packKeyOf(name), bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	if err := tr.PutIfAbsent(ctx, remoteRefKey("ds"), bytes.NewReader([]byte("{}")), 2); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{remoteRefKey("ds"), "objects/ab/" + strings.Repeat("c", 62), gcDocKey} {
		if err := s.Delete(ctx, key); !errors.Is(err, remote.ErrPermission) {
			t.Errorf("Delete(%s) = %v, want ErrPermission", key, err)
		}
	}
	if err := s.Delete(ctx, packKeyOf(name)); err != nil {
		t.Errorf("Delete of a pack: %v", err)
	}
	doc, _ := (&gcDoc{Format: gcDocFormat, Phase: gcIdle}).encode()
	if _, err := verify(ctx, gcDocKey, bytes.NewReader(doc)); err != nil {
		t.Errorf("a valid gc document refused: %v", err)
	}
	if _, err := verify(ctx, gcDocKey, bytes.NewReader([]byte(`{"format": 1, "phase": "gone"}`))); err == nil {
		t.Error("an invalid gc document accepted")
	}
	if _, err := verify(ctx, "gc/other", bytes.NewReader([]byte("x"))); err == nil {
		t.Error("another key under gc/ accepted")
	}
	if _, err := s.CompareAndSwap(ctx, gcDocKey, "", doc); err != nil {
		t.Errorf("swap of the gc document: %v", err)
	}
	if _, err := s.CompareAndSwap(ctx, "packs/x.pack", "", doc); !errors.Is(err, remote.ErrInvalidKey) {
		t.Errorf("swap of a pack: %v", err)
	}
}

// TestRemoteGCOnePush: five versions pushed at once share their packs;
// three removed, the rest of a pack too live to be "mostly dead" is still
// rewritten until what stays dead is at most a tenth of what is live.
func TestRemoteGCOnePush(t *testing.T) {
	e := newGCEnv(t)
	var vs []Version
	for i := range 5 {
		vs = append(vs, e.commit(e.r, "ds", map[string]string{"f": strings.Repeat(fmt.Sprint(i), 20000), "same": "same"}))
	}
	e.push(e.r)
	for _, v := range []string{"ds:v0", "ds:v2", "ds:v3"} {
		if _, err := e.r.DeleteOnRemote(e.ctx, "origin", v, false); err != nil {
			t.Fatal(err)
		}
	}
	e.age("packs", 2*time.Hour)
	if rep := e.gc(time.Hour); rep.Rewritten == 0 {
		t.Fatalf("the mark rewrote nothing: %+v", rep)
	}
	e.age("gc", 2*time.Hour)
	rep := e.gc(time.Hour)
	if rep.Step != "swept" || float64(rep.StoredBytes) > 1.1*float64(rep.LiveBytes) {
		t.Fatalf("after the sweep %d bytes stored for %d live: %+v", rep.StoredBytes, rep.LiveBytes, rep)
	}
	e.pulled("ds", vs[1], vs[4])
}
