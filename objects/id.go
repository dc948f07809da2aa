package objects

import (
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/zeebo/blake3"
)

// IDSize is the length of an ID in bytes.
const IDSize = 32

// ID is the BLAKE3-256 hash of an object's stored bytes.
type ID [IDSize]byte

// ZeroID is the zero value of ID; it names no object.
var ZeroID ID

// String returns the ID as 64 lowercase hex characters.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex characters of the ID, for display.
func (id ID) Short() string { return id.String()[:12] }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ZeroID }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts only the
// canonical form ParseID accepts.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID parses 64 lowercase hex characters. Any other form, including
// uppercase hex, is rejected with ErrInvalidID so that every ID has a single
// spelling.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("%w: %q is not 64 hex characters", ErrInvalidID, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return id, fmt.Errorf("%w: %q is not lowercase hex", ErrInvalidID, s)
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %q: %v", ErrInvalidID, s, err)
	}
	return id, nil
}

// IsIDPrefix reports whether s could be the beginning of an ID: 1 to 64
// lowercase hex characters.
func IsIDPrefix(s string) bool {
	if len(s) == 0 || len(s) > 2*IDSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Hash returns the ID of b.
func Hash(b []byte) ID {
	return ID(blake3.Sum256(b))
}

// Hasher computes an ID incrementally. The zero value is not usable; call
// NewHasher.
type Hasher struct {
	h *blake3.Hasher
}

// NewHasher returns a Hasher ready to be written to.
func NewHasher() *Hasher { return &Hasher{h: blake3.New()} }

// Write adds p to the hash; it never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.h.Write(p) }

// Sum returns the ID of everything written so far.
func (h *Hasher) Sum() ID {
	var id ID
	h.h.Sum(id[:0])
	return id
}

// Reset clears the hasher for reuse.
func (h *Hasher) Reset() { h.h.Reset() }

var _ hash.Hash = (*blake3.Hasher)(nil)
