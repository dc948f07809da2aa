package objects_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/artvcs/art/objects"
	"github.com/spf13/afero"
)

// memObjects is an object store in memory for directory tests: a Getter
// and a PutFunc, counting the puts of objects it did not hold.
type memObjects struct {
	m       map[objects.ID][]byte
	puts    int // every put
	written int // puts of objects not held before
}

func newMemObjects() *memObjects { return &memObjects{m: map[objects.ID][]byte{}} }

func (s *memObjects) put(_ context.Context, b []byte) (objects.ID, error) {
	id := objects.Hash(b)
	s.puts++
	if _, ok := s.m[id]; !ok {
		s.written++
		s.m[id] = append([]byte(nil), b...)
	}
	return id, nil
}

func (s *memObjects) Open(_ context.Context, id objects.ID) (io.ReadCloser, error) {
	b, ok := s.m[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", objects.ErrNotFound, id.Short())
	}
	return objects.NewVerifyingReader(io.NopCloser(bytes.NewReader(b)), id), nil
}

func (s *memObjects) Stat(_ context.Context, id objects.ID) (objects.Info, error) {
	b, ok := s.m[id]
	if !ok {
		return objects.Info{}, objects.ErrNotFound
	}
	return objects.Info{ID: id, Size: int64(len(b)), Stored: int64(len(b))}, nil
}

// dirEntries returns n sorted file entries named like the files of a
// dataset, and content standing for their blobs; every seventh one is a
// directory, every 101st a reference, so leaves mix kinds.
func dirEntries(n int) []objects.TreeEntry {
	es := make([]objects.TreeEntry, n)
	for i := range es {
		name := fmt.Sprintf("img-%07d.png", i)
		switch {
		case i%101 == 0:
			es[i] = objects.TreeEntry{Name: name, Kind: objects.KindRef, Size: -1, URI: "s3://bucket/" + name}
		case i%7 == 0:
			es[i] = objects.TreeEntry{Name: name, Kind: objects.KindDir, ID: objects.Hash([]byte("sub " + name))}
		default:
			es[i] = objects.TreeEntry{Name: name, Kind: objects.KindFile, ID: objects.Hash([]byte(name)), Size: int64(i), Exec: i%13 == 0}
		}
	}
	return es
}

func writeDir(tb testing.TB, s *memObjects, es []objects.TreeEntry) objects.ID {
	tb.Helper()
	w := objects.NewDirWriter(s.put)
	ctx := context.Background()
	for _, e := range es {
		if err := w.Add(ctx, e); err != nil {
			tb.Fatalf("Add(%q): %v", e.Name, err)
		}
	}
	id, err := w.Finish(ctx)
	if err != nil {
		tb.Fatalf("Finish: %v", err)
	}
	return id
}

