package httpremote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/artvcs/art/repo/remote"
)

// TestRangeServed: the handler answers "Range: bytes=FIRST-LAST" with 206
// and exactly those bytes, to a read token too.
func TestRangeServed(t *testing.T) {
	mem := newMem()
	content := []byte(strings.Repeat("0123456789", 100))
	mem.put("refs/a.json", content)
	s := serve(t, mem, HandlerOptions{})
	status, hdr, body := s.raw(t, "GET", "/v1/k/refs/a.json", readToken, nil, map[string]string{"Range": "bytes=10-24"})
	if status != http.StatusPartialContent || body != string(content[10:25]) {
		t.Fatalf("GET bytes=10-24: %d %q, want 206 %q", status, body, content[10:25])
	}
	if got, want := hdr.Get("Content-Range"), "bytes 10-24/*"; got != want {
		t.Errorf("Content-Range %q, want %q", got, want)
	}
	if got := hdr.Get("Content-Length"); got != "15" {
		t.Errorf("Content-Length %q, want 15", got)
	}
	c := s.client(t, readToken)
	for _, r := range [][2]int64{{0, 1}, {999, 1}, {0, 1000}, {123, 456}} {
		rc, err := c.GetRange(context.Background(), "refs/a.json", r[0], r[1])
		if err != nil {
			t.Fatalf("GetRange(%d, %d) with a read token: %v", r[0], r[1], err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, content[r[0]:r[0]+r[1]]) {
			t.Errorf("GetRange(%d, %d) = %d bytes, %v; want the content's", r[0], r[1], len(got), err)
		}
	}
}

// TestRangeRefused: any Range but one "bytes=FIRST-LAST" is refused (400),
// as is If-Range; a range outside the content is 416 with the
// invalid-range code; a refused request reaches no transport read.
func TestRangeRefused(t *testing.T) {
	mem := newMem()
	mem.put("refs/a.json", bytes.Repeat([]byte("x"), 1000))
	s := serve(t, mem, HandlerOptions{})
	for _, h := range []string{
		"bytes=-5", "bytes=5-", "bytes=1-2,4-5", "bytes=1-2, 4-5", "bytes=5-3", "items=1-2", "bytes= 1-2",
		"bytes=+1-2", "bytes=0x1-2", "bytes=1-2-3", "bytes", "bytes=", "bytes=-", "BYTES=1-2",
		"bytes=99999999999999999999-1", "bytes=1-99999999999999999999", "bytes=0-9223372036854775807",
		"bytes=1-9223372036854775807",
	} {
		status, hdr, _ := s.raw(t, "GET", "/v1/k/refs/a.json", readToken, nil, map[string]string{"Range": h})
		if status != http.StatusBadRequest || hdr.Get(errorHeader) != codeBadRequest {
			t.Errorf("Range %q: %d %q, want 400 bad-request", h, status, hdr.Get(errorHeader))
		}
	}
	for _, h := range []string{"bytes=1000-1000", "bytes=995-1004", "bytes=5000-6000", "bytes=0-1000",
		"bytes=1-9223372036854775806", "bytes=9223372036854775806-9223372036854775806"} {
		status, hdr, _ := s.raw(t, "GET", "/v1/k/refs/a.json", readToken, nil, map[string]string{"Range": h})
		if status != http.StatusRequestedRangeNotSatisfiable || hdr.Get(errorHeader) != codeInvalidRange {
			t.Errorf("Range %q: %d %q, want 416 invalid-range", h, status, hdr.Get(errorHeader))
		}
	}
	status, _, _ := s.raw(t, "GET", "/v1/k/refs/a.json", readToken, nil, map[string]string{"Range": "bytes=1-2", "If-Range": `"x"`})
	if status != http.StatusBadRequest {
		t.Errorf("Range with If-Range: %d, want 400", status)
	}
	// Two Range headers.
	req, err := http.NewRequest("GET", s.URL+"/v1/k/refs/a.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readToken)
	req.Header.Add("Range", "bytes=1-2")
	req.Header.Add("Range", "bytes=3-4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("two Range headers: %d, want 400", resp.StatusCode)
	}
	// Checks that come first still do.
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/v1/k/refs/a.json", "", http.StatusUnauthorized},
		{"/v1/k/refs/a.json", otherToken, http.StatusUnauthorized},
		{"/v1/k/refs/../x", readToken, http.StatusBadRequest},
		{"/v1/k/refs/a.json?x=1", readToken, http.StatusBadRequest},
		{"/v1/k/refs/missing.json", readToken, http.StatusNotFound},
	} {
		if status, _, _ := s.raw(t, "GET", tc.path, tc.token, nil, map[string]string{"Range": "bytes=0-1"}); status != tc.want {
			t.Errorf("GET %s with a Range, token %q: %d, want %d", tc.path, tc.token, status, tc.want)
		}
	}

	c := s.client(t, readToken)
	if rc, err := c.GetRange(context.Background(), "refs/a.json", 990, 11); !errors.Is(err, remote.ErrInvalidRange) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("GetRange past the end: %v, want ErrInvalidRange", err)
	}
	if rc, err := c.GetRange(context.Background(), "refs/missing.json", 0, 1); !errors.Is(err, remote.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("GetRange of a missing key: %v, want ErrNotFound", err)
	}
}

