package repo

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/artvcs/art/lineage"
	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// Retention is an artifact's retention policy (see refs.Retention): GC
// deletes the versions it lets go, here and (RemoteGC) on a remote, where
// it travels in the artifact's ref document with push and pull.
type Retention = refs.Retention

// Duration is the type of Retention.KeepWithin: a time.Duration that
// encodes as its string.
type Duration = refs.Duration

// ErrInvalidRetention is returned for a retention policy out of bounds.
var ErrInvalidRetention = refs.ErrInvalidRetention

// SetRetention sets the retention policy of the artifact name; the zero
// policy clears it. Nothing is deleted until GC runs.
func (r *Repo) SetRetention(ctx context.Context, name string, p Retention) error {
	if err := refs.ValidateName(name); err != nil {
		return err
	}
	err := r.writeTx(ctx, func(tx *sql.Tx) error {
		return refs.NewIndex(tx).SetRetention(ctx, name, p)
	})
	if err != nil {
		return err
	}
	r.saveRefDoc(ctx, name)
	return nil
}

// Retention returns the retention policy of the artifact name.
func (r *Repo) Retention(ctx context.Context, name string) (Retention, error) {
	if err := refs.ValidateName(name); err != nil {
		return Retention{}, err
	}
	return r.index().Retention(ctx, name)
}

// expire finds the versions the artifacts' retention policies let go at
// now and, unless dryRun, deletes them, all in one transaction (so a
// commit or an alias set meanwhile is seen). Kept are, besides what the
// policies keep: versions with aliases, the newest of each artifact, and
// the inputs of the runs that produced kept versions, of any artifact,
// to a fixed point. It returns them as refs, sorted.
func (r *Repo) expire(ctx context.Context, now time.Time, dryRun bool) ([]string, error) {
	var out []string
	var names []string
	err := r.writeTx(ctx, func(tx *sql.Tx) error {
		out, names = nil, nil
		idx, x := refs.NewIndex(tx), lineage.NewIndex(tx)
		arts, err := idx.Artifacts(ctx)
		if err != nil {
			return err
		}
		going := map[objects.ID]refs.Version{}
		var kept []refs.Version
		expiring := false
		for _, a := range arts {
			p, err := idx.Retention(ctx, a.Name)
			if err != nil {
				return err
			}
			vs, err := idx.Versions(ctx, a.Name)
			if err != nil {
				return err
			}
			sort.Slice(vs, func(i, j int) bool { return vs[i].Version < vs[j].Version })
			exp := map[int64]bool{}
			for _, v := range refs.Expired(vs, p, now, nil) {
				exp[v.Version] = true
				going[v.Commit] = v
				expiring = true
			}
			for _, v := range vs {
				if !exp[v.Version] {
					kept = append(kept, v)
				}
			}
		}
		if !expiring {
			return nil
		}
		// The inputs of the runs that produced kept versions stay, and
		// then the inputs of theirs.
		seen := map[string]bool{}
		for len(kept) > 0 {
			v := kept[len(kept)-1]
			kept = kept[:len(kept)-1]
			if v.Producer == "" || seen[v.Producer] {
				continue
			}
			seen[v.Producer] = true
			ins, err := x.Inputs(ctx, v.Producer)
			if err != nil {
				return err
			}
			for _, c := range ins {
				if g, ok := going[c]; ok {
					delete(going, c)
					kept = append(kept, g)
				}
			}
		}
		touched := map[string]bool{}
		for _, v := range going {
			out = append(out, v.Ref())
			if !dryRun {
				if err := idx.Delete(ctx, v.Name, v.Version, true); err != nil {
					return fmt.Errorf("retention of %s: %w", v.Name, err)
				}
				touched[v.Name] = true
			}
		}
		for n := range touched {
			names = append(names, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		r.saveRefDoc(ctx, n)
	}
	sort.Strings(out)
	return out, nil
}
