package objects_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// packObjects stores the contents in packs through a batch, 8 at a time,
// and syncs it.
func packObjects(t *testing.T, s *objects.FSStore, contents [][]byte) []objects.ID {
	return packObjectsBy(t, s, contents, 8)
}

// packObjectsBy is packObjects with workers at a time (1: in order, one
// pack).
func packObjectsBy(t *testing.T, s *objects.FSStore, contents [][]byte, workers int) []objects.ID {
	t.Helper()
	ctx := context.Background()
	b := s.NewBatch()
	w := b.NewPackWriter()
	ids := make([]objects.ID, len(contents))
	var wg sync.WaitGroup
	errs := make(chan error, len(contents))
	sem := make(chan struct{}, workers)
	for i, c := range contents {
		ids[i] = objects.Hash(c)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			n, err := w.PutExpect(ctx, ids[i], bytes.NewReader(c))
			if err == nil && n != int64(len(c)) {
				err = fmt.Errorf("stored %d bytes of %d", n, len(c))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("PutExpect: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return ids
}

func packFiles(t *testing.T, s *objects.FSStore) (packs, idx int) {
	t.Helper()
	entries, err := afero.ReadDir(s.Fs(), filepath.Join(s.Dir(), "pack"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), ".pack"):
			packs++
		case strings.HasSuffix(e.Name(), ".idx"):
			idx++
		default:
			t.Errorf("stray file in the pack directory: %s", e.Name())
		}
	}
	return packs, idx
}

func manyContents(n int) [][]byte {
	cs := make([][]byte, n)
	for i := range cs {
		cs[i] = randBytes(int64(i), 100+i*37)
	}
	return cs
}

// TestPackWriterRoundTrip: objects written through a PackWriter by
// concurrent callers land in a few pack files, and every reader — this
// store, and a fresh one on the same directory — serves them verified.
func TestPackWriterRoundTrip(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		contents := manyContents(200)
		ids := packObjects(t, s, contents)
		packs, idx := packFiles(t, s)
		if packs == 0 || packs != idx || packs > 8 {
			t.Fatalf("%d packs and %d indexes for 200 objects, want a few of each", packs, idx)
		}
		other := newFSStore(t, s.Fs(), s.Dir())
		for _, st := range []*objects.FSStore{s, other} {
			listed := map[objects.ID]int{}
			if err := st.List(ctx, func(i objects.Info) error {
				listed[i.ID]++
				if !i.Packed {
					t.Errorf("%s listed as not packed", i.ID.Short())
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				got, err := objects.ReadAll(ctx, st, id, 1<<20)
				if err != nil || !bytes.Equal(got, contents[i]) {
					t.Fatalf("read %s: %v (%d bytes, want %d)", id.Short(), err, len(got), len(contents[i]))
				}
				info, err := st.Stat(ctx, id)
				if err != nil || info.Size != int64(len(contents[i])) || !info.Packed {
					t.Fatalf("Stat %s = %+v, %v", id.Short(), info, err)
				}
				if ok, err := st.Complete(ctx, id); !ok || err != nil {
					t.Fatalf("Complete %s = %v, %v", id.Short(), ok, err)
				}
				if listed[id] != 1 {
					t.Fatalf("%s listed %d times", id.Short(), listed[id])
				}
			}
		}
		// Storing a packed object again writes no loose copy.
		if _, err := s.PutBytes(ctx, contents[3]); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Put(ctx, bytes.NewReader(contents[4])); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{3, 4} {
			if _, err := s.Fs().Stat(s.Path(ids[i])); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a loose copy of packed object %d was written (%v)", i, err)
			}
		}
	})
}

// TestPackWriterRefusesWrongContent: bytes that do not hash to the
// expected ID fail with a *CorruptError and leave nothing readable.
func TestPackWriterRefusesWrongContent(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		b := s.NewBatch()
		w := b.NewPackWriter()
		want := objects.Hash([]byte("right"))
		_, err := w.PutExpect(ctx, want, strings.NewReader("wrong"))
		assertCorrupt(t, err, want)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, want); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("Stat after a refused put: %v, want ErrNotFound", err)
		}
		if packs, idx := packFiles(t, s); packs+idx != 0 {
			t.Fatalf("%d packs, %d indexes after a refused put", packs, idx)
		}
	})
}

