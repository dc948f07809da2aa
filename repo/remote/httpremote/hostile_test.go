package httpremote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/artvcs/art/repo/remote"
)

// hostile starts a server answering with h and returns a client for it.
func hostile(t *testing.T, h http.HandlerFunc, opts ClientOptions) *Transport {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts.Token = writeToken
	c, err := New(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestHostileTruncatedBody(t *testing.T) {
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Header().Set("ETag", etagHeader("e"))
		w.Write(bytes.Repeat([]byte("z"), 10))
	}, ClientOptions{})
	rc, info, err := c.Get(context.Background(), "objects/ab/cd")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if info.Size != 1000 {
		t.Fatalf("size %d", info.Size)
	}
	got, err := io.ReadAll(rc)
	if !errors.Is(err, remote.ErrBadResponse) {
		t.Fatalf("truncated body: %d bytes, %v; want ErrBadResponse", len(got), err)
	}
}

// TestHostileBodyPastLength: a server that keeps sending after its
// Content-Length. The reader yields exactly Content-Length bytes: the
// HTTP client never reads the rest into the body, and drops the connection.
func TestHostileBodyPastLength(t *testing.T) {
	var sent atomic.Int64
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: %s\r\n\r\n", etagHeader("e"))
		junk := bytes.Repeat([]byte("j"), 32<<10)
		for i := 0; i < 4096; i++ { // up to 128 MiB, until the client hangs up
			n, err := bw.Write(junk)
			sent.Add(int64(n))
			if err != nil || bw.Flush() != nil {
				return
			}
		}
	}, ClientOptions{})
	before := heapAlloc()
	rc, _, err := c.Get(context.Background(), "objects/ab/cd")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(got) != 10 {
		t.Fatalf("Get read %d bytes, %v; want exactly the 10 announced", len(got), err)
	}
	c.Close()
	if grew := int64(heapAlloc()) - int64(before); grew > 16<<20 {
		t.Fatalf("heap grew by %d bytes", grew)
	}
}

func TestHostileEndlessBodyWithoutLength(t *testing.T) {
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etagHeader("e"))
		junk := bytes.Repeat([]byte("j"), 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(junk); err != nil {
				return
			}
		}
	}, ClientOptions{})
	_, _, err := c.Get(context.Background(), "objects/ab/cd")
	if !errors.Is(err, remote.ErrBadResponse) {
		t.Fatalf("endless chunked body: %v, want ErrBadResponse", err)
	}
}

func TestHostileHeaders(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"no etag": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1")
			w.Write([]byte("x"))
		},
		"unquoted etag": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", "abc")
			w.Header().Set("Content-Length", "1")
			w.Write([]byte("x"))
		},
		"huge etag": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"`+strings.Repeat("A", 8<<10)+`"`)
			w.Header().Set("Content-Length", "1")
			w.Write([]byte("x"))
		},
	} {
		c := hostile(t, h, ClientOptions{})
		if _, err := c.Stat(context.Background(), "refs/a.json"); !errors.Is(err, remote.ErrBadResponse) {
			t.Errorf("%s: Stat = %v, want ErrBadResponse", name, err)
		}
		if _, _, err := c.Get(context.Background(), "refs/a.json"); !errors.Is(err, remote.ErrBadResponse) {
			t.Errorf("%s: Get = %v, want ErrBadResponse", name, err)
		}
	}
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", etagHeader("e"))
		w.Header().Set("Content-Length", "5000")
		w.Write(make([]byte, 5000))
	}, ClientOptions{MaxObjectSize: 4096})
	if _, _, err := c.Get(context.Background(), "refs/a.json"); !errors.Is(err, remote.ErrTooLarge) {
		t.Errorf("Get over MaxObjectSize = %v, want ErrTooLarge", err)
	}
}

func TestHostileHugeListing(t *testing.T) {
	line := []byte(`{"key":"objects/ab/` + strings.Repeat("c", 62) + `","size":1,"etag":"ZQ"}` + "\n")
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", listContentType)
		block := bytes.Repeat(line, 512)
		for r.Context().Err() == nil {
			if _, err := w.Write(block); err != nil {
				return
			}
		}
	}, ClientOptions{MaxListEntries: 100_000})
	before := heapAlloc()
	var n int
	var peak uint64
	err := c.List(context.Background(), "objects/", func(remote.Info) error {
		if n++; n%25_000 == 0 {
			peak = max(peak, heapAlloc())
		}
		return nil
	})
	if !errors.Is(err, remote.ErrTooLarge) || n != 100_000 {
		t.Fatalf("endless listing: %d entries, %v; want ErrTooLarge after 100000", n, err)
	}
	if grew := int64(peak) - int64(before); grew > 16<<20 {
		t.Fatalf("heap grew by %d bytes while listing", grew)
	}
}

func TestHostileListings(t *testing.T) {
	valid := `{"key":"objects/ab/cd","size":1,"etag":"ZQ"}` + "\n"
	for name, tc := range map[string]struct {
		body        string
		contentType string
		endless     string // repeated after body until the client hangs up
		want        error
	}{
		"endless line":         {body: `{"key":"`, endless: strings.Repeat("a", 1<<10), want: remote.ErrBadResponse},
		"no closing line":      {body: valid + valid, want: remote.ErrBadResponse},
		"cut mid-line":         {body: valid + `{"key":"obj`, want: remote.ErrBadResponse},
		"wrong count":          {body: valid + `{"end":true,"count":5}` + "\n", want: remote.ErrBadResponse},
		"outside the prefix":   {body: `{"key":"refs/a.json","size":1,"etag":"ZQ"}` + "\n" + `{"end":true,"count":1}` + "\n", want: remote.ErrBadResponse},
		"invalid key":          {body: `{"key":"objects/../../etc","size":1,"etag":"ZQ"}` + "\n" + `{"end":true,"count":1}` + "\n", want: remote.ErrBadResponse},
		"negative size":        {body: `{"key":"objects/ab/cd","size":-1,"etag":"ZQ"}` + "\n" + `{"end":true,"count":1}` + "\n", want: remote.ErrBadResponse},
		"bad etag":             {body: `{"key":"objects/ab/cd","size":1,"etag":"!!"}` + "\n" + `{"end":true,"count":1}` + "\n", want: remote.ErrBadResponse},
		"not json":             {body: "<html>\n", want: remote.ErrBadResponse},
		"wrong content type":   {body: valid + `{"end":true,"count":1}` + "\n", contentType: "text/html", want: remote.ErrBadResponse},
		"error line with code": {body: valid + `{"error":"gone","code":"permission"}` + "\n", want: remote.ErrPermission},
	} {
		c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
			ct := tc.contentType
			if ct == "" {
				ct = listContentType
			}
			w.Header().Set("Content-Type", ct)
			io.WriteString(w, tc.body)
			for tc.endless != "" && r.Context().Err() == nil {
				if _, err := io.WriteString(w, tc.endless); err != nil {
					return
				}
			}
		}, ClientOptions{})
		err := c.List(context.Background(), "objects/", func(remote.Info) error { return nil })
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: List = %v, want %v", name, err, tc.want)
		}
	}
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", listContentType)
		io.WriteString(w, `{"error":"disk trouble","code":"internal"}`+"\n")
	}, ClientOptions{})
	err := c.List(context.Background(), "", func(remote.Info) error { return nil })
	if err == nil || errors.Is(err, remote.ErrBadResponse) {
		t.Fatalf("server failing part way: %v, want a plain error", err)
	}
	mustContain(t, "error", err.Error(), "disk trouble")
}

