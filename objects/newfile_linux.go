//go:build linux

package objects

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// writeNewFile is NewFileWriter's WriteNewFile with raw system calls:
// openat (O_EXCL|O_NOFOLLOW), write, fstat, close.
func writeNewFile(name string, data []byte, perm os.FileMode) (fs.FileInfo, error) {
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	fail := func(op string, err error) (fs.FileInfo, error) {
		unix.Close(fd)
		unix.Unlink(name)
		return nil, &os.PathError{Op: op, Path: name, Err: err}
	}
	for b := data; len(b) > 0; {
		n, err := retryEINTR(func() (int, error) { return unix.Write(fd, b) })
		if err != nil {
			return fail("write", err)
		}
		if n == 0 {
			return fail("write", syscall.EIO)
		}
		b = b[n:]
	}
	fi := &statInfo{name: filepath.Base(name)}
	if err := syscall.Fstat(fd, &fi.st); err != nil {
		return fail("fstat", err)
	}
	if err := unix.Close(fd); err != nil {
		unix.Unlink(name)
		return nil, &os.PathError{Op: "close", Path: name, Err: err}
	}
	return fi, nil
}

// readFileInto reads the file name into buf until buf is full or the
// file ends, with raw system calls: open, read (once, for a file no
// larger than buf), close.
func readFileInto(name string, buf []byte) ([]byte, error) { return preadFile(name, buf, 0) }

// preadFile reads len(buf) bytes of the file name at off into buf (fewer
// at its end) with raw system calls: open, pread, close.
func preadFile(name string, buf []byte, off int64) ([]byte, error) {
	fd, err := retryEINTR(func() (int, error) { return unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		k, err := retryEINTR(func() (int, error) { return unix.Pread(fd, buf[n:], off+int64(n)) })
		if err != nil {
			return nil, &os.PathError{Op: "pread", Path: name, Err: err}
		}
		if k == 0 {
			break
		}
		n += k
	}
	return buf[:n], nil
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// statInfo is the fs.FileInfo of a stat_t, as os.Stat makes it.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Sec, s.st.Mtim.Nsec) }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return &s.st }

func (s *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFREG:
	default:
		m |= fs.ModeIrregular
	}
	if s.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
