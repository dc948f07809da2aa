package httpremote

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/artvcs/art/repo/remote"
)

// Paths of the protocol, below the base URL.
const (
	keyPath  = "/v1/k/"    // + key: HEAD, GET, PUT (put-if-absent), DELETE
	swapPath = "/v1/swap/" // + key: PUT (compare-and-swap)
	listPath = "/v1/list"  // ?prefix=…: GET
)

// Wire constants shared by the handler and the client.
const (
	// errorHeader carries a machine-readable code on every error
	// response (HEAD responses have no body to carry a message).
	errorHeader = "Art-Error"
	// listContentType is the media type of a listing: one JSON object
	// per line.
	listContentType = "application/x-ndjson"
	// maxListLine bounds one line of a listing: a key is at most
	// remote.MaxKeyLen bytes and needs no JSON escaping; an ETag is at most
	// maxETagLen bytes before base64.
	maxListLine = 8 << 10
	// maxETagLen bounds a transport's ETag (before encoding).
	maxETagLen = 1024
	// maxErrorBody bounds how much of an error response the client reads.
	maxErrorBody = 4 << 10
	// maxMessage bounds the server message quoted in a client error.
	maxMessage = 200
)

// Error codes sent in the Art-Error header and in a listing's error line.
const (
	codeInvalidKey   = "invalid-key"
	codeNotFound     = "not-found"
	codeExists       = "exists"
	codeConflict     = "conflict"
	codeTooLarge     = "too-large"
	codeInvalidRange = "invalid-range"
	codePermission   = "permission"
	codeBadRequest   = "bad-request"
	codeRefused      = "refused" // the content failed verification
	codeInternal     = "internal"
)

// sentinelFor returns the remote sentinel an error code stands for, or nil.
func sentinelFor(code string) error {
	switch code {
	case codeInvalidKey:
		return remote.ErrInvalidKey
	case codeNotFound:
		return remote.ErrNotFound
	case codeExists:
		return remote.ErrExists
	case codeConflict:
		return remote.ErrConflict
	case codeTooLarge:
		return remote.ErrTooLarge
	case codePermission:
		return remote.ErrPermission
	case codeInvalidRange:
		return remote.ErrInvalidRange
	}
	return nil
}

// listEntry is one line of a listing. A line with End set closes a
// complete listing and carries the number of entries before it; a line
// with Error set ends a listing that failed part way.
type listEntry struct {
	Key     string `json:"key,omitempty"`
	Size    int64  `json:"size,omitempty"`
	ETag    string `json:"etag,omitempty"`  // wire form, see encodeETag
	ModTime string `json:"mtime,omitempty"` // RFC 3339, when the transport knows it

	End   bool   `json:"end,omitempty"`
	Count int64  `json:"count,omitempty"`
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// A transport's ETag is opaque and may hold any byte, so on the wire it is
// base64url without padding: in a listing as is, in the ETag, If-Match
// headers as a strong entity-tag, "<base64url>".
var etagEncoding = base64.RawURLEncoding

var errBadETag = errors.New("malformed ETag")

func encodeETag(etag string) string { return etagEncoding.EncodeToString([]byte(etag)) }

func decodeETag(wire string) (string, error) {
	if len(wire) > etagEncoding.EncodedLen(maxETagLen) {
		return "", fmt.Errorf("%w: %d bytes", errBadETag, len(wire))
	}
	b, err := etagEncoding.DecodeString(wire)
	if err != nil {
		return "", fmt.Errorf("%w: %q", errBadETag, trunc(wire))
	}
	return string(b), nil
}

// etagHeader is the value of an ETag or If-Match header for etag.
func etagHeader(etag string) string { return `"` + encodeETag(etag) + `"` }

// parseETagHeader parses a strong entity-tag as etagHeader writes it.
func parseETagHeader(h string) (string, error) {
	if len(h) < 2 || h[0] != '"' || h[len(h)-1] != '"' {
		return "", fmt.Errorf("%w: %q is not a quoted strong entity-tag", errBadETag, trunc(h))
	}
	return decodeETag(h[1 : len(h)-1])
}

// trunc shortens s for an error message and replaces anything but
// printable ASCII, so a hostile peer cannot paint a terminal or a log.
func trunc(s string) string {
	cut := len(s) > maxMessage
	if cut {
		s = s[:maxMessage]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	if cut {
		s += "…"
	}
	return s
}
