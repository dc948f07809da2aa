package httpremote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/artvcs/art/repo/remote"
)

func TestNewHandlerRefusesBadAuthConfig(t *testing.T) {
	mem := newMem()
	for _, tc := range []struct {
		name string
		opts HandlerOptions
	}{
		{"no tokens", HandlerOptions{}},
		{"open with tokens", HandlerOptions{AllowOpen: true, Tokens: testTokens()}},
		{"short token", HandlerOptions{Tokens: []Token{{Scope: ScopeRead, Secret: "short"}}}},
		{"token with a space", HandlerOptions{Tokens: []Token{{Scope: ScopeRead, Secret: "abcdefgh ijklmnopq"}}}},
		{"no scope", HandlerOptions{Tokens: []Token{{Secret: readToken}}}},
		{"duplicate", HandlerOptions{Tokens: []Token{{Scope: ScopeRead, Secret: readToken}, {Scope: ScopeReadWrite, Secret: readToken}}}},
	} {
		_, err := NewHandler(mem, tc.opts)
		if err == nil {
			t.Errorf("%s: NewHandler succeeded", tc.name)
			continue
		}
		if strings.Contains(err.Error(), readToken) || strings.Contains(err.Error(), "ijklmnopq") {
			t.Errorf("%s: error quotes the token: %v", tc.name, err)
		}
	}
	if _, err := NewHandler(mem, HandlerOptions{AllowOpen: true}); err != nil {
		t.Errorf("AllowOpen: %v", err)
	}
	if _, err := NewHandler(mem, HandlerOptions{AllowAnonymousRead: true}); err != nil {
		t.Errorf("AllowAnonymousRead with no tokens: %v", err)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, a := range []string{"127.0.0.1:8080", "[::1]:80", "localhost:1", "127.1.2.3:9"} {
		if err := CheckLoopback(a); err != nil {
			t.Errorf("CheckLoopback(%q) = %v", a, err)
		}
	}
	for _, a := range []string{":8080", "0.0.0.0:80", "[::]:80", "10.0.0.1:80", "example.com:80", "127.0.0.1"} {
		if err := CheckLoopback(a); err == nil {
			t.Errorf("CheckLoopback(%q) accepted", a)
		}
	}
}

func TestNewServerTimeouts(t *testing.T) {
	s := NewServer("127.0.0.1:0", http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadHeaderTimeout > time.Minute {
		t.Errorf("ReadHeaderTimeout = %v", s.ReadHeaderTimeout)
	}
	if s.ReadTimeout != 0 || s.WriteTimeout != 0 {
		t.Errorf("ReadTimeout, WriteTimeout = %v, %v; want none (they cut large transfers)", s.ReadTimeout, s.WriteTimeout)
	}
	if s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes > 1<<20 {
		t.Errorf("IdleTimeout, MaxHeaderBytes = %v, %d", s.IdleTimeout, s.MaxHeaderBytes)
	}
}

func TestAuthenticatorScopes(t *testing.T) {
	var tokens []Token
	for i := range 50 {
		s := ScopeRead
		if i%3 == 0 {
			s = ScopeReadWrite
		}
		tokens = append(tokens, Token{Scope: s, Secret: fmt.Sprintf("token-%02d-abcdefghijklmnop", i)})
	}
	// A token that is a prefix of another, and the other.
	tokens = append(tokens, Token{Scope: ScopeRead, Secret: "prefixprefixprefix"}, Token{Scope: ScopeReadWrite, Secret: "prefixprefixprefixlonger"})
	a, err := newAuthenticator(tokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if got := a.scope(tok.Secret); got != tok.Scope {
			t.Errorf("scope(token %v) = %v, want %v", tok, got, tok.Scope)
		}
	}
	for _, s := range []string{"", "prefixprefixprefi", "prefixprefixprefixlonge", "token-00-abcdefghijklmnoP", otherToken} {
		if got := a.scope(s); got != 0 {
			t.Errorf("scope(%q) = %v, want none", s, got)
		}
	}
}

func TestBearerParsing(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer " + readToken:          readToken,
		"bearer " + readToken:          readToken,
		"BEARER  " + readToken:         readToken,
		"Basic " + readToken:           "",
		"Bearer":                       "",
		"Bearer ":                      "",
		readToken:                      "",
		"Bearer a b":                   "",
		"Bearer " + readToken + "\x00": "",
	} {
		got, ok := bearer(h)
		if got != want || ok != (want != "") {
			t.Errorf("bearer(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
}

func TestNoToken(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	mem.put("refs/a.json", []byte("{}"))
	before := mem.snapshot()
	s := serve(t, mem, HandlerOptions{})
	c := s.client(t, "")
	if _, err := c.Stat(ctx, "refs/a.json"); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("Stat without token = %v, want ErrPermission", err)
	}
	if err := put(t, c, "refs/b.json", []byte("{}")); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("put without token = %v, want ErrPermission", err)
	}
	if err := c.Delete(ctx, "refs/a.json"); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("delete without token = %v, want ErrPermission", err)
	}
	if err := c.List(ctx, "", func(remote.Info) error { return nil }); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("list without token = %v, want ErrPermission", err)
	}
	status, hdr, _ := s.raw(t, "GET", "/v1/k/refs/a.json", "", nil, nil)
	if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d, WWW-Authenticate %q; want 401 with a Bearer challenge", status, hdr.Get("WWW-Authenticate"))
	}
	// Unknown endpoints too: nothing about the server without a token.
	if status, _, _ := s.raw(t, "GET", "/elsewhere", "", nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("unknown path without token: %d, want 401", status)
	}
	sameSnapshot(t, before, mem.snapshot())
}

