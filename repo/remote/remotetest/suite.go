package remotetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/artvcs/art/repo/remote"
)

// LargeSize is the size of the object the suite streams through a
// driver: s3remote sends it in one streamed PutObject with its default
// options, and in parts where its test sets a lower multipart threshold.
const LargeSize = 64 << 20

// Run runs the conformance suite: one subtest per behaviour of the
// remote.Transport contract. newTransport returns a transport on a fresh,
// empty remote for each subtest and arranges its own cleanup (it may call
// t.Skip). Subtests run one after another.
func Run(t *testing.T, newTransport func(t *testing.T) remote.Transport) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tr remote.Transport)
	}{
		{"InvalidKeys", testInvalidKeys},
		{"Missing", testMissing},
		{"PutGet", testPutGet},
		{"PutExisting", testPutExisting},
		{"PutEmpty", testPutEmpty},
		{"PutLarge", testPutLarge},
		{"PutReaderFails", testPutReaderFails},
		{"PutLargeReaderFails", testPutLargeReaderFails},
		{"PutWrongSize", testPutWrongSize},
		{"PutCanceled", testPutCanceled},
		{"PutRace", testPutRace},
		{"GetReadsExactly", testGetReadsExactly},
		{"GetRange", testGetRange},
		{"GetRangeInvalid", testGetRangeInvalid},
		{"GetRangeConcurrent", testGetRangeConcurrent},
		{"DirectoryIsNotAKey", testDirectoryIsNotAKey},
		{"SwapCreate", testSwapCreate},
		{"SwapUpdate", testSwapUpdate},
		{"SwapMissing", testSwapMissing},
		{"SwapPutObject", testSwapPutObject},
		{"ETagChanges", testETagChanges},
		{"SwapRace", testSwapRace},
		{"SwapCreateRace", testSwapCreateRace},
		{"List", testList},
		{"ListStops", testListStops},
		{"Delete", testDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransport(t)
			tc.fn(t, tr)
		})
	}
}

// Keys shaped like the ones package repo writes.
var (
	keyA      = "objects/ab/" + strings.Repeat("0123456789abcdef", 4)[:62]
	keyAChunk = keyA + ".chunks"
	keyB      = "objects/cd/" + strings.Repeat("fedcba9876543210", 4)[:62]
	refA      = "refs/bike-dataset.json"
	refB      = "refs/model.json"
)

// invalidKeys are keys every driver must refuse with remote.ErrInvalidKey.
var invalidKeys = []string{
	"",
	"../x",
	"refs/../../x",
	"/abs",
	"/etc/passwd",
	"a//b",
	"a/./b",
	"a/.",
	"./a",
	"refs/",
	"a\x00b",
	`a\b`,
	`..\x`,
	".tmp-x",
	"refs/.lock-a.json",
	"a b",
	"caf\u00e9",
	"refs/a.",
	"objects/ab/cd./x",
	strings.Repeat("a", remote.MaxKeyLen+1),
}

func testInvalidKeys(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	for _, key := range invalidKeys {
		name := fmt.Sprintf("%.40q", key)
		if _, err := tr.Stat(ctx, key); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("Stat(%s) err=%v, want ErrInvalidKey", name, err)
		}
		if rc, _, err := tr.Get(ctx, key); !errors.Is(err, remote.ErrInvalidKey) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get(%s) err=%v, want ErrInvalidKey", name, err)
		}
		if rc, err := tr.GetRange(ctx, key, 0, 1); !errors.Is(err, remote.ErrInvalidKey) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("GetRange(%s) err=%v, want ErrInvalidKey", name, err)
		}
		if err := tr.PutIfAbsent(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("PutIfAbsent(%s) err=%v, want ErrInvalidKey", name, err)
		}
		if _, err := tr.CompareAndSwap(ctx, key, "", []byte("x")); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("CompareAndSwap(%s) err=%v, want ErrInvalidKey", name, err)
		}
		if err := tr.Delete(ctx, key); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("Delete(%s) err=%v, want ErrInvalidKey", name, err)
		}
		if key == "" || key == "refs/" {
			continue // valid prefixes
		}
		if err := tr.List(ctx, key, func(remote.Info) error { return nil }); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("List(%s) err=%v, want ErrInvalidKey", name, err)
		}
	}
	if got := listKeys(t, tr, ""); len(got) != 0 {
		t.Errorf("after refused writes the remote holds %q, want nothing", got)
	}
}

