//go:build linux

package repo

import (
	"io/fs"
	"syscall"
	"time"
)

// accessTime returns when the file was last read, as the OS file system
// keeps it (relatime: at most a day behind).
func accessTime(fi fs.FileInfo) (time.Time, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(st.Atim.Sec, st.Atim.Nsec), true
}
