package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo/remote"
)

// ErrNotFastForward is returned by Push when the remote holds versions or
// alias moves this repository does not have: pull first. With
// StrategyError it comes as a *NotFastForwardError.
var ErrNotFastForward = errors.New("remote has changes this repository does not have")

// NotFastForwardError is the refusal of a push of the artifact Name to the
// remote named Remote that would drop what Reason says the remote has
// (errors.Is(err, ErrNotFastForward)). Pulling Name from Remote first, or
// pushing with StrategyNew, makes it a fast-forward.
type NotFastForwardError struct {
	Remote string // the remote's name
	Name   string // the artifact's name
	Reason string // what the remote has that this repository does not, e.g. "the remote has v2 of ds, which this repository does not"
}

func (e *NotFastForwardError) Error() string { return ErrNotFastForward.Error() + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrNotFastForward) true.
func (e *NotFastForwardError) Unwrap() error { return ErrNotFastForward }

// Strategy says what Push and Pull do when the local repository and the
// remote both gained versions (T9k's conflict strategies).
type Strategy string

const (
	// StrategyDefault is StrategyError for Push and StrategyNew for Pull.
	StrategyDefault Strategy = ""
	// StrategyError refuses: a push that is not a fast-forward, a pull
	// whose versions would collide with local-only ones.
	StrategyError Strategy = "error"
	// StrategyNew keeps both sides: local-only versions whose numbers the
	// remote took are renumbered after the remote's (a push pulls first).
	StrategyNew Strategy = "new"
	// StrategySkip leaves conflicting artifacts (push) or conflicting
	// remote versions (pull) alone and goes on with the rest.
	StrategySkip Strategy = "skip"
	// StrategyReplace makes one side win: a push replaces the remote's
	// ref document with the local versions; a pull deletes local-only
	// versions whose numbers the remote took.
	StrategyReplace Strategy = "replace"
)

// ParseStrategy parses a strategy name ("" is the default).
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(s); st {
	case StrategyDefault, StrategyError, StrategyNew, StrategySkip, StrategyReplace:
		return st, nil
	}
	return "", fmt.Errorf("%w: strategy %q (want error, new, skip or replace)", ErrInvalidArgument, s)
}

// TransferProgress reports a push or pull: objects and bytes moved so far.
// It may be called from several goroutines at once.
type TransferProgress func(objects, bytes int64)

// PushOptions tune Push. A nil *PushOptions is the zero value.
type PushOptions struct {
	Strategy Strategy
	Progress TransferProgress
}

// PushedArtifact says what Push did for one artifact.
type PushedArtifact struct {
	Name     string
	Versions []string // versions sent, "v3"
	UpToDate bool     // the remote already had everything
	Skipped  string   // why it was skipped (StrategySkip)
	Pulled   *Pulled  // what StrategyNew pulled first
	Replaced []string // remote versions dropped (StrategyReplace)
	// RemovedThere lists local versions not sent because they were
	// removed from the remote (RemoveRemote).
	RemovedThere []string
}

// TransferStats counts what a push or pull moved.
type TransferStats struct {
	Objects int64 // objects (and chunk lists) sent or received
	Bytes   int64
}

// PushResult is the outcome of Push.
type PushResult struct {
	Remote    string
	Artifacts []PushedArtifact
	TransferStats
}

// maxCASRetries bounds how often Push re-reads a ref document that another
// pusher moved first.
const maxCASRetries = 16

// Push sends artifacts (all if names is empty) to the remote: first every
// object of their versions that the remote's pack indexes do not list,
// with the run objects of the runs that logged or used them, bundled into
// packs (file contents first, then chunk lists, trees, commits and runs,
// below first, so an object the remote lists always has everything below
// it, and an interrupted push resumes with the packs that did not arrive);
// then it moves each artifact's ref document by compare-and-swap. Files of
// versions that came by Fetch from another remote are brought from there
// first.
//
// A push that would drop versions or alias moves the remote has and this
// repository does not is refused with ErrNotFastForward (pull first),
// unless opts.Strategy says otherwise. When another pusher moves the ref
// document between the read and the swap, Push reads it again and retries
// if the push is still a fast-forward.
func (r *Repo) Push(ctx context.Context, remoteName string, names []string, opts *PushOptions) (PushResult, error) {
	if opts == nil {
		opts = &PushOptions{}
	}
	res := PushResult{Remote: remoteName}
	t, err := r.transport(ctx, remoteName)
	if err != nil {
		return res, err
	}
	if len(names) == 0 {
		arts, err := r.index().Artifacts(ctx)
		if err != nil {
			return res, err
		}
		for _, a := range arts {
			names = append(names, a.Name)
		}
	}
	u, err := r.newUploader(ctx, t, remoteName, opts.Progress)
	if err != nil {
		return res, err
	}
	defer u.abort() // packs still being sent when an error returns early
	var firstErr error
	for _, name := range names {
		if err := refs.ValidateName(name); err != nil {
			return res, err
		}
		pa, err := r.pushArtifact(ctx, t, remoteName, name, u, opts)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("push %s to %s: %w", name, remoteName, err)
			}
			continue
		}
		res.Artifacts = append(res.Artifacts, pa)
	}
	res.Objects, res.Bytes = u.objects.Load(), u.bytes.Load()
	return res, firstErr
}

func (r *Repo) pushArtifact(ctx context.Context, t remote.Transport, remoteName, name string, u *uploader, opts *PushOptions) (PushedArtifact, error) {
	pa := PushedArtifact{Name: name, Versions: []string{}}
	typ, err := r.index().ArtifactType(ctx, name)
	if err != nil {
		return pa, err
	}
	for attempt := 0; ; attempt++ {
		doc, etag, err := getRemoteDoc(ctx, t, name)
		if err != nil {
			return pa, err
		}
		if doc != nil && doc.Type != typ {
			return pa, fmt.Errorf("%w: the remote's %s has type %q, this one %q", refs.ErrTypeMismatch, name, doc.Type, typ)
		}
		local, err := r.localState(ctx, name)
		if err != nil {
			return pa, err
		}
		why := local.fastForward(doc, r.trackedDocs(remoteName, name))
		replace := false
		if why != "" {
			switch opts.Strategy {
			case StrategySkip:
				pa.Skipped = why
				return pa, nil
			case StrategyReplace:
				replace = true
			case StrategyNew:
				if attempt >= maxCASRetries {
					return pa, fmt.Errorf("%w: %s", ErrNotFastForward, why)
				}
				p, err := r.pullArtifact(ctx, t, remoteName, name, &PullOptions{Strategy: StrategyNew})
				if err != nil {
					return pa, err
				}
				pa.Pulled = &p
				continue
			default:
				return pa, &NotFastForwardError{Remote: remoteName, Name: name, Reason: why}
			}
		}
		onRemote := doc.byCommit()
		// Versions removed from the remote (art rm --remote) are never
		// sent back, nor are aliases that point at them here.
		removed := doc.removedCommits()
		var send []refs.Version
		for _, v := range local.versions {
			if _, ok := onRemote[v.Commit]; !ok {
				if _, gone := removed[v.Commit]; gone {
					pa.RemovedThere = append(pa.RemovedThere, refs.VersionString(v.Version))
					continue
				}
				send = append(send, v)
			}
		}
		runs, err := r.runObjectsOf(ctx, local.versions)
		if err != nil {
			return pa, err
		}
		// Version numbers are never reused, not even those of the remote
		// versions a replace drops: the remote's next number never goes down.
		next := local.next
		if doc != nil && doc.NextVersion > next {
			next = doc.NextVersion
		}
		nd := &remoteDoc{Format: remoteDocFormat, Name: name, Type: typ, NextVersion: next,
			Aliases: map[string]int64{}, Runs: map[string]objects.ID{}}
		for a, n := range local.aliases {
			if c, ok := local.commitOf(n); ok {
				if _, gone := removed[c]; gone {
					continue
				}
			}
			nd.Aliases[a] = n
		}
		if doc != nil {
			nd.Removed = append(nd.Removed, doc.Removed...)
		}
		// The retention policy: this repository's if it changed here
		// since the remote was last seen (or the remote has none yet),
		// else the remote's.
		policy, err := r.index().Retention(ctx, name)
		if err != nil {
			return pa, err
		}
		if tracked := r.readTracking(remoteName, name); doc == nil || policy != tracked.retention() {
			nd.Retention = &policy
		} else {
			nd.Retention = doc.Retention
		}
		if doc != nil && !replace {
			for id, o := range doc.Runs {
				nd.Runs[id] = o
			}
			nd.Versions = append(nd.Versions, doc.Versions...)
		}
		if replace && doc != nil {
			mine := map[objects.ID]bool{}
			for _, v := range local.versions {
				mine[v.Commit] = true
			}
			pa.Replaced = nil
			for _, v := range doc.Versions {
				if !mine[v.Commit] {
					pa.Replaced = append(pa.Replaced, refs.VersionString(v.Version))
				}
			}
		}
		have := map[int64]bool{}
		for _, v := range nd.Versions {
			have[v.Version] = true
		}
		for _, v := range nd.Removed {
			have[v.Version] = true
		}
		for _, v := range local.versions {
			if replace || !have[v.Version] {
				if _, ok := onRemote[v.Commit]; ok && !replace {
					continue
				}
				if _, gone := removed[v.Commit]; gone {
					continue
				}
				nd.Versions = append(nd.Versions, remoteVersion{Version: v.Version, Commit: v.Commit, Size: v.Size, Files: v.Files})
			}
		}
		for id, o := range runs {
			nd.Runs[id] = o
		}
		enc, err := nd.encode()
		if err != nil {
			return pa, err
		}
		if doc != nil && !replace {
			if old, err := doc.encode(); err == nil && string(old) == string(enc) {
				pa.UpToDate = true
				r.saveTracking(remoteName, nd)
				return pa, nil
			}
		}
		// Objects first: a version is named on the remote only once
		// everything below it is there. A version that came by `art
		// fetch` from another remote brings its files from there first.
		for _, v := range send {
			if v.Remote == "" || v.Remote == remoteName {
				continue
			}
			entries, err := Version{Version: v, repo: r}.Manifest(ctx)
			if err != nil {
				return pa, err
			}
			if err := r.fetchMissing(ctx, Version{Version: v, repo: r}, entries); err != nil {
				return pa, fmt.Errorf("%s came by fetch from %s and its files could not be brought from there to push them: %w", v.Ref(), v.Remote, err)
			}
		}
		base, err := r.baseTree(ctx, doc)
		if err != nil {
			return pa, err
		}
		u.resetRelied()
		sendAll := func(base objects.ID) error {
			for _, v := range send {
				if err := u.version(ctx, v.Commit, v.Tree, base); err != nil {
					return err
				}
			}
			for id, o := range runs {
				if doc != nil && doc.Runs[id] == o {
					continue // sent before
				}
				if err := u.object(ctx, o); err != nil {
					return err
				}
			}
			return u.flush(ctx)
		}
		if err := sendAll(base); err != nil {
			return pa, err
		}
		// A remote gc may have marked or deleted, since the gc document
		// was read, packs this push relies on: send again what lies there.
		if err := u.checkGC(ctx, false, sendAll); err != nil {
			return pa, err
		}
		checked := time.Now()
		// Never publish a document a reader would refuse.
		if _, err := decodeRemoteDoc(enc, name); err != nil {
			return pa, fmt.Errorf("push %s: the ref document built is invalid (%v); nothing was changed on the remote", name, err)
		}
		// Should this process die between the swap and saveTracking, the
		// next push and pull know the remote may hold nd.
		r.savePendingDoc(remoteName, nd)
		if _, err := t.CompareAndSwap(ctx, remoteRefKey(name), etag, enc); err != nil {
			if errors.Is(err, remote.ErrConflict) && attempt < maxCASRetries {
				continue // someone else pushed meanwhile: look again
			}
			return pa, fmt.Errorf("move the ref document: %w", err)
		}
		if time.Since(checked) >= u.gcDoc.grace()/2 {
			// A swap as slow as half the grace period (a machine
			// suspended mid-push): look again, now that the document
			// names this push's versions, and send again what went.
			if err := u.checkGC(ctx, true, sendAll); err != nil {
				return pa, err
			}
		}
		pa.Versions = pa.Versions[:0]
		for _, v := range send {
			pa.Versions = append(pa.Versions, refs.VersionString(v.Version))
		}
		pa.UpToDate = len(send) == 0
		r.saveTracking(remoteName, nd)
		return pa, nil
	}
}

