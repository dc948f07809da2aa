package repo

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/worktree"
)

// checkoutBatch is how many paths a streaming checkout plans and carries
// out at once.
const checkoutBatch = 4096

// checkoutTouchedMax is how many paths with something to do the first
// pass of a streaming checkout remembers for the second; past it, the
// second plans every path again. A fixed bound (about 6 MiB of paths), a
// variable for the test of flat memory, which lowers it.
var checkoutTouchedMax = 1 << 16

// A streaming checkout (downloadStream) holds a batch of paths at a time,
// never the version's manifest, the directory's whole disk state or its
// whole record. It makes two passes over the paths of the version, the
// checkout record and the pending record, merged in path order:
//
//  1. Decide: each batch is scanned and planned (repo/worktree), writing
//     nothing. A conflict anywhere refuses the checkout before anything is
//     written, as the whole-version plan does; the pending record (what
//     each file is about to hold) is written as the pass goes and published
//     at its end, before anything else is written.
//  2. Carry out: the paths of each batch that the first pass found
//     something to do at (up to checkoutTouchedMax of them; past it,
//     every path) are scanned and planned again and run, and the new
//     checkout record is written as batches finish (the old records of
//     paths left as they were, not reached, or out of scope, copied
//     through), then published. A file changed between the passes at a
//     path with nothing to do is left alone, as it would be if changed
//     just after the checkout.
//
// A plan that must clear something in the way (a file where the version
// has a directory, or the reverse, a link, a special file) can depend on
// paths in other batches, so the first pass gives up on meeting one and
// the whole-version plan runs instead: rare, and exactly as before.

// errFallback: the streaming checkout gives way to the whole-version plan.
var errFallback = errors.New("checkout: clears need the whole plan")

// errNoPending: the pending record would not change, so it is not written.
var errNoPending = errors.New("checkout: pending record unchanged")

// coItem is one path of a streaming checkout: what the version has there
// (in scope), what the checkout record and the pending record say.
type coItem struct {
	path string
	want *worktree.Entry
	ref  *ManifestEntry // a file:// reference's manifest entry
	rec  *worktree.FileState
	pend []objects.ID
	// through: out of scope, only carried into the new record
	through bool
}

// coStream is the state of one streaming checkout.
type coStream struct {
	v      Version
	root   string
	scope  string
	force  bool
	rec    *worktree.Record
	wanted int // the version's entries in scope, references included
	refs   int // references to remote URIs in scope
	// hashes are those the first pass computed, for the second
	hashes worktree.HashCache
}

// items yields the merged paths in path order.
func (c *coStream) items(ctx context.Context) iter.Seq2[coItem, error] {
	return func(yield func(coItem, error) bool) {
		var verr, rerr error
		vnext, vstop := iter.Pull(func(y func(ManifestEntry) bool) {
			verr = c.v.WalkManifest(ctx, func(e ManifestEntry) error {
				if !y(e) {
					return errStopWalk
				}
				return nil
			})
		})
		defer vstop()
		type recEntry struct {
			p string
			f worktree.FileState
		}
		rnext, rstop := iter.Pull(func(y func(recEntry) bool) {
			rerr = c.rec.Files(func(p string, f worktree.FileState) error {
				if !y(recEntry{p, f}) {
					return errStopWalk
				}
				return nil
			})
		})
		defer rstop()
		pend := worktree.SortedPending(c.rec.Pending)
		ve, vok := vnext()
		re, rok := rnext()
		c.wanted, c.refs = 0, 0
		for vok || rok || len(pend) > 0 {
			p := ""
			for _, cand := range []struct {
				ok bool
				p  string
			}{{vok, ve.Path}, {rok, re.p}, {len(pend) > 0, first(pend)}} {
				if cand.ok && (p == "" || cand.p < p) {
					p = cand.p
				}
			}
			it := coItem{path: p, through: !worktree.InScope(p, c.scope)}
			if vok && ve.Path == p {
				if err := checkManifestPath(c.v, ve.Path); err != nil {
					yield(coItem{}, err)
					return
				}
				if !it.through {
					c.wanted++
					switch {
					case ve.IsRef() && !isFileURI(ve.Ref):
						c.refs++
					default:
						e := ve
						it.want = &worktree.Entry{Path: e.Path, ID: entryID(e), Size: e.Size, Exec: e.Exec}
						if e.IsRef() {
							it.ref = &e
						}
					}
				}
				ve, vok = vnext()
			}
			if rok && re.p == p {
				f := re.f
				it.rec = &f
				re, rok = rnext()
			}
			if len(pend) > 0 && pend[0] == p {
				it.pend = c.rec.Pending[p]
				pend = pend[1:]
			}
			if !yield(it, nil) {
				return
			}
		}
		vstop()
		rstop()
		for _, err := range []error{verr, rerr} {
			if err != nil && !errors.Is(err, errStopWalk) {
				yield(coItem{}, err)
				return
			}
		}
	}
}