func TestWrongToken(t *testing.T) {
	mem := newMem()
	mem.put("refs/a.json", []byte("{}"))
	before := mem.snapshot()
	s := serve(t, mem, HandlerOptions{AllowAnonymousRead: true})
	c := s.client(t, otherToken)
	if _, err := c.Stat(context.Background(), "refs/a.json"); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("Stat with a wrong token = %v, want ErrPermission (anonymous read does not cover wrong tokens)", err)
	}
	if err := put(t, c, "refs/b.json", []byte("{}")); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("put with a wrong token = %v, want ErrPermission", err)
	}
	for _, auth := range []string{"Bearer " + otherToken, "Basic " + writeToken, "Bearer " + writeToken + "x", "Bearer " + writeToken[:len(writeToken)-1]} {
		status, hdr, body := s.raw(t, "PUT", "/v1/k/refs/c.json", "", []byte("{}"), map[string]string{"Authorization": auth, "If-None-Match": "*"})
		if status != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, status)
		}
		mustContain(t, "WWW-Authenticate", hdr.Get("WWW-Authenticate"), "invalid_token")
		if strings.Contains(body, writeToken[:16]) || strings.Contains(body, otherToken) {
			t.Errorf("response echoes the token: %q", body)
		}
	}
	sameSnapshot(t, before, mem.snapshot())
}

func TestReadTokenCannotWrite(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	mem.put("refs/a.json", []byte("{}"))
	etag := mustStat(t, mem, "refs/a.json").ETag
	before := mem.snapshot()
	s := serve(t, mem, HandlerOptions{})
	c := s.client(t, readToken)
	content := []byte("data")
	if err := put(t, c, objectKey(content), content); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("put with a read token = %v, want ErrPermission", err)
	}
	if _, err := c.CompareAndSwap(ctx, "refs/a.json", etag, []byte("{1}")); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("swap with a read token = %v, want ErrPermission", err)
	}
	if _, err := c.CompareAndSwap(ctx, "refs/new.json", "", []byte("{1}")); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("create with a read token = %v, want ErrPermission", err)
	}
	if err := c.Delete(ctx, "refs/a.json"); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("delete with a read token = %v, want ErrPermission", err)
	}
	status, hdr, _ := s.raw(t, "DELETE", "/v1/k/refs/a.json", readToken, nil, nil)
	if status != http.StatusForbidden {
		t.Fatalf("delete with a read token: %d, want 403", status)
	}
	mustContain(t, "WWW-Authenticate", hdr.Get("WWW-Authenticate"), "insufficient_scope")
	// Reads work.
	if _, err := c.Stat(ctx, "refs/a.json"); err != nil {
		t.Fatalf("Stat with a read token: %v", err)
	}
	if err := c.List(ctx, "", func(remote.Info) error { return nil }); err != nil {
		t.Fatalf("List with a read token: %v", err)
	}
	if mem.puts != 0 {
		t.Fatalf("%d puts reached the transport", mem.puts)
	}
	sameSnapshot(t, before, mem.snapshot())
}

