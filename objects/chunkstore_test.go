package objects_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/chunker"
)

// smallChunking cuts content of 4 KiB and more into chunks of 64 B to
// 1 KiB, so tests get hundreds of chunks from small inputs.
func smallChunking() *objects.Chunking {
	return &objects.Chunking{Algorithm: chunker.Algorithm, MinFileSize: 4 << 10,
		Params: chunker.Params{Min: 64, Avg: 256, Max: 1024}}
}

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func putSized(tb testing.TB, s *objects.FSStore, b []byte) objects.ID {
	tb.Helper()
	id, n, err := s.PutSized(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatalf("PutSized: %v", err)
	}
	if n != int64(len(b)) {
		tb.Fatalf("PutSized stored %d bytes, want %d", n, len(b))
	}
	if want := objects.Hash(b); id != want {
		tb.Fatalf("PutSized id=%s, want the whole content's BLAKE3 %s", id, want)
	}
	return id
}

// chunkedStores runs fn on a chunking FSStore on every kind of file system.
func chunkedStores(t *testing.T, fn func(t *testing.T, s *objects.FSStore)) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		s.Chunking = smallChunking()
		fn(t, s)
	})
}

func TestChunkedPutRoundTrip(t *testing.T) {
	chunkedStores(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		data := randBytes(1, 64<<10)
		id := putSized(t, s, data)
		if _, err := s.Fs().Stat(s.Path(id)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a chunked blob was also stored whole (stat err %v)", err)
		}
		l, err := s.ReadChunkList(ctx, id)
		if err != nil {
			t.Fatalf("ReadChunkList: %v", err)
		}
		if l.Blob != id || l.Size != int64(len(data)) || len(l.Chunks) < 30 {
			t.Fatalf("list: blob %s size %d with %d chunks; want %s, %d, many chunks", l.Blob, l.Size, len(l.Chunks), id, len(data))
		}
		// Each chunk is an ordinary object holding its piece of the data.
		off := 0
		for _, c := range l.Chunks {
			if got := readAll(t, s, c.ID); !bytes.Equal(got, data[off:off+int(c.Size)]) {
				t.Fatalf("chunk at %d does not hold the data", off)
			}
			off += int(c.Size)
		}
		if got := readAll(t, s, id); !bytes.Equal(got, data) {
			t.Fatal("Open of the chunked blob returned other bytes")
		}
		info, err := s.Stat(ctx, id)
		if err != nil || !info.Chunked || info.Size != int64(len(data)) || info.Stored <= 0 {
			t.Fatalf("Stat=%+v, %v; want chunked, size %d", info, err, len(data))
		}
		// List shows the chunk list (with the logical size) and every chunk.
		listed := map[objects.ID]objects.Info{}
		if err := s.List(ctx, func(i objects.Info) error { listed[i.ID] = i; return nil }); err != nil {
			t.Fatal(err)
		}
		if i := listed[id]; !i.Chunked || i.Size != int64(len(data)) {
			t.Fatalf("List entry of the blob = %+v", i)
		}
		for _, c := range l.Chunks {
			if i, ok := listed[c.ID]; !ok || i.Chunked || i.Size != c.Size {
				t.Fatalf("List entry of chunk %s = %+v, %v", c.ID, i, ok)
			}
		}
		// Small content stays whole.
		small := randBytes(2, 1000)
		sid := putSized(t, s, small)
		if _, err := s.ReadChunkList(ctx, sid); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("content under MinFileSize was chunked (err %v)", err)
		}
		// Delete removes the list; the chunks are objects of their own.
		if err := s.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, id); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("second Delete: %v, want ErrNotFound", err)
		}
	})
}