// TestPackDamage: a flipped byte in a pack fails the read of the object it
// hits, naming it, and fsck-style listing still shows the others; a
// damaged index is reported by BadPacks and hides its objects.
func TestPackDamage(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		contents := [][]byte{[]byte("first object"), []byte("second object"), []byte("third object")}
		ids := packObjectsBy(t, s, contents, 1)
		dir := filepath.Join(s.Dir(), "pack")
		entries, _ := afero.ReadDir(s.Fs(), dir)
		var pack, idx string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".pack") {
				pack = filepath.Join(dir, e.Name())
			} else {
				idx = filepath.Join(dir, e.Name())
			}
		}
		b, err := afero.ReadFile(s.Fs(), pack)
		if err != nil {
			t.Fatal(err)
		}
		b[len(contents[0])+2] ^= 1 // in the second object
		s.Fs().Chmod(pack, 0o644)
		if err := afero.WriteFile(s.Fs(), pack, b, 0o444); err != nil {
			t.Fatal(err)
		}
		_, err = objects.ReadAll(ctx, s, ids[1], 1<<20)
		assertCorrupt(t, err, ids[1])
		for _, i := range []int{0, 2} {
			if got, err := objects.ReadAll(ctx, s, ids[i], 1<<20); err != nil || !bytes.Equal(got, contents[i]) {
				t.Fatalf("intact object %d: %v", i, err)
			}
		}
		if bad, err := s.BadPacks(); err != nil || len(bad) != 0 {
			t.Fatalf("BadPacks with an intact index = %v, %v", bad, err)
		}
		h, err := afero.ReadFile(s.Fs(), idx)
		if err != nil {
			t.Fatal(err)
		}
		h[len(h)-2] ^= 1
		s.Fs().Chmod(idx, 0o644)
		if err := afero.WriteFile(s.Fs(), idx, h, 0o444); err != nil {
			t.Fatal(err)
		}
		fresh := newFSStore(t, s.Fs(), s.Dir())
		bad, err := fresh.BadPacks()
		if err != nil || len(bad) != 1 || !errors.Is(bad[strings.TrimSuffix(filepath.Base(idx), ".idx")], objects.ErrCorrupt) {
			t.Fatalf("BadPacks with a damaged index = %v, %v", bad, err)
		}
		if info, err := fresh.Stat(ctx, ids[0]); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("Stat of an object behind a damaged index: %+v %v, want ErrNotFound", info, err)
		}
	})
}

// TestDeletePacked: deleting some packed objects rewrites their pack with
// the others; deleting the rest removes it; Delete of one object works
// the same way. A pack refreshed after the cutoff is left alone.
func TestDeletePacked(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		contents := manyContents(20)
		ids := packObjects(t, s, contents)
		// Refreshed after the cutoff: nothing goes.
		if n, err := s.DeletePacked(ctx, ids[:5], time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("DeletePacked of a fresh pack = %d, %v; want 0", n, err)
		}
		n, err := s.DeletePacked(ctx, ids[:5], time.Time{})
		if err != nil || n != 5 {
			t.Fatalf("DeletePacked = %d, %v; want 5", n, err)
		}
		if err := s.Delete(ctx, ids[5]); err != nil {
			t.Fatalf("Delete of a packed object: %v", err)
		}
		other := newFSStore(t, s.Fs(), s.Dir())
		for _, st := range []*objects.FSStore{s, other} {
			for i, id := range ids {
				got, err := objects.ReadAll(ctx, st, id, 1<<20)
				if i <= 5 {
					if !errors.Is(err, objects.ErrNotFound) {
						t.Fatalf("deleted object %d: %v, want ErrNotFound", i, err)
					}
				} else if err != nil || !bytes.Equal(got, contents[i]) {
					t.Fatalf("kept object %d: %v", i, err)
				}
			}
		}
		if err := s.Delete(ctx, ids[0]); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("Delete of a deleted object: %v, want ErrNotFound", err)
		}
		if n, err := s.DeletePacked(ctx, ids[6:], time.Time{}); err != nil || n != len(ids)-6 {
			t.Fatalf("DeletePacked of the rest = %d, %v", n, err)
		}
		if packs, idx := packFiles(t, s); packs+idx != 0 {
			t.Fatalf("%d packs, %d indexes left with no objects", packs, idx)
		}
	})
}

