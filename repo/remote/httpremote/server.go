package httpremote

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/remote"
)

// Default bounds of HandlerOptions.
const (
	DefaultMaxObjectSize = 256 << 20
	DefaultMaxRefSize    = 1 << 20
	DefaultIdleTimeout   = time.Minute
)

// HandlerOptions configure NewHandler. The zero value refuses to build a
// handler: it needs Tokens, or AllowAnonymousRead, or AllowOpen.
type HandlerOptions struct {
	// Tokens are the bearer tokens the handler accepts (see LoadTokens).
	Tokens []Token
	// AllowAnonymousRead grants read access to requests that carry no
	// Authorization header. A request with a wrong token is still refused.
	AllowAnonymousRead bool
	// AllowOpen lets a handler with no Tokens start and grants read-write
	// access to every request. It is for a server bound to a loopback
	// address only; the caller enforces that (see CheckLoopback). It
	// cannot be combined with Tokens.
	AllowOpen bool

	// MaxObjectSize bounds a PUT body (DefaultMaxObjectSize if 0).
	MaxObjectSize int64
	// MaxRefSize bounds the body of a compare-and-swap and of a put under
	// "refs/" (DefaultMaxRefSize if 0).
	MaxRefSize int64

	// Verify, if not nil, checks content before it is stored, for every
	// key written. It receives the body as it streams in and returns a
	// reader over the same bytes that fails, at the latest at its EOF, if
	// the content is unacceptable (or it returns an error at once). Bytes
	// reach the transport only after that reader has ended cleanly. For
	// object keys "objects/xx/<62 hex>" the body reader Verify sees
	// already fails at EOF on a hash mismatch: Verify need not hash.
	// Its error message is returned to the client (422), so it must not
	// carry secrets.
	Verify func(ctx context.Context, key string, body io.Reader) (io.Reader, error)

	// Logger receives one record per refused or failed request and, at
	// debug level, one per request. Nil means no logging. Records never
	// carry a token or any request header.
	Logger *slog.Logger

	// IdleTimeout is how long a request body or a response may stall
	// before the connection is cut: the handler keeps the connection's
	// read and write deadlines this far ahead while data moves, so a
	// transfer of any length succeeds (DefaultIdleTimeout if 0; negative
	// leaves the deadlines to the server).
	IdleTimeout time.Duration
}

type handler struct {
	t         remote.Transport
	auth      *authenticator
	anonRead  bool
	open      bool
	maxObject int64
	maxRef    int64
	verify    func(ctx context.Context, key string, body io.Reader) (io.Reader, error)
	log       *slog.Logger
	idle      time.Duration

	// skipObjectHash turns off the object hash check, for the
	// conformance suite only (it stores arbitrary bytes under
	// object-shaped keys). Not settable from outside the package.
	skipObjectHash bool
}

// NewHandler returns an http.Handler serving t over the protocol in the
// package documentation. It must be the server's root handler, not
// mounted under an http.ServeMux: a ServeMux cleans paths and redirects,
// while this handler refuses every path that is not already clean.
func NewHandler(t remote.Transport, opts HandlerOptions) (http.Handler, error) {
	if t == nil {
		return nil, errors.New("httpremote: nil transport")
	}
	auth, err := newAuthenticator(opts.Tokens)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.AllowOpen && len(opts.Tokens) > 0:
		return nil, errors.New("httpremote: AllowOpen with tokens configured; choose one")
	case !opts.AllowOpen && len(opts.Tokens) == 0 && !opts.AllowAnonymousRead:
		return nil, errors.New("httpremote: no tokens configured (an open server needs AllowOpen, and a loopback address)")
	}
	h := &handler{
		t:         t,
		auth:      auth,
		anonRead:  opts.AllowAnonymousRead,
		open:      opts.AllowOpen,
		maxObject: opts.MaxObjectSize,
		maxRef:    opts.MaxRefSize,
		verify:    opts.Verify,
		log:       opts.Logger,
		idle:      opts.IdleTimeout,
	}
	if h.maxObject <= 0 {
		h.maxObject = DefaultMaxObjectSize
	}
	if h.maxRef <= 0 {
		h.maxRef = DefaultMaxRefSize
	}
	if h.idle == 0 {
		h.idle = DefaultIdleTimeout
	}
	if h.log == nil {
		h.log = slog.New(discardHandler{})
	}
	return h, nil
}

