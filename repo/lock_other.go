//go:build !unix

package repo

import "os"

// lockFile is a no-op where flock is not available: ref documents are then
// serialised only within one process.
func lockFile(*os.File) error { return nil }

// lockFileMode is a no-op where flock is not available (see lockFile).
func lockFileMode(*os.File, bool) error { return nil }
