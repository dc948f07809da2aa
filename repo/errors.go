package repo

import (
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
