//go:build unix

package repo

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on f, waiting for it; closing f
// releases it.
func lockFile(f *os.File) error { return lockFileMode(f, false) }

// lockFileMode takes a shared or an exclusive flock on f, waiting for it;
// closing f releases it.
func lockFileMode(f *os.File, shared bool) error {
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}