func testMissing(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	if _, err := tr.Stat(ctx, keyA); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat(missing) err=%v, want ErrNotFound", err)
	}
	if rc, _, err := tr.Get(ctx, refA); !errors.Is(err, remote.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get(missing) err=%v, want ErrNotFound", err)
	}
	if err := tr.Delete(ctx, refA); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Delete(missing) err=%v, want ErrNotFound", err)
	}
	n := 0
	if err := tr.List(ctx, "refs/", func(remote.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List(empty remote)=%d keys, err=%v; want 0, nil", n, err)
	}
}

func testPutGet(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	data := pattern(100_003, 1)
	MustPut(t, tr, keyA, data)
	got, in := MustGet(t, tr, keyA)
	if !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes differing from the %d put", len(got), len(data))
	}
	if in.Key != keyA || in.Size != int64(len(data)) || in.ETag == "" {
		t.Errorf("Get Info=%+v, want key %s, size %d, an ETag", in, keyA, len(data))
	}
	st, err := tr.Stat(ctx, keyA)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != keyA || st.Size != in.Size || st.ETag != in.ETag {
		t.Errorf("Stat=%+v, want key, size and ETag of Get's %+v", st, in)
	}
	if st2, _ := tr.Stat(ctx, keyA); st2.ETag != st.ETag {
		t.Errorf("ETag unstable: %q then %q with no write", st.ETag, st2.ETag)
	}
	// A key beside it is another key.
	MustPut(t, tr, keyAChunk, []byte("chunks"))
	if got, _ := MustGet(t, tr, keyA); !bytes.Equal(got, data) {
		t.Errorf("putting %s changed %s", keyAChunk, keyA)
	}
}

func testPutExisting(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	MustPut(t, tr, keyA, []byte("first"))
	before, err := tr.Stat(ctx, keyA)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.PutIfAbsent(ctx, keyA, strings.NewReader("other"), 5); !errors.Is(err, remote.ErrExists) {
		t.Fatalf("second PutIfAbsent err=%v, want ErrExists", err)
	}
	if got, in := MustGet(t, tr, keyA); string(got) != "first" || in.ETag != before.ETag {
		t.Errorf("after refused put: content %q ETag %q, want %q ETag %q", got, in.ETag, "first", before.ETag)
	}
}

func testPutEmpty(t *testing.T, tr remote.Transport) {
	MustPut(t, tr, refA, nil)
	got, in := MustGet(t, tr, refA)
	if len(got) != 0 || in.Size != 0 {
		t.Errorf("empty object: got %d bytes, Info.Size %d; want 0, 0", len(got), in.Size)
	}
	if err := tr.PutIfAbsent(context.Background(), refA, strings.NewReader(""), 0); !errors.Is(err, remote.ErrExists) {
		t.Errorf("second empty PutIfAbsent err=%v, want ErrExists", err)
	}
}

func testPutLarge(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	src := &hashingReader{r: NewGenReader(LargeSize, 7), h: sha256.New()}
	start := time.Now()
	if err := tr.PutIfAbsent(ctx, keyA, src, LargeSize); err != nil {
		t.Fatalf("PutIfAbsent(%d MiB): %v", LargeSize>>20, err)
	}
	put := time.Since(start)
	want := src.h.Sum(nil)
	rc, in, err := tr.Get(ctx, keyA)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, rc, make([]byte, 256<<10))
	if err != nil {
		t.Fatalf("reading back after %d bytes: %v", n, err)
	}
	if n != LargeSize || in.Size != LargeSize {
		t.Fatalf("read back %d bytes, Info.Size %d; want %d", n, in.Size, LargeSize)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("content read back differs from content put (sha256 %x, want %x)", got, want)
	}
	t.Logf("%d MiB: put %v, get %v", LargeSize>>20, put.Round(time.Millisecond), (time.Since(start) - put).Round(time.Millisecond))
}

var errBoom = errors.New("remotetest: reader failed on purpose")

func testPutReaderFails(t *testing.T, tr remote.Transport) {
	putFails(t, tr, 1<<20, 300_000)
}

// testPutLargeReaderFails makes a large put fail near its end: for
// s3remote, after most of a streamed body was sent, or after parts were
// uploaded.
func testPutLargeReaderFails(t *testing.T, tr remote.Transport) {
	putFails(t, tr, 40<<20, 36<<20)
}

func putFails(t *testing.T, tr remote.Transport, size, failAt int64) {
	t.Helper()
	ctx := context.Background()
	r := &FailingReader{R: NewGenReader(size, 3), Left: failAt, Err: errBoom}
	err := tr.PutIfAbsent(ctx, keyA, r, size)
	if err == nil {
		t.Fatalf("PutIfAbsent with a reader failing after %d of %d bytes succeeded", failAt, size)
	}
	if !errors.Is(err, errBoom) {
		t.Errorf("PutIfAbsent err=%v, want it to wrap the reader's error", err)
	}
	mustBeAbsent(t, tr, keyA)
	// The key is still free.
	MustPut(t, tr, keyA, []byte("after"))
}

func testPutWrongSize(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	if err := tr.PutIfAbsent(ctx, keyA, strings.NewReader("short"), 10); err == nil {
		t.Errorf("PutIfAbsent of 5 bytes announced as 10 succeeded")
	}
	mustBeAbsent(t, tr, keyA)
	if err := tr.PutIfAbsent(ctx, keyA, strings.NewReader("longer than said"), 4); err == nil {
		t.Errorf("PutIfAbsent of 16 bytes announced as 4 succeeded")
	}
	mustBeAbsent(t, tr, keyA)
}

func testPutCanceled(t *testing.T, tr remote.Transport) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const size = 4 << 20
	r := &cancelingReader{r: NewGenReader(size, 5), left: 1 << 20, cancel: cancel}
	err := tr.PutIfAbsent(ctx, keyA, r, size)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("PutIfAbsent canceled midway err=%v, want context.Canceled", err)
	}
	mustBeAbsent(t, tr, keyA)
}

func testPutRace(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = tr.PutIfAbsent(ctx, refA, bytes.NewReader(pattern(4096, byte(i))), 4096)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("puts %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, remote.ErrExists):
			t.Errorf("put %d err=%v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no put of %d racing ones succeeded", n)
	}
	if got, _ := MustGet(t, tr, refA); !bytes.Equal(got, pattern(4096, byte(winner))) {
		t.Errorf("stored content is not the winning put's (%d)", winner)
	}
}

func testGetReadsExactly(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	data := pattern(10_000, 9)
	MustPut(t, tr, keyB, data)
	rc, in, err := tr.Get(ctx, keyB)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []byte
	buf := make([]byte, 7)
	for range 100_000 {
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
	}
	if int64(len(got)) != in.Size || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes before io.EOF, Info.Size %d, want the %d put", len(got), in.Size, len(data))
	}
	if n, err := rc.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// testGetRange: ranges in the middle, at both ends and of the whole
// content yield exactly their bytes, read in small pieces, then io.EOF.
func testGetRange(t *testing.T, tr remote.Transport) {
	data := pattern(100_003, 11)
	size := int64(len(data))
	MustPut(t, tr, keyA, data)
	for _, r := range []struct {
		name   string
		off, n int64
	}{
		{"middle", 12_345, 50_000},
		{"first byte", 0, 1},
		{"last byte", size - 1, 1},
		{"head", 0, 4096},
		{"tail", size - 4097, 4097},
		{"whole", 0, size},
	} {
		got := mustGetRange(t, tr, keyA, r.off, r.n, 7)
		if !bytes.Equal(got, data[r.off:r.off+r.n]) {
			t.Errorf("GetRange %s (%d bytes at %d): the bytes differ from the content's", r.name, r.n, r.off)
		}
	}
	// A reader closed before its end is fine.
	rc, err := tr.GetRange(context.Background(), keyA, 10, 50_000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatalf("reading a range: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close before the end: %v", err)
	}
}

