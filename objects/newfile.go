package objects

import (
	"errors"
	"io/fs"
	"os"

	"github.com/spf13/afero"
)

// NewFileWriter is a file system that can create a file holding given
// bytes in one step, cheaper than OpenFile, Write, Stat and Close (the
// OS one makes four system calls of it, with no poller and no
// finalizer).
type NewFileWriter interface {
	// WriteNewFile creates the file name, which must not exist (the
	// error wraps fs.ErrExist, also for a symbolic link there, which is
	// never followed), with mode perm (subject to the umask), writes data
	// to it and returns its FileInfo after the write. On an error after
	// the create the file is removed. Durability is any new file's: the
	// caller syncs. An error wrapping errors.ErrUnsupported means it
	// cannot and nothing was done.
	WriteNewFile(name string, data []byte, perm os.FileMode) (fs.FileInfo, error)
}

// WriteNewFile creates name on fsys holding data, as NewFileWriter's
// WriteNewFile does: through fsys's NewFileWriter where it has one, else
// with OpenFile (O_EXCL), Write, Stat and Close.
func WriteNewFile(fsys afero.Fs, name string, data []byte, perm os.FileMode) (fs.FileInfo, error) {
	if c, ok := capability[NewFileWriter](fsys); ok {
		fi, err := c.WriteNewFile(name, data, perm)
		if !errors.Is(err, errors.ErrUnsupported) {
			return fi, err
		}
	}
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	fi, err := func() (fs.FileInfo, error) {
		if _, err := f.Write(data); err != nil {
			f.Close()
			return nil, err
		}
		fi, err := f.Stat()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return fi, err
	}()
	if err != nil {
		fsys.Remove(name)
		return nil, err
	}
	return fi, nil
}

var _ NewFileWriter = osFS{}

func (osFS) WriteNewFile(name string, data []byte, perm os.FileMode) (fs.FileInfo, error) {
	return writeNewFile(name, data, perm)
}
