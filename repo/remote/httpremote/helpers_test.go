package httpremote

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/remote"
)

const (
	readToken  = "read-token-0123456789abcdef"
	writeToken = "write-token-0123456789abcdef"
	otherToken = "other-token-0123456789abcdef" // configured nowhere
)

func testTokens() []Token {
	return []Token{{Scope: ScopeRead, Secret: readToken}, {Scope: ScopeReadWrite, Secret: writeToken}}
}

// syncBuffer is a bytes.Buffer safe for a logger used by server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a handler over tr on 127.0.0.1, its log, and its URL.
type testServer struct {
	*httptest.Server
	log *syncBuffer
}

// serve starts a handler over tr with the test tokens (unless opts has
// its own) and a debug-level logger.
func serve(tb testing.TB, tr remote.Transport, opts HandlerOptions) *testServer {
	tb.Helper()
	if opts.Tokens == nil && !opts.AllowOpen {
		opts.Tokens = testTokens()
	}
	log := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := NewHandler(tr, opts)
	if err != nil {
		tb.Fatalf("NewHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &testServer{Server: srv, log: log}
}

// client returns a client Transport for s with token.
func (s *testServer) client(tb testing.TB, token string) *Transport {
	tb.Helper()
	c, err := New(s.URL, ClientOptions{Token: token})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// raw sends one request with the given path (sent verbatim), token and
// body, and returns the status, headers and body.
func (s *testServer) raw(tb testing.TB, method, path, token string, body []byte, hdr map[string]string) (int, http.Header, string) {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL+"/", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.URL.Opaque = path // sent as is: no cleaning, no escaping
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

// objectKey returns the key of content.
func objectKey(content []byte) string {
	id := objects.Hash(content).String()
	return "objects/" + id[:2] + "/" + id[2:]
}

func put(tb testing.TB, c remote.Transport, key string, content []byte) error {
	tb.Helper()
	return c.PutIfAbsent(context.Background(), key, bytes.NewReader(content), int64(len(content)))
}

func mustContain(tb testing.TB, what, s, sub string) {
	tb.Helper()
	if !strings.Contains(s, sub) {
		tb.Fatalf("%s = %q, want it to contain %q", what, s, sub)
	}
}

func sameSnapshot(tb testing.TB, before, after map[string]string) {
	tb.Helper()
	if len(before) != len(after) {
		tb.Fatalf("transport changed: %d keys, then %d", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			tb.Fatalf("transport changed at %q", k)
		}
	}
}

func slogText(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
