package repo_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo"
)

func TestLogVersions(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, clk := newRepo(t, fsys, root)
		content := files{"a.txt": "alpha", "dir/b.txt": "bravo", "dir/sub/c.txt": "charlie"}

		v0, created := logDir(t, r, "ds", content, nil)
		if !created || v0.Version.Version != 0 || v0.Name != "ds" || v0.Type != "dataset" {
			t.Fatalf("first Log = %s (%s) created=%v, want ds:v0 of type dataset, created", v0.Ref(), v0.Type, created)
		}
		if !slices.Equal(v0.Aliases, []string{"latest"}) {
			t.Errorf("v0 aliases %q, want [latest]", v0.Aliases)
		}
		if v0.Size != 5+5+7 || v0.Files != 3 {
			t.Errorf("v0 size %d files %d, want 17 and 3", v0.Size, v0.Files)
		}
		for p, c := range content {
			if e := entry(t, v0, p); e.Digest != hashOf(c) || e.Size != int64(len(c)) {
				t.Errorf("%s: digest %s size %d, want BLAKE3 of %q", p, e.Digest, e.Size, c)
			}
		}
		c0, err := v0.ReadCommit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !c0.Parent.IsZero() || c0.Tree != v0.Tree || c0.Version != 0 || c0.Name != "ds" {
			t.Errorf("v0 commit %+v does not match the version", c0)
		}
		if !c0.Created.Equal(clk.Now().UTC()) {
			t.Errorf("commit created %v, want the repository clock %v", c0.Created, clk.Now())
		}

		// The same content again, added in another order: nothing new, the
		// alias lands on v0, and no object (no commit) is written.
		before := objectIDs(t, r)
		src := filepath.Join(root, "again")
		writeFiles(t, fsys, src, content)
		a := r.NewArtifact("ds", "dataset")
		for _, p := range []string{"dir/sub/c.txt", "a.txt", "dir/b.txt"} {
			if err := a.AddFile(filepath.Join(src, filepath.FromSlash(p)), p); err != nil {
				t.Fatal(err)
			}
		}
		again, created, err := r.Log(ctx, a, &repo.LogOptions{Aliases: []string{"best"}})
		if err != nil {
			t.Fatal(err)
		}
		if created || again.Version.Version != 0 || again.Version.Commit != v0.Version.Commit || again.Tree != v0.Tree {
			t.Fatalf("Log of equal content = %s created=%v, want ds:v0 not created", again.Ref(), created)
		}
		if !slices.Equal(again.Aliases, []string{"best", "latest"}) {
			t.Errorf("aliases %q, want [best latest]", again.Aliases)
		}
		if after := objectIDs(t, r); len(after) != len(before) {
			t.Errorf("Log of equal content wrote %d object(s)", len(after)-len(before))
		}

		// Changed content: v1, whose parent is v0.
		clk.Advance(1e9)
		v1, created := logDir(t, r, "ds", files{"a.txt": "alpha2", "dir/b.txt": "bravo"}, nil)
		if !created || v1.Version.Version != 1 {
			t.Fatalf("Log of new content = %s created=%v, want ds:v1", v1.Ref(), created)
		}
		c1, err := v1.ReadCommit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c1.Parent != v0.Version.Commit {
			t.Errorf("v1 parent %s, want v0's commit %s", c1.Parent.Short(), v0.Version.Commit.Short())
		}
		if v1.Tree == v0.Tree || v1.Version.Commit == v0.Version.Commit {
			t.Error("v1 has v0's digest or ID")
		}
		// An older content again matches v0 and leaves latest on v1.
		old, created := logDir(t, r, "ds", content, nil)
		if created || old.Version.Version != 0 {
			t.Errorf("re-logging v0's content = %s created=%v, want v0 unchanged", old.Ref(), created)
		}
		if v := mustResolve(t, r, "ds:latest"); v.Version.Version != 1 {
			t.Errorf("latest is %s after re-logging v0, want v1", v.Ref())
		}
		vs, err := r.Versions(ctx, "ds")
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[0].Version.Version != 1 || vs[1].Version.Version != 0 {
			t.Errorf("Versions = %v, want v1, v0", vs)
		}
	})
}

func TestLogDigestIgnoresOrder(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		src := filepath.Join(root, "src")
		writeFiles(t, fsys, src, files{"a": "1", "b/c": "2", "b/d": "3", "e": "4"})
		order := []string{"a", "b/c", "b/d", "e"}
		var trees []objects.ID
		for i, perm := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}} {
			a := r.NewArtifact([]string{"x", "y", "z"}[i], "dataset")
			for _, j := range perm {
				if err := a.AddFile(filepath.Join(src, order[j]), order[j]); err != nil {
					t.Fatal(err)
				}
			}
			v, _, err := r.Log(ctx, a, nil)
			if err != nil {
				t.Fatal(err)
			}
			trees = append(trees, v.Tree)
		}
		if trees[0] != trees[1] || trees[0] != trees[2] {
			t.Errorf("digests differ by insertion order: %v", trees)
		}
		// A different name or an exec bit is a different digest.
		a := r.NewArtifact("w", "dataset")
		for _, p := range order {
			name := p
			if p == "e" {
				name = "f"
			}
			if err := a.AddFile(filepath.Join(src, p), name); err != nil {
				t.Fatal(err)
			}
		}
		v, _, err := r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Tree == trees[0] {
			t.Error("renaming a file kept the digest")
		}
	})
}

