package objects_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/artvcs/art/objects"
)

// The fuzz targets check the canonical-encoding invariant: whatever a decoder
// accepts re-encodes to exactly the bytes it was given. Found inputs are kept
// in testdata/fuzz/<target>/ and run as ordinary tests.

func FuzzDecodeTree(f *testing.F) {
	f.Add(readGolden(f, "tree-v1.golden"))
	f.Add([]byte(objects.TreeHeader))
	f.Add([]byte(objects.TreeHeader + "file\ta\t05\t" + idA + "\n"))
	f.Add([]byte(objects.TreeHeader + "file\tA.txt\t1\t" + idA + "\nfile\ta.txt\t1\t" + idB + "\n"))
	f.Add([]byte(objects.TreeHeader + "ref\tr\t-\t-\tx\n"))
	f.Add([]byte(objects.TreeHeader + "dir\t.art\t" + idA + "\n"))
	f.Add([]byte(objects.TreeHeader + "file\te\u0301\t1\t" + idA + "\nfile\t\u00e9\t1\t" + idB + "\n"))
	f.Add([]byte(objects.TreeHeader + "dir\t.a\u200brt\t" + idA + "\nref\tr\t12\tblake3:x\ts3://b/k\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := objects.DecodeTree(b)
		if err != nil {
			return
		}
		enc, err := tree.Encode()
		if err != nil {
			t.Fatalf("DecodeTree accepted %q but Encode fails: %v", b, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("DecodeTree(%q) re-encodes to %q", b, enc)
		}
		folded := map[string]string{}
		for i, e := range tree.Entries {
			if err := objects.ValidateName(e.Name); err != nil {
				t.Fatalf("decoded entry name %q: %v", e.Name, err)
			}
			if i > 0 && tree.Entries[i-1].Name >= e.Name {
				t.Fatalf("decoded entries not strictly sorted: %q, %q", tree.Entries[i-1].Name, e.Name)
			}
			if other, ok := folded[objects.FoldName(e.Name)]; ok {
				t.Fatalf("decoded entries %q and %q are one file on a case-insensitive file system", other, e.Name)
			}
			folded[objects.FoldName(e.Name)] = e.Name
		}
		again, err := objects.DecodeTree(enc)
		if err != nil || !reflect.DeepEqual(again, tree) {
			t.Fatalf("DecodeTree(Encode(t))=%+v, %v; want %+v", again, err, tree)
		}
	})
}

func FuzzDecodeTreeIndex(f *testing.F) {
	golden := readGolden(f, "tree-index-v1.golden")
	f.Add(golden)
	f.Add([]byte(objects.TreeIndexHeader + "level 2\na\t1\t" + idA + "\nb\t9\t" + idB + "\n"))
	f.Add([]byte(objects.TreeIndexHeader + "level 1\na\t4096\t" + idA + "\nb\t1\t" + idB + "\n"))
	f.Add([]byte(objects.TreeIndexHeader + "level 1\na\t255\t" + idA + "\nb\t1\t" + idB + "\n"))
	f.Add([]byte(objects.TreeIndexHeader + "level 16\n.art\t1\t" + idA + "\n"))
	f.Add([]byte(objects.TreeIndexHeader + "level 1\nA\t1\t" + idA + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := objects.DecodeDirNode(b)
		if err != nil {
			return
		}
		if n.Tree != nil {
			return // FuzzDecodeTree's
		}
		x := n.Index
		enc, err := x.Encode()
		if err != nil {
			t.Fatalf("DecodeTreeIndex accepted %q but Encode fails: %v", b, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("DecodeTreeIndex(%q) re-encodes to %q", b, enc)
		}
		if x.Level < 1 || x.Level > objects.MaxIndexLevel || len(x.Children) == 0 || len(x.Children) > objects.IndexMaxChildren {
			t.Fatalf("decoded level %d with %d children", x.Level, len(x.Children))
		}
		for i, c := range x.Children {
			if err := objects.ValidateName(c.First); err != nil {
				t.Fatalf("decoded first name %q: %v", c.First, err)
			}
			if i > 0 && x.Children[i-1].First >= c.First {
				t.Fatalf("decoded children not strictly sorted: %q, %q", x.Children[i-1].First, c.First)
			}
			if c.Count < 1 || x.Level == 1 && c.Count > objects.LeafMaxEntries {
				t.Fatalf("decoded child %q of %d entries at level %d", c.First, c.Count, x.Level)
			}
			if got := x.Find(c.First); got != i {
				t.Fatalf("Find(%q)=%d, want %d", c.First, got, i)
			}
		}
		if x.Total() < int64(len(x.Children)) {
			t.Fatalf("Total()=%d for %d children", x.Total(), len(x.Children))
		}
		again, err := objects.DecodeTreeIndex(enc)
		if err != nil || !reflect.DeepEqual(again, x) {
			t.Fatalf("DecodeTreeIndex(Encode(x))=%+v, %v; want %+v", again, err, x)
		}
	})
}

func FuzzDecodeCommit(f *testing.F) {
	golden := readGolden(f, "commit-v1.golden")
	f.Add(golden)
	f.Add(bytes.Replace(golden, []byte("metadata {"), []byte(`metadata {"b":1, "a":2,`), 1))
	f.Add([]byte("art commit 1\nname m\ntype model\nversion 0\ntree " + idA +
		"\ncreated 0\ndescription \"\"\nmetadata {}\n"))
	f.Add([]byte("art commit 1\nname m\ntype model\nversion 0\ntree " + idA +
		"\ncreated -1\nrun r\ndescription \"\\u00e9\"\nmetadata {\"a\":[1.5,{\"b\":null}]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := objects.DecodeCommit(b)
		if err != nil {
			return
		}
		enc, err := c.Encode()
		if err != nil {
			t.Fatalf("DecodeCommit accepted %q but Encode fails: %v", b, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("DecodeCommit(%q) re-encodes to %q", b, enc)
		}
		meta, err := objects.CanonicalJSON(c.Metadata)
		if err != nil || !bytes.Equal(meta, c.Metadata) {
			t.Fatalf("decoded metadata %s is not canonical (%s, %v)", c.Metadata, meta, err)
		}
	})
}

func FuzzDecodeRun(f *testing.F) {
	golden := readGolden(f, "run-v1.golden")
	f.Add(golden)
	f.Add(bytes.Replace(golden, []byte("config {"), []byte(`config {"b":1, "a":2,`), 1))
	f.Add([]byte("art run 1\nid a\njob_type eval\nname \"\"\nconfig {}\nhost \"\"\nstarted 5\nfinished 7\nstatus failed\n"))
	f.Add([]byte("art run 1\nid 0z\njob_type t\nname \"\\u00e9\"\nconfig {}\nhost \"h\"\nstarted -1\nfinished 0\nstatus finished\n" +
		"input " + idB + "\ninput " + idA + "\noutput " + idA + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := objects.DecodeRun(b)
		if err != nil {
			return
		}
		enc, err := r.Encode()
		if err != nil {
			t.Fatalf("DecodeRun accepted %q but Encode fails: %v", b, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("DecodeRun(%q) re-encodes to %q", b, enc)
		}
		if err := objects.ValidateRunID(r.ID); err != nil {
			t.Fatalf("decoded run id: %v", err)
		}
		for _, ids := range [][]objects.ID{r.Inputs, r.Outputs} {
			for i := 1; i < len(ids); i++ {
				if ids[i-1].String() >= ids[i].String() {
					t.Fatalf("decoded ids not strictly sorted: %s, %s", ids[i-1], ids[i])
				}
			}
		}
		again, err := objects.DecodeRun(enc)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("DecodeRun(Encode(r))=%+v, %v; want %+v", again, err, r)
		}
	})
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"b":1,"a":[1.0,-0.0,1e400]}`, `{"a":1}}`, `{"x":"\u003c"}`, `{"a":12345678901234567890}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := objects.CanonicalJSON(b)
		if err != nil {
			return
		}
		again, err := objects.CanonicalJSON(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("CanonicalJSON(%q)=%q; of that: %q, %v", b, c, again, err)
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range validNames {
		f.Add(s)
	}
	for _, s := range invalidNames {
		f.Add(s)
	}
	for _, h := range hostileNames {
		f.Add(h.name)
	}
	for _, s := range allowedNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if err := objects.ValidateName(name); err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("ValidateName(%.40q): error of %d bytes", name, len(err.Error()))
			}
			return
		}
		if name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00\n\r") {
			t.Fatalf("ValidateName accepted %q", name)
		}
		if objects.IsReservedName(name) {
			t.Fatalf("ValidateName accepted reserved %q", name)
		}
		if len(name) > objects.MaxNameLen || !utf8.ValidString(name) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
			t.Fatalf("ValidateName accepted %q", name)
		}
		for _, r := range name {
			if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 || r >= 0x202a && r <= 0x202e ||
				r >= 0x2066 && r <= 0x2069 || r == 0xfeff {
				t.Fatalf("ValidateName accepted %q, holding %U", name, r)
			}
		}
		// What file systems might make of the name (FoldName drops what
		// HFS+ ignores) is never the directory or its parent, nor, even
		// after compatibility normalisation, the repository.
		for i, view := range fsViews(name) {
			k := objects.FoldName(view)
			if k == objects.FoldName(".art") || i < 2 && (k == "" || k == "." || k == "..") {
				t.Fatalf("ValidateName accepted %q, which a file system may see as %q", name, view)
			}
		}
		if p, err := objects.CleanPath(name); err != nil || p != name {
			t.Fatalf("CleanPath(valid name %q)=%q, %v", name, p, err)
		}
	})
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range validNames {
		f.Add(s)
	}
	for _, s := range []string{"./a//b/", "../x", "a/../b", "/x", "a/./b", "a\\..\\b", "./.ART/x", "a/.a\u200brt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := objects.CleanPath(p)
		if err != nil {
			return
		}
		if strings.HasPrefix(c, "/") || strings.HasSuffix(c, "/") {
			t.Fatalf("CleanPath(%q)=%q has a leading or trailing slash", p, c)
		}
		for _, part := range strings.Split(c, "/") {
			if part == "" || part == "." || part == ".." {
				t.Fatalf("CleanPath(%q)=%q has component %q", p, c, part)
			}
			if err := objects.ValidateName(part); err != nil {
				t.Fatalf("CleanPath(%q)=%q has invalid component: %v", p, c, err)
			}
		}
		if again, err := objects.CleanPath(c); err != nil || again != c {
			t.Fatalf("CleanPath not idempotent: %q -> %q -> %q, %v", p, c, again, err)
		}
	})
}

