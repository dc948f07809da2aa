//go:build linux

package objects

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

var errNoTmpfile = fmt.Errorf("O_TMPFILE: %w", errors.ErrUnsupported)

// procFdOK reports whether /proc/self/fd is there to name anonymous
// files by (not in some chroots and sandboxes).
var procFdOK = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

func openAnonymous(dir string, perm os.FileMode) (afero.File, error) {
	if !procFdOK() {
		return nil, errNoTmpfile
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
			return nil, errNoTmpfile
		}
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(anonymous)")), nil
}

func linkAnonymous(f afero.File, final string) error {
	osf, ok := f.(*os.File)
	if !ok {
		return fmt.Errorf("link %s: not an OS file", final)
	}
	proc := "/proc/self/fd/" + strconv.Itoa(int(osf.Fd()))
	err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW)
	if errors.Is(err, unix.ENOENT) {
		// Either final's directory is missing or /proc is not mounted;
		// AT_EMPTY_PATH needs no /proc (but may need privilege).
		if err2 := unix.Linkat(int(osf.Fd()), "", unix.AT_FDCWD, final, unix.AT_EMPTY_PATH); err2 == nil {
			return nil
		}
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: proc, New: final, Err: err}
	}
	return nil
}

func randUint() uint64 { return rand.Uint64() }

func startWriteback(f *os.File) {
	unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
