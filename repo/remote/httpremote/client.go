package httpremote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/artvcs/art/repo/remote"
)

// TokenEnv is the environment variable Open takes the bearer token from.
const TokenEnv = "ART_TOKEN"

// DefaultMaxListEntries bounds a listing when ClientOptions does not.
const DefaultMaxListEntries = 10_000_000

// ClientOptions configure New.
type ClientOptions struct {
	// Token is the bearer token sent with every request; "" sends none
	// (for a server that allows anonymous reads).
	Token string
	// HTTPClient makes the requests; nil means one of our own with the
	// timeouts below. Its redirect policy is replaced: the protocol has
	// no redirects, so the client refuses them.
	HTTPClient *http.Client
	// DialTimeout bounds connecting, TLS handshake included (30 s if 0).
	// Used only when HTTPClient is nil.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response's headers
	// once the request is sent (2 min if 0; it includes the server's time
	// to store an upload). Bodies are not bounded in time: bound a whole
	// operation with its context. Used only when HTTPClient is nil.
	ResponseHeaderTimeout time.Duration
	// MaxListEntries bounds the entries of one listing
	// (DefaultMaxListEntries if 0); beyond it List fails with
	// remote.ErrTooLarge.
	MaxListEntries int64
	// MaxObjectSize, if positive, makes Get and Stat refuse a key larger
	// than this with remote.ErrTooLarge.
	MaxObjectSize int64
}

// Transport is a remote.Transport talking to an `art serve` handler.
type Transport struct {
	base    string // scheme://host/path, no trailing slash
	auth    string // "Bearer <token>" or ""
	hc      *http.Client
	own     *http.Transport // ours to close, or nil
	maxList int64
	maxSize int64
}

var _ remote.Transport = (*Transport)(nil)

// New returns a Transport for the server at baseURL (http or https, with
// an optional path prefix under which the server's /v1/ lives). The URL
// must not carry credentials: the token goes in opts.
func New(baseURL string, opts ClientOptions) (*Transport, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", remote.ErrUnsupportedURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %q is not an http(s) URL", remote.ErrUnsupportedURL, trunc(u.Redacted()))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %q carries credentials; give the token in $%s instead", remote.ErrUnsupportedURL, u.Redacted(), TokenEnv)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %q: want http(s)://host[:port][/path]", remote.ErrUnsupportedURL, trunc(u.String()))
	}
	t := &Transport{
		base:    u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"),
		maxList: opts.MaxListEntries,
		maxSize: opts.MaxObjectSize,
	}
	if t.maxList <= 0 {
		t.maxList = DefaultMaxListEntries
	}
	if opts.Token != "" {
		if err := checkSecret(opts.Token); err != nil {
			return nil, fmt.Errorf("httpremote: %v", err)
		}
		t.auth = "Bearer " + opts.Token
	}
	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	} else {
		dial := opts.DialTimeout
		if dial <= 0 {
			dial = 30 * time.Second
		}
		header := opts.ResponseHeaderTimeout
		if header <= 0 {
			header = 2 * time.Minute
		}
		t.own = &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    dial,
			ResponseHeaderTimeout:  header,
			ExpectContinueTimeout:  time.Second,
			IdleConnTimeout:        90 * time.Second,
			MaxIdleConnsPerHost:    32,
			MaxResponseHeaderBytes: 64 << 10,
			// Never ask for compressed bodies: Go would inflate them on
			// the fly, and a small gzip body can inflate without bound.
			DisableCompression: true,
		}
		hc.Transport = t.own
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.hc = &hc
	return t, nil
}

// Open is the remote.Opener for http and https URLs. The bearer token
// comes from the environment variable ART_TOKEN (TokenEnv); without it the
// transport sends no token, which only a server allowing anonymous reads
// accepts.
func Open(ctx context.Context, u *url.URL) (remote.Transport, error) {
	return New(u.String(), ClientOptions{Token: os.Getenv(TokenEnv)})
}

// Close releases idle connections of the transport's own HTTP client.
func (t *Transport) Close() error {
	if t.own != nil {
		t.own.CloseIdleConnections()
	}
	return nil
}

func (t *Transport) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return nil, err
	}
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	return req, nil
}

// do sends req; on a transport failure the error names op and key, and
// never the token (it is in no URL).
func (t *Transport) do(req *http.Request, op, key string) (*http.Response, error) {
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", op, key, err)
	}
	return resp, nil
}

// done drains a little of a body, so a small response leaves its connection
// reusable, and closes it.
func done(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// statusErr turns an unexpected response into an error and closes its
// body. 412 means exists412 (ErrExists or ErrConflict, by operation).
func statusErr(resp *http.Response, op, key string, exists412 error) error {
	defer done(resp)
	var msg string
	if resp.Request == nil || resp.Request.Method != http.MethodHead {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		msg = strings.TrimSpace(string(b))
	}
	code := resp.Header.Get(errorHeader)
	var sentinel error
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		sentinel = remote.ErrPermission
	case http.StatusNotFound:
		// Only our server's 404 on a key: a wrong base URL or a proxy's
		// 404 must not read as "the remote lacks this key".
		if code == codeNotFound {
			sentinel = remote.ErrNotFound
		}
	case http.StatusPreconditionFailed:
		sentinel = exists412
	case http.StatusRequestEntityTooLarge:
		sentinel = remote.ErrTooLarge
	case http.StatusBadRequest:
		if code == codeInvalidKey {
			sentinel = remote.ErrInvalidKey
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if code == codeInvalidRange {
			sentinel = remote.ErrInvalidRange
		}
	}
	if sentinel != nil {
		if msg == "" {
			return fmt.Errorf("%s %q: %w", op, key, sentinel)
		}
		return fmt.Errorf("%s %q: %w (server: %s)", op, key, sentinel, trunc(msg))
	}
	if msg == "" {
		msg = "no message"
	}
	return fmt.Errorf("%s %q: server answered %s: %s", op, key, trunc(resp.Status), trunc(msg))
}

func badResponse(op, key, format string, args ...any) error {
	return fmt.Errorf("%s %q: %w: %s", op, key, remote.ErrBadResponse, fmt.Sprintf(format, args...))
}

// info reads a key's Info from a HEAD or GET response.
func (t *Transport) info(resp *http.Response, op, key string) (remote.Info, error) {
	info := remote.Info{Key: key, Size: resp.ContentLength}
	if info.Size < 0 || len(resp.TransferEncoding) > 0 {
		return info, badResponse(op, key, "no Content-Length")
	}
	etag, err := parseETagHeader(resp.Header.Get("ETag"))
	if err != nil {
		return info, badResponse(op, key, "%v", err)
	}
	info.ETag = etag
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if tm, err := http.ParseTime(lm); err == nil {
			info.ModTime = tm
		}
	}
	if t.maxSize > 0 && info.Size > t.maxSize {
		return info, fmt.Errorf("%s %q: %w: %d bytes, more than the limit of %d", op, key, remote.ErrTooLarge, info.Size, t.maxSize)
	}
	return info, nil
}

// Stat implements remote.Transport.
func (t *Transport) Stat(ctx context.Context, key string) (remote.Info, error) {
	if err := remote.ValidateKey(key); err != nil {
		return remote.Info{}, err
	}
	req, err := t.newRequest(ctx, http.MethodHead, keyPath+key, nil)
	if err != nil {
		return remote.Info{}, err
	}
	resp, err := t.do(req, "stat", key)
	if err != nil {
		return remote.Info{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return remote.Info{}, statusErr(resp, "stat", key, remote.ErrExists)
	}
	defer done(resp)
	return t.info(resp, "stat", key)
}

// Get implements remote.Transport. The reader yields exactly the size the
// server announced; a body that ends early or runs long is an error
// wrapping remote.ErrBadResponse.
func (t *Transport) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	if err := remote.ValidateKey(key); err != nil {
		return nil, remote.Info{}, err
	}
	req, err := t.newRequest(ctx, http.MethodGet, keyPath+key, nil)
	if err != nil {
		return nil, remote.Info{}, err
	}
	resp, err := t.do(req, "get", key)
	if err != nil {
		return nil, remote.Info{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, remote.Info{}, statusErr(resp, "get", key, remote.ErrExists)
	}
	info, err := t.info(resp, "get", key)
	if err != nil {
		resp.Body.Close()
		return nil, remote.Info{}, err
	}
	return &sizedBody{body: resp.Body, left: info.Size, key: key}, info, nil
}

// GetRange implements remote.Transport: a GET with "Range:
// bytes=FIRST-LAST". Only a 206 answer whose Content-Range names exactly
// that range and whose Content-Length is n is accepted; a 200 (a server or
// proxy that ignored the range and sends the whole content) is
// remote.ErrBadResponse, never sliced. 416 is remote.ErrInvalidRange.
func (t *Transport) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := remote.ValidateKey(key); err != nil {
		return nil, err
	}
	if err := remote.ValidateRange(off, n); err != nil {
		return nil, err
	}
	req, err := t.newRequest(ctx, http.MethodGet, keyPath+key, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", remote.RangeHeader(off, n))
	resp, err := t.do(req, "get", key)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		done(resp)
		return nil, badResponse("get", key, "200 with the whole content, not 206 with the range asked for")
	}
	if resp.StatusCode != http.StatusPartialContent {
		return nil, statusErr(resp, "get", key, remote.ErrExists)
	}
	if err := remote.CheckContentRange(resp.Header.Get("Content-Range"), off, n); err != nil {
		done(resp)
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if resp.ContentLength != n || len(resp.TransferEncoding) > 0 {
		done(resp)
		return nil, badResponse("get", key, "Content-Length %d for a range of %d bytes", resp.ContentLength, n)
	}
	return &sizedBody{body: resp.Body, left: n, key: key}, nil
}

// sizedBody yields exactly left bytes of body and then checks that body
// ends there.
type sizedBody struct {
	body io.ReadCloser
	left int64
	key  string
	err  error
}

func (b *sizedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		var one [1]byte
		n, err := io.ReadFull(b.body, one[:])
		switch {
		case n > 0:
			b.err = badResponse("get", b.key, "body longer than its Content-Length")
		case err == io.EOF:
			b.err = io.EOF
		default:
			b.err = badResponse("get", b.key, "reading past the end: %v", err)
		}
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		if ctxErr := contextError(err); ctxErr != nil {
			b.err = fmt.Errorf("get %q: %w", b.key, ctxErr)
		} else {
			b.err = badResponse("get", b.key, "body cut %d bytes short: %v", b.left, err)
		}
		return n, b.err
	}
	if err == io.EOF && b.left == 0 {
		b.err = io.EOF
	}
	return n, err
}

// contextError returns the context error err stems from, if any: a
// cancelled download is the caller's doing, not the server's.
func contextError(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

func (b *sizedBody) Close() error { return b.body.Close() }

// PutIfAbsent implements remote.Transport. It streams size bytes of r with
// a Content-Length; it never buffers the content.
func (t *Transport) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := remote.ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %q: negative size %d", key, size)
	}
	body := io.Reader(http.NoBody)
	if size > 0 {
		body = &exactReader{r: r, left: size}
	}
	req, err := t.newRequest(ctx, http.MethodPut, keyPath+key, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("If-None-Match", "*")
	if size > 1<<20 {
		// Lets the server refuse (exists, too large, no permission) before
		// the body is sent, when the HTTP client honours it.
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := t.do(req, "put", key)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return statusErr(resp, "put", key, remote.ErrExists)
	}
	done(resp)
	return nil
}

// exactReader yields size bytes of r. If r ends sooner, or holds more
// than size bytes, it fails instead of yielding the bytes that complete
// the body, so the HTTP client aborts the request and the server, seeing a
// short body, stores nothing.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

var errReaderLonger = errors.New("reader holds more bytes than the size given")

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err != nil && err != io.EOF:
		e.err = err
		return 0, err
	case err == io.EOF && e.left > 0:
		e.err = fmt.Errorf("reader ended %d bytes before the size given: %w", e.left, io.ErrUnexpectedEOF)
		return 0, e.err
	case e.left == 0 && err == nil:
		// Make sure r ends here before handing over the last bytes.
		var one [1]byte
		for range 100 {
			m, err := e.r.Read(one[:])
			if m > 0 {
				e.err = errReaderLonger
				return 0, e.err
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				e.err = err
				return 0, err
			}
		}
	}
	if e.left == 0 {
		e.err = io.EOF
	}
	return n, nil
}