// NewServer returns an http.Server for h on addr. Headers must arrive
// within 10 s and fit in 64 KiB; idle keep-alive connections close after
// 2 min. There is no ReadTimeout or WriteTimeout, which would cut off a
// large transfer (and a ReadTimeout cancels the context of a long
// download): the handler keeps per-connection deadlines moving while data
// flows instead (HandlerOptions.IdleTimeout). A client must authenticate
// before any body is read, so only token holders can hold a connection
// open for long.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// CheckLoopback returns an error unless addr ("host:port") names a
// loopback address (127.0.0.1, ::1 or localhost): the check a caller makes
// before serving with HandlerOptions.AllowOpen.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("httpremote: address %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("httpremote: an open server (no tokens) may listen only on a loopback address, not %q", addr)
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// statusError is a refusal with its HTTP status, code and a message safe
// to show the client.
type statusError struct {
	status int
	code   string
	msg    string
	detail error // logged, never sent
}

func (e *statusError) Error() string { return e.msg }

func refuse(status int, code, format string, args ...any) *statusError {
	return &statusError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// transportError maps an error from the transport to a status, once.
func transportError(err error) *statusError {
	switch {
	case errors.Is(err, remote.ErrNotFound):
		return &statusError{status: http.StatusNotFound, code: codeNotFound, msg: "not found", detail: err}
	case errors.Is(err, remote.ErrExists):
		return &statusError{status: http.StatusPreconditionFailed, code: codeExists, msg: "already exists", detail: err}
	case errors.Is(err, remote.ErrConflict):
		return &statusError{status: http.StatusPreconditionFailed, code: codeConflict, msg: "changed meanwhile", detail: err}
	case errors.Is(err, remote.ErrInvalidKey):
		return &statusError{status: http.StatusBadRequest, code: codeInvalidKey, msg: "invalid key", detail: err}
	case errors.Is(err, remote.ErrTooLarge):
		return &statusError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge, msg: "too large", detail: err}
	case errors.Is(err, remote.ErrInvalidRange):
		return &statusError{status: http.StatusRequestedRangeNotSatisfiable, code: codeInvalidRange, msg: "range not satisfiable", detail: err}
	case errors.Is(err, remote.ErrPermission):
		return &statusError{status: http.StatusForbidden, code: codePermission, msg: "the server's storage refused access", detail: err}
	}
	return &statusError{status: http.StatusInternalServerError, code: codeInternal, msg: "internal error (see the server log)", detail: err}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, key string, e *statusError) {
	level := slog.LevelInfo
	if e.status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", trunc(r.URL.EscapedPath())),
		slog.String("remote", r.RemoteAddr),
		slog.Int("status", e.status),
		slog.String("error", e.msg),
	}
	if key != "" {
		attrs = append(attrs, slog.String("key", key))
	}
	if e.detail != nil {
		attrs = append(attrs, slog.String("detail", e.detail.Error()))
	}
	h.log.LogAttrs(r.Context(), level, "httpremote: request refused", attrs...)

	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set(errorHeader, e.code)
	switch e.status {
	case http.StatusUnauthorized:
		if e.code == codePermission && e.msg == msgNoToken {
			hdr.Set("WWW-Authenticate", `Bearer realm="art"`)
		} else {
			hdr.Set("WWW-Authenticate", `Bearer realm="art", error="invalid_token"`)
		}
	case http.StatusForbidden:
		if e.code == codePermission && e.msg == msgReadOnly {
			hdr.Set("WWW-Authenticate", `Bearer realm="art", error="insufficient_scope"`)
		}
	}
	hdr.Del("ETag")
	hdr.Del("Content-Length")
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		io.WriteString(w, e.msg+"\n")
	}
}

const (
	msgNoToken  = "a bearer token is required"
	msgBadToken = "invalid token"
	msgReadOnly = "the token grants read access only"
)

// scopeAnonymous is the read access of a request without a token when
// HandlerOptions.AllowAnonymousRead is set.
const scopeAnonymous Scope = -1

// writeRefusal is the answer to a write without write access: a token
// is missing (401) or grants read only (403).
func writeRefusal(scope Scope) *statusError {
	if scope == scopeAnonymous {
		return refuse(http.StatusUnauthorized, codePermission, msgNoToken)
	}
	return refuse(http.StatusForbidden, codePermission, msgReadOnly)
}

