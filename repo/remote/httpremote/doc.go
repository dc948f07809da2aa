// Package httpremote is the HTTP driver of art remotes: a Handler that
// serves any remote.Transport over HTTP (what `art serve` runs), and a
// client Transport that talks to it.
//
// # Protocol
//
// Every path is below /v1/ at the server's root. A key travels in the
// path exactly as remote.ValidateKey accepts it: valid keys need no
// escaping, so a path with any escape ("%2e", "%2F", "%00"), an empty,
// "." or ".." segment, a backslash or any other character outside the key
// alphabet is refused with 400 and nothing is touched — never cleaned,
// decoded into another key, or redirected. An object key
// "objects/xx/<62 hex>" must be lowercase hex.
//
//	HEAD   /v1/k/<key>       200: Content-Length, ETag, Last-Modified (if known)
//	GET    /v1/k/<key>       200: the same headers and exactly Content-Length bytes
//	GET    /v1/k/<key>       with "Range: bytes=FIRST-LAST": 206 with Content-Range
//	                         "bytes FIRST-LAST/*" and exactly those bytes; 416 if the
//	                         range is not inside the content; any other Range form
//	                         (several ranges, "-N", "N-"), several Range headers or
//	                         If-Range: 400
//	PUT    /v1/k/<key>       put-if-absent; needs If-None-Match: * and a
//	                         Content-Length. 201 stored; 412 exists
//	PUT    /v1/swap/<key>    compare-and-swap; If-Match: <etag> replaces the
//	                         key if its ETag is etag (200), If-None-Match: *
//	                         creates it if absent (201). The new ETag is in
//	                         the response's ETag header. 412 conflict
//	DELETE /v1/k/<key>       204 deleted; 404 missing
//	GET    /v1/list?prefix=P 200: the listing, application/x-ndjson
//
// A transport's ETag is opaque and may hold any byte, so the wire carries
// its base64url encoding without padding: in headers as a strong
// entity-tag ("<base64url>"), in a listing bare.
//
// A listing is one JSON object per line, each at most 8 KiB:
//
//	{"key":"objects/ab/…","size":123,"etag":"…","mtime":"2025-01-02T03:04:05Z"}
//	…
//	{"end":true,"count":N}
//
// The closing line counts the entries before it; a listing that stops
// without it was cut off. A listing that fails part way (the status was
// already sent) ends with {"error":"<message>","code":"<code>"} instead.
//
// An error response has a short text/plain message and an Art-Error
// header with one of the codes invalid-key, not-found, exists, conflict,
// too-large, permission, bad-request, refused, invalid-range, internal.
// Statuses:
// 400 bad key or request (also a body shorter than its Content-Length),
// 401 no or wrong token, 403 read-only token writing (or the storage
// refusing), 404 not found or no such endpoint, 405 method, 411 no
// Content-Length, 412 exists or conflict, 413 body over the limit, 422
// content that failed verification, 428 a PUT without its precondition,
// 416 a range outside the content, 500 anything else, with a generic
// message (the detail goes to the server's log).
//
// # Authentication
//
// Requests carry "Authorization: Bearer <token>". A token has scope read
// (HEAD, GET with or without a range, list) or write (everything). The handler keeps SHA-256
// digests of the configured tokens and compares the presented token's
// digest with every one of them in constant time. No token gives 401 with
// WWW-Authenticate: Bearer (unless HandlerOptions.AllowAnonymousRead,
// which grants read); a wrong or malformed one 401; a read token writing
// 403. Authentication happens before anything else: a refused request
// reads no body and touches nothing. Tokens are never logged nor echoed.
// LoadTokens reads them from a file of "read <token>" / "write <token>"
// lines that other users cannot read.
//
// A handler with no tokens refuses to start unless HandlerOptions.AllowOpen
// says so; it then grants read-write to anyone who can connect, so the
// caller must bind it to a loopback address only (CheckLoopback).
//
// The client (New, Open) takes its token from ClientOptions.Token; Open,
// the driver's remote.Opener, reads it from the environment variable
// ART_TOKEN. Tokens never go in the URL. Over plain http a token crosses
// the network in clear text: outside a loopback or trusted network, put
// `art serve` behind TLS and use https.
//
// # Verification and bounds
//
// A PUT must declare its Content-Length, at most
// HandlerOptions.MaxObjectSize (256 MiB by default), or MaxRefSize (1 MiB)
// for a swap or a key under "refs/"; larger is 413, none is 411. The body
// is streamed into the transport through its checks: its length, for an
// object key the BLAKE3 of the content against the key's ID, and the
// HandlerOptions.Verify hook (chunk lists, ref documents). The bytes that
// complete the content reach the transport only once every check has
// passed; a failed check makes the transport's read fail, and an
// interrupted put leaves no key (the Transport contract). So a body that is
// short (400), hashes wrong or fails Verify (422) stores nothing.
//
// The server has no whole-request read or write timeout, which would cut
// off large transfers: NewServer bounds headers (10 s, 64 KiB) and idle
// connections, and the handler keeps each connection's deadlines
// HandlerOptions.IdleTimeout ahead while data flows, so only a stalled
// transfer is cut.
//
// The client bounds what a server can make it hold: a GET response must
// declare its Content-Length (none is remote.ErrBadResponse), the reader
// yields exactly that many bytes (a body cut short is ErrBadResponse; bytes
// past it are never read, and the connection is dropped). GetRange
// accepts only a 206 whose Content-Range and Content-Length name the range
// it asked for: a 200 with the whole content (a server or proxy that
// ignored the range) is ErrBadResponse, never sliced. Error messages are
// read up to 4 KiB and quoted truncated, and a listing is decoded line by
// line, each line bounded, up to ClientOptions.MaxListEntries entries. It follows no redirects, and
// maps statuses back to the remote sentinels: 401 and 403 ErrPermission,
// 404 ErrNotFound, 412 ErrExists (put) or ErrConflict (swap), 413
// ErrTooLarge, 400 invalid-key ErrInvalidKey, 416 invalid-range
// ErrInvalidRange; others become an error
// naming the status and the server's message.
package httpremote
