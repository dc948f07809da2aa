// Package objectstest is a conformance suite for objects.Store
// implementations. Each implementation's tests call Run with a constructor
// of empty stores.
package objectstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/artvcs/art/objects"
)

// Known BLAKE3 answers: what `b3sum` prints for "abc" and for empty input.
const (
	abcID   = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
	emptyID = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
)

// Run runs the conformance suite. newStore must return a new, empty store
// for each call; it is called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) objects.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objects.Store)
	}{
		{"PutReturnsB3sumID", testPutReturnsB3sumID},
		{"OpenReadsBack", testOpenReadsBack},
		{"Missing", testMissing},
		{"Stat", testStat},
		{"PutExistingIsIdempotent", testPutExistingIsIdempotent},
		{"List", testList},
		{"ListSkipsObjectsBeingWritten", testListSkipsObjectsBeingWritten},
		{"ListStopsOnError", testListStopsOnError},
		{"Delete", testDelete},
		{"PutExpect", testPutExpect},
		{"PutExpectMismatch", testPutExpectMismatch},
		{"ConcurrentPutSameContent", testConcurrentPutSameContent},
		{"LargeStreamedPut", testLargeStreamedPut},
		{"CancelledContext", testCancelledContext},
		{"ReadTreeAndCommit", testReadTreeAndCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func testPutReturnsB3sumID(t *testing.T, s objects.Store) {
	ctx := context.Background()
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"abc", abcID},
		{"", emptyID},
	} {
		id, n, err := s.Put(ctx, strings.NewReader(tt.in))
		if err != nil {
			t.Fatalf("Put(%q): %v", tt.in, err)
		}
		if got, want := id.String(), tt.want; got != want {
			t.Errorf("Put(%q) id=%s, want %s", tt.in, got, want)
		}
		if got, want := n, int64(len(tt.in)); got != want {
			t.Errorf("Put(%q) size=%d, want %d", tt.in, got, want)
		}
	}
	id, err := objects.PutBytes(ctx, s, []byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id.String(), abcID; got != want {
		t.Errorf("PutBytes(abc)=%s, want %s", got, want)
	}
}

func testOpenReadsBack(t *testing.T, s objects.Store) {
	ctx := context.Background()
	for _, size := range []int{0, 1, 1023, 1024, 1025, 300 << 10} {
		data := pattern(size, byte(size))
		id := put(t, s, data)
		if got, want := id, objects.Hash(data); got != want {
			t.Fatalf("Put id=%s, want %s", got, want)
		}
		if got := readObject(t, s, id); !bytes.Equal(got, data) {
			t.Fatalf("Open(%s) read %d bytes that differ from the %d put", id.Short(), len(got), len(data))
		}
		b, err := objects.ReadAll(ctx, s, id, int64(size))
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("ReadAll(max=size): %d bytes, %v", len(b), err)
		}
		if size > 0 {
			if _, err := objects.ReadAll(ctx, s, id, int64(size-1)); !errors.Is(err, objects.ErrCorrupt) {
				t.Fatalf("ReadAll(max=size-1) err=%v, want ErrCorrupt", err)
			}
		}
	}
}

func testMissing(t *testing.T, s objects.Store) {
	ctx := context.Background()
	put(t, s, []byte("present"))
	missing := objects.Hash([]byte("missing"))
	if rc, err := s.Open(ctx, missing); !errors.Is(err, objects.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Open(missing) err=%v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, missing); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Stat(missing) err=%v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, missing); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Delete(missing) err=%v, want ErrNotFound", err)
	}
	if _, err := objects.ReadTree(ctx, s, missing); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("ReadTree(missing) err=%v, want ErrNotFound", err)
	}
}

func testStat(t *testing.T, s objects.Store) {
	ctx := context.Background()
	data := pattern(5000, 3)
	before := time.Now().Add(-time.Minute)
	id := put(t, s, data)
	info, err := s.Stat(ctx, id)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if got, want := info.ID, id; got != want {
		t.Errorf("Stat.ID=%s, want %s", got, want)
	}
	if got, want := info.Size, int64(len(data)); got != want {
		t.Errorf("Stat.Size=%d, want %d", got, want)
	}
	if info.ModTime.Before(before) {
		t.Errorf("Stat.ModTime=%v, before the Put at %v", info.ModTime, before)
	}
}

