package httpremote

import (
	"net/http/httptest"
	"testing"

	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/dirremote"
	"github.com/artvcs/art/repo/remote/remotetest"
)

// TestConformance runs the remote conformance suite against the client
// talking to the handler over a directory remote. The suite stores
// arbitrary content under object-shaped keys, so this handler skips the
// object hash check (TestWrongHashRefused covers it); everything else is
// as `art serve` runs.
func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Transport {
		dir, err := dirremote.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewHandler(dir, HandlerOptions{Tokens: testTokens(), MaxObjectSize: remotetest.LargeSize})
		if err != nil {
			t.Fatal(err)
		}
		h.(*handler).skipObjectHash = true
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		c, err := New(srv.URL, ClientOptions{Token: writeToken})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// TestDirremoteRefusesForgedObjects: with the hash check on, a directory
// remote behind the handler keeps no trace of a forged object (its
// PutIfAbsent publishes only after reading the whole body).
func TestDirremoteRefusesForgedObjects(t *testing.T) {
	root := t.TempDir()
	dir, err := dirremote.New(root)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, dir, HandlerOptions{})
	c := s.client(t, writeToken)
	content := make([]byte, 3<<20)
	for i := range content {
		content[i] = byte(i * 7)
	}
	forged := append([]byte(nil), content...)
	forged[len(forged)-1] ^= 0xff
	if err := put(t, c, objectKey(content), forged); err == nil {
		t.Fatal("forged object stored")
	}
	var n int
	if err := dir.List(t.Context(), "", func(remote.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("directory remote lists %d keys, %v; want none", n, err)
	}
	if err := put(t, c, objectKey(content), content); err != nil {
		t.Fatalf("the real object: %v", err)
	}
}
