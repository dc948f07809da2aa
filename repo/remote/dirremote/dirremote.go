package dirremote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/artvcs/art/repo/remote"
)

const (
	tempPrefix = ".tmp-"
	lockPrefix = ".lock-"
	// maxName is the longest file name most file systems accept.
	maxName = 255
	// copyBuf is the buffer PutIfAbsent copies through.
	copyBuf = 256 << 10
)

// Transport is a remote.Transport on a directory. See the package doc
// for the layout and guarantees.
type Transport struct {
	root string
	// link publishes a temp file under its final name; os.Link, replaced
	// by tests to exercise the no-hard-link fallback.
	link func(oldname, newname string) error
}

var (
	_ remote.Transport = (*Transport)(nil)
	_ remote.Opener    = Open
)

// New returns a transport on dir, creating the directory if it is
// missing. A relative dir is made absolute against the working directory.
func New(dir string) (*Transport, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty directory path", remote.ErrUnsupportedURL)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dirremote: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("dirremote: create root: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("dirremote: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dirremote: %s is not a directory", abs)
	}
	return &Transport{root: abs, link: os.Link}, nil
}

// Open returns a transport for a file URL (file:///path, file://localhost/path)
// or a plain directory path as remote.ParseURL returns it.
func Open(ctx context.Context, u *url.URL) (remote.Transport, error) {
	if u.Scheme != "file" && u.Scheme != "" {
		return nil, fmt.Errorf("%w: dirremote cannot open scheme %q", remote.ErrUnsupportedURL, u.Scheme)
	}
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("%w: file URL with host %q (only local paths)", remote.ErrUnsupportedURL, u.Host)
	}
	if u.Opaque != "" || u.Path == "" {
		return nil, fmt.Errorf("%w: file URL without a path: %q", remote.ErrUnsupportedURL, u.String())
	}
	p := u.Path
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/dir
	}
	t, err := New(filepath.FromSlash(p))
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Root returns the absolute path of the directory the transport serves.
func (t *Transport) Root() string { return t.root }

// path validates key and returns its file path under the root.
func (t *Transport) path(key string) (string, error) {
	if err := remote.ValidateKey(key); err != nil {
		return "", err
	}
	for _, seg := range strings.Split(key, "/") {
		if len(seg) > maxName {
			return "", fmt.Errorf("%w: segment of %d bytes is too long for a file name: %.80q", remote.ErrInvalidKey, len(seg), key)
		}
	}
	return filepath.Join(t.root, filepath.FromSlash(key)), nil
}

// Stat returns the key's size and ETag, or remote.ErrNotFound.
func (t *Transport) Stat(ctx context.Context, key string) (remote.Info, error) {
	p, err := t.path(key)
	if err != nil {
		return remote.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return remote.Info{}, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return remote.Info{}, mapErr("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return remote.Info{}, fmt.Errorf("%w: %s (not a regular file)", remote.ErrNotFound, key)
	}
	return info(key, fi), nil
}

// Get opens the key's content. The reader checks that the file yields
// exactly the size it had when opened.
func (t *Transport) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	p, err := t.path(key)
	if err != nil {
		return nil, remote.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, remote.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, remote.Info{}, mapErr("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, remote.Info{}, fmt.Errorf("dirremote: get %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, remote.Info{}, fmt.Errorf("%w: %s (not a regular file)", remote.ErrNotFound, key)
	}
	in := info(key, fi)
	return remote.NewSizedReader(f, "dirremote", key, in.Size), in, nil
}

// GetRange opens n bytes of the key's file from offset off. The reader
// reads with pread (io.SectionReader), so ranges of one key can be read
// at once, and fails with remote.ErrBadResponse if the file yields fewer
// than n bytes there.
func (t *Transport) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	p, err := t.path(key)
	if err != nil {
		return nil, err
	}
	if err := remote.ValidateRange(off, n); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, mapErr("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("dirremote: get %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s (not a regular file)", remote.ErrNotFound, key)
	}
	if size := fi.Size(); off+n > size {
		f.Close()
		return nil, fmt.Errorf("%w: %d bytes at offset %d of %s, which holds %d", remote.ErrInvalidRange, n, off, key, size)
	}
	section := struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, n), f}
	return remote.NewSizedReader(section, "dirremote", key, n), nil
}

