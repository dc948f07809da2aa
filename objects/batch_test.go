package objects_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/faulttest"
)

// TestFaultBatchBounded: a batch larger than BatchListMax makes its
// objects durable early instead of listing them all (one SyncFS where
// there is one, else an fsync each), and Sync still covers every object.
func TestFaultBatchBounded(t *testing.T) {
	defer objects.SetBatchListMax(50)()
	base := afero.NewMemMapFs()
	for _, portable := range []bool{false, true} {
		t.Run(fmt.Sprintf("portable=%v", portable), func(t *testing.T) {
			ctx := context.Background()
			dir := fmt.Sprintf("/b%v", portable)
			f := faulttest.New(base)
			f.Portable = portable
			s, err := objects.NewFSStore(f, filepath.Join(dir, "objects"))
			if err != nil {
				t.Fatal(err)
			}
			syncDirs(t, f, "/", dir)
			f.Settle()
			n := 50 + 100
			b := s.NewBatch()
			ids := make([]objects.ID, n)
			f.Reset()
			for i := range n {
				if ids[i], err = b.PutBytes(ctx, []byte(fmt.Sprint("obj ", i))); err != nil {
					t.Fatal(err)
				}
			}
			early := f.Count(faulttest.OpSync)
			if portable && early < 50 || !portable && early != 1 {
				t.Errorf("before Sync, %d syncs of %d objects (portable %v): the batch did not flush its full list", early, n, portable)
			}
			if err := b.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if total := f.Count(faulttest.OpSync); !portable && total != 2 || portable && total < int64(n) {
				t.Errorf("after Sync, %d syncs of %d objects (portable %v)", total, n, portable)
			}
			if err := f.Crash(); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if err := func() error { _, err := objects.ReadAll(ctx, s, id, 1<<20); return err }(); err != nil {
					t.Fatalf("object of a synced batch past BatchListMax lost: %v", err)
				}
			}
		})
	}
}

func syncDirs(t *testing.T, fsys afero.Fs, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := objects.SyncDir(fsys, d); err != nil {
			t.Fatal(err)
		}
	}
}
