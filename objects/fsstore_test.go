package objects_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/objectstest"
)

// fsKinds are the file systems every FSStore test runs on.
var fsKinds = []struct {
	name  string
	newFs func(t *testing.T) (afero.Fs, string)
}{
	{"MemMapFs", func(t *testing.T) (afero.Fs, string) { return afero.NewMemMapFs(), "/repo/.art/objects" }},
	{"OsFs", func(t *testing.T) (afero.Fs, string) {
		return afero.NewOsFs(), filepath.Join(t.TempDir(), ".art", "objects")
	}},
}

func newFSStore(t *testing.T, fsys afero.Fs, dir string) *objects.FSStore {
	t.Helper()
	s, err := objects.NewFSStore(fsys, dir)
	if err != nil {
		t.Fatalf("NewFSStore: %v", err)
	}
	return s
}

func TestFSStoreConformance(t *testing.T) {
	for _, k := range fsKinds {
		t.Run(k.name, func(t *testing.T) {
			objectstest.Run(t, func(t *testing.T) objects.Store {
				fsys, dir := k.newFs(t)
				return newFSStore(t, fsys, dir)
			})
		})
	}
	t.Run("NoSync", func(t *testing.T) {
		objectstest.Run(t, func(t *testing.T) objects.Store {
			s := newFSStore(t, afero.NewOsFs(), t.TempDir())
			s.NoSync = true
			return s
		})
	})
}

// forEachFs runs fn on a new FSStore on every kind of file system.
func forEachFs(t *testing.T, fn func(t *testing.T, s *objects.FSStore)) {
	for _, k := range fsKinds {
		t.Run(k.name, func(t *testing.T) {
			fsys, dir := k.newFs(t)
			fn(t, newFSStore(t, fsys, dir))
		})
	}
}

func putBytes(tb testing.TB, s objects.Store, b []byte) objects.ID {
	tb.Helper()
	id, err := objects.PutBytes(context.Background(), s, b)
	if err != nil {
		tb.Fatalf("Put: %v", err)
	}
	return id
}

func TestFSStoreLayout(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		id := putBytes(t, s, []byte("abc"))
		want := filepath.Join(s.Dir(), "64", "37b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85")
		if got := s.Path(id); got != want {
			t.Fatalf("Path=%s, want %s", got, want)
		}
		b, err := afero.ReadFile(s.Fs(), want)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(b), "abc"; got != want {
			t.Fatalf("object file holds %q, want the raw bytes %q", got, want)
		}
		fi, err := s.Fs().Stat(want)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), fs.FileMode(0o444); got != want {
			t.Fatalf("object file mode=%v, want %v", got, want)
		}
	})
}

func TestFSStoreReadOnlyOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := newFSStore(t, afero.NewOsFs(), dir)
	id := putBytes(t, s, []byte("read-only"))
	fi, err := os.Stat(s.Path(id))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), fs.FileMode(0o444); got != want {
		t.Fatalf("mode=%v, want %v", got, want)
	}
	if !fi.Mode().IsRegular() {
		t.Fatalf("object is not a regular file: %v", fi.Mode())
	}
	// Putting it again keeps it read-only.
	putBytes(t, s, []byte("read-only"))
	if fi, err := os.Stat(s.Path(id)); err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("after second Put: %v, %v", fi.Mode(), err)
	}
}

func TestFSStorePutRefreshesModTime(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		id := putBytes(t, s, []byte("old object"))
		// Age the object, as if written long ago.
		old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
		if err := s.Fs().Chtimes(s.Path(id), old, old); err != nil {
			t.Fatal(err)
		}
		if info, err := s.Stat(ctx, id); err != nil || !info.ModTime.Equal(old) {
			t.Fatalf("Stat.ModTime=%v, %v; want %v", info.ModTime, err, old)
		}
		later := time.Now().Add(time.Hour).Truncate(time.Second)
		s.Now = func() time.Time { return later }
		putBytes(t, s, []byte("old object"))
		info, err := s.Stat(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := info.ModTime, later; !got.Equal(want) {
			t.Fatalf("ModTime after re-Put=%v, want %v (from Now)", got, want)
		}
		if got, want := string(readAll(t, s, id)), "old object"; got != want {
			t.Fatalf("content=%q, want %q", got, want)
		}
	})
}

// tempFiles returns the names in the store's root that are not object
// directories.
func tempFiles(tb testing.TB, s *objects.FSStore) []string {
	tb.Helper()
	fis, err := afero.ReadDir(s.Fs(), s.Dir())
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, fi := range fis {
		if !fi.IsDir() || len(fi.Name()) != 2 {
			out = append(out, fi.Name())
		}
	}
	return out
}