// CompareAndSwap implements remote.Transport.
func (t *Transport) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	if err := remote.ValidateKey(key); err != nil {
		return "", err
	}
	req, err := t.newRequest(ctx, http.MethodPut, swapPath+key, bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if etag == "" {
		req.Header.Set("If-None-Match", "*")
	} else {
		req.Header.Set("If-Match", etagHeader(etag))
	}
	resp, err := t.do(req, "swap", key)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", statusErr(resp, "swap", key, remote.ErrConflict)
	}
	defer done(resp)
	newTag, err := parseETagHeader(resp.Header.Get("ETag"))
	if err != nil {
		return "", badResponse("swap", key, "%v", err)
	}
	return newTag, nil
}

// Delete implements remote.Transport.
func (t *Transport) Delete(ctx context.Context, key string) error {
	if err := remote.ValidateKey(key); err != nil {
		return err
	}
	req, err := t.newRequest(ctx, http.MethodDelete, keyPath+key, nil)
	if err != nil {
		return err
	}
	resp, err := t.do(req, "delete", key)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent {
		return statusErr(resp, "delete", key, remote.ErrConflict)
	}
	done(resp)
	return nil
}

// List implements remote.Transport. It decodes the listing as it
// arrives, one bounded line at a time, and checks every entry: a listing
// whose lines are too long, whose keys are invalid or outside the prefix,
// or that ends without its closing line is an error wrapping
// remote.ErrBadResponse; one with more than MaxListEntries entries fails
// with remote.ErrTooLarge.
func (t *Transport) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	req, err := t.newRequest(ctx, http.MethodGet, listPath+"?prefix="+url.QueryEscape(prefix), nil)
	if err != nil {
		return err
	}
	resp, err := t.do(req, "list", prefix)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return statusErr(resp, "list", prefix, remote.ErrConflict)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != listContentType {
		return badResponse("list", prefix, "content type %q", trunc(ct))
	}
	br := bufio.NewReaderSize(resp.Body, maxListLine)
	var count int64
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			return badResponse("list", prefix, "a line longer than %d bytes", maxListLine)
		case err == io.EOF && len(line) == 0:
			return badResponse("list", prefix, "listing ends without its closing line after %d entries", count)
		case err == io.EOF:
			return badResponse("list", prefix, "listing ends in the middle of a line")
		case err != nil:
			if ctxErr := contextError(err); ctxErr != nil {
				return fmt.Errorf("list %q: %w", prefix, ctxErr)
			}
			return badResponse("list", prefix, "reading: %v", err)
		}
		var e listEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return badResponse("list", prefix, "entry %d: %v", count+1, err)
		}
		if e.Error != "" {
			if s := sentinelFor(e.Code); s != nil {
				return fmt.Errorf("list %q: %w (server: %s)", prefix, s, trunc(e.Error))
			}
			return fmt.Errorf("list %q: the server failed part way: %s", prefix, trunc(e.Error))
		}
		if e.End {
			if e.Key != "" || e.Count != count {
				return badResponse("list", prefix, "closing line counts %d entries, received %d", e.Count, count)
			}
			return nil
		}
		info, err := e.info(prefix)
		if err != nil {
			return badResponse("list", prefix, "entry %d: %v", count+1, err)
		}
		if count++; count > t.maxList {
			return fmt.Errorf("list %q: %w: more than %d entries", prefix, remote.ErrTooLarge, t.maxList)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
}

// info checks a listing entry and converts it.
func (e *listEntry) info(prefix string) (remote.Info, error) {
	if err := remote.ValidateKey(e.Key); err != nil {
		return remote.Info{}, err
	}
	if !strings.HasPrefix(e.Key, prefix) {
		return remote.Info{}, fmt.Errorf("key %q outside the prefix", e.Key)
	}
	if e.Size < 0 {
		return remote.Info{}, fmt.Errorf("negative size %s", strconv.FormatInt(e.Size, 10))
	}
	etag, err := decodeETag(e.ETag)
	if err != nil {
		return remote.Info{}, err
	}
	info := remote.Info{Key: e.Key, Size: e.Size, ETag: etag}
	if e.ModTime != "" {
		tm, err := time.Parse(time.RFC3339Nano, e.ModTime)
		if err != nil {
			return remote.Info{}, fmt.Errorf("mtime %q", trunc(e.ModTime))
		}
		info.ModTime = tm
	}
	return info, nil
}