func TestAnonymousRead(t *testing.T) {
	mem := newMem()
	mem.put("refs/a.json", []byte("{}"))
	before := mem.snapshot()
	s := serve(t, mem, HandlerOptions{AllowAnonymousRead: true})
	c := s.client(t, "")
	if _, err := c.Stat(context.Background(), "refs/a.json"); err != nil {
		t.Fatalf("anonymous Stat: %v", err)
	}
	if err := put(t, c, "refs/b.json", []byte("{}")); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("anonymous put = %v, want ErrPermission", err)
	}
	status, hdr, _ := s.raw(t, "DELETE", "/v1/k/refs/a.json", "", nil, nil)
	if status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous delete: %d, want 401 with a challenge", status)
	}
	sameSnapshot(t, before, mem.snapshot())
}

func TestOpenServer(t *testing.T) {
	mem := newMem()
	s := serve(t, mem, HandlerOptions{AllowOpen: true})
	if err := put(t, s.client(t, ""), "refs/b.json", []byte("{}")); err != nil {
		t.Fatalf("put on an open server: %v", err)
	}
}

func mustStat(tb testing.TB, tr remote.Transport, key string) remote.Info {
	tb.Helper()
	info, err := tr.Stat(context.Background(), key)
	if err != nil {
		tb.Fatal(err)
	}
	return info
}

// traversals are request paths that must never reach a key other than
// themselves: each is refused with a 4xx, never redirected or served.
var traversals = []string{
	"/v1/k/objects/../../etc/passwd",
	"/v1/k/refs/../refs/a.json",
	"/v1/k/refs/./a.json",
	"/v1/k/./refs/a.json",
	"/v1/k/objects/%2e%2e/%2e%2e/etc/passwd",
	"/v1/k/refs/%2E%2E/refs/a.json",
	"/v1/k/refs%2Fa.json",
	"/v1/k/refs/a%2ejson",
	"/v1/k/refs//a.json",
	"/v1/k//refs/a.json",
	"/v1/k/refs/a.json/",
	"/v1/k/",
	"/v1/k/%2F%2Fetc%2Fpasswd",
	"/v1/k/refs%5Ca.json",
	"/v1/k/refs/a.json%00",
	"/v1/k/refs/%00",
	"/v1/k/refs/a.json%20",
	"/v1/k/refs/.a.json",
	"/v1/k/refs/..%2Fa.json",
	"/v1/k/refs/%c0%ae%c0%ae/a.json",
	"/v1/swap/refs/../refs/a.json",
	"/v1/swap/refs/%2e%2e/b.json",
	"/v1/x/../k/refs/a.json",
	"/v1/../v1/k/refs/a.json",
	"/v1/k/objects/../refs/a.json",
}

func TestTraversalPaths(t *testing.T) {
	mem := newMem()
	mem.put("refs/a.json", []byte(`{"secret":1}`))
	before := mem.snapshot()
	s := serve(t, mem, HandlerOptions{})
	for _, p := range traversals {
		for _, method := range []string{"GET", "HEAD", "PUT", "DELETE"} {
			var body []byte
			hdr := map[string]string{}
			if method == "PUT" {
				body = []byte(`{"evil":1}`)
				hdr["If-None-Match"] = "*"
			}
			status, _, resp := s.raw(t, method, p, writeToken, body, hdr)
			if status < 400 || status >= 500 {
				t.Errorf("%s %s: status %d, want 4xx", method, p, status)
			}
			if strings.Contains(resp, "secret") {
				t.Errorf("%s %s: served a key's content", method, p)
			}
		}
	}
	sameSnapshot(t, before, mem.snapshot())
	if mem.puts != 0 {
		t.Fatalf("%d puts reached the transport", mem.puts)
	}
	status, _, body := s.raw(t, "GET", "/v1/k/objects/%2e%2e/%2e%2e/etc/passwd", writeToken, nil, nil)
	if status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", status)
	}
	mustContain(t, "message", body, "invalid key")
}

