package repo_test

import (
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// writeRandom writes size deterministic pseudo-random bytes to name, in
// small pieces, and returns their ID.
func writeRandom(t testing.TB, fsys afero.Fs, name string, size int64, seed uint64) objects.ID {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := objects.NewHasher()
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	if _, err := io.CopyN(io.MultiWriter(f, h), rng, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return h.Sum()
}

func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestLargeFile logs and checks out a 64 MiB file, streamed: it is never
// held in memory.
func TestLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("large file")
	}
	forEachFsSerial(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		const size = 64 << 20
		big := filepath.Join(root, "big.bin")
		id := writeRandom(t, fsys, big, size, 1)
		_, isOs := fsys.(*afero.OsFs)

		a := r.NewArtifact("big", "model")
		if err := a.AddFile(big, ""); err != nil {
			t.Fatal(err)
		}
		before := allocated()
		v, _, err := r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		logAlloc := allocated() - before
		e := entry(t, v, "big.bin")
		if e.Digest != id || e.Size != size || v.Size != size {
			t.Fatalf("big.bin = %s, %d bytes; want %s, %d", e.Digest.Short(), e.Size, id.Short(), size)
		}
		dst := filepath.Join(root, "out")
		before = allocated()
		res, err := v.Download(ctx, dst, nil)
		if err != nil || res.Written != 1 {
			t.Fatalf("Download = %s, %v", counts(res), err)
		}
		downloadAlloc := allocated() - before
		t.Logf("allocated %d KiB to log, %d KiB to check out", logAlloc>>10, downloadAlloc>>10)
		// On a real file system, allocation stays far below the file size
		// (the in-memory one holds files in memory by nature). The test
		// runs alone, but the runtime allocates too: a loose bound.
		if isOs && (logAlloc > size/4 || downloadAlloc > size/4) {
			t.Errorf("allocated %d MiB to log and %d MiB to check out a 64 MiB file", logAlloc>>20, downloadAlloc>>20)
		}
		got, err := afero.ReadFile(fsys, filepath.Join(dst, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != size || objects.Hash(got) != id {
			t.Errorf("checked-out file hashes to %s", objects.Hash(got).Short())
		}
	})
}