// TestPackedChunks: a chunked blob whose chunks are packed reads back and
// copies out (by the kernel where it can), and a damaged packed chunk is
// named.
func TestPackedChunks(t *testing.T) {
	s := newFSStore(t, afero.NewOsFs(), t.TempDir())
	s.Chunking = smallChunking()
	ctx := context.Background()
	data := randBytes(9, 64<<10)
	// Chunk it in a scratch store, then pack the chunks and copy the list.
	scratch := newFSStore(t, afero.NewOsFs(), t.TempDir())
	scratch.Chunking = smallChunking()
	id := putSized(t, scratch, data)
	l, err := scratch.ReadChunkList(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var chunks [][]byte
	var off int64
	for _, c := range l.Chunks {
		chunks = append(chunks, data[off:off+c.Size])
		off += c.Size
	}
	packObjects(t, s, chunks)
	b := s.NewBatch()
	if err := b.PutChunkList(ctx, l); err != nil {
		t.Fatalf("PutChunkList over packed chunks: %v", err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := readErr(s, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, ok, err := s.CopyTo(ctx, id, f, nil); err != nil || ok && n != int64(len(data)) {
		t.Fatalf("CopyTo = %d, %v, %v", n, ok, err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("CopyTo wrote other bytes")
	}
	// Damage the third chunk inside its pack.
	dir := filepath.Join(s.Dir(), "pack")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".pack") {
			p := filepath.Join(dir, e.Name())
			pb, _ := os.ReadFile(p)
			i := bytes.Index(pb, chunks[2])
			if i < 0 {
				continue
			}
			pb[i] ^= 1
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, pb, 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err = readErr(s, id)
	assertCorrupt(t, err, l.Chunks[2].ID)
	f2, _ := os.Create(out + "2")
	defer f2.Close()
	if _, ok, err := s.CopyTo(ctx, id, f2, nil); ok || err != nil {
		assertCorrupt(t, err, l.Chunks[2].ID)
	}
}

// TestPackVisibleToOtherStores: a store that scanned the pack directory
// before another process added a pack finds the new pack's objects.
func TestPackVisibleToOtherStores(t *testing.T) {
	dir := t.TempDir()
	a := newFSStore(t, afero.NewOsFs(), dir)
	b := newFSStore(t, afero.NewOsFs(), dir)
	ctx := context.Background()
	first := packObjects(t, a, [][]byte{[]byte("one")})
	if _, err := b.Stat(ctx, first[0]); err != nil {
		t.Fatal(err)
	}
	second := packObjects(t, a, [][]byte{[]byte("two")})
	if _, err := b.Stat(ctx, second[0]); err != nil {
		t.Fatalf("an object packed after the reader's last scan: %v", err)
	}
	// The reader's index names a pack that another store rewrote.
	if n, err := a.DeletePacked(ctx, first, time.Time{}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if _, err := b.Stat(ctx, first[0]); !errors.Is(err, objects.ErrNotFound) {
		t.Fatalf("Stat of an object deleted by another store: %v", err)
	}
	if got, err := objects.ReadAll(ctx, b, second[0], 10); err != nil || string(got) != "two" {
		t.Fatalf("read after another store rewrote packs: %q, %v", got, err)
	}
}

// TestRemoveStalePacks: a pack left without its index (a crash between
// the two) is removed once older than the cutoff, and not before.
func TestRemoveStalePacks(t *testing.T) {
	s := newFSStore(t, afero.NewOsFs(), t.TempDir())
	ids := packObjects(t, s, [][]byte{[]byte("orphan")})
	dir := filepath.Join(s.Dir(), "pack")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".idx") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	if n, err := s.RemoveStaleTemps(time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("RemoveStaleTemps removed %d young files (%v)", n, err)
	}
	if n, err := s.RemoveStaleTemps(time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("RemoveStaleTemps removed %d stale files, want the pack (%v)", n, err)
	}
	if packs, idx := packFiles(t, s); packs+idx != 0 {
		t.Fatalf("%d packs, %d indexes left", packs, idx)
	}
	if _, err := s.Stat(context.Background(), ids[0]); !errors.Is(err, objects.ErrNotFound) {
		t.Fatalf("Stat: %v", err)
	}
}

// TestListLooseAndPacked: List gives every object once, in the order of
// IDs, loose objects and packed ones merged (the pack index spilled to its
// file too), a packed object that also has a whole loose copy listed once
// as loose.
func TestListLooseAndPacked(t *testing.T) {
	defer objects.SetPackIndexSpillAt(64)()
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		contents := manyContents(300)
		ids := packObjects(t, s, contents[:200])
		// Loose copies of every fourth packed object, written as a store
		// without packs would have.
		both := map[objects.ID]bool{}
		for i := 0; i < 200; i += 4 {
			p := s.Path(ids[i])
			if err := s.Fs().MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := afero.WriteFile(s.Fs(), p, contents[i], 0o444); err != nil {
				t.Fatal(err)
			}
			both[ids[i]] = true
		}
		loose := map[objects.ID]bool{}
		for _, c := range contents[200:] {
			id, err := s.PutBytes(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			loose[id] = true
		}
		other := newFSStore(t, s.Fs(), s.Dir())
		for _, st := range []*objects.FSStore{s, other} {
			listed := map[objects.ID]int{}
			var last objects.ID
			n := 0
			if err := st.List(ctx, func(i objects.Info) error {
				if n > 0 && bytes.Compare(last[:], i.ID[:]) >= 0 {
					t.Errorf("%s listed after %s", i.ID.Short(), last.Short())
				}
				last = i.ID
				n++
				listed[i.ID]++
				if want := !both[i.ID] && !loose[i.ID]; i.Packed != want {
					t.Errorf("%s listed with Packed %v, want %v", i.ID.Short(), i.Packed, want)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(listed) != 300 || n != 300 {
				t.Errorf("listed %d objects %d times, want 300 once each", len(listed), n)
			}
			if !objects.PackIndexSpilled(objects.StorePackIndex(st)) {
				t.Error("the store's pack index did not spill: the test covers less than it says")
			}
		}
	})
}