// authorize returns the scope of the request's credentials or a refusal.
func (h *handler) authorize(r *http.Request) (Scope, *statusError) {
	if h.open {
		return ScopeReadWrite, nil
	}
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		if h.anonRead {
			return scopeAnonymous, nil
		}
		return 0, refuse(http.StatusUnauthorized, codePermission, msgNoToken)
	}
	if len(vals) > 1 {
		return 0, refuse(http.StatusUnauthorized, codePermission, msgBadToken)
	}
	token, ok := bearer(vals[0])
	if !ok {
		return 0, refuse(http.StatusUnauthorized, codePermission, msgBadToken)
	}
	s := h.auth.scope(token)
	if s == 0 {
		return 0, refuse(http.StatusUnauthorized, codePermission, msgBadToken)
	}
	return s, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d := &deadlines{rc: http.NewResponseController(w), idle: h.idle}
	if d.idle > 0 {
		// The server sets no write deadline (WriteTimeout is 0); one left
		// by an earlier request on this connection must not cut this one.
		_ = d.rc.SetWriteDeadline(start.Add(d.idle))
		defer func() { _ = d.rc.SetWriteDeadline(time.Now().Add(d.idle)) }()
	}
	scope, serr := h.authorize(r)
	if serr != nil {
		h.fail(w, r, "", serr)
		return
	}
	path := r.URL.EscapedPath()
	var (
		key    string
		status int
	)
	switch {
	case strings.HasPrefix(path, keyPath):
		key, status, serr = h.serveKey(w, r, d, scope, path[len(keyPath):])
	case strings.HasPrefix(path, swapPath):
		key, status, serr = h.serveSwap(w, r, d, scope, path[len(swapPath):])
	case path == listPath:
		status, serr = h.serveList(w, r, d, scope)
	default:
		serr = refuse(http.StatusNotFound, codeBadRequest, "no such endpoint (this server speaks %s)", "/v1/")
	}
	if serr != nil {
		h.fail(w, r, key, serr)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "httpremote: request",
		slog.String("method", r.Method), slog.String("key", key), slog.Int("status", status),
		slog.String("remote", r.RemoteAddr), slog.Duration("took", time.Since(start)))
}

// parseKey validates the key part of a request path. The path must be the
// key exactly as sent: valid keys need no escaping, so anything escaped
// ("%2e%2e", "%2F", "%00") or unclean ("..", "//", "\") is refused here,
// before it could be decoded, cleaned or redirected into another key.
func parseKey(raw string) (string, *statusError) {
	if err := remote.ValidateKey(raw); err != nil {
		return "", refuse(http.StatusBadRequest, codeInvalidKey, "invalid key %q: keys are slash-separated segments of letters, digits, '.', '_' and '-', with no empty, '.' or '..' segment, sent unescaped", trunc(raw))
	}
	if _, isObject, err := objectID(raw); isObject && err != nil {
		return "", refuse(http.StatusBadRequest, codeInvalidKey, "invalid key %q: an object key is objects/xx/<62 lowercase hex>", trunc(raw))
	}
	return raw, nil
}

// objectID reports whether key names a content-addressed object,
// "objects/xx/<62 hex>" with no suffix, and if so its ID.
func objectID(key string) (objects.ID, bool, error) {
	const prefix = "objects/"
	if len(key) != len(prefix)+2+1+62 || !strings.HasPrefix(key, prefix) || key[len(prefix)+2] != '/' {
		return objects.ID{}, false, nil
	}
	id, err := objects.ParseID(key[len(prefix):len(prefix)+2] + key[len(prefix)+3:])
	return id, true, err
}

