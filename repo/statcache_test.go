package repo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
		return v, created, cfs.opens.Load()
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

// hookFs calls hook once, right after the first Chtimes of a path
// containing trigger (the store refreshing an object it reuses).
type hookFs struct {
	afero.Fs
	trigger string
	once    sync.Once
	hook    func()
}

func (h *hookFs) Chtimes(name string, atime, mtime time.Time) error {
	err := h.Fs.Chtimes(name, atime, mtime)
	if strings.Contains(name, h.trigger) && h.hook != nil {
		h.once.Do(h.hook)
	}
	return err
}

func (h *hookFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	return h.Fs.(afero.Lstater).LstatIfPossible(name)
}

// TestGCDuringCommit: a GC that runs, with no grace, while a commit is
// storing its files must not leave the commit's version pointing at
// objects it collected (the commit reused an object that had become
// garbage).
func TestGCDuringCommit(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	hfs := &hookFs{Fs: afero.NewMemMapFs(), trigger: "objects"}
	r, err := repo.Init(ctx, hfs, filepath.Join(root, ".art"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	old := filepath.Join(root, "old")
	writeFile(t, hfs.Fs, filepath.Join(old, "a.txt"), "shared content", 0o644)
	a := r.NewArtifact("old", "dataset")
	if err := a.AddDir(old, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Log(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delete(ctx, "old:v0", true); err != nil {
		t.Fatal(err)
	}
	// old:v0's blob and tree are now garbage. Log m with the same content
	// (so the commit writes no new object but reuses both), and collect
	// garbage (no grace) right after the commit has refreshed the first
	// of them.
	data := filepath.Join(root, "m")
	writeFile(t, hfs.Fs, filepath.Join(data, "a.txt"), "shared content", 0o644)
	var gcErr error
	hfs.hook = func() { _, gcErr = r.GC(ctx, &repo.GCOptions{Grace: -1}) }
	m := r.NewArtifact("m", "dataset")
	if err := m.AddDir(data, ""); err != nil {
		t.Fatal(err)
	}
	v, _, err := r.Log(ctx, m, nil)
	if err != nil {
		t.Fatalf("Log: %v", err)
	}
	if gcErr != nil {
		t.Fatalf("GC: %v", gcErr)
	}
	if rep, err := r.Fsck(ctx, nil); err != nil {
		t.Fatalf("fsck after a GC raced %s: %v %+v", v.Ref(), err, rep.Problems)
	}
}
