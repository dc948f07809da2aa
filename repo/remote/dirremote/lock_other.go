//go:build !unix

package dirremote

import (
	"context"
	"hash/fnv"
	"path/filepath"
	"sync"
)

// lockStripes serialise swaps of one key within this process; without
// flock there is no lock across processes here.
var lockStripes [64]sync.Mutex

// lockKey locks the key file p within this process only.
func lockKey(ctx context.Context, p string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := fnv.New32a()
	h.Write([]byte(filepath.Clean(p)))
	m := &lockStripes[h.Sum32()%uint32(len(lockStripes))]
	m.Lock()
	return m.Unlock, nil
}

// syncDir is a no-op: directories cannot be fsynced here.
func syncDir(string) error { return nil }

// isNotDir: a path through a file is reported as not-exist here.
func isNotDir(error) bool { return false }
