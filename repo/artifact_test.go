package repo_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo"
)

// project writes the W&B guide's example project under root/proj.
func project(t testing.TB, fsys afero.Fs, root string) string {
	t.Helper()
	dir := filepath.Join(root, "proj")
	writeFiles(t, fsys, dir, files{
		"images/cat.png":       "cat pixels",
		"images/dog.png":       "dog pixels",
		"checkpoints/model.h5": "checkpoint weights",
		"model.h5":             "final weights",
	})
	return dir
}

// TestNamingTable checks the file naming table of the W&B guide.
func TestNamingTable(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		proj := project(t, fsys, root)
		p := func(s string) string { return filepath.Join(proj, filepath.FromSlash(s)) }
		tests := []struct {
			call string
			add  func(a *repo.Artifact) error
			want files
		}{
			{"add_file(model.h5)", func(a *repo.Artifact) error { return a.AddFile(p("model.h5"), "") },
				files{"model.h5": "final weights"}},
			{"add_file(checkpoints/model.h5)", func(a *repo.Artifact) error { return a.AddFile(p("checkpoints/model.h5"), "") },
				files{"model.h5": "checkpoint weights"}},
			{"add_file(model.h5, models/mymodel.h5)", func(a *repo.Artifact) error { return a.AddFile(p("model.h5"), "models/mymodel.h5") },
				files{"models/mymodel.h5": "final weights"}},
			{"add_file(model.h5, dir/)", func(a *repo.Artifact) error { return a.AddFile(p("model.h5"), "dir/") },
				files{"dir/model.h5": "final weights"}},
			{"add_file(model.h5, ./a//b.h5)", func(a *repo.Artifact) error { return a.AddFile(p("model.h5"), "./a//b.h5") },
				files{"a/b.h5": "final weights"}},
			{"add_dir(images)", func(a *repo.Artifact) error { return a.AddDir(p("images"), "") },
				files{"cat.png": "cat pixels", "dog.png": "dog pixels"}},
			{"add_dir(images, images)", func(a *repo.Artifact) error { return a.AddDir(p("images"), "images") },
				files{"images/cat.png": "cat pixels", "images/dog.png": "dog pixels"}},
			{"add_dir(images, a/b/)", func(a *repo.Artifact) error { return a.AddDir(p("images"), "a/b/") },
				files{"a/b/cat.png": "cat pixels", "a/b/dog.png": "dog pixels"}},
			{"add_dir(proj)", func(a *repo.Artifact) error { return a.AddDir(proj, "") },
				files{"images/cat.png": "cat pixels", "images/dog.png": "dog pixels",
					"checkpoints/model.h5": "checkpoint weights", "model.h5": "final weights"}},
			{"new_file(hello.txt)", func(a *repo.Artifact) error {
				w, err := a.NewFile(ctx, "hello.txt")
				if err != nil {
					return err
				}
				if _, err := io.WriteString(w, "hello, "); err != nil {
					return err
				}
				if _, err := io.WriteString(w, "world"); err != nil {
					return err
				}
				return w.Close()
			}, files{"hello.txt": "hello, world"}},
		}
		for i, tc := range tests {
			a := r.NewArtifact(fmt.Sprintf("n%d", i), "dataset")
			if err := tc.add(a); err != nil {
				t.Fatalf("%s: %v", tc.call, err)
			}
			v, created, err := r.Log(ctx, a, nil)
			if err != nil || !created {
				t.Fatalf("%s: Log = %v, %v", tc.call, created, err)
			}
			if got, want := manifestPaths(t, v), sortedKeys(tc.want); !slices.Equal(got, want) {
				t.Errorf("%s: paths %q, want %q", tc.call, got, want)
			}
			for path, content := range tc.want {
				e := entry(t, v, path)
				if e.Digest != hashOf(content) || e.Size != int64(len(content)) {
					t.Errorf("%s: %s has digest %s size %d, want the content %q", tc.call, path, e.Digest.Short(), e.Size, content)
				}
			}
			dst := filepath.Join(root, "out", a.Name)
			if _, err := v.Download(ctx, dst, nil); err != nil {
				t.Fatalf("%s: Download: %v", tc.call, err)
			}
			equalFiles(t, fileSnapshot(t, fsys, dst), tc.want)
		}
	})
}

