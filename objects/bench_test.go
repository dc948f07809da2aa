package objects_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// benchSize is one payload size of a throughput benchmark.
type benchSize struct {
	name string
	n    int
}

var (
	hashSizes  = []benchSize{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"4MiB", 4 << 20}}
	storeSizes = []benchSize{{"4KiB", 4 << 10}, {"16MiB", 16 << 20}}
)

// benchData returns n deterministic pseudo-random bytes.
func benchData(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{'a', 'r', 't'}).Read(b)
	return b
}

// BenchmarkHashSizes hashes whole buffers with objects.Hash and streams
// them through a Hasher in 32 KiB writes (the io.Copy chunk size).
// (BenchmarkHash in id_test.go covers a single 1 MiB buffer.)
func BenchmarkHashSizes(b *testing.B) {
	for _, sz := range hashSizes {
		data := benchData(sz.n)
		b.Run("Hash/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				objects.Hash(data)
			}
		})
		b.Run("Hasher/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			h := objects.NewHasher()
			for b.Loop() {
				h.Reset()
				for p := data; len(p) > 0; {
					k := min(len(p), 32<<10)
					h.Write(p[:k])
					p = p[k:]
				}
				h.Sum()
			}
		})
	}
}

// benchTree returns a valid tree of n entries: mostly files, every tenth
// executable, every twenty-fifth a directory and every fiftieth a reference.
func benchTree(n int) *objects.Tree {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	t := &objects.Tree{Entries: make([]objects.TreeEntry, 0, n)}
	for i := range n {
		var id objects.ID
		binary.LittleEndian.PutUint64(id[:], rng.Uint64())
		id = objects.Hash(id[:])
		e := objects.TreeEntry{Name: fmt.Sprintf("file-%05d.bin", i), Kind: objects.KindFile, ID: id,
			Size: rng.Int64N(1 << 30), Exec: i%10 == 3}
		switch {
		case i%50 == 7:
			e = objects.TreeEntry{Name: fmt.Sprintf("ref-%05d", i), Kind: objects.KindRef, Size: rng.Int64N(1 << 30),
				Digest: id.Short(), URI: fmt.Sprintf("s3://bucket/data/part-%05d.parquet", i)}
		case i%25 == 1:
			e = objects.TreeEntry{Name: fmt.Sprintf("dir-%05d", i), Kind: objects.KindDir, ID: id}
		}
		t.Entries = append(t.Entries, e)
	}
	// Shuffle so Encode does the sorting it does for a tree built in
	// arbitrary order.
	rng.Shuffle(len(t.Entries), func(i, j int) { t.Entries[i], t.Entries[j] = t.Entries[j], t.Entries[i] })
	return t
}

var treeSizes = []int{100, 1000}

func BenchmarkTreeEncode(b *testing.B) {
	for _, n := range treeSizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			t := benchTree(n)
			enc, err := t.Encode()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := t.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTreeDecode(b *testing.B) {
	for _, n := range treeSizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			enc, err := benchTree(n).Encode()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				t, err := objects.DecodeTree(enc)
				if err != nil {
					b.Fatal(err)
				}
				if len(t.Entries) != n {
					b.Fatalf("decoded %d entries, want %d", len(t.Entries), n)
				}
			}
		})
	}
}

// benchCommit is a commit with every optional field set.
func benchCommit() *objects.Commit {
	return &objects.Commit{
		Name:        "imagenet-subset",
		Type:        "dataset",
		Version:     42,
		Tree:        objects.Hash([]byte("tree")),
		Parent:      objects.Hash([]byte("parent")),
		Created:     time.Date(2024, 5, 17, 12, 0, 0, 123456789, time.UTC),
		Run:         "run-2024-05-17-abcdef",
		Description: "Training split, deduplicated and resized to 256×256 \"center crop\"",
		Metadata: []byte(`{"split":"train","rows":1281167,"classes":1000,"resize":{"w":256,"h":256},` +
			`"tags":["vision","imagenet"],"score":0.987,"source":"s3://bucket/imagenet"}`),
	}
}

func BenchmarkCommitEncode(b *testing.B) {
	c := benchCommit()
	enc, err := c.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCommitDecode(b *testing.B) {
	enc, err := benchCommit().Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := objects.DecodeCommit(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// newBenchStore returns an FSStore on the OS file system in a temp dir.
func newBenchStore(b *testing.B, noSync bool) *objects.FSStore {
	b.Helper()
	s, err := objects.NewFSStore(afero.NewOsFs(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s.NoSync = noSync
	return s
}

// BenchmarkFSStorePut stores new objects (each iteration's content differs
// in its first 8 bytes, so every Put writes and renames a new file). Large
// objects are deleted again outside the timed region to bound disk use.
func BenchmarkFSStorePut(b *testing.B) {
	ctx := context.Background()
	for _, sz := range storeSizes {
		for _, noSync := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/nosync=%v", sz.name, noSync), func(b *testing.B) {
				s := newBenchStore(b, noSync)
				data := benchData(sz.n)
				rd := bytes.NewReader(nil)
				var seq uint64
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				for b.Loop() {
					seq++
					binary.LittleEndian.PutUint64(data, seq)
					rd.Reset(data)
					id, n, err := s.Put(ctx, rd)
					if err != nil {
						b.Fatal(err)
					}
					if n != int64(sz.n) {
						b.Fatalf("stored %d bytes, want %d", n, sz.n)
					}
					if sz.n >= 1<<20 {
						b.StopTimer()
						if err := s.Delete(ctx, id); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				}
			})
		}
	}
}

// BenchmarkFSStoreOpenRead opens an object and reads it to the end, which
// verifies its hash.
func BenchmarkFSStoreOpenRead(b *testing.B) {
	ctx := context.Background()
	for _, sz := range storeSizes {
		b.Run(sz.name, func(b *testing.B) {
			s := newBenchStore(b, true)
			id, err := objects.PutBytes(ctx, s, benchData(sz.n))
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				rc, err := s.Open(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				var n int
				for {
					k, err := rc.Read(buf)
					n += k
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				rc.Close()
				if n != sz.n {
					b.Fatalf("read %d bytes, want %d", n, sz.n)
				}
			}
		})
	}
}
