package refs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/artvcs/art/objects"
)

var (
	// ErrInvalidName is returned for a malformed artifact name, type or alias.
	ErrInvalidName = errors.New("invalid name")
	// ErrInvalidRef is returned for a reference that does not parse.
	ErrInvalidRef = errors.New("invalid reference")
	// ErrReservedAlias is returned when "latest" or "vN" is set by hand.
	ErrReservedAlias = errors.New("reserved alias")
	// ErrNotFound is returned when an artifact, version or alias does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous is returned when an ID prefix matches several versions.
	ErrAmbiguous = errors.New("ambiguous reference")
	// ErrTypeMismatch is returned when a version's type differs from the
	// type fixed by the artifact's first version.
	ErrTypeMismatch = errors.New("type mismatch")
	// ErrHasAliases is returned when deleting an aliased version without force.
	ErrHasAliases = errors.New("version has aliases")
	// ErrConflict is returned when a compare-and-swap finds another value.
	ErrConflict = errors.New("conflict")
	// ErrCaseCollision is returned when a new artifact's name differs from
	// an existing one's only in letter case: on a case-insensitive file
	// system (macOS, Windows) their ref documents and default checkout
	// directories would be one file.
	ErrCaseCollision = errors.New("artifact name differs from another only in case")
)

// MaxNameLen is the longest name, type or alias, in bytes.
const MaxNameLen = 128

// MinIDPrefix is the shortest ID prefix accepted in a reference.
const MinIDPrefix = 4

// Latest is the alias that always names the highest-numbered version.
const Latest = "latest"

// trunc shortens s for an error message: a name may be any length, and
// quoting may quadruple it.
func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func validateWord(kind, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidName, kind)
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidName, kind, MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w: %s %q must start with a letter or digit", ErrInvalidName, kind, trunc(s))
		}
		if !alnum && c != '_' && c != '-' && c != '.' {
			return fmt.Errorf("%w: %s %q may hold only letters, digits, '_', '-' and '.'", ErrInvalidName, kind, trunc(s))
		}
	}
	if strings.HasSuffix(s, ".") {
		// Windows drops a trailing dot: "x." would check out into, and
		// keep its ref document beside, "x"'s.
		return fmt.Errorf("%w: %s %q must not end in '.'", ErrInvalidName, kind, s)
	}
	if strings.HasSuffix(s, ".lock") {
		return fmt.Errorf("%w: %s %q must not end in .lock", ErrInvalidName, kind, s)
	}
	if strings.Contains(s, "..") {
		return fmt.Errorf("%w: %s %q must not contain \"..\"", ErrInvalidName, kind, s)
	}
	return nil
}

// ValidateName checks an artifact name.
func ValidateName(name string) error { return validateWord("name", name) }

// ValidateType checks an artifact type.
func ValidateType(typ string) error { return validateWord("type", typ) }

// ValidateJobType checks a run's job type ("train", "preprocess"), which
// follows the rules of names.
func ValidateJobType(jobType string) error { return validateWord("job type", jobType) }

// ValidateAlias checks an alias that a user wants to set. "latest" and
// version-like aliases ("v7") are refused with ErrReservedAlias.
func ValidateAlias(alias string) error {
	if err := validateWord("alias", alias); err != nil {
		return err
	}
	if alias == Latest {
		return fmt.Errorf("%w: %q always names the newest version and cannot be set", ErrReservedAlias, alias)
	}
	if _, ok := parseVersion(alias); ok {
		return fmt.Errorf("%w: %q is a version number, not an alias", ErrReservedAlias, alias)
	}
	return nil
}

// parseVersion parses "vN" with N a decimal without leading zeros.
func parseVersion(s string) (int64, bool) {
	if len(s) < 2 || s[0] != 'v' {
		return 0, false
	}
	d := s[1:]
	if len(d) > 1 && d[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Kind says which part of a Ref selects the version.
type Kind int

const (
	// ByLatest selects the highest-numbered version ("name", "name:latest").
	ByLatest Kind = iota
	// ByVersion selects a version number ("name:v3").
	ByVersion
	// ByAlias selects the version an alias points at ("name:best").
	ByAlias
	// ByID selects the version whose commit ID has a prefix ("name@1f2e").
	ByID
)

// Ref is a parsed reference to one version of an artifact.
type Ref struct {
	Name     string
	Kind     Kind
	Version  int64  // ByVersion
	Alias    string // ByAlias
	IDPrefix string // ByID: lowercase hex, MinIDPrefix..64 characters
}

// String returns the reference in its canonical spelling.
func (r Ref) String() string {
	switch r.Kind {
	case ByVersion:
		return r.Name + ":v" + strconv.FormatInt(r.Version, 10)
	case ByAlias:
		return r.Name + ":" + r.Alias
	case ByID:
		return r.Name + "@" + r.IDPrefix
	}
	return r.Name + ":" + Latest
}

// Parse parses a reference; see the package documentation for the grammar.
func Parse(s string) (Ref, error) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		name, prefix := s[:i], s[i+1:]
		if err := ValidateName(name); err != nil {
			return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalidRef, trunc(s), err)
		}
		if len(prefix) < MinIDPrefix || !objects.IsIDPrefix(prefix) {
			return Ref{}, fmt.Errorf("%w %q: after '@' give at least %d lowercase hex characters of a version ID", ErrInvalidRef, trunc(s), MinIDPrefix)
		}
		return Ref{Name: name, Kind: ByID, IDPrefix: prefix}, nil
	}
	name, sel, hasSel := strings.Cut(s, ":")
	if err := ValidateName(name); err != nil {
		return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalidRef, trunc(s), err)
	}
	if !hasSel || sel == Latest {
		return Ref{Name: name, Kind: ByLatest}, nil
	}
	if v, ok := parseVersion(sel); ok {
		return Ref{Name: name, Kind: ByVersion, Version: v}, nil
	}
	if err := validateWord("alias", sel); err != nil {
		return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalidRef, trunc(s), err)
	}
	return Ref{Name: name, Kind: ByAlias, Alias: sel}, nil
}

// VersionString formats a version number as "vN".
func VersionString(n int64) string { return "v" + strconv.FormatInt(n, 10) }