// baseTree returns the root tree of the newest version doc lists that is
// here too (zero if none): the version whose unchanged subtrees a push
// skips (see uploader.version).
func (r *Repo) baseTree(ctx context.Context, doc *remoteDoc) (objects.ID, error) {
	if doc == nil {
		return objects.ZeroID, nil
	}
	idx := r.index()
	for i := len(doc.Versions) - 1; i >= 0; i-- {
		v, err := idx.ByCommit(ctx, doc.Versions[i].Commit)
		if err == nil {
			return v.Tree, nil
		}
		if !errors.Is(err, refs.ErrNotFound) {
			return objects.ZeroID, err
		}
	}
	return objects.ZeroID, nil
}

// getRemoteDoc reads and validates an artifact's ref document on a remote,
// with its ETag; a missing document is nil and "".
func getRemoteDoc(ctx context.Context, t remote.Transport, name string) (*remoteDoc, string, error) {
	rc, info, err := t.Get(ctx, remoteRefKey(name))
	if errors.Is(err, remote.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read ref document of %s: %w", name, err)
	}
	defer rc.Close()
	if info.Size > maxRemoteDocSize {
		return nil, "", fmt.Errorf("ref document of %s: %w (%d bytes)", name, remote.ErrTooLarge, info.Size)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxRemoteDocSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("read ref document of %s: %w", name, err)
	}
	d, err := decodeRemoteDoc(b, name)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", remote.ErrBadResponse, err)
	}
	return d, info.ETag, nil
}

// localArtifact is what this repository holds of an artifact.
type localArtifact struct {
	versions []refs.Version // ascending
	byCommit map[objects.ID]refs.Version
	aliases  map[string]int64
	deleted  map[int64]bool // numbers below next that no live version has
	next     int64
}

func (r *Repo) localState(ctx context.Context, name string) (*localArtifact, error) {
	idx := r.index()
	vs, err := idx.Versions(ctx, name)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return nil, err
	}
	l := &localArtifact{byCommit: map[objects.ID]refs.Version{}, aliases: map[string]int64{}, deleted: map[int64]bool{}}
	for i := len(vs) - 1; i >= 0; i-- {
		l.versions = append(l.versions, vs[i])
		l.byCommit[vs[i].Commit] = vs[i]
	}
	if err == nil {
		if l.aliases, err = idx.Aliases(ctx, name); err != nil {
			return nil, err
		}
		if l.next, err = idx.NextVersion(ctx, name); err != nil {
			return nil, err
		}
	}
	live := map[int64]bool{}
	for _, v := range l.versions {
		live[v.Version] = true
	}
	// The versions and the aliases are read one after the other: a
	// commit in between may have set an alias on a version not read.
	// Such an alias is left for the next push.
	for a, n := range l.aliases {
		if !live[n] {
			delete(l.aliases, a)
		}
	}
	for n := int64(0); n < l.next; n++ {
		if !live[n] {
			l.deleted[n] = true
		}
	}
	return l, nil
}

// commitOf returns the local commit of version n.
func (l *localArtifact) commitOf(n int64) (objects.ID, bool) {
	for _, v := range l.versions {
		if v.Version == n {
			return v.Commit, true
		}
	}
	return objects.ZeroID, false
}

// fastForward returns "" if replacing the remote document doc with the
// local state loses nothing the remote has, else why not. A remote
// version must be here under the same number (or deleted here); a remote
// alias must point where it does here, or where it pointed when this
// repository last saw the remote (tracked), so that only local moves are
// published.
func (l *localArtifact) fastForward(doc *remoteDoc, tracked []*remoteDoc) string {
	if doc == nil {
		return ""
	}
	var missing []string
	for _, v := range doc.Versions {
		if lv, ok := l.byCommit[v.Commit]; ok && lv.Version == v.Version || l.deleted[v.Version] {
			continue
		}
		missing = append(missing, refs.VersionString(v.Version))
	}
	if len(missing) > 0 {
		return "the remote has " + strings.Join(missing, ", ") + " of " + doc.Name + ", which this repository does not"
	}
	// A number the remote removed is taken there: a local version under
	// it that is not the removed one must be renumbered by a pull first.
	for _, v := range doc.Removed {
		if c, ok := l.commitOf(v.Version); ok && c != v.Commit {
			missing = append(missing, refs.VersionString(v.Version))
		}
	}
	if len(missing) > 0 {
		return "the remote removed " + strings.Join(missing, ", ") + " of " + doc.Name + ", which this repository holds as other versions"
	}
	var moved []string
	for a := range doc.Aliases {
		rc, _ := doc.aliasCommit(a)
		lc, ok := l.aliasCommit(a)
		if ok && lc == rc {
			continue
		}
		ours := false
		for _, td := range tracked {
			if tc, tok := td.aliasCommit(a); tok && tc == rc {
				ours = true // the remote has not moved it since we last saw it: ours is newer
			}
		}
		if !ours {
			moved = append(moved, a)
		}
	}
	if len(moved) > 0 {
		sort.Strings(moved)
		return "the remote moved alias " + strings.Join(moved, ", ") + " of " + doc.Name
	}
	return ""
}

