package faulttest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/faulttest"
	"github.com/artvcs/art/objects/objectstest"
)

var (
	_ objects.AnonymousCreator = (*faulttest.Fs)(nil)
	_ objects.FSSyncer         = (*faulttest.Fs)(nil)
)

// forEachBase runs fn on a wrapper over an in-memory file system and over
// the OS one (under t.TempDir()), with dir an existing, durable directory.
func forEachBase(t *testing.T, fn func(t *testing.T, f *faulttest.Fs, dir string)) {
	t.Run("mem", func(t *testing.T) {
		base := afero.NewMemMapFs()
		if err := base.MkdirAll("/d", 0o755); err != nil {
			t.Fatal(err)
		}
		fn(t, faulttest.New(base), "/d")
	})
	t.Run("os", func(t *testing.T) {
		fn(t, faulttest.New(afero.NewOsFs()), t.TempDir())
	})
}

func write(t *testing.T, fsys afero.Fs, name, content string, sync bool) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, fsys afero.Fs, dir string) {
	t.Helper()
	if err := objects.SyncDir(fsys, dir); err != nil {
		t.Fatalf("SyncDir(%s): %v", dir, err)
	}
}

// content returns the file's content, or "<missing>".
func content(t *testing.T, fsys afero.Fs, name string) string {
	t.Helper()
	b, err := afero.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func crash(t *testing.T, f *faulttest.Fs) {
	t.Helper()
	if err := f.Crash(); err != nil {
		t.Fatalf("Crash: %v", err)
	}
}

func TestFaultFsCounts(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		sub := filepath.Join(dir, "x", "y")
		write(t, f, a, "hello", true)                  // create, write, sync
		write(t, f, a, "again", false)                 // openwrite, write
		if err := f.MkdirAll(sub, 0o755); err != nil { // mkdir
			t.Fatal(err)
		}
		if err := f.Mkdir(filepath.Join(dir, "z"), 0o755); err != nil { // mkdir
			t.Fatal(err)
		}
		if err := f.Rename(a, b); err != nil { // rename
			t.Fatal(err)
		}
		if err := f.Chtimes(b, time0, time0); err != nil { // chtimes
			t.Fatal(err)
		}
		if err := f.Chmod(b, 0o444); err != nil { // chmod
			t.Fatal(err)
		}
		if _, err := f.Stat(b); err != nil { // stat
			t.Fatal(err)
		}
		if got := content(t, f, b); got != "again" { // open, read (x2: data, EOF), stat (ReadFile sizes its buffer)
			t.Fatalf("b = %q", got)
		}
		if err := f.Remove(b); err != nil { // remove
			t.Fatal(err)
		}
		if err := f.RemoveAll(filepath.Join(dir, "x")); err != nil { // remove
			t.Fatal(err)
		}
		want := map[faulttest.Op]int64{
			faulttest.OpCreate: 1, faulttest.OpWrite: 2, faulttest.OpSync: 1, faulttest.OpOpenWrite: 1,
			faulttest.OpMkdir: 2, faulttest.OpRename: 1, faulttest.OpChtimes: 1, faulttest.OpChmod: 1,
			faulttest.OpRemove: 2, faulttest.OpOpen: 1,
		}
		got := f.Counts()
		for _, op := range faulttest.Ops() {
			if op == faulttest.OpRead || op == faulttest.OpStat {
				if got[op] < 1 {
					t.Errorf("%v: %d, want at least 1", op, got[op])
				}
				continue
			}
			if got[op] != want[op] {
				t.Errorf("%v: %d, want %d", op, got[op], want[op])
			}
		}
		if got, want := f.Mutations(), int64(12); got != want {
			t.Errorf("Mutations() = %d, want %d", got, want)
		}
		f.Reset()
		if n := f.Count(faulttest.OpWrite); n != 0 {
			t.Errorf("after Reset, %d writes", n)
		}
	})
}

