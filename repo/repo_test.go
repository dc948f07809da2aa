package repo_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
)

func TestInitOpenFind(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		dir := filepath.Join(root, repo.DirName)
		if _, err := repo.Open(ctx, fsys, dir, nil); err == nil {
			t.Fatal("Open before Init succeeded")
		} else {
			wantErr(t, "Open before Init", err, repo.ErrNotRepository)
		}
		r, err := repo.Init(ctx, fsys, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Dir() != dir || r.Fs() != fsys || r.DB() == nil {
			t.Errorf("Dir %q Fs %v", r.Dir(), r.Fs())
		}
		_, err = repo.Init(ctx, fsys, dir, nil)
		wantErr(t, "second Init", err, repo.ErrExists)

		sub := filepath.Join(root, "a", "b")
		if err := fsys.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if got, err := repo.Find(fsys, sub); err != nil || got != dir {
			t.Errorf("Find(%s) = %q, %v; want %q", sub, got, err, dir)
		}
		if _, err := repo.Find(afero.NewMemMapFs(), "/x/y"); err == nil {
			t.Error("Find without a repository succeeded")
		} else {
			wantErr(t, "Find", err, repo.ErrNotRepository)
		}

		writeFile(t, fsys, filepath.Join(root, "newer", "config"), `{"format": 2, "hash": "blake3"}`, 0o644)
		_, err = repo.Open(ctx, fsys, filepath.Join(root, "newer"), nil)
		wantErr(t, "Open of a newer format", err, repo.ErrUnsupported)
		writeFile(t, fsys, filepath.Join(root, "junk", "config"), `not json`, 0o644)
		_, err = repo.Open(ctx, fsys, filepath.Join(root, "junk"), nil)
		wantErr(t, "Open of a damaged config", err, repo.ErrNotRepository)
	})
}

// TestReopen closes a repository in a directory whose name holds
// characters special in URIs and opens it again: the index is a file
// inside the repository and keeps every version.
func TestReopen(t *testing.T) {
	onlyOs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		for _, name := range []string{"plain", "we#ird", "pct%20x", "q?x=1&y", "sp ace"} {
			dir := filepath.Join(root, name, repo.DirName)
			r, err := repo.Init(ctx, fsys, dir, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			logDir(t, r, "ds", files{"a": "a"}, &repo.LogOptions{Aliases: []string{"best"}})
			r.Close()
			if _, err := os.Stat(filepath.Join(dir, "index.db")); err != nil {
				t.Errorf("%s: the index is not in the repository: %v", name, err)
			}
			ents, _ := os.ReadDir(filepath.Join(root, name))
			for _, e := range ents {
				if e.Name() != repo.DirName && !strings.HasPrefix(e.Name(), "src-") {
					t.Errorf("%s: the project directory holds %s", name, e.Name())
				}
			}
			r, err = repo.Open(ctx, fsys, dir, nil)
			if err != nil {
				t.Fatalf("%s: reopen: %v", name, err)
			}
			if v, err := r.Resolve(ctx, "ds:best"); err != nil || v.Version.Version != 0 {
				t.Errorf("%s: after reopening, ds:best = %s, %v", name, v.Ref(), err)
			}
			r.Close()
		}
		if ents, _ := os.ReadDir(root); len(ents) != 5 {
			t.Errorf("%d entries next to the projects, want 5", len(ents))
		}
	})
}
