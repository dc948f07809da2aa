package repo_test

import (
	"context"
	"errors"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/chunker"
	"github.com/artvcs/art/repo"
)

// testChunking chunks files of 16 KiB and more into 256 B to 4 KiB chunks.
var testChunking = repo.Chunking{Algorithm: chunker.Algorithm, MinFileSize: 16 << 10,
	Params: chunker.Params{Min: 256, Avg: 1024, Max: 4096}}

func newChunkedRepo(t testing.TB, fsys afero.Fs, root string) (*repo.Repo, *clock) {
	t.Helper()
	c := newClock()
	ch := testChunking
	r, err := repo.Init(context.Background(), fsys, filepath.Join(root, ".art"), &repo.Options{Now: c.Now, Chunking: &ch})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, c
}

func randString(seed int64, n int) string {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return string(b)
}

// checkpoints logs model:v0 (a 200 KiB file), model:v1 (the same with 1 KiB
// rewritten in the middle, plus a copy of v0's file) and returns them.
func checkpoints(t testing.TB, r *repo.Repo) (v0, v1 repo.Version, d0, d1 string) {
	t.Helper()
	d0 = randString(1, 200<<10)
	d1 = d0[:100<<10] + randString(2, 1024) + d0[101<<10:]
	v0, _ = logDir(t, r, "model", files{"model.ckpt": d0}, nil)
	v1, _ = logDir(t, r, "model", files{"model.ckpt": d1, "old/model.ckpt": d0}, nil)
	return v0, v1, d0, d1
}

func chunkList(t testing.TB, r *repo.Repo, id objects.ID) *objects.ChunkList {
	t.Helper()
	l, err := r.Store().(*objects.FSStore).ReadChunkList(context.Background(), id)
	if err != nil {
		t.Fatalf("ReadChunkList(%s): %v", id.Short(), err)
	}
	return l
}

func TestChunkedVersions(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newChunkedRepo(t, fsys, root)
		v0, v1, d0, d1 := checkpoints(t, r)
		// The file's ID is still the BLAKE3 of its whole content.
		if got, want := entry(t, v1, "model.ckpt").Digest, hashOf(d1); got != want {
			t.Fatalf("digest %s, want BLAKE3 of the content %s", got.Short(), want.Short())
		}
		l := chunkList(t, r, hashOf(d1))
		if len(l.Chunks) < 50 {
			t.Fatalf("%d chunks, want the file cut into many", len(l.Chunks))
		}
		// v1 changed 1 KiB and added a copy of v0's file: it stores a few
		// chunks and its list, not another 200 KiB.
		if v0.Added < 200<<10 {
			t.Fatalf("v0 added %d bytes, want at least the file", v0.Added)
		}
		if limit := int64(3*4096 + 200<<10/256*70 + 2048); v1.Added <= 0 || v1.Added > limit {
			t.Fatalf("v1 added %d bytes, want (0, %d]", v1.Added, limit)
		}
		if got := mustResolve(t, r, "model:v1").Added; got != v1.Added {
			t.Fatalf("index says v1 added %d, Log said %d", got, v1.Added)
		}
		// Every version checks out byte-identical.
		for _, v := range []repo.Version{v0, v1} {
			out := filepath.Join(root, "out-"+v.Ref()[6:])
			if _, err := v.Download(ctx, out, nil); err != nil {
				t.Fatalf("Download %s: %v", v.Ref(), err)
			}
		}
		if got := readFile(t, fsys, filepath.Join(root, "out-v0", "model.ckpt")); got != d0 {
			t.Fatal("v0 checked out different bytes")
		}
		if got := readFile(t, fsys, filepath.Join(root, "out-v1", "model.ckpt")); got != d1 {
			t.Fatal("v1 checked out different bytes")
		}
		if got := readFile(t, fsys, filepath.Join(root, "out-v1", "old", "model.ckpt")); got != d0 {
			t.Fatal("v1's copy of v0 checked out different bytes")
		}
		if _, err := v1.Verify(ctx, filepath.Join(root, "out-v1")); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if _, problems := fsck(t, r); len(problems) != 0 {
			t.Fatalf("fsck: %+v", problems)
		}
		// du: two versions of 200 KiB and 400 KiB logical, stored in little
		// more than one file's worth.
		u, err := r.DiskUsage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Artifacts) != 1 || u.Artifacts[0].Versions != 2 || u.Logical != 600<<10 {
			t.Fatalf("du %+v", u)
		}
		if u.Stored > 260<<10 || u.Stored < 200<<10 || u.Artifacts[0].Stored != u.Stored || u.Chunked != 2 || u.Garbage != 0 {
			t.Fatalf("du stored %d (artifact %d), %d chunked, garbage %d; want about 200 KiB, 2, 0", u.Stored, u.Artifacts[0].Stored, u.Chunked, u.Garbage)
		}
	})
}