// TestServerAbortsWrongSizeRange: if the transport's range reader yields
// fewer or more bytes than asked for, the handler cuts the connection.
// The client reports a short body as a bad response; of a long one it
// has received exactly the bytes it asked for before the cut, which it
// may return.
func TestServerAbortsWrongSizeRange(t *testing.T) {
	for _, delta := range []int64{+100, -100} {
		mem := newMem()
		content := make([]byte, 64<<10)
		for i := range content {
			content[i] = byte(i * 7)
		}
		mem.put("refs/a.json", content)
		s := serve(t, lyingRangeTransport{mem, delta}, HandlerOptions{})
		const off, n = 1000, 32 << 10
		rc, err := s.client(t, readToken).GetRange(context.Background(), "refs/a.json", off, n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		switch {
		case delta < 0 && !errors.Is(err, remote.ErrBadResponse):
			t.Errorf("delta %+d: read %d bytes, %v; want ErrBadResponse", delta, len(got), err)
		case delta > 0 && err == nil && !bytes.Equal(got, content[off:off+n]):
			t.Errorf("delta %+d: read %d bytes that are not the range's", delta, len(got))
		case delta > 0 && err != nil && !errors.Is(err, remote.ErrBadResponse):
			t.Errorf("delta %+d: read %d bytes, %v; want the range or ErrBadResponse", delta, len(got), err)
		}
		for i := 0; !strings.Contains(s.log.String(), "get aborted") && i < 200; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		mustContain(t, "log", s.log.String(), "get aborted")
	}
}

// lyingRangeTransport's GetRange yields delta bytes more (or fewer) than
// asked for.
type lyingRangeTransport struct {
	*memTransport
	delta int64
}

func (l lyingRangeTransport) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rc, err := l.memTransport.GetRange(ctx, key, off, n+max(l.delta, 0))
	if err != nil || l.delta >= 0 {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, n+l.delta), rc}, nil
}

