//go:build !linux

package objects

import (
	"context"
	"os"
)

func kernelCopy(ctx context.Context, dst, src *os.File, want ID, progress func(int64)) (int64, error) {
	return 0, errNoKernelCopy
}

func (s *FSStore) copyChunks(ctx context.Context, dst *os.File, l *ChunkList, progress func(int64)) (int64, error) {
	return 0, errNoKernelCopy
}

func kernelCopyAt(ctx context.Context, dst, src *os.File, base, size int64, want ID, progress func(int64)) (int64, error) {
	return 0, errNoKernelCopy
}