// TestFaults fails the first operation of every mutating kind once, with
// EIO or ENOSPC, and checks that the error surfaces, wraps the errno, and
// that the operation changed nothing (a write: half its bytes).
func TestFaultFsFaults(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		write(t, f, a, "0123456789", true)
		f.Reset()
		for _, errno := range []error{syscall.EIO, syscall.ENOSPC} {
			f.Reset()
			for _, op := range faulttest.Ops() {
				f.FailNth(op, 1, errno)
			}
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, errno) {
					t.Errorf("%s: err = %v, want %v", what, err, errno)
				}
				var pe *os.PathError
				if !errors.As(err, &pe) {
					t.Errorf("%s: err %T is not an *os.PathError", what, err)
				}
			}
			_, err := f.OpenFile(b, os.O_WRONLY|os.O_CREATE, 0o644)
			check("create", err)
			if _, err := f.Base().Stat(b); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("failed create made %s", b)
			}
			_, err = f.OpenFile(a, os.O_WRONLY|os.O_TRUNC, 0o644)
			check("openwrite", err)
			if got := content(t, f.Base(), a); got != "0123456789" {
				t.Errorf("failed open truncated the file: %q", got)
			}
			_, err = f.Open(a)
			check("open", err)
			_, err = f.Stat(a)
			check("stat", err)
			h, err := f.OpenFile(a, os.O_RDWR|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			n, err := h.Write([]byte("abcd"))
			check("write", err)
			if n != 2 {
				t.Errorf("failed write wrote %d bytes, want half: 2", n)
			}
			check("sync", h.Sync())
			buf := make([]byte, 4)
			_, err = h.ReadAt(buf, 0)
			check("read", err)
			h.Close()
			if got := content(t, f.Base(), a); got != "0123456789ab" {
				t.Errorf("after a failed write: %q", got)
			}
			check("rename", f.Rename(a, b))
			check("remove", f.Remove(a))
			check("mkdir", f.MkdirAll(filepath.Join(dir, "m", "n"), 0o755))
			check("chtimes", f.Chtimes(a, time0, time0))
			check("chmod", f.Chmod(a, 0o600))
			if _, err := f.Base().Stat(filepath.Join(dir, "m")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("failed mkdir made a directory")
			}
			if got := content(t, f.Base(), a); got != "0123456789ab" {
				t.Errorf("failed rename or remove changed a: %q", got)
			}
			// Each fault fired once: the second operation succeeds.
			if err := f.Chmod(a, 0o644); err != nil {
				t.Errorf("second chmod: %v", err)
			}
			if got, want := len(f.Events()), 12; got != want {
				t.Errorf("%d events, want %d: %v", got, want, f.Events())
			}
			write(t, f, a, "0123456789", true)
		}
		// FailFrom: every sync from the second on.
		f.Reset()
		f.FailFrom(faulttest.OpSync, 2, nil)
		h, err := f.Create(b)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		var errs []bool
		for range 4 {
			errs = append(errs, h.Sync() != nil)
		}
		if want := []bool{false, true, true, true}; !slices.Equal(errs, want) {
			t.Errorf("sync failures %v, want %v", errs, want)
		}
		if err := h.Sync(); !errors.Is(err, syscall.EIO) {
			t.Errorf("default error %v, want EIO", err)
		}
		f.ClearFaults()
		if err := h.Sync(); err != nil {
			t.Errorf("after ClearFaults: %v", err)
		}
	})
}

var time0 = time.Unix(1e9, 0)

