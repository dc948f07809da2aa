package objects

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned when an object is not in a store.
	ErrNotFound = errors.New("object not found")
	// ErrCorrupt is returned when an object's bytes do not hash to its ID or
	// cannot be decoded. It is always wrapped in a *CorruptError naming the
	// object.
	ErrCorrupt = errors.New("object corrupt")
	// ErrInvalidID is returned for a malformed ID.
	ErrInvalidID = errors.New("invalid object id")
	// ErrMalformed is returned by the decoders for bytes that are not the
	// canonical encoding of an object of the expected kind.
	ErrMalformed = errors.New("malformed object")
	// ErrInvalidPath is returned for a tree entry name or artifact path that
	// could escape a directory or is otherwise unsafe.
	ErrInvalidPath = errors.New("invalid path")
)

// CorruptError reports an object whose stored bytes are damaged.
type CorruptError struct {
	ID     ID     // the object that is damaged
	Reason string // what was found, e.g. "content hashes to 1f2e…"
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("object %s is corrupt: %s", e.ID, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }
