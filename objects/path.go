package objects

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLen is the longest tree entry name, in bytes.
const MaxNameLen = 255

// MaxPathDepth is the deepest an artifact path may nest.
const MaxPathDepth = 256

// ValidateName checks one path component (a tree entry name). It is the one
// validator used for names from the API, the CLI, decoded trees and
// checkouts. A valid name
//
//   - is 1..255 bytes of valid UTF-8;
//   - is not "." or "..", even once the code points some file systems
//     ignore are dropped ("..\u200c");
//   - holds no '/', '\\', control character (C0, DEL, C1), line or
//     paragraph separator (U+2028, U+2029), bidirectional embedding,
//     override or isolate (U+202A–U+202E, U+2066–U+2069) or BOM (U+FEFF):
//     they split or reorder a name where it is shown, and some tools treat
//     them as line ends;
//   - does not end in a space or '.' (Windows drops them, so "x." and "x"
//     would be one file);
//   - does not look like a drive ("C:x") or an NTFS stream of something
//     other than a file of its own (":x", "..:x", "x:", "x::$DATA");
//   - is not ".art" in any disguise a file system might see through: see
//     IsReservedName.
//
// Other code points, including zero-width joiners (used in emoji and in
// Persian and Indic text) and unnormalised text, are allowed; two names of
// one tree must still differ after FoldName.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidPath)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidPath, short(name))
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name %q longer than %d bytes", ErrInvalidPath, short(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidPath, short(name))
	}
	ascii := true
	for _, r := range name {
		if r >= utf8.RuneSelf {
			ascii = false
		}
		if r == '/' || r == '\\' || isForbidden(r) {
			return fmt.Errorf("%w: %q contains %U", ErrInvalidPath, short(name), r)
		}
	}
	if last := name[len(name)-1]; last == ' ' || last == '.' {
		return fmt.Errorf("%w: %q ends in %q", ErrInvalidPath, short(name), last)
	}
	if len(name) >= 2 && name[1] == ':' && isASCIILetter(name[0]) {
		return fmt.Errorf("%w: %q looks like a drive letter", ErrInvalidPath, short(name))
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		// NTFS reads "file:stream": the file must be a name of its own,
		// and the stream too ("x:" and "x::$DATA" are x itself).
		switch base := strings.TrimRight(name[:i], ". "); {
		case base == "" || base == "." || base == "..", name[len(name)-1] == ':', strings.Contains(name, "::"):
			return fmt.Errorf("%w: %q is a stream of %q to Windows", ErrInvalidPath, short(name), short(base))
		}
	}
	if !ascii {
		switch s := stripIgnorable(name); s {
		case "", ".", "..":
			return fmt.Errorf("%w: %q is %q to file systems that ignore invisible code points", ErrInvalidPath, short(name), short(s))
		}
	}
	if isReserved(name, ascii) {
		return fmt.Errorf("%w: %q is reserved for the repository", ErrInvalidPath, short(name))
	}
	return nil
}

// short cuts a name to quote in an error: quoting may quadruple it.
func short(name string) string {
	if len(name) > 64 {
		return name[:64] + "…"
	}
	return name
}

// isForbidden reports the code points no name may hold.
func isForbidden(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings, overrides, isolates
		return true
	case r == 0xfeff: // BOM
		return true
	}
	return false
}

// IsReservedName reports whether some file system could take name for the
// repository's directory ".art", so that a checkout would write into it:
// the comparison drops default-ignorable code points (HFS+ ignores
// zero-width joiners and the like), applies compatibility normalisation
// (NFKC: fullwidth "．ａｒｔ") and case folding (".ART" on NTFS, APFS, HFS+),
// cuts an NTFS stream suffix (".art::$INDEX_ALLOCATION") and trailing dots
// and spaces (Win32), and also catches the 8.3 short name "ART~1". Names
// that merely look alike (".ạrt", Cyrillic "а") are different names on
// every file system and are allowed.
func IsReservedName(name string) bool { return isReserved(name, isASCII(name)) }

func isReserved(name string, ascii bool) bool {
	k := name
	if !ascii {
		k = norm.NFKD.String(stripIgnorable(name))
	}
	if i := strings.IndexByte(k, ':'); i >= 0 {
		k = k[:i]
	}
	k = strings.TrimRight(k, ". ")
	if !ascii {
		k = foldCase(k)
		k = norm.NFKC.String(k)
	}
	if strings.EqualFold(k, ".art") {
		return true
	}
	// 8.3 short names: ".art" is also "ART~1" (or ~2… after collisions).
	if len(k) > 4 && strings.EqualFold(k[:4], "art~") {
		for i := 4; i < len(k); i++ {
			if k[i] < '0' || k[i] > '9' {
				return false
			}
		}
		return true
	}
	return false
}

// FoldName returns the key under which a file system that ignores case,
// Unicode normalisation and default-ignorable code points (NTFS, APFS,
// HFS+) files name: names with equal keys may be one file there, so one
// tree never holds two of them. It is canonical caseless matching
// (NFD, simple case folding, NFD) after dropping default-ignorable code
// points.
func FoldName(name string) string {
	if isASCII(name) {
		return strings.ToLower(name)
	}
	s := norm.NFD.String(stripIgnorable(name))
	return norm.NFD.String(foldCase(s))
}

// foldCase maps every rune to one representative of its simple case
// folding orbit (the runes strings.EqualFold takes for one): the lower case
// of the orbit's smallest code point, so that ASCII folds as
// strings.ToLower does and "K", "k" and the Kelvin sign "\u212a" agree.
func foldCase(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return unicode.ToLower(m)
	}, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// stripIgnorable drops the code points that file systems such as HFS+
// ignore when comparing names: Unicode's default-ignorable code points
// (zero-width spaces and joiners, direction marks, soft hyphen, variation
// selectors, Hangul fillers) and every other format character.
func stripIgnorable(s string) string {
	return strings.Map(func(r rune) rune {
		if isIgnorable(r) {
			return -1
		}
		return r
	}, s)
}

func isIgnorable(r rune) bool {
	if r < 0xad {
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// CleanPath validates a slash-separated artifact path ("images/cat.png") and
// returns it in canonical form: no leading "./", no empty components, no
// trailing slash. It refuses absolute paths, ".." components and any
// component ValidateName refuses.
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path", ErrInvalidPath)
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q is absolute; artifact paths are relative", ErrInvalidPath, truncate(p))
	}
	var parts []string
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." {
			continue
		}
		if err := ValidateName(c); err != nil {
			return "", fmt.Errorf("path %q: %w", truncate(p), err)
		}
		parts = append(parts, c)
		if len(parts) > MaxPathDepth {
			return "", fmt.Errorf("%w: %q nests deeper than %d", ErrInvalidPath, truncate(p), MaxPathDepth)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: %q names no file", ErrInvalidPath, p)
	}
	return strings.Join(parts, "/"), nil
}