func FuzzDecodeChunkList(f *testing.F) {
	a, b := objects.Hash([]byte("a")), objects.Hash([]byte("bc"))
	l := &objects.ChunkList{Blob: objects.Hash([]byte("abc")), Size: 3, Chunks: []objects.Chunk{{ID: a, Size: 1}, {ID: b, Size: 2}}}
	enc, _ := l.Encode()
	f.Add(enc)
	f.Add([]byte("art chunks 1\nblob " + a.String() + "\nsize 1\n" + a.String() + " 1\n"))
	f.Add([]byte("art chunks 1\nblob x\nsize 01\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := objects.DecodeChunkList(b)
		if err != nil {
			return
		}
		enc, err := l.Encode()
		if err != nil {
			t.Fatalf("DecodeChunkList accepted %q but Encode fails: %v", b, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("DecodeChunkList(%q) re-encodes to %q", b, enc)
		}
		var sum int64
		for _, c := range l.Chunks {
			if c.Size <= 0 {
				t.Fatalf("decoded a chunk of size %d", c.Size)
			}
			sum += c.Size
		}
		if sum != l.Size || len(l.Chunks) == 0 {
			t.Fatalf("decoded list of size %d with chunks adding to %d", l.Size, sum)
		}
	})
}

// fsViews returns what some file system might take name for: itself, as
// NTFS sees it (a stream suffix cut, trailing dots and spaces dropped),
// then (look-alikes, not any file system's view) after compatibility
// normalisation, and both.
func fsViews(name string) []string {
	win := func(s string) string {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			s = s[:i]
		}
		return strings.TrimRight(s, ". ")
	}
	k := norm.NFKC.String(name)
	return []string{name, win(name), k, win(k), norm.NFKC.String(win(k))}
}