// testGetRangeInvalid: a range outside the content, an empty or negative
// one, and one of a missing key are refused, each with its sentinel.
func testGetRangeInvalid(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	data := pattern(10_000, 12)
	size := int64(len(data))
	MustPut(t, tr, keyA, data)
	MustPut(t, tr, refA, nil)
	for _, r := range []struct {
		name   string
		key    string
		off, n int64
	}{
		{"one byte past the end", keyA, size - 10, 11},
		{"at the end", keyA, size, 1},
		{"far past the end", keyA, 10 * size, 100},
		{"longer than the content", keyA, 0, size + 1},
		{"n=0", keyA, 0, 0},
		{"n=0 at the end", keyA, size, 0},
		{"negative n", keyA, 10, -1},
		{"negative off", keyA, -1, 10},
		{"overflowing", keyA, 1, math.MaxInt64},
		{"in an empty object", refA, 0, 1},
	} {
		rc, err := tr.GetRange(ctx, r.key, r.off, r.n)
		if !errors.Is(err, remote.ErrInvalidRange) {
			if rc != nil {
				got, rerr := io.ReadAll(rc)
				rc.Close()
				t.Errorf("GetRange %s (%d bytes at %d): no error; read %d bytes, %v; want ErrInvalidRange", r.name, r.n, r.off, len(got), rerr)
				continue
			}
			t.Errorf("GetRange %s (%d bytes at %d): err=%v, want ErrInvalidRange", r.name, r.n, r.off, err)
		}
	}
	if rc, err := tr.GetRange(ctx, keyB, 0, 1); !errors.Is(err, remote.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("GetRange of a missing key err=%v, want ErrNotFound", err)
	}
	// The refusals changed nothing.
	if got, _ := MustGet(t, tr, keyA); !bytes.Equal(got, data) {
		t.Errorf("content changed")
	}
}

// testGetRangeConcurrent: ranges of one 4 MiB object read at once, at
// unaligned offsets, each yield their own bytes.
func testGetRangeConcurrent(t *testing.T, tr remote.Transport) {
	const size = 4 << 20
	data, err := io.ReadAll(NewGenReader(size, 13))
	if err != nil {
		t.Fatal(err)
	}
	MustPut(t, tr, keyA, data)
	const parts = 16
	var wg sync.WaitGroup
	got := make([][]byte, parts)
	errs := make([]error, parts)
	start := make(chan struct{})
	offs := make([]int64, parts)
	for i := range parts {
		// Part i covers [i*size/parts - 1000, (i+1)*size/parts + 999]
		// clipped to the content: neighbours overlap.
		off := max(int64(i)*size/parts-1000, 0)
		end := min(int64(i+1)*size/parts+1000, size)
		offs[i] = off
		wg.Go(func() {
			<-start
			rc, err := tr.GetRange(context.Background(), keyA, off, end-off)
			if err != nil {
				errs[i] = err
				return
			}
			defer rc.Close()
			got[i], errs[i] = io.ReadAll(rc)
		})
	}
	close(start)
	wg.Wait()
	for i := range parts {
		if errs[i] != nil {
			t.Errorf("range %d: %v", i, errs[i])
			continue
		}
		if want := data[offs[i] : offs[i]+int64(len(got[i]))]; len(got[i]) == 0 || !bytes.Equal(got[i], want) {
			t.Errorf("range %d (at %d): %d bytes that differ from the content's", i, offs[i], len(got[i]))
		}
		end := min(int64(i+1)*size/parts+1000, size)
		if int64(len(got[i])) != end-offs[i] {
			t.Errorf("range %d: %d bytes, want %d", i, len(got[i]), end-offs[i])
		}
	}
}