var errStopWalk = errors.New("stop")

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// checkManifestPath checks again, with the one validator, a path the
// decoder already held to the rules, before anything is written there.
func checkManifestPath(v Version, p string) error {
	if c, err := objects.CleanPath(p); err != nil || c != p {
		if err == nil {
			err = fmt.Errorf("%w: %q is not a clean path", objects.ErrInvalidPath, p)
		}
		return fmt.Errorf("%w: %s: %w", objects.ErrCorrupt, v.Ref(), err)
	}
	return nil
}

// batches yields the merged paths in batches of checkoutBatch.
func (c *coStream) batches(ctx context.Context) iter.Seq2[[]coItem, error] {
	return func(yield func([]coItem, error) bool) {
		var b []coItem
		for it, err := range c.items(ctx) {
			if err != nil {
				yield(nil, err)
				return
			}
			b = append(b, it)
			if len(b) == checkoutBatch {
				if !yield(b, nil) {
					return
				}
				b = nil
			}
		}
		if len(b) > 0 {
			yield(b, nil)
		}
	}
}

// plan scans and plans the paths of b in scope.
func (c *coStream) plan(ctx context.Context, b []coItem) (worktree.Plan, map[string]ManifestEntry, error) {
	st := &worktree.State{Dir: c.rec.Dir, Saved: c.rec.Saved, Files: map[string]worktree.FileState{},
		Pending: map[string][]objects.ID{}}
	var want []worktree.Entry
	refs := map[string]ManifestEntry{}
	for _, it := range b {
		if it.through {
			continue
		}
		if it.rec != nil {
			st.Files[it.path] = *it.rec
		}
		if len(it.pend) > 0 {
			st.Pending[it.path] = it.pend
		}
		if it.want != nil {
			want = append(want, *it.want)
			if it.ref != nil {
				refs[it.path] = *it.ref
			}
		}
	}
	old := worktree.Removals(want, st, c.scope)
	disk, err := worktree.ScanCached(ctx, c.v.repo.fs, c.root, want, old, st, &c.hashes)
	if err != nil {
		return worktree.Plan{}, nil, err
	}
	return worktree.NewPlan(worktree.Input{Want: want, Scope: c.scope, Disk: disk, State: st, Force: c.force}), refs, nil
}