// FuzzFoldName checks the collision key: two names strings.EqualFold
// takes for one, or that differ only in Unicode normalisation or in
// default-ignorable code points, share their key, and the key is stable.
func FuzzFoldName(f *testing.F) {
	for _, p := range collidingPairs {
		f.Add(p[0], p[1])
	}
	f.Add("README", "readme")
	f.Add("a", "\u0430")
	f.Add("\u0130", "i")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		ka := objects.FoldName(a)
		if again := objects.FoldName(ka); again != ka {
			t.Fatalf("FoldName(%q)=%q, FoldName of that %q", a, ka, again)
		}
		for _, v := range []string{norm.NFC.String(a), norm.NFD.String(a), "\u200b" + a + "\u200d"} {
			if kv := objects.FoldName(v); kv != ka {
				t.Fatalf("FoldName(%q)=%q but FoldName(%q)=%q", a, ka, v, kv)
			}
		}
		if strings.EqualFold(a, b) && objects.FoldName(b) != ka {
			t.Fatalf("EqualFold(%q, %q) but FoldName gives %q and %q", a, b, ka, objects.FoldName(b))
		}
	})
}

// FuzzTreeEncode builds trees from fuzzed names: Encode succeeds exactly
// when every name is valid and no two share a FoldName, and what it
// writes decodes back to the same tree.
func FuzzTreeEncode(f *testing.F) {
	f.Add("a", "b", uint8(0))
	f.Add("A.txt", "a.txt", uint8(1))
	f.Add("\u00e9", "e\u0301", uint8(2))
	f.Add(".art", "x", uint8(3))
	f.Add("a\tb", "c", uint8(4))
	f.Fuzz(func(t *testing.T, a, b string, kinds uint8) {
		id := objects.Hash([]byte(a + b))
		entry := func(name string, k uint8) objects.TreeEntry {
			switch k % 3 {
			case 0:
				return objects.TreeEntry{Name: name, Kind: objects.KindFile, ID: id, Size: int64(len(name)), Exec: k&4 != 0}
			case 1:
				return objects.TreeEntry{Name: name, Kind: objects.KindDir, ID: id}
			}
			return objects.TreeEntry{Name: name, Kind: objects.KindRef, Size: -1, URI: "s3://b/k"}
		}
		tree := &objects.Tree{Entries: []objects.TreeEntry{entry(a, kinds), entry(b, kinds>>3)}}
		enc, err := tree.Encode()
		valid := objects.ValidateName(a) == nil && objects.ValidateName(b) == nil && objects.FoldName(a) != objects.FoldName(b)
		if valid != (err == nil) {
			t.Fatalf("Encode(%q, %q) = %v; names valid and distinct: %v", a, b, err, valid)
		}
		if err != nil {
			return
		}
		back, err := objects.DecodeTree(enc)
		if err != nil {
			t.Fatalf("DecodeTree(Encode(%q, %q)) = %v", a, b, err)
		}
		if len(back.Entries) != 2 {
			t.Fatalf("DecodeTree(Encode(%q, %q)) has %d entries", a, b, len(back.Entries))
		}
		for _, e := range tree.Entries {
			if got, ok := back.Find(e.Name); !ok || got != e {
				t.Fatalf("entry %+v decodes as %+v, %v", e, got, ok)
			}
		}
	})
}