// mustGetRange reads n bytes at off of key, piece bytes at a time,
// checks that the reader then returns io.EOF (and again), and closes it.
func mustGetRange(tb testing.TB, tr remote.Transport, key string, off, n int64, piece int) []byte {
	tb.Helper()
	rc, err := tr.GetRange(context.Background(), key, off, n)
	if err != nil {
		tb.Fatalf("GetRange(%s, %d, %d): %v", key, off, n, err)
	}
	defer rc.Close()
	var got []byte
	buf := make([]byte, piece)
	for {
		m, err := rc.Read(buf)
		got = append(got, buf[:m]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("GetRange(%s, %d, %d): Read after %d bytes: %v", key, off, n, len(got), err)
		}
		if int64(len(got)) > n {
			tb.Fatalf("GetRange(%s, %d, %d): more than %d bytes", key, off, n, n)
		}
	}
	if int64(len(got)) != n {
		tb.Fatalf("GetRange(%s, %d, %d): %d bytes before io.EOF, want %d", key, off, n, len(got), n)
	}
	if m, err := rc.Read(buf); m != 0 || err != io.EOF {
		tb.Errorf("GetRange(%s, %d, %d): Read after EOF = %d, %v; want 0, io.EOF", key, off, n, m, err)
	}
	if err := rc.Close(); err != nil {
		tb.Errorf("GetRange(%s, %d, %d): Close: %v", key, off, n, err)
	}
	return got
}

// testDirectoryIsNotAKey: the parent of a key is not a key.
func testDirectoryIsNotAKey(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	MustPut(t, tr, keyA, []byte("x"))
	for _, key := range []string{"objects", "objects/ab"} {
		if _, err := tr.Stat(ctx, key); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Stat(%q) err=%v, want ErrNotFound", key, err)
		}
		if rc, _, err := tr.Get(ctx, key); !errors.Is(err, remote.ErrNotFound) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get(%q) err=%v, want ErrNotFound", key, err)
		}
		if rc, err := tr.GetRange(ctx, key, 0, 1); !errors.Is(err, remote.ErrNotFound) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("GetRange(%q) err=%v, want ErrNotFound", key, err)
		}
		if err := tr.Delete(ctx, key); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("Delete(%q) err=%v, want ErrNotFound", key, err)
		}
	}
	if got, _ := MustGet(t, tr, keyA); string(got) != "x" {
		t.Errorf("content changed to %q", got)
	}
}

func testSwapCreate(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	e1, err := tr.CompareAndSwap(ctx, refA, "", []byte(`{"v":1}`))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if e1 == "" {
		t.Fatalf("create returned an empty ETag")
	}
	got, in := MustGet(t, tr, refA)
	if string(got) != `{"v":1}` || in.ETag != e1 {
		t.Errorf("after create: %q ETag %q, want %q ETag %q", got, in.ETag, `{"v":1}`, e1)
	}
	if _, err := tr.CompareAndSwap(ctx, refA, "", []byte(`{"v":2}`)); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("create over an existing key err=%v, want ErrConflict", err)
	}
	if got, in := MustGet(t, tr, refA); string(got) != `{"v":1}` || in.ETag != e1 {
		t.Errorf("refused create changed the key to %q ETag %q", got, in.ETag)
	}
	// Empty content is content.
	e, err := tr.CompareAndSwap(ctx, refB, "", nil)
	if err != nil {
		t.Fatalf("create empty: %v", err)
	}
	if st, err := tr.Stat(ctx, refB); err != nil || st.Size != 0 || st.ETag != e {
		t.Errorf("Stat(empty ref)=%+v, %v; want size 0, ETag %q", st, err, e)
	}
}

