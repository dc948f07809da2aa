package walk_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
)

// trees is a Source over directory objects held in memory, counting reads.
type trees struct {
	m     map[objects.ID][]byte
	reads int
}

func newTrees() *trees { return &trees{m: map[objects.ID][]byte{}} }

func (s *trees) Node(_ context.Context, id objects.ID) (objects.DirNode, error) {
	s.reads++
	b, ok := s.m[id]
	if !ok {
		return objects.DirNode{}, fmt.Errorf("%w: tree %s", objects.ErrNotFound, id.Short())
	}
	n, err := objects.DecodeDirNode(b)
	if err != nil {
		return objects.DirNode{}, &objects.CorruptError{ID: id, Reason: err.Error()}
	}
	return n, nil
}

// putBytes is the objects.PutFunc of s.
func (s *trees) putBytes(_ context.Context, b []byte) (objects.ID, error) {
	id := objects.Hash(b)
	s.m[id] = b
	return id, nil
}

// put stores a tree of the entries and returns its ID.
func (s *trees) put(tb testing.TB, es ...objects.TreeEntry) objects.ID {
	tb.Helper()
	b, err := (&objects.Tree{Entries: es}).Encode()
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := s.putBytes(context.Background(), b)
	return id
}

func file(name, content string) objects.TreeEntry {
	return objects.TreeEntry{Name: name, Kind: objects.KindFile, ID: objects.Hash([]byte(content)), Size: int64(len(content))}
}

func dir(name string, id objects.ID) objects.TreeEntry {
	return objects.TreeEntry{Name: name, Kind: objects.KindDir, ID: id}
}

// recorder returns a Walker over src that logs every callback.
func recorder(src walk.Source, log *[]string) walk.Walker {
	return walk.Walker{
		Source: src,
		Enter: func(_ context.Context, d walk.Dir) error {
			*log = append(*log, fmt.Sprintf("enter %q %d", d.Path, d.Depth))
			return nil
		},
		Entry: func(_ context.Context, e walk.Entry) error {
			*log = append(*log, fmt.Sprintf("%s %q %d", e.Kind, e.Path, e.Depth))
			return nil
		},
		Leave: func(_ context.Context, d walk.Dir) error {
			*log = append(*log, fmt.Sprintf("leave %q", d.Path))
			return nil
		},
	}
}

