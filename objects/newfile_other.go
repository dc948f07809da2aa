//go:build !linux

package objects

import (
	"errors"
	"io"
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

// preadFile reads len(buf) bytes of the file name at off into buf (fewer
// at its end).
func preadFile(name string, buf []byte, off int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.ReadAt(buf, off)
	if err != nil && n < len(buf) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}