// rawHTTP writes request verbatim to the server over TCP, so no client
// library cleans or escapes it, and returns the response status.
func rawHTTP(tb testing.TB, addr, request string) (int, string) {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("reading the response to %q: %v", request, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

func TestTraversalRawTCP(t *testing.T) {
	mem := newMem()
	mem.put("refs/a.json", []byte(`{"secret":1}`))
	before := mem.snapshot()
	s := serve(t, mem, HandlerOptions{})
	addr := s.Listener.Addr().String()
	paths := append([]string{
		`/v1/k/refs\a.json`,
		`/v1/k/objects\..\..\etc\passwd`,
		"/v1/k/refs/\x00a.json",
		"/v1/k/refs/a.json\x00",
		"/v1/k/refs/é.json",
		"http://evil/v1/k/refs/../refs/a.json",
		"/v1/k/refs/a.json?../../x",
	}, traversals...)
	for _, p := range paths {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			req := method + " " + p + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + writeToken + "\r\nConnection: close\r\n"
			if method == "PUT" {
				req += "If-None-Match: *\r\nContent-Length: 10\r\n\r\n{\"evil\":1}"
			} else {
				req += "\r\n"
			}
			status, body := rawHTTP(t, addr, req)
			if status < 400 || status >= 500 {
				t.Errorf("raw %s %q: status %d, want 4xx", method, p, status)
			}
			if strings.Contains(body, "secret") {
				t.Errorf("raw %s %q: served a key's content", method, p)
			}
		}
	}
	sameSnapshot(t, before, mem.snapshot())
	// The same connection code reaches a valid key, so the refusals above
	// are the handler's doing.
	status, body := rawHTTP(t, addr, "GET /v1/k/refs/a.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+readToken+"\r\nConnection: close\r\n\r\n")
	if status != http.StatusOK || !strings.Contains(body, "secret") {
		t.Fatalf("raw GET of a valid key: %d %q", status, body)
	}
}

func TestOversizedBody(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s := serve(t, mem, HandlerOptions{MaxObjectSize: 1 << 10, MaxRefSize: 64})
	c := s.client(t, writeToken)
	big := bytes.Repeat([]byte("x"), 2<<10)
	if err := put(t, c, objectKey(big), big); !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("put over MaxObjectSize = %v, want ErrTooLarge", err)
	}
	ref := bytes.Repeat([]byte("r"), 100)
	if err := put(t, c, "refs/big.json", ref); !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("put of a ref over MaxRefSize = %v, want ErrTooLarge", err)
	}
	if _, err := c.CompareAndSwap(ctx, "refs/big.json", "", ref); !errors.Is(err, remote.ErrTooLarge) {
		t.Fatalf("swap over MaxRefSize = %v, want ErrTooLarge", err)
	}
	status, _, _ := s.raw(t, "PUT", "/v1/k/"+objectKey(big), writeToken, big, map[string]string{"If-None-Match": "*"})
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("raw oversized put: %d, want 413", status)
	}
	// A body that claims to be small but keeps going is cut at its
	// Content-Length by HTTP framing; one with no length is refused.
	req := "PUT /v1/k/refs/x.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + writeToken +
		"\r\nIf-None-Match: *\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	if status, _ := rawHTTP(t, s.Listener.Addr().String(), req); status != http.StatusLengthRequired {
		t.Fatalf("chunked put: %d, want 411", status)
	}
	if mem.puts != 0 || len(mem.keys()) != 0 {
		t.Fatalf("puts %d, keys %v; want nothing", mem.puts, mem.keys())
	}
}

func TestShortBody(t *testing.T) {
	for _, toEOF := range []bool{false, true} {
		mem := newMem()
		mem.readToEOF = toEOF
		s := serve(t, mem, HandlerOptions{})
		content := bytes.Repeat([]byte("y"), 100)
		for _, key := range []string{objectKey(content), "refs/short.json", "other/short"} {
			for _, path := range []string{"/v1/k/", "/v1/swap/"} {
				conn, err := net.Dial("tcp", s.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(conn, "PUT %s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIf-None-Match: *\r\nContent-Length: %d\r\n\r\n", path, key, writeToken, len(content))
				conn.Write(content[:10])
				conn.(*net.TCPConn).CloseWrite()
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("%s%s: %v", path, key, err)
				}
				resp.Body.Close()
				conn.Close()
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("short body to %s%s: %d, want 400", path, key, resp.StatusCode)
				}
			}
		}
		if got := mem.keys(); len(got) != 0 {
			t.Fatalf("readToEOF=%v: stored %v", toEOF, got)
		}
	}
}

