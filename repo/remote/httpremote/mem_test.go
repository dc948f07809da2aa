package httpremote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/artvcs/art/repo/remote"
)

// memTransport is an in-memory remote.Transport for tests. Its
// PutIfAbsent is deliberately naive: it reads exactly size bytes with
// io.ReadFull and stores them without looking for EOF (or, with
// readToEOF, copies until EOF), so tests show the handler's checks hold
// against either style of transport.
type memTransport struct {
	readToEOF bool

	mu      sync.Mutex
	m       map[string]memEntry
	gen     int
	puts    int // PutIfAbsent calls that reached the transport
	putErrs int // of which failed while reading the body
}

type memEntry struct {
	data  []byte
	etag  string
	mtime time.Time
}

var _ remote.Transport = (*memTransport)(nil)

func newMem() *memTransport { return &memTransport{m: map[string]memEntry{}} }

// nextETag makes ETags that no HTTP header could carry verbatim, so
// tests exercise their encoding.
func (t *memTransport) nextETag() string {
	t.gen++
	return fmt.Sprintf("W/\"é\x00 %d\r\n", t.gen)
}

func (t *memTransport) Stat(ctx context.Context, key string) (remote.Info, error) {
	if err := remote.ValidateKey(key); err != nil {
		return remote.Info{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[key]
	if !ok {
		return remote.Info{}, fmt.Errorf("%w: %s", remote.ErrNotFound, key)
	}
	return remote.Info{Key: key, Size: int64(len(e.data)), ETag: e.etag, ModTime: e.mtime}, nil
}

func (t *memTransport) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	info, err := t.Stat(ctx, key)
	if err != nil {
		return nil, info, err
	}
	t.mu.Lock()
	data := t.m[key].data
	t.mu.Unlock()
	return io.NopCloser(bytes.NewReader(data)), info, nil
}

func (t *memTransport) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := remote.ValidateKey(key); err != nil {
		return nil, err
	}
	if err := remote.ValidateRange(off, n); err != nil {
		return nil, err
	}
	t.mu.Lock()
	e, ok := t.m[key]
	t.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", remote.ErrNotFound, key)
	}
	if off+n > int64(len(e.data)) {
		return nil, fmt.Errorf("%w: %d bytes at %d of %s", remote.ErrInvalidRange, n, off, key)
	}
	return io.NopCloser(bytes.NewReader(e.data[off : off+n])), nil
}

func (t *memTransport) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := remote.ValidateKey(key); err != nil {
		return err
	}
	t.mu.Lock()
	t.puts++
	_, exists := t.m[key]
	t.mu.Unlock()
	if exists {
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	}
	var data []byte
	var err error
	if t.readToEOF {
		var b bytes.Buffer
		_, err = io.Copy(&b, r)
		data = b.Bytes()
	} else {
		data = make([]byte, size)
		_, err = io.ReadFull(r, data)
	}
	if err != nil {
		t.mu.Lock()
		t.putErrs++
		t.mu.Unlock()
		return fmt.Errorf("mem: put %s: %w", key, err)
	}
	if int64(len(data)) != size {
		return fmt.Errorf("mem: put %s: %d bytes, want %d", key, len(data), size)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, exists := t.m[key]; exists {
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	}
	t.m[key] = memEntry{data: data, etag: t.nextETag(), mtime: time.Now()}
	return nil
}

func (t *memTransport) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	if err := remote.ValidateKey(key); err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, exists := t.m[key]
	if etag == "" && exists || etag != "" && (!exists || cur.etag != etag) {
		return "", fmt.Errorf("%w: %s", remote.ErrConflict, key)
	}
	e := memEntry{data: bytes.Clone(data), etag: t.nextETag(), mtime: time.Now()}
	t.m[key] = e
	return e.etag, nil
}

func (t *memTransport) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	t.mu.Lock()
	var infos []remote.Info
	for k, e := range t.m {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, remote.Info{Key: k, Size: int64(len(e.data)), ETag: e.etag, ModTime: e.mtime})
		}
	}
	t.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

func (t *memTransport) Delete(ctx context.Context, key string) error {
	if err := remote.ValidateKey(key); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[key]; !ok {
		return fmt.Errorf("%w: %s", remote.ErrNotFound, key)
	}
	delete(t.m, key)
	return nil
}

func (t *memTransport) Close() error { return nil }

// keys returns the stored keys, sorted.
func (t *memTransport) keys() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ks []string
	for k := range t.m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// snapshot returns a copy of the stored content, to compare before and
// after a refused request.
func (t *memTransport) snapshot() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := map[string]string{}
	for k, e := range t.m {
		m[k] = string(e.data) + "|" + e.etag
	}
	return m
}

func (t *memTransport) put(key string, data []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[key] = memEntry{data: data, etag: t.nextETag(), mtime: time.Now()}
}

// faultyTransport fails every call with a detailed error, for the
// mapping to 500 and its logging.
type faultyTransport struct{ err error }

func (f faultyTransport) Stat(context.Context, string) (remote.Info, error) {
	return remote.Info{}, f.err
}
func (f faultyTransport) Get(context.Context, string) (io.ReadCloser, remote.Info, error) {
	return nil, remote.Info{}, f.err
}
func (f faultyTransport) GetRange(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, f.err
}
func (f faultyTransport) PutIfAbsent(context.Context, string, io.Reader, int64) error { return f.err }
func (f faultyTransport) CompareAndSwap(context.Context, string, string, []byte) (string, error) {
	return "", f.err
}
func (f faultyTransport) List(context.Context, string, func(remote.Info) error) error { return f.err }
func (f faultyTransport) Delete(context.Context, string) error                        { return f.err }
func (f faultyTransport) Close() error                                                { return nil }