// TestHostileRangeAnswers: the client accepts only a 206 with the
// Content-Range and Content-Length of the range it asked for, and a body
// of exactly that length.
func TestHostileRangeAnswers(t *testing.T) {
	content := []byte(strings.Repeat("abcdefghij", 10))
	answer := func(status int, contentRange string, body []byte, length int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if got := r.Header.Get("Range"); got != "bytes=10-29" {
				t.Errorf("client sent Range %q, want bytes=10-29", got)
			}
			if contentRange != "" {
				w.Header().Set("Content-Range", contentRange)
			}
			w.Header().Set("Content-Length", fmt.Sprint(length))
			if status == http.StatusRequestedRangeNotSatisfiable {
				w.Header().Set(errorHeader, codeInvalidRange)
			}
			w.WriteHeader(status)
			w.Write(body)
		}
	}
	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		openErr error // from GetRange
		readErr error // from reading, if GetRange succeeded
	}{
		{"exact", answer(206, "bytes 10-29/100", content[10:30], 20), nil, nil},
		{"exact, length unknown", answer(206, "bytes 10-29/*", content[10:30], 20), nil, nil},
		{"200 with the whole content", answer(200, "", content, 100), remote.ErrBadResponse, nil},
		{"206 without Content-Range", answer(206, "", content[10:30], 20), remote.ErrBadResponse, nil},
		{"another range", answer(206, "bytes 11-30/100", content[11:31], 20), remote.ErrBadResponse, nil},
		{"a longer range", answer(206, "bytes 10-39/100", content[10:40], 30), remote.ErrBadResponse, nil},
		{"the tail that exists", answer(206, "bytes 10-19/20", content[10:20], 10), remote.ErrInvalidRange, nil},
		{"complete length inside the range", answer(206, "bytes 10-29/25", content[10:30], 20), remote.ErrBadResponse, nil},
		{"malformed Content-Range", answer(206, "bytes 10-29", content[10:30], 20), remote.ErrBadResponse, nil},
		{"wrong Content-Length", answer(206, "bytes 10-29/100", content[10:25], 15), remote.ErrBadResponse, nil},
		{"416", answer(416, "bytes */5", nil, 0), remote.ErrInvalidRange, nil},
		{"cut body", answer(206, "bytes 10-29/100", content[10:20], 20), nil, remote.ErrBadResponse},
	} {
		c := hostile(t, tc.h, ClientOptions{})
		rc, err := c.GetRange(context.Background(), "objects/ab/cd", 10, 20)
		if tc.openErr != nil {
			if rc != nil {
				rc.Close()
			}
			if !errors.Is(err, tc.openErr) {
				t.Errorf("%s: GetRange err=%v, want %v", tc.name, err, tc.openErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: GetRange: %v", tc.name, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		switch {
		case tc.readErr != nil && !errors.Is(err, tc.readErr):
			t.Errorf("%s: read %d bytes, err=%v; want %v", tc.name, len(got), err, tc.readErr)
		case tc.readErr == nil && (err != nil || !bytes.Equal(got, content[10:30])):
			t.Errorf("%s: read %q, %v; want %q", tc.name, got, err, content[10:30])
		}
	}
	// A 416 that is not our server's is no statement about the range.
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
	}, ClientOptions{})
	if _, err := c.GetRange(context.Background(), "objects/ab/cd", 10, 20); err == nil || errors.Is(err, remote.ErrInvalidRange) {
		t.Errorf("416 without our code: %v, want an error other than ErrInvalidRange", err)
	}
}

// TestClientRefusesInvalidRanges: ranges that name nothing are refused
// before any request.
func TestClientRefusesInvalidRanges(t *testing.T) {
	c := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent: %s %s", r.Method, r.URL)
	}, ClientOptions{})
	for _, r := range [][2]int64{{0, 0}, {-1, 5}, {5, -1}, {1, 1<<63 - 1}} {
		if _, err := c.GetRange(context.Background(), "objects/ab/cd", r[0], r[1]); !errors.Is(err, remote.ErrInvalidRange) {
			t.Errorf("GetRange(%d, %d) = %v, want ErrInvalidRange", r[0], r[1], err)
		}
	}
	if _, err := c.GetRange(context.Background(), "../x", 0, 1); !errors.Is(err, remote.ErrInvalidKey) {
		t.Errorf("GetRange of an invalid key = %v, want ErrInvalidKey", err)
	}
}