func (l *localArtifact) aliasCommit(a string) (objects.ID, bool) {
	n, ok := l.aliases[a]
	if !ok {
		return objects.ZeroID, false
	}
	return l.commitOf(n)
}

// runObjectsOf returns the run objects (by run ID) of the ended runs that
// logged or used any of vs.
func (r *Repo) runObjectsOf(ctx context.Context, vs []refs.Version) (map[string]objects.ID, error) {
	x := r.lineage()
	out := map[string]objects.ID{}
	for _, v := range vs {
		used, err := x.UsedBy(ctx, v.Commit)
		if err != nil {
			return nil, err
		}
		if by, err := x.LoggedBy(ctx, v.Commit); err == nil {
			used = append(used, by)
		}
		for _, run := range used {
			if !run.Object.IsZero() {
				out[run.ID] = run.Object
			}
		}
	}
	return out, nil
}

// transferWorkers is how many requests a transfer has in flight at once.
const transferWorkers = 16

// packWorkers is how many packs a push sends at once.
const packWorkers = 4

// sem bounds how many requests a transfer has in flight at once.
type sem chan struct{}

func newSem() sem { return make(sem, transferWorkers) }

// acquire takes a slot, or returns ctx's error.
func (s sem) acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s sem) release() { <-s }

// uploader sends a remote the objects it lacks, in packs. It first plans
// (version, object), walking the local graph down to what the remote's
// pack indexes already hold, then sends (flush): the file contents in
// packs sent side by side, then chunk lists, trees, commits and run
// objects in packs sent one after the other, each below-first, so that an
// entry's index is on the remote only once everything it names is.
type uploader struct {
	r      *Repo
	t      remote.Transport
	remote string
	x      *objects.PackIndex
	// planned holds what is planned and not yet in x: data packs are sent
	// while the walk goes on (sending, up to packWorkers at once), and
	// their entries leave planned once x lists them, so planned and data
	// hold at most a few packs' entries, not the version's.
	mu       sync.Mutex
	planned  map[objects.PackKey]struct{}
	data     []objects.PackEntry // blobs and chunks not yet in a pack being sent
	dataSize int64
	sending  *errgroup.Group
	sendCtx  context.Context
	cancel   context.CancelFunc
	meta     []objects.PackEntry // chunk lists, trees, commits, runs: below first
	lists    map[objects.ID][]byte

	objects  atomic.Int64
	bytes    atomic.Int64
	progress TransferProgress

	// The remote gc (see remotegc.go): the gc document as last read, the
	// packs not to rely on (its candidates, and packs found gone), the
	// entries of those packs sent again, and the packs this push relies
	// on (entries it did not send because the remote has them).
	gcDoc  *gcDoc
	gcETag string
	avoid  map[string]bool
	resent map[objects.PackKey]bool
	relied map[string]bool
}

func (r *Repo) newUploader(ctx context.Context, t remote.Transport, remoteName string, progress TransferProgress) (*uploader, error) {
	// The gc document first, then the packs: a pack a gc deleted before
	// this read is not listed; one it may delete later is a candidate.
	gd, etag, _, err := getGCDoc(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", remoteName, err)
	}
	x, err := r.loadRemoteIndex(ctx, t, remoteName)
	if err != nil {
		return nil, err
	}
	u := &uploader{r: r, t: t, remote: remoteName, x: x, progress: progress,
		gcDoc: gd, gcETag: etag, avoid: gd.candidates(), resent: map[objects.PackKey]bool{}, relied: map[string]bool{}}
	u.reset()
	return u, nil
}

// resetRelied forgets the packs relied on so far (a new attempt at an
// artifact relies on what it looks up again).
func (u *uploader) resetRelied() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.relied = map[string]bool{}
}

// maxGCChecks bounds how often one push sends again what a remote gc
// took from under it.
const maxGCChecks = 8

