package objects_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

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
		for i, e := range tree.Entries {
			if err := objects.ValidateName(e.Name); err != nil {
				t.Fatalf("decoded entry name %q: %v", e.Name, err)
			}
			if i > 0 && tree.Entries[i-1].Name >= e.Name {
				t.Fatalf("decoded entries not strictly sorted: %q, %q", tree.Entries[i-1].Name, e.Name)
			}
		}
		again, err := objects.DecodeTree(enc)
		if err != nil || !reflect.DeepEqual(again, tree) {
			t.Fatalf("DecodeTree(Encode(t))=%+v, %v; want %+v", again, err, tree)
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
	f.Fuzz(func(t *testing.T, name string) {
		if objects.ValidateName(name) != nil {
			return
		}
		if name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00\n\r") {
			t.Fatalf("ValidateName accepted %q", name)
		}
		if objects.IsReservedName(name) {
			t.Fatalf("ValidateName accepted reserved %q", name)
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