// TestChunkedPutDedup: a new version of a large file that differs in a few
// places stores only the chunks around the changes.
func TestChunkedPutDedup(t *testing.T) {
	chunkedStores(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		v1 := randBytes(3, 256<<10)
		b := s.NewBatch()
		if _, _, err := b.PutSized(ctx, bytes.NewReader(v1), int64(len(v1))); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if b.Added() < int64(len(v1)) {
			t.Fatalf("first put added %d bytes, want at least %d", b.Added(), len(v1))
		}
		// v2: 1 KiB rewritten in the middle and 100 bytes inserted near the start.
		v2 := append([]byte(nil), v1...)
		copy(v2[128<<10:], randBytes(4, 1024))
		v2 = append(v2[:5000], append(randBytes(5, 100), v2[5000:]...)...)
		b2 := s.NewBatch()
		id2, _, err := b2.PutSized(ctx, bytes.NewReader(v2), int64(len(v2)))
		if err != nil {
			t.Fatal(err)
		}
		if err := b2.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		l, _ := s.ReadChunkList(ctx, id2)
		listBytes := int64(len(objects.ChunkListHeader)) + int64(len(l.Chunks))*70
		if limit := 8*1024 + listBytes*11/10; b2.Added() > limit {
			t.Fatalf("second version added %d bytes (list ~%d), want at most %d", b2.Added(), listBytes, limit)
		}
		if got := readAll(t, s, id2); !bytes.Equal(got, v2) {
			t.Fatal("v2 reads back wrong")
		}
		// Putting v2 again adds nothing.
		b3 := s.NewBatch()
		if _, _, err := b3.PutSized(ctx, bytes.NewReader(v2), int64(len(v2))); err != nil {
			t.Fatal(err)
		}
		if b3.Added() != 0 || b3.Created() != 0 {
			t.Fatalf("re-put added %d bytes in %d objects, want none", b3.Added(), b3.Created())
		}
	})
}

// TestChunkedPutMatchesWholeCopy: content stored whole before (say, when
// chunking was off) is reused, not stored again as a chunk list.
func TestChunkedPutReusesWholeCopy(t *testing.T) {
	forEachFs(t, func(t *testing.T, s *objects.FSStore) {
		data := randBytes(6, 32<<10)
		id := putBytes(t, s, data)
		s.Chunking = smallChunking()
		if got := putSized(t, s, data); got != id {
			t.Fatal("IDs differ")
		}
		if _, err := s.ReadChunkList(context.Background(), id); !errors.Is(err, objects.ErrNotFound) {
			t.Fatalf("a chunk list was written for a blob stored whole (err %v)", err)
		}
	})
}

func damageChunk(tb testing.TB, s *objects.FSStore, id objects.ID, f func([]byte) []byte) {
	tb.Helper()
	damage(tb, s, id, f)
}

