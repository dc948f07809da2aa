package repo_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// TestCheckoutLargeFileVerified: files large enough for the kernel-copy
// path (reflink or copy_file_range) check out byte-identical, and a
// damaged object is refused with nothing left under the file's name.
func TestCheckoutLargeFileVerified(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		big := make([]byte, 3<<20+17)
		rand.NewChaCha8([32]byte{7}).Read(big)
		v, _ := logDir(t, r, "ckpt", files{"model.bin": string(big), "small.txt": "hi"}, nil)
		out := filepath.Join(root, "out")
		if _, err := r.Checkout(ctx, "ckpt", out, nil); err != nil {
			t.Fatalf("checkout: %v", err)
		}
		if got := readFile(t, fsys, filepath.Join(out, "model.bin")); got != string(big) {
			t.Fatal("large file differs after checkout")
		}

		id := entry(t, v, "model.bin").Digest
		flipBit(t, r, id)
		out2 := filepath.Join(root, "out2")
		_, err := r.Checkout(ctx, "ckpt", out2, nil)
		var ce *objects.CorruptError
		if !errors.As(err, &ce) || ce.ID != id {
			t.Fatalf("checkout of a damaged large object: %v, want a *CorruptError naming %s", err, id.Short())
		}
		if _, err := fsys.Stat(filepath.Join(out2, "model.bin")); err == nil {
			t.Fatal("a damaged large file was written under its name")
		}
		noTemps(t, fsys, out2)
	})
}

// TestCheckoutRemovesStaleTemps: temp files an interrupted checkout left in
// the target's directories are removed by the next checkout that writes
// there once they are old enough not to belong to a checkout still
// running; young ones stay.
func TestCheckoutRemovesStaleTemps(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"a.txt": "a", "sub/b.txt": "b"}, nil)
		logDir(t, r, "ds", files{"a.txt": "a2", "sub/b.txt": "b2"}, nil)
		out := filepath.Join(root, "out")
		if _, err := r.Checkout(ctx, "ds:v0", out, nil); err != nil {
			t.Fatal(err)
		}
		stale := filepath.Join(out, "sub", ".art-tmp-123-456")
		young := filepath.Join(out, ".art-tmp-789-1")
		writeFile(t, fsys, stale, "partial", 0o644)
		writeFile(t, fsys, young, "partial", 0o644)
		old := time.Now().Add(-time.Hour)
		if err := fsys.Chtimes(stale, old, old); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Checkout(ctx, "ds:v1", out, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := fsys.Stat(stale); err == nil {
			t.Error("a stale temp file was left in the checkout")
		}
		if _, err := fsys.Stat(young); err != nil {
			t.Error("a young temp file (maybe another checkout's) was removed")
		}
	})
}