// TestFsckCorruptChunk: a damaged chunk is charged to every file, in every
// version, made of it.
func TestFsckCorruptChunk(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, _, _, d0, d1 := func() (*repo.Repo, repo.Version, repo.Version, string, string) {
			r, _ := newChunkedRepo(t, fsys, root)
			v0, v1, d0, d1 := checkpoints(t, r)
			return r, v0, v1, d0, d1
		}()
		// The first chunk is shared by both contents.
		l0, l1 := chunkList(t, r, hashOf(d0)), chunkList(t, r, hashOf(d1))
		shared := l0.Chunks[0].ID
		if l1.Chunks[0].ID != shared {
			t.Fatal("first chunk not shared")
		}
		flipBit(t, r, shared)
		_, problems := fsck(t, r)
		if len(problems) != 1 {
			t.Fatalf("problems %+v, want one (the chunk)", problems)
		}
		p := problems[0]
		if p.ID != shared || p.Kind != "corrupt" {
			t.Fatalf("problem %s %s, want corrupt chunk %s", p.Kind, p.ID.Short(), shared.Short())
		}
		want := []string{"model:v0 model.ckpt", "model:v1 model.ckpt", "model:v1 old/model.ckpt"}
		if got := affects(p); !slices.Equal(got, want) {
			t.Fatalf("affects %q, want %q", got, want)
		}
		// Checkout refuses it, naming the chunk, and writes nothing.
		out := filepath.Join(root, "out")
		_, err := r.Checkout(context.Background(), "model:v0", out, nil)
		if !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), shared.String()) {
			t.Fatalf("checkout: %v, want ErrCorrupt naming %s", err, shared.Short())
		}
		if _, err := fsys.Stat(filepath.Join(out, "model.ckpt")); err == nil {
			t.Fatal("a file with a corrupt chunk was checked out")
		}
		noTemps(t, fsys, out)
	})
}

// TestChunkListRefused: a chunk list naming a missing or wrong-size chunk
// is refused by checkout (nothing written) and reported by fsck.
func TestChunkListRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		harm func(t testing.TB, r *repo.Repo, id objects.ID)
		want error
		kind string
	}{
		{"missing chunk", removeObject, objects.ErrNotFound, "missing"},
		{"wrong-size chunk", func(t testing.TB, r *repo.Repo, id objects.ID) {
			// A short loose copy, which takes precedence over the packed
			// chunk.
			s := r.Store().(*objects.FSStore)
			p, off, _, err := s.Locate(id)
			if err != nil {
				t.Fatal(err)
			}
			b, err := afero.ReadFile(r.Fs(), p)
			if err != nil {
				t.Fatal(err)
			}
			r.Fs().MkdirAll(filepath.Dir(s.Path(id)), 0o755)
			r.Fs().Chmod(s.Path(id), 0o644)
			if err := afero.WriteFile(r.Fs(), s.Path(id), b[off:off+10], 0o444); err != nil {
				t.Fatal(err)
			}
		}, objects.ErrCorrupt, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
				r, _ := newChunkedRepo(t, fsys, root)
				_, _, d0, d1 := checkpoints(t, r)
				// A chunk of v1's new content only.
				in0 := map[objects.ID]bool{}
				for _, c := range chunkList(t, r, hashOf(d0)).Chunks {
					in0[c.ID] = true
				}
				var chunk objects.ID
				for _, c := range chunkList(t, r, hashOf(d1)).Chunks {
					if !in0[c.ID] {
						chunk = c.ID
					}
				}
				tc.harm(t, r, chunk)
				out := filepath.Join(root, "out")
				_, err := r.Checkout(context.Background(), "model:v1", out, &repo.CheckoutOptions{Path: "model.ckpt"})
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), chunk.String()) {
					t.Fatalf("checkout: %v, want %v naming chunk %s", err, tc.want, chunk.Short())
				}
				if _, err := fsys.Stat(filepath.Join(out, "model.ckpt")); err == nil {
					t.Fatal("the file was checked out")
				}
				_, problems := fsck(t, r)
				if len(problems) != 1 || problems[0].ID != chunk || problems[0].Kind != tc.kind {
					t.Fatalf("fsck problems %+v, want %s chunk %s", problems, tc.kind, chunk.Short())
				}
				if got, want := affects(problems[0]), []string{"model:v1 model.ckpt"}; !slices.Equal(got, want) {
					t.Fatalf("affects %q, want %q", got, want)
				}
			})
		})
	}
}