func testPutExistingIsIdempotent(t *testing.T, s objects.Store) {
	ctx := context.Background()
	data := []byte("same content")
	id1 := put(t, s, data)
	info1, err := s.Stat(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	id2, n, err := s.Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if got, want := id2, id1; got != want {
		t.Fatalf("second Put id=%s, want %s", got, want)
	}
	if got, want := n, int64(len(data)); got != want {
		t.Fatalf("second Put size=%d, want %d", got, want)
	}
	info2, err := s.Stat(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if info2.ModTime.Before(info1.ModTime) {
		t.Errorf("ModTime after second Put=%v, before first %v", info2.ModTime, info1.ModTime)
	}
	if got, want := listIDs(t, s), []objects.ID{id1}; !slices.Equal(got, want) {
		t.Errorf("List=%v, want %v", got, want)
	}
	if got := readObject(t, s, id1); !bytes.Equal(got, data) {
		t.Errorf("Open read %q, want %q", got, data)
	}
}

func testList(t *testing.T, s objects.Store) {
	if got := listIDs(t, s); len(got) != 0 {
		t.Fatalf("List of new store=%v, want nothing", got)
	}
	var want []objects.ID
	sizes := map[objects.ID]int64{}
	for i := range 40 {
		data := []byte(fmt.Sprintf("object %d %s", i, strings.Repeat("x", i)))
		id := put(t, s, data)
		want = append(want, id)
		sizes[id] = int64(len(data))
	}
	sortIDs(want)
	if got := listIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("List=%v\nwant %v", got, want)
	}
	err := s.List(context.Background(), func(info objects.Info) error {
		if got, want := info.Size, sizes[info.ID]; got != want {
			t.Errorf("List: %s size=%d, want %d", info.ID.Short(), got, want)
		}
		if info.ModTime.IsZero() {
			t.Errorf("List: %s has no ModTime", info.ID.Short())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testListSkipsObjectsBeingWritten(t *testing.T, s objects.Store) {
	ctx := context.Background()
	done := put(t, s, []byte("complete"))
	r := &blockingReader{data: pattern(64<<10, 9), started: make(chan struct{}), release: make(chan struct{})}
	type result struct {
		id  objects.ID
		err error
	}
	res := make(chan result, 1)
	go func() {
		id, _, err := s.Put(ctx, r)
		res <- result{id, err}
	}()
	select {
	case <-r.started:
	case out := <-res:
		t.Fatalf("Put returned before reading its input: %v", out.err)
	case <-time.After(10 * time.Second):
		t.Fatal("Put never read its input")
	}
	got := listIDs(t, s)
	close(r.release)
	out := <-res
	if out.err != nil {
		t.Fatalf("Put: %v", out.err)
	}
	if want := []objects.ID{done}; !slices.Equal(got, want) {
		t.Fatalf("List during a Put=%v, want only the complete object %v", got, want)
	}
	want := []objects.ID{done, out.id}
	sortIDs(want)
	if got := listIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("List after the Put=%v, want %v", got, want)
	}
}

func testListStopsOnError(t *testing.T, s objects.Store) {
	for i := range 5 {
		put(t, s, []byte{byte(i)})
	}
	stop := errors.New("stop")
	calls := 0
	err := s.List(context.Background(), func(objects.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List err=%v, want the callback's error", err)
	}
	if got, want := calls, 1; got != want {
		t.Fatalf("callback called %d times after returning an error, want %d", got, want)
	}
}

func testDelete(t *testing.T, s objects.Store) {
	ctx := context.Background()
	keep := put(t, s, []byte("keep"))
	gone := put(t, s, []byte("gone"))
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Open(ctx, gone); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Open after Delete err=%v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, gone); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Stat after Delete err=%v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, gone); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("second Delete err=%v, want ErrNotFound", err)
	}
	if got, want := listIDs(t, s), []objects.ID{keep}; !slices.Equal(got, want) {
		t.Errorf("List after Delete=%v, want %v", got, want)
	}
	// The object can be written again.
	if got, want := put(t, s, []byte("gone")), gone; got != want {
		t.Fatalf("Put after Delete=%s, want %s", got, want)
	}
	if got, want := string(readObject(t, s, gone)), "gone"; got != want {
		t.Fatalf("Open after re-Put read %q, want %q", got, want)
	}
}

func testPutExpect(t *testing.T, s objects.Store) {
	ctx := context.Background()
	data := pattern(10000, 1)
	want := objects.Hash(data)
	n, err := s.PutExpect(ctx, want, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PutExpect: %v", err)
	}
	if got, want := n, int64(len(data)); got != want {
		t.Fatalf("PutExpect size=%d, want %d", got, want)
	}
	if got := readObject(t, s, want); !bytes.Equal(got, data) {
		t.Fatal("PutExpect stored other bytes")
	}
	// Again, for an object that already exists.
	if _, err := s.PutExpect(ctx, want, bytes.NewReader(data)); err != nil {
		t.Fatalf("PutExpect of existing object: %v", err)
	}
}

func testPutExpectMismatch(t *testing.T, s objects.Store) {
	ctx := context.Background()
	existing := put(t, s, []byte("existing"))
	before := listIDs(t, s)
	want := objects.Hash([]byte("what the remote promised"))
	data := []byte("what the remote sent")
	_, err := s.PutExpect(ctx, want, bytes.NewReader(data))
	if !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("PutExpect(wrong id) err=%v, want ErrCorrupt", err)
	}
	var ce *objects.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("PutExpect(wrong id) err=%T %v, want a *CorruptError", err, err)
	}
	if got := ce.ID; got != want {
		t.Errorf("CorruptError.ID=%s, want %s", got, want)
	}
	if !strings.Contains(err.Error(), want.String()) {
		t.Errorf("error %q does not name the wanted ID %s", err, want)
	}
	if got := listIDs(t, s); !slices.Equal(got, before) {
		t.Errorf("List after failed PutExpect=%v, want %v", got, before)
	}
	for _, id := range []objects.ID{want, objects.Hash(data)} {
		if _, err := s.Stat(ctx, id); !errors.Is(err, objects.ErrNotFound) {
			t.Errorf("Stat(%s) after failed PutExpect err=%v, want ErrNotFound", id.Short(), err)
		}
	}
	// Claiming an existing object's ID with other bytes does not touch it.
	if _, err := s.PutExpect(ctx, existing, bytes.NewReader(data)); !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("PutExpect(existing id, other bytes) err=%v, want ErrCorrupt", err)
	}
	if got, want := string(readObject(t, s, existing)), "existing"; got != want {
		t.Fatalf("existing object now reads %q, want %q", got, want)
	}
}

func testConcurrentPutSameContent(t *testing.T, s objects.Store) {
	const n = 16
	data := pattern(256<<10, 7)
	want := objects.Hash(data)
	var wg sync.WaitGroup
	errs := make([]error, n)
	ids := make([]objects.ID, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ids[i], _, errs[i] = s.Put(context.Background(), bytes.NewReader(data))
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Put #%d: %v", i, errs[i])
		} else if ids[i] != want {
			t.Errorf("Put #%d id=%s, want %s", i, ids[i], want)
		}
	}
	if got, want := listIDs(t, s), []objects.ID{want}; !slices.Equal(got, want) {
		t.Fatalf("List=%v, want %v", got, want)
	}
	if got := readObject(t, s, want); !bytes.Equal(got, data) {
		t.Fatal("object read back differs")
	}
}

func testLargeStreamedPut(t *testing.T, s objects.Store) {
	const size = 20 << 20
	h := objects.NewHasher()
	if _, err := io.Copy(h, newGenReader(size)); err != nil {
		t.Fatal(err)
	}
	want := h.Sum()
	id, n, err := s.Put(context.Background(), newGenReader(size))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if id != want || n != size {
		t.Fatalf("Put=%s, %d; want %s, %d", id, n, want, size)
	}
	info, err := s.Stat(context.Background(), id)
	if err != nil || info.Size != size {
		t.Fatalf("Stat=%+v, %v; want size %d", info, err, size)
	}
	rc, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rh := objects.NewHasher()
	m, err := io.Copy(rh, rc)
	if err != nil || m != size || rh.Sum() != want {
		t.Fatalf("read back %d bytes hashing to %s, %v; want %d, %s", m, rh.Sum(), err, size, want)
	}
}

func testCancelledContext(t *testing.T, s objects.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Put(ctx, strings.NewReader("abc")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled ctx err=%v, want context.Canceled", err)
	}
	if _, err := s.PutExpect(ctx, objects.Hash([]byte("abc")), strings.NewReader("abc")); !errors.Is(err, context.Canceled) {
		t.Errorf("PutExpect with cancelled ctx err=%v, want context.Canceled", err)
	}

	// Cancelled in the middle of a long copy: Put stops instead of reading
	// all 256 MiB.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r := &cancellingReader{r: newGenReader(256 << 20), after: 1 << 20, cancel: cancel}
	_, _, err := s.Put(ctx, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put cancelled mid-stream err=%v, want context.Canceled", err)
	}
	if r.n > 64<<20 {
		t.Errorf("Put read %d bytes after cancellation", r.n-(1<<20))
	}
	if got := listIDs(t, s); len(got) != 0 {
		t.Errorf("List after cancelled Puts=%v, want nothing", got)
	}
}

