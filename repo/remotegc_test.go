package repo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
	fresh, err := Init(e.ctx, afero.NewOsFs(), filepath.Join(e.t.TempDir(), ".art"), nil)
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
		dir := filepath.Join(e.t.TempDir(), "co")
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
}
