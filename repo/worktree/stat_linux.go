//go:build linux

package worktree

import (
	"io/fs"
	"syscall"
)

// sysStat adds what the OS knows beyond size and mtime: inode, device and
// change time, so a file replaced or touched in place is noticed.
func sysStat(fi fs.FileInfo, s *Stat) {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Ino = sys.Ino
		s.Dev = uint64(sys.Dev)
		s.CTime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
	}
}
