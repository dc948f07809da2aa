package repo

import (
	"os"

	"github.com/spf13/afero"
)

// FileLocker is an optional capability of a file system: locks that
// order processes. The ref documents' writers take one (refs/.lock); on a
// file system without it they are ordered within the process only. The
// OS file system's (*afero.OsFs) is flock(2) (none where flock is not
// available).
type FileLocker interface {
	// LockFile takes the exclusive lock of the file name, creating the
	// file (empty, mode 0644) if it is missing, and waits until it has
	// it. unlock releases it; so does the death of the process. It
	// orders processes, not goroutines: a process takes it from one
	// goroutine at a time. An error means the lock is not held.
	LockFile(name string) (unlock func() error, err error)
}

// osLocker is the OS file system's FileLocker.
type osLocker struct{}

func (osLocker) LockFile(name string) (func() error, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	return f.Close, nil // closing releases the flock
}

// fileLockerOf returns fsys's FileLocker: flock for *afero.OsFs (which
// cannot have methods of ours), else fsys itself if it implements one,
// else nil.
func fileLockerOf(fsys afero.Fs) FileLocker {
	if _, ok := fsys.(*afero.OsFs); ok {
		return osLocker{}
	}
	l, _ := fsys.(FileLocker)
	return l
}
