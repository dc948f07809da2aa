package chunker_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/artvcs/art/objects/chunker"
)

// small are parameters small enough for the fuzzer and the reader tests to
// cross many cut points in little data.
var small = chunker.Params{Min: 64, Avg: 256, Max: 1024}

const bigSize = 64 << 20

// randomBytes returns n deterministic pseudo-random bytes for seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	rand.NewChaCha8(s).Read(b)
	return b
}

// big is 64 MiB of random data shared by the tests; they must not modify it.
var big = sync.OnceValue(func() []byte { return randomBytes(1, bigSize) })

// chunk is one chunk of a stream: where it starts, how long it is, and its
// SHA-256.
type chunk struct {
	off, n int
	sum    [sha256.Size]byte
}

// chunkAll chunks data with a Chunker reading r (data itself if r is nil)
// and checks the invariants every chunking must hold: the chunks reassemble
// to data, all but the last are within [Min, Max], the last within [1, Max],
// and they are the chunks a loop over Cut finds.
func chunkAll(tb testing.TB, data []byte, r io.Reader, p chunker.Params) []chunk {
	tb.Helper()
	if r == nil {
		r = bytes.NewReader(data)
	}
	c, err := chunker.New(r, p)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	var chunks []chunk
	off := 0
	for {
		b, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("Next after %d bytes: %v", off, err)
		}
		if len(b) == 0 || len(b) > p.Max {
			tb.Fatalf("chunk at %d has %d bytes, want 1..%d", off, len(b), p.Max)
		}
		if !bytes.Equal(b, data[off:min(off+len(b), len(data))]) {
			tb.Fatalf("chunk at %d (%d bytes) differs from the input", off, len(b))
		}
		if n := chunker.Cut(data[off:], p); n != len(b) {
			tb.Fatalf("chunk at %d: Next gives %d bytes, Cut %d", off, len(b), n)
		}
		chunks = append(chunks, chunk{off: off, n: len(b), sum: sha256.Sum256(b)})
		off += len(b)
	}
	if off != len(data) {
		tb.Fatalf("chunks add up to %d bytes, want %d", off, len(data))
	}
	for i, ch := range chunks[:max(len(chunks)-1, 0)] {
		if ch.n < p.Min {
			tb.Fatalf("chunk %d of %d at %d has %d bytes, below Min %d", i, len(chunks), ch.off, ch.n, p.Min)
		}
	}
	if _, err := c.Next(); err != io.EOF {
		tb.Fatalf("Next after io.EOF: %v, want io.EOF", err)
	}
	return chunks
}

func TestRoundTrip(t *testing.T) {
	p := chunker.DefaultParams()
	for _, n := range []int{0, 1, p.Min - 1, p.Min, p.Min + 1, p.Avg, p.Max - 1, p.Max, p.Max + 1, 2*p.Max + 1, bigSize} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := big()[:n]
			chunks := chunkAll(t, data, nil, p)
			if n == 0 && len(chunks) != 0 {
				t.Fatalf("empty input gives %d chunks, want none", len(chunks))
			}
			if n > 0 && n <= p.Min && len(chunks) != 1 {
				t.Fatalf("%d bytes give %d chunks, want 1", n, len(chunks))
			}
			if n == bigSize {
				mean := float64(n) / float64(len(chunks))
				t.Logf("%d chunks, mean %.0f bytes (Avg %d)", len(chunks), mean, p.Avg)
				if mean < 0.7*float64(p.Avg) || mean > 1.3*float64(p.Avg) {
					t.Fatalf("mean chunk size %.0f, want within 30%% of %d", mean, p.Avg)
				}
			}
		})
	}
}

