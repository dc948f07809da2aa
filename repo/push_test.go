package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo"
	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/dirremote"
)

// sharedRemote returns a directory remote in a temp dir, and its path.
func sharedRemote(t testing.TB) (remote.Transport, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "remote")
	tr, err := dirremote.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, dir
}

// twoRepos returns repositories A and B (chunking small files) that both
// use tr as "origin".
func twoRepos(t *testing.T, tr remote.Transport) (a, b *repo.Repo) {
	t.Helper()
	root := t.TempDir()
	a, _ = newChunkedRepo(t, afero.NewOsFs(), filepath.Join(root, "a"))
	b, _ = newChunkedRepo(t, afero.NewOsFs(), filepath.Join(root, "b"))
	a.SetTransport("origin", tr)
	b.SetTransport("origin", tr)
	return a, b
}

func push(t testing.TB, r *repo.Repo, names ...string) repo.PushResult {
	t.Helper()
	res, err := r.Push(context.Background(), "origin", names, nil)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return res
}

func pull(t testing.TB, r *repo.Repo, names ...string) repo.PullResult {
	t.Helper()
	res, err := r.Pull(context.Background(), "origin", names, nil)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	return res
}

// versionIDs lists name's versions as "vN id".
func versionIDs(t testing.TB, r *repo.Repo, name string) []string {
	t.Helper()
	vs, err := r.Versions(context.Background(), name)
	if errors.Is(err, repo.ErrVersionNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Ref()+" "+v.Version.Commit.String())
	}
	return out
}

func checkedOut(t testing.TB, r *repo.Repo, ref string) files {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	checkout(t, r, ref, dir, nil)
	return fileSnapshot(t, r.Fs(), dir)
}

func clean(t testing.TB, r *repo.Repo) {
	t.Helper()
	if _, problems := fsck(t, r); len(problems) != 0 {
		t.Fatalf("fsck: %+v", problems)
	}
}

