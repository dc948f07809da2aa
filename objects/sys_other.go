//go:build !unix

package objects

import "syscall"

// errEINVAL is what a directory Sync returns where directories cannot be
// synced; on systems without fsync of directories SyncDir ignores it.
var errEINVAL error = syscall.EINVAL
