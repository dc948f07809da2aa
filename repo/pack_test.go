package repo

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/artvcs/art/objects"
)

// testPack returns a pack of three objects and a chunk list, and its name.
func testPack(t testing.TB) (pack []byte, name string, es []packEntry) {
	t.Helper()
	var body bytes.Buffer
	for _, s := range []string{"alpha", "", "bravo charlie"} {
		es = append(es, packEntry{packKey{packKindObject, objects.Hash([]byte(s))}, int64(len(s))})
		body.WriteString(s)
	}
	c := objects.Hash([]byte("chunk"))
	l := &objects.ChunkList{Blob: objects.Hash([]byte("chunk")), Size: 5, Chunks: []objects.Chunk{{ID: c, Size: 5}}}
	enc, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	es = append(es, packEntry{packKey{packKindList, l.Blob}, int64(len(enc))})
	body.Write(enc)
	hdr := encodePackHeader(es)
	return append(hdr, body.Bytes()...), objects.Hash(hdr).String(), es
}

func TestPackHeaderRoundTrip(t *testing.T) {
	_, _, es := testPack(t)
	hdr := encodePackHeader(es)
	back, err := decodePackHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodePackHeader(back), hdr) {
		t.Fatalf("round trip changed the header:\n%s", encodePackHeader(back))
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
		if _, err := decodePackHeader([]byte(h)); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("decodePackHeader(%q) = %v, want ErrMalformed", h, err)
		}
	}
}

// TestVerifyPackBody: a pack passes only if it is exactly what its name
// says.
func TestVerifyPackBody(t *testing.T) {
	pack, name, _ := testPack(t)
	read := func(name string, b []byte) error {
		r, err := verifyPackBody(name, bytes.NewReader(b))
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
	hdrLen := len(encodePackHeader(mustDecodeHeader(t, pack)))
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
}

func mustDecodeHeader(t *testing.T, pack []byte) []packEntry {
	t.Helper()
	hdr, err := readPackHeader(bufioReader(pack))
	if err != nil {
		t.Fatal(err)
	}
	es, err := decodePackHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 1
	return c
}

func TestSplitPacks(t *testing.T) {
	var es []packEntry
	for i := 0; i < 10; i++ {
		es = append(es, packEntry{packKey{packKindObject, objects.Hash([]byte{byte(i)})}, packTarget / 4})
	}
	es = append(es, packEntry{packKey{packKindObject, objects.Hash([]byte("big"))}, 3 * packTarget})
	packs := splitPacks(es)
	n := 0
	for _, p := range packs {
		var size int64
		for _, e := range p {
			size += e.size
		}
		if size > packTarget && len(p) > 1 {
			t.Errorf("a pack of %d entries holds %d bytes, more than %d", len(p), size, packTarget)
		}
		n += len(p)
	}
	if n != len(es) || len(packs) != 4 {
		t.Fatalf("%d entries in %d packs, want %d in 4", n, len(packs), len(es))
	}
}

func FuzzDecodePackHeader(f *testing.F) {
	pack, _, es := testPack(f)
	f.Add(encodePackHeader(es))
	f.Add(pack)
	f.Add([]byte("art pack 1\ncount 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodePackHeader(b)
		if err != nil {
			return
		}
		// What decodes is canonical: it encodes back to the same bytes.
		if enc := encodePackHeader(es); !bytes.Equal(enc, b) {
			t.Fatalf("decoded %q, encodes as %q", b, enc)
		}
	})
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// FuzzVerifyPackBody: whatever a client sends `art serve` as a pack, the
// verifier never panics, and what it lets through is exactly a pack whose
// header hashes to its name and whose objects hash to their IDs.
func FuzzVerifyPackBody(f *testing.F) {
	pack, name, _ := testPack(f)
	f.Add(pack, name)
	f.Add(pack[:len(pack)-1], name)
	f.Add(append(append([]byte{}, pack...), 0), name)
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		r, err := verifyPackBody(name, bytes.NewReader(b))
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
		hdr, err := readPackHeader(bufioReader(b))
		if err != nil {
			t.Fatalf("accepted a pack whose header does not read: %v", err)
		}
		if objects.Hash(hdr).String() != name {
			t.Fatal("accepted a pack under another name")
		}
		es, err := decodePackHeader(hdr)
		if err != nil {
			t.Fatalf("accepted a bad header: %v", err)
		}
		off := len(hdr)
		for _, e := range es {
			body := b[off : off+int(e.size)]
			if e.kind == packKindObject && objects.Hash(body) != e.id {
				t.Fatalf("accepted %s with other bytes", e.packKey)
			}
			off += int(e.size)
		}
		if off != len(b) {
			t.Fatalf("accepted %d bytes after the entries", len(b)-off)
		}
	})
}