func TestOrderAndPaths(t *testing.T) {
	s := newTrees()
	sub := s.put(t, file("b.txt", "b"), file("a.txt", "a"))
	root := s.put(t, file("z", "z"), dir("d", sub), objects.TreeEntry{Name: "r", Kind: objects.KindRef, URI: "s3://b/k", Size: -1}, dir("e", sub))
	var log []string
	w := recorder(s, &log)
	if err := w.Walk(context.Background(), root, ""); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`enter "" 0`,
		`enter "d" 1`, `file "d/a.txt" 2`, `file "d/b.txt" 2`, `leave "d"`,
		`enter "e" 1`, `file "e/a.txt" 2`, `file "e/b.txt" 2`, `leave "e"`,
		`ref "r" 1`, `file "z" 1`,
		`leave ""`,
	}
	if !slices.Equal(log, want) {
		t.Errorf("walk:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
	// A prefix starts every path.
	log = nil
	if err := w.Walk(context.Background(), sub, "top"); err != nil {
		t.Fatal(err)
	}
	if want := []string{`enter "top" 0`, `file "top/a.txt" 1`, `file "top/b.txt" 1`, `leave "top"`}; !slices.Equal(log, want) {
		t.Errorf("walk with a prefix: %q, want %q", log, want)
	}
}

func TestSkipDir(t *testing.T) {
	s := newTrees()
	sub := s.put(t, file("a", "a"))
	root := s.put(t, dir("d", sub), dir("e", sub), file("f", "f"))
	seen := map[objects.ID]bool{}
	var files []string
	chunks := 0
	w := walk.Walker{
		Source: s,
		Enter: func(_ context.Context, d walk.Dir) error {
			if seen[d.ID] {
				return walk.SkipDir
			}
			seen[d.ID] = true
			return nil
		},
		Entry: func(_ context.Context, e walk.Entry) error {
			files = append(files, e.Path)
			if e.Path == "f" {
				return walk.SkipDir // no chunks for f
			}
			return nil
		},
		Chunks: func(_ context.Context, id objects.ID) (*objects.ChunkList, error) {
			return &objects.ChunkList{Blob: id, Chunks: []objects.Chunk{{ID: id, Size: 1}}}, nil
		},
		Chunk: func(context.Context, walk.Entry, objects.Chunk) error { chunks++; return nil },
	}
	if err := w.Walk(context.Background(), root, ""); err != nil {
		t.Fatal(err)
	}
	if want := []string{"d/a", "f"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q (e is the same tree as d, skipped)", files, want)
	}
	if chunks != 1 {
		t.Errorf("%d chunks visited, want 1 (d/a's; f's were skipped)", chunks)
	}
	// SkipDir for the root: nothing walked, no error.
	w.Enter = func(context.Context, walk.Dir) error { return walk.SkipDir }
	files = nil
	if err := w.Walk(context.Background(), root, ""); err != nil || len(files) != 0 {
		t.Errorf("Walk with the root skipped: %v, files %q", err, files)
	}
}

// chain returns a tree holding a file depth trees down.
func chain(t *testing.T, s *trees, depth int) objects.ID {
	id := s.put(t, file("f", "deep"))
	for range depth {
		id = s.put(t, dir("d", id))
	}
	return id
}

func TestTooDeep(t *testing.T) {
	s := newTrees()
	ok := chain(t, s, objects.MaxPathDepth)
	var n int
	w := walk.Walker{Source: s, Entry: func(context.Context, walk.Entry) error { n++; return nil }}
	if err := w.Walk(context.Background(), ok, ""); err != nil || n != 1 {
		t.Fatalf("a %d-deep tree: %v, %d files; want it walked", objects.MaxPathDepth, err, n)
	}
	deep := chain(t, s, 10000)
	start := time.Now()
	err := w.Walk(context.Background(), deep, "")
	if !errors.Is(err, walk.ErrTooDeep) || !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), "nest") {
		t.Errorf("a 10,000-deep tree: %v, want ErrTooDeep and ErrCorrupt", err)
	}
	if s.reads > 2*objects.MaxPathDepth+10 {
		t.Errorf("%d trees read, want the walk stopped at the limit", s.reads)
	}
	// With MaxFiles the measure pass refuses it first, with no callback.
	n = 0
	w.MaxFiles = 1 << 24
	if err := w.Walk(context.Background(), deep, ""); !errors.Is(err, walk.ErrTooDeep) || n != 0 {
		t.Errorf("a 10,000-deep tree with MaxFiles: %v, %d callbacks; want ErrTooDeep, none", err, n)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("refusing deep trees took %v", el)
	}
	// TreeError decides: the deep part is skipped, the rest walked.
	root := s.put(t, dir("deep", deep), file("beside", "x"))
	var reported []string
	w = walk.Walker{Source: s, MaxFiles: 1 << 24,
		Entry: func(_ context.Context, e walk.Entry) error { reported = append(reported, "file "+e.Path); return nil },
		TreeError: func(_ context.Context, d walk.Dir, err error) error {
			if !errors.Is(err, walk.ErrTooDeep) {
				return err
			}
			reported = append(reported, fmt.Sprintf("too deep at depth %d", d.Depth))
			return nil
		}}
	if err := w.Walk(context.Background(), root, ""); err != nil {
		t.Fatal(err)
	}
	if want := []string{"file beside", fmt.Sprintf("too deep at depth %d", objects.MaxPathDepth+1)}; !slices.Equal(reported, want) {
		t.Errorf("reported %q, want %q", reported, want)
	}
}

