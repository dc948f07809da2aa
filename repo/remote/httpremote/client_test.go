package httpremote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/artvcs/art/repo/remote"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	c := serve(t, mem, HandlerOptions{}).client(t, writeToken)

	content := []byte("hello, remote")
	key := objectKey(content)
	if err := put(t, c, key, content); err != nil {
		t.Fatalf("PutIfAbsent: %v", err)
	}
	if err := put(t, c, key, content); !errors.Is(err, remote.ErrExists) {
		t.Fatalf("second PutIfAbsent = %v, want ErrExists", err)
	}
	info, err := c.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	want, _ := mem.Stat(ctx, key)
	if info.Key != key || info.Size != int64(len(content)) || info.ETag != want.ETag || info.ModTime.IsZero() {
		t.Fatalf("Stat = %+v, want size %d, ETag %q", info, len(content), want.ETag)
	}
	rc, ginfo, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) || ginfo.ETag != want.ETag {
		t.Fatalf("Get = %q, %+v, %v; want %q", got, ginfo, err, content)
	}

	var listed []remote.Info
	if err := c.List(ctx, "objects/", func(i remote.Info) error { listed = append(listed, i); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(listed) != 1 || listed[0].Key != key || listed[0].ETag != want.ETag || listed[0].Size != int64(len(content)) {
		t.Fatalf("List = %+v", listed)
	}
	if err := c.List(ctx, "refs/", func(remote.Info) error { t.Fatal("entry under refs/"); return nil }); err != nil {
		t.Fatalf("List refs/: %v", err)
	}

	if err := c.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := c.Delete(ctx, key); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	if _, err := c.Stat(ctx, key); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if _, _, err := c.Get(ctx, key); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func TestEmptyObject(t *testing.T) {
	mem := newMem()
	c := serve(t, mem, HandlerOptions{}).client(t, writeToken)
	if err := put(t, c, objectKey(nil), nil); err != nil {
		t.Fatalf("PutIfAbsent empty object: %v", err)
	}
	// An empty body under the key of other content is refused, even
	// though a transport reads nothing of it.
	wrong := objectKey([]byte("x"))
	if err := put(t, c, wrong, nil); err == nil {
		t.Fatal("empty body under a non-empty object's key was stored")
	}
	if got := mem.keys(); len(got) != 1 || got[0] != objectKey(nil) {
		t.Fatalf("stored %v", got)
	}
}

func TestCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	c := serve(t, mem, HandlerOptions{}).client(t, writeToken)
	const key = "refs/bike-dataset.json"

	e1, err := c.CompareAndSwap(ctx, key, "", []byte(`{"v":1}`))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := c.CompareAndSwap(ctx, key, "", []byte(`{"v":9}`)); !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("create again = %v, want ErrConflict", err)
	}
	e2, err := c.CompareAndSwap(ctx, key, e1, []byte(`{"v":2}`))
	if err != nil {
		t.Fatalf("swap: %v", err)
	}
	if e2 == e1 {
		t.Fatalf("ETag did not change: %q", e2)
	}
	if _, err := c.CompareAndSwap(ctx, key, e1, []byte(`{"v":3}`)); !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("stale swap = %v, want ErrConflict", err)
	}
	if _, err := c.CompareAndSwap(ctx, "refs/missing.json", e1, []byte(`{}`)); !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("swap of a missing key = %v, want ErrConflict", err)
	}
	info, err := c.Stat(ctx, key)
	if err != nil || info.ETag != e2 {
		t.Fatalf("Stat = %+v, %v; want ETag %q", info, err, e2)
	}
	rc, _, err := c.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != `{"v":2}` {
		t.Fatalf("content %q", b)
	}
}