func testReadTreeAndCommit(t *testing.T, s objects.Store) {
	ctx := context.Background()
	blob := put(t, s, []byte("weights"))
	tree := &objects.Tree{Entries: []objects.TreeEntry{{Name: "model.h5", Kind: objects.KindFile, ID: blob, Size: 7}}}
	tb, err := tree.Encode()
	if err != nil {
		t.Fatal(err)
	}
	treeID := put(t, s, tb)
	c := &objects.Commit{Name: "m", Type: "model", Tree: treeID, Created: time.Unix(1, 0).UTC(), Metadata: []byte("{}")}
	cb, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	commitID := put(t, s, cb)

	gotTree, err := objects.ReadTree(ctx, s, treeID)
	if err != nil {
		t.Fatalf("ReadTree: %v", err)
	}
	if e, ok := gotTree.Find("model.h5"); !ok || e.ID != blob {
		t.Fatalf("ReadTree: entry=%+v, %v", e, ok)
	}
	gotCommit, err := objects.ReadCommit(ctx, s, commitID)
	if err != nil {
		t.Fatalf("ReadCommit: %v", err)
	}
	if gotCommit.Tree != treeID || gotCommit.Name != "m" {
		t.Fatalf("ReadCommit=%+v", gotCommit)
	}
	// A blob is not a tree or a commit: reported as a corrupt object.
	for _, read := range []func() error{
		func() error { _, err := objects.ReadTree(ctx, s, blob); return err },
		func() error { _, err := objects.ReadCommit(ctx, s, blob); return err },
		func() error { _, err := objects.ReadCommit(ctx, s, treeID); return err },
	} {
		err := read()
		var ce *objects.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, objects.ErrCorrupt) {
			t.Errorf("reading an object of the wrong kind err=%v, want *CorruptError", err)
		}
	}
}

// put stores b and returns its ID.
func put(tb testing.TB, s objects.Store, b []byte) objects.ID {
	tb.Helper()
	id, n, err := s.Put(context.Background(), bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("Put: %v", err)
	}
	if n != int64(len(b)) {
		tb.Fatalf("Put size=%d, want %d", n, len(b))
	}
	return id
}

// readObject reads the whole object through Open.
func readObject(tb testing.TB, s objects.Store, id objects.ID) []byte {
	tb.Helper()
	rc, err := s.Open(context.Background(), id)
	if err != nil {
		tb.Fatalf("Open(%s): %v", id.Short(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read %s: %v", id.Short(), err)
	}
	return b
}

// listIDs returns the IDs List reports, sorted, failing on duplicates.
func listIDs(tb testing.TB, s objects.Store) []objects.ID {
	tb.Helper()
	var ids []objects.ID
	if err := s.List(context.Background(), func(info objects.Info) error {
		ids = append(ids, info.ID)
		return nil
	}); err != nil {
		tb.Fatalf("List: %v", err)
	}
	sortIDs(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			tb.Fatalf("List reported %s twice", ids[i])
		}
	}
	return ids
}

func sortIDs(ids []objects.ID) {
	slices.SortFunc(ids, func(a, b objects.ID) int { return bytes.Compare(a[:], b[:]) })
}

// pattern returns n deterministic bytes that differ by seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// genReader yields n deterministic bytes without holding them in memory.
type genReader struct {
	left int64
	x    uint64
}

func newGenReader(n int64) *genReader { return &genReader{left: n, x: 0x9e3779b97f4a7c15} }

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	for i := range p {
		g.x ^= g.x << 13
		g.x ^= g.x >> 7
		g.x ^= g.x << 17
		p[i] = byte(g.x >> 32)
	}
	g.left -= int64(len(p))
	return len(p), nil
}

// cancellingReader calls cancel once more than after bytes were read.
type cancellingReader struct {
	r      io.Reader
	after  int64
	n      int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.after {
		c.cancel()
	}
	return n, err
}

// blockingReader returns its first bytes, signals started, and then waits
// for release before returning the rest.
type blockingReader struct {
	data    []byte
	off     int
	started chan struct{}
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.off == 0 {
		n := copy(p[:min(len(p), 100)], b.data)
		b.off = n
		close(b.started)
		return n, nil
	}
	<-b.release
	if b.off == len(b.data) {
		return 0, io.EOF
	}
	n := copy(p, b.data[b.off:])
	b.off += n
	return n, nil
}