func TestFSStoreListSkipsStrayFiles(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		id := putBytes(t, s, []byte("real"))
		h := id.String()
		fsys := s.Fs()
		stray := map[string]string{
			".tmp-123456":                        "a temp file left by a crash",
			h[:2] + "/.tmp-999":                  "a temp file in an object dir",
			h[:2] + "/" + h[2:10]:                "a short name",
			h[:2] + "/" + strings.ToUpper(h[2:]): "uppercase",
			"zz/" + h[2:]:                        "not hex",
			"config":                             "not an object",
		}
		for name, content := range stray {
			p := filepath.Join(s.Dir(), filepath.FromSlash(name))
			if err := fsys.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := afero.WriteFile(fsys, p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// A directory where an object would be.
		other := objects.Hash([]byte("other")).String()
		if err := fsys.MkdirAll(filepath.Join(s.Dir(), other[:2], other[2:]), 0o755); err != nil {
			t.Fatal(err)
		}
		var got []objects.ID
		if err := s.List(ctx, func(info objects.Info) error {
			got = append(got, info.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != id {
			t.Fatalf("List=%v, want only %s", got, id)
		}
	})
}

func TestFSStoreFailedPutsLeaveNoTempFiles(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		if _, err := s.PutExpect(ctx, objects.Hash([]byte("x")), strings.NewReader("y")); !errors.Is(err, objects.ErrCorrupt) {
			t.Fatalf("PutExpect err=%v, want ErrCorrupt", err)
		}
		readErr := errors.New("source failed")
		if _, _, err := s.Put(ctx, io.MultiReader(strings.NewReader("partial"), errReader{readErr})); !errors.Is(err, readErr) {
			t.Fatalf("Put from failing reader err=%v, want %v", err, readErr)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := s.Put(cctx, strings.NewReader("z")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put err=%v, want context.Canceled", err)
		}
		putBytes(t, s, []byte("ok"))
		putBytes(t, s, []byte("ok"))
		if got := tempFiles(t, s); len(got) != 0 {
			t.Fatalf("store root holds %v after failed Puts, want no temp files", got)
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestFSStoreRemoveStaleTemps(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		fsys := s.Fs()
		now := time.Now()
		for name, age := range map[string]time.Duration{
			".tmp-old1": 48 * time.Hour,
			".tmp-old2": 25 * time.Hour,
			".tmp-new":  time.Minute,
		} {
			p := filepath.Join(s.Dir(), name)
			if err := afero.WriteFile(fsys, p, []byte("partial"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
				t.Fatal(err)
			}
		}
		id := putBytes(t, s, []byte("object"))
		n, err := s.RemoveStaleTemps(now.Add(-24 * time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, 2; got != want {
			t.Fatalf("RemoveStaleTemps=%d, want %d", got, want)
		}
		if got := tempFiles(t, s); len(got) != 1 || got[0] != ".tmp-new" {
			t.Fatalf("left %v, want only .tmp-new", got)
		}
		if _, err := s.Stat(context.Background(), id); err != nil {
			t.Fatalf("object gone after RemoveStaleTemps: %v", err)
		}
	})
}

// damage rewrites the object file of id with f applied to its bytes. A
// packed object gets a damaged loose copy, which takes precedence.
func damage(tb testing.TB, s *objects.FSStore, id objects.ID, f func([]byte) []byte) {
	tb.Helper()
	fsys := s.Fs()
	file, off, size, err := s.Locate(id)
	if err != nil {
		tb.Fatal(err)
	}
	p := s.Path(id)
	if file != p {
		b, err := afero.ReadFile(fsys, file)
		if err != nil {
			tb.Fatal(err)
		}
		fsys.MkdirAll(filepath.Dir(p), 0o755)
		if err := afero.WriteFile(fsys, p, f(b[off:off+size]), 0o444); err != nil {
			tb.Fatal(err)
		}
		return
	}
	b, err := afero.ReadFile(fsys, p)
	if err != nil {
		tb.Fatal(err)
	}
	if err := fsys.Chmod(p, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := afero.WriteFile(fsys, p, f(b), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := fsys.Chmod(p, 0o444); err != nil {
		tb.Fatal(err)
	}
}

func readAll(tb testing.TB, s objects.Store, id objects.ID) []byte {
	tb.Helper()
	rc, err := s.Open(context.Background(), id)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return b
}

// assertCorrupt checks that err reports id as corrupt.
func assertCorrupt(tb testing.TB, err error, id objects.ID) {
	tb.Helper()
	if !errors.Is(err, objects.ErrCorrupt) {
		tb.Fatalf("err=%v, want ErrCorrupt", err)
	}
	var ce *objects.CorruptError
	if !errors.As(err, &ce) {
		tb.Fatalf("err=%T %v, want a *CorruptError", err, err)
	}
	if got, want := ce.ID, id; got != want {
		tb.Fatalf("CorruptError.ID=%s, want %s", got, want)
	}
}

func TestFSStoreDetectsCorruption(t *testing.T) {
	data := make([]byte, 100<<10)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, tt := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"bit flip at start", func(b []byte) []byte { b[0] ^= 1; return b }},
		{"bit flip in middle", func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }},
		{"bit flip at end", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"truncated to empty", func(b []byte) []byte { return b[:0] }},
		{"extended", func(b []byte) []byte { return append(b, 0) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachFs(t, func(t *testing.T, s *objects.FSStore) {
				ctx := context.Background()
				id := putBytes(t, s, data)
				damage(t, s, id, tt.f)
				rc, err := s.Open(ctx, id)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer rc.Close()
				_, err = io.Copy(io.Discard, rc)
				assertCorrupt(t, err, id)
				// The error sticks.
				if _, err := rc.Read(make([]byte, 10)); !errors.Is(err, objects.ErrCorrupt) {
					t.Fatalf("Read after corruption err=%v, want ErrCorrupt", err)
				}
				_, err = objects.ReadAll(ctx, s, id, objects.MaxMetaObjectSize)
				assertCorrupt(t, err, id)
			})
		})
	}
}

func TestFSStoreReadTreeAndCommitCorrupt(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		tb, err := goldenTree().Encode()
		if err != nil {
			t.Fatal(err)
		}
		cb, err := goldenCommit().Encode()
		if err != nil {
			t.Fatal(err)
		}
		treeID := putBytes(t, s, tb)
		commitID := putBytes(t, s, cb)
		if _, err := objects.ReadTree(ctx, s, treeID); err != nil {
			t.Fatalf("ReadTree: %v", err)
		}
		if _, err := objects.ReadCommit(ctx, s, commitID); err != nil {
			t.Fatalf("ReadCommit: %v", err)
		}
		flip := func(b []byte) []byte { b[len(b)/2] ^= 0x04; return b }
		damage(t, s, treeID, flip)
		damage(t, s, commitID, flip)
		_, err = objects.ReadTree(ctx, s, treeID)
		assertCorrupt(t, err, treeID)
		_, err = objects.ReadCommit(ctx, s, commitID)
		assertCorrupt(t, err, commitID)
		// Undamaged, but not decodable as the kind asked for.
		_, err = objects.ReadTree(ctx, s, commitID)
		assertCorrupt(t, err, commitID)
	})
}

func TestFSStoreOpenCancelled(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		id := putBytes(t, s, []byte("x"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Open(ctx, id); !errors.Is(err, context.Canceled) {
			t.Fatalf("Open err=%v, want context.Canceled", err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, context.Canceled) {
			t.Fatalf("Delete err=%v, want context.Canceled", err)
		}
		if err := s.List(ctx, func(objects.Info) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Fatalf("List err=%v, want context.Canceled", err)
		}
	})
}

func TestVerifyingReader(t *testing.T) {
	data := []byte("verified content")
	id := objects.Hash(data)
	r := objects.NewVerifyingReader(io.NopCloser(bytes.NewReader(data)), id)
	b, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadAll=%q, %v", b, err)
	}
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("Read after EOF err=%v, want io.EOF", err)
	}
	other := objects.Hash([]byte("other"))
	r = objects.NewVerifyingReader(io.NopCloser(bytes.NewReader(data)), other)
	_, err = io.ReadAll(r)
	assertCorrupt(t, err, other)
}

// TestVerifyingReaderPool: readers share pooled hashers, each reset before
// use (a hasher holding the last object's bytes would fail every read
// after the first), and a closed reader reads no more.
func TestVerifyingReaderPool(t *testing.T) {
	for i := range 50 {
		b := bytes.Repeat([]byte{byte(i)}, 1000+i)
		v := objects.NewVerifyingReader(io.NopCloser(bytes.NewReader(b)), objects.Hash(b))
		got, err := io.ReadAll(v)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("reader %d: %v", i, err)
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := v.Read(make([]byte, 8)); n != 0 || err == nil || err == io.EOF {
			t.Fatalf("read after Close: %d, %v; want an error", n, err)
		}
	}
	bad := objects.NewVerifyingReader(io.NopCloser(strings.NewReader("forged")), objects.Hash([]byte("real")))
	if _, err := io.ReadAll(bad); !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("a wrong object read through a pooled hasher: %v, want ErrCorrupt", err)
	}
	bad.Close()
}