// TestReaders checks that short, one-byte and error-carrying reads give the
// same chunks as reading all at once.
func TestReaders(t *testing.T) {
	data := big()[:64<<10]
	want := chunkAll(t, data, nil, small)
	for name, r := range map[string]io.Reader{
		"OneByte": iotest.OneByteReader(bytes.NewReader(data)),
		"Half":    iotest.HalfReader(bytes.NewReader(data)),
		"DataErr": iotest.DataErrReader(bytes.NewReader(data)),
		"Empty":   &emptyReads{r: bytes.NewReader(data), every: 3},
	} {
		t.Run(name, func(t *testing.T) {
			got := chunkAll(t, data, r, small)
			if len(got) != len(want) {
				t.Fatalf("%d chunks, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("chunk %d is %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// emptyReads returns no bytes and no error before every every-th read.
type emptyReads struct {
	r     io.Reader
	every int
	n     int
}

func (e *emptyReads) Read(b []byte) (int, error) {
	if e.n++; e.n%e.every != 0 {
		return 0, nil
	}
	return e.r.Read(b)
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(big()[:10*small.Max]), iotest.ErrReader(boom))
	c, err := chunker.New(r, small)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for {
		b, err := c.Next()
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("Next after %d bytes: %v, want %v", n, err, boom)
			}
			break
		}
		n += len(b)
	}
	if n >= 10*small.Max {
		t.Fatalf("Next returned all %d bytes before the error", n)
	}
	if _, err := c.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next after the error: %v, want %v", err, boom)
	}

	c.Reset(&emptyReads{r: bytes.NewReader(nil), every: 1 << 30})
	if _, err := c.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next on a reader that never progresses: %v, want io.ErrNoProgress", err)
	}
}

// TestReset checks that a reset Chunker cuts a new stream as a new one would.
func TestReset(t *testing.T) {
	a, b := big()[:5000], big()[7000:20000]
	c, err := chunker.New(bytes.NewReader(a), small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	c.Reset(bytes.NewReader(b))
	want := chunkAll(t, b, nil, small)
	for i, w := range want {
		got, err := c.Next()
		if err != nil || !bytes.Equal(got, b[w.off:w.off+w.n]) {
			t.Fatalf("chunk %d after Reset: %d bytes, %v; want %d bytes", i, len(got), err, w.n)
		}
	}
	if _, err := c.Next(); err != io.EOF {
		t.Fatalf("Next at the end: %v, want io.EOF", err)
	}
}

// TestNextAllocs checks that Next allocates nothing: memory is the one
// buffer New makes, whatever the input size.
func TestNextAllocs(t *testing.T) {
	r := io.LimitReader(rand.NewChaCha8([32]byte{2}), 1<<62)
	c, err := chunker.New(r, small)
	if err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(10000, func() {
		if _, err := c.Next(); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("Next allocates %v times per call, want 0", allocs)
	}
}

// chunkSet maps chunk hashes to the chunks with them.
func chunkSet(chunks []chunk) map[[sha256.Size]byte][]chunk {
	m := make(map[[sha256.Size]byte][]chunk, len(chunks))
	for _, c := range chunks {
		m[c.sum] = append(m[c.sum], c)
	}
	return m
}

// changed counts the chunks of after that are not chunks of before: the
// chunks a store holding before would have to add.
func changed(before, after []chunk) int {
	old := chunkSet(before)
	n := 0
	for _, c := range after {
		if _, ok := old[c.sum]; !ok {
			n++
		}
	}
	return n
}

// checkKept fails unless every chunk of before for which far(c.off) holds
// is a chunk of after at offset c.off+shift(c.off).
func checkKept(tb testing.TB, before, after []chunk, far func(off int) bool, shift func(off int) int) {
	tb.Helper()
	type key struct {
		off int
		sum [sha256.Size]byte
	}
	have := make(map[key]bool, len(after))
	for _, c := range after {
		have[key{c.off, c.sum}] = true
	}
	kept := 0
	for _, c := range before {
		if !far(c.off) {
			continue
		}
		if !have[key{c.off + shift(c.off), c.sum}] {
			tb.Fatalf("chunk at %d (%d bytes) is not at %d after the edit", c.off, c.n, c.off+shift(c.off))
		}
		kept++
	}
	if kept == 0 {
		tb.Fatalf("no chunk far from the edit to compare")
	}
}

// TestInsertStable is the property that an insertion changes only the
// chunks near it: chunks that start more than Max before it or 2*Max after
// it are unchanged (shifted), and at most 3 chunks are new.
func TestInsertStable(t *testing.T) {
	p := chunker.DefaultParams()
	data := big()
	before := chunkAll(t, data, nil, p)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, k := range []int{1, 100, 4096} {
		for range 3 {
			pos := rng.IntN(len(data))
			t.Run(fmt.Sprintf("%d@%d", k, pos), func(t *testing.T) {
				edited := make([]byte, 0, len(data)+k)
				edited = append(edited, data[:pos]...)
				edited = append(edited, randomBytes(rng.Uint64(), k)...)
				edited = append(edited, data[pos:]...)
				after := chunkAll(t, edited, nil, p)
				checkKept(t, before, after,
					func(off int) bool { return off < pos-p.Max || off > pos+2*p.Max },
					func(off int) int {
						if off > pos {
							return k
						}
						return 0
					})
				if n := changed(before, after); n > 3 {
					t.Fatalf("%d chunks changed, want at most 3", n)
				} else {
					t.Logf("%d chunks changed", n)
				}
			})
		}
	}
}

// TestOverwriteStable overwrites 8 regions, 1% of the data in all, and
// checks that chunks far from every region are unchanged and that at most
// 3 chunks per region plus one per Min bytes overwritten are new.
func TestOverwriteStable(t *testing.T) {
	p := chunker.DefaultParams()
	data := big()
	before := chunkAll(t, data, nil, p)
	rng := rand.New(rand.NewPCG(8, 8))
	const regions = 8
	size := len(data) / 100 / regions
	edited := bytes.Clone(data)
	var starts [regions]int
	for i := range starts {
		// One region at a random place in each eighth of the data.
		seg := len(data) / regions
		starts[i] = i*seg + rng.IntN(seg-size)
		copy(edited[starts[i]:], randomBytes(rng.Uint64(), size))
	}
	after := chunkAll(t, edited, nil, p)
	checkKept(t, before, after,
		func(off int) bool {
			for _, s := range starts {
				if off >= s-p.Max && off <= s+size+2*p.Max {
					return false
				}
			}
			return true
		},
		func(int) int { return 0 })
	limit := regions*3 + regions*size/p.Min
	if n := changed(before, after); n > limit {
		t.Fatalf("%d chunks changed, want at most %d", n, limit)
	} else {
		t.Logf("%d chunks changed of %d (limit %d)", n, len(after), limit)
	}
}

// TestAppendStable appends 1% to the data: all chunks but the last stay,
// and at most 2 chunks are new.
func TestAppendStable(t *testing.T) {
	p := chunker.DefaultParams()
	data := big()
	before := chunkAll(t, data, nil, p)
	edited := append(bytes.Clone(data), randomBytes(9, len(data)/100)...)
	after := chunkAll(t, edited, nil, p)
	for i, c := range before[:len(before)-1] {
		if after[i] != c {
			t.Fatalf("chunk %d is %+v after appending, want %+v", i, after[i], c)
		}
	}
	if n := changed(before, after); n > 2 {
		t.Fatalf("%d chunks changed, want at most 2", n)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		p  chunker.Params
		ok bool
	}{
		{chunker.DefaultParams(), true},
		{small, true},
		{chunker.Params{Min: chunker.MinLimit, Avg: 128, Max: 129}, true},
		{chunker.Params{Min: 1 << 20, Avg: 1 << 28, Max: chunker.MaxLimit}, true},
		{chunker.Params{}, false},
		{chunker.Params{Min: chunker.MinLimit - 1, Avg: 256, Max: 1024}, false},
		{chunker.Params{Min: 0, Avg: 256, Max: 1024}, false},
		{chunker.Params{Min: -64, Avg: 256, Max: 1024}, false},
		{chunker.Params{Min: 256, Avg: 256, Max: 1024}, false},
		{chunker.Params{Min: 512, Avg: 256, Max: 1024}, false},
		{chunker.Params{Min: 64, Avg: 1024, Max: 1024}, false},
		{chunker.Params{Min: 64, Avg: 2048, Max: 1024}, false},
		{chunker.Params{Min: 64, Avg: 300, Max: 1024}, false},
		{chunker.Params{Min: 64, Avg: 256, Max: chunker.MaxLimit + 1}, false},
		{chunker.Params{Min: 64, Avg: 256, Max: -1}, false},
	} {
		err := tt.p.Validate()
		if got := err == nil; got != tt.ok {
			t.Errorf("%+v.Validate()=%v, want ok %v", tt.p, err, tt.ok)
		}
		if err != nil && !errors.Is(err, chunker.ErrInvalidParams) {
			t.Errorf("%+v.Validate()=%v, want ErrInvalidParams", tt.p, err)
		}
		c, err := chunker.New(bytes.NewReader(nil), tt.p)
		if tt.ok != (err == nil) || tt.ok != (c != nil) {
			t.Errorf("New(%+v)=%v, %v; want ok %v", tt.p, c, err, tt.ok)
		}
		if err != nil && !errors.Is(err, chunker.ErrInvalidParams) {
			t.Errorf("New(%+v)=%v, want ErrInvalidParams", tt.p, err)
		}
	}
}

func TestCutInvalidPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Cut with invalid Params did not panic")
		}
	}()
	chunker.Cut(make([]byte, 100), chunker.Params{Min: 1, Avg: 3, Max: 2})
}