func TestTreeBomb(t *testing.T) {
	s := newTrees()
	id := s.put(t, file("f", "x"))
	for range 43 { // 2^43 paths from 44 trees
		id = s.put(t, dir("a", id), dir("b", id))
	}
	calls := 0
	w := walk.Walker{Source: s, MaxFiles: 1 << 24, Entry: func(context.Context, walk.Entry) error { calls++; return nil }}
	err := w.Walk(context.Background(), id, "")
	if !errors.Is(err, walk.ErrTooMany) || !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("a 2^43-path tree: %v, want ErrTooMany", err)
	}
	if calls != 0 || s.reads > 44 {
		t.Errorf("%d callbacks and %d reads before refusing; want none and one read per tree", calls, s.reads)
	}
	// Deduplicating by ID (as gc does), the same trees walk in 44 steps.
	seen := map[objects.ID]bool{}
	w = walk.Walker{Source: s, Enter: func(_ context.Context, d walk.Dir) error {
		if seen[d.ID] {
			return walk.SkipDir
		}
		seen[d.ID] = true
		return nil
	}}
	if err := w.Walk(context.Background(), id, ""); err != nil || len(seen) != 44 {
		t.Errorf("a unique walk: %v, %d trees; want 44", err, len(seen))
	}
}

func TestMissingTree(t *testing.T) {
	s := newTrees()
	gone := objects.Hash([]byte("not stored"))
	root := s.put(t, dir("a", gone), file("b", "b"))
	w := walk.Walker{Source: s}
	if err := w.Walk(context.Background(), root, ""); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("a missing subtree: %v, want ErrNotFound", err)
	}
	var files, missing []string
	w = walk.Walker{Source: s, MaxFiles: 10,
		Entry: func(_ context.Context, e walk.Entry) error { files = append(files, e.Path); return nil },
		TreeError: func(_ context.Context, d walk.Dir, err error) error {
			if errors.Is(err, objects.ErrNotFound) {
				missing = append(missing, d.Path)
				return nil
			}
			return err
		}}
	if err := w.Walk(context.Background(), root, ""); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{"b"}) || !slices.Equal(missing, []string{"a"}) {
		t.Errorf("files %q, missing %q; want [b], [a]", files, missing)
	}
	// A missing root goes to TreeError too.
	missing = nil
	if err := w.Walk(context.Background(), gone, "x"); err != nil || !slices.Equal(missing, []string{"x"}) {
		t.Errorf("a missing root: %v, missing %q", err, missing)
	}
}