// TestCrashModel checks each rule of the crash model.
func TestFaultFsCrashModel(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		p := func(name string) string { return filepath.Join(dir, name) }
		// Synced content in a synced directory survives; unsynced
		// content in a durable name comes back empty.
		write(t, f, p("synced"), "kept", true)
		write(t, f, p("unsynced"), "lost", false)
		syncDir(t, f, dir)
		// A synced file whose directory was not synced vanishes.
		write(t, f, p("nodir"), "gone", true)
		crash(t, f)
		for name, want := range map[string]string{"synced": "kept", "unsynced": "", "nodir": "<missing>"} {
			if got := content(t, f, p(name)); got != want {
				t.Errorf("after crash, %s = %q, want %q", name, got, want)
			}
		}

		// A rename into place: durable only once the directory is synced.
		write(t, f, p("tmp1"), "one", true)
		if err := f.Rename(p("tmp1"), p("final1")); err != nil {
			t.Fatal(err)
		}
		write(t, f, p("tmp2"), "two", true)
		if err := f.Rename(p("tmp2"), p("final2")); err != nil {
			t.Fatal(err)
		}
		syncDir(t, f, dir)
		write(t, f, p("tmp3"), "three", true)
		if err := f.Rename(p("tmp3"), p("final2")); err != nil { // over final2, dir not synced
			t.Fatal(err)
		}
		crash(t, f)
		for name, want := range map[string]string{"final1": "one", "final2": "two", "tmp1": "<missing>", "tmp3": "<missing>"} {
			if got := content(t, f, p(name)); got != want {
				t.Errorf("after crash, %s = %q, want %q", name, got, want)
			}
		}

		// Removals come back unless the directory was synced;
		// overwritten durable content comes back unless synced.
		if err := f.Remove(p("final1")); err != nil {
			t.Fatal(err)
		}
		write(t, f, p("synced"), "overwritten", false)
		crash(t, f)
		if got := content(t, f, p("final1")); got != "one" {
			t.Errorf("removed without a dir sync: %q, want it back", got)
		}
		if got := content(t, f, p("synced")); got != "kept" {
			t.Errorf("overwritten without sync: %q, want the old content", got)
		}
		if err := f.Remove(p("final1")); err != nil {
			t.Fatal(err)
		}
		syncDir(t, f, dir)
		crash(t, f)
		if got := content(t, f, p("final1")); got != "<missing>" {
			t.Errorf("removed and dir synced: %q, want missing", got)
		}

		// A new directory vanishes with what is in it unless its parent
		// is synced; RemoveAll is undone likewise.
		if err := f.MkdirAll(p("a/b"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, f, p("a/b/f"), "deep", true)
		syncDir(t, f, p("a/b"))
		syncDir(t, f, p("a"))
		crash(t, f)
		if _, err := f.Stat(p("a")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("directory made without syncing its parent survived: %v", err)
		}
		if err := f.MkdirAll(p("a/b"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, f, p("a/b/f"), "deep", true)
		for _, d := range []string{p("a/b"), p("a"), dir} {
			syncDir(t, f, d)
		}
		if err := f.RemoveAll(p("a")); err != nil {
			t.Fatal(err)
		}
		crash(t, f)
		if got := content(t, f, p("a/b/f")); got != "deep" {
			t.Errorf("RemoveAll without a dir sync: %q, want it back", got)
		}

		// A failed sync poisons the file: a later successful sync does
		// not make the data durable.
		h, err := f.OpenFile(p("poison"), os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		syncDir(t, f, dir)
		if _, err := h.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		f.Reset()
		f.FailNth(faulttest.OpSync, 1, nil)
		if err := h.Sync(); err == nil {
			t.Fatal("injected sync fault did not fire")
		}
		if err := h.Sync(); err != nil {
			t.Fatalf("second sync: %v", err)
		}
		h.Close()
		crash(t, f)
		if got := content(t, f, p("poison")); got != "" {
			t.Errorf("after a failed sync and a retry, a crash kept %q; want the data lost", got)
		}
	})
}

func TestFaultFsCrashAfter(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		a := filepath.Join(dir, "a")
		f.CrashAfter(0) // at once
		if _, err := f.Create(a); !errors.Is(err, faulttest.ErrCrashed) {
			t.Fatalf("CrashAfter(0): %v, want ErrCrashed", err)
		}
		f.Revive()
		h, err := f.Create(a) // mutation 1
		if err != nil {
			t.Fatal(err)
		}
		f.CrashAfter(2)
		if _, err := h.Write([]byte("x")); err != nil { // 2
			t.Fatal(err)
		}
		if err := h.Sync(); err != nil { // 3
			t.Fatal(err)
		}
		if f.Crashed() {
			t.Fatal("crashed too early")
		}
		if _, err := h.Write([]byte("y")); !errors.Is(err, faulttest.ErrCrashed) {
			t.Fatalf("write after the crash point: %v, want ErrCrashed", err)
		}
		if _, err := f.Stat(a); !errors.Is(err, faulttest.ErrCrashed) {
			t.Fatalf("stat after the crash point: %v, want ErrCrashed", err)
		}
		if !f.Crashed() {
			t.Fatal("Crashed() = false")
		}
		// Revive: like a killed process, nothing is lost.
		f.Revive()
		if _, err := h.Write([]byte("z")); !errors.Is(err, faulttest.ErrCrashed) {
			t.Fatalf("old handle after Revive: %v, want ErrCrashed", err)
		}
		h.Close()
		if got := content(t, f, a); got != "x" {
			t.Fatalf("after Revive: %q", got)
		}
		// Its name was never made durable: a power loss now drops it.
		if u := f.Unsynced(); !slices.Contains(u, a) {
			t.Fatalf("Unsynced() = %v, want %s in it", u, a)
		}
		crash(t, f)
		if got := content(t, f, a); got != "<missing>" {
			t.Fatalf("after Crash: %q, want missing", got)
		}
		if u := f.Unsynced(); len(u) != 0 {
			t.Fatalf("after Crash, Unsynced() = %v", u)
		}
	})
}

