package repo

import (
	"bytes"
	"strings"
	"testing"

	"github.com/artvcs/art/objects"
)

func validDoc() *remoteDoc {
	c0, c1 := objects.Hash([]byte("c0")), objects.Hash([]byte("c1"))
	return &remoteDoc{Format: remoteDocFormat, Name: "ds", Type: "dataset", NextVersion: 3,
		Versions: []remoteVersion{{Version: 0, Commit: c0, Size: 5, Files: 1}, {Version: 2, Commit: c1, Size: 7, Files: 2}},
		Aliases:  map[string]int64{"best": 2},
		Runs:     map[string]objects.ID{"ab12cd34": objects.Hash([]byte("run"))}}
}

func TestRemoteDocRoundTrip(t *testing.T) {
	d := validDoc()
	enc, err := d.encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeRemoteDoc(enc, "ds")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	again, _ := back.encode()
	if !bytes.Equal(enc, again) {
		t.Fatalf("re-encoding differs:\n%s\n%s", enc, again)
	}
	bad := []struct{ name, doc, key string }{
		{"other name", string(enc), "other"},
		{"format 2", strings.Replace(string(enc), `"format": 1`, `"format": 2`, 1), "ds"},
		{"unknown field", strings.Replace(string(enc), `"format": 1`, `"format": 1, "x": 1`, 1), "ds"},
		{"version at next", strings.Replace(string(enc), `"next_version": 3`, `"next_version": 2`, 1), "ds"},
		{"alias to a missing version", strings.Replace(string(enc), `"best": 2`, `"best": 1`, 1), "ds"},
		{"reserved alias", strings.Replace(string(enc), `"best": 2`, `"latest": 2`, 1), "ds"},
		{"bad name", strings.Replace(string(enc), `"name": "ds"`, `"name": "../ds"`, 1), "../ds"},
		{"trailing data", string(enc) + "{}", "ds"},
		{"not json", "nope", "ds"},
	}
	for _, b := range bad {
		if _, err := decodeRemoteDoc([]byte(b.doc), b.key); err == nil {
			t.Errorf("%s: decoded without error", b.name)
		}
	}
}

// TestRemoteDocRemoved: a document listing removed versions has format 2
// (so an art from before refuses it), round-trips, and is refused when
// its removed list is not consistent.
func TestRemoteDocRemoved(t *testing.T) {
	d := validDoc()
	d.Removed = []removedVersion{{Version: 1, Commit: objects.Hash([]byte("gone"))}}
	enc, err := d.encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), `"format": 2`) || !strings.Contains(string(enc), `"removed"`) {
		t.Fatalf("a document with removed versions:\n%s", enc)
	}
	back, err := decodeRemoteDoc(enc, "ds")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if again, _ := back.encode(); !bytes.Equal(enc, again) {
		t.Fatalf("re-encoding differs:\n%s\n%s", enc, again)
	}
	if n, ok := back.removedCommits()[d.Removed[0].Commit]; !ok || n != 1 {
		t.Errorf("removedCommits = %v", back.removedCommits())
	}
	plain, _ := validDoc().encode()
	if strings.Contains(string(plain), `"removed"`) || !strings.Contains(string(plain), `"format": 1`) {
		t.Fatalf("a document without removed versions:\n%s", plain)
	}
	gone := d.Removed[0].Commit.String()
	bad := []struct{ name, doc string }{
		{"format 1 with removed", strings.Replace(string(enc), `"format": 2`, `"format": 1`, 1)},
		{"format 3", strings.Replace(string(enc), `"format": 2`, `"format": 3`, 1)},
		{"removed and listed", strings.Replace(string(enc), `"version": 1,
   "commit": "`+gone, `"version": 2,
   "commit": "`+gone, 1)},
		{"removed at next", strings.Replace(string(enc), `"next_version": 3`, `"next_version": 1`, 1)},
		{"removed zero commit", strings.Replace(string(enc), gone, objects.ZeroID.String(), 1)},
	}
	for _, b := range bad {
		if b.doc == string(enc) {
			t.Fatalf("%s: the test's edit changed nothing:\n%s", b.name, enc)
		}
		if _, err := decodeRemoteDoc([]byte(b.doc), "ds"); err == nil {
			t.Errorf("%s: decoded without error", b.name)
		}
	}
}

func FuzzDecodeRemoteDoc(f *testing.F) {
	enc, _ := validDoc().encode()
	f.Add(enc, "ds")
	withRemoved := validDoc()
	withRemoved.Removed = []removedVersion{{Version: 1, Commit: objects.Hash([]byte("gone"))}}
	enc, _ = withRemoved.encode()
	f.Add(enc, "ds")
	f.Add([]byte(`{"format":1,"name":"x","type":"t","next_version":0,"versions":[],"aliases":{},"runs":{}}`), "x")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		d, err := decodeRemoteDoc(b, name)
		if err != nil {
			return
		}
		// What decodes is a valid document: it re-encodes, and decodes
		// again to the same thing.
		enc, err := d.encode()
		if err != nil {
			t.Fatalf("decoded %q but cannot encode: %v", b, err)
		}
		d2, err := decodeRemoteDoc(enc, name)
		if err != nil {
			t.Fatalf("re-encoded document does not decode: %v\n%s", err, enc)
		}
		enc2, _ := d2.encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}
		for a, v := range d.Aliases {
			if _, ok := d.commitOf(v); !ok {
				t.Fatalf("alias %s names v%d, which is not listed", a, v)
			}
		}
	})
}
