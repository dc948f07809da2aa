//go:build linux

package objects

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

var errNoSyncfs = fmt.Errorf("syncfs: %w", errors.ErrUnsupported)

// syncFS flushes the whole file system holding dir (syncfs(2)): every
// dirty file and directory on it, in one call.
func syncFS(dir string) error {
	if !syncfsReportsErrors() {
		return errNoSyncfs
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return errNoSyncfs
		}
		return err
	}
	return nil
}

// syncfsReportsErrors reports whether the kernel is 5.8 or later: before
// that, syncfs(2) returned 0 even when writing back failed, so a batch
// must fsync its files one by one.
var syncfsReportsErrors = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || major == 5 && minor >= 8
})

var errNoRenameNoReplace = fmt.Errorf("renameat2 RENAME_NOREPLACE: %w", errors.ErrUnsupported)

// renameNoReplace is renameat2(2) with RENAME_NOREPLACE.
func renameNoReplace(oldname, newname string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldname, unix.AT_FDCWD, newname, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
		return errNoRenameNoReplace
	}
	return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
}
