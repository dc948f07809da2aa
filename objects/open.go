package objects

import (
	"github.com/spf13/afero"
)

// OpenFile opens name for reading on fsys. On the OS file system it skips
// the Go runtime's poller registration (a regular file is never pollable),
// which saves several system calls per file when thousands are read.
func OpenFile(fsys afero.Fs, name string) (afero.File, error) {
	if isOS(fsys) {
		if f, err := openPlain(name); err != errNoPlainOpen {
			return f, err
		}
	}
	return fsys.Open(name)
}
