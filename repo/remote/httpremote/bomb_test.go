package httpremote

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// TestHostileDecompressionBomb: a server that answers with a gzip body (a
// few KiB that inflate to 32 MiB of zeros) is never inflated: the client asks
// for no compression, and the bytes it yields are the ones sent, so a
// caller's size and hash checks see the bomb for what it is.
func TestHostileDecompressionBomb(t *testing.T) {
	var z bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	zero := make([]byte, 1<<20)
	for i := 0; i < 32; i++ {
		gw.Write(zero)
	}
	gw.Close()
	bomb := z.Bytes()
	var sawAccept string
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		sawAccept = r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(bomb)))
		w.Header().Set("ETag", etagHeader("e"))
		w.Write(bomb)
	}, ClientOptions{})
	before := heapAlloc()
	rc, info, err := c.Get(context.Background(), "objects/ab/"+string(bytes.Repeat([]byte("c"), 62)))
	if sawAccept != "" {
		t.Errorf("the client asked for Accept-Encoding %q", sawAccept)
	}
	if err != nil {
		return // refused outright: fine
	}
	defer rc.Close()
	n, _ := io.Copy(io.Discard, rc)
	if n != int64(len(bomb)) || info.Size != int64(len(bomb)) {
		t.Fatalf("read %d bytes (info %d) of a %d-byte gzip body: it was inflated", n, info.Size, len(bomb))
	}
	if grown := int64(heapAlloc()) - int64(before); grown > 64<<20 {
		t.Fatalf("heap grew %d MiB reading a gzip bomb", grown>>20)
	}
}
