//go:build !linux

package objects

import (
	"errors"
	"io/fs"
	"os"

	"github.com/spf13/afero"
)

func writeNewFile(string, []byte, os.FileMode) (fs.FileInfo, error) {
	return nil, errors.ErrUnsupported
}

// readFileInto reads the file name into buf until buf is full or the
// file ends.
func readFileInto(name string, buf []byte) ([]byte, error) {
	return readAllInto(func(name string) (afero.File, error) { return os.Open(name) }, name, buf)
}