// checkGC reads the remote's gc document again. If it changed since it
// was last read (or always, with force), every pack this push relies on
// is checked: one the document lists as a candidate, or that is gone,
// is avoided from then on, and resend sends again, walking every
// version in full, what the push relied on there. It repeats until a
// read finds the document unchanged.
func (u *uploader) checkGC(ctx context.Context, force bool, resend func(base objects.ID) error) error {
	for range maxGCChecks {
		d, etag, _, err := getGCDoc(ctx, u.t)
		if err != nil {
			return fmt.Errorf("remote %s: %w", u.remote, err)
		}
		changed := etag != u.gcETag
		if !changed && !force {
			return nil
		}
		force = false
		u.gcDoc, u.gcETag = d, etag
		u.mu.Lock()
		relied := slices.Collect(maps.Keys(u.relied))
		u.mu.Unlock()
		cands := d.candidates()
		gone, err := u.gonePacks(ctx, relied)
		if err != nil {
			return err
		}
		var bad []string
		for _, p := range relied {
			if cands[p] || gone[p] {
				bad = append(bad, p)
			}
		}
		if len(bad) == 0 {
			continue // read once more: unchanged means settled
		}
		u.mu.Lock()
		for _, p := range bad {
			u.avoid[p] = true
		}
		u.mu.Unlock()
		if err := resend(objects.ZeroID); err != nil {
			return err
		}
	}
	return fmt.Errorf("remote %s: %w: its gc document kept changing during the push; push again", u.remote, ErrGCRaced)
}

