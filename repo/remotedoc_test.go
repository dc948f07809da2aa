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

func FuzzDecodeRemoteDoc(f *testing.F) {
	enc, _ := validDoc().encode()
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