// TestPushPullTwoRepos is the scenario on a directory remote:
// A pushes, B pulls and checks out the same bytes, B pushes v1, A's own v1
// is refused, A pulls (its v1 becomes v2), pushes, and both end with the
// same three versions.
func TestPushPullTwoRepos(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	big := randString(10, 100<<10) // chunked
	v0files := files{"big.bin": big, "labels/a.txt": "alpha", "labels/b.txt": "bravo"}
	logDir(t, a, "ds", v0files, &repo.LogOptions{Aliases: []string{"best"}})
	res := push(t, a)
	if len(res.Artifacts) != 1 || !slices.Equal(res.Artifacts[0].Versions, []string{"v0"}) || res.Objects == 0 {
		t.Fatalf("push: %+v", res)
	}
	// Pushing again sends nothing.
	if again := push(t, a); again.Objects != 0 || !again.Artifacts[0].UpToDate {
		t.Fatalf("second push: %+v", again)
	}

	pr := pull(t, b)
	if len(pr.Artifacts) != 1 || !slices.Equal(pr.Artifacts[0].Versions, []string{"v0"}) {
		t.Fatalf("pull: %+v", pr)
	}
	equalFiles(t, checkedOut(t, b, "ds:best"), v0files)
	if got, want := versionIDs(t, b, "ds"), versionIDs(t, a, "ds"); !slices.Equal(got, want) {
		t.Fatalf("B has %v, A %v", got, want)
	}
	clean(t, b)

	// B's v1 goes first; A's own v1 is then refused.
	bigB := big[:50<<10] + "B" + big[50<<10+1:]
	logDir(t, b, "ds", files{"big.bin": bigB, "labels/a.txt": "alpha"}, nil)
	push(t, b)
	logDir(t, a, "ds", files{"big.bin": big, "labels/a.txt": "A's"}, nil)
	_, err := a.Push(ctx, "origin", nil, nil)
	var nff *repo.NotFastForwardError
	if !errors.Is(err, repo.ErrNotFastForward) || !errors.As(err, &nff) || nff.Remote != "origin" || nff.Name != "ds" {
		t.Fatalf("A's push of its own v1: %v, want a NotFastForwardError naming origin and ds", err)
	}
	pr = pull(t, a)
	p := pr.Artifacts[0]
	if !slices.Equal(p.Versions, []string{"v1"}) || len(p.Renumbered) != 1 || p.Renumbered[0].From != "v1" || p.Renumbered[0].To != "v2" {
		t.Fatalf("A's pull: %+v, want B's v1 added and A's v1 renumbered to v2", p)
	}
	v2 := mustResolve(t, a, "ds:v2")
	c2, err := objects.ReadCommit(ctx, a.Store(), v2.Version.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version.Commit.String() != p.Renumbered[0].ID || c2.Version != 2 || c2.Parent != mustResolve(t, a, "ds:v1").Version.Commit {
		t.Fatalf("renumbered v2: commit %s says v%d with parent %s", v2.Version.Commit.Short(), c2.Version, c2.Parent.Short())
	}
	equalFiles(t, checkedOut(t, a, "ds:v2"), files{"big.bin": big, "labels/a.txt": "A's"})
	push(t, a)
	pull(t, b)
	ga, gb := versionIDs(t, a, "ds"), versionIDs(t, b, "ds")
	if len(ga) != 3 || !slices.Equal(ga, gb) {
		t.Fatalf("A has %v, B %v; want the same three versions", ga, gb)
	}
	for _, ref := range []string{"ds:v0", "ds:v1", "ds:v2", "ds:best"} {
		equalFiles(t, checkedOut(t, b, ref), checkedOut(t, a, ref))
	}
	clean(t, a)
	clean(t, b)
}

// TestPushIsIncremental: a new version of a large file sends only its new
// chunks, and an interrupted push resumes without sending again what
// arrived.
func TestPushIsIncremental(t *testing.T) {
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	big := randString(20, 200<<10)
	logDir(t, a, "m", files{"model.bin": big}, nil)
	first := push(t, a)
	logDir(t, a, "m", files{"model.bin": big[:100<<10] + "x" + big[100<<10+1:]}, nil)
	second := push(t, a)
	if second.Bytes == 0 || second.Bytes > first.Bytes/10 {
		t.Fatalf("second push sent %d bytes (first %d), want a few chunks", second.Bytes, first.Bytes)
	}
	// Interrupt a push after its file contents arrived (a pack and its
	// index) but before its trees and commit: the next push sends only
	// those.
	third := files{"model.bin": randString(21, 200<<10)}
	logDir(t, a, "m", third, nil)
	ft := &failingTransport{Transport: tr, failAfter: 2}
	a.SetTransport("flaky", ft)
	if _, err := a.Push(context.Background(), "flaky", nil, nil); err == nil {
		t.Fatal("push through a failing transport succeeded")
	}
	resumed, err := a.Push(context.Background(), "origin", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Objects == 0 || resumed.Bytes > 32<<10 {
		t.Fatalf("resumed push sent %d objects, %d bytes; want only the trees, chunk list and commit", resumed.Objects, resumed.Bytes)
	}
	pull(t, b)
	equalFiles(t, checkedOut(t, b, "m:latest"), third)
	clean(t, b)
}

// failingTransport fails every put after the first failAfter.
type failingTransport struct {
	remote.Transport
	failAfter int64
	puts      atomic.Int64
	sent      atomic.Int64 // bytes of the puts that went through
}

func (f *failingTransport) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.puts.Add(1) > f.failAfter {
		return errors.New("network down")
	}
	err := f.Transport.PutIfAbsent(ctx, key, r, size)
	if err == nil {
		f.sent.Add(size)
	}
	return err
}

// TestFetchThenLazyCheckout: fetch brings versions without file contents;
// a checkout fetches what it needs; fsck counts the rest as not fetched.
func TestFetchThenLazyCheckout(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	fs := files{"big.bin": randString(30, 80<<10), "a.txt": "alpha", "sub/b.txt": "bravo"}
	logDir(t, a, "ds", fs, nil)
	push(t, a)
	res, err := b.Fetch(ctx, "origin", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Artifacts[0].Versions, []string{"v0"}) {
		t.Fatalf("fetch: %+v", res)
	}
	rep, problems := fsck(t, b)
	if len(problems) != 0 || rep.NotFetched != 3 {
		t.Fatalf("fsck after fetch: %d not fetched, problems %+v; want 3 and none", rep.NotFetched, problems)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := b.Checkout(ctx, "ds:v0", out, &repo.CheckoutOptions{Path: "sub"}); err != nil {
		t.Fatal(err)
	}
	if rep, _ := fsck(t, b); rep.NotFetched != 2 {
		t.Fatalf("after checking out sub/: %d not fetched, want 2", rep.NotFetched)
	}
	equalFiles(t, checkedOut(t, b, "ds:v0"), fs)
	if rep, _ := fsck(t, b); rep.NotFetched != 0 {
		t.Fatalf("after a full checkout: %d not fetched", rep.NotFetched)
	}
}

// TestPushFetchedVersion: a version that came by fetch can be pushed to
// another remote; its files are brought from the first remote on the way.
func TestPushFetchedVersion(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	fs := files{"big.bin": randString(31, 80<<10), "a.txt": "alpha"}
	logDir(t, a, "ds", fs, nil)
	push(t, a)
	if _, err := b.Fetch(ctx, "origin", nil, nil); err != nil {
		t.Fatal(err)
	}
	backup, _ := sharedRemote(t)
	b.SetTransport("backup", backup)
	if _, err := b.Push(ctx, "backup", nil, nil); err != nil {
		t.Fatalf("push a fetched version to another remote: %v", err)
	}
	if rep, _ := fsck(t, b); rep.NotFetched != 0 {
		t.Fatalf("after the push, %d files still not fetched", rep.NotFetched)
	}
	c, _ := newChunkedRepo(t, afero.NewOsFs(), filepath.Join(t.TempDir(), "c"))
	c.SetTransport("origin", backup)
	pull(t, c)
	equalFiles(t, checkedOut(t, c, "ds:v0"), fs)
	clean(t, c)
}

// TestPullRefusesBadRemote: damage on the remote fails the pull with a
// clear error naming the object and the remote, and changes nothing here.
func TestPullRefusesBadRemote(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		harm func(t *testing.T, dir string, a *repo.Repo, v repo.Version)
		want string
		keys int // a *DamagedPackError naming this many keys of the remote, or 0
	}{
		{"flipped byte", func(t *testing.T, dir string, a *repo.Repo, v repo.Version) {
			p, off, _ := remotePackEntry(t, dir, entry(t, v, "a.txt").Digest)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[off] ^= 1
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "corrupt", 0},
		{"truncated object", func(t *testing.T, dir string, a *repo.Repo, v repo.Version) {
			p, off, _ := remotePackEntry(t, dir, entry(t, v, "a.txt").Digest)
			os.Chmod(p, 0o644)
			if err := os.Truncate(p, off+2); err != nil {
				t.Fatal(err)
			}
		}, "shorter", 1},
		{"ref document naming a missing commit", func(t *testing.T, dir string, a *repo.Repo, v repo.Version) {
			p := filepath.Join(dir, "refs", "ds.json")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			gone := objects.Hash([]byte("no such commit")).String()
			b = []byte(strings.ReplaceAll(string(b), v.Version.Commit.String(), gone))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "does not hold", 0},
		{"damaged pack index", func(t *testing.T, dir string, a *repo.Repo, v repo.Version) {
			idxs, err := filepath.Glob(filepath.Join(dir, "packs", "*.idx"))
			if err != nil || len(idxs) == 0 {
				t.Fatalf("no pack index on the remote: %v", err)
			}
			b, err := os.ReadFile(idxs[0])
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-2] ^= 1
			os.Chmod(idxs[0], 0o644)
			if err := os.WriteFile(idxs[0], b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "the remote is damaged", 2},
		{"tree entry ../x", func(t *testing.T, dir string, a *repo.Repo, v repo.Version) {
			// A forged tree under its own hash, and a ref document naming a
			// commit of it.
			blob := entry(t, v, "a.txt").Digest
			tree := []byte(objects.TreeHeader + "file\t../x\t5\t" + blob.String() + "\n")
			tid := objects.Hash(tree)
			writeRemoteObject(t, dir, tid, tree)
			c := &objects.Commit{Name: "ds", Type: "dataset", Version: 1, Tree: tid, Parent: v.Version.Commit,
				Created: v.Created, Metadata: []byte("{}")}
			enc, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			cid := objects.Hash(enc)
			writeRemoteObject(t, dir, cid, enc)
			p := filepath.Join(dir, "refs", "ds.json")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			doc["next_version"] = 2
			doc["versions"] = append(doc["versions"].([]any), map[string]any{"version": 1, "commit": cid.String(), "size": 5, "files": 1})
			if b, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "invalid path", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, dir := sharedRemote(t)
			a, b := twoRepos(t, tr)
			v, _ := logDir(t, a, "ds", files{"a.txt": "alpha", "b.txt": "bravo"}, nil)
			push(t, a)
			tc.harm(t, dir, a, v)
			before := versionIDs(t, b, "ds")
			_, err := b.Pull(ctx, "origin", nil, nil)
			if err == nil {
				t.Fatal("pull of a damaged remote succeeded")
			}
			t.Logf("pull: %v", err)
			if !strings.Contains(err.Error(), "origin") || !strings.Contains(strings.ToLower(err.Error()), tc.want) {
				t.Fatalf("pull error %q, want it to name the remote and say %q", err, tc.want)
			}
			var dp *repo.DamagedPackError
			if got := errors.As(err, &dp); got != (tc.keys > 0) {
				t.Fatalf("pull error %q: a DamagedPackError: %v, want %v", err, got, tc.keys > 0)
			}
			if dp != nil && (dp.Remote != "origin" || len(dp.Keys) != tc.keys || !strings.HasPrefix(dp.Keys[0], "packs/") || !strings.HasSuffix(dp.Keys[0], ".idx")) {
				t.Fatalf("DamagedPackError %+v, want origin's packs/….idx first of %d keys", dp, tc.keys)
			}
			if after := versionIDs(t, b, "ds"); !slices.Equal(after, before) {
				t.Fatalf("versions changed: %v -> %v", before, after)
			}
			clean(t, b)
		})
	}
}

// remotePackEntry finds the object id in the packs of the directory
// remote dir: the pack file, and the entry's offset and size in it.
func remotePackEntry(t testing.TB, dir string, id objects.ID) (string, int64, int64) {
	t.Helper()
	idxs, err := filepath.Glob(filepath.Join(dir, "packs", "*.idx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range idxs {
		b, err := os.ReadFile(idx)
		if err != nil {
			t.Fatal(err)
		}
		off := int64(len(b))
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		for _, l := range lines[2:] {
			f := strings.Fields(l)
			var size int64
			if _, err := fmt.Sscan(f[2], &size); err != nil {
				t.Fatal(err)
			}
			if f[0] == "o" && f[1] == id.String() {
				return strings.TrimSuffix(idx, ".idx") + ".pack", off, size
			}
			off += size
		}
	}
	t.Fatalf("object %s is in no pack of %s", id.Short(), dir)
	return "", 0, 0
}

func writeRemoteObject(t testing.TB, dir string, id objects.ID, b []byte) {
	t.Helper()
	p := filepath.Join(dir, "objects", id.String()[:2], id.String()[2:])
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

// TestRepairFromRemote: fsck --repair fetches damaged and missing objects
// (a chunk, a blob, a tree) from a remote that has them.
func TestRepairFromRemote(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, _ := twoRepos(t, tr)
	big := randString(40, 100<<10)
	v, _ := logDir(t, a, "ds", files{"big.bin": big, "sub/a.txt": "alpha"}, nil)
	push(t, a)
	chunk := chunkList(t, a, hashOf(big)).Chunks[3].ID
	flipBit(t, a, chunk)
	removeObject(t, a, entry(t, v, "sub/a.txt").Digest)
	root, err := objects.ReadTree(ctx, a.Store(), v.Tree)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := root.Find("sub")
	flipBit(t, a, sub.ID)
	rep, problems := fsck(t, a)
	if len(problems) != 2 {
		t.Fatalf("fsck found %+v, want 2 problems (the chunk and the tree, which hides the missing blob)", problems)
	}
	res, err := a.Repair(ctx, "origin", rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Repaired) != 3 || len(res.Failed) != 0 {
		t.Fatalf("repair: %+v", res)
	}
	clean(t, a)
	equalFiles(t, checkedOut(t, a, "ds:v0"), files{"big.bin": big, "sub/a.txt": "alpha"})
}

// TestAliasConflict: both sides move an alias; the pull reports it and
// keeps the local move, which the next push publishes.
func TestAliasConflict(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	logDir(t, a, "ds", files{"f": "0"}, &repo.LogOptions{Aliases: []string{"best"}})
	logDir(t, a, "ds", files{"f": "1"}, nil)
	logDir(t, a, "ds", files{"f": "2"}, nil)
	push(t, a)
	pull(t, b)
	if _, _, err := b.AddAlias(ctx, "ds:v1", "best"); err != nil {
		t.Fatal(err)
	}
	push(t, b)
	if _, _, err := a.AddAlias(ctx, "ds:v2", "best"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Push(ctx, "origin", nil, nil); !errors.Is(err, repo.ErrNotFastForward) || !strings.Contains(err.Error(), "alias best") {
		t.Fatalf("push over a moved alias: %v, want ErrNotFastForward naming the alias", err)
	}
	pr := pull(t, a)
	c := pr.Artifacts[0].Conflicts
	if len(c) != 1 || c[0].Alias != "best" || c[0].Remote != "v1" || c[0].Local != "v2" {
		t.Fatalf("pull conflicts %+v, want best: remote v1, local v2", c)
	}
	if got := mustResolve(t, a, "ds:best").Version.Version; got != 2 {
		t.Fatalf("best is v%d here, want the local move (v2) kept", got)
	}
	push(t, a)
	pull(t, b)
	if got := mustResolve(t, b, "ds:best").Version.Version; got != 2 {
		t.Fatalf("B's best is v%d after pulling A's push, want v2", got)
	}
	// An alias moved only on the remote follows it.
	if _, _, err := b.AddAlias(ctx, "ds:v0", "best"); err != nil {
		t.Fatal(err)
	}
	push(t, b)
	pr = pull(t, a)
	if len(pr.Artifacts[0].Conflicts) != 0 || mustResolve(t, a, "ds:best").Version.Version != 0 {
		t.Fatalf("an alias moved only on the remote: conflicts %+v, best v%d; want it to follow (v0)",
			pr.Artifacts[0].Conflicts, mustResolve(t, a, "ds:best").Version.Version)
	}
}

// TestStrategies: T9k's conflict strategies on pull and push when both
// sides made a v1.
func TestStrategies(t *testing.T) {
	ctx := context.Background()
	var tr remote.Transport
	setup := func(t *testing.T) (a, b *repo.Repo) {
		tr, _ = sharedRemote(t)
		a, b = twoRepos(t, tr)
		logDir(t, a, "ds", files{"f": "0"}, nil)
		push(t, a)
		pull(t, b)
		logDir(t, b, "ds", files{"f": "B"}, nil)
		push(t, b)
		logDir(t, a, "ds", files{"f": "A"}, nil)
		return a, b
	}
	t.Run("pull error", func(t *testing.T) {
		a, _ := setup(t)
		before := versionIDs(t, a, "ds")
		_, err := a.Pull(ctx, "origin", nil, &repo.PullOptions{Strategy: repo.StrategyError})
		if !errors.Is(err, repo.ErrConflict) {
			t.Fatalf("pull --strategy error: %v, want ErrConflict", err)
		}
		if after := versionIDs(t, a, "ds"); !slices.Equal(after, before) {
			t.Fatalf("a refused pull changed versions: %v -> %v", before, after)
		}
	})
	t.Run("pull skip", func(t *testing.T) {
		a, _ := setup(t)
		res, err := a.Pull(ctx, "origin", nil, &repo.PullOptions{Strategy: repo.StrategySkip})
		if err != nil || !slices.Equal(res.Artifacts[0].Skipped, []string{"v1"}) {
			t.Fatalf("pull --strategy skip: %+v, %v", res, err)
		}
		equalFiles(t, checkedOut(t, a, "ds:v1"), files{"f": "A"})
	})
	t.Run("pull replace", func(t *testing.T) {
		a, _ := setup(t)
		res, err := a.Pull(ctx, "origin", nil, &repo.PullOptions{Strategy: repo.StrategyReplace})
		if err != nil || !slices.Equal(res.Artifacts[0].Replaced, []string{"v1"}) {
			t.Fatalf("pull --strategy replace: %+v, %v", res, err)
		}
		equalFiles(t, checkedOut(t, a, "ds:v1"), files{"f": "B"})
		clean(t, a)
	})
	t.Run("push skip", func(t *testing.T) {
		a, _ := setup(t)
		res, err := a.Push(ctx, "origin", nil, &repo.PushOptions{Strategy: repo.StrategySkip})
		if err != nil || res.Artifacts[0].Skipped == "" {
			t.Fatalf("push --strategy skip: %+v, %v", res, err)
		}
	})
	t.Run("push new", func(t *testing.T) {
		a, b := setup(t)
		res, err := a.Push(ctx, "origin", nil, &repo.PushOptions{Strategy: repo.StrategyNew})
		if err != nil || res.Artifacts[0].Pulled == nil || !slices.Equal(res.Artifacts[0].Versions, []string{"v2"}) {
			t.Fatalf("push --strategy new: %+v, %v", res, err)
		}
		pull(t, b)
		if ga, gb := versionIDs(t, a, "ds"), versionIDs(t, b, "ds"); len(ga) != 3 || !slices.Equal(ga, gb) {
			t.Fatalf("A %v, B %v", ga, gb)
		}
	})
	t.Run("push replace", func(t *testing.T) {
		a, _ := setup(t)
		res, err := a.Push(ctx, "origin", nil, &repo.PushOptions{Strategy: repo.StrategyReplace})
		if err != nil || !slices.Equal(res.Artifacts[0].Replaced, []string{"v1"}) {
			t.Fatalf("push --strategy replace: %+v, %v", res, err)
		}
		// The remote now lists A's versions: a fresh pull gets A's v1.
		root := t.TempDir()
		c, _ := newChunkedRepo(t, afero.NewOsFs(), root)
		c.SetTransport("origin", tr)
		pull(t, c)
		equalFiles(t, checkedOut(t, c, "ds:v1"), files{"f": "A"})
	})
	t.Run("push replace keeps numbers", func(t *testing.T) {
		a, b := setup(t)
		logDir(t, b, "ds", files{"f": "B2"}, nil) // the remote has v0, v1, v2
		push(t, b)
		if _, err := a.Push(ctx, "origin", nil, &repo.PushOptions{Strategy: repo.StrategyReplace}); err != nil {
			t.Fatal(err)
		}
		// A fresh repository pulls A's v0 and v1; its next version is v3,
		// not the v2 the remote once held (B's, dropped by the replace).
		c, _ := newChunkedRepo(t, afero.NewOsFs(), t.TempDir())
		c.SetTransport("origin", tr)
		pull(t, c)
		v, created := logDir(t, c, "ds", files{"f": "C"}, nil)
		if !created {
			t.Fatal("commit of new content after the pull created nothing")
		}
		if v.Version.Version != 3 {
			t.Fatalf("the next version after a replace push is v%d, want v3 (v2 was the remote's, dropped)", v.Version.Version)
		}
	})
}

// TestCaseCollidingNames: an artifact whose name differs from an existing
// one only in case is refused, by a commit and by a pull, and nothing is
// recorded: on macOS or Windows their ref documents and default checkout
// directories would be one file.
func TestCaseCollidingNames(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	logDir(t, a, "DS", files{"x": "upper"}, nil)
	push(t, a)
	logDir(t, b, "ds", files{"x": "lower"}, nil)
	art := b.NewArtifact("Ds", "dataset")
	if err := art.AddFile(writeTemp(t, "mixed"), "x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Log(ctx, art, nil); !errors.Is(err, repo.ErrCaseCollision) {
		t.Fatalf("commit of Ds next to ds: %v, want ErrCaseCollision", err)
	}
	if _, err := b.Pull(ctx, "origin", nil, nil); !errors.Is(err, repo.ErrCaseCollision) {
		t.Fatalf("pull of DS next to ds: %v, want ErrCaseCollision", err)
	}
	arts, err := b.Artifacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 || arts[0].Name != "ds" {
		t.Fatalf("artifacts after the refusals: %+v", arts)
	}
	clean(t, b)
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRemoteConfigErrors: the errors about configured remotes are the
// sentinels, stating which case it is.
func TestRemoteConfigErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := newRepo(t, afero.NewMemMapFs(), "/work")
	_, err := r.DefaultRemote(ctx)
	if !errors.Is(err, repo.ErrRemoteNotFound) || !errors.Is(err, repo.ErrNoRemote) {
		t.Fatalf("DefaultRemote with no remote: %v, want ErrRemoteNotFound and ErrNoRemote", err)
	}
	for _, name := range []string{"a", "b"} {
		if err := r.AddRemote(ctx, name, "/remotes/"+name); err != nil {
			t.Fatal(err)
		}
	}
	_, err = r.DefaultRemote(ctx)
	if !errors.Is(err, repo.ErrRemoteNotFound) || !errors.Is(err, repo.ErrNoDefaultRemote) || errors.Is(err, repo.ErrNoRemote) {
		t.Fatalf("DefaultRemote with a and b: %v, want ErrRemoteNotFound and ErrNoDefaultRemote", err)
	}
	if err := r.AddRemote(ctx, "a", "/elsewhere"); !errors.Is(err, repo.ErrRemoteExists) || !strings.Contains(err.Error(), "a") {
		t.Fatalf("AddRemote of a again: %v, want ErrRemoteExists naming a", err)
	}
	if err := r.RemoveRemote(ctx, "c"); !errors.Is(err, repo.ErrRemoteNotFound) || errors.Is(err, repo.ErrNoRemote) {
		t.Fatalf("RemoveRemote of c: %v, want ErrRemoteNotFound", err)
	}
	if _, err := r.Push(ctx, "c", nil, nil); !errors.Is(err, repo.ErrRemoteNotFound) {
		t.Fatalf("Push to c: %v, want ErrRemoteNotFound", err)
	}
}

// TestPushManyPacks pushes a version of 48 MiB in 1 MiB files: its
// contents go in several data packs, sent while the walk
// goes on, before any tree; a push through a transport that fails after
// two puts fails, stops, and leaves the remote without the version; the
// next push sends what is missing and another repository pulls it whole.
func TestPushManyPacks(t *testing.T) {
	tr, _ := sharedRemote(t)
	root := t.TempDir()
	a, _ := newRepo(t, afero.NewOsFs(), filepath.Join(root, "a"))
	b, _ := newRepo(t, afero.NewOsFs(), filepath.Join(root, "b"))
	a.SetTransport("origin", tr)
	b.SetTransport("origin", tr)
	fs := files{}
	for i := range 48 {
		fs[fmt.Sprintf("d%d/f%02d.bin", i%3, i)] = randString(int64(100+i), 1<<20)
	}
	logDir(t, a, "big", fs, nil)
	ft := &failingTransport{Transport: tr, failAfter: 2}
	a.SetTransport("flaky", ft)
	if _, err := a.Push(context.Background(), "flaky", nil, nil); err == nil || !strings.Contains(err.Error(), "network down") {
		t.Fatalf("push through a failing transport: %v, want its error", err)
	}
	if _, err := b.Fetch(context.Background(), "origin", nil, nil); err == nil {
		if vs := versionIDs(t, b, "big"); len(vs) != 0 {
			t.Fatalf("the failed push left versions on the remote: %v", vs)
		}
	}
	res := push(t, a)
	// The failed push's two puts may have been data packs (which ones
	// went first depends on the scheduling): the rest is sent now.
	if rest := 48<<20 - ft.sent.Load(); res.Bytes < rest {
		t.Errorf("push sent %d bytes, want the rest of 48 MiB (%d; the failed push sent %d)", res.Bytes, rest, ft.sent.Load())
	}
	var packs []string
	if err := tr.List(context.Background(), "packs/", func(i remote.Info) error {
		packs = append(packs, i.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := countSuffix(packs, ".pack"); n < 4 {
		t.Errorf("%d packs on the remote, want at least 3 data packs and the metadata's", n)
	}
	pull(t, b)
	equalFiles(t, checkedOut(t, b, "big:latest"), fs)
	clean(t, b)
}

func countSuffix(keys []string, suffix string) int {
	n := 0
	for _, k := range keys {
		if strings.HasSuffix(k, suffix) {
			n++
		}
	}
	return n
}

// TestPullInBatches pulls versions of 1,000 files (some the same content,
// some large enough to be chunked) fetching their contents 64 at a time,
// as a pull of millions does 32,768 at a time: every file checks out
// right and fsck is clean. Not parallel: it sets the batch.
func TestPullInBatches(t *testing.T) {
	defer repo.SetPullBatch(64)()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	fs := files{}
	for i := range 1000 {
		fs[fmt.Sprintf("d%02d/f%03d", i%17, i)] = fmt.Sprint("content ", i%600)
	}
	fs["big/model.bin"] = randString(5, 300<<10)
	logDir(t, a, "ds", fs, nil)
	fs2 := maps.Clone(fs)
	fs2["d00/new"] = "new"
	fs2["big/model.bin"] = randString(6, 300<<10)
	logDir(t, a, "ds", fs2, nil)
	push(t, a)
	pull(t, b)
	equalFiles(t, checkedOut(t, b, "ds:v0"), fs)
	equalFiles(t, checkedOut(t, b, "ds:v1"), fs2)
	clean(t, b)
}