func (h *handler) serveKey(w http.ResponseWriter, r *http.Request, d *deadlines, scope Scope, raw string) (string, int, *statusError) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		return "", 0, refuse(http.StatusMethodNotAllowed, codeBadRequest, "method %s not allowed", trunc(r.Method))
	}
	if (r.Method == http.MethodPut || r.Method == http.MethodDelete) && scope != ScopeReadWrite {
		return "", 0, writeRefusal(scope)
	}
	key, serr := parseKey(raw)
	if serr != nil {
		return "", 0, serr
	}
	if r.URL.RawQuery != "" {
		return key, 0, refuse(http.StatusBadRequest, codeBadRequest, "unexpected query string")
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodHead:
		info, err := h.t.Stat(ctx, key)
		if err != nil {
			return key, 0, transportError(err)
		}
		setInfo(w.Header(), info)
		w.WriteHeader(http.StatusOK)
		return key, http.StatusOK, nil

	case http.MethodGet:
		if ranges, ok := r.Header["Range"]; ok {
			return h.serveRange(w, r, d, key, ranges)
		}
		rc, info, err := h.t.Get(ctx, key)
		if err != nil {
			return key, 0, transportError(err)
		}
		defer rc.Close()
		setInfo(w.Header(), info)
		w.WriteHeader(http.StatusOK)
		h.sendBody(w, r, d, key, rc, info.Size)
		return key, http.StatusOK, nil

	case http.MethodDelete:
		if err := h.t.Delete(ctx, key); err != nil {
			return key, 0, transportError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return key, http.StatusNoContent, nil
	}

	// PUT: put-if-absent, and only that.
	if r.Header.Get("If-None-Match") != "*" || r.Header.Get("If-Match") != "" {
		return key, 0, refuse(http.StatusPreconditionRequired, codeBadRequest, "PUT %s needs If-None-Match: * (objects are never overwritten; use %s to swap)", keyPath, swapPath)
	}
	limit := h.maxObject
	if strings.HasPrefix(key, "refs/") {
		limit = h.maxRef
	}
	size, serr := checkLength(r, limit)
	if serr != nil {
		return key, 0, serr
	}
	body, serr := h.openBody(w, r, d, key, size, limit)
	if serr != nil {
		return key, 0, serr
	}
	err := h.t.PutIfAbsent(ctx, key, body.guard, size)
	if err != nil {
		return key, 0, body.failure(err)
	}
	if !body.guard.complete() {
		// The transport returned without reading the whole body: it broke
		// its contract. Say so loudly; do not claim success.
		return key, 0, &statusError{status: http.StatusInternalServerError, code: codeInternal,
			msg: "internal error (see the server log)", detail: errors.New("transport stored a put without reading its whole body")}
	}
	w.WriteHeader(http.StatusCreated)
	return key, http.StatusCreated, nil
}

// serveRange answers a GET with a Range header: exactly one header of
// the form "bytes=FIRST-LAST" (remote.ParseRangeHeader), without If-Range;
// anything else is 400. The answer is 206 with Content-Range "bytes
// FIRST-LAST/*" (the complete length would cost a Stat), or 416 for a
// range that does not lie inside the content.
func (h *handler) serveRange(w http.ResponseWriter, r *http.Request, d *deadlines, key string, ranges []string) (string, int, *statusError) {
	if len(ranges) != 1 {
		return key, 0, refuse(http.StatusBadRequest, codeBadRequest, "more than one Range header")
	}
	if _, ok := r.Header["If-Range"]; ok {
		return key, 0, refuse(http.StatusBadRequest, codeBadRequest, "If-Range is not supported")
	}
	off, n, err := remote.ParseRangeHeader(ranges[0])
	if err != nil {
		return key, 0, refuse(http.StatusBadRequest, codeBadRequest, "unsupported Range %q: the only form served is one bytes=FIRST-LAST", trunc(ranges[0]))
	}
	rc, err := h.t.GetRange(r.Context(), key, off, n)
	if err != nil {
		return key, 0, transportError(err)
	}
	defer rc.Close()
	hdr := w.Header()
	hdr.Set("Content-Length", strconv.FormatInt(n, 10))
	hdr.Set("Content-Range", "bytes "+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+n-1, 10)+"/*")
	hdr.Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusPartialContent)
	h.sendBody(w, r, d, key, rc, n)
	return key, http.StatusPartialContent, nil
}