func readDir(tb testing.TB, g objects.Getter, id objects.ID) []objects.TreeEntry {
	tb.Helper()
	var got []objects.TreeEntry
	if err := objects.ReadDir(context.Background(), g, id, func(e objects.TreeEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		tb.Fatalf("ReadDir: %v", err)
	}
	return got
}

// TestDirWriterSmallIsOneTree: up to the threshold a directory is the
// tree Tree.Encode gives, byte for byte, and nothing else is written.
func TestDirWriterSmallIsOneTree(t *testing.T) {
	for _, n := range []int{0, 1, 2, objects.ShardThreshold - 1, objects.ShardThreshold} {
		s := newMemObjects()
		es := dirEntries(n)
		id := writeDir(t, s, es)
		want, err := (&objects.Tree{Entries: es}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		if id != objects.Hash(want) || !bytes.Equal(s.m[id], want) || len(s.m) != 1 {
			t.Errorf("%d entries: ID %s, %d objects; want the one tree %s", n, id.Short(), len(s.m), objects.Hash(want).Short())
		}
		// The one-shot helper, from shuffled entries, is the same.
		shuffled := append([]objects.TreeEntry(nil), es...)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got, err := objects.WriteDir(context.Background(), s.put, &objects.Tree{Entries: shuffled}); err != nil || got != id {
			t.Errorf("%d entries: WriteDir=%s, %v; want %s", n, got.Short(), err, id.Short())
		}
	}
}

// TestDirRoundTrip writes directories around the threshold and of 100,000
// entries and reads them back whole (ReadDir, ReadTree) and by name
// (FindEntry).
func TestDirRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{objects.ShardThreshold - 1, objects.ShardThreshold, objects.ShardThreshold + 1, 100_000} {
		s := newMemObjects()
		es := dirEntries(n)
		id := writeDir(t, s, es)
		split := !bytes.HasPrefix(s.m[id], []byte(objects.TreeHeader))
		if split != (n > objects.ShardThreshold) {
			t.Errorf("%d entries: split=%v", n, split)
		}
		if got := readDir(t, s, id); !reflect.DeepEqual(got, es) {
			t.Fatalf("%d entries: ReadDir gave %d entries, not the ones written", n, len(got))
		}
		tree, err := objects.ReadTree(ctx, s, id)
		if err != nil || !reflect.DeepEqual(tree.Entries, es) {
			t.Fatalf("%d entries: ReadTree: %v", n, err)
		}
		for _, i := range []int{0, 1, n / 3, n / 2, n - 1} {
			e, ok, err := objects.FindEntry(ctx, s, id, es[i].Name)
			if err != nil || !ok || e != es[i] {
				t.Errorf("%d entries: FindEntry(%q)=%+v, %v, %v", n, es[i].Name, e, ok, err)
			}
		}
		for _, name := range []string{"a", "img-0000000.png0", "zzz", "img-"} {
			if e, ok, err := objects.FindEntry(ctx, s, id, name); err != nil || ok {
				t.Errorf("%d entries: FindEntry(%q)=%+v, %v, %v; want none", n, name, e, ok, err)
			}
		}
		if split {
			x, err := objects.DecodeTreeIndex(s.m[id])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d entries: %d objects, top of level %d with %d children", n, len(s.m), x.Level, len(x.Children))
		}
	}
}

// TestDirWriterLocalChange: changing, adding or removing one entry of a
// 100,000-entry directory writes a few new objects (a leaf or two and the
// index nodes above), and undoing the change gives the first ID again.
func TestDirWriterLocalChange(t *testing.T) {
	s := newMemObjects()
	es := dirEntries(100_000)
	base := writeDir(t, s, es)
	x, err := objects.DecodeTreeIndex(s.m[base])
	if err != nil {
		t.Fatal(err)
	}
	levels := x.Level
	bound := 2 * (levels + 1) // two neighbouring leaves and their index paths
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 12 {
		i := rng.IntN(len(es))
		var changed []objects.TreeEntry
		what := ""
		switch round % 3 {
		case 0:
			what = "changed"
			changed = append(changed, es...)
			changed[i].ID = objects.Hash([]byte(fmt.Sprint("new content ", round)))
			changed[i].Kind, changed[i].Size, changed[i].URI = objects.KindFile, 1, ""
		case 1:
			what = "added"
			changed = append(changed, es[:i+1]...)
			changed = append(changed, objects.TreeEntry{Name: es[i].Name + "-new", Kind: objects.KindFile, ID: objects.Hash(nil)})
			changed = append(changed, es[i+1:]...)
		case 2:
			what = "removed"
			changed = append(changed, es[:i]...)
			changed = append(changed, es[i+1:]...)
		}
		before := s.written
		id := writeDir(t, s, changed)
		if n := s.written - before; n > bound || n < 2 {
			t.Errorf("one entry %s at %d: %d new objects, want 2..%d (%d index levels)", what, i, n, bound, levels)
		}
		if id == base {
			t.Errorf("one entry %s: same ID", what)
		}
		if got := writeDir(t, s, es); got != base {
			t.Fatalf("writing the first entries again: %s, want %s", got.Short(), base.Short())
		}
	}
	t.Logf("100,000 entries: %d objects, %d index levels", len(s.m), levels)
}

// TestDirWriterHistoryIndependent: a directory reached by different
// histories (built at once, shuffled, or grown from another) gets one ID.
func TestDirWriterHistoryIndependent(t *testing.T) {
	ctx := context.Background()
	s := newMemObjects()
	es := dirEntries(20_000)
	want := writeDir(t, s, es)
	shuffled := append([]objects.TreeEntry(nil), es...)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if got, err := objects.WriteDir(ctx, s.put, &objects.Tree{Entries: shuffled}); err != nil || got != want {
		t.Errorf("WriteDir(shuffled)=%s, %v; want %s", got.Short(), err, want.Short())
	}
	// Grown: the odd entries first, then the even ones read back and
	// merged in, through another store.
	s2 := newMemObjects()
	var odd []objects.TreeEntry
	for i := 1; i < len(es); i += 2 {
		odd = append(odd, es[i])
	}
	oddID := writeDir(t, s2, odd)
	merged := readDir(t, s2, oddID)
	for i := 0; i < len(es); i += 2 {
		merged = append(merged, es[i])
	}
	if got, err := objects.WriteDir(ctx, s2.put, &objects.Tree{Entries: merged}); err != nil || got != want {
		t.Errorf("grown from the odd entries: %s, %v; want %s", got.Short(), err, want.Short())
	}
}

// TestDirWriterRefuses: what Tree.Encode refuses, a DirWriter refuses,
// below the threshold and far beyond it, including names one
// case-insensitive file system takes for one that lie in different leaves.
func TestDirWriterRefuses(t *testing.T) {
	ctx := context.Background()
	f := func(name string) objects.TreeEntry {
		return objects.TreeEntry{Name: name, Kind: objects.KindFile, ID: objects.Hash([]byte(name))}
	}
	for _, n := range []int{10, 3 * objects.ShardThreshold} {
		for _, c := range []struct {
			what string
			last objects.TreeEntry
			want error
		}{
			{"out of order", f("a"), objects.ErrMalformed},
			{"duplicate", f(""), objects.ErrMalformed}, // replaced below
			{"folds onto the first", objects.TreeEntry{}, objects.ErrInvalidPath},
			{"invalid name", f("zz/x"), objects.ErrInvalidPath},
			{"invalid entry", objects.TreeEntry{Name: "zz", Kind: objects.KindDir, Size: 3}, objects.ErrMalformed},
		} {
			// "IMG.txt" sorts before every "img-…", "img.txt" after.
			es := append([]objects.TreeEntry{f("IMG.txt")}, dirEntries(n)...)
			switch c.what {
			case "duplicate":
				c.last = es[n]
			case "folds onto the first":
				c.last = f("img.txt")
			}
			s := newMemObjects()
			w := objects.NewDirWriter(s.put)
			for _, e := range es {
				if err := w.Add(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			err := w.Add(ctx, c.last)
			if !errors.Is(err, c.want) {
				t.Errorf("%d entries, then one %s: Add=%v, want %v", n, c.what, err, c.want)
			}
			if _, ferr := w.Finish(ctx); !errors.Is(ferr, c.want) {
				t.Errorf("%d entries, then one %s: Finish=%v, want the sticky error", n, c.what, ferr)
			}
		}
	}
	// Used after Finish; a failing put.
	s := newMemObjects()
	w := objects.NewDirWriter(s.put)
	if _, err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ctx, f("a")); err == nil {
		t.Error("Add after Finish succeeded")
	}
	boom := errors.New("disk full")
	w = objects.NewDirWriter(func(context.Context, []byte) (objects.ID, error) { return objects.ID{}, boom })
	var err error
	for _, e := range dirEntries(2 * objects.ShardThreshold) {
		if err = w.Add(ctx, e); err != nil {
			break
		}
	}
	if !errors.Is(err, boom) {
		t.Errorf("a failing put: Add=%v, want %v", err, boom)
	}
}

// forge stores a split directory of es cut at the given leaf sizes under
// one level-1 index node, whatever the cutting rules say, and returns its
// ID.
func forge(tb testing.TB, s *memObjects, es []objects.TreeEntry, sizes ...int) objects.ID {
	tb.Helper()
	x := &objects.TreeIndex{Level: 1}
	for _, n := range sizes {
		b, err := (&objects.Tree{Entries: es[:n]}).Encode()
		if err != nil {
			tb.Fatal(err)
		}
		id, _ := s.put(context.Background(), b)
		x.Children = append(x.Children, objects.IndexChild{First: es[0].Name, Count: int64(n), ID: id})
		es = es[n:]
	}
	b, err := x.Encode()
	if err != nil {
		tb.Fatalf("forge: %v", err)
	}
	id, _ := s.put(context.Background(), b)
	return id
}

// TestReadDirRefusesForgedSplits: a split directory not as a DirWriter
// writes it is corrupt, whether one node shows it or only the whole does.
func TestReadDirRefusesForgedSplits(t *testing.T) {
	ctx := context.Background()
	es := dirEntries(5000)
	s := newMemObjects()
	// Cut at the maximum leaf size: each node looks right, but the rule
	// cuts the first leaf earlier.
	bad := forge(t, s, es, objects.LeafMaxEntries, 5000-objects.LeafMaxEntries)

	// Names one case-insensitive file system takes for one, in two
	// leaves: "A-…" sorts before "a-…", so a leaf of upper-case names, then
	// one of lower-case ones.
	var upper, lower []objects.TreeEntry
	for i := range objects.LeafMaxEntries {
		upper = append(upper, objects.TreeEntry{Name: fmt.Sprintf("A-%05d", i), Kind: objects.KindFile, ID: objects.Hash(nil)})
	}
	for i := range 1000 {
		lower = append(lower, objects.TreeEntry{Name: fmt.Sprintf("a-%05d", i), Kind: objects.KindFile, ID: objects.Hash(nil)})
	}
	foldID := forge(t, s, append(upper, lower...), objects.LeafMaxEntries, 1000)

	for _, c := range []struct {
		what string
		id   objects.ID
	}{
		{"cut where the rule does not cut", bad},
		{"names folding onto each other in two leaves", foldID},
	} {
		err := objects.ReadDir(ctx, s, c.id, func(objects.TreeEntry) error { return nil })
		var ce *objects.CorruptError
		if !errors.As(err, &ce) || ce.ID != c.id {
			t.Errorf("%s: ReadDir=%v, want a *CorruptError naming the directory", c.what, err)
		}
		if _, err := objects.ReadTree(ctx, s, c.id); !errors.Is(err, objects.ErrCorrupt) {
			t.Errorf("%s: ReadTree=%v, want ErrCorrupt", c.what, err)
		}
	}

	// One node shows it: a top of too few entries or one child; a child
	// that is not what the index claims.
	good := newMemObjects()
	id := writeDir(t, good, es)
	top, err := objects.DecodeTreeIndex(good.m[id])
	if err != nil {
		t.Fatal(err)
	}
	small := forge(t, s, es[:objects.ShardThreshold], objects.LeafMaxEntries)
	lie := func(edit func(x *objects.TreeIndex)) objects.ID {
		x := &objects.TreeIndex{Level: top.Level, Children: append([]objects.IndexChild(nil), top.Children...)}
		edit(x)
		b, err := x.Encode()
		if err != nil {
			t.Fatalf("forging: %v", err)
		}
		for k, v := range good.m {
			s.m[k] = v
		}
		id, _ := s.put(ctx, b)
		return id
	}
	b, err := (&objects.TreeIndex{Level: 2, Children: []objects.IndexChild{{First: es[0].Name, Count: 5000, ID: id}}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	oneChild, _ := s.put(ctx, b)
	for _, c := range []struct {
		what string
		id   objects.ID
	}{
		{"a top of at most the threshold", small},
		{"a top of one child", oneChild},
		{"a child counted short", lie(func(x *objects.TreeIndex) { x.Children[len(x.Children)-1].Count-- })},
		{"a child counted long", lie(func(x *objects.TreeIndex) { x.Children[len(x.Children)-1].Count++ })},
		{"a child's first name wrong", lie(func(x *objects.TreeIndex) { x.Children[0].First = "a" })},
		{"a leaf where an index node belongs", lie(func(x *objects.TreeIndex) { x.Level = 2 })},
		{"a missing child", lie(func(x *objects.TreeIndex) { x.Children[1].ID = objects.Hash([]byte("nothing")) })},
	} {
		err := objects.ReadDir(ctx, s, c.id, func(objects.TreeEntry) error { return nil })
		if !errors.Is(err, objects.ErrCorrupt) && !errors.Is(err, objects.ErrNotFound) {
			t.Errorf("%s: ReadDir=%v, want ErrCorrupt", c.what, err)
		}
		if c.what != "a missing child" && !errors.Is(err, objects.ErrCorrupt) {
			t.Errorf("%s: ReadDir=%v, want ErrCorrupt", c.what, err)
		}
	}
}

// TestDecodeTreeIndexRejectsNonCanonical: the decoder takes only what
// Encode writes, and Encode refuses what breaks the rules one node shows.
func TestDecodeTreeIndexRejectsNonCanonical(t *testing.T) {
	good := readGolden(t, "tree-index-v1.golden")
	if _, err := objects.DecodeTreeIndex(good); err != nil {
		t.Fatalf("golden: %v", err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	child := func(i int) []string { return strings.Split(strings.TrimSuffix(lines[2+i], "\n"), "\t") }
	with := func(i int, f ...string) string {
		ls := append([]string(nil), lines...)
		ls[2+i] = strings.Join(f, "\t") + "\n"
		return strings.Join(ls, "")
	}
	c0, c1 := child(0), child(1)
	// A name that the level-1 index rule would start a new node at.
	cutName := ""
	for i := 0; cutName == ""; i++ {
		n := fmt.Sprintf("img-%07d.png", 9000+i)
		x := &objects.TreeIndex{Level: 1}
		for j := range objects.IndexMinChildren {
			x.Children = append(x.Children, objects.IndexChild{First: fmt.Sprintf("a%d", j), Count: objects.LeafMaxEntries, ID: mustID("x")})
		}
		x.Children = append(x.Children, objects.IndexChild{First: n, Count: 1, ID: mustID("x")})
		if _, err := x.Encode(); err != nil {
			cutName = n
		}
	}
	ls := append([]string(nil), lines...)
	for _, c := range []struct{ what, enc string }{
		{"empty", ""},
		{"tree header", objects.TreeHeader},
		{"no level", objects.TreeIndexHeader},
		{"no children", objects.TreeIndexHeader + "level 1\n"},
		{"level 0", strings.Replace(string(good), "level 1", "level 0", 1)},
		{"level 01", strings.Replace(string(good), "level 1", "level 01", 1)},
		{"level 17", strings.Replace(string(good), "level 1", "level 17", 1)},
		{"level +1", strings.Replace(string(good), "level 1", "level +1", 1)},
		{"space in level", strings.Replace(string(good), "level 1", "level  1", 1)},
		{"unsorted", lines[0] + lines[1] + ls[3] + ls[2] + strings.Join(ls[4:], "")},
		{"duplicate first", with(1, c0[0], c1[1], c1[2])},
		{"count 0", with(0, c0[0], "0", c0[2])},
		{"count 04096", with(0, c0[0], "0"+c0[1], c0[2])},
		{"count -1", with(0, c0[0], "-1", c0[2])},
		{"leaf over the maximum", with(0, c0[0], "4097", c0[2])},
		{"leaf under the minimum before another", with(0, c0[0], "255", c0[2])},
		{"leaf not ending where leaves end", with(1, "img-0000476.png", c1[1], c1[2])},
		{"upper-case id", with(0, c0[0], c0[1], strings.ToUpper(c0[2]))},
		{"short id", with(0, c0[0], c0[1], c0[2][:63])},
		{"bad name", with(0, ".art", c0[1], c0[2])},
		{"extra field", with(0, c0[0], c0[1], c0[2], "x")},
		{"missing newline", strings.TrimSuffix(string(good), "\n")},
		{"trailing blank line", string(good) + "\n"},
		{"child that starts a new node", string(good) + cutName + "\t1\t" + c0[2] + "\n"},
	} {
		if x, err := objects.DecodeTreeIndex([]byte(c.enc)); err == nil {
			t.Errorf("%s: DecodeTreeIndex accepted %q as %+v", c.what, c.enc, x)
		} else if !errors.Is(err, objects.ErrMalformed) && !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("%s: err=%v, want ErrMalformed or ErrInvalidPath", c.what, err)
		}
	}
	many := &objects.TreeIndex{Level: 2}
	for i := range objects.IndexMaxChildren + 1 {
		many.Children = append(many.Children, objects.IndexChild{First: fmt.Sprintf("n%05d", i), Count: 1, ID: mustID("x")})
	}
	if _, err := many.Encode(); err == nil {
		t.Errorf("Encode accepted %d children", len(many.Children))
	}
}

// goldenTreeIndexID pins the top node of goldenDir5000, and with it the
// cutting rules: they decide every ID of a large directory.
const (
	goldenTreeIndexID = "5b5caa97fc5855e2ec075dc0dd77708f49d734631742807192f3cb09b0191d67"
	golden100kID      = "957d74bf8d8d5f9f9ff43e6361519eb400a6350bbf266fc540276dfcd870b52c"
)

// TestGoldenTreeIndex pins the index node format and the cuts: the top
// node of a 5,000-entry directory (testdata/golden/tree-index-v1.golden)
// and the ID of a 100,000-entry one, which has two index levels.
func TestGoldenTreeIndex(t *testing.T) {
	s := newMemObjects()
	id := writeDir(t, s, dirEntries(5000))
	enc := s.m[id]
	checkGolden(t, "tree-index-v1.golden", enc)
	if got := id.String(); got != goldenTreeIndexID {
		t.Errorf("tree index ID=%s, want %s", got, goldenTreeIndexID)
	}
	x, err := objects.DecodeTreeIndex(enc)
	if err != nil {
		t.Fatalf("DecodeTreeIndex(golden): %v", err)
	}
	if again, err := x.Encode(); err != nil || !bytes.Equal(again, enc) {
		t.Fatalf("Encode(DecodeTreeIndex(b)) differs from b (err %v)", err)
	}
	if x.Level != 1 || x.Total() != 5000 {
		t.Errorf("golden: level %d, %d entries; want 1, 5000", x.Level, x.Total())
	}
	if got := writeDir(t, newMemObjects(), dirEntries(100_000)).String(); got != golden100kID {
		t.Errorf("100,000-entry directory ID=%s, want %s", got, golden100kID)
	}
}

// TestDirMemory writes a 200,000-entry directory to a store on disk and
// reads it back, sampling the live heap at every object written and every
// thousand entries read: it stays far below what one Tree of the same
// entries takes.
func TestDirMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 entries")
	}
	const n = 200_000
	entry := func(i int) objects.TreeEntry {
		name := fmt.Sprintf("shard-%08d-of-the-training-set.tfrecord", i)
		return objects.TreeEntry{Name: name, Kind: objects.KindFile, ID: objects.Hash([]byte(name)), Size: int64(i)}
	}
	// The live heap: after a collection, so garbage not yet swept does
	// not count.
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	// What one Tree of the entries holds, and its encoding.
	base := heap()
	tree := &objects.Tree{Entries: make([]objects.TreeEntry, n)}
	for i := range n {
		tree.Entries[i] = entry(i)
	}
	whole := heap() - base
	runtime.KeepAlive(tree)
	tree = nil

	store, err := objects.NewFSStore(afero.NewOsFs(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	base = heap()
	var peak int64
	sample := func() { peak = max(peak, heap()) }
	put := objects.PutTo(store)
	w := objects.NewDirWriter(func(ctx context.Context, b []byte) (objects.ID, error) {
		sample()
		return put(ctx, b)
	})
	for i := range n {
		if err := w.Add(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	id, err := w.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writing := peak - base
	peak = 0
	i := 0
	if err := objects.ReadDir(ctx, store, id, func(e objects.TreeEntry) error {
		if e != entry(i) {
			return fmt.Errorf("entry %d is %q", i, e.Name)
		}
		if i++; i%1000 == 0 {
			sample()
		}
		return nil
	}); err != nil || i != n {
		t.Fatalf("ReadDir: %v after %d entries", err, i)
	}
	used := max(writing, peak-base)
	t.Logf("one Tree of %d entries: %d KiB live; split, the peak above the start: %d KiB writing, %d KiB reading", n, whole>>10, writing>>10, (peak-base)>>10)
	if used > whole/4 {
		t.Errorf("peak heap %d KiB, want under a quarter of one Tree's %d KiB", used>>10, whole>>10)
	}
}