// gonePacks returns which of the packs are no longer on the remote: a
// Stat each, or one listing for many.
func (u *uploader) gonePacks(ctx context.Context, packs []string) (map[string]bool, error) {
	gone := map[string]bool{}
	if len(packs) <= 64 {
		for _, p := range packs {
			if _, err := u.t.Stat(ctx, packKeyOf(p)); errors.Is(err, remote.ErrNotFound) {
				gone[p] = true
			} else if err != nil {
				return nil, fmt.Errorf("remote %s: %w", u.remote, err)
			}
		}
		return gone, nil
	}
	listed := map[string]bool{}
	err := u.t.List(ctx, remotePackDir, func(i remote.Info) error {
		if name, ok := remotePackName(i.Key, objects.PackSuffix); ok {
			listed[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs on remote %s: %w", u.remote, err)
	}
	for _, p := range packs {
		if !listed[p] {
			gone[p] = true
		}
	}
	return gone, nil
}

// has reports whether the remote holds k where this push may rely on it:
// in a pack not to avoid (recording the pack as relied on), or sent again
// by this push.
func (u *uploader) has(k objects.PackKey) bool {
	loc, ok := u.x.Lookup(k)
	if !ok {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.avoid[loc.Pack] {
		return u.resent[k]
	}
	u.relied[loc.Pack] = true
	return true
}

func (u *uploader) reset() {
	u.planned = map[objects.PackKey]struct{}{}
	u.data, u.dataSize, u.meta = nil, 0, nil
	u.sending, u.sendCtx, u.cancel = nil, nil, nil
	u.lists = map[objects.ID][]byte{}
}

// abort stops the packs being sent, if any, and waits for them.
func (u *uploader) abort() {
	if u.sending != nil {
		u.cancel()
		u.sending.Wait()
		u.reset()
	}
}

// isPlanned reports whether k is planned and not yet listed by x.
func (u *uploader) isPlanned(k objects.PackKey) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.planned[k]
	return ok
}

// needs reports whether k is neither on the remote (where this push may
// rely on it) nor planned.
func (u *uploader) needs(k objects.PackKey) bool {
	return !u.isPlanned(k) && !u.has(k)
}

// plan adds k to the metadata sent last, in order.
func (u *uploader) plan(to *[]objects.PackEntry, k objects.PackKey, size int64) {
	loc, inPack := u.x.Lookup(k)
	u.mu.Lock()
	u.planned[k] = struct{}{}
	if inPack && u.avoid[loc.Pack] {
		u.resent[k] = true // once sent, the new copy is the one relied on
	}
	u.mu.Unlock()
	*to = append(*to, objects.PackEntry{PackKey: k, Size: size})
}

// planData adds k to the file contents. A pack that would grow past
// packTarget bytes or objects.PackEntriesTarget entries is sent first, in the
// background, while the walk goes on; an error of the sending surfaces at
// flush.
func (u *uploader) planData(ctx context.Context, k objects.PackKey, size int64) error {
	if u.sendCtx != nil && u.sendCtx.Err() != nil { // a pack failed: stop planning
		if err := u.sending.Wait(); err != nil {
			return err
		}
		return ctx.Err()
	}
	if len(u.data) > 0 && (u.dataSize+size > packTarget || len(u.data) >= objects.PackEntriesTarget) {
		u.sendData(ctx)
	}
	u.plan(&u.data, k, size)
	u.dataSize += size
	return nil
}

// sendData starts sending the file contents planned so far as one pack.
func (u *uploader) sendData(ctx context.Context) {
	if len(u.data) == 0 {
		return
	}
	if u.sending == nil {
		var sctx context.Context
		sctx, u.cancel = context.WithCancel(ctx)
		u.sending, u.sendCtx = errgroup.WithContext(sctx)
		u.sending.SetLimit(packWorkers)
	}
	es := u.data
	u.data, u.dataSize = nil, 0
	u.sending.Go(func() error { return u.sendPack(u.sendCtx, es) })
}

// version plans a commit and everything below it that the remote lacks:
// each tree after everything below it, so the remote never holds a tree
// whose entries it lacks. A subtree is skipped whole only where base (the
// root tree of a version the remote's ref document lists, zero for none)
// has the same tree at the same path, and the remote holds it: a listed
// version is complete, and a remote gc deletes nothing below a tree it
// keeps. Anywhere else every object is looked up, so that a tree left on
// the remote by an interrupted push (or a removed version) is never taken
// for its content.
func (u *uploader) version(ctx context.Context, commit, tree, base objects.ID) error {
	baseAt := map[string]objects.ID{"": base}
	var baseDir func(p string) (objects.ID, error)
	baseDir = func(p string) (objects.ID, error) {
		if id, ok := baseAt[p]; ok {
			return id, nil
		}
		parent, name := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			parent, name = p[:i], p[i+1:]
		}
		pid, err := baseDir(parent)
		if err != nil || pid.IsZero() {
			return objects.ZeroID, err
		}
		e, ok, err := objects.FindEntry(ctx, u.r.store, pid, name)
		if err != nil {
			return objects.ZeroID, err
		}
		var id objects.ID
		if ok && e.Kind == objects.KindDir {
			id = e.ID
		}
		baseAt[p] = id
		return id, nil
	}
	w := walk.Walker{
		Source: walk.Store(u.r.store),
		Enter: func(_ context.Context, d walk.Dir) error {
			if d.IndexDepth > 0 || base.IsZero() {
				return nil
			}
			if b, err := baseDir(d.Path); err != nil {
				return err
			} else if b == d.ID && !u.isPlanned(objects.PackObjectKey(d.ID)) && u.has(objects.PackObjectKey(d.ID)) {
				return walk.SkipDir
			}
			return nil
		},
		Entry: func(ctx context.Context, e walk.Entry) error {
			if e.Kind != objects.KindFile {
				return nil
			}
			return u.blob(ctx, e.ID)
		},
		Leave: func(ctx context.Context, d walk.Dir) error { return u.object(ctx, d.ID) },
	}
	if err := w.Walk(ctx, tree, ""); err != nil {
		return err
	}
	return u.object(ctx, commit)
}

// blob plans a file's content: its chunks, then its chunk list, if it is
// stored as chunks, else the blob. A chunk list the remote holds is
// relied on with its chunks, each looked up.
func (u *uploader) blob(ctx context.Context, id objects.ID) error {
	whole := objects.PackObjectKey(id)
	list := objects.PackListKey(id)
	if u.isPlanned(whole) || u.isPlanned(list) || u.has(whole) {
		return nil
	}
	info, err := u.r.store.Stat(ctx, id)
	if err != nil {
		return err
	}
	if !info.Chunked {
		if u.has(list) {
			// The remote holds it as chunks, this repository whole.
			return u.remoteChunks(ctx, id)
		}
		return u.planData(ctx, whole, info.Size)
	}
	l, err := u.r.store.ReadChunkList(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range l.Chunks {
		if k := objects.PackObjectKey(c.ID); u.needs(k) {
			if err := u.planData(ctx, k, c.Size); err != nil {
				return err
			}
		}
	}
	if u.has(list) {
		return nil
	}
	enc, err := l.Encode()
	if err != nil {
		return err
	}
	u.lists[id] = enc
	u.plan(&u.meta, list, int64(len(enc)))
	return nil
}

// remoteChunks looks up the chunks of the remote's chunk list of the blob
// id, which is stored whole here: a chunk the remote lacks (or that lies
// where this push may not rely on it) means the blob is sent whole.
func (u *uploader) remoteChunks(ctx context.Context, id objects.ID) error {
	d := &downloader{r: u.r, t: u.t, remote: u.remote, sem: newSem()}
	d.xp.Store(u.x)
	l, err := d.chunkList(ctx, id)
	if err != nil {
		return err
	}
	if l == nil {
		return fmt.Errorf("%w: the chunk list of %s, which remote %s lists", ErrObjectNotFound, id.Short(), u.remote)
	}
	for _, c := range l.Chunks {
		if !u.has(objects.PackObjectKey(c.ID)) {
			info, err := u.r.store.Stat(ctx, id)
			if err != nil {
				return err
			}
			return u.planData(ctx, objects.PackObjectKey(id), info.Size)
		}
	}
	return nil
}

// object plans one metadata object (tree, commit, run) unless the remote
// has it.
func (u *uploader) object(ctx context.Context, id objects.ID) error {
	k := objects.PackObjectKey(id)
	if !u.needs(k) {
		return nil
	}
	info, err := u.r.store.Stat(ctx, id)
	if err != nil {
		return err
	}
	u.plan(&u.meta, k, info.Size)
	return nil
}

// flush sends what was planned: the rest of the file contents, waiting
// for every data pack (sent side by side), then the metadata packs in
// order, so that the remote lists no tree before what it names.
func (u *uploader) flush(ctx context.Context) error {
	defer u.reset()
	u.sendData(ctx)
	if u.sending != nil {
		err := u.sending.Wait()
		u.cancel()
		if err != nil {
			return err
		}
	}
	for _, es := range splitPacks(u.meta) {
		if err := u.sendPack(ctx, es); err != nil {
			return err
		}
	}
	return nil
}

// splitPacks cuts es, in order, into packs of about packTarget bytes.
func splitPacks(es []objects.PackEntry) [][]objects.PackEntry {
	var out [][]objects.PackEntry
	start, size := 0, int64(0)
	for i, e := range es {
		if i > start && (size+e.Size > packTarget || i-start >= objects.PackEntriesTarget) {
			out = append(out, es[start:i])
			start, size = i, 0
		}
		size += e.Size
	}
	if start < len(es) {
		out = append(out, es[start:])
	}
	return out
}

// sendPack sends one pack, then its index.
func (u *uploader) sendPack(ctx context.Context, es []objects.PackEntry) error {
	hdr := objects.EncodePackHeader(es)
	name := objects.Hash(hdr).String()
	size := objects.PackSize(len(hdr), es)
	pr := objects.NewPackReader(hdr, es, func(e objects.PackEntry) (io.ReadCloser, error) {
		if e.Kind == objects.PackList {
			return io.NopCloser(bytes.NewReader(u.lists[e.ID])), nil
		}
		return u.r.store.Open(ctx, e.ID)
	}, u.count)
	err := u.t.PutIfAbsent(ctx, packKeyOf(name), pr, size)
	pr.Close()
	if err != nil && !errors.Is(err, remote.ErrExists) {
		return fmt.Errorf("send pack %s (%d objects, %d bytes): %w", shortName(name), len(es), size, err)
	}
	err = u.t.PutIfAbsent(ctx, packIndexKey(name), bytes.NewReader(hdr), int64(len(hdr)))
	if err != nil && !errors.Is(err, remote.ErrExists) {
		return fmt.Errorf("send pack index %s: %w", shortName(name), err)
	}
	u.x.Add(name, int64(len(hdr)), es)
	u.r.cachePackIndex(u.remote, name, hdr)
	u.mu.Lock()
	for _, e := range es {
		delete(u.planned, e.PackKey) // x lists it now
	}
	// The push relies on its own packs too: one older than the grace
	// period at a mark (a push that long) may be a candidate.
	u.relied[name] = true
	u.mu.Unlock()
	return nil
}

// count records one entry sent.
func (u *uploader) count(size int64) {
	n := u.objects.Add(1)
	b := u.bytes.Add(size)
	if u.progress != nil {
		u.progress(n, b)
	}
}
