//go:build unix

package dirremote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lockKey takes an exclusive flock(2) on the lock file of the key at
// path p, polling (so ctx can cancel the wait), and returns the function
// that removes the lock file and releases the lock. The kernel releases a
// flock when its holder dies.
//
// Removing the lock file on release races with a waiter that opened the
// old file: after locking, the waiter checks that the path still names
// the file it locked and starts over if not.
func lockKey(ctx context.Context, p string) (unlock func(), err error) {
	lp := lockPath(p)
	delay := time.Millisecond
	for {
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err != unix.EWOULDBLOCK && err != unix.EINTR {
				break
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, ctx.Err()
			case <-time.After(delay):
			}
			delay = min(2*delay, 20*time.Millisecond)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		if sameFile(f, lp) {
			return func() {
				os.Remove(lp)
				f.Close()
			}, nil
		}
		f.Close() // a previous holder removed it; lock the current one
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

// lockPath returns the lock file of the key file p: ".lock-NAME" beside it.
func lockPath(p string) string {
	base := filepath.Base(p)
	if len(base) > 200 {
		base = base[:200] // two long keys sharing a lock only serialise more
	}
	return filepath.Join(filepath.Dir(p), lockPrefix+base)
}

// syncDir fsyncs a directory so the entries just made in it are durable.
// File systems that cannot sync a directory (EINVAL, ENOTSUP) are let be.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// isNotDir reports whether err says a path went through a file.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
