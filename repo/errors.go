package repo

import (
	"fmt"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// Sentinel errors of the lower packages, re-exported so that users of repo
// (the CLI among them) can test for them with errors.Is without importing
// objects or refs.
var (
	ErrVersionNotFound = refs.ErrNotFound      // no such artifact, version or alias
	ErrInvalidName     = refs.ErrInvalidName   // malformed name, type or alias
	ErrInvalidRef      = refs.ErrInvalidRef    // a reference that does not parse
	ErrReservedAlias   = refs.ErrReservedAlias // "latest" or "vN" set by hand
	ErrTypeMismatch    = refs.ErrTypeMismatch  // type differs from the first version's
	ErrCaseCollision   = refs.ErrCaseCollision // a new name differs from an existing one only in case
	ErrHasAliases      = refs.ErrHasAliases    // deleting an aliased version unforced
	ErrAmbiguous       = refs.ErrAmbiguous     // an ID prefix matching several versions
	ErrCorrupt         = objects.ErrCorrupt    // an object whose bytes fail their hash
	ErrObjectNotFound  = objects.ErrNotFound   // an object missing from the store
	ErrInvalidPath     = objects.ErrInvalidPath
)

// UnreadableError is an object that GC or DiskUsage must read — a tree, a
// chunk list or a run object that a version or run uses — and cannot:
// missing, corrupt, or a tree past the walk's limits. The repository is
// damaged there; Fsck says what it affects, and GC deletes nothing until it
// is repaired.
type UnreadableError struct {
	Op   string     // "gc" or "du"
	Kind string     // "tree", "chunk list" or "run object"
	ID   objects.ID // the object
	Err  error      // why: wraps ErrObjectNotFound, ErrCorrupt, …
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("%s: cannot read %s %s (%v)", e.Op, e.Kind, e.ID, e.Err)
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// DamagedPackError is a pack on a remote that cannot be read as its index
// describes it: the pack is shorter than its index says or gone, or the
// index is not the header of a pack of that name. Keys are the remote's
// keys that hold the damage; removing them from the remote, and pushing
// again from a repository that has the objects, repairs it.
type DamagedPackError struct {
	Remote string   // the remote's name
	Keys   []string // packs/P.idx, and packs/P.pack when the index is bad
	Err    error    // what was found: wraps ErrCorrupt or remote.ErrBadResponse
}

func (e *DamagedPackError) Error() string { return e.Err.Error() }

func (e *DamagedPackError) Unwrap() error { return e.Err }
