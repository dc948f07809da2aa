package objects_test

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/artvcs/art/objects"
)

// hostileNames are tree entry names that could escape a checkout, reach the
// repository's own directory, or become another file on some file system.
// Each is refused by ValidateName, by Tree.Encode and by DecodeTree.
var hostileNames = []struct{ name, why string }{
	{"", "empty"},
	{".", "the directory itself"},
	{"..", "the parent"},
	{"a/b", "a separator"},
	{"/abs", "absolute"},
	{"a\\b", "a Windows separator"},
	{"..\\x", "a Windows parent"},
	{"C:x", "a drive"},
	{"c:", "a bare drive"},
	{"x:y", "a drive-relative path"},
	{":", "a bare stream separator"},
	{":x", "a stream of nothing"},
	{"..:x", "a stream of the parent directory"},
	{". .:x", "a stream of the directory"},
	{"ab:", "ab itself to NTFS"},
	{"ab::$DATA", "ab's data to NTFS"},
	{".art", "the repository"},
	{".ART", "the repository, upper case"},
	{".Art", "the repository, mixed case"},
	{".art.", "the repository to Win32 (trailing dot)"},
	{".art ", "the repository to Win32 (trailing space)"},
	{".art::$INDEX_ALLOCATION", "the repository as an NTFS stream"},
	{".art:x", "an NTFS stream of the repository"},
	{"ART~1", "the repository's 8.3 short name"},
	{"art~2", "an 8.3 short name after a collision"},
	{"．ａｒｔ", "fullwidth .art (NFKC)"},
	{"\uff0eart", "fullwidth dot U+FF0E"},
	{".\uff41rt", "fullwidth a"},
	{".a\u200brt", "zero-width space"},
	{".a\u200crt", "zero-width non-joiner (HFS+ ignores it)"},
	{".a\u200drt", "zero-width joiner"},
	{".art\u200d", "trailing zero-width joiner"},
	{"\u200e.art", "left-to-right mark"},
	{".\u00adart", "soft hyphen"},
	{".a\u034frt", "combining grapheme joiner"},
	{".ar\ufe0ft", "variation selector"},
	{".art\U000e0041", "tag character"},
	{".\u2060art", "word joiner"},
	{".\u0041\u0052\u0054", "upper case by code point"},
	{".ar\u0074\u200b", "trailing zero-width space"},
	{"..\u200c", "the parent to HFS+"},
	{".\u200b", "the directory to HFS+"},
	{"\u200b", "nothing to HFS+"},
	{"a\x00b", "NUL"},
	{"a\nb", "newline"},
	{"a\tb", "tab"},
	{"name\r", "trailing CR"},
	{"\x1b[31mred", "an escape sequence"},
	{"\x7f", "DEL"},
	{"a\u0085b", "C1 next line"},
	{"a\u2028b", "line separator"},
	{"a\u2029b", "paragraph separator"},
	{"gpj.\u202eexe", "right-to-left override"},
	{"a\u2066b", "bidi isolate"},
	{"\ufeffa", "BOM"},
	{"trailing ", "trailing space"},
	{"trailing.", "trailing dot"},
	{"...", "dots only"},
	{"\xff\xfe", "invalid UTF-8"},
	{"a\xc3", "truncated UTF-8"},
	{"\xed\xa0\x80", "a UTF-16 surrogate"},
	{strings.Repeat("n", 256), "256 bytes"},
	{strings.Repeat("é", 128), "256 bytes of two-byte runes"},
	{strings.Repeat("n", 10<<10), "10 KB"},
}

// allowedNames look odd but are one file everywhere and reach nothing.
var allowedNames = []string{
	".ạrt",          // a with dot below: another name on every file system
	".\u0430rt",     // Cyrillic a: a look-alike, not the same name anywhere
	".arts",         // not the repository
	"art",           // nor this
	"..art",         // nor this
	"art~",          // nor this
	"art~x",         // not a short name
	"xy:z",          // an NTFS stream of xy at worst; inside the target
	"👩\u200d💻",      // emoji ZWJ sequence
	"می\u200cخواهم", // Persian with a zero-width non-joiner
	"e\u0301",       // NFD
	"\u00e9",        // NFC
	"Straße",
	" leading space",
	strings.Repeat("n", 255),
}

