package repo

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/afero"
)

// gcLockName is the file, in the repository directory, whose lock orders
// a GC against the commits and pulls that GCs have already raced: a GC
// holds it exclusively while it runs; such a writer holds it shared for
// its last attempt, so that attempt cannot be raced again (see Log).
// Writers that no GC raced never take it, so a GC blocks nobody.
const gcLockName = "gc.lock"

// gcRetriesUnlocked is how many attempts Log and Pull make before they
// take the gc lock: the lock waits for a GC in progress, where a retry
// would usually succeed at once.
const gcRetriesUnlocked = 2

// gcMus orders the same within the process, by repository directory, for
// file systems with no locks across processes (and across goroutines on
// platforms without flock).
var gcMus sync.Map // string -> *sync.RWMutex

// lockGC takes the gc lock, exclusively or shared, and returns its
// release. It waits for the lock.
func (r *Repo) lockGC(exclusive bool) (func(), error) {
	v, _ := gcMus.LoadOrStore(filepath.Clean(r.dir), new(sync.RWMutex))
	mu := v.(*sync.RWMutex)
	if exclusive {
		mu.Lock()
	} else {
		mu.RLock()
	}
	release := mu.Unlock
	if !exclusive {
		release = mu.RUnlock
	}
	if _, ok := r.fs.(*afero.OsFs); !ok {
		return release, nil
	}
	f, err := os.OpenFile(filepath.Join(r.dir, gcLockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		err = lockFileMode(f, !exclusive)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		release()
		return nil, err
	}
	return func() {
		f.Close() // releases the flock
		release()
	}, nil
}
