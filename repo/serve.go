package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/remote"
)

// servedPrefixes are the only keys a served remote exposes.
var servedPrefixes = []string{"objects/", "packs/", "refs/", "gc/"}

func servedKey(key string) error {
	for _, p := range servedPrefixes {
		if strings.HasPrefix(key, p) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q is not under objects/, packs/, refs/ or gc/", remote.ErrInvalidKey, key)
}

// ServedStore wraps the remote store t for `art serve`: only keys under
// objects/, packs/, refs/ and gc/ can be read or written; only ref
// documents and the remote gc's two keys are swapped, and only packs are
// deleted (by a remote gc; the handler lets only write tokens delete).
func ServedStore(t remote.Transport) remote.Transport { return servedStore{t} }

type servedStore struct{ remote.Transport }

func (s servedStore) Stat(ctx context.Context, key string) (remote.Info, error) {
	if err := servedKey(key); err != nil {
		return remote.Info{}, err
	}
	return s.Transport.Stat(ctx, key)
}

func (s servedStore) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	if err := servedKey(key); err != nil {
		return nil, remote.Info{}, err
	}
	return s.Transport.Get(ctx, key)
}

func (s servedStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := servedKey(key); err != nil {
		return nil, err
	}
	return s.Transport.GetRange(ctx, key, off, n)
}

func (s servedStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := servedKey(key); err != nil {
		return err
	}
	return s.Transport.PutIfAbsent(ctx, key, r, size)
}

func (s servedStore) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	if !strings.HasPrefix(key, "refs/") && key != gcDocKey && key != gcClockKey {
		return "", fmt.Errorf("%w: only ref documents and %s are swapped, not %q", remote.ErrInvalidKey, gcDocKey, key)
	}
	return s.Transport.CompareAndSwap(ctx, key, etag, data)
}

func (s servedStore) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	return s.Transport.List(ctx, prefix, func(i remote.Info) error {
		if servedKey(i.Key) != nil {
			return nil
		}
		return fn(i)
	})
}

func (s servedStore) Delete(ctx context.Context, key string) error {
	if _, ok := remotePackName(key, objects.PackSuffix); !ok {
		if _, ok := remotePackName(key, objects.PackIndexSuffix); !ok {
			return fmt.Errorf("%w: a served remote deletes only packs (a remote gc does), not %q", remote.ErrPermission, key)
		}
	}
	return s.Transport.Delete(ctx, key)
}

// UploadVerifier returns the check `art serve` runs on every upload to the
// remote store t before it is stored (httpremote.HandlerOptions.Verify).
// Objects are hashed by the handler itself; a chunk list must decode,
// describe the blob its key names and name chunks t holds with the sizes
// it gives; a pack must be what its name says (a header hashing to the
// name, objects hashing to their IDs, chunk lists of their blobs); a pack
// index must hash to its name and come after its pack; a ref document must
// decode under its key's name and name commits t holds, loose or in a
// pack. Anything else is refused.
func UploadVerifier(t remote.Transport) func(ctx context.Context, key string, body io.Reader) (io.Reader, error) {
	x := &objects.PackIndex{}
	return func(ctx context.Context, key string, body io.Reader) (io.Reader, error) {
		if err := servedKey(key); err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(key, "packs/"):
			return verifyPackUpload(ctx, t, key, body)
		case strings.HasPrefix(key, "objects/") && strings.HasSuffix(key, objects.ChunkListSuffix):
			b, err := readBounded(body, objects.MaxMetaObjectSize)
			if err != nil {
				return nil, err
			}
			return bytes.NewReader(b), verifyChunkListUpload(ctx, t, key, b)
		case strings.HasPrefix(key, "objects/"):
			return body, nil // hashed by the handler against the key
		case key == gcDocKey:
			b, err := readBounded(body, maxGCDocSize)
			if err != nil {
				return nil, err
			}
			_, err = decodeGCDoc(b)
			return bytes.NewReader(b), err
		case key == gcClockKey:
			b, err := readBounded(body, 64)
			return bytes.NewReader(b), err
		case strings.HasPrefix(key, "gc/"):
			return nil, fmt.Errorf("%w: under gc/ only %s and %s are kept, not %q", remote.ErrInvalidKey, gcDocKey, gcClockKey, key)
		default: // refs/
			name, ok := strings.CutSuffix(strings.TrimPrefix(key, "refs/"), ".json")
			if !ok || strings.Contains(name, "/") {
				return nil, fmt.Errorf("%w: ref documents are refs/NAME.json, not %q", remote.ErrInvalidKey, key)
			}
			b, err := readBounded(body, maxRemoteDocSize)
			if err != nil {
				return nil, err
			}
			d, err := decodeRemoteDoc(b, name)
			if err != nil {
				return nil, err
			}
			if err := refreshServedIndex(ctx, t, x); err != nil {
				return nil, err
			}
			for _, v := range d.Versions {
				if x.Has(objects.PackObjectKey(v.Commit)) {
					continue
				}
				if _, err := t.Stat(ctx, remoteObjectKey(v.Commit)); err != nil {
					return nil, fmt.Errorf("ref document of %s names %s, commit %s, which is not stored: %w", name, refsVersion(v.Version), v.Commit.Short(), err)
				}
			}
			return bytes.NewReader(b), nil
		}
	}
}