func TestWrongHashRefused(t *testing.T) {
	for _, toEOF := range []bool{false, true} {
		mem := newMem()
		mem.readToEOF = toEOF
		s := serve(t, mem, HandlerOptions{})
		c := s.client(t, writeToken)
		content := bytes.Repeat([]byte("the real content "), 1000)
		forged := bytes.Clone(content)
		forged[len(forged)-1] ^= 1 // differs in the last byte only
		key := objectKey(content)
		err := put(t, c, key, forged)
		if err == nil {
			t.Fatalf("readToEOF=%v: forged content stored", toEOF)
		}
		mustContain(t, "error", err.Error(), "does not hash")
		if got := mem.keys(); len(got) != 0 {
			t.Fatalf("readToEOF=%v: stored %v", toEOF, got)
		}
		if mem.puts != 1 || mem.putErrs != 1 {
			t.Fatalf("readToEOF=%v: transport saw %d puts, %d failed; want the one put to fail", toEOF, mem.puts, mem.putErrs)
		}
		// Swaps are checked too.
		if _, err := c.CompareAndSwap(context.Background(), objectKey([]byte("a")), "", []byte("b")); err == nil {
			t.Fatal("swap of forged content succeeded")
		}
		if err := put(t, c, key, content); err != nil {
			t.Fatalf("the real content: %v", err)
		}
	}
}

func TestVerifyHook(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	const header = "art chunks 1\n"
	var seen []string
	verify := func(ctx context.Context, key string, body io.Reader) (io.Reader, error) {
		seen = append(seen, key)
		switch {
		case strings.HasSuffix(key, ".chunks"):
			b, err := io.ReadAll(body)
			if err != nil {
				return nil, err
			}
			if !bytes.HasPrefix(b, []byte(header)) {
				return nil, errors.New("not a chunk list")
			}
			return bytes.NewReader(b), nil
		case strings.HasPrefix(key, "refs/"):
			return &failAtEOF{r: body, bad: []byte("evil")}, nil
		}
		return body, nil
	}
	s := serve(t, mem, HandlerOptions{Verify: verify})
	c := s.client(t, writeToken)
	chunks := objectKey([]byte("blob")) + ".chunks"
	err := put(t, c, chunks, []byte("garbage"))
	if err == nil {
		t.Fatal("Verify's refusal was stored")
	}
	mustContain(t, "error", err.Error(), "not a chunk list")
	if err := put(t, c, chunks, []byte(header+"ok")); err != nil {
		t.Fatalf("valid chunk list: %v", err)
	}
	if _, err := c.CompareAndSwap(ctx, "refs/a.json", "", []byte(`{"evil":1}`)); err == nil {
		t.Fatal("swap of refused ref document succeeded")
	}
	if err := put(t, c, "refs/b.json", []byte(`{"evil":1}`)); err == nil {
		t.Fatal("put of refused ref document succeeded")
	}
	if _, err := c.CompareAndSwap(ctx, "refs/a.json", "", []byte(`{"good":1}`)); err != nil {
		t.Fatalf("swap of a good ref document: %v", err)
	}
	if got := mem.keys(); len(got) != 2 || got[0] != chunks || got[1] != "refs/a.json" {
		t.Fatalf("stored %v", got)
	}
	if len(seen) != 5 {
		t.Fatalf("Verify saw %v", seen)
	}
}

// failAtEOF passes r through and fails at EOF if it contained bad.
type failAtEOF struct {
	r   io.Reader
	bad []byte
	all []byte
}

func (f *failAtEOF) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.all = append(f.all, p[:n]...)
	if err == io.EOF && bytes.Contains(f.all, f.bad) {
		return n, errors.New("ref document refused")
	}
	return n, err
}