func TestAddReference(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		local := filepath.Join(root, "data", "x.bin")
		writeFile(t, fsys, local, "referenced bytes", 0o644)
		a := r.NewArtifact("refs", "dataset")
		if err := a.AddReference(ctx, "file://"+filepath.ToSlash(local), ""); err != nil {
			t.Fatal(err)
		}
		if err := a.AddReference(ctx, "s3://bucket/key/data.csv", ""); err != nil {
			t.Fatal(err)
		}
		if err := a.AddReference(ctx, "s3://bucket/key/data.csv", "copies/"); err != nil {
			t.Fatal(err)
		}
		if err := a.AddReference(ctx, "s3://bucket/other", "named.csv"); err != nil {
			t.Fatal(err)
		}
		objs := countObjects(t, r)
		v, _, err := r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := manifestPaths(t, v), []string{"copies/data.csv", "data.csv", "named.csv", "x.bin"}; !slices.Equal(got, want) {
			t.Fatalf("paths %q, want %q", got, want)
		}
		x := entry(t, v, "x.bin")
		if !x.IsRef() || x.Size != 16 || x.RefDigest != "blake3:"+hashOf("referenced bytes").String() {
			t.Errorf("x.bin = %+v, want a reference of 16 bytes with the file's blake3", x)
		}
		d := entry(t, v, "data.csv")
		if !d.IsRef() || d.Ref != "s3://bucket/key/data.csv" || d.Size != -1 || d.RefDigest != "" {
			t.Errorf("data.csv = %+v, want a reference of unknown size", d)
		}
		if v.Size != 16 || v.Files != 4 {
			t.Errorf("size %d files %d, want 16 and 4", v.Size, v.Files)
		}
		// References store no content: one tree per directory and a commit.
		if got, want := countObjects(t, r)-objs, 3; got != want {
			t.Errorf("Log wrote %d objects, want %d (2 trees, 1 commit)", got, want)
		}

		// A file:// reference is checked out from its source, checked
		// against the recorded hash; remote ones are listed, not fetched.
		dst := filepath.Join(root, "out")
		res, err := v.Download(ctx, dst, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Written != 1 || res.Refs != 3 {
			t.Errorf("Download = %+v, want 1 written and 3 refs", res)
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"x.bin": "referenced bytes"})
		if _, err := v.Verify(ctx, dst); err != nil {
			t.Errorf("Verify: %v", err)
		}
		writeFile(t, fsys, local, "changed bytes!!!", 0o644)
		_, err = v.Download(ctx, filepath.Join(root, "out2"), nil)
		if err == nil || !strings.Contains(err.Error(), "changed since it was logged") {
			t.Errorf("Download of a changed reference: %v, want an error saying it changed", err)
		}
		if _, err := fsys.Stat(filepath.Join(root, "out2", "x.bin")); err == nil {
			t.Error("a changed reference was written to the checkout")
		}

		if err := a.AddReference(ctx, "no-scheme", ""); err == nil {
			t.Error("AddReference without a scheme succeeded")
		}
	})
}

func TestDuplicatePaths(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		proj := project(t, fsys, root)
		p := func(s string) string { return filepath.Join(proj, filepath.FromSlash(s)) }

		a := r.NewArtifact("dup", "dataset")
		if err := a.AddFile(p("model.h5"), ""); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "same basename twice", a.AddFile(p("checkpoints/model.h5"), ""), repo.ErrDuplicatePath)
		wantErr(t, "same path by name", a.AddFile(p("images/cat.png"), "model.h5"), repo.ErrDuplicatePath)
		wantErr(t, "file below a file", a.AddFile(p("images/cat.png"), "model.h5/cat.png"), repo.ErrDuplicatePath)
		wantErr(t, "reference over a file", a.AddReference(ctx, "s3://b/model.h5", ""), repo.ErrDuplicatePath)
		w, err := a.NewFile(ctx, "model.h5")
		if err == nil {
			w.Close()
		}
		wantErr(t, "new file over a file", err, repo.ErrDuplicatePath)

		if err := a.AddFile(p("images/cat.png"), "a/b"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "file where a directory is", a.AddFile(p("images/dog.png"), "a"), repo.ErrDuplicatePath)
		wantErr(t, "dir over dir", a.AddDir(p("images"), "a/b"), repo.ErrDuplicatePath)
		w, err = a.NewFile(ctx, "a")
		if err == nil {
			err = w.Close()
		}
		wantErr(t, "new file where a directory is", err, repo.ErrDuplicatePath)

		// Names that differ only in case would be one file on a
		// case-insensitive file system.
		wantErr(t, "case of a file", a.AddFile(p("images/dog.png"), "Model.H5"), repo.ErrDuplicatePath)
		wantErr(t, "case of a directory", a.AddFile(p("images/dog.png"), "A/c"), repo.ErrDuplicatePath)
		wantErr(t, "case of a file as a directory", a.AddFile(p("images/dog.png"), "MODEL.h5/x"), repo.ErrDuplicatePath)

		// A failed AddDir adds none of its files.
		b := r.NewArtifact("dup2", "dataset")
		if err := b.AddFile(p("images/dog.png"), ""); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "add_dir over a file", b.AddDir(p("images"), ""), repo.ErrDuplicatePath)
		v, _, err := r.Log(ctx, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := manifestPaths(t, v); !slices.Equal(got, []string{"dog.png"}) {
			t.Errorf("after a failed AddDir the artifact holds %q, want only dog.png", got)
		}
		// ... and leaves no trace: its paths can still be added.
		if err := b.AddFile(p("images/cat.png"), "Cat.png"); err != nil {
			t.Errorf("adding a path a failed AddDir had tried: %v", err)
		}

		// What was logged for "dup" is what was accepted.
		v, _, err = r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := manifestPaths(t, v), []string{"a/b", "model.h5"}; !slices.Equal(got, want) {
			t.Errorf("paths %q, want %q", got, want)
		}
		if e := entry(t, v, "model.h5"); e.Digest != hashOf("final weights") {
			t.Error("a refused source replaced model.h5")
		}
	})
}