func TestHostileNamesRefused(t *testing.T) {
	for _, h := range hostileNames {
		err := objects.ValidateName(h.name)
		if !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("ValidateName(%.40q) (%s) = %v, want ErrInvalidPath", h.name, h.why, err)
			continue
		}
		if len(err.Error()) > 400 {
			t.Errorf("ValidateName(%.40q): error of %d bytes; want a short message", h.name, len(err.Error()))
		}
		if strings.Contains(h.name, "/") || h.name == "" || h.name == "." {
			continue // CleanPath reads these as separators or nothing
		}
		if _, err := objects.CleanPath("dir/" + h.name); !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("CleanPath(dir/%.40q) (%s) accepted", h.name, h.why)
		}
	}
	for _, name := range allowedNames {
		if err := objects.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
}

// TestTreeEncodeRefusesHostileNames: the encoder, used by commits, refuses
// every hostile name in every kind of entry.
func TestTreeEncodeRefusesHostileNames(t *testing.T) {
	id := objects.Hash([]byte("x"))
	for _, h := range hostileNames {
		for _, e := range []objects.TreeEntry{
			{Name: h.name, Kind: objects.KindFile, ID: id, Size: 1},
			{Name: h.name, Kind: objects.KindDir, ID: id},
			{Name: h.name, Kind: objects.KindRef, Size: -1, URI: "s3://b/k"},
		} {
			tree := &objects.Tree{Entries: []objects.TreeEntry{{Name: "ok", Kind: objects.KindFile, ID: id}, e}}
			if b, err := tree.Encode(); !errors.Is(err, objects.ErrInvalidPath) {
				t.Errorf("Encode(%s %.40q) (%s) = %q, %v; want ErrInvalidPath", e.Kind, h.name, h.why, b, err)
			}
		}
	}
}

// TestDecodeTreeRefusesHostileNames forges encodings by hand (what a remote
// or a damaged store could hand over): DecodeTree refuses each one.
func TestDecodeTreeRefusesHostileNames(t *testing.T) {
	for _, h := range hostileNames {
		for _, line := range []string{
			"file\t" + h.name + "\t1\t" + idA + "\n",
			"exec\t" + h.name + "\t1\t" + idA + "\n",
			"dir\t" + h.name + "\t" + idA + "\n",
			"ref\t" + h.name + "\t-\t-\ts3://b/k\n",
		} {
			b := []byte(objects.TreeHeader + line)
			tree, err := objects.DecodeTree(b)
			if err == nil {
				t.Errorf("DecodeTree(%.60q) (%s) = %+v, want an error", b, h.why, tree)
				continue
			}
			// A name holding a newline or tab breaks the line itself:
			// that is malformed, not just a bad name.
			if !errors.Is(err, objects.ErrInvalidPath) && !errors.Is(err, objects.ErrMalformed) {
				t.Errorf("DecodeTree(%.60q) (%s) = %v; want ErrInvalidPath or ErrMalformed", b, h.why, err)
			}
			if !strings.ContainsAny(h.name, "\n\t") && h.name != "" && !errors.Is(err, objects.ErrInvalidPath) {
				t.Errorf("DecodeTree(%.60q) (%s) = %v; want ErrInvalidPath", b, h.why, err)
			}
		}
	}
}