func TestHostileErrorBody(t *testing.T) {
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.Method == http.MethodHead {
			return
		}
		io.WriteString(w, "\x1b[31mred alert\x1b[0m\r\n")
		junk := bytes.Repeat([]byte("blah "), 1<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(junk); err != nil {
				return
			}
		}
	}, ClientOptions{})
	if _, err := c.Stat(context.Background(), "refs/a.json"); err == nil {
		t.Fatal("503 read as success")
	}
	_, _, err := c.Get(context.Background(), "refs/a.json")
	if err == nil {
		t.Fatal("503 read as success")
	}
	msg := err.Error()
	if len(msg) > 400 || strings.ContainsAny(msg, "\x1b\r\n") {
		t.Fatalf("error message not bounded or not sanitized: %q", msg)
	}
	err = put(t, c, "refs/a.json", []byte("{}"))
	mustContain(t, "error", fmt.Sprint(err), "503")
	mustContain(t, "error", fmt.Sprint(err), "red alert")
}

func TestHostileStatuses(t *testing.T) {
	ctx := context.Background()
	var followed atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		w.Header().Set("ETag", etagHeader("e"))
		w.WriteHeader(http.StatusCreated)
	}))
	defer target.Close()
	for name, h := range map[string]http.HandlerFunc{
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
		},
		"200 for everything": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
		},
		"404 without our code": func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		},
		"412 to a delete": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPreconditionFailed)
		},
	} {
		c := hostile(t, h, ClientOptions{})
		if err := put(t, c, "refs/a.json", []byte("{}")); err == nil {
			t.Errorf("%s: put succeeded", name)
		}
		if err := c.Delete(ctx, "refs/a.json"); err == nil || errors.Is(err, remote.ErrNotFound) && name == "404 without our code" {
			t.Errorf("%s: delete = %v", name, err)
		}
		if _, err := c.CompareAndSwap(ctx, "refs/a.json", "", []byte("{}")); err == nil {
			t.Errorf("%s: swap succeeded", name)
		}
		if _, err := c.Stat(ctx, "refs/a.json"); err == nil || errors.Is(err, remote.ErrNotFound) {
			t.Errorf("%s: Stat = %v", name, err)
		}
	}
	if n := followed.Load(); n != 0 {
		t.Fatalf("the client followed %d redirects", n)
	}
}

// TestHostileSilentServer: a server that never answers is bounded by
// ResponseHeaderTimeout, and a stalled body by the caller's context.
func TestHostileSilentServer(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == keyPath+"refs/body.json" {
			w.Header().Set("ETag", etagHeader("e"))
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("partial"))
			http.NewResponseController(w).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, ClientOptions{ResponseHeaderTimeout: 300 * time.Millisecond})
	start := time.Now()
	if _, err := c.Stat(context.Background(), "refs/a.json"); err == nil {
		t.Fatal("silent server: Stat succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("silent server held Stat for %v", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rc, _, err := c.Get(ctx, "refs/body.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled body: %v, want the context's deadline", err)
	}
}