// PutIfAbsent stores size bytes of r under key unless it exists. The
// steps, in crash-safe order:
//
//  1. if the key exists, return remote.ErrExists before reading r;
//  2. write exactly size bytes to a ".tmp-" file in the key's directory
//     (r ending early or running long is an error), set its modification
//     time from the nanosecond clock, fsync and close it;
//  3. hard-link it under the key: the link fails if the key exists
//     (remote.ErrExists) and never replaces it;
//  4. remove the temp name and fsync the directory.
//
// On every error the temp file is removed and no key is left.
func (t *Transport) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := t.path(key)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("dirremote: put %s: negative size %d", key, size)
	}
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	}
	dir := filepath.Dir(p)
	if err := t.mkdirAll(dir); err != nil {
		return fmt.Errorf("dirremote: put %s: %w", key, err)
	}
	tmp, err := t.writeTemp(ctx, dir, p, func(f *os.File) error { return copyExactly(ctx, f, r, size) }, time.Time{})
	if err != nil {
		return fmt.Errorf("dirremote: put %s: %w", key, err)
	}
	defer os.Remove(tmp)
	if err := t.link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", remote.ErrExists, key)
		}
		// No hard links here (FAT, some network file systems): publish
		// by rename under the key's lock, which every writer of the key
		// takes, after checking the key is still absent.
		if ferr := t.publishLocked(ctx, key, tmp, p); ferr != nil {
			return fmt.Errorf("dirremote: put %s: link: %v; fallback: %w", key, err, ferr)
		}
		return nil
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("dirremote: put %s: remove temp: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("dirremote: put %s: %w", key, err)
	}
	return nil
}

// publishLocked renames tmp to p under the key's lock if p does not exist.
func (t *Transport) publishLocked(ctx context.Context, key, tmp, p string) error {
	unlock, err := lockKey(ctx, p)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// CompareAndSwap replaces the key's content if its ETag is etag (or
// creates it if etag is "" and it is absent), under an exclusive lock on
// the key's ".lock-" file: compare, write a temp file with a modification
// time later than the current version's, fsync, rename it over the key,
// fsync the directory.
func (t *Transport) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	p, err := t.path(key)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(p)
	if err := t.mkdirAll(dir); err != nil {
		return "", fmt.Errorf("dirremote: swap %s: %w", key, err)
	}
	unlock, err := lockKey(ctx, p)
	if err != nil {
		return "", fmt.Errorf("dirremote: swap %s: lock: %w", key, err)
	}
	defer unlock()

	var notBefore time.Time
	fi, err := os.Lstat(p)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return "", fmt.Errorf("dirremote: swap %s: not a regular file", key)
	case err == nil:
		if cur := etagOf(fi); etag != cur {
			return "", fmt.Errorf("%w: %s has ETag %s, expected %q", remote.ErrConflict, key, cur, etag)
		}
		notBefore = fi.ModTime()
	case errors.Is(err, fs.ErrNotExist):
		if etag != "" {
			return "", fmt.Errorf("%w: %s does not exist, expected ETag %s", remote.ErrConflict, key, etag)
		}
	default:
		return "", fmt.Errorf("dirremote: swap %s: %w", key, err)
	}

	tmp, err := t.writeTemp(ctx, dir, p, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	}, notBefore)
	if err != nil {
		return "", fmt.Errorf("dirremote: swap %s: %w", key, err)
	}
	published := false
	defer func() {
		if !published {
			os.Remove(tmp)
		}
	}()
	nfi, err := os.Lstat(tmp)
	if err != nil {
		return "", fmt.Errorf("dirremote: swap %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("dirremote: swap %s: %w", key, err)
	}
	published = true
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("dirremote: swap %s: %w", key, err)
	}
	return etagOf(nfi), nil // rename keeps the inode and times
}

