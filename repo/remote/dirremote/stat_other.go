//go:build !unix

package dirremote

import "io/fs"

// inode is 0 where the platform has no inode numbers: ETags then rest on
// size and the nanosecond modification time, which every write advances.
func inode(fs.FileInfo) uint64 { return 0 }
