package httpremote

import (
	"encoding/json"
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