// collidingPairs are two names that one case-insensitive or
// normalisation-insensitive file system (NTFS, APFS, HFS+) would take for
// one file.
var collidingPairs = [][2]string{
	{"A.txt", "a.txt"},
	{"README", "readme"},
	{"K", "\u212a"},                   // Kelvin sign
	{"s", "\u017f"},                   // long s folds to s
	{"\u00e9", "e\u0301"},             // NFC and NFD é
	{"\u00c9", "e\u0301"},             // É and NFD é
	{"caf\u00e9", "CAFE\u0301"},       // both at once
	{"\u03a3", "\u03c2"},              // Σ and final ς
	{"ab", "a\u200cb"},                // HFS+ ignores the non-joiner
	{"\u1e9b\u0323", "\u1e69"},        // canonically equivalent sequences
	{"\u00c5", "\u212b"},              // Å and the Ångström sign (NFC)
	{"\u01c4", "\u01c5"},              // DŽ and Dž
	{"\u0130x", "\u0130X"},            // dotted I, then case
	{"ﬀ", "ﬀ"},                        // equal, for completeness (duplicate)
	{"\u00e9\u0301", "e\u0301\u0301"}, // NFC differs only in the first mark
}

func TestTreeRefusesCollidingNames(t *testing.T) {
	id := objects.Hash([]byte("x"))
	for _, pair := range collidingPairs {
		if objects.FoldName(pair[0]) != objects.FoldName(pair[1]) {
			t.Errorf("FoldName(%q)=%q, FoldName(%q)=%q; want equal", pair[0], objects.FoldName(pair[0]), pair[1], objects.FoldName(pair[1]))
		}
		tree := &objects.Tree{Entries: []objects.TreeEntry{
			{Name: pair[0], Kind: objects.KindFile, ID: id, Size: 1},
			{Name: pair[1], Kind: objects.KindDir, ID: id},
		}}
		b, err := tree.Encode()
		if err == nil {
			t.Errorf("Encode(%q, %q) = %q; want an error", pair[0], pair[1], b)
		}
		if pair[0] != pair[1] && !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("Encode(%q, %q) = %v; want ErrInvalidPath", pair[0], pair[1], err)
		}
		// The same two entries forged by hand, in byte order.
		lines := []string{
			"file\t" + pair[0] + "\t1\t" + idA + "\n",
			"dir\t" + pair[1] + "\t" + idB + "\n",
		}
		sort.Slice(lines, func(i, j int) bool { return strings.Split(lines[i], "\t")[1] < strings.Split(lines[j], "\t")[1] })
		forged := []byte(objects.TreeHeader + strings.Join(lines, ""))
		if tree, err := objects.DecodeTree(forged); err == nil {
			t.Errorf("DecodeTree(%q) = %+v; want an error", forged, tree)
		} else if pair[0] != pair[1] && !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("DecodeTree(%q) = %v; want ErrInvalidPath", forged, err)
		}
	}
	// Names that only look alike are distinct.
	for _, pair := range [][2]string{
		{"a", "\u0430"}, {"ss", "Straße"}, {"i", "\u0131"}, {"e", "\u00e9"}, {"x", "x "[:1] + "y"},
	} {
		if objects.FoldName(pair[0]) == objects.FoldName(pair[1]) {
			t.Errorf("FoldName(%q) == FoldName(%q); want distinct", pair[0], pair[1])
		}
	}
}

// TestDecodeTreeLongLines: a name or a field of any length is refused with
// a short error, without quoting the whole input.
func TestDecodeTreeLongLines(t *testing.T) {
	for _, b := range []string{
		objects.TreeHeader + "file\t" + strings.Repeat("n", 1<<20) + "\t1\t" + idA + "\n",
		objects.TreeHeader + "ref\tr\t-\t-\t" + strings.Repeat("u", 1<<20) + "\n",
		objects.TreeHeader + "ref\tr\t-\t" + strings.Repeat("d", 1<<20) + "\ts3://b/k\n",
		objects.TreeHeader + "file\tn\t" + strings.Repeat("9", 1<<20) + "\t" + idA + "\n",
		objects.TreeHeader + strings.Repeat("\t", 1<<20) + "\n",
		objects.TreeHeader + strings.Repeat("x", 1<<20),
	} {
		_, err := objects.DecodeTree([]byte(b))
		if err == nil {
			t.Errorf("DecodeTree(%.60q…) accepted", b)
			continue
		}
		if len(err.Error()) > 400 {
			t.Errorf("DecodeTree(%.60q…): error of %d bytes: %.200s", b, len(err.Error()), err)
		}
	}
}
