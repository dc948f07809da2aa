package objects_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

func TestReadInto(t *testing.T) {
	data := bytes.Repeat([]byte("ReadInto "), 600) // 5,400 bytes
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		id := putBytes(t, s, data)
		size := int64(len(data))
		// A buffer large enough is used; a small one is replaced.
		big := make([]byte, 64<<10)
		got, err := s.ReadInto(ctx, id, size, big)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadInto = %d bytes, %v; want the content", len(got), err)
		}
		if &got[0] != &big[0] {
			t.Error("ReadInto did not read into the buffer it was given")
		}
		if got, err := s.ReadInto(ctx, id, size, make([]byte, 10)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadInto with a small buffer = %d bytes, %v", len(got), err)
		}
		// A size that is not the content's is refused.
		for _, n := range []int64{size - 1, size + 1, -1} {
			if _, err := s.ReadInto(ctx, id, n, big); !errors.Is(err, objects.ErrCorrupt) {
				t.Errorf("ReadInto with size %d: err = %v, want ErrCorrupt", n, err)
			}
		}
		missing := objects.Hash([]byte("not stored"))
		if _, err := s.ReadInto(ctx, missing, 10, big); !errors.Is(err, objects.ErrNotFound) {
			t.Errorf("ReadInto of a missing object: err = %v, want ErrNotFound", err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.ReadInto(cancelled, id, size, big); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadInto cancelled: err = %v", err)
		}
		// Damage is found; bytes past the content are not read, as
		// what is returned is still exactly id's content.
		for _, tt := range []struct {
			name string
			f    func([]byte) []byte
			ok   bool
		}{
			{"bit flip", func(b []byte) []byte { b[len(b)/2] ^= 4; return b }, false},
			{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, false},
			{"extended", func(b []byte) []byte { return append(b, '!') }, true},
		} {
			id := putBytes(t, s, append([]byte(tt.name), data...))
			damage(t, s, id, tt.f)
			got, err := s.ReadInto(ctx, id, size+int64(len(tt.name)), big)
			if tt.ok {
				if err != nil || !bytes.Equal(got, append([]byte(tt.name), data...)) {
					t.Errorf("%s: ReadInto = %q, %v; want the content", tt.name, got, err)
				}
			} else {
				assertCorrupt(t, err, id)
			}
		}
	})
}

func TestReadIntoPacked(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		contents := [][]byte{[]byte("packed one"), []byte("packed two, longer")}
		ids := packObjects(t, s, contents)
		for i, id := range ids {
			got, err := s.ReadInto(ctx, id, int64(len(contents[i])), nil)
			if err != nil || !bytes.Equal(got, contents[i]) {
				t.Errorf("ReadInto(packed %d) = %q, %v", i, got, err)
			}
			if _, err := s.ReadInto(ctx, id, int64(len(contents[i]))+1, nil); !errors.Is(err, objects.ErrCorrupt) {
				t.Errorf("ReadInto(packed %d) with a wrong size: err = %v, want ErrCorrupt", i, err)
			}
		}
		damage(t, s, ids[1], func(b []byte) []byte { b[0] ^= 1; return b })
		_, err := s.ReadInto(ctx, ids[1], int64(len(contents[1])), nil)
		assertCorrupt(t, err, ids[1])
	})
}

func TestWriteNewFile(t *testing.T) {
	for _, k := range fsKinds {
		t.Run(k.name, func(t *testing.T) {
			fsys, dir := k.newFs(t)
			if err := fsys.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(dir, "new")
			fi, err := objects.WriteNewFile(fsys, name, []byte("hello"), 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != 5 || !fi.Mode().IsRegular() || fi.Name() != "new" {
				t.Errorf("FileInfo: size %d, mode %v, name %q", fi.Size(), fi.Mode(), fi.Name())
			}
			st, err := fsys.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if !st.ModTime().Equal(fi.ModTime()) || st.Mode() != fi.Mode() {
				t.Errorf("FileInfo says %v %v, Stat says %v %v", fi.ModTime(), fi.Mode(), st.ModTime(), st.Mode())
			}
			if b, _ := afero.ReadFile(fsys, name); string(b) != "hello" {
				t.Errorf("content %q", b)
			}
			// Never over an existing file.
			if _, err := objects.WriteNewFile(fsys, name, []byte("other"), 0o644); !errors.Is(err, fs.ErrExist) {
				t.Errorf("over an existing file: err = %v, want ErrExist", err)
			}
			if b, _ := afero.ReadFile(fsys, name); string(b) != "hello" {
				t.Errorf("content after the refusal %q", b)
			}
			if _, ok := fsys.(*afero.OsFs); !ok {
				return // MemMapFs makes files in missing directories
			}
			if _, err := objects.WriteNewFile(fsys, filepath.Join(dir, "missing", "x"), nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("in a missing directory: err = %v, want ErrNotExist", err)
			}
			// Never through a symbolic link, even a dangling one.
			target := filepath.Join(dir, "target")
			link := filepath.Join(dir, "link")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			if _, err := objects.WriteNewFile(fsys, link, []byte("x"), 0o644); !errors.Is(err, fs.ErrExist) {
				t.Errorf("at a symbolic link: err = %v, want ErrExist", err)
			}
			if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the link's target was created: %v", err)
			}
		})
	}
}
