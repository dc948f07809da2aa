package objects

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/afero"
)

// errNoKernelCopy means the kernel cannot copy between these files; the
// caller copies through user space instead.
var errNoKernelCopy = errors.New("no kernel copy")

// CopyTo writes the object id into dst, which must be empty, letting the
// kernel move the bytes where it can: a reflink (FICLONE) that shares the
// object's blocks on copy-on-write file systems (Btrfs, XFS), else
// copy_file_range(2). Either way the object's bytes are hashed on the way
// and a mismatch is a *CorruptError, after which dst holds garbage and must
// be discarded. ok is false, with nothing written, when no kernel copy is
// possible (another file system type, another OS); the caller then copies
// from Open. progress, if set, is called with byte counts as they are
// verified.
func (s *FSStore) CopyTo(ctx context.Context, id ID, dst afero.File, progress func(int64)) (n int64, ok bool, err error) {
	if !isOS(s.fs) {
		return 0, false, nil
	}
	out, isFile := dst.(*os.File)
	if !isFile {
		return 0, false, nil
	}
	src, err := os.Open(s.Path(id))
	if errors.Is(err, os.ErrNotExist) {
		if pf, loc, ok, err := s.openPackedOS(id); err != nil {
			return 0, false, err
		} else if ok {
			defer pf.Close()
			n, err = kernelCopyAt(ctx, out, pf, loc.Off, loc.Size, id, progress)
			if errors.Is(err, errNoKernelCopy) {
				return 0, false, nil
			}
			return n, true, err
		}
		// A chunked blob: copy it chunk by chunk, after checking that
		// every chunk is there with the right size.
		l, err := s.ReadChunkList(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return 0, false, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return 0, false, err
		}
		if err := s.checkChunks(ctx, l); err != nil {
			return 0, false, err
		}
		n, err = s.copyChunks(ctx, out, l, progress)
		if errors.Is(err, errNoKernelCopy) {
			return 0, false, nil
		}
		return n, true, err
	}
	if err != nil {
		return 0, false, fmt.Errorf("open object %s: %w", id, err)
	}
	defer src.Close()
	n, err = kernelCopy(ctx, out, src, id, progress)
	if errors.Is(err, errNoKernelCopy) {
		return 0, false, nil
	}
	return n, true, err
}