func testSwapUpdate(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	e1 := MustSwap(t, tr, refA, "", []byte("version one"))
	e2 := MustSwap(t, tr, refA, e1, []byte("version two, longer"))
	if e2 == e1 {
		t.Fatalf("update returned the old ETag %q", e1)
	}
	got, in := MustGet(t, tr, refA)
	if string(got) != "version two, longer" || in.ETag != e2 || in.Size != int64(len(got)) {
		t.Errorf("after update: %q %+v, want %q ETag %q", got, in, "version two, longer", e2)
	}
	if _, err := tr.CompareAndSwap(ctx, refA, e1, []byte("stale writer")); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("swap from a stale ETag err=%v, want ErrConflict", err)
	}
	if _, err := tr.CompareAndSwap(ctx, refA, "bogus-etag", []byte("stale writer")); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("swap from a made-up ETag err=%v, want ErrConflict", err)
	}
	if got, in := MustGet(t, tr, refA); string(got) != "version two, longer" || in.ETag != e2 {
		t.Errorf("refused swap changed the key to %q ETag %q", got, in.ETag)
	}
	e3 := MustSwap(t, tr, refA, e2, []byte("version three"))
	if st, err := tr.Stat(ctx, refA); err != nil || st.ETag != e3 {
		t.Errorf("Stat after third swap: %+v, %v; want ETag %q", st, err, e3)
	}
}

func testSwapMissing(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	e := MustSwap(t, tr, refB, "", []byte("elsewhere"))
	if _, err := tr.CompareAndSwap(ctx, refA, e, []byte("x")); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("swap of a missing key from an ETag err=%v, want ErrConflict", err)
	}
	mustBeAbsent(t, tr, refA)
}

// testSwapPutObject: a key written by PutIfAbsent can be swapped from its
// Stat ETag, and a swapped key refuses PutIfAbsent.
func testSwapPutObject(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	MustPut(t, tr, refA, []byte("put"))
	st, err := tr.Stat(ctx, refA)
	if err != nil {
		t.Fatal(err)
	}
	e := MustSwap(t, tr, refA, st.ETag, []byte("swapped"))
	if got, in := MustGet(t, tr, refA); string(got) != "swapped" || in.ETag != e {
		t.Errorf("got %q ETag %q, want %q ETag %q", got, in.ETag, "swapped", e)
	}
	if err := tr.PutIfAbsent(ctx, refA, strings.NewReader("x"), 1); !errors.Is(err, remote.ErrExists) {
		t.Errorf("PutIfAbsent over a swapped key err=%v, want ErrExists", err)
	}
}

// testETagChanges: content of the same size written in quick succession
// still gets a new ETag each time.
func testETagChanges(t *testing.T, tr remote.Transport) {
	seen := map[string]int{}
	etag := ""
	for i := range 5 {
		etag = MustSwap(t, tr, refA, etag, []byte(fmt.Sprintf("content %d", i)))
		if j, dup := seen[etag]; dup {
			t.Fatalf("versions %d and %d (different content, same size) share ETag %q", j, i, etag)
		}
		seen[etag] = i
	}
	// Deleted and created again with other content of the same size.
	if err := tr.Delete(context.Background(), refA); err != nil {
		t.Fatal(err)
	}
	etag = MustSwap(t, tr, refA, "", []byte("content X"))
	if j, dup := seen[etag]; dup {
		t.Fatalf("recreated key has the ETag of version %d, %q", j, etag)
	}
}

func testSwapRace(t *testing.T, tr remote.Transport) {
	base := MustSwap(t, tr, refA, "", []byte("base"))
	swapRace(t, tr, base)
}

func testSwapCreateRace(t *testing.T, tr remote.Transport) {
	swapRace(t, tr, "")
}

// swapRace runs 32 swaps of refA from base at once: exactly one wins, the
// others get ErrConflict, and the key holds the winner's content and ETag.
func swapRace(t *testing.T, tr remote.Transport, base string) {
	t.Helper()
	ctx := context.Background()
	const n = 32
	var wg sync.WaitGroup
	etags := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			etags[i], errs[i] = tr.CompareAndSwap(ctx, refA, base, []byte(fmt.Sprintf("writer %02d", i)))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("swaps %d and %d from %q both succeeded (lost update)", winner, i, base)
		case err == nil:
			winner = i
		case !errors.Is(err, remote.ErrConflict):
			t.Errorf("swap %d err=%v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d racing swaps succeeded", n)
	}
	got, in := MustGet(t, tr, refA)
	if want := fmt.Sprintf("writer %02d", winner); string(got) != want || in.ETag != etags[winner] {
		t.Errorf("key holds %q ETag %q, want the winner's %q ETag %q", got, in.ETag, want, etags[winner])
	}
}