func TestInvalidPaths(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		proj := project(t, fsys, root)
		file, dir := filepath.Join(proj, "model.h5"), filepath.Join(proj, "images")
		a := r.NewArtifact("bad", "dataset")
		for _, name := range []string{"../x", "a/../../x", "..", "/abs", "/", ".art/x", "x/.ART/y", "a\\b", "nul\x00", "trailing."} {
			wantErr(t, "AddFile "+name, a.AddFile(file, name), objects.ErrInvalidPath)
			wantErr(t, "AddDir "+name, a.AddDir(dir, name), objects.ErrInvalidPath)
			wantErr(t, "AddReference "+name, a.AddReference(ctx, "s3://b/k", name), objects.ErrInvalidPath)
			w, err := a.NewFile(ctx, name)
			if err == nil {
				w.Close()
			}
			wantErr(t, "NewFile "+name, err, objects.ErrInvalidPath)
		}
		// A directory holding a name no tree may hold is refused too.
		writeFile(t, fsys, filepath.Join(root, "withrepo", ".art", "config"), "{}", 0o644)
		addDirRefused(t, r, "withrepo", filepath.Join(root, "withrepo"), objects.ErrInvalidPath)
		if err := a.AddFile(dir, ""); err == nil {
			t.Error("AddFile of a directory succeeded")
		}
		if err := a.AddDir(file, ""); err == nil {
			t.Error("AddDir of a file succeeded")
		}
		if err := a.AddFile(filepath.Join(proj, "missing"), ""); err == nil {
			t.Error("AddFile of a missing file succeeded")
		}
		// Nothing was accepted.
		objs := countObjects(t, r)
		v, _, err := r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Files != 0 || len(manifestPaths(t, v)) != 0 {
			t.Errorf("artifact holds %q after only refused adds", manifestPaths(t, v))
		}
		if got := countObjects(t, r) - objs; got != 2 {
			t.Errorf("logging an empty artifact wrote %d objects, want 2 (empty tree, commit)", got)
		}
	})
}

func TestNewFileOpenWriterRefusesLog(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		a := r.NewArtifact("nf", "dataset")
		w, err := a.NewFile(ctx, "dir/hello.txt")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, "hello"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Log(ctx, a, nil); err == nil || !strings.Contains(err.Error(), "still open") {
			t.Fatalf("Log with an open writer: %v, want a refusal", err)
		}
		if _, err := r.Resolve(ctx, "nf"); err == nil {
			t.Fatal("a version was recorded while a writer was open")
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		v, created, err := r.Log(ctx, a, nil)
		if err != nil || !created {
			t.Fatalf("Log after Close = %v, %v", created, err)
		}
		if e := entry(t, v, "dir/hello.txt"); e.Digest != hashOf("hello") || e.Size != 5 || e.Exec {
			t.Errorf("dir/hello.txt = %+v, want the 5 bytes written", e)
		}
	})
}
