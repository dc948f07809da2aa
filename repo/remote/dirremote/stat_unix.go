//go:build unix

package dirremote

import (
	"io/fs"
	"syscall"
)

// inode returns the file's inode number, or 0 if the platform hides it.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
