package httpremote

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/artvcs/art/repo/remote"
)

// FuzzParseKey: a request path the handler accepts is a valid key that
// needed no decoding, so it names exactly the file or object it says.
func FuzzParseKey(f *testing.F) {
	for _, s := range append([]string{"refs/a.json", "objects/ab/" + strings.Repeat("c", 62), "objects/AB/" + strings.Repeat("C", 62)}, traversals...) {
		f.Add(strings.TrimPrefix(strings.TrimPrefix(s, keyPath), swapPath))
	}
	f.Fuzz(func(t *testing.T, raw string) {
		key, serr := parseKey(raw)
		if serr != nil {
			if serr.status != 400 {
				t.Fatalf("parseKey(%q) status %d", raw, serr.status)
			}
			return
		}
		slashed := "/" + key + "/"
		if key != raw || remote.ValidateKey(key) != nil || strings.ContainsAny(key, "%\\") ||
			strings.Contains(slashed, "/../") || strings.Contains(slashed, "/./") || strings.Contains(slashed, "//") {
			t.Fatalf("parseKey accepted %q", raw)
		}
	})
}

// FuzzListLine: decoding a listing line never panics, and an entry it
// accepts is a valid key under the prefix with a sane size.
func FuzzListLine(f *testing.F) {
	f.Add(`{"key":"objects/ab/cd","size":1,"etag":"ZQ","mtime":"2025-01-02T03:04:05Z"}`, "objects/")
	f.Add(`{"key":"../x","size":-1,"etag":"!"}`, "")
	f.Add(`{"end":true,"count":3}`, "refs/")
	f.Fuzz(func(t *testing.T, line, prefix string) {
		if remote.ValidatePrefix(prefix) != nil {
			return
		}
		var e listEntry
		if json.Unmarshal([]byte(line), &e) != nil {
			return
		}
		info, err := e.info(prefix)
		if err != nil {
			return
		}
		if remote.ValidateKey(info.Key) != nil || !strings.HasPrefix(info.Key, prefix) || info.Size < 0 {
			t.Fatalf("accepted %+v from %q", info, line)
		}
		if encodeETag(info.ETag) != e.ETag {
			t.Fatalf("ETag %q does not round-trip", e.ETag)
		}
	})
}

// FuzzETagHeader: every ETag survives the header encoding.
func FuzzETagHeader(f *testing.F) {
	f.Add("abc")
	f.Add("W/\"é\x00\r\n")
	f.Fuzz(func(t *testing.T, etag string) {
		if len(etag) > maxETagLen {
			return
		}
		got, err := parseETagHeader(etagHeader(etag))
		if err != nil || got != etag {
			t.Fatalf("ETag %q came back as %q, %v", etag, got, err)
		}
	})
}

// FuzzRangeHeader: a Range header the handler accepts is one
// "bytes=FIRST-LAST" naming a valid range, which round-trips; and a
// Content-Range that CheckContentRange accepts for a range names exactly
// that range.
func FuzzRangeHeader(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=10-24", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=+1-2",
		"bytes=0-9223372036854775807", "bytes=9223372036854775806-9223372036854775806", "bytes=00-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		off, n, err := remote.ParseRangeHeader(h)
		if err != nil {
			if !errors.Is(err, remote.ErrInvalidRange) {
				t.Fatalf("ParseRangeHeader(%q) err=%v, want ErrInvalidRange", h, err)
			}
			return
		}
		if remote.ValidateRange(off, n) != nil {
			t.Fatalf("ParseRangeHeader(%q) = %d, %d: not a valid range", h, off, n)
		}
		if !strings.HasPrefix(h, "bytes=") || strings.ContainsAny(h[len("bytes="):], ", +\t") || strings.Count(h, "-") != 1 {
			t.Fatalf("ParseRangeHeader accepted %q", h)
		}
		if o2, n2, err := remote.ParseRangeHeader(remote.RangeHeader(off, n)); err != nil || o2 != off || n2 != n {
			t.Fatalf("range %d, %d written as %q parses as %d, %d, %v", off, n, remote.RangeHeader(off, n), o2, n2, err)
		}
		cr := "bytes " + strings.TrimPrefix(remote.RangeHeader(off, n), "bytes=") + "/*"
		if err := remote.CheckContentRange(cr, off, n); err != nil {
			t.Fatalf("CheckContentRange(%q, %d, %d): %v", cr, off, n, err)
		}
		if n > 1 {
			if err := remote.CheckContentRange(cr, off, n-1); err == nil {
				t.Fatalf("CheckContentRange(%q, %d, %d) accepted a longer range", cr, off, n-1)
			}
		}
	})
}
