package objects_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/artvcs/art/objects"
)

// testPack returns a pack as a remote holds it (its header, then its
// entries): three objects, one empty, and a chunk list; and its name.
func testPack(tb testing.TB) (pack []byte, name string, es []objects.PackEntry) {
	tb.Helper()
	var body bytes.Buffer
	for _, s := range []string{"alpha", "", "bravo charlie"} {
		es = append(es, objects.PackEntry{PackKey: objects.PackKey{Kind: objects.PackObject, ID: objects.Hash([]byte(s))}, Size: int64(len(s))})
		body.WriteString(s)
	}
	c := objects.Hash([]byte("chunk"))
	l := &objects.ChunkList{Blob: objects.Hash([]byte("chunk")), Size: 5, Chunks: []objects.Chunk{{ID: c, Size: 5}}}
	enc, err := l.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	es = append(es, objects.PackEntry{PackKey: objects.PackKey{Kind: objects.PackList, ID: l.Blob}, Size: int64(len(enc))})
	body.Write(enc)
	hdr := objects.EncodePackHeader(es)
	return append(hdr, body.Bytes()...), objects.Hash(hdr).String(), es
}

func TestPackHeaderRoundTrip(t *testing.T) {
	_, _, es := testPack(t)
	hdr := objects.EncodePackHeader(es)
	back, err := objects.DecodePackHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(objects.EncodePackHeader(back), hdr) {
		t.Fatalf("round trip changed the header:\n%s", objects.EncodePackHeader(back))
	}
}

func TestPackHeaderRefused(t *testing.T) {
	id := objects.Hash([]byte("x")).String()
	other := objects.Hash([]byte("y")).String()
	for _, h := range []string{
		"",
		"art pack 2\ncount 0\n",
		"art pack 1\ncount 01\no " + id + " 1\n",
		"art pack 1\ncount 2\no " + id + " 1\n", // fewer entries than counted
		"art pack 1\ncount 1\no " + id + " 1\nextra",                                                   // trailing bytes
		"art pack 1\ncount 1\nx " + id + " 1\n",                                                        // unknown kind
		"art pack 1\ncount 1\no " + strings.ToUpper(id) + " 1\n",                                       // not lowercase
		"art pack 1\ncount 1\no " + id + " -1\n",                                                       // negative size
		"art pack 1\ncount 1\no " + id + " 007\n",                                                      // not canonical
		"art pack 1\ncount 1\nl " + id + " 0\n",                                                        // empty chunk list
		"art pack 1\ncount 2\no " + id + " 1\no " + id + " 1\n",                                        // twice
		"art pack 1\ncount 1\no " + id + "  1\n",                                                       // two spaces
		"art pack 1\ncount 99999999\n",                                                                 // too many
		"art pack 1\ncount 1\no " + id + " 99999999999999999999\n",                                     // overflow
		"art pack 1\r\ncount 0\n",                                                                      // CRLF
		"art pack 1\ncount 2\no " + id + " 9000000000000000000\no " + other + " 9000000000000000000\n", // offsets would overflow
	} {
		if _, err := objects.DecodePackHeader([]byte(h)); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("DecodePackHeader(%q) = %v, want ErrMalformed", h, err)
		}
	}
}