func TestFaultFsUnsyncedAndClosed(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		var reported []string
		var mu sync.Mutex
		f.OnUnsyncedClose = func(name string) {
			mu.Lock()
			reported = append(reported, name)
			mu.Unlock()
		}
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		write(t, f, a, "synced", true)
		h, err := f.OpenFile(b, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Write([]byte("not synced")); err != nil {
			t.Fatal(err)
		}
		h.Close()
		h.Close() // closing twice reports nothing more
		if got, want := f.ClosedUnsynced(), []string{b}; !slices.Equal(got, want) {
			t.Errorf("ClosedUnsynced() = %v, want %v", got, want)
		}
		if !slices.Equal(reported, []string{b}) {
			t.Errorf("OnUnsyncedClose got %v, want %v", reported, []string{b})
		}
		if got, want := f.Unsynced(), []string{a, b}; !slices.Equal(got, want) {
			t.Errorf("Unsynced() = %v, want %v (names not durable)", got, want)
		}
		syncDir(t, f, dir)
		if got, want := f.Unsynced(), []string{b}; !slices.Equal(got, want) {
			t.Errorf("after the dir sync, Unsynced() = %v, want %v", got, want)
		}
		// A temp file created and renamed away leaves nothing to lose.
		tmp := filepath.Join(dir, "tmp")
		write(t, f, tmp, "x", true)
		if err := f.Rename(tmp, b); err != nil {
			t.Fatal(err)
		}
		if got, want := f.Unsynced(), []string{b}; !slices.Equal(got, want) {
			t.Errorf("after a rename, Unsynced() = %v, want %v", got, want)
		}
		f.Settle()
		if got := f.Unsynced(); len(got) != 0 {
			t.Errorf("after Settle, Unsynced() = %v", got)
		}
	})
}