// sendBody copies exactly size bytes of rc to the response, whose status
// is sent. If rc yields fewer or more, or the copy fails, it aborts the
// connection (panic(http.ErrAbortHandler)) so the client sees a truncated
// body, never a short one that looks complete.
func (h *handler) sendBody(w http.ResponseWriter, r *http.Request, d *deadlines, key string, rc io.Reader, size int64) {
	ctx := r.Context()
	n, err := io.Copy(&progressWriter{w: w, d: d}, io.LimitReader(rc, size+1))
	if err == nil && n != size {
		err = fmt.Errorf("%w: %d bytes, want %d", remote.ErrBadResponse, n, size)
	}
	if err != nil {
		level := slog.LevelError
		if ctx.Err() != nil {
			level = slog.LevelDebug // the client went away
		}
		h.log.LogAttrs(ctx, level, "httpremote: get aborted", slog.String("key", key),
			slog.String("remote", r.RemoteAddr), slog.String("detail", err.Error()))
		panic(http.ErrAbortHandler)
	}
}

func (h *handler) serveSwap(w http.ResponseWriter, r *http.Request, d *deadlines, scope Scope, raw string) (string, int, *statusError) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", "PUT")
		return "", 0, refuse(http.StatusMethodNotAllowed, codeBadRequest, "method %s not allowed", trunc(r.Method))
	}
	if scope != ScopeReadWrite {
		return "", 0, writeRefusal(scope)
	}
	key, serr := parseKey(raw)
	if serr != nil {
		return "", 0, serr
	}
	if r.URL.RawQuery != "" {
		return key, 0, refuse(http.StatusBadRequest, codeBadRequest, "unexpected query string")
	}
	var etag string
	ifMatch, ifNone := r.Header.Values("If-Match"), r.Header.Values("If-None-Match")
	switch {
	case len(ifMatch) == 1 && len(ifNone) == 0:
		var err error
		if etag, err = parseETagHeader(ifMatch[0]); err != nil {
			return key, 0, refuse(http.StatusBadRequest, codeBadRequest, "If-Match: %v", err)
		}
		if etag == "" {
			return key, 0, refuse(http.StatusBadRequest, codeBadRequest, "If-Match: empty ETag")
		}
	case len(ifMatch) == 0 && len(ifNone) == 1 && ifNone[0] == "*":
	default:
		return key, 0, refuse(http.StatusPreconditionRequired, codeBadRequest, "a swap needs one of If-Match: <etag> or If-None-Match: *")
	}
	size, serr := checkLength(r, h.maxRef)
	if serr != nil {
		return key, 0, serr
	}
	body, serr := h.openBody(w, r, d, key, size, h.maxRef)
	if serr != nil {
		return key, 0, serr
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(body.guard, data); err != nil || !body.guard.complete() {
		return key, 0, body.failure(err)
	}
	newTag, err := h.t.CompareAndSwap(r.Context(), key, etag, data)
	if err != nil {
		return key, 0, transportError(err)
	}
	w.Header().Set("ETag", etagHeader(newTag))
	status := http.StatusOK
	if etag == "" {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	return key, status, nil
}

// checkLength returns the request's declared body size, or a refusal if
// it declares none or more than limit.
func checkLength(r *http.Request, limit int64) (int64, *statusError) {
	if r.ContentLength < 0 || len(r.TransferEncoding) > 0 {
		return 0, refuse(http.StatusLengthRequired, codeBadRequest, "a PUT needs a Content-Length")
	}
	if r.ContentLength > limit {
		return 0, refuse(http.StatusRequestEntityTooLarge, codeTooLarge, "body of %d bytes exceeds this server's limit of %d", r.ContentLength, limit)
	}
	return r.ContentLength, nil
}

// putBody is a request body wrapped in its checks, each tagged so a
// failure can be told apart from a transport's.
type putBody struct {
	body, hash, verify *tagReader
	verifyErr          error
	guard              *commitReader
}

// openBody stacks the checks on the request body: exact length, the
// object's hash for an object key, then opts.Verify, and on top a
// commitReader that withholds the last bytes until all have passed.
func (h *handler) openBody(w http.ResponseWriter, r *http.Request, d *deadlines, key string, size, limit int64) (*putBody, *statusError) {
	b := &putBody{}
	var rd io.Reader = http.MaxBytesReader(w, r.Body, limit)
	rd = &progressBody{r: rd, d: d}
	b.body = &tagReader{r: rd}
	rd = b.body
	if id, ok, _ := objectID(key); ok && !h.skipObjectHash {
		b.hash = &tagReader{r: &hashReader{r: rd, h: objects.NewHasher(), want: id}}
		rd = b.hash
	}
	if h.verify != nil {
		vr, err := h.verify(r.Context(), key, rd)
		if err != nil {
			b.verifyErr = err
			return nil, b.failure(err)
		}
		b.verify = &tagReader{r: vr}
		rd = b.verify
	}
	b.guard = &commitReader{r: rd, n: size}
	if size == 0 {
		// A transport may read nothing of an empty body: check it now.
		if err := b.guard.finish(); err != nil {
			return nil, b.failure(err)
		}
	}
	return b, nil
}

// failure explains why a put failed: the body first (it may have caused the
// rest), then the hash, the Verify hook, the length, and last the transport.
func (b *putBody) failure(err error) *statusError {
	switch {
	case b.body != nil && b.body.err != nil:
		var tooBig *http.MaxBytesError
		if errors.As(b.body.err, &tooBig) {
			return &statusError{status: http.StatusRequestEntityTooLarge, code: codeTooLarge, msg: "body too large", detail: b.body.err}
		}
		return &statusError{status: http.StatusBadRequest, code: codeBadRequest, msg: errShortBody.Error(), detail: b.body.err}
	case b.hash != nil && b.hash.err != nil:
		return &statusError{status: http.StatusUnprocessableEntity, code: codeRefused, msg: errCorrupt.Error()}
	case b.verifyErr != nil:
		return &statusError{status: http.StatusUnprocessableEntity, code: codeRefused, msg: "content refused: " + trunc(b.verifyErr.Error())}
	case b.verify != nil && b.verify.err != nil:
		return &statusError{status: http.StatusUnprocessableEntity, code: codeRefused, msg: "content refused: " + trunc(b.verify.err.Error())}
	case b.guard != nil && errors.Is(b.guard.err, errLongBody):
		return &statusError{status: http.StatusUnprocessableEntity, code: codeRefused, msg: "content refused: the checked body is longer than declared"}
	case b.guard != nil && errors.Is(b.guard.err, errShortBody):
		return &statusError{status: http.StatusUnprocessableEntity, code: codeRefused, msg: "content refused: the checked body is shorter than declared"}
	case b.guard != nil && b.guard.err != nil:
		return &statusError{status: http.StatusInternalServerError, code: codeInternal, msg: "internal error (see the server log)", detail: b.guard.err}
	}
	return transportError(err)
}

func setInfo(h http.Header, info remote.Info) {
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	h.Set("ETag", etagHeader(info.ETag))
	h.Set("Content-Type", "application/octet-stream")
	if !info.ModTime.IsZero() {
		h.Set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	}
}

func (h *handler) serveList(w http.ResponseWriter, r *http.Request, d *deadlines, scope Scope) (int, *statusError) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		return 0, refuse(http.StatusMethodNotAllowed, codeBadRequest, "method %s not allowed", trunc(r.Method))
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, refuse(http.StatusBadRequest, codeBadRequest, "malformed query string")
	}
	for k, v := range q {
		if k != "prefix" || len(v) != 1 {
			return 0, refuse(http.StatusBadRequest, codeBadRequest, "the only query parameter is one prefix")
		}
	}
	prefix := q.Get("prefix")
	if err := remote.ValidatePrefix(prefix); err != nil {
		return 0, refuse(http.StatusBadRequest, codeInvalidKey, "invalid prefix %q", trunc(prefix))
	}
	w.Header().Set("Content-Type", listContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(&progressWriter{w: w, d: d}, 32<<10)
	enc := json.NewEncoder(bw)
	var count int64
	err = h.t.List(r.Context(), prefix, func(info remote.Info) error {
		e := listEntry{Key: info.Key, Size: info.Size, ETag: encodeETag(info.ETag)}
		if !info.ModTime.IsZero() {
			e.ModTime = info.ModTime.UTC().Format(time.RFC3339Nano)
		}
		count++
		return enc.Encode(&e)
	})
	end := listEntry{End: true, Count: count}
	if err != nil {
		serr := transportError(err)
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelDebug // the client went away
		}
		h.log.LogAttrs(r.Context(), level, "httpremote: list failed", slog.String("prefix", prefix),
			slog.String("remote", r.RemoteAddr), slog.String("detail", err.Error()))
		end = listEntry{Error: serr.msg, Code: serr.code}
	}
	if err := enc.Encode(&end); err != nil {
		panic(http.ErrAbortHandler)
	}
	if err := bw.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	return http.StatusOK, nil
}
