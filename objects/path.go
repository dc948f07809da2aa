package objects

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNameLen is the longest tree entry name, in bytes.
const MaxNameLen = 255

// MaxPathDepth is the deepest an artifact path may nest.
const MaxPathDepth = 256

// ValidateName checks one path component (a tree entry name). It is the one
// validator used for names from the API, the CLI, decoded trees and remote
// listings. A valid name is 1..255 bytes of valid UTF-8; is not "." or "..";
// holds no '/', '\\', NUL or other control character; does not end in a
// space or '.'; does not look like a drive ("C:x"); and is not ".art" in any
// case or Unicode disguise.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidPath)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidPath, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalidPath, MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidPath, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return fmt.Errorf("%w: %q contains %q", ErrInvalidPath, name, r)
		}
	}
	if last := name[len(name)-1]; last == ' ' || last == '.' {
		return fmt.Errorf("%w: %q ends in %q", ErrInvalidPath, name, last)
	}
	if len(name) >= 2 && name[1] == ':' && isASCIILetter(name[0]) {
		return fmt.Errorf("%w: %q looks like a drive letter", ErrInvalidPath, name)
	}
	if IsReservedName(name) {
		return fmt.Errorf("%w: %q is reserved for the repository", ErrInvalidPath, name)
	}
	return nil
}

// IsReservedName reports whether name would be taken for ".art" by a
// case-insensitive or Unicode-normalising file system: ".ART", ".art" with
// zero-width characters, fullwidth letters and the like.
func IsReservedName(name string) bool {
	folded := strings.Map(func(r rune) rune {
		if isIgnorable(r) {
			return -1
		}
		return r
	}, norm.NFKC.String(name))
	return strings.EqualFold(folded, ".art")
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isIgnorable reports code points that file systems such as HFS+ drop when
// comparing names (zero-width and direction marks, joiners, BOM).
func isIgnorable(r rune) bool {
	switch {
	case r >= 0x200b && r <= 0x200f, r >= 0x202a && r <= 0x202e,
		r >= 0x2060 && r <= 0x206f, r == 0xfeff, r == 0x00ad, r == 0x034f:
		return true
	}
	return false
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
		return "", fmt.Errorf("%w: %q is absolute; artifact paths are relative", ErrInvalidPath, p)
	}
	var parts []string
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." {
			continue
		}
		if err := ValidateName(c); err != nil {
			return "", fmt.Errorf("path %q: %w", p, err)
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: %q names no file", ErrInvalidPath, p)
	}
	if len(parts) > MaxPathDepth {
		return "", fmt.Errorf("%w: %q nests deeper than %d", ErrInvalidPath, p, MaxPathDepth)
	}
	return strings.Join(parts, "/"), nil
}