func testList(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	MustPut(t, tr, keyA, []byte("a"))
	MustPut(t, tr, keyAChunk, []byte("a chunks"))
	MustPut(t, tr, keyB, []byte("b"))
	MustSwap(t, tr, refA, "", []byte("ref a"))
	e := MustSwap(t, tr, refB, "", []byte("ref b"))
	MustSwap(t, tr, refB, e, []byte("ref b, moved"))
	// A failed put and a refused swap leave nothing to list.
	_ = tr.PutIfAbsent(ctx, "objects/ef/x", &FailingReader{R: NewGenReader(100, 1), Left: 50, Err: errBoom}, 100)
	_, _ = tr.CompareAndSwap(ctx, refA, "", []byte("refused"))

	all := []string{keyA, keyAChunk, keyB, refA, refB}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"refs/", []string{refA, refB}},
		{"objects/", []string{keyA, keyAChunk, keyB}},
		{"objects/ab/", []string{keyA, keyAChunk}},
		{"objects/ab", []string{keyA, keyAChunk}},
		{"refs/bike", []string{refA}},
		{"ref", []string{refA, refB}},
		{"objects/zz/", nil},
		{"nothing", nil},
	} {
		if got := listKeys(t, tr, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q)=%q, want %q", tc.prefix, got, tc.want)
		}
	}
	// Listed Info matches Stat.
	err := tr.List(ctx, "", func(in remote.Info) error {
		st, err := tr.Stat(ctx, in.Key)
		if err != nil {
			return err
		}
		if in.Size != st.Size || in.ETag != st.ETag {
			t.Errorf("List Info %+v, Stat %+v: size or ETag differ", in, st)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
}

func testListStops(t *testing.T, tr remote.Transport) {
	for _, k := range []string{keyA, keyB, refA, refB} {
		MustPut(t, tr, k, []byte(k))
	}
	stop := errors.New("stop here")
	calls := 0
	err := tr.List(context.Background(), "", func(remote.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing callback: %d calls, err=%v; want 1 call and the callback's error", calls, err)
	}
}

func testDelete(t *testing.T, tr remote.Transport) {
	ctx := context.Background()
	MustPut(t, tr, keyA, []byte("a"))
	MustPut(t, tr, keyB, []byte("b"))
	e := MustSwap(t, tr, refA, "", []byte("ref"))
	for _, k := range []string{keyA, refA} {
		if err := tr.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%s): %v", k, err)
		}
		mustBeAbsent(t, tr, k)
		if err := tr.Delete(ctx, k); !errors.Is(err, remote.ErrNotFound) {
			t.Errorf("second Delete(%s) err=%v, want ErrNotFound", k, err)
		}
	}
	if got := listKeys(t, tr, ""); !slices.Equal(got, []string{keyB}) {
		t.Errorf("after deletes List=%q, want %q", got, []string{keyB})
	}
	if _, err := tr.CompareAndSwap(ctx, refA, e, []byte("x")); !errors.Is(err, remote.ErrConflict) {
		t.Errorf("swap of a deleted key from its old ETag err=%v, want ErrConflict", err)
	}
	MustPut(t, tr, keyA, []byte("again"))
	MustSwap(t, tr, refA, "", []byte("again"))
}

// MustPut stores data under key with PutIfAbsent or fails the test.
func MustPut(tb testing.TB, tr remote.Transport, key string, data []byte) {
	tb.Helper()
	if err := tr.PutIfAbsent(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		tb.Fatalf("PutIfAbsent(%s, %d bytes): %v", key, len(data), err)
	}
}

// MustSwap swaps key from etag to data or fails the test; it returns the
// new ETag.
func MustSwap(tb testing.TB, tr remote.Transport, key, etag string, data []byte) string {
	tb.Helper()
	e, err := tr.CompareAndSwap(context.Background(), key, etag, data)
	if err != nil {
		tb.Fatalf("CompareAndSwap(%s, %q): %v", key, etag, err)
	}
	if e == "" {
		tb.Fatalf("CompareAndSwap(%s) returned an empty ETag", key)
	}
	return e
}

// MustGet reads key whole, checking the byte count against Info.Size.
func MustGet(tb testing.TB, tr remote.Transport, key string) ([]byte, remote.Info) {
	tb.Helper()
	rc, in, err := tr.Get(context.Background(), key)
	if err != nil {
		tb.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("reading %s: %v", key, err)
	}
	if int64(len(data)) != in.Size {
		tb.Fatalf("Get(%s) yielded %d bytes, Info.Size %d", key, len(data), in.Size)
	}
	return data, in
}

// mustBeAbsent checks key is neither stat-able, readable nor listed.
func mustBeAbsent(tb testing.TB, tr remote.Transport, key string) {
	tb.Helper()
	if _, err := tr.Stat(context.Background(), key); !errors.Is(err, remote.ErrNotFound) {
		tb.Errorf("Stat(%s) err=%v, want ErrNotFound", key, err)
	}
	if rc, _, err := tr.Get(context.Background(), key); !errors.Is(err, remote.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		tb.Errorf("Get(%s) err=%v, want ErrNotFound", key, err)
	}
	if rc, err := tr.GetRange(context.Background(), key, 0, 1); !errors.Is(err, remote.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		tb.Errorf("GetRange(%s) err=%v, want ErrNotFound", key, err)
	}
	if got := listKeys(tb, tr, ""); slices.Contains(got, key) {
		tb.Errorf("List still shows %s", key)
	}
}

// listKeys returns the keys under prefix, sorted, failing the test on a
// List error or a key listed twice.
func listKeys(tb testing.TB, tr remote.Transport, prefix string) []string {
	tb.Helper()
	var keys []string
	err := tr.List(context.Background(), prefix, func(in remote.Info) error {
		keys = append(keys, in.Key)
		return nil
	})
	if err != nil {
		tb.Fatalf("List(%q): %v", prefix, err)
	}
	slices.Sort(keys)
	if c := slices.Compact(slices.Clone(keys)); len(c) != len(keys) {
		tb.Errorf("List(%q) repeated keys: %q", prefix, keys)
	}
	return keys
}

// pattern returns n bytes that differ with seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31+i>>8) ^ seed
	}
	return b
}