// writeTemp creates a temp file for p in dir, fills it with write, sets
// its modification time to now (or just after notBefore if now is not
// later), fsyncs and closes it, and returns its path. On error nothing is
// left behind.
func (t *Transport) writeTemp(ctx context.Context, dir, p string, write func(*os.File) error, notBefore time.Time) (string, error) {
	base := filepath.Base(p)
	if len(base) > 100 {
		base = base[:100]
	}
	f, err := os.CreateTemp(dir, tempPrefix+base+"-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := write(f); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	mt := time.Now()
	if !notBefore.IsZero() && !mt.After(notBefore) {
		mt = notBefore.Add(time.Microsecond)
	}
	if err := os.Chtimes(name, mt, mt); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// copyExactly copies size bytes from r to w, checking ctx between reads.
// r ending early is an error wrapping io.ErrUnexpectedEOF; r holding more
// than size bytes is an error wrapping remote.ErrTooLarge.
func copyExactly(ctx context.Context, w io.Writer, r io.Reader, size int64) error {
	bufSize := int64(copyBuf)
	if size < bufSize {
		bufSize = size + 1
	}
	buf := make([]byte, bufSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := int64(len(buf))
		if left := size - n; left < want {
			want = left
		}
		if want == 0 {
			want = 1 // one more byte tells whether r runs long
		}
		m, err := r.Read(buf[:want])
		if m > 0 {
			if n+int64(m) > size {
				return fmt.Errorf("%w: reader holds more than the %d bytes announced", remote.ErrTooLarge, size)
			}
			if _, werr := w.Write(buf[:m]); werr != nil {
				return werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			if n < size {
				return fmt.Errorf("reader ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading content after %d of %d bytes: %w", n, size, err)
		}
	}
}

// List calls fn for each key under prefix, walking the directories that
// can hold such keys and skipping the driver's temp and lock files and
// anything else that is not a valid key.
func (t *Transport) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	start := t.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(t.root, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
				return nil // the prefix's directory is absent, or went away meanwhile
			}
			return fmt.Errorf("dirremote: list %q: %w", prefix, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start {
			return nil
		}
		if !validName(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(t.root, p)
		if err != nil {
			return fmt.Errorf("dirremote: list %q: %w", prefix, err)
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) || remote.ValidateKey(key) != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted meanwhile
			}
			return fmt.Errorf("dirremote: list %q: %w", prefix, err)
		}
		if err := fn(info(key, fi)); err != nil {
			return callbackError{err}
		}
		return nil
	})
	var ce callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	return err
}

// callbackError carries List's callback error through filepath.WalkDir
// untouched (even if it is fs.SkipDir).
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// Delete removes the key under its lock, so it orders with swaps.
func (t *Transport) Delete(ctx context.Context, key string) error {
	p, err := t.path(key)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return mapErr("delete", key, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s (not a regular file)", remote.ErrNotFound, key)
	}
	unlock, err := lockKey(ctx, p)
	if err != nil {
		return fmt.Errorf("dirremote: delete %s: lock: %w", key, err)
	}
	defer unlock()
	if err := os.Remove(p); err != nil {
		return mapErr("delete", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("dirremote: delete %s: %w", key, err)
	}
	return nil
}

// Close does nothing: the transport holds no resources between calls.
func (t *Transport) Close() error { return nil }

// mkdirAll creates dir and its missing parents under the root, fsyncing
// each parent that gained an entry so the new path survives a crash.
func (t *Transport) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is a file, not a directory", dir)
		}
		return nil
	}
	if dir == t.root || len(dir) < len(t.root) {
		return os.MkdirAll(dir, 0o755)
	}
	parent := filepath.Dir(dir)
	if err := t.mkdirAll(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if fi, err := os.Stat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is a file, not a directory", dir)
	}
	return syncDir(parent)
}

// info builds the Info of a key's file.
func info(key string, fi fs.FileInfo) remote.Info {
	return remote.Info{Key: key, Size: fi.Size(), ETag: etagOf(fi), ModTime: fi.ModTime()}
}

// etagOf returns "INODE-SIZE-MTIMENS" in hex.
func etagOf(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x-%x", inode(fi), fi.Size(), fi.ModTime().UnixNano())
}

// validName reports whether a directory entry can be a key segment; the
// driver's temp and lock files cannot.
func validName(name string) bool {
	return len(name) <= maxName && remote.ValidateKey(name) == nil
}

// mapErr maps a missing file (or a path through a file) to
// remote.ErrNotFound and wraps anything else.
func mapErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
		return fmt.Errorf("%w: %s", remote.ErrNotFound, key)
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %s %s: %v", remote.ErrPermission, op, key, err)
	}
	return fmt.Errorf("dirremote: %s %s: %w", op, key, err)
}