func refsVersion(n int64) string { return fmt.Sprintf("v%d", n) }

func readBounded(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", remote.ErrTooLarge, max)
	}
	return b, nil
}

func verifyChunkListUpload(ctx context.Context, t remote.Transport, key string, b []byte) error {
	l, err := objects.DecodeChunkList(b)
	if err != nil {
		return err
	}
	if remoteListKey(l.Blob) != key {
		return fmt.Errorf("%w: the chunk list of blob %s sent as %s", objects.ErrMalformed, l.Blob.Short(), key)
	}
	seen := map[objects.ID]bool{}
	for _, c := range l.Chunks {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		info, err := t.Stat(ctx, remoteObjectKey(c.ID))
		if errors.Is(err, remote.ErrNotFound) {
			return fmt.Errorf("chunk %s of blob %s is not stored; send the chunks first", c.ID.Short(), l.Blob.Short())
		}
		if err != nil {
			return err
		}
		if info.Size != c.Size {
			return fmt.Errorf("chunk %s of blob %s has %d bytes, the list says %d", c.ID.Short(), l.Blob.Short(), info.Size, c.Size)
		}
	}
	return nil
}

// verifyPackUpload checks a pack or a pack index sent to `art serve`.
func verifyPackUpload(ctx context.Context, t remote.Transport, key string, body io.Reader) (io.Reader, error) {
	if name, ok := remotePackName(key, objects.PackSuffix); ok {
		return objects.VerifyPack(name, body)
	}
	name, ok := remotePackName(key, objects.PackIndexSuffix)
	if !ok {
		return nil, fmt.Errorf("%w: packs are packs/<64 hex>.pack and .idx, not %q", remote.ErrInvalidKey, key)
	}
	b, err := readBounded(body, objects.MaxPackHeader)
	if err != nil {
		return nil, err
	}
	es, err := objects.ParsePackHeader(name, b)
	if err != nil {
		return nil, err
	}
	size := objects.PackSize(len(b), es)
	info, err := t.Stat(ctx, packKeyOf(name))
	if errors.Is(err, remote.ErrNotFound) {
		return nil, fmt.Errorf("pack %s is not stored; send the pack before its index", shortName(name))
	}
	if err != nil {
		return nil, err
	}
	if info.Size != size {
		return nil, fmt.Errorf("pack %s has %d bytes, its index says %d", shortName(name), info.Size, size)
	}
	return bytes.NewReader(b), nil
}

// refreshServedIndex adds to x the pack indexes t holds that x lacks.
func refreshServedIndex(ctx context.Context, t remote.Transport, x *objects.PackIndex) error {
	var names []string
	err := t.List(ctx, "packs/", func(i remote.Info) error {
		if name, ok := remotePackName(i.Key, objects.PackIndexSuffix); ok && !x.Holds(name) {
			if len(names) == maxRemotePacks {
				return fmt.Errorf("%w: more than %d pack indexes", remote.ErrTooLarge, maxRemotePacks)
			}
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		b, es, err := readPackIndex(ctx, t, name)
		if err != nil {
			return err
		}
		x.Add(name, int64(len(b)), es)
	}
	return nil
}
