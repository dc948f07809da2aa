package objects_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// TestCopyTo: a kernel copy of an object larger than one copy chunk is
// byte-identical, and a flipped bit in the object is reported as
// corruption naming it.
func TestCopyTo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := objects.NewFSStore(afero.NewOsFs(), filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 5<<20+123)
	rand.NewChaCha8([32]byte{1}).Read(data)
	id, _, err := s.Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	copyOut := func() ([]byte, error) {
		t.Helper()
		f, err := os.CreateTemp(dir, "out-")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var seen int64
		n, ok, err := s.CopyTo(ctx, id, f, func(k int64) { seen += k })
		if !ok {
			t.Skip("no kernel copy on this system")
		}
		if err == nil && (n != int64(len(data)) || seen != n) {
			t.Fatalf("CopyTo copied %d bytes, reported %d, want %d", n, seen, len(data))
		}
		got, rerr := os.ReadFile(f.Name())
		if rerr != nil {
			t.Fatal(rerr)
		}
		return got, err
	}
	got, err := copyOut()
	if err != nil {
		t.Fatalf("CopyTo: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("kernel copy differs from the object")
	}

	p := s.Path(id)
	os.Chmod(p, 0o644)
	b, _ := os.ReadFile(p)
	b[len(b)-7] ^= 0x10
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
	_, err = copyOut()
	var ce *objects.CorruptError
	if !errors.As(err, &ce) || ce.ID != id || !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("CopyTo of a damaged object: %v, want a *CorruptError naming %s", err, id.Short())
	}
}
