package repo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo/remote"
)

// DeletedOnRemote is what DeleteOnRemote removed.
type DeletedOnRemote struct {
	Remote  string
	Name    string
	Version int64
	Commit  objects.ID
	Size    int64
	Files   int64
	// Aliases lists the aliases that pointed at the version and went with
	// it (force).
	Aliases []string
}

// Ref returns "name:vN".
func (d DeletedOnRemote) Ref() string { return d.Name + ":" + refs.VersionString(d.Version) }

// DeleteOnRemote removes the version ref names from the ref document of
// the remote remoteName, by compare-and-swap (retried when another
// machine changed the document meanwhile). ref is resolved against the
// remote's document: "name", "name:latest", "name:vN", "name:ALIAS" or
// "name@IDPREFIX". A version with aliases is refused (ErrHasAliases)
// unless force is set, when they go with it. The number is never reused
// there, and the document keeps the version as removed, so that no push
// sends it back; a later pull reports it, and removes it locally only
// with PullOptions.Prune. The local repository is not changed. Its
// objects stay on the remote until a remote gc finds nothing else uses
// them.
func (r *Repo) DeleteOnRemote(ctx context.Context, remoteName, ref string, force bool) (DeletedOnRemote, error) {
	out := DeletedOnRemote{Remote: remoteName}
	parsed, err := refs.Parse(ref)
	if err != nil {
		return out, err
	}
	t, err := r.transport(ctx, remoteName)
	if err != nil {
		return out, err
	}
	for attempt := 0; ; attempt++ {
		doc, etag, err := getRemoteDoc(ctx, t, parsed.Name)
		if err != nil {
			return out, fmt.Errorf("read %s on remote %s: %w", parsed.Name, remoteName, err)
		}
		if doc == nil {
			return out, fmt.Errorf("%w: artifact %s on remote %s", ErrVersionNotFound, parsed.Name, remoteName)
		}
		i, err := doc.resolve(parsed)
		if err != nil {
			return out, fmt.Errorf("%w on remote %s", err, remoteName)
		}
		v := doc.Versions[i]
		var aliases []string
		for a, n := range doc.Aliases {
			if n == v.Version {
				aliases = append(aliases, a)
			}
		}
		sort.Strings(aliases)
		if len(aliases) > 0 && !force {
			return out, fmt.Errorf("%w: %s:%s is %s on remote %s", ErrHasAliases, doc.Name,
				refs.VersionString(v.Version), strings.Join(aliases, ", "), remoteName)
		}
		for _, a := range aliases {
			delete(doc.Aliases, a)
		}
		doc.Versions = append(doc.Versions[:i:i], doc.Versions[i+1:]...)
		doc.Removed = append(doc.Removed, removedVersion{Version: v.Version, Commit: v.Commit})
		enc, err := doc.encode()
		if err != nil {
			return out, err
		}
		if _, err := decodeRemoteDoc(enc, doc.Name); err != nil {
			return out, fmt.Errorf("remove %s: the ref document built is invalid (%v); nothing was changed on the remote", ref, err)
		}
		r.savePendingDoc(remoteName, doc)
		if _, err := t.CompareAndSwap(ctx, remoteRefKey(doc.Name), etag, enc); err != nil {
			if errors.Is(err, remote.ErrConflict) && attempt < maxCASRetries {
				continue // someone else pushed meanwhile: look again
			}
			return out, fmt.Errorf("move the ref document: %w", err)
		}
		r.saveTracking(remoteName, doc)
		out.Name, out.Version, out.Commit, out.Size, out.Files, out.Aliases = doc.Name, v.Version, v.Commit, v.Size, v.Files, aliases
		return out, nil
	}
}

// resolve returns the index in d.Versions of the version ref selects.
func (d *remoteDoc) resolve(ref refs.Ref) (int, error) {
	if len(d.Versions) == 0 {
		return 0, fmt.Errorf("%w: %s has no versions", ErrVersionNotFound, d.Name)
	}
	switch ref.Kind {
	case refs.ByLatest:
		return len(d.Versions) - 1, nil
	case refs.ByVersion:
		for i, v := range d.Versions {
			if v.Version == ref.Version {
				return i, nil
			}
		}
	case refs.ByAlias:
		if n, ok := d.Aliases[ref.Alias]; ok {
			for i, v := range d.Versions {
				if v.Version == n {
					return i, nil
				}
			}
		}
	case refs.ByID:
		found := -1
		for i, v := range d.Versions {
			if strings.HasPrefix(v.Commit.String(), ref.IDPrefix) {
				if found >= 0 {
					return 0, fmt.Errorf("%w: %s", ErrAmbiguous, ref)
				}
				found = i
			}
		}
		if found >= 0 {
			return found, nil
		}
	}
	return 0, fmt.Errorf("%w: %s", ErrVersionNotFound, ref)
}