// TestVerifyPackBody: a pack passes VerifyPack only if it is exactly what
// its name says.
func TestVerifyPackBody(t *testing.T) {
	pack, name, _ := testPack(t)
	read := func(name string, b []byte) error {
		r, err := objects.VerifyPack(name, bytes.NewReader(b))
		if err != nil {
			return err
		}
		got, err := io.ReadAll(r)
		if err == nil && !bytes.Equal(got, b) {
			t.Fatalf("the verifier changed the bytes")
		}
		return err
	}
	if err := read(name, pack); err != nil {
		t.Fatalf("a good pack: %v", err)
	}
	hdrLen := len(objects.EncodePackHeader(mustDecodeHeader(t, pack)))
	for what, b := range map[string][]byte{
		"flipped object byte": flip(pack, hdrLen+1),
		"flipped header byte": flip(pack, 20),
		"flipped list byte":   flip(pack, len(pack)-3),
		"truncated":           pack[:len(pack)-1],
		"trailing byte":       append(append([]byte{}, pack...), 'x'),
		"header only":         pack[:hdrLen],
	} {
		if err := read(name, b); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	if err := read(objects.Hash([]byte("other")).String(), pack); err == nil {
		t.Error("a pack under another name: accepted")
	}
	for _, bad := range []string{"", "x", strings.ToUpper(name), name + ".pack", "../" + name[3:]} {
		if err := read(bad, pack); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("VerifyPack(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

// TestPackReader: a pack streamed from its entries' readers is the pack,
// and an entry of another size than its header says fails the read.
func TestPackReader(t *testing.T) {
	pack, _, es := testPack(t)
	hdr := objects.EncodePackHeader(es)
	bodies := map[objects.PackKey][]byte{}
	off := len(hdr)
	for _, e := range es {
		bodies[e.PackKey] = pack[off : off+int(e.Size)]
		off += int(e.Size)
	}
	read := func(bodies map[objects.PackKey][]byte) ([]byte, []int64, error) {
		var done []int64
		opened := 0
		r := objects.NewPackReader(hdr, es, func(e objects.PackEntry) (io.ReadCloser, error) {
			opened++
			return io.NopCloser(bytes.NewReader(bodies[e.PackKey])), nil
		}, func(n int64) { done = append(done, n) })
		defer r.Close()
		b, err := io.ReadAll(r)
		if err == nil && opened != len(es)-1 {
			t.Errorf("opened %d entries, want %d (all but the empty one)", opened, len(es)-1)
		}
		return b, done, err
	}
	got, done, err := read(bodies)
	if err != nil || !bytes.Equal(got, pack) {
		t.Fatalf("NewPackReader read %q, %v; want the pack", got, err)
	}
	if want := []int64{5, 0, 13, es[3].Size}; !equalInts(done, want) {
		t.Errorf("done called with %v, want %v", done, want)
	}
	k := es[0].PackKey
	for what, b := range map[string][]byte{"short": bodies[k][:4], "long": append(append([]byte{}, bodies[k]...), 'x')} {
		bad := map[objects.PackKey][]byte{}
		for kk, v := range bodies {
			bad[kk] = v
		}
		bad[k] = b
		if _, _, err := read(bad); !errors.Is(err, objects.ErrCorrupt) {
			t.Errorf("%s entry: %v, want ErrCorrupt", what, err)
		}
	}
}

// TestPackIndex: one index type, for a local pack (base 0) and a remote's
// (base: its header's length); the first pack listing an entry keeps it.
func TestPackIndex(t *testing.T) {
	_, name, es := testPack(t)
	hdrLen := int64(len(objects.EncodePackHeader(es)))
	var x objects.PackIndex
	if x.Has(es[0].PackKey) || x.Holds(name) || x.Len() != 0 {
		t.Fatal("the zero PackIndex is not empty")
	}
	var nilIndex *objects.PackIndex
	if _, ok := nilIndex.Lookup(es[0].PackKey); ok {
		t.Fatal("a nil PackIndex holds something")
	}
	x.Add(name, hdrLen, es)
	x.Add(name, 0, es) // again: nothing changes
	other := objects.Hash([]byte("other pack")).String()
	x.Add(other, 0, es[2:])
	off := hdrLen
	for _, e := range es {
		loc, ok := x.Lookup(e.PackKey)
		if want := (objects.PackLoc{Pack: name, Off: off, Size: e.Size}); !ok || loc != want {
			t.Errorf("Lookup(%s)=%+v, %v; want %+v", e.PackKey, loc, ok, want)
		}
		off += e.Size
	}
	if _, ok := x.Lookup(objects.PackKey{Kind: objects.PackList, ID: es[0].ID}); ok {
		t.Error("an object's key found as a chunk list")
	}
	if got, want := x.Len(), len(es); got != want {
		t.Errorf("Len()=%d, want %d", got, want)
	}
	if got := x.Names(); len(got) != 2 || got[0] != name || got[1] != other || !x.Holds(other) {
		t.Errorf("Names()=%v, want [%s %s]", got, name, other)
	}
	// All: each entry once, where Lookup says, in key order.
	n := 0
	var last objects.PackKey
	for k, loc := range x.All() {
		if want, ok := x.Lookup(k); !ok || loc != want || loc.Pack != name {
			t.Errorf("All() yielded %s at %+v, Lookup says %+v", k, loc, want)
		}
		if n > 0 && !packKeyLess(last, k) {
			t.Errorf("All() yielded %s after %s", k, last)
		}
		last = k
		n++
	}
	if n != len(es) {
		t.Errorf("All() yielded %d entries, want %d", n, len(es))
	}
}

// packKeyLess is the order of PackIndex.All: by ID, then kind.
func packKeyLess(a, b objects.PackKey) bool {
	if c := bytes.Compare(a.ID[:], b.ID[:]); c != 0 {
		return c < 0
	}
	return a.Kind < b.Kind
}

func TestPackNameOf(t *testing.T) {
	id := objects.Hash([]byte("x")).String()
	for file, want := range map[string]string{
		id + ".idx":                        id,
		id + ".pack":                       "",
		strings.ToUpper(id) + ".idx":       "",
		id[1:] + ".idx":                    "",
		".idx":                             "",
		"packs/" + id + ".idx":             "",
		".tmp-" + id + ".idx":              "",
		id + ".idx.tmp":                    "",
		id[:63] + "g" + objects.PackSuffix: "",
	} {
		got, ok := objects.PackNameOf(file, objects.PackIndexSuffix)
		if got != want || ok != (want != "") {
			t.Errorf("PackNameOf(%q)=%q, %v; want %q", file, got, ok, want)
		}
	}
}

func mustDecodeHeader(tb testing.TB, pack []byte) []objects.PackEntry {
	tb.Helper()
	hdr, err := objects.ReadPackHeader(bufioReader(pack))
	if err != nil {
		tb.Fatal(err)
	}
	es, err := objects.DecodePackHeader(hdr)
	if err != nil {
		tb.Fatal(err)
	}
	return es
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 1
	return c
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func FuzzDecodePackHeader(f *testing.F) {
	pack, _, es := testPack(f)
	f.Add(objects.EncodePackHeader(es))
	f.Add(pack)
	f.Add([]byte("art pack 1\ncount 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := objects.DecodePackHeader(b)
		if err != nil {
			return
		}
		// What decodes is canonical: it encodes back to the same bytes.
		if enc := objects.EncodePackHeader(es); !bytes.Equal(enc, b) {
			t.Fatalf("decoded %q, encodes as %q", b, enc)
		}
	})
}

// FuzzVerifyPackBody: whatever a client sends `art serve` as a pack, the
// verifier never panics, and what it lets through is exactly a pack whose
// header hashes to its name and whose objects hash to their IDs.
func FuzzVerifyPackBody(f *testing.F) {
	pack, name, _ := testPack(f)
	f.Add(pack, name)
	f.Add(pack[:len(pack)-1], name)
	f.Add(append(append([]byte{}, pack...), 0), name)
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		r, err := objects.VerifyPack(name, bytes.NewReader(b))
		if err != nil {
			return
		}
		got, err := io.ReadAll(r)
		if err != nil {
			return
		}
		if !bytes.Equal(got, b) {
			t.Fatal("the verifier changed the bytes")
		}
		hdr, err := objects.ReadPackHeader(bufioReader(b))
		if err != nil {
			t.Fatalf("accepted a pack whose header does not read: %v", err)
		}
		if objects.Hash(hdr).String() != name {
			t.Fatal("accepted a pack under another name")
		}
		es, err := objects.DecodePackHeader(hdr)
		if err != nil {
			t.Fatalf("accepted a bad header: %v", err)
		}
		off := len(hdr)
		for _, e := range es {
			body := b[off : off+int(e.Size)]
			if e.Kind == objects.PackObject && objects.Hash(body) != e.ID {
				t.Fatalf("accepted %s with other bytes", e.PackKey)
			}
			off += int(e.Size)
		}
		if off != len(b) {
			t.Fatalf("accepted %d bytes after the entries", len(b)-off)
		}
	})
}

// TestPackIndexMany adds 300 packs of 1,000 entries, each sharing half its
// entries with the pack before, so that entries move from the recent map
// into the sorted slice many times (and, in "spill", out of memory into
// the spill file, several times): every key is found where the first pack
// listing it put it, before and after each merge, and All yields each
// once, in key order.
func TestPackIndexMany(t *testing.T) {
	t.Run("memory", testPackIndexMany)
	t.Run("spill", func(t *testing.T) {
		defer objects.SetPackIndexSpillAt(20_000)()
		testPackIndexMany(t)
		if objects.PackIndexSpilled(nil) {
			t.Fatal("a nil index says it spilled")
		}
	})
}

func testPackIndexMany(t *testing.T) {
	var x objects.PackIndex
	want := map[objects.PackKey]objects.PackLoc{}
	key := func(i int) objects.PackKey {
		k := objects.PackObjectKey(objects.Hash(fmt.Appendf(nil, "entry %d", i)))
		if i%7 == 0 {
			k.Kind = objects.PackList
		}
		return k
	}
	const packs, per = 300, 1000
	for p := range packs {
		name := objects.Hash(fmt.Appendf(nil, "pack %d", p)).String()
		var es []objects.PackEntry
		off := int64(100)
		for i := p * per / 2; i < p*per/2+per; i++ {
			e := objects.PackEntry{PackKey: key(i), Size: int64(i%13 + 1)}
			es = append(es, e)
			if _, ok := want[e.PackKey]; !ok {
				want[e.PackKey] = objects.PackLoc{Pack: name, Off: off, Size: e.Size}
			}
			off += e.Size
		}
		x.Add(name, 100, es)
		if p%50 == 0 || p == packs-1 {
			for k, w := range want {
				if got, ok := x.Lookup(k); !ok || got != w {
					t.Fatalf("after %d packs: Lookup(%s) = %+v, %v; want %+v", p+1, k, got, ok, w)
				}
			}
		}
	}
	if x.Len() != len(want) {
		t.Errorf("Len() = %d, want %d", x.Len(), len(want))
	}
	if _, ok := x.Lookup(key(-1)); ok {
		t.Error("a key never added was found")
	}
	seen := 0
	var last objects.PackKey
	for k, loc := range x.All() {
		if want[k] != loc {
			t.Fatalf("All yielded %s at %+v, want %+v", k, loc, want[k])
		}
		if seen > 0 && !packKeyLess(last, k) {
			t.Fatalf("All yielded %s after %s", k, last)
		}
		last = k
		seen++
	}
	// An early stop stops; Walk passes fn's error on.
	stopAt := 0
	for range x.All() {
		if stopAt++; stopAt == 10 {
			break
		}
	}
	errStop := errors.New("stop here")
	calls := 0
	if err := x.Walk(func(objects.PackKey, objects.PackLoc) error {
		calls++
		if calls == 5 {
			return errStop
		}
		return nil
	}); !errors.Is(err, errStop) || calls != 5 {
		t.Errorf("Walk stopped after %d calls with %v, want 5 and %v", calls, err, errStop)
	}
	if seen != len(want) {
		t.Errorf("All yielded %d entries, want %d", seen, len(want))
	}
	if spill := objects.PackIndexSpillAt(); objects.PackIndexSpilled(&x) != (len(want) > spill) {
		t.Errorf("%d entries, spilled %v (spilling from %d)", len(want), objects.PackIndexSpilled(&x), spill)
	}
}

// TestPackIndexWalkWhileAdding: a walk sees the entries the index held
// when it began, all of them, even while packs added meanwhile spill the
// index to a new file (the old one stays open for the walk).
func TestPackIndexWalkWhileAdding(t *testing.T) {
	defer objects.SetPackIndexSpillAt(4096)()
	var x objects.PackIndex
	pack := func(p, n int) (string, []objects.PackEntry) {
		es := make([]objects.PackEntry, n)
		for i := range es {
			es[i] = objects.PackEntry{PackKey: objects.PackObjectKey(objects.Hash(fmt.Appendf(nil, "%d/%d", p, i))), Size: 10}
		}
		return objects.Hash(fmt.Appendf(nil, "pack %d", p)).String(), es
	}
	add := func(p, n int) {
		name, es := pack(p, n)
		x.Add(name, 0, es)
	}
	for p := range 3 {
		add(p, 3000)
	}
	if !objects.PackIndexSpilled(&x) {
		t.Fatal("9,000 entries did not spill at 4,096")
	}
	before := x.Len()
	seen, added := 0, 3
	if err := x.Walk(func(k objects.PackKey, loc objects.PackLoc) error {
		seen++
		if seen%1000 == 0 { // merges and spills while the walk reads the old file
			add(added, 5000)
			added++
		}
		return nil
	}); err != nil {
		t.Fatalf("Walk while adding: %v", err)
	}
	if seen != before {
		t.Errorf("Walk saw %d entries, the index held %d when it began", seen, before)
	}
	if want := before + (added-3)*5000; x.Len() != want {
		t.Errorf("Len()=%d after the adds, want %d", x.Len(), want)
	}
}
