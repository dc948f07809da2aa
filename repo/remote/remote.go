package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

var (
	// ErrNotFound is returned for a key the remote does not hold.
	ErrNotFound = errors.New("not found on remote")
	// ErrExists is returned by PutIfAbsent when the key is already there.
	ErrExists = errors.New("already exists on remote")
	// ErrConflict is returned by CompareAndSwap when the key's current
	// ETag is not the one given (someone else moved it first).
	ErrConflict = errors.New("remote changed meanwhile")
	// ErrInvalidKey is returned for a key that breaks ValidateKey.
	ErrInvalidKey = errors.New("invalid remote key")
	// ErrUnsupportedURL is returned by Open for a URL no driver handles.
	ErrUnsupportedURL = errors.New("unsupported remote URL")
	// ErrPermission is returned when the remote refuses the credentials
	// (a missing, wrong or read-only token; denied S3 access).
	ErrPermission = errors.New("permission denied by remote")
	// ErrTooLarge is returned when an object or a response exceeds a
	// bound the caller or the remote set.
	ErrTooLarge = errors.New("too large")
	// ErrBadResponse is returned when a remote answers with something
	// that breaks the protocol (a truncated body, a wrong size, an
	// unparseable listing).
	ErrBadResponse = errors.New("bad response from remote")
	// ErrInvalidRange is returned by GetRange for a byte range that does
	// not lie inside the key's content, or that is empty or negative.
	ErrInvalidRange = errors.New("invalid byte range")
)

// Info describes one key on a remote.
type Info struct {
	Key     string
	Size    int64
	ETag    string    // opaque; changes whenever the content changes
	ModTime time.Time // zero when the remote does not say
}

// Transport is a remote seen as a dumb key-value store: everything that
// knows about objects, refs and versions lives in package repo. Keys are
// slash-separated relative paths that pass ValidateKey (for example
// "objects/ab/cdef…" or "refs/bike-dataset.json"); an implementation
// refuses any other key with ErrInvalidKey and touches nothing.
//
// All methods are safe for concurrent use, by goroutines of one process
// and by several processes or machines sharing the remote.
type Transport interface {
	// Stat returns the key's size and ETag, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Get opens the key's content for reading, with its Info, or returns
	// ErrNotFound. The reader returns exactly Info.Size bytes and then
	// io.EOF; a body that ends early or runs long is an error wrapping
	// ErrBadResponse, never a silent short read. The caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// GetRange opens n bytes of the key's content starting at byte off
	// (off >= 0, n > 0, off+n <= the content's size). The reader returns
	// exactly n bytes and then io.EOF; a body that ends early or runs long
	// is an error wrapping ErrBadResponse. A missing key is ErrNotFound; a
	// range that does not lie inside the content, or n <= 0 or off < 0, is an
	// error wrapping ErrInvalidRange and nothing is read. The caller closes it.
	GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// PutIfAbsent stores size bytes read from r under key, unless the key
	// exists, in which case it returns ErrExists and leaves it unchanged.
	// The write is atomic: readers see the whole content or no key at all,
	// and an interrupted put leaves no key. Content of any size is
	// streamed with bounded memory.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error
	// CompareAndSwap replaces the key's content with data if the key's
	// current ETag is etag, or creates the key if etag is "" and the key
	// does not exist. It returns the new ETag. If the current state is
	// not the expected one it returns ErrConflict and changes nothing; of
	// several concurrent swaps from one ETag exactly one succeeds.
	CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error)
	// List calls fn for every key that starts with prefix (a directory
	// prefix such as "refs/" or "" for all), in no particular order. If fn
	// returns an error, List stops and returns it.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Delete removes the key. Deleting a missing key returns ErrNotFound.
	Delete(ctx context.Context, key string) error
	// Close releases the transport's resources.
	Close() error
}

// MaxKeyLen bounds the length of a key.
const MaxKeyLen = 1024

// ValidateKey returns nil if key is a relative slash-separated path whose
// segments are non-empty, not "." or "..", start with a letter, digit or
// '_', do not end in '.', and hold only ASCII letters, digits, '.', '_'
// and '-'; and the key is
// at most MaxKeyLen bytes. Anything else (absolute paths, "..", NUL,
// backslashes, spaces, non-ASCII) wraps ErrInvalidKey.
func ValidateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %q", ErrInvalidKey, trunc(key))
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, trunc(key))
		}
		if seg[len(seg)-1] == '.' {
			// Windows drops a trailing dot: "a." and "a" would be one file
			// in a directory remote there.
			return fmt.Errorf("%w: %q", ErrInvalidKey, trunc(key))
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
				i > 0 && (c == '.' || c == '-')
			if !ok {
				return fmt.Errorf("%w: %q", ErrInvalidKey, trunc(key))
			}
		}
	}
	return nil
}

// ValidatePrefix is ValidateKey for a List prefix: "" or a valid key
// followed by "/", or a valid key (matching keys that start with it).
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

// ValidateRange returns nil if off and n can name a byte range of some
// content for GetRange: off >= 0, n > 0, and off+n does not overflow.
// Anything else wraps ErrInvalidRange. Whether the range lies inside a
// key's content is for the driver to check.
func ValidateRange(off, n int64) error {
	if off < 0 || n <= 0 || n > math.MaxInt64-off {
		return fmt.Errorf("%w: %d bytes at offset %d", ErrInvalidRange, n, off)
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Opener opens a transport for a URL of its driver's scheme.
type Opener func(ctx context.Context, u *url.URL) (Transport, error)

var (
	mu      sync.Mutex
	openers = map[string]Opener{}
)

// Register makes a driver available to Open for URLs of the given scheme
// ("file" also serves plain directory paths). It panics if the scheme is
// registered twice. Drivers do not register themselves: package
// repo/remote/all registers every driver, so a program that needs no S3
// does not link it.
func Register(scheme string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic("remote: scheme registered twice: " + scheme)
	}
	openers[scheme] = open
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	mu.Lock()
	defer mu.Unlock()
	var s []string
	for k := range openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Open returns a transport for rawURL: a directory path (absolute, or
// file:///path), s3://bucket/prefix, or http(s)://host/path, depending on
// the drivers registered.
func Open(ctx context.Context, rawURL string) (Transport, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	open := openers[u.Scheme]
	mu.Unlock()
	if open == nil {
		return nil, fmt.Errorf("%w: %q (scheme %q; known: %s)", ErrUnsupportedURL, rawURL, u.Scheme, strings.Join(Schemes(), ", "))
	}
	return open(ctx, u)
}

// ParseURL parses a remote URL. A string without a scheme is a directory
// path and becomes a file URL.
func ParseURL(rawURL string) (*url.URL, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("%w: empty URL", ErrUnsupportedURL)
	}
	if !strings.Contains(rawURL, "://") {
		return &url.URL{Scheme: "file", Path: rawURL}, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, err)
	}
	return u, nil
}