// FuzzParseID checks that an ID has one spelling and that prefixes agree.
func FuzzParseID(f *testing.F) {
	f.Add(idA)
	f.Add(strings.ToUpper(idA))
	f.Add(idA[:63] + "g")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := objects.ParseID(s)
		if err != nil {
			if len(s) == 64 && objects.IsIDPrefix(s) {
				t.Fatalf("ParseID(%q) = %v but it is a 64-character prefix", s, err)
			}
			return
		}
		if id.String() != s {
			t.Fatalf("ParseID(%q).String() = %q", s, id.String())
		}
		if !objects.IsIDPrefix(s) || !objects.IsIDPrefix(s[:1+len(s)/2]) {
			t.Fatalf("ParseID accepted %q but IsIDPrefix refuses it or its half", s)
		}
	})
}

// FuzzValidateRunID checks that a run ID is a short lowercase ASCII word,
// safe as a file name.
func FuzzValidateRunID(f *testing.F) {
	for _, s := range []string{"a1b2c3d4", "", "A", "a-b", "a/b", "..", strings.Repeat("a", objects.MaxRunIDLen+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if objects.ValidateRunID(s) != nil {
			return
		}
		if s == "" || len(s) > objects.MaxRunIDLen || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Fatalf("ValidateRunID accepted %q", s)
		}
		if err := objects.ValidateName(s); err != nil {
			t.Fatalf("run id %q is not a valid file name: %v", s, err)
		}
	})
}