// TestStoreConformance runs the object store suite through the wrapper,
// which must be invisible when no fault is set.
func TestWrapperStoreConformance(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		i := 0
		objectstest.Run(t, func(t *testing.T) objects.Store {
			i++
			s, err := objects.NewFSStore(f, filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

// TestStoreDurability checks FSStore's promise through the crash model:
// an object Put returned is durable; a Batch's objects are durable once
// Sync returns, and a crash before may lose them but never leaves one
// that reads back wrong.
// It runs on the path of the OS file system (anonymous files, SyncFS)
// and, with Portable, on the portable one (temp files, a sync per file).
func TestFaultFsStoreDurability(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		t.Run("capabilities", func(t *testing.T) { storeDurability(t, f, filepath.Join(dir, "cap"), false) })
		t.Run("portable", func(t *testing.T) { storeDurability(t, f, filepath.Join(dir, "portable"), true) })
	})
}

func storeDurability(t *testing.T, f *faulttest.Fs, dir string, portable bool) {
	f.Portable = portable
	ctx := context.Background()
	if err := f.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := objects.NewFSStore(f, filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	syncDir(t, f, dir)
	f.Settle()
	var closed []string
	f.OnUnsyncedClose = func(name string) { closed = append(closed, name) }
	id, err := objects.PutBytes(ctx, s, []byte("durable"))
	if err != nil {
		t.Fatal(err)
	}
	if len(closed) != 0 {
		t.Errorf("Put closed files with unsynced writes: %v", closed)
	}
	for _, p := range f.Unsynced() {
		if p == s.Path(id) || p == filepath.Dir(s.Path(id)) {
			t.Errorf("after Put, %s is not durable", p)
		}
	}
	b := s.NewBatch()
	var ids []objects.ID
	for i := range 5 {
		id, err := b.PutBytes(ctx, []byte(fmt.Sprint("batched ", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	crash(t, f)
	if err := readBack(ctx, s, id); err != nil {
		t.Fatalf("object Put returned lost in a crash: %v", err)
	}
	for _, id := range ids {
		if err := readBack(ctx, s, id); err != nil && !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("unsynced batch object %s: %v, want intact or not found", id.Short(), err)
		}
	}
	b = s.NewBatch()
	ids = ids[:0]
	for i := range 5 {
		id, err := b.PutBytes(ctx, []byte(fmt.Sprint("batched again ", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	crash(t, f)
	for _, id := range ids {
		if err := readBack(ctx, s, id); err != nil {
			t.Fatalf("synced batch object lost: %v", err)
		}
	}

	// A batch above 64 objects syncs with one SyncFS where it can.
	b = s.NewBatch()
	ids = ids[:0]
	for i := range 70 {
		id, err := b.PutBytes(ctx, []byte(fmt.Sprint("many ", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	f.Reset()
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(faulttest.OpSync); portable && n < 70 || !portable && n != 1 {
		t.Errorf("Batch.Sync of 70 objects made %d syncs (portable: %v)", n, portable)
	}
	crash(t, f)
	for _, id := range ids {
		if err := readBack(ctx, s, id); err != nil {
			t.Fatalf("object of a synced large batch lost: %v", err)
		}
	}
}

// TestConcurrent runs writers on many goroutines (for -race).
func TestFaultFsConcurrent(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				name := filepath.Join(dir, fmt.Sprint("f", i))
				for j := range 20 {
					h, err := f.Create(name)
					if err != nil {
						t.Error(err)
						return
					}
					fmt.Fprint(h, j)
					h.Sync()
					h.Close()
					io.Copy(io.Discard, bytes.NewReader(nil))
				}
			})
		}
		wg.Wait()
		crash(t, f)
		if got := f.Count(faulttest.OpWrite); got != 160 {
			t.Fatalf("%d writes, want 160", got)
		}
	})
}

// readBack reads the object id through the store, which verifies it.
func readBack(ctx context.Context, s *objects.FSStore, id objects.ID) error {
	_, err := objects.ReadAll(ctx, s, id, 1<<20)
	return err
}

// anon creates an anonymous file in dir holding content, synced or not.
func anon(t *testing.T, f *faulttest.Fs, dir, content string, sync bool) afero.File {
	t.Helper()
	h, err := f.CreateAnonymous(dir, 0o444)
	if err != nil {
		t.Fatalf("CreateAnonymous: %v", err)
	}
	if _, err := h.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := h.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// names lists dir through fsys.
func names(t *testing.T, fsys afero.Fs, dir string) []string {
	t.Helper()
	d, err := fsys.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ns, err := d.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ns)
	return ns
}

// TestFaultFsAnonymous checks the crash model of anonymous files: no name
// until linked, gone when closed unlinked or at a crash; a link is a new
// entry of its directory, its content what the last Sync held.
func TestFaultFsAnonymous(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		p := func(name string) string { return filepath.Join(dir, name) }
		// Unlinked: never listed; closed, gone from the base too.
		h := anon(t, f, dir, "nobody", true)
		if got := names(t, f, dir); len(got) != 0 {
			t.Errorf("an anonymous file is listed: %v", got)
		}
		if got := len(names(t, f.Base(), dir)); got != 1 {
			t.Errorf("base holds %d entries, want the hidden one", got)
		}
		if got := f.Unsynced(); len(got) != 0 {
			t.Errorf("Unsynced() = %v with only an anonymous file", got)
		}
		h.Close()
		if got := names(t, f.Base(), dir); len(got) != 0 {
			t.Errorf("closed unlinked, yet the base holds %v", got)
		}

		// Linked: a new name, lost unless the directory is synced; its
		// content is what it held at its last Sync.
		for _, c := range []struct {
			name          string
			sync, syncDir bool
			want          string
		}{
			{"synced", true, true, "data"},
			{"unsynced", false, true, ""},
			{"nodir", true, false, "<missing>"},
		} {
			h := anon(t, f, dir, "data", c.sync)
			if err := f.LinkAnonymous(h, p(c.name)); err != nil {
				t.Fatalf("LinkAnonymous: %v", err)
			}
			h.Close()
			if got := content(t, f, p(c.name)); got != "data" {
				t.Errorf("linked %s = %q, want data", c.name, got)
			}
			if !slices.Contains(f.Unsynced(), p(c.name)) {
				t.Errorf("Unsynced() = %v, want %s in it", f.Unsynced(), c.name)
			}
			if c.syncDir {
				syncDir(t, f, dir)
			}
			crash(t, f)
			if got := content(t, f, p(c.name)); got != c.want {
				t.Errorf("after crash, %s = %q, want %q", c.name, got, c.want)
			}
		}
		if got, want := names(t, f.Base(), dir), []string{"synced", "unsynced"}; !slices.Equal(got, want) {
			t.Errorf("after the crashes, base holds %v, want %v", got, want)
		}

		// A taken name, a missing directory, a fault: the file stays
		// anonymous and can be linked again.
		h = anon(t, f, dir, "again", true)
		if err := f.LinkAnonymous(h, p("synced")); !errors.Is(err, fs.ErrExist) {
			t.Errorf("link over an existing name: %v, want ErrExist", err)
		}
		if err := f.LinkAnonymous(h, p("none/x")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("link into a missing directory: %v, want ErrNotExist", err)
		}
		f.Reset()
		f.FailNth(faulttest.OpLink, 1, nil)
		if err := f.LinkAnonymous(h, p("again")); !errors.Is(err, syscall.EIO) {
			t.Errorf("faulted link: %v, want EIO", err)
		}
		if _, err := f.Base().Stat(p("again")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a failed link made the name")
		}
		if err := f.LinkAnonymous(h, p("again")); err != nil {
			t.Errorf("link after a fault: %v", err)
		}
		if err := f.LinkAnonymous(h, p("twice")); err == nil {
			t.Errorf("a linked file linked again")
		}
		h.Close()
		syncDir(t, f, dir)
		if got, want := f.Count(faulttest.OpLink), int64(3); got != want {
			t.Errorf("%d links counted, want %d", got, want)
		}

		// A crash or a kill takes open anonymous files with it.
		h = anon(t, f, dir, "doomed", true)
		crash(t, f)
		if err := f.LinkAnonymous(h, p("doomed")); !errors.Is(err, faulttest.ErrCrashed) {
			t.Errorf("link after a crash: %v, want ErrCrashed", err)
		}
		h = anon(t, f, dir, "doomed", true)
		f.Revive()
		if got, want := names(t, f.Base(), dir), []string{"again", "synced", "unsynced"}; !slices.Equal(got, want) {
			t.Errorf("after a crash and a kill, base holds %v, want %v", got, want)
		}
		h.Close()

		// A failed create makes nothing.
		f.Reset()
		f.FailNth(faulttest.OpCreate, 1, syscall.ENOSPC)
		if _, err := f.CreateAnonymous(dir, 0o644); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("faulted CreateAnonymous: %v, want ENOSPC", err)
		}
		if _, err := f.CreateAnonymous(p("none"), 0o644); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CreateAnonymous in a missing directory: %v, want ErrNotExist", err)
		}
		if got := len(names(t, f.Base(), dir)); got != 3 {
			t.Errorf("failed creates left %d entries, want 3", got)
		}

		f.Portable = true
		if _, err := f.CreateAnonymous(dir, 0o644); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Portable: CreateAnonymous: %v, want ErrUnsupported", err)
		}
		if err := f.SyncFS(dir); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Portable: SyncFS: %v, want ErrUnsupported", err)
		}
	})
}

// TestFaultFsSyncFS checks that SyncFS makes every file and name durable,
// and that a failed one poisons what it did not write.
func TestFaultFsSyncFS(t *testing.T) {
	forEachBase(t, func(t *testing.T, f *faulttest.Fs, dir string) {
		p := func(name string) string { return filepath.Join(dir, name) }
		write(t, f, p("a"), "a0", true)
		syncDir(t, f, dir)
		write(t, f, p("a"), "a1", false)
		if err := f.Mkdir(p("sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, f, p("sub/b"), "b", false)
		h := anon(t, f, dir, "c", false)
		if err := f.LinkAnonymous(h, p("sub/c")); err != nil {
			t.Fatal(err)
		}
		h.Close()
		if err := f.SyncFS(dir); err != nil {
			t.Fatal(err)
		}
		if got := f.Unsynced(); len(got) != 0 {
			t.Errorf("after SyncFS, Unsynced() = %v", got)
		}
		crash(t, f)
		for name, want := range map[string]string{"a": "a1", "sub/b": "b", "sub/c": "c"} {
			if got := content(t, f, p(name)); got != want {
				t.Errorf("after SyncFS and a crash, %s = %q, want %q", name, got, want)
			}
		}

		// A failed SyncFS: what it did not write is lost, even after a
		// later SyncFS reports success.
		write(t, f, p("a"), "a2", false)
		f.Reset()
		f.FailNth(faulttest.OpSync, 1, nil)
		if err := f.SyncFS(dir); !errors.Is(err, syscall.EIO) {
			t.Fatalf("faulted SyncFS: %v, want EIO", err)
		}
		if err := f.SyncFS(dir); err != nil {
			t.Fatal(err)
		}
		crash(t, f)
		if got := content(t, f, p("a")); got != "a1" {
			t.Errorf("after a failed SyncFS and a crash, a = %q, want a1 (a2 lost)", got)
		}
	})
}
