package repo_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
	"github.com/artvcs/art/repo"
)

// peakLive runs fn and returns the most live heap seen while it ran, over
// what was live before: the heap the GC found reachable, read after every
// cycle (the caller makes cycles frequent).
func peakLive(fn func() error) (uint64, error) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	peak := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	}()
	err := fn()
	runtime.GC()
	close(stop)
	wg.Wait()
	peak = max(peak, read())
	return peak - base, err
}

// TestMemoryFlatInFileCount pins the streaming of issue 15: commit,
// recommit, the manifest walk, diff, verify, checkout (fresh, again, and
// switching to a version that differs in 10 files) and gc of a version of 4n
// files hold no more live heap than of n files, but for a few bytes an
// object (the marks' compact ID sets) and a fixed slack. A structure of
// one entry per file of the version (a manifest slice: about 130 bytes a
// file, 5.6 MiB for the 3n more files) fails it. The
// GC runs every 10% of growth, so the live heap it reports follows the
// real one; the walk cache is made small, so its fixed bound does not
// hide the difference, and pack indexes keep few entries in memory. Not
// parallel: it sets those.
func TestMemoryFlatInFileCount(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	oldCache, oldPacked, oldPack := walk.CacheEntries, objects.PackIndexMemoryEntries, objects.PackEntriesTarget
	walk.CacheEntries, objects.PackIndexMemoryEntries, objects.PackEntriesTarget = 1024, 4096, 4096
	defer func() {
		walk.CacheEntries, objects.PackIndexMemoryEntries, objects.PackEntriesTarget = oldCache, oldPacked, oldPack
	}()
	defer repo.SetPullBatch(4096)()
	defer repo.SetPrefetchKeep(256 << 10)()
	defer repo.SetCheckoutTouchedMax(4096)()
	ctx := context.Background()
	const n, perDir = 15_000, 200
	ops := []string{"commit", "recommit", "manifest", "diff", "verify", "checkout", "recheckout", "switch", "gc", "du",
		"fsck", "push", "pull"}
	// Bytes a file the difference may take: the versions' walks none, gc
	// its live set (objects.IDSet, about 24 bytes an object, twice that
	// just after the map doubles); the fixed costs vary by about 1 MiB.
	budget := map[string]uint64{"commit": 40, "recommit": 40, "manifest": 40, "diff": 40, "verify": 40,
		"checkout": 40, "recheckout": 40, "switch": 40, "gc": 96,
		// du: the store's listing (24 bytes an object, twice that while
		// its slices grow) and a bit an object per set.
		"du": 56,
		// fsck: the same listing, sizes by ID prefix.
		"fsck": 56,
		// push and pull: the pack indexes (the remote's, and pull's of
		// its local packs) spill to files past 4,096 entries here, packs
		// hold 4,096 entries, pull keeps 256 KiB of prefetched trees.
		"push": 40, "pull": 40}
	peaks := map[string][2]uint64{}
	for i, count := range []int{n, 4 * n} {
		root := t.TempDir()
		r, _ := newRepo(t, afero.NewOsFs(), root)
		src := filepath.Join(root, "src")
		for f := range count {
			dir := filepath.Join(src, fmt.Sprintf("d%03d", f/perDir))
			if f%perDir == 0 {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", f%perDir)), fmt.Appendf(nil, "file %d of %d", f, count), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var v0, v1 repo.Version
		logSrc := func(v *repo.Version) func() error {
			return func() error {
				a := r.NewArtifact("ds", "dataset")
				if err := a.AddDir(src, ""); err != nil {
					return err
				}
				var err error
				*v, _, err = r.Log(ctx, a, nil)
				return err
			}
		}
		// run measures fn, the lower of two runs when it can run again
		// (the race detector's sync.Pool drops buffers at random, and a GC
		// that finds several 256 KiB buffers live is noise, not growth).
		run := func(op string, fn func() error) {
			t.Helper()
			p, err := peakLive(fn)
			if err == nil && op != "commit" && op != "recommit" {
				var p2 uint64
				p2, err = peakLive(fn)
				p = min(p, p2)
			}
			if err != nil {
				t.Fatalf("%s of %d files: %v", op, count, err)
			}
			pk := peaks[op]
			pk[i] = p
			peaks[op] = pk
		}
		run("commit", logSrc(&v0))
		for f := range 10 {
			if err := os.WriteFile(filepath.Join(src, "d000", fmt.Sprintf("f%04d", f)), []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run("recommit", logSrc(&v1))
		run("manifest", func() error {
			files := 0
			err := v1.WalkManifest(ctx, func(repo.ManifestEntry) error { files++; return nil })
			if err == nil && files != count {
				err = fmt.Errorf("walked %d files", files)
			}
			return err
		})
		run("diff", func() error {
			ch, err := r.Diff(ctx, v0.Ref(), v1.Ref())
			if err == nil && len(ch) != 10 {
				err = fmt.Errorf("%d changes, want 10", len(ch))
			}
			return err
		})
		run("verify", func() error {
			res, err := v1.Verify(ctx, src)
			if err == nil && res.Files != count {
				err = fmt.Errorf("verified %d files", res.Files)
			}
			return err
		})
		dst := filepath.Join(root, "out")
		checkoutOf := func(v repo.Version, written, skipped int) func() error {
			return func() error {
				res, err := v.Download(ctx, dst, nil)
				if err == nil && (res.Written != written || res.Skipped != skipped) {
					err = fmt.Errorf("%d written, %d skipped; want %d, %d", res.Written, res.Skipped, written, skipped)
				}
				return err
			}
		}
		p, err := peakLive(checkoutOf(v0, count, 0))
		if err != nil {
			t.Fatalf("checkout of %d files: %v", count, err)
		}
		pk := peaks["checkout"]
		pk[i] = p
		peaks["checkout"] = pk
		run("recheckout", checkoutOf(v0, 0, count))
		p, err = peakLive(checkoutOf(v1, 10, count-10))
		if err != nil {
			t.Fatalf("switch of %d files: %v", count, err)
		}
		pk = peaks["switch"]
		pk[i] = p
		peaks["switch"] = pk
		run("gc", func() error {
			_, err := r.GC(ctx, &repo.GCOptions{DryRun: true})
			return err
		})
		remoteDir := filepath.Join(root, "remote")
		if err := r.AddRemote(ctx, "origin", remoteDir); err != nil {
			t.Fatal(err)
		}
		p, err = peakLive(func() error {
			_, err := r.Push(ctx, "origin", nil, nil)
			return err
		})
		if err != nil {
			t.Fatalf("push of %d files: %v", count, err)
		}
		pk = peaks["push"]
		pk[i] = p
		peaks["push"] = pk
		clone, _ := newRepo(t, afero.NewOsFs(), filepath.Join(root, "clone"))
		if err := clone.AddRemote(ctx, "origin", remoteDir); err != nil {
			t.Fatal(err)
		}
		p, err = peakLive(func() error {
			_, err := clone.Pull(ctx, "origin", nil, nil)
			return err
		})
		if err != nil {
			t.Fatalf("pull of %d files: %v", count, err)
		}
		pk = peaks["pull"]
		pk[i] = p
		peaks["pull"] = pk
		run("du", func() error {
			u, err := r.DiskUsage(ctx)
			if err == nil && u.Objects < count {
				err = fmt.Errorf("du counted %d objects, want over %d", u.Objects, count)
			}
			return err
		})
		run("fsck", func() error {
			rep, err := r.Fsck(ctx, nil)
			if err == nil && rep.Objects < count {
				err = fmt.Errorf("fsck checked %d objects, want over %d", rep.Objects, count)
			}
			return err
		})
	}
	const slack = 3 << 20 // what the fixed costs vary by
	for _, op := range ops {
		p := peaks[op]
		grow := int64(p[1]) - int64(p[0])
		t.Logf("%-8s peak live heap over the start: %6d KiB at %d files, %6d KiB at %d", op, p[0]>>10, n, p[1]>>10, 4*n)
		if grow > int64(budget[op]*3*n)+slack {
			t.Errorf("%s: the live heap grew by %d KiB for %d more files (%d bytes a file; budget %d, and %d KiB of slack): a structure per file is back",
				op, grow>>10, 3*n, grow/(3*n), budget[op], slack>>10)
		}
	}
}