// downloadStream is Version.Download as a streaming checkout (see
// above). ok is false when it gave way to the whole-version plan, having
// changed nothing.
func (v Version) downloadStream(ctx context.Context, root, scope string, opts *CheckoutOptions) (res CheckoutResult, ok bool, err error) {
	r := v.repo
	res = CheckoutResult{Version: v, Dir: root}
	if err := v.fetchMissingStream(ctx, scope); err != nil {
		return res, true, err
	}
	rec, err := r.records().Open(root)
	if err != nil {
		return res, true, err
	}
	c := &coStream{v: v, root: root, scope: scope, force: opts.Force, rec: rec}

	// Pass 1: decide, and write the pending record.
	var conflicts []string
	nConflicts := 0
	var total int64
	changed := false
	// work: anything for the second pass to do. A re-checkout whose every
	// file the record vouches for by its stat changes nothing, not even
	// the record, and is done after the first pass.
	work := len(rec.Pending) > 0 || rec.Name != v.Name || rec.Version != v.Version.Version
	// racy: files the record has as they are, but written too near its
	// saving to be vouched for by their stats (worktree.Settled), which
	// the scan hashed.
	skipped, racy := 0, 0
	// touched: the paths the first pass found something to do at, which
	// the second pass plans again; the others it leaves as they are and
	// records as they were, so that a switch between versions that share
	// most files looks at most of them once. Nil past checkoutTouchedMax:
	// the second pass plans every path.
	touched := map[string]bool{}
	perr := r.records().SavePendingStream(root, func(emit func(string, []objects.ID) error) error {
		for b, err := range c.batches(ctx) {
			if err != nil {
				return err
			}
			p, _, err := c.plan(ctx, b)
			if err != nil {
				return err
			}
			recs := map[string]worktree.FileState{}
			for _, it := range b {
				if it.rec != nil {
					recs[it.path] = *it.rec
				}
			}
			writes := map[string]objects.ID{}
			for _, a := range p.Actions {
				if a.Clear != "" {
					return errFallback
				}
				if a.Kind == worktree.Write {
					writes[a.Path] = a.Entry.ID
					total += a.Entry.Size
				}
				switch rec, ok := recs[a.Path]; {
				case a.Kind == worktree.Skip && a.Why == worktree.WhyUnchanged:
					skipped++
				case a.Kind == worktree.Skip && ok && rec == a.Record:
					skipped++
					racy++
				default:
					work = true
					if touched != nil {
						touched[a.Path] = true
						if len(touched) > checkoutTouchedMax {
							touched = nil
						}
					}
				}
			}
			for _, cf := range p.Conflicts {
				nConflicts++
				if len(conflicts) < 10 {
					conflicts = append(conflicts, cf.String())
				}
			}
			if nConflicts > 0 {
				continue // go on counting them; nothing is written
			}
			for _, it := range b {
				ids := it.pend
				if id, w := writes[it.path]; w && !slices.Contains(ids, id) {
					ids = append(slices.Clone(ids), id)
					changed = true
				}
				if len(ids) > 0 {
					if err := emit(it.path, ids); err != nil {
						return err
					}
				}
			}
		}
		switch {
		case scope != "" && c.wanted == 0:
			return fmt.Errorf("%w: %s has no file or directory %q", ErrNotFound, v.Ref(), scope)
		case nConflicts > 0:
			more := ""
			if nConflicts > len(conflicts) {
				more = fmt.Sprintf(" and %d more", nConflicts-len(conflicts))
			}
			return fmt.Errorf("%w in %s: %s%s", ErrLocalChanges, root, strings.Join(conflicts, ", "), more)
		case !changed:
			return errNoPending
		}
		return nil
	})
	switch {
	case errors.Is(perr, errFallback):
		return res, false, nil
	case errors.Is(perr, errNoPending):
	case perr != nil:
		return res, true, perr
	}
	res.Files, res.Refs = c.wanted-c.refs, c.refs
	if !work {
		res.Skipped = skipped
		if racy > 0 {
			// Saved again as it is, the record vouches for those files by
			// their stats from now on: they were hashed after they were
			// last written, and a write from now on changes their times.
			hdr := &worktree.State{Dir: rec.Dir, Name: rec.Name, Version: rec.Version}
			err := r.records().SaveStream(root, hdr, func(emit func(string, worktree.FileState) error) error {
				return rec.Files(emit)
			})
			return res, true, err
		}
		return res, true, nil
	}

	// Pass 2: carry out, and write the new record.
	if err := r.fs.MkdirAll(root, 0o755); err != nil {
		return res, true, fmt.Errorf("create %s: %w", root, err)
	}
	// Directories the checkout creates are staged (worktree.Executor.Stage)
	// and published once the batches have passed them.
	x := &worktree.Executor{Fs: r.fs, Root: root, Now: r.now, Stage: true}
	if opts.Progress != nil {
		x.Progress = func(done, _ int64) { opts.Progress(done, total) }
	}
	var execErr error
	hdr := &worktree.State{Dir: rec.Dir, Name: v.Name, Version: v.Version.Version}
	serr := r.records().SaveStream(root, hdr, func(emit func(string, worktree.FileState) error) error {
		for b, err := range c.batches(ctx) {
			if err != nil {
				return err
			}
			var done worktree.Result
			sub := b
			if touched != nil {
				sub = nil
				for _, it := range b {
					switch {
					case touched[it.path]:
						sub = append(sub, it)
					case !it.through && it.want != nil:
						res.Skipped++ // as the first pass found it
					}
				}
			}
			if execErr == nil && len(sub) > 0 {
				p, refs, err := c.plan(ctx, sub)
				if err == nil {
					x.Source = entrySource{r: r, refs: refs}
					done, err = x.Run(ctx, p)
					res.Written += done.Written
					res.Skipped += done.Skipped
					res.Removed += done.Removed
				}
				execErr = err
			}
			if execErr == nil {
				execErr = x.Publish(b[len(b)-1].path)
			}
			dropped := map[string]bool{}
			for _, p := range done.Dropped {
				dropped[p] = true
			}
			for _, it := range b {
				f, wrote := done.Files[it.path]
				switch {
				case !it.through && wrote:
					err = emit(it.path, f)
				case !it.through && dropped[it.path]:
				case it.rec != nil:
					err = emit(it.path, *it.rec) // out of scope, or not reached
				}
				if err != nil {
					return err
				}
			}
		}
		// What was staged is complete, even after a failure: published
		// before the record naming it.
		if err := x.Publish(""); err != nil && execErr == nil {
			execErr = err
		}
		return nil
	})
	if err := x.Publish(""); err != nil && execErr == nil { // if SaveStream stopped early
		execErr = err
	}
	if execErr != nil {
		return res, true, execErr
	}
	if serr != nil {
		return res, true, serr
	}
	// All went well: the paths in scope are recorded as they are now.
	pending := map[string][]objects.ID{}
	for p, ids := range rec.Pending {
		if !worktree.InScope(p, scope) {
			pending[p] = ids
		}
	}
	if len(pending) != len(rec.Pending) || changed {
		if err := r.records().SavePending(root, pending); err != nil {
			return res, true, err
		}
	}
	return res, true, nil
}

// fetchMissingStream brings, for a version that came by `art fetch`, the
// files in scope it lacks, a batch at a time.
func (v Version) fetchMissingStream(ctx context.Context, scope string) error {
	if v.Remote == "" {
		return nil
	}
	var batch []ManifestEntry
	err := v.WalkManifest(ctx, func(e ManifestEntry) error {
		if !worktree.InScope(e.Path, scope) {
			return nil
		}
		batch = append(batch, e)
		if len(batch) < checkoutBatch {
			return nil
		}
		err := v.repo.fetchMissing(ctx, v, batch)
		batch = batch[:0]
		return err
	})
	if err != nil {
		return err
	}
	return v.repo.fetchMissing(ctx, v, batch)
}
