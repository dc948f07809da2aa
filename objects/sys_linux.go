//go:build linux

package objects

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

var errNoSyncfs = errors.New("syncfs not supported")

// syncFS flushes the whole file system holding dir (syncfs(2)): every
// dirty file and directory on it, in one call.
func syncFS(dir string) error {
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
