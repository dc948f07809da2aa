package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"
	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/remote"
)

// Packs: a push sends objects to a remote bundled into pack files, so that
// 20,000 small files or the 4,000 chunks of a 1 GiB file cost a few dozen
// requests instead of one each.
//
// A pack is packs/<P>.pack: its header (objects.EncodePackHeader), then
// the entries' bytes one after the other; P is the BLAKE3 of the header,
// and packs/<P>.idx holds the header alone. A reader lists packs/, reads
// the headers it has not seen (each checked against its name, then kept
// in .art/remotes/NAME/packs/) into an objects.PackIndex and knows where
// every entry lies. The index is written after its pack, so an index
// names only complete packs; a pack without an index (an interrupted
// push) is never read. Every entry received is verified like any object;
// a push streams its packs with objects.NewPackReader, and `art serve`
// checks those it receives with objects.VerifyPack.

// packTarget is the size at which a push closes a pack.
const packTarget = 16 << 20

// indexWorkers is how many pack headers loadRemoteIndex reads at once:
// each is held whole until it is added (up to 3 MiB), so fewer than
// transferWorkers.
const indexWorkers = 4

// maxRemotePacks bounds the pack indexes a client reads from one remote.
const maxRemotePacks = 1 << 20

// remotePackDir holds a remote's packs.
const remotePackDir = "packs/"

func packKeyOf(name string) string    { return remotePackDir + name + objects.PackSuffix }
func packIndexKey(name string) string { return remotePackDir + name + objects.PackIndexSuffix }

// remotePackName returns the pack name P of the remote key
// "packs/P"+suffix (objects.PackNameOf), and false for any other key.
func remotePackName(key, suffix string) (string, bool) {
	file, ok := strings.CutPrefix(key, remotePackDir)
	if !ok {
		return "", false
	}
	return objects.PackNameOf(file, suffix)
}

// packCacheDir holds the pack headers read from a remote.
func (r *Repo) packCacheDir(remoteName string) string {
	return filepath.Join(r.trackingDir(remoteName), "packs")
}

// loadRemoteIndex lists the remote's pack indexes and reads those not read
// before: from the cache when a cached copy still hashes to its name, else
// from the remote (checked against its name, then cached; a failed cache
// write only costs a read next time). Packs are only ever added, so the
// index kept for the remote grows and is never wrong.
func (r *Repo) loadRemoteIndex(ctx context.Context, t remote.Transport, remoteName string) (*objects.PackIndex, error) {
	var names []string
	err := t.List(ctx, "packs/", func(i remote.Info) error {
		if name, ok := remotePackName(i.Key, objects.PackIndexSuffix); ok {
			if len(names) == maxRemotePacks {
				return fmt.Errorf("%w: the remote lists more than %d pack indexes", remote.ErrTooLarge, maxRemotePacks)
			}
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs on remote %s: %w", remoteName, err)
	}
	x := r.remoteIndexOf(remoteName)
	dir := r.packCacheDir(remoteName)
	// A remote gc deletes packs: an index that holds a pack no longer
	// listed is dropped and built again from the listing, and the pack's
	// cached header goes, so nothing is relied on in a pack gone.
	listed := make(map[string]bool, len(names))
	for _, name := range names {
		listed[name] = true
	}
	for _, name := range x.Names() {
		if !listed[name] {
			x = r.resetRemoteIndex(remoteName)
			break
		}
	}
	r.dropCachedPackIndexes(remoteName, listed)
	var fetch []string
	for _, name := range names {
		if x.Holds(name) {
			continue
		}
		b, err := afero.ReadFile(r.fs, filepath.Join(dir, name+".idx"))
		if err == nil {
			if es, err := objects.ParsePackHeader(name, b); err == nil {
				x.Add(name, int64(len(b)), es)
				continue
			}
		}
		fetch = append(fetch, name)
	}
	if len(fetch) == 0 {
		return x, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(indexWorkers)
	for _, name := range fetch {
		g.Go(func() error {
			b, es, err := readPackIndex(gctx, t, name)
			if err != nil {
				if errors.Is(err, remote.ErrBadResponse) {
					return &DamagedPackError{Remote: remoteName, Keys: []string{packIndexKey(name), packKeyOf(name)},
						Err: fmt.Errorf("remote %s: %w; the remote is damaged", remoteName, err)}
				}
				return fmt.Errorf("remote %s: %w", remoteName, err)
			}
			x.Add(name, int64(len(b)), es)
			r.cachePackIndex(remoteName, name, b)
			return nil
		})
	}
	return x, g.Wait()
}

// dropCachedPackIndexes removes the cached headers of packs of the remote
// not in listed (deleted by a remote gc). Failures only cost disk.
func (r *Repo) dropCachedPackIndexes(remoteName string, listed map[string]bool) {
	dir := r.packCacheDir(remoteName)
	f, err := r.fs.Open(dir)
	if err != nil {
		return
	}
	files, _ := f.Readdirnames(-1)
	f.Close()
	for _, file := range files {
		if name, ok := objects.PackNameOf(file, objects.PackIndexSuffix); ok && !listed[name] {
			r.fs.Remove(filepath.Join(dir, file))
		}
	}
}

// cachePackIndex keeps the header of a pack on the remote; a failure only
// costs a read next time.
func (r *Repo) cachePackIndex(remoteName, name string, hdr []byte) {
	dir := r.packCacheDir(remoteName)
	if err := r.fs.MkdirAll(dir, 0o755); err == nil {
		writeFileAtomic(r.fs, filepath.Join(dir, name+".idx"), hdr, 0o644)
	}
}

// readPackIndex reads and checks packs/<name>.idx.
func readPackIndex(ctx context.Context, t remote.Transport, name string) ([]byte, []objects.PackEntry, error) {
	key := packIndexKey(name)
	rc, info, err := t.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	if info.Size > objects.MaxPackHeader {
		return nil, nil, fmt.Errorf("%w: %s has %d bytes", remote.ErrBadResponse, key, info.Size)
	}
	b, err := readSized(rc, info.Size, objects.MaxPackHeader)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", key, err)
	}
	es, err := objects.ParsePackHeader(name, b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", remote.ErrBadResponse, key, err)
	}
	return b, es, nil
}

// readSized reads all of rc, which says it holds size bytes (negative
// when unknown), into one buffer of that size when it is known, rather
// than one grown by doubling; more than max bytes are read as max+1, for
// the caller to refuse.
func readSized(rc io.Reader, size, max int64) ([]byte, error) {
	if size < 0 || size > max {
		return io.ReadAll(io.LimitReader(rc, max+1))
	}
	b := make([]byte, size, size+1)
	if _, err := io.ReadFull(rc, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: %d bytes of the %d it said", remote.ErrBadResponse, len(b), size)
		}
		return nil, err
	}
	// A body longer than it said is read on, to the bound.
	rest, err := io.ReadAll(io.LimitReader(rc, max+1-size))
	return append(b, rest...), err
}

// shortName is the first 12 characters of a pack name, for messages.
func shortName(name string) string {
	if len(name) > 12 {
		return name[:12]
	}
	return name
}