func TestCutShort(t *testing.T) {
	p := chunker.DefaultParams()
	data := big()
	for _, n := range []int{0, 1, p.Min - 1, p.Min} {
		if got := chunker.Cut(data[:n], p); got != n {
			t.Errorf("Cut(%d bytes)=%d, want %d", n, got, n)
		}
	}
	// A run of zeros has no cut point: the hash of 64 equal bytes is a
	// constant that does not match the masks, so chunks are cut at Max.
	zeros := make([]byte, 3*p.Max)
	if got := chunker.Cut(zeros, p); got != p.Max {
		t.Errorf("Cut(zeros)=%d, want Max %d", got, p.Max)
	}
	if got := chunker.Cut(zeros[:p.Max-1], p); got != p.Max-1 {
		t.Errorf("Cut(Max-1 zeros)=%d, want %d", got, p.Max-1)
	}
}

// TestKnownAnswer pins the cut points: they are part of the repository
// format (Algorithm), so a change to the gear table, the masks or the
// window must fail here and come with a new Algorithm.
func TestKnownAnswer(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    chunker.Params
		n    int
		want string
	}{
		{"small", small, 1 << 20, "3343 ca2d651c528dfca5"},
		{"default", chunker.DefaultParams(), bigSize, "53 cce1114ff7ace5e1"},
		{"small, level 1", withNorm(small, 1), 1 << 20, "3343 ca2d651c528dfca5"},
		// AlgorithmV1 (level 2) cuts where it always did.
		{"small, v1", withNorm(small, 2), 1 << 20, "3601 f57c773f64d6a57c"},
		{"default, v1", withNorm(chunker.DefaultParams(), 2), bigSize, "55 577ec0698970dfe4"},
	} {
		h := sha256.New()
		chunks := chunkAll(t, big()[:tt.n], nil, tt.p)
		for _, c := range chunks {
			fmt.Fprintln(h, c.n)
		}
		if got := fmt.Sprintf("%d %x", len(chunks), h.Sum(nil)[:8]); got != tt.want {
			t.Errorf("%s: chunk lengths digest %q, want %q", tt.name, got, tt.want)
		}
	}
	for name, want := range map[string]int{"fastcdc-gear64-v2": 1, "fastcdc-gear64-v1": 2} {
		if got, ok := chunker.AlgorithmNorm(name); !ok || got != want {
			t.Errorf("AlgorithmNorm(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	if chunker.Algorithm != "fastcdc-gear64-v2" || chunker.AlgorithmV1 != "fastcdc-gear64-v1" {
		t.Errorf("Algorithm=%q, AlgorithmV1=%q", chunker.Algorithm, chunker.AlgorithmV1)
	}
	if _, ok := chunker.AlgorithmNorm("rabin"); ok {
		t.Error("AlgorithmNorm knows rabin")
	}
}

func withNorm(p chunker.Params, n int) chunker.Params {
	p.Norm = n
	return p
}

// FuzzChunker checks, with small parameters so the fuzzer crosses many cut
// points, that chunks reassemble to the input, that their sizes are in
// bounds, and that they do not depend on how the reader splits its reads.
func FuzzChunker(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte("a"), uint16(1))
	f.Add(bytes.Repeat([]byte{0}, 3000), uint16(100))
	f.Add(randomBytes(3, 5000), uint16(7))
	f.Add(randomBytes(4, 5000), uint16(5000))
	f.Fuzz(func(t *testing.T, data []byte, readSize uint16) {
		want := chunkAll(t, data, nil, small)
		got := chunkAll(t, data, &limitedReads{r: bytes.NewReader(data), n: int(readSize) + 1}, small)
		if len(got) != len(want) {
			t.Fatalf("%d chunks with reads of %d bytes, %d in one read", len(got), int(readSize)+1, len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("chunk %d is %+v with reads of %d bytes, want %+v", i, got[i], int(readSize)+1, want[i])
			}
		}
	})
}

// limitedReads returns at most n bytes per read.
type limitedReads struct {
	r io.Reader
	n int
}

func (l *limitedReads) Read(b []byte) (int, error) {
	return l.r.Read(b[:min(len(b), l.n)])
}

func BenchmarkChunker(b *testing.B) {
	data := big()
	p := chunker.DefaultParams()
	b.Run("Next", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		r := bytes.NewReader(data)
		c, err := chunker.New(r, p)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			r.Reset(data)
			c.Reset(r)
			for {
				if _, err := c.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("Cut", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for d := data; len(d) > 0; {
				d = d[chunker.Cut(d, p):]
			}
		}
	})
}