// NewGenReader returns a reader of size deterministic bytes that depend on
// seed, generated as they are read (nothing is held in memory): 64 KiB
// blocks of one pseudo-random block, each stamped with its index.
func NewGenReader(size int64, seed uint64) io.Reader {
	g := &genReader{size: size, block: make([]byte, genBlock)}
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := 0; i < genBlock; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(g.block[i:], x)
	}
	g.base = binary.LittleEndian.Uint64(g.block)
	return g
}

const genBlock = 64 << 10

type genReader struct {
	size, off int64
	block     []byte
	base      uint64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && g.off < g.size {
		i := g.off % genBlock
		if i == 0 {
			binary.LittleEndian.PutUint64(g.block, g.base^uint64(g.off/genBlock))
		}
		m := copy(p[n:], g.block[i:min(int64(genBlock), i+g.size-g.off)])
		n += m
		g.off += int64(m)
	}
	return n, nil
}

type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// FailingReader yields the first Left bytes of R, then fails with Err: a
// body that breaks partway, for tests of interrupted puts.
type FailingReader struct {
	R    io.Reader
	Left int64
	Err  error
}

func (f *FailingReader) Read(p []byte) (int, error) {
	if f.Left <= 0 {
		return 0, f.Err
	}
	if int64(len(p)) > f.Left {
		p = p[:f.Left]
	}
	n, err := f.R.Read(p)
	f.Left -= int64(n)
	return n, err
}

// cancelingReader calls cancel after left bytes of r and keeps reading.
type cancelingReader struct {
	r      io.Reader
	left   int64
	cancel func()
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left <= 0 {
		c.cancel()
	}
	return n, err
}