func TestPreconditionsRequired(t *testing.T) {
	mem := newMem()
	s := serve(t, mem, HandlerOptions{})
	if status, _, _ := s.raw(t, "PUT", "/v1/k/refs/a.json", writeToken, []byte("{}"), nil); status != http.StatusPreconditionRequired {
		t.Errorf("PUT without If-None-Match: %d, want 428", status)
	}
	if status, _, _ := s.raw(t, "PUT", "/v1/swap/refs/a.json", writeToken, []byte("{}"), nil); status != http.StatusPreconditionRequired {
		t.Errorf("swap without a precondition: %d, want 428", status)
	}
	if status, _, _ := s.raw(t, "PUT", "/v1/swap/refs/a.json", writeToken, []byte("{}"), map[string]string{"If-Match": "*"}); status != http.StatusBadRequest {
		t.Errorf("swap with If-Match: *: %d, want 400", status)
	}
	if status, _, _ := s.raw(t, "POST", "/v1/k/refs/a.json", writeToken, []byte("{}"), nil); status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", status)
	}
	if status, _, _ := s.raw(t, "GET", "/v1/list?prefix=refs/&prefix=x", readToken, nil, nil); status != http.StatusBadRequest {
		t.Errorf("two prefixes: %d, want 400", status)
	}
	if status, _, _ := s.raw(t, "GET", "/v1/list?prefix=../", readToken, nil, nil); status != http.StatusBadRequest {
		t.Errorf("bad prefix: %d, want 400", status)
	}
	if len(mem.keys()) != 0 {
		t.Fatalf("stored %v", mem.keys())
	}
}

func TestTransportErrorsMapped(t *testing.T) {
	detail := errors.New("disk on fire at /srv/art/objects")
	s := serve(t, faultyTransport{err: detail}, HandlerOptions{})
	c := s.client(t, writeToken)
	_, err := c.Stat(context.Background(), "refs/a.json")
	if err == nil || strings.Contains(err.Error(), "fire") {
		t.Fatalf("Stat = %v; want a generic error", err)
	}
	status, hdr, body := s.raw(t, "GET", "/v1/k/refs/a.json", readToken, nil, nil)
	if status != http.StatusInternalServerError || strings.Contains(body, "fire") || hdr.Get(errorHeader) != codeInternal {
		t.Fatalf("GET: %d %q", status, body)
	}
	mustContain(t, "log", s.log.String(), "disk on fire")

	for sentinel, want := range map[error]int{
		remote.ErrNotFound:     http.StatusNotFound,
		remote.ErrExists:       http.StatusPreconditionFailed,
		remote.ErrConflict:     http.StatusPreconditionFailed,
		remote.ErrInvalidKey:   http.StatusBadRequest,
		remote.ErrTooLarge:     http.StatusRequestEntityTooLarge,
		remote.ErrPermission:   http.StatusForbidden,
		remote.ErrInvalidRange: http.StatusRequestedRangeNotSatisfiable,
	} {
		s := serve(t, faultyTransport{err: fmt.Errorf("wrapped: %w", sentinel)}, HandlerOptions{})
		if status, _, _ := s.raw(t, "DELETE", "/v1/k/refs/a.json", writeToken, nil, nil); status != want {
			t.Errorf("%v: status %d, want %d", sentinel, status, want)
		}
		if err := s.client(t, writeToken).Delete(context.Background(), "refs/a.json"); !errors.Is(err, sentinel) && sentinel != remote.ErrExists {
			t.Errorf("%v: client error %v", sentinel, err)
		}
	}
}

