package repo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo"
)

// looseAndPacks counts r's loose object files and its pack files.
func looseAndPacks(t *testing.T, r *repo.Repo) (loose, packs int) {
	t.Helper()
	dir := filepath.Join(r.Dir(), "objects")
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case filepath.Base(filepath.Dir(p)) == "pack" && strings.HasSuffix(p, ".pack"):
			packs++
		case filepath.Base(filepath.Dir(p)) != "pack":
			loose++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return loose, packs
}

// packedFiles returns n small files.
func packedFiles(prefix string, n int) files {
	fs := files{}
	for i := 0; i < n; i++ {
		fs[fmt.Sprintf("%s/%03d.txt", prefix, i)] = fmt.Sprintf("%s file %d\n", prefix, i)
	}
	return fs
}

// TestPullStoresPacks: a pull stores file contents and chunks in a few
// local packs instead of a file each; the versions check out, fsck is
// clean, a damaged packed object is found and repaired from the remote,
// and gc drops the objects of a deleted version from the packs it shares
// with a live one.
func TestPullStoresPacks(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, _ := twoRepos(t, tr)
	b, clk := newChunkedRepo(t, afero.NewOsFs(), filepath.Join(t.TempDir(), "b"))
	b.SetTransport("origin", tr)
	one := packedFiles("one", 150)
	one["big.bin"] = randString(50, 100<<10) // chunked
	two := packedFiles("two", 150)
	logDir(t, a, "one", one, nil)
	logDir(t, a, "two", two, nil)
	push(t, a)
	pull(t, b)
	loose, packs := looseAndPacks(t, b)
	// Loose: trees, commits, chunk lists and run objects only.
	if packs == 0 || loose > 20 {
		t.Fatalf("after the pull: %d loose objects and %d packs, want the 300 files packed", loose, packs)
	}
	equalFiles(t, checkedOut(t, b, "one:v0"), one)
	equalFiles(t, checkedOut(t, b, "two:v0"), two)
	clean(t, b)

	// A flipped byte inside a pack: fsck names the object and the path,
	// and a repair from the remote fixes it.
	v, err := b.Resolve(ctx, "two:v0")
	if err != nil {
		t.Fatal(err)
	}
	victim := entry(t, v, "two/007.txt")
	flipPacked(t, b, []byte(two["two/007.txt"]))
	rep, problems := fsck(t, b)
	if len(problems) != 1 || problems[0].ID != victim.Digest || problems[0].Kind != "corrupt" ||
		len(problems[0].Affects) != 1 || problems[0].Affects[0].Path != "two/007.txt" {
		t.Fatalf("fsck after damaging a packed object: %+v", problems)
	}
	if _, err := b.Checkout(ctx, "two:v0", filepath.Join(t.TempDir(), "bad"), nil); !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("checkout of a damaged packed file: %v, want ErrCorrupt", err)
	}
	if res, err := b.Repair(ctx, "origin", rep); err != nil || len(res.Repaired) != 1 {
		t.Fatalf("repair: %+v, %v", res, err)
	}
	clean(t, b)
	equalFiles(t, checkedOut(t, b, "two:v0"), two)

	// Delete "one": gc removes its objects from the shared packs and
	// keeps every object of "two".
	if _, err := b.Delete(ctx, "one:v0", true); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	gcRep, err := b.GC(ctx, &repo.GCOptions{Grace: -1})
	if err != nil {
		t.Fatal(err)
	}
	if gcRep.Deleted < 151 {
		t.Fatalf("gc deleted %d objects, want at least the 151 files of one", gcRep.Deleted)
	}
	for p, content := range one {
		if p == "big.bin" {
			continue
		}
		if _, err := b.Store().Stat(ctx, objects.Hash([]byte(content))); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("%s of the deleted version is still stored (%v)", p, err)
		}
	}
	clean(t, b)
	equalFiles(t, checkedOut(t, b, "two:v0"), two)
}

// flipPacked flips the first byte of content inside r's pack files.
func flipPacked(t *testing.T, r *repo.Repo, content []byte) {
	t.Helper()
	dir := filepath.Join(r.Dir(), "objects", "pack")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pack") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, content); i >= 0 {
			b[i] ^= 1
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, b, 0o444); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%q is in no pack", content)
}
