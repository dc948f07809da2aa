package dirremote

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/remotetest"
)

// newTest returns a transport on DIR/remote and, when the test ends,
// checks that nothing appeared in DIR beside it (no key escaped the root)
// and that no temp or lock file was left in it.
func newTest(t *testing.T) *Transport {
	t.Helper()
	parent := t.TempDir()
	tr, err := New(filepath.Join(parent, "remote"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ents, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 1 || ents[0].Name() != "remote" {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("outside the root: %q, want only the root", names)
		}
		if left := driverFiles(t, tr.Root()); len(left) > 0 {
			t.Errorf("temp or lock files left behind: %q", left)
		}
	})
	return tr
}

// driverFiles lists the ".tmp-" and ".lock-" files under root.
func driverFiles(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) || strings.HasPrefix(d.Name(), lockPrefix) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Transport { return newTest(t) })
}

// TestConformanceNoHardLinks runs the suite where os.Link always fails,
// as on file systems without hard links: puts publish under the lock.
func TestConformanceNoHardLinks(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Transport {
		tr := newTest(t)
		tr.link = func(oldname, newname string) error {
			return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
		}
		return tr
	})
}

func TestLeftoverTempNotListed(t *testing.T) {
	tr := newTest(t)
	ctx := context.Background()
	key := "objects/ab/" + strings.Repeat("c", 62)
	remotetest.MustPut(t, tr, key, []byte("object"))
	remotetest.MustSwap(t, tr, "refs/a.json", "", []byte("ref"))
	// What a crash in the middle of a put or a swap leaves behind.
	leftovers := []string{
		"objects/ab/" + tempPrefix + strings.Repeat("d", 62) + "-123456",
		"refs/" + tempPrefix + "b.json-99",
		"refs/" + lockPrefix + "b.json",
		tempPrefix + "x",
	}
	for _, l := range leftovers {
		if err := os.WriteFile(filepath.Join(tr.Root(), filepath.FromSlash(l)), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := tr.List(ctx, "", func(in remote.Info) error { got = append(got, in.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{key, "refs/a.json"}; !slices.Equal(got, want) {
		t.Errorf("List=%q, want %q", got, want)
	}
	if _, err := tr.Stat(ctx, "refs/b.json"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat of a key with only a leftover temp: err=%v, want ErrNotFound", err)
	}
	// The leftover lock does not block creating that key.
	remotetest.MustSwap(t, tr, "refs/b.json", "", []byte("b"))
	for _, l := range leftovers {
		os.Remove(filepath.Join(tr.Root(), filepath.FromSlash(l)))
	}
}

func TestStaleLockFileDoesNotBlock(t *testing.T) {
	tr := newTest(t)
	e := remotetest.MustSwap(t, tr, "refs/a.json", "", []byte("one"))
	lock := filepath.Join(tr.Root(), "refs", lockPrefix+"a.json")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := tr.CompareAndSwap(ctx, "refs/a.json", e, []byte("two")); err != nil {
		t.Fatalf("swap with a stale lock file present: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("swap took %v with a stale lock file", d)
	}
	if err := tr.Delete(ctx, "refs/a.json"); err != nil {
		t.Fatalf("delete with a stale lock file: %v", err)
	}
}

func TestSizedReader(t *testing.T) {
	for _, tc := range []struct {
		body string
		size int64
		ok   bool
	}{
		{"hello", 5, true},
		{"", 0, true},
		{"hel", 5, false},
		{"hello, world", 5, false},
		{"x", 0, false},
	} {
		r := remote.NewSizedReader(io.NopCloser(strings.NewReader(tc.body)), "dirremote", "k", tc.size)
		got, err := io.ReadAll(r)
		if tc.ok {
			if err != nil || string(got) != tc.body {
				t.Errorf("body %q size %d: got %q, %v; want the body", tc.body, tc.size, got, err)
			}
			continue
		}
		if !errors.Is(err, remote.ErrBadResponse) {
			t.Errorf("body %q size %d: err=%v, want ErrBadResponse", tc.body, tc.size, err)
		}
		if int64(len(got)) > tc.size {
			t.Errorf("body %q size %d: returned %d bytes, more than the size", tc.body, tc.size, len(got))
		}
	}
}

// TestGetAfterSwap: a reader opened before a swap keeps reading the old
// version whole.
func TestGetAfterSwap(t *testing.T) {
	tr := newTest(t)
	ctx := context.Background()
	e := remotetest.MustSwap(t, tr, "refs/a.json", "", []byte("old version"))
	rc, in, err := tr.Get(ctx, "refs/a.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	remotetest.MustSwap(t, tr, "refs/a.json", e, []byte("new"))
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != "old version" || in.ETag != e {
		t.Errorf("reader opened before the swap: %q, %v, ETag %q; want %q, nil, %q", got, err, in.ETag, "old version", e)
	}
}

// TestHugeSize: a reader far shorter than an absurd size is an error,
// not a panic, and leaves nothing.
func TestHugeSize(t *testing.T) {
	tr := newTest(t)
	if err := tr.PutIfAbsent(context.Background(), "refs/a.json", strings.NewReader("x"), 1<<63-1); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("PutIfAbsent of 1 byte announced as 2^63-1: err=%v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := tr.Stat(context.Background(), "refs/a.json"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat after: err=%v, want ErrNotFound", err)
	}
}

func TestSegmentTooLong(t *testing.T) {
	tr := newTest(t)
	key := "refs/" + strings.Repeat("a", 300)
	if err := tr.PutIfAbsent(context.Background(), key, strings.NewReader("x"), 1); !errors.Is(err, remote.ErrInvalidKey) {
		t.Errorf("PutIfAbsent(300-byte segment) err=%v, want ErrInvalidKey", err)
	}
}

// TestETagAcrossTransports: two transports on one directory (two
// processes) agree on ETags, so one can swap from what the other saw.
func TestETagAcrossTransports(t *testing.T) {
	a := newTest(t)
	b, err := New(a.Root())
	if err != nil {
		t.Fatal(err)
	}
	e := remotetest.MustSwap(t, a, "refs/a.json", "", []byte("one"))
	st, err := b.Stat(context.Background(), "refs/a.json")
	if err != nil || st.ETag != e {
		t.Fatalf("other transport: Stat=%+v, %v; want ETag %q", st, err, e)
	}
	remotetest.MustSwap(t, b, "refs/a.json", e, []byte("two"))
	if _, err := a.CompareAndSwap(context.Background(), "refs/a.json", e, []byte("lost")); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("swap from the old ETag err=%v, want ErrConflict", err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, raw := range []string{dir, "file://" + filepath.ToSlash(dir), "file://localhost" + filepath.ToSlash(dir)} {
		u, err := remote.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		if got := tr.(*Transport).Root(); got != dir {
			t.Errorf("Open(%q) root %q, want %q", raw, got, dir)
		}
	}
	for _, raw := range []string{"file://otherhost/x", "file:relative", "s3://bucket/x"} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, u); !errors.Is(err, remote.ErrUnsupportedURL) {
			t.Errorf("Open(%q) err=%v, want ErrUnsupportedURL", raw, err)
		}
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := New(file); err == nil {
		t.Errorf("New on a file succeeded")
	}
}