func TestCanceled(t *testing.T) {
	s := newTrees()
	root := s.put(t, dir("d", s.put(t, file("a", "a"))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := walk.Walker{Source: s, TreeError: func(context.Context, walk.Dir, error) error { return nil }}
	if err := w.Walk(ctx, root, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk after cancel: %v, want context.Canceled", err)
	}
	w.MaxFiles = 10
	if err := w.Walk(ctx, root, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with MaxFiles after cancel: %v, want context.Canceled", err)
	}
}

// prefetching counts what a walk asked it to fetch ahead.
type prefetching struct {
	*trees
	asked [][]objects.ID
}

func (p *prefetching) Prefetch(_ context.Context, ids []objects.ID) error {
	p.asked = append(p.asked, ids)
	return nil
}

func TestPrefetch(t *testing.T) {
	s := newTrees()
	a, b := s.put(t, file("x", "x")), s.put(t, file("y", "y"))
	root := s.put(t, dir("a", a), dir("b", b), file("f", "f"))
	p := &prefetching{trees: s}
	w := walk.Walker{Source: p}
	if err := w.Walk(context.Background(), root, ""); err != nil {
		t.Fatal(err)
	}
	if len(p.asked) != 1 || !slices.Equal(p.asked[0], []objects.ID{a, b}) {
		t.Errorf("prefetched %v, want one call with the two subtrees", p.asked)
	}
}

func TestCached(t *testing.T) {
	s := newTrees()
	sub := s.put(t, file("a", "a"))
	root := s.put(t, dir("d", sub), dir("e", sub))
	c := walk.Cached(s)
	w := walk.Walker{Source: c, MaxFiles: 100}
	for range 3 {
		if err := w.Walk(context.Background(), root, ""); err != nil {
			t.Fatal(err)
		}
	}
	if s.reads != 2 {
		t.Errorf("%d reads through the cache, want 2 (each tree once)", s.reads)
	}
}

// TestPathOrder walks random trees, one of them a directory split into
// index nodes and leaves, whose names are prefixes of one another ("a",
// "a-b", "a.c", "a0"): with PathOrder the paths come sorted as strings,
// the order of a sorted manifest, and each exactly once.
func TestPathOrder(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "-", ".", "0", "~", "_"}
	name := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	s := newTrees()
	var want []string
	// build writes a directory of about n entries at path p.
	var build func(p string, n, depth int) objects.ID
	build = func(p string, n, depth int) objects.ID {
		names := map[string]bool{}
		for len(names) < min(n, 1000) { // short names: at most 2,800 of them
			if nm := name(); !strings.HasSuffix(nm, ".") {
				names[nm] = true
			}
		}
		if n > 4096 { // big enough to be split: names of their own
			for i := 0; len(names) < n; i++ {
				names[fmt.Sprintf("%s%d", name(), i)] = true
			}
		}
		sorted := slices.Sorted(maps.Keys(names))
		dw := objects.NewDirWriter(s.putBytes)
		for _, nm := range sorted {
			path := nm
			if p != "" {
				path = p + "/" + nm
			}
			e := file(nm, path)
			if depth < 3 && rng.IntN(3) == 0 {
				e = dir(nm, build(path, 1+rng.IntN(6), depth+1))
			} else {
				want = append(want, path)
			}
			if err := dw.Add(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		id, err := dw.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	for _, n := range []int{8, 30, 5000} {
		want = want[:0]
		root := build("", n, 0)
		slices.Sort(want)
		var got []string
		w := walk.Walker{Source: s, PathOrder: true, MaxFiles: 1 << 20,
			Entry: func(_ context.Context, e walk.Entry) error {
				got = append(got, e.Path)
				return nil
			}}
		if err := w.Walk(ctx, root, ""); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("%d entries: path %d is %q, want %q (%d paths, want %d)", n, i, got[i], want[i], len(got), len(want))
				}
			}
			t.Fatalf("%d entries: %d paths, want %d", n, len(got), len(want))
		}
	}
}

// TestCachedBounded walks a version with more entries than a Cached
// source keeps: the walk is still right, and some trees are read again
// (forgotten), so the cache did not grow with the version.
func TestCachedBounded(t *testing.T) {
	ctx := context.Background()
	s := newTrees()
	var dirs []objects.TreeEntry
	const perDir = 1000
	n := walk.CacheEntries/perDir + 20
	for i := range n {
		var es []objects.TreeEntry
		for j := range perDir {
			es = append(es, file(fmt.Sprintf("f%04d", j), fmt.Sprint(i, j)))
		}
		dirs = append(dirs, dir(fmt.Sprintf("d%04d", i), s.put(t, es...)))
	}
	root := s.put(t, dirs...)
	files := 0
	w := walk.Walker{Source: walk.Cached(s), MaxFiles: 1 << 30,
		Entry: func(context.Context, walk.Entry) error { files++; return nil }}
	if err := w.Walk(ctx, root, ""); err != nil {
		t.Fatal(err)
	}
	if files != n*perDir {
		t.Errorf("walked %d files, want %d", files, n*perDir)
	}
	if s.reads <= n+1 {
		t.Errorf("%d reads of %d trees measured and walked: the cache kept them all", s.reads, n+1)
	}
}