func readErr(s *objects.FSStore, id objects.ID) ([]byte, error) {
	rc, err := s.Open(context.Background(), id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestChunkedBlobDamage(t *testing.T) {
	cases := []struct {
		name  string
		harm  func(tb testing.TB, s *objects.FSStore, l *objects.ChunkList)
		check func(tb testing.TB, l *objects.ChunkList, got []byte, err error)
	}{
		{"flipped bit in a chunk", func(tb testing.TB, s *objects.FSStore, l *objects.ChunkList) {
			damageChunk(tb, s, l.Chunks[3].ID, func(b []byte) []byte { b[10] ^= 1; return b })
		}, func(tb testing.TB, l *objects.ChunkList, _ []byte, err error) {
			assertCorrupt(tb, err, l.Chunks[3].ID)
		}},
		{"missing chunk", func(tb testing.TB, s *objects.FSStore, l *objects.ChunkList) {
			if err := s.Delete(context.Background(), l.Chunks[5].ID); err != nil {
				tb.Fatal(err)
			}
		}, func(tb testing.TB, l *objects.ChunkList, got []byte, err error) {
			if !errors.Is(err, objects.ErrNotFound) || !strings.Contains(err.Error(), l.Chunks[5].ID.String()) {
				tb.Fatalf("err=%v, want ErrNotFound naming chunk %s", err, l.Chunks[5].ID)
			}
			if got != nil {
				tb.Fatal("bytes were returned from a list with a missing chunk")
			}
		}},
		{"wrong-size chunk", func(tb testing.TB, s *objects.FSStore, l *objects.ChunkList) {
			damageChunk(tb, s, l.Chunks[7].ID, func(b []byte) []byte { return b[:len(b)-1] })
		}, func(tb testing.TB, l *objects.ChunkList, got []byte, err error) {
			assertCorrupt(tb, err, l.Chunks[7].ID)
			if got != nil {
				tb.Fatal("bytes were returned from a list with a wrong-size chunk")
			}
		}},
		{"list naming another blob's chunks", func(tb testing.TB, s *objects.FSStore, l *objects.ChunkList) {
			// Swap two chunks: every chunk is intact, the whole is not.
			bad := *l
			bad.Chunks = append([]objects.Chunk(nil), l.Chunks...)
			bad.Chunks[0], bad.Chunks[1] = bad.Chunks[1], bad.Chunks[0]
			writeList(tb, s, &bad)
		}, func(tb testing.TB, l *objects.ChunkList, _ []byte, err error) {
			assertCorrupt(tb, err, l.Blob)
		}},
		{"garbled list", func(tb testing.TB, s *objects.FSStore, l *objects.ChunkList) {
			p := s.ListPath(l.Blob)
			s.Fs().Chmod(p, 0o644)
			if err := afero.WriteFile(s.Fs(), p, []byte("art chunks 1\nblob nonsense\n"), 0o444); err != nil {
				tb.Fatal(err)
			}
		}, func(tb testing.TB, l *objects.ChunkList, _ []byte, err error) {
			assertCorrupt(tb, err, l.Blob)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chunkedStores(t, func(t *testing.T, s *objects.FSStore) {
				data := randBytes(7, 64<<10)
				id := putSized(t, s, data)
				l, err := s.ReadChunkList(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				tc.harm(t, s, l)
				got, err := readErr(s, id)
				if err == nil {
					t.Fatal("damaged chunked blob read without error")
				}
				tc.check(t, l, got, err)
				// The kernel-copy path refuses it as well, naming the same
				// object (it hashes only the whole, then looks for the
				// damaged chunk).
				if f, ferr := os.CreateTemp(t.TempDir(), "dst"); ferr == nil {
					defer f.Close()
					_, ok, err := s.CopyTo(context.Background(), id, f, nil)
					if ok && err == nil {
						t.Fatal("CopyTo copied a damaged chunked blob without error")
					}
					if err != nil {
						tc.check(t, l, nil, err)
					}
				}
			})
		})
	}
}

func writeList(tb testing.TB, s *objects.FSStore, l *objects.ChunkList) {
	tb.Helper()
	enc, err := l.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	p := s.ListPath(l.Blob)
	s.Fs().Chmod(p, 0o644)
	if err := afero.WriteFile(s.Fs(), p, enc, 0o444); err != nil {
		tb.Fatal(err)
	}
}

func TestChunkedCopyTo(t *testing.T) {
	s := newFSStore(t, afero.NewOsFs(), t.TempDir())
	s.Chunking = smallChunking()
	data := randBytes(8, 200<<10)
	id := putSized(t, s, data)
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var progress int64
	n, ok, err := s.CopyTo(context.Background(), id, f, func(k int64) { progress += k })
	if err != nil || !ok || n != int64(len(data)) {
		t.Fatalf("CopyTo = %d, %v, %v", n, ok, err)
	}
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, data) || progress != int64(len(data)) {
		t.Fatalf("copied %d bytes (progress %d), equal=%v", len(got), progress, bytes.Equal(got, data))
	}
}

func TestChunkListEncoding(t *testing.T) {
	a, b := objects.Hash([]byte("a")), objects.Hash([]byte("b"))
	l := &objects.ChunkList{Blob: objects.Hash([]byte("ab")), Size: 3, Chunks: []objects.Chunk{{ID: a, Size: 1}, {ID: b, Size: 2}}}
	enc, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "art chunks 1\nblob " + l.Blob.String() + "\nsize 3\n" + a.String() + " 1\n" + b.String() + " 2\n"
	if string(enc) != want {
		t.Fatalf("Encode=%q, want %q", enc, want)
	}
	back, err := objects.DecodeChunkList(enc)
	if err != nil || back.Size != 3 || len(back.Chunks) != 2 || back.Chunks[1] != l.Chunks[1] {
		t.Fatalf("Decode=%+v, %v", back, err)
	}
	for _, bad := range []string{
		"",
		strings.Replace(want, "size 3", "size 4", 1),                      // sizes do not add up
		strings.Replace(want, "size 3", "size 03", 1),                     // leading zero
		strings.Replace(want, " 1\n", " 0\n", 1),                          // empty chunk
		strings.Replace(want, " 2\n", " 2", 1),                            // no final newline
		strings.Replace(want, " 1\n", "  1\n", 1),                         // extra space
		strings.Replace(want, a.String(), strings.ToUpper(a.String()), 1), // uppercase id
		"art chunks 1\nblob " + l.Blob.String() + "\nsize 0\n",            // no chunks
		strings.Replace(want, "art chunks 1", "art chunks 2", 1),          // unknown format
		want + "\n", // trailing data
		strings.Replace(want, "\nsize 3\n", "\nsize 3\nsize 3\n", 1), // repeated field
		strings.Replace(want, " 2\n", " -2\n", 1),                    // negative
	} {
		if _, err := objects.DecodeChunkList([]byte(bad)); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("DecodeChunkList(%q) err=%v, want ErrMalformed", bad, err)
		}
	}
}

func TestChunkingValidate(t *testing.T) {
	if err := objects.DefaultChunking().Validate(); err != nil {
		t.Fatalf("default chunking invalid: %v", err)
	}
	c := objects.DefaultChunking()
	c.Algorithm = "rabin"
	if err := c.Validate(); !errors.Is(err, chunker.ErrInvalidParams) {
		t.Fatalf("unknown algorithm: %v", err)
	}
	c = objects.DefaultChunking()
	c.MinFileSize = 1000
	if err := c.Validate(); !errors.Is(err, chunker.ErrInvalidParams) {
		t.Fatalf("min_file_size below max chunk: %v", err)
	}
}

// TestChunkingAlgorithmV1: a repository made with the first algorithm
// keeps cutting as it did (normalization level 2), so it goes on sharing
// chunks with what it stored before; a new one cuts at level 1.
func TestChunkingAlgorithmV1(t *testing.T) {
	data := randBytes(7, 64<<10)
	cuts := func(p chunker.Params) []int64 {
		var out []int64
		for d := data; len(d) > 0; {
			n := chunker.Cut(d, p)
			out = append(out, int64(n))
			d = d[n:]
		}
		return out
	}
	for _, tc := range []struct {
		algorithm string
		norm      int
	}{{chunker.AlgorithmV1, 2}, {chunker.Algorithm, 1}} {
		s, err := objects.NewFSStore(afero.NewMemMapFs(), "objects")
		if err != nil {
			t.Fatal(err)
		}
		s.Chunking = smallChunking()
		s.Chunking.Algorithm = tc.algorithm
		if err := s.Chunking.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.algorithm, err)
		}
		id := putSized(t, s, data)
		l, err := s.ReadChunkList(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, c := range l.Chunks {
			got = append(got, c.Size)
		}
		p := s.Chunking.Params
		p.Norm = tc.norm
		if want := cuts(p); !equalInts(got, want) {
			t.Errorf("%s: chunks of %v, want level %d's %v", tc.algorithm, got, tc.norm, want)
		}
		p.Norm = 3 - tc.norm
		if other := cuts(p); equalInts(got, other) {
			t.Errorf("%s: the two levels cut this data alike; the test needs other data", tc.algorithm)
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestChunkListIncomplete: a list whose chunk a crash lost does not count
// as the blob being stored, and storing the blob again (by a commit or a
// pull) repairs it.
func TestChunkListIncomplete(t *testing.T) {
	chunkedStores(t, func(t *testing.T, s *objects.FSStore) {
		ctx := context.Background()
		data := randBytes(9, 64<<10)
		id := putSized(t, s, data)
		if ok, err := s.Complete(ctx, id); !ok || err != nil {
			t.Fatalf("Complete = %v, %v after a put", ok, err)
		}
		l, _ := s.ReadChunkList(ctx, id)
		lost := l.Chunks[4]
		if err := s.Delete(ctx, lost.ID); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Complete(ctx, id); ok || err != nil {
			t.Fatalf("Complete = %v, %v with a chunk gone; want false", ok, err)
		}
		// A pull brings the chunk back, then the list.
		if _, err := s.PutExpect(ctx, lost.ID, bytes.NewReader(data[sumBefore(l, 4):sumBefore(l, 5)])); err != nil {
			t.Fatal(err)
		}
		b := s.NewBatch()
		if err := b.PutChunkList(ctx, l); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, id); !bytes.Equal(got, data) {
			t.Fatal("blob reads wrong after the repair")
		}
		// A commit of the same content rewrites the chunk and keeps the list.
		if err := s.Fs().Remove(s.Path(lost.ID)); err != nil {
			t.Fatal(err)
		}
		putSized(t, s, data)
		if ok, _ := s.Complete(ctx, id); !ok {
			t.Fatal("a commit of the same content left the blob incomplete")
		}
	})
}

func sumBefore(l *objects.ChunkList, i int) int64 {
	var n int64
	for _, c := range l.Chunks[:i] {
		n += c.Size
	}
	return n
}
