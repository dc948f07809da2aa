package repo_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
)

// TestDstackUploadDownload follows dstack's artifacts.upload and
// artifacts.download.
func TestDstackUploadDownload(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		src := filepath.Join(root, "datasets", "dataset1")
		content := files{"train.csv": "a,b\n1,2\n", "test/test.csv": "a,b\n3,4\n"}
		writeFiles(t, fsys, src, content)

		v, created, err := r.Upload(ctx, src, "data", "my_tag")
		if err != nil || !created || v.Type != repo.DefaultUploadType {
			t.Fatalf("Upload = %s (%s) created=%v, %v", v.Ref(), v.Type, created, err)
		}
		if got, want := manifestPaths(t, v), []string{"data/test/test.csv", "data/train.csv"}; !slices.Equal(got, want) {
			t.Errorf("paths %q, want %q", got, want)
		}
		if _, created, err := r.Upload(ctx, src, "data", "my_tag"); err != nil || created {
			t.Errorf("second Upload created=%v, %v; want unchanged", created, err)
		}

		dst := filepath.Join(root, "my_model")
		res, err := r.DownloadTag(ctx, "my_tag", "", dst)
		if err != nil || res.Written != 2 {
			t.Fatalf("DownloadTag = %s, %v", counts(res), err)
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"data/train.csv": content["train.csv"], "data/test/test.csv": content["test/test.csv"]})

		// One file of the tag.
		one := filepath.Join(root, "one")
		if _, err := r.DownloadTag(ctx, "my_tag", "data/train.csv", one); err != nil {
			t.Fatal(err)
		}
		equalFiles(t, fileSnapshot(t, fsys, one), files{"data/train.csv": content["train.csv"]})
		_, err = r.DownloadTag(ctx, "my_tag", "data/nope.csv", filepath.Join(root, "none"))
		wantErr(t, "DownloadTag of a missing path", err, repo.ErrNotFound)
		if _, err := r.DownloadTag(ctx, "no_tag", "", filepath.Join(root, "none")); err == nil {
			t.Error("DownloadTag of a missing tag succeeded")
		}

		// A single file, at the root and under an artifact path; a new
		// upload to a tag is a new version.
		model := filepath.Join(root, "model.bin")
		writeFile(t, fsys, model, "weights", 0o644)
		v, _, err = r.Upload(ctx, model, "", "models")
		if err != nil || !slices.Equal(manifestPaths(t, v), []string{"model.bin"}) {
			t.Fatalf("Upload of a file = %q, %v", manifestPaths(t, v), err)
		}
		v, created, err = r.Upload(ctx, model, "checkpoints/", "models")
		if err != nil || !created || v.Version.Version != 1 || !slices.Equal(manifestPaths(t, v), []string{"checkpoints/model.bin"}) {
			t.Fatalf("Upload under a path = %s %q, %v", v.Ref(), manifestPaths(t, v), err)
		}
		dst = filepath.Join(root, "models-v0")
		if _, err := r.DownloadTag(ctx, "models:v0", "", dst); err != nil {
			t.Fatal(err)
		}
		equalFiles(t, fileSnapshot(t, fsys, dst), files{"model.bin": "weights"})

		// The tag keeps the type of its first version.
		a := r.NewArtifact("typed", "model")
		if err := a.AddFile(model, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Log(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		if v, _, err := r.Upload(ctx, src, "", "typed"); err != nil || v.Type != "model" {
			t.Errorf("Upload to a typed tag = %s (%s), %v", v.Ref(), v.Type, err)
		}
		if _, _, err := r.Upload(ctx, src, "", ""); err == nil {
			t.Error("Upload without a tag succeeded")
		}
		if _, _, err := r.Upload(ctx, filepath.Join(root, "missing"), "", "x"); err == nil {
			t.Error("Upload of a missing path succeeded")
		}
	})
}

// TestT9kAndWandbAccessors covers LocalPath (T9k), File and GetPath (W&B).
func TestT9kAndWandbAccessors(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		v0, _ := twoVersions(t, r)
		dst := filepath.Join(root, "w")
		for key, want := range map[string]string{"a.txt": "a.txt", "dir/sub/c.txt": "dir/sub/c.txt", "./dir//b.txt": "dir/b.txt", "": ""} {
			got, err := v0.LocalPath(ctx, dst, key)
			if err != nil || got != filepath.Join(dst, filepath.FromSlash(want)) {
				t.Errorf("LocalPath(%q) = %q, %v; want %q", key, got, err, filepath.Join(dst, want))
			}
		}
		if got, err := v0.LocalPath(ctx, "", "a.txt"); err != nil || got != filepath.Join("ds", "a.txt") {
			t.Errorf("LocalPath with the default root = %q, %v", got, err)
		}
		for _, key := range []string{"nope", "dir", "dir/sub"} {
			_, err := v0.LocalPath(ctx, dst, key)
			wantErr(t, "LocalPath "+key, err, repo.ErrNotFound)
		}
		checkout(t, r, "ds:v0", dst, nil)
		p, _ := v0.LocalPath(ctx, dst, "dir/sub/c.txt")
		if got := readFile(t, fsys, p); got != "charlie" {
			t.Errorf("LocalPath names a file holding %q", got)
		}

		e, err := v0.GetPath(ctx, "run.sh")
		if err != nil || e.Path != "run.sh" || !e.Exec || e.Digest != hashOf("#!/bin/sh\n") || e.Size != 10 {
			t.Errorf("GetPath(run.sh) = %+v, %v", e, err)
		}
		_, err = v0.GetPath(ctx, "missing")
		wantErr(t, "GetPath missing", err, repo.ErrNotFound)
		if _, err := v0.GetPath(ctx, "../x"); err == nil || errors.Is(err, repo.ErrNotFound) {
			t.Errorf("GetPath(../x) = %v, want an invalid path", err)
		}

		// File needs a single-file version.
		if _, err := v0.File(ctx, filepath.Join(root, "f0")); err == nil {
			t.Error("File of a 4-file version succeeded")
		}
		one, _ := logDir(t, r, "single", files{"model/weights.bin": "w"}, nil)
		fdir := filepath.Join(root, "f1")
		p, err = one.File(ctx, fdir)
		if err != nil || p != filepath.Join(fdir, "model", "weights.bin") {
			t.Fatalf("File = %q, %v", p, err)
		}
		if got := readFile(t, fsys, p); got != "w" {
			t.Errorf("File wrote %q", got)
		}
	})
}
