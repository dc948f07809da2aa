//go:build linux

package objects

import (
	"errors"
	"os"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

var errNoPlainOpen = errors.New("plain open not supported")

func openPlain(name string) (afero.File, error) {
	for {
		fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}