// TestGCChunks: deleting a version frees the chunks only it used; chunks a
// live version shares are kept.
func TestGCChunks(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newChunkedRepo(t, fsys, root)
		d0 := randString(1, 200<<10)
		d1 := d0[:100<<10] + randString(2, 1024) + d0[101<<10:]
		logDir(t, r, "model", files{"model.ckpt": d0}, nil)
		v1, _ := logDir(t, r, "model", files{"model.ckpt": d1}, nil)
		l0, l1 := chunkList(t, r, hashOf(d0)), chunkList(t, r, hashOf(d1))
		in1 := map[objects.ID]bool{}
		for _, c := range l1.Chunks {
			in1[c.ID] = true
		}
		var only0 []objects.ID
		for _, c := range l0.Chunks {
			if !in1[c.ID] {
				only0 = append(only0, c.ID)
			}
		}
		if len(only0) == 0 || len(only0) > 5 {
			t.Fatalf("%d chunks only in v0, want a few", len(only0))
		}
		if _, err := r.Delete(ctx, "model:v0", false); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Hour)
		rep, err := r.GC(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids := objectIDs(t, r)
		for _, id := range only0 {
			if ids[id] {
				t.Fatalf("chunk %s used only by the deleted version survived gc", id.Short())
			}
		}
		if ids[hashOf(d0)] {
			t.Fatal("the deleted version's chunk list survived gc")
		}
		for _, c := range l1.Chunks {
			if !ids[c.ID] {
				t.Fatalf("gc deleted chunk %s of a live version", c.ID.Short())
			}
		}
		if rep.Deleted < len(only0)+2 {
			t.Fatalf("gc deleted %d objects, want at least the %d chunks, the list and the commit", rep.Deleted, len(only0))
		}
		if _, problems := fsck(t, r); len(problems) != 0 {
			t.Fatalf("fsck after gc: %+v", problems)
		}
		out := filepath.Join(root, "out")
		if _, err := v1.Download(ctx, out, nil); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, fsys, filepath.Join(out, "model.ckpt")); got != d1 {
			t.Fatal("v1 checked out wrong after gc")
		}
	})
}

// TestRepoChunkingConfig: the chunking a repository was created with is
// in its config and used by every later writer; a config naming an
// unknown algorithm is refused.
func TestRepoChunkingConfig(t *testing.T) {
	onlyOs(t, func(t *testing.T, fsys afero.Fs, root string) {
		r, _ := newChunkedRepo(t, fsys, root)
		dir := r.Dir()
		r.Close()
		cfg := readFile(t, fsys, filepath.Join(dir, "config"))
		for _, want := range []string{`"algorithm": "` + chunker.Algorithm + `"`, `"min_file_size": 16384`, `"avg": 1024`} {
			if !strings.Contains(cfg, want) {
				t.Fatalf("config lacks %s:\n%s", want, cfg)
			}
		}
		// Another handle (another writer) chunks the same way.
		r2, err := repo.Open(context.Background(), fsys, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := randString(5, 40<<10)
		logDir(t, r2, "x", files{"f": d}, nil)
		chunkList(t, r2, hashOf(d))
		r2.Close()
		bad := strings.Replace(cfg, chunker.Algorithm, "rabin-v9", 1)
		if err := afero.WriteFile(fsys, filepath.Join(dir, "config"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.Open(context.Background(), fsys, dir, nil); !errors.Is(err, repo.ErrUnsupported) {
			t.Fatalf("Open with an unknown chunker: %v, want ErrUnsupported", err)
		}
		// Chunking off: files are stored whole.
		off := repo.Chunking{}
		r3, err := repo.Init(context.Background(), fsys, filepath.Join(root, "plain", ".art"), &repo.Options{Chunking: &off})
		if err != nil {
			t.Fatal(err)
		}
		defer r3.Close()
		logDir(t, r3, "x", files{"f": d}, nil)
		if _, err := r3.Store().(*objects.FSStore).ReadChunkList(context.Background(), hashOf(d)); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("a repository without chunking chunked a file: %v", err)
		}
	})
}