func TestTokensNeverLogged(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s := serve(t, mem, HandlerOptions{AllowAnonymousRead: true})
	w, r, o := s.client(t, writeToken), s.client(t, readToken), s.client(t, otherToken)
	content := []byte("logged?")
	put(t, w, objectKey(content), content)
	put(t, w, objectKey(content), content) // exists
	put(t, w, objectKey([]byte("other")), content)
	put(t, r, "refs/x.json", content)
	put(t, o, "refs/x.json", content)
	w.CompareAndSwap(ctx, "refs/x.json", "", content)
	w.CompareAndSwap(ctx, "refs/x.json", "stale", content)
	r.Stat(ctx, "refs/x.json")
	o.Stat(ctx, "refs/missing.json")
	w.List(ctx, "", func(remote.Info) error { return nil })
	w.Delete(ctx, "refs/missing.json")
	s.raw(t, "GET", "/v1/k/refs/../x", writeToken, nil, nil)
	s.raw(t, "GET", "/v1/k/refs/x.json", "", nil, map[string]string{"Authorization": "Bearer " + otherToken + "junk"})
	s.raw(t, "GET", "/v1/k/refs/x.json", "", nil, map[string]string{"Authorization": "Basic " + writeToken})
	s.raw(t, "GET", "/v1/k/refs/x.json", "", nil, map[string]string{"Authorization": "Bearer " + writeToken + " " + readToken})
	bad := serve(t, faultyTransport{err: errors.New("boom")}, HandlerOptions{})
	bad.client(t, writeToken).Stat(ctx, "refs/x.json")
	put(t, bad.client(t, writeToken), "refs/x.json", content)

	for _, log := range []string{s.log.String(), bad.log.String()} {
		if log == "" {
			t.Fatal("nothing logged")
		}
		for _, tok := range []string{writeToken, readToken, otherToken} {
			if strings.Contains(log, tok) || strings.Contains(log, tok[:12]) {
				t.Fatalf("the log holds a token:\n%s", log)
			}
		}
	}
	mustContain(t, "log", s.log.String(), "invalid token")

	// A Token printed or logged by mistake is redacted.
	tok := Token{Scope: ScopeReadWrite, Secret: writeToken}
	var buf bytes.Buffer
	logger := slogText(&buf)
	logger.Info("oops", "token", tok, "tokens", []Token{tok})
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprint([]Token{tok}), buf.String()} {
		if strings.Contains(s, writeToken) {
			t.Fatalf("printed Token shows its secret: %s", s)
		}
	}
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "# art serve tokens\n\nread " + readToken + "\n  write   " + writeToken + "  \n"
	toks, err := LoadTokens(write("good", good, 0o600))
	if err != nil {
		t.Fatalf("LoadTokens: %v", err)
	}
	if len(toks) != 2 || toks[0] != (Token{ScopeRead, readToken}) || toks[1] != (Token{ScopeReadWrite, writeToken}) {
		t.Fatalf("LoadTokens = %v", toks)
	}
	if _, err := LoadTokens(write("group", good, 0o640)); err != nil {
		t.Fatalf("group-readable file: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o604, 0o602, 0o666} {
		_, err := LoadTokens(write(fmt.Sprintf("open%o", mode), good, mode))
		if !errors.Is(err, ErrTokenFile) {
			t.Fatalf("mode %#o: %v, want ErrTokenFile", mode, err)
		}
		mustContain(t, "error", err.Error(), "chmod 600")
	}
	for name, content := range map[string]string{
		"short":    "read abc\n",
		"scope":    "admin " + writeToken + "\n",
		"fields":   "read " + readToken + " extra\n",
		"bare":     readToken + "\n",
		"dup":      "read " + readToken + "\nwrite " + readToken + "\n",
		"charset":  "read " + readToken + "\"<>\n",
		"nonascii": "read " + readToken + "é\n",
	} {
		_, err := LoadTokens(write(name, content, 0o600))
		if !errors.Is(err, ErrTokenFile) {
			t.Errorf("%s: %v, want ErrTokenFile", name, err)
			continue
		}
		mustContain(t, name+" error", err.Error(), ":")
		for _, tok := range []string{readToken, writeToken, "abc\n"} {
			if strings.Contains(err.Error(), strings.TrimSpace(tok)) {
				t.Errorf("%s: error quotes the token: %v", name, err)
			}
		}
	}
	if _, err := LoadTokens(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := LoadTokens(dir); !errors.Is(err, ErrTokenFile) {
		t.Errorf("directory: %v", err)
	}
	// The loaded tokens work.
	toks, _ = LoadTokens(filepath.Join(dir, "good"))
	mem := newMem()
	s := serve(t, mem, HandlerOptions{Tokens: toks})
	if err := put(t, s.client(t, writeToken), "refs/a.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
}

// TestStalledUploadCut: a body that stops moving is cut after the idle
// timeout and nothing is stored.
func TestStalledUploadCut(t *testing.T) {
	mem := newMem()
	s := serve(t, mem, HandlerOptions{IdleTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /v1/k/refs/slow.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIf-None-Match: *\r\nContent-Length: 100\r\n\r\n0123456789", writeToken)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("stalled upload: %d", resp.StatusCode)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("stalled upload held for %v", took)
	}
	if len(mem.keys()) != 0 {
		t.Fatalf("stored %v", mem.keys())
	}
}