func TestLogMetadataAndDescription(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		a := r.NewArtifact("meta", "model")
		a.Description = "trained on \"everything\"\nsecond line"
		a.Metadata = map[string]any{"b": 1, "a": map[string]any{"y": 2.5, "x": "<&>"}, "c": []any{true, nil}}
		w, _ := a.NewFile(ctx, "w.bin")
		w.Write([]byte("weights"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		v, _, err := r.Log(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		const want = `{"a":{"x":"<&>","y":2.5},"b":1,"c":[true,null]}`
		if string(v.Metadata) != want {
			t.Errorf("metadata %s, want %s", v.Metadata, want)
		}
		if v.Description != a.Description {
			t.Errorf("description %q, want %q", v.Description, a.Description)
		}
		c, err := v.ReadCommit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(c.Metadata) != want || c.Description != a.Description || c.Type != "model" {
			t.Errorf("commit has metadata %s description %q type %q", c.Metadata, c.Description, c.Type)
		}
		// The index read back from the database agrees.
		v2 := mustResolve(t, r, "meta:v0")
		if string(v2.Metadata) != want || v2.Description != a.Description {
			t.Errorf("resolved version has metadata %s description %q", v2.Metadata, v2.Description)
		}
		// No metadata is the empty object.
		e, _ := logDir(t, r, "plain", files{"x": "x"}, nil)
		if string(e.Metadata) != "{}" {
			t.Errorf("empty metadata stored as %q, want {}", e.Metadata)
		}
	})
}

// TestLogRefusesBadInput checks that nothing at all is written for a bad
// name, type, alias or metadata, or a type mismatch.
func TestLogRefusesBadInput(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		logDir(t, r, "ds", files{"a": "a"}, nil)
		src := filepath.Join(root, "new")
		writeFile(t, fsys, filepath.Join(src, "fresh.txt"), "content never stored before", 0o644)

		tests := []struct {
			what      string
			name, typ string
			aliases   []string
			meta      map[string]any
			want      error
		}{
			{"type mismatch", "ds", "model", nil, nil, refs.ErrTypeMismatch},
			{"name with a space", "bad name", "dataset", nil, nil, refs.ErrInvalidName},
			{"name with a slash", "a/b", "dataset", nil, nil, refs.ErrInvalidName},
			{"name with ..", "a..b", "dataset", nil, nil, refs.ErrInvalidName},
			{"empty name", "", "dataset", nil, nil, refs.ErrInvalidName},
			{"bad type", "ds2", "data set", nil, nil, refs.ErrInvalidName},
			{"alias latest", "ds2", "dataset", []string{"latest"}, nil, refs.ErrReservedAlias},
			{"alias v7", "ds2", "dataset", []string{"ok", "v7"}, nil, refs.ErrReservedAlias},
			{"bad alias", "ds2", "dataset", []string{"a:b"}, nil, refs.ErrInvalidName},
			{"metadata NaN", "ds2", "dataset", nil, map[string]any{"x": math.NaN()}, nil},
		}
		for _, tc := range tests {
			before := countObjects(t, r)
			a := r.NewArtifact(tc.name, tc.typ)
			a.Metadata = tc.meta
			if err := a.AddFile(filepath.Join(src, "fresh.txt"), ""); err != nil {
				t.Fatal(err)
			}
			_, _, err := r.Log(ctx, a, &repo.LogOptions{Aliases: tc.aliases})
			if err == nil {
				t.Errorf("%s: Log succeeded", tc.what)
				continue
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.what, err, tc.want)
			}
			if after := countObjects(t, r); after != before {
				t.Errorf("%s: %d object(s) written before the refusal", tc.what, after-before)
			}
		}
		arts, err := r.Artifacts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(arts) != 1 || arts[0].Name != "ds" || arts[0].Type != "dataset" || arts[0].Versions != 1 {
			t.Errorf("Artifacts = %+v, want only ds with its one version", arts)
		}
		if _, _, err := r.Log(ctx, r.NewArtifact("x", "dataset"), nil); err != nil {
			t.Errorf("Log of an empty artifact: %v", err)
		}
	})
}

func TestLogExecBit(t *testing.T) {
	forEachFs(t, func(t *testing.T, fsys afero.Fs, root string) {
		ctx := context.Background()
		r, _ := newRepo(t, fsys, root)
		v, _ := logDir(t, r, "tools", files{"run.sh": "#!/bin/sh\necho hi\n", "data.txt": "#!/bin/sh\necho hi\n"}, nil)
		sh, txt := entry(t, v, "run.sh"), entry(t, v, "data.txt")
		if !sh.Exec || txt.Exec {
			t.Fatalf("exec bits: run.sh %v data.txt %v, want true false", sh.Exec, txt.Exec)
		}
		if sh.Digest != txt.Digest {
			t.Error("equal content stored as different blobs")
		}
		dst := filepath.Join(root, "out")
		if _, err := v.Download(ctx, dst, nil); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]os.FileMode{"run.sh": 0o755, "data.txt": 0o644} {
			fi, err := fsys.Stat(filepath.Join(dst, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s checked out with mode %v, want %v", name, got, want)
			}
		}
	})
}
