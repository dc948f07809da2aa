package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/artvcs/art/objects"
)

// RepairResult says what Repair did.
type RepairResult struct {
	Remote   string
	Repaired []objects.ID // damaged objects replaced by the remote's copies
	Failed   []string     // objects the remote could not supply, with why
}

// Repair fetches every object rep names as missing or corrupt from the
// remote, checking again and fetching what a repaired tree brings to light,
// until nothing more can be repaired. The remote must hold intact copies: the damaged copy is removed and
// the remote's, verified against the object's ID (and for a chunked blob,
// every chunk and the whole), stored in its place. Objects the remote
// lacks or holds damaged are listed in Failed. Run Fsck again afterwards
// to confirm (`art fsck --repair REMOTE` does).
func (r *Repo) Repair(ctx context.Context, remoteName string, rep FsckReport) (RepairResult, error) {
	res := RepairResult{Remote: remoteName, Repaired: []objects.ID{}, Failed: []string{}}
	t, err := r.transport(ctx, remoteName)
	if err != nil {
		return res, err
	}
	tried := map[objects.ID]bool{}
	// A damaged tree hides what lies below it from fsck: after each round
	// of repairs, check again and repair what comes to light.
	for round := 0; round < maxRepairRounds; round++ {
		d, derr := r.newDownloader(ctx, t, remoteName, nil)
		if derr != nil {
			return res, derr
		}
		fixed := 0
		for _, p := range rep.Problems {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if tried[p.ID] {
				continue
			}
			tried[p.ID] = true
			if p.Kind == "corrupt" {
				if err := r.store.Delete(ctx, p.ID); err != nil && !errors.Is(err, objects.ErrNotFound) {
					return res, fmt.Errorf("remove damaged object %s: %w", p.ID, err)
				}
			}
			err := d.object(ctx, p.ID, -1)
			if errors.Is(err, ErrObjectNotFound) {
				err = d.chunked(ctx, p.ID, -1)
			}
			if err != nil {
				res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", p.ID, err))
				continue
			}
			res.Repaired = append(res.Repaired, p.ID)
			fixed++
		}
		if err := d.batch.Sync(ctx); err != nil {
			return res, err
		}
		if fixed == 0 {
			break
		}
		var err error
		if rep, err = r.Fsck(ctx, nil); err != nil && !errors.Is(err, ErrDamaged) {
			return res, err
		}
	}
	return res, nil
}

// maxRepairRounds bounds Repair's check-and-fetch rounds (one per level of
// damaged trees).
const maxRepairRounds = 8
