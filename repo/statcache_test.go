package repo_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
)

// TestStatCache: recommitting unchanged files reads none of them; a file
// changed in place with the same size is read and gives a new version;
// after GC the cache is not trusted (the files are read again).
func TestStatCache(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	cfs := &countingFs{Fs: afero.NewOsFs(), under: data}
	r, err := repo.Init(ctx, cfs, filepath.Join(root, ".art"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 20; i++ {
		writeFile(t, cfs.Fs, filepath.Join(data, "d", string(rune('a'+i))+".bin"), strings.Repeat("x", 100+i), 0o644)
	}
	// Files modified within the racy window are never cached: wait it out.
	time.Sleep(50 * time.Millisecond)
	commit := func() (repo.Version, bool, int64) {
		t.Helper()
		cfs.opens.Store(0)
		a := r.NewArtifact("ds", "dataset")
		if err := a.AddDir(data, ""); err != nil {
			t.Fatal(err)
		}
		v, created, err := r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		// AddDir's walk opens the two directories to list them.
		return v, created, cfs.opens.Load() - 2
	}
	v0, created, opens := commit()
	if !created || opens != 20 {
		t.Fatalf("first commit: created %v, opened %d files, want true and 20", created, opens)
	}
	v, created, opens := commit()
	if created || v.Version.Version != 0 || opens != 0 {
		t.Fatalf("unchanged recommit: created %v v%d, opened %d files, want unchanged v0 and 0 opens", created, v.Version.Version, opens)
	}
	// Same size, new content: the stat (mtime, ctime) differs, so it is read.
	writeFile(t, cfs.Fs, filepath.Join(data, "d", "c.bin"), strings.Repeat("y", 102), 0o644)
	time.Sleep(50 * time.Millisecond)
	v1, created, opens := commit()
	if !created || v1.Version.Version != 1 || opens != 1 {
		t.Fatalf("after an edit: created %v v%d, opened %d, want v1 created with 1 file read", created, v1.Version.Version, opens)
	}
	if got := entry(t, v1, "d/c.bin").Digest; got != hashOf(strings.Repeat("y", 102)) {
		t.Fatalf("edited file stored as %s, want the new content's hash", got.Short())
	}
	// GC invalidates the cache: every file is read again (and nothing is lost).
	if _, err := r.Delete(ctx, v0.Ref(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GC(ctx, &repo.GCOptions{Grace: -1}); err != nil {
		t.Fatal(err)
	}
	_, created, opens = commit()
	if created || opens != 20 {
		t.Fatalf("after gc: created %v, opened %d, want unchanged and 20 files read", created, opens)
	}
	if _, err := r.Fsck(ctx, nil); err != nil {
		t.Fatalf("fsck after gc: %v", err)
	}
}
