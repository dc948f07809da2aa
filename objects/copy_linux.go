//go:build linux

package objects

import (
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// kernelChunk is how much copy_file_range moves per call, and how much is
// hashed between calls (read back from the page cache).
const kernelChunk = 4 << 20

func kernelCopy(ctx context.Context, dst, src *os.File, want ID, progress func(int64)) (int64, error) {
	fi, err := src.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	h := hasherPool.Get().(*Hasher)
	defer hasherPool.Put(h)
	h.Reset()
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	buf := *bufp

	// hash reads [off, off+n) of src into the hasher.
	hash := func(off, n int64) error {
		for n > 0 {
			k := int64(len(buf))
			if k > n {
				k = n
			}
			m, err := src.ReadAt(buf[:k], off)
			h.Write(buf[:m])
			if progress != nil {
				progress(int64(m))
			}
			off += int64(m)
			n -= int64(m)
			if err == io.EOF && n > 0 {
				return &CorruptError{ID: want, Reason: "object shrank while being read"}
			}
			if err != nil && err != io.EOF {
				return err
			}
		}
		return nil
	}

	if size > 0 && unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())) == nil {
		// The blocks are shared; verify what they hold.
		if err := hash(0, size); err != nil {
			return 0, err
		}
		return size, verify(h, want)
	}
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return off, err
		}
		chunk := int64(kernelChunk)
		if chunk > size-off {
			chunk = size - off
		}
		roff := off
		n, err := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), nil, int(chunk), 0)
		if off == 0 && (n == 0 || err != nil && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EXDEV) ||
			errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) ||
			errors.Is(err, unix.EPERM) || errors.Is(err, unix.EIO))) {
			// Unsupported here (sandboxes answer EPERM, some file systems
			// EIO, old kernels copy nothing): copy in user space instead.
			return 0, errNoKernelCopy
		}
		if err != nil {
			return off, err
		}
		if n == 0 {
			return off, &CorruptError{ID: want, Reason: "object shrank while being copied"}
		}
		if err := hash(off, int64(n)); err != nil {
			return off, err
		}
		off += int64(n)
	}
	return off, verify(h, want)
}

func verify(h *Hasher, want ID) error {
	if got := h.Sum(); got != want {
		return &CorruptError{ID: want, Reason: "content hashes to " + got.String()}
	}
	return nil
}