func TestConcurrentSwapsOneWins(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	c := serve(t, mem, HandlerOptions{}).client(t, writeToken)
	const key = "refs/race.json"
	e0, err := c.CompareAndSwap(ctx, key, "", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range 8 {
		wg.Go(func() {
			_, err := c.CompareAndSwap(ctx, key, e0, []byte(fmt.Sprint(i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, remote.ErrConflict):
				t.Errorf("swap %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d swaps won, want 1", wins)
	}
}

func TestListMany(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	for i := range 3000 {
		mem.put(fmt.Sprintf("objects/%02x/k%d", i%256, i), []byte(fmt.Sprint(i)))
	}
	mem.put("refs/a.json", []byte("{}"))
	c := serve(t, mem, HandlerOptions{}).client(t, readToken)
	n := 0
	if err := c.List(ctx, "objects/", func(remote.Info) error { n++; return nil }); err != nil || n != 3000 {
		t.Fatalf("List objects/ = %d entries, %v; want 3000", n, err)
	}
	n = 0
	if err := c.List(ctx, "", func(remote.Info) error { n++; return nil }); err != nil || n != 3001 {
		t.Fatalf("List \"\" = %d entries, %v; want 3001", n, err)
	}
	stop := errors.New("stop")
	if err := c.List(ctx, "", func(remote.Info) error { return stop }); err != stop {
		t.Fatalf("List with failing fn = %v, want the fn's error", err)
	}
	if err := c.List(ctx, "../", func(remote.Info) error { return nil }); !errors.Is(err, remote.ErrInvalidKey) {
		t.Fatalf("List ../ = %v, want ErrInvalidKey", err)
	}
}

func TestClientRefusesInvalidKeys(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s := serve(t, mem, HandlerOptions{})
	c := s.client(t, writeToken)
	for _, key := range []string{"", "/abs", "a/../b", "a//b", `a\b`, "a\x00b", "refs/é.json"} {
		if _, err := c.Stat(ctx, key); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := put(t, c, key, []byte("x")); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("PutIfAbsent(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := c.CompareAndSwap(ctx, key, "", []byte("x")); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("CompareAndSwap(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := c.Delete(ctx, key); !errors.Is(err, remote.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if s.log.String() != "" {
		t.Fatalf("invalid keys reached the server:\n%s", s.log)
	}
	// An object key in uppercase hex passes ValidateKey but is refused
	// by the server: it would escape hash verification.
	upper := strings.ToUpper(objectKey([]byte("x"))[len("objects/"):])
	if err := put(t, c, "objects/"+upper, []byte("x")); !errors.Is(err, remote.ErrInvalidKey) {
		t.Fatalf("uppercase object key = %v, want ErrInvalidKey", err)
	}
}

func TestPutShortReader(t *testing.T) {
	mem := newMem()
	c := serve(t, mem, HandlerOptions{}).client(t, writeToken)
	content := []byte("0123456789")
	err := c.PutIfAbsent(context.Background(), objectKey(content), bytes.NewReader(content[:4]), int64(len(content)))
	if err == nil {
		t.Fatal("a reader shorter than size was stored")
	}
	if len(mem.keys()) != 0 {
		t.Fatalf("stored %v", mem.keys())
	}
}

// slowReader yields n bytes in steps with a pause before each.
type slowReader struct {
	data  []byte
	step  int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	n := min(len(p), s.step, len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// TestSlowTransfersOutliveIdleTimeout: uploads and downloads that take
// longer than the idle timeout succeed while data keeps moving.
func TestSlowTransfersOutliveIdleTimeout(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	c := serve(t, mem, HandlerOptions{IdleTimeout: 300 * time.Millisecond}).client(t, writeToken)
	content := bytes.Repeat([]byte("slow"), 2<<10)
	key := objectKey(content)
	start := time.Now()
	if err := c.PutIfAbsent(ctx, key, &slowReader{data: content, step: 1 << 10, pause: 100 * time.Millisecond}, int64(len(content))); err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Fatalf("upload took %v, test needs it slower than the idle timeout", took)
	}
	rc, _, err := c.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	buf := make([]byte, 1<<10)
	start = time.Now()
	for {
		time.Sleep(60 * time.Millisecond)
		n, err := rc.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slow download: %v", err)
		}
	}
	if !bytes.Equal(got.Bytes(), content) {
		t.Fatal("slow download: wrong content")
	}
}

func TestNewRefusesURLs(t *testing.T) {
	for _, u := range []string{"ftp://h/x", "http://user:pw@h/", "http:///x", "http://h/?q=1", "://", "s3://b/p"} {
		if _, err := New(u, ClientOptions{}); !errors.Is(err, remote.ErrUnsupportedURL) {
			t.Errorf("New(%q) = %v, want ErrUnsupportedURL", u, err)
		}
	}
	if _, err := New("http://h/", ClientOptions{Token: "short"}); err == nil {
		t.Error("New accepted a short token")
	}
	if _, err := New("http://h/", ClientOptions{Token: "abcdefghijklmnop\r\nX-Evil: 1"}); err == nil {
		t.Error("New accepted a token with a line break")
	} else if strings.Contains(err.Error(), "abcdefghijklmnop") {
		t.Errorf("error quotes the token: %v", err)
	}
}

func TestOpenTakesTokenFromEnv(t *testing.T) {
	mem := newMem()
	s := serve(t, mem, HandlerOptions{})
	u, _ := url.Parse(s.URL + "/")
	t.Setenv(TokenEnv, writeToken)
	tr, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := put(t, tr, objectKey([]byte("env")), []byte("env")); err != nil {
		t.Fatalf("put with $%s: %v", TokenEnv, err)
	}
	t.Setenv(TokenEnv, "")
	tr2, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if _, err := tr2.Stat(context.Background(), objectKey([]byte("env"))); !errors.Is(err, remote.ErrPermission) {
		t.Fatalf("Stat without a token = %v, want ErrPermission", err)
	}
}

func TestBasePathPrefix(t *testing.T) {
	mem := newMem()
	s := serve(t, mem, HandlerOptions{})
	// The client puts its paths below the base URL's path; a server
	// mounted elsewhere answers 404 without our code: not ErrNotFound.
	c, err := New(s.URL+"/mounted/", ClientOptions{Token: readToken})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Stat(context.Background(), "refs/x.json")
	if err == nil || errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Stat under a wrong base path = %v, want an error other than ErrNotFound", err)
	}
}

// lyingTransport's Get announces a size other than the content's.
type lyingTransport struct {
	*memTransport
	delta int64
}

func (l lyingTransport) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	rc, info, err := l.memTransport.Get(ctx, key)
	info.Size += l.delta
	return rc, info, err
}

// TestServerAbortsWrongSizeGet: if the transport yields fewer or more
// bytes than it announced, the handler cuts the connection, and the
// client reports a bad response instead of a short or silently clipped
// object.
func TestServerAbortsWrongSizeGet(t *testing.T) {
	for _, delta := range []int64{+100, -100} {
		mem := newMem()
		content := bytes.Repeat([]byte("q"), 64<<10)
		mem.put("refs/a.json", content)
		s := serve(t, lyingTransport{mem, delta}, HandlerOptions{})
		rc, _, err := s.client(t, readToken).Get(context.Background(), "refs/a.json")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if !errors.Is(err, remote.ErrBadResponse) {
			t.Errorf("delta %+d: read %d bytes, %v; want ErrBadResponse", delta, len(got), err)
		}
		mustContain(t, "log", s.log.String(), "get aborted")
	}
}
