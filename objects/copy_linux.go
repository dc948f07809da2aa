//go:build linux

package objects

import (
	"context"
	"errors"
	"fmt"
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
	if size > 0 && unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())) == nil {
		// The blocks are shared; verify what they hold.
		if err := hashRange(src, 0, size, want, h.Write, progress, *bufp); err != nil {
			return 0, err
		}
		return size, verify(h, want)
	}
	n, err := copyRange(ctx, dst, src, 0, size, want, h.Write, progress, *bufp)
	if err != nil {
		return n, err
	}
	return n, verify(h, want)
}

// kernelCopyAt is kernelCopy of the size bytes at base in src (a pack).
func kernelCopyAt(ctx context.Context, dst, src *os.File, base, size int64, want ID, progress func(int64)) (int64, error) {
	h := hasherPool.Get().(*Hasher)
	defer hasherPool.Put(h)
	h.Reset()
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	n, err := copyRange(ctx, dst, src, base, size, want, h.Write, progress, *bufp)
	if err != nil {
		return n, err
	}
	if n != size {
		return n, &CorruptError{ID: want, Reason: fmt.Sprintf("%d bytes, want %d", n, size)}
	}
	return n, verify(h, want)
}

// hashRange reads [off, off+n) of src (the object id) into sink, through
// buf.
func hashRange(src *os.File, off, n int64, id ID, sink func([]byte) (int, error), progress func(int64), buf []byte) error {
	for n > 0 {
		k := int64(len(buf))
		if k > n {
			k = n
		}
		m, err := src.ReadAt(buf[:k], off)
		sink(buf[:m])
		if progress != nil {
			progress(int64(m))
		}
		off += int64(m)
		n -= int64(m)
		if err == io.EOF && n > 0 {
			return &CorruptError{ID: id, Reason: "object shrank while being read"}
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// copyRange appends the size bytes at base in src (the object id) to dst
// with copy_file_range(2), feeding them to sink as they are copied (read
// back from the page cache). It returns errNoKernelCopy, having written
// nothing, if the kernel cannot copy between these files. buf is scratch
// space for the read-back.
func copyRange(ctx context.Context, dst, src *os.File, base, size int64, id ID, sink func([]byte) (int, error), progress func(int64), buf []byte) (int64, error) {
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return off, err
		}
		chunk := int64(kernelChunk)
		if chunk > size-off {
			chunk = size - off
		}
		roff := base + off
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
			return off, &CorruptError{ID: id, Reason: "object shrank while being copied"}
		}
		if err := hashRange(src, base+off, int64(n), id, sink, progress, buf); err != nil {
			return off, err
		}
		dropCached(src, base+off, int64(n))
		off += int64(n)
	}
	return off, nil
}

// copyChunks appends the chunks of l to dst, each by copy_file_range(2)
// where the kernel can (else through user space), hashing the bytes on
// the way. Only the whole is hashed: bytes that hash to the blob's ID are
// right whatever their chunks hold. On a mismatch the chunks are read
// again to name the damaged one (see blameChunk).
func (s *FSStore) copyChunks(ctx context.Context, dst *os.File, l *ChunkList, progress func(int64)) (int64, error) {
	whole := hasherPool.Get().(*Hasher)
	defer hasherPool.Put(whole)
	whole.Reset()
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	kernel := true
	var total int64
	for _, c := range l.Chunks {
		src, base, err := s.openOS(c.ID)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return total, fmt.Errorf("%w: chunk %s of blob %s", ErrNotFound, c.ID, l.Blob)
			}
			return total, fmt.Errorf("open chunk %s: %w", c.ID, err)
		}
		var n int64
		if kernel {
			n, err = copyRange(ctx, dst, src, base, c.Size, c.ID, whole.Write, progress, *bufp)
			if errors.Is(err, errNoKernelCopy) {
				kernel = false
			}
		}
		if !kernel {
			n, err = io.CopyBuffer(io.MultiWriter(dst, whole), ctxReader{ctx, io.NewSectionReader(src, base, c.Size)}, *bufp)
			if progress != nil {
				progress(n)
			}
		}
		src.Close()
		total += n
		if err != nil {
			return total, err
		}
		if n != c.Size {
			return total, &CorruptError{ID: c.ID, Reason: fmt.Sprintf("chunk of blob %s is shorter than its %d bytes", l.Blob, c.Size)}
		}
	}
	if got := whole.Sum(); got != l.Blob {
		return total, s.blameChunk(ctx, l, got)
	}
	return total, nil
}

// dropCached tells the kernel that [off, off+n) of the store file src
// will not be read again soon: a checkout's copy now holds those bytes, so
// keeping both in the page cache would double a large checkout's
// footprint, and the pages freed here are the ones the copy's next pages
// reuse. Only clean pages are dropped; a hint, whose failure is ignored.
func dropCached(src *os.File, off, n int64) {
	unix.Fadvise(int(src.Fd()), off, n, unix.FADV_DONTNEED)
}

// openOS opens the file holding the object id (loose, or its pack) on the
// OS file system and returns where the object starts in it. A missing
// object wraps os.ErrNotExist.
func (s *FSStore) openOS(id ID) (*os.File, int64, error) {
	f, err := os.Open(s.Path(id))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return f, 0, err
	}
	pf, loc, ok, perr := s.openPackedOS(id)
	if perr != nil {
		return nil, 0, perr
	}
	if !ok {
		return nil, 0, err
	}
	return pf, loc.Off, nil
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func verify(h *Hasher, want ID) error {
	if got := h.Sum(); got != want {
		return &CorruptError{ID: want, Reason: "content hashes to " + got.String()}
	}
	return nil
}
