package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo/remote"
)

// Remote gc: see "Remote gc" in docs/architecture.md for the protocol and
// why no interleaving with pushers loses a pushed version.

// gcDocKey is the remote gc's document; gcClockKey is the key gc writes
// and reads back to learn the remote's time.
const (
	gcDocKey   = "gc/state.json"
	gcClockKey = "gc/clock"
)

// gcDocFormat is the format of the remote gc document.
const gcDocFormat = 1

// DefaultRemoteGrace is the grace period of a remote gc: longer than any
// push. MinRemoteGrace is the shortest it accepts, and what a pusher
// assumes of a gc that has not run yet.
const (
	DefaultRemoteGrace = 24 * time.Hour
	MinRemoteGrace     = time.Second
)

// gcDoc is gc/state.json on a remote, replaced only by compare-and-swap.
type gcDoc struct {
	Format     int       `json:"format"`
	Generation int64     `json:"generation"`
	Phase      string    `json:"phase"` // gcIdle or gcMarked
	MarkedAt   time.Time `json:"marked_at"`
	GraceNanos int64     `json:"grace_ns"`   // the grace period of the gc that marked
	Candidates []string  `json:"candidates"` // pack names, sorted
	// Rewrites lists the candidates that still held something that
	// stays, copied into a new pack: the old one goes once the new one
	// holds all of it that stays.
	Rewrites []gcRewrite `json:"rewrites"`
}

// gcRewrite is a pack rewritten by a mark.
type gcRewrite struct {
	Pack string `json:"pack"` // the old pack, a candidate
	Into string `json:"into"` // the new pack, with what of it stays
}

// maxRewrite bounds the bytes a mark copies out of one mostly dead pack
// (it holds them in memory): a pack keeping more is left as it is.
const maxRewrite = 64 << 20

const (
	gcIdle   = "idle"
	gcMarked = "marked"
)

// maxGCDocSize bounds the gc document read from a remote.
const maxGCDocSize = 64 << 20

// grace is the document's grace period, at least MinRemoteGrace.
func (d *gcDoc) grace() time.Duration {
	if d == nil || time.Duration(d.GraceNanos) < MinRemoteGrace {
		return MinRemoteGrace
	}
	return time.Duration(d.GraceNanos)
}

// candidates returns the packs a pusher must not rely on: those of a
// marked document.
func (d *gcDoc) candidates() map[string]bool {
	m := map[string]bool{}
	if d != nil && d.Phase == gcMarked {
		for _, p := range d.Candidates {
			m[p] = true
		}
	}
	return m
}

func (d *gcDoc) encode() ([]byte, error) {
	if d.Candidates == nil {
		d.Candidates = []string{}
	}
	if d.Rewrites == nil {
		d.Rewrites = []gcRewrite{}
	}
	sort.Strings(d.Candidates)
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeGCDoc parses and checks a gc document read from a remote.
func decodeGCDoc(b []byte) (*gcDoc, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d gcDoc
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid: %v", remote.ErrBadResponse, gcDocKey, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s has trailing data", remote.ErrBadResponse, gcDocKey)
	}
	if d.Format != gcDocFormat {
		return nil, fmt.Errorf("%s has format %d (this art reads %d; upgrade art)", gcDocKey, d.Format, gcDocFormat)
	}
	if d.Phase != gcIdle && d.Phase != gcMarked || d.Generation < 0 || d.GraceNanos < 0 {
		return nil, fmt.Errorf("%w: %s: phase %q, generation %d, grace %d", remote.ErrBadResponse, gcDocKey, d.Phase, d.Generation, d.GraceNanos)
	}
	cands := map[string]bool{}
	for _, p := range d.Candidates {
		cands[p] = true
	}
	names := slices.Clone(d.Candidates)
	for _, w := range d.Rewrites {
		if !cands[w.Pack] || cands[w.Into] {
			return nil, fmt.Errorf("%w: %s rewrites %s, not a candidate, into %s", remote.ErrBadResponse, gcDocKey, shortName(w.Pack), shortName(w.Into))
		}
		names = append(names, w.Pack, w.Into)
	}
	for _, p := range names {
		if !objects.IsIDPrefix(p) || len(p) != 2*len(objects.ZeroID) {
			if len(p) > 80 {
				p = p[:80] + "…"
			}
			return nil, fmt.Errorf("%w: %s names pack %q", remote.ErrBadResponse, gcDocKey, p)
		}
	}
	return &d, nil
}

// getGCDoc reads the remote's gc document, its ETag and its time: nil,
// "" and zero if there is none (no gc ever ran).
func getGCDoc(ctx context.Context, t remote.Transport) (*gcDoc, string, time.Time, error) {
	rc, info, err := t.Get(ctx, gcDocKey)
	if errors.Is(err, remote.ErrNotFound) {
		return nil, "", time.Time{}, nil
	}
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("read %s: %w", gcDocKey, err)
	}
	defer rc.Close()
	b, err := readSized(rc, info.Size, maxGCDocSize)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("read %s: %w", gcDocKey, err)
	}
	if int64(len(b)) > maxGCDocSize {
		return nil, "", time.Time{}, fmt.Errorf("%w: %s is larger than %d bytes", remote.ErrTooLarge, gcDocKey, maxGCDocSize)
	}
	d, err := decodeGCDoc(b)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	if info.ModTime.IsZero() {
		return nil, "", time.Time{}, fmt.Errorf("%s: %w", gcDocKey, ErrNoRemoteTime)
	}
	return d, info.ETag, info.ModTime, nil
}

// remoteClockSlack is added to every wait and age gc measures in remote
// time: remotes stamp keys to the second (S3's LastModified), so a time
// read back may be up to a second before the write.
const remoteClockSlack = time.Second

// remoteNow returns the remote's time: the modification time of a key gc
// writes and reads back. gc compares only remote times with each other.
func remoteNow(ctx context.Context, t remote.Transport) (time.Time, error) {
	for attempt := 0; ; attempt++ {
		etag := ""
		if info, err := t.Stat(ctx, gcClockKey); err == nil {
			etag = info.ETag
		} else if !errors.Is(err, remote.ErrNotFound) {
			return time.Time{}, fmt.Errorf("read the remote's clock: %w", err)
		}
		var nonce [16]byte
		rand.Read(nonce[:])
		if _, err := t.CompareAndSwap(ctx, gcClockKey, etag, []byte(hex.EncodeToString(nonce[:])+"\n")); err != nil {
			if errors.Is(err, remote.ErrConflict) && attempt < maxCASRetries {
				continue
			}
			return time.Time{}, fmt.Errorf("write the remote's clock: %w", err)
		}
		info, err := t.Stat(ctx, gcClockKey)
		if err != nil {
			return time.Time{}, fmt.Errorf("read the remote's clock: %w", err)
		}
		if info.ModTime.IsZero() {
			return time.Time{}, ErrNoRemoteTime
		}
		return info.ModTime, nil
	}
}

// ErrNoRemoteTime is returned by RemoteGC for a remote that does not say
// when its keys were written: gc cannot tell a push in progress from an
// abandoned one there.
var ErrNoRemoteTime = errors.New("the remote does not report when keys were written")

// ErrGCRaced is returned by RemoteGC when another gc changed the remote's
// gc document while this one ran: nothing of this run was deleted; run
// it again.
var ErrGCRaced = errors.New("another gc changed the remote's gc document meanwhile")

// RemoteGCOptions tunes RemoteGC.
type RemoteGCOptions struct {
	// Grace is how old an unreferenced pack must be before it becomes a
	// candidate, and how long candidates wait before they are deleted:
	// longer than any push (0: DefaultRemoteGrace). Below MinRemoteGrace
	// is refused.
	Grace time.Duration
	// DryRun marks and reports, and writes and deletes nothing.
	DryRun bool
}

// RemoteGCReport is what RemoteGC found and did.
type RemoteGCReport struct {
	Remote string
	// Step is what this run did: "marked" (candidates recorded; the
	// sweep is due after the grace period), "waiting" (marked before,
	// the sweep not due yet), "swept" (candidates deleted), or "dry-run".
	Step string
	// SweepIn is how long until the sweep is due (marked, waiting).
	SweepIn time.Duration

	Versions    int   // versions the ref documents list
	LiveObjects int   // objects reachable from them
	Packs       int   // packs on the remote
	StoredBytes int64 // bytes of every pack and index
	LiveBytes   int64 // bytes of the live entries, and of the headers and indexes of their packs
	// Candidates and CandidateBytes: the packs entirely dead and older
	// than the grace period (or without an index: an interrupted push),
	// recorded by this mark or, for a sweep, the previous one.
	Candidates     int
	CandidateBytes int64
	// Expired lists the versions the ref documents' retention policies
	// let go, removed from them before the mark ("ds:v3"; listed only on
	// a dry run).
	Expired []string
	// Rewritten: of the candidates, the packs mostly dead whose entries
	// that stay were copied into a new pack.
	Rewritten int
	// Deleted and FreedBytes: the packs the sweep deleted (a candidate
	// that became live again stays).
	Deleted    int
	FreedBytes int64
}

// RemoteGC reclaims space on the remote remoteName, safely while other
// machines push and pull, with no lock: each run does the step that is
// due. With no mark in progress it marks: every object reachable from a
// version listed in a ref document (or from a run object one lists) is
// live, and the packs with no live entry whose index is older than the
// grace period, and packs without an index that old, become candidates,
// recorded in gc/state.json. A run at least the grace period later (by
// the remote's clock) marks again and deletes the candidates still dead:
// each pack's index first, then the pack. Pushers read the document and
// never rely on a candidate (see push.go). Killed at any point, the
// remote stays valid and the next run finishes the job.
func (r *Repo) RemoteGC(ctx context.Context, remoteName string, opts *RemoteGCOptions) (RemoteGCReport, error) {
	if opts == nil {
		opts = &RemoteGCOptions{}
	}
	rep := RemoteGCReport{Remote: remoteName}
	grace := opts.Grace
	if grace == 0 {
		grace = DefaultRemoteGrace
	}
	if grace < MinRemoteGrace {
		return rep, fmt.Errorf("%w: a remote gc's grace period must be at least %v, longer than any push", ErrInvalidGrace, MinRemoteGrace)
	}
	t, err := r.transport(ctx, remoteName)
	if err != nil {
		return rep, err
	}
	doc, etag, docTime, err := getGCDoc(ctx, t)
	if err != nil {
		return rep, fmt.Errorf("remote %s: %w", remoteName, err)
	}
	if doc == nil {
		doc = &gcDoc{Format: gcDocFormat, Phase: gcIdle}
	}
	var now time.Time
	if opts.DryRun {
		// The newest time the remote reports stands in for its clock.
		now, err = newestKeyTime(ctx, t)
	} else {
		now, err = remoteNow(ctx, t)
	}
	if err != nil {
		return rep, fmt.Errorf("remote %s: %w", remoteName, err)
	}
	if doc.Phase == gcMarked && !opts.DryRun {
		// The grace period runs from the document's own time (read with
		// it), when pushers could first see the candidates.
		if wait := docTime.Add(doc.grace() + remoteClockSlack).Sub(now); wait > 0 {
			rep.Step, rep.SweepIn = "waiting", wait
			rep.Candidates = len(doc.Candidates)
			return rep, nil
		}
		return r.sweepRemote(ctx, t, remoteName, doc, etag, rep)
	}
	// Retention first: the versions it lets go are garbage for this mark.
	if rep.Expired, err = r.expireRemote(ctx, t, remoteName, now, opts.DryRun); err != nil {
		return rep, err
	}
	m, err := r.markRemote(ctx, t, remoteName)
	if err != nil {
		return rep, err
	}
	m.report(&rep)
	cutoff := now.Add(-grace - remoteClockSlack)
	cand, rw := map[string]bool{}, map[string]bool{}
	var mixed []string // old packs holding live and dead entries
	var live, dead int64
	for name, p := range m.packs {
		live += p.liveBytes
		dead += p.deadBytes()
		old := p.hasIdx && p.idxTime.Before(cutoff) || !p.hasIdx && p.hasPack && p.packTime.Before(cutoff)
		switch {
		case !old:
		case p.allDead():
			cand[name] = true
			dead -= p.deadBytes()
		case p.hasPack && p.liveBytes <= maxRewrite:
			mixed = append(mixed, name)
		}
	}
	// Rewrite mixed packs, the deadest first, until what stays dead is
	// at most a tenth of the live bytes: what stays of each is copied
	// into a new pack, and the old one goes. A pack mostly dead is
	// rewritten whatever the total.
	sort.Slice(mixed, func(i, j int) bool {
		a, b := m.packs[mixed[i]], m.packs[mixed[j]]
		return a.deadBytes()*(b.liveBytes+b.deadBytes()) > b.deadBytes()*(a.liveBytes+a.deadBytes()) ||
			a.deadBytes()*(b.liveBytes+b.deadBytes()) == b.deadBytes()*(a.liveBytes+a.deadBytes()) && mixed[i] < mixed[j]
	})
	for _, name := range mixed {
		p := m.packs[name]
		if p.liveBytes*4 >= p.liveBytes+p.deadBytes() && dead*10 <= live {
			break
		}
		rw[name] = true
		dead -= p.deadBytes()
	}
	allDead := maps.Clone(cand)
	protected, err := r.protect(ctx, t, remoteName, m, cand, rw)
	if err != nil {
		return rep, err
	}
	// Dead trees in the packs that stay may keep much of what was meant
	// to go (a push of many versions puts their trees in one pack): then
	// rewrite every old pack with something dead, which drops those
	// trees too, and work out the protection again.
	var kept int64
	for name, p := range m.packs {
		if !rw[name] && !cand[name] {
			kept += p.deadBytes()
		}
	}
	for name := range rw {
		for _, e := range m.packs[name].dead {
			if protected[e.ID] {
				kept += e.Size
			}
		}
	}
	if kept*10 > live {
		cand = maps.Clone(allDead)
		for _, name := range mixed {
			if m.packs[name].deadBytes() > 0 {
				rw[name] = true
			}
		}
		if protected, err = r.protect(ctx, t, remoteName, m, cand, rw); err != nil {
			return rep, err
		}
	}
	// A rewrite that would drop nothing (every dead entry protected) is
	// no rewrite: the pack stays as it is (its entries were all read as
	// protected ones, so what they name is protected too).
	for name := range rw {
		drops := false
		for _, e := range m.packs[name].dead {
			if !protected[e.ID] {
				drops = true
				break
			}
		}
		if !drops {
			delete(rw, name)
		}
	}
	var candidates []string
	for name := range cand {
		candidates = append(candidates, name)
		rep.CandidateBytes += m.packs[name].stored()
	}
	var rewrites []gcRewrite
	for name := range rw {
		candidates = append(candidates, name)
		rep.CandidateBytes += m.packs[name].stored()
		rewrites = append(rewrites, gcRewrite{Pack: name})
	}
	sort.Strings(candidates)
	sort.Slice(rewrites, func(i, j int) bool { return rewrites[i].Pack < rewrites[j].Pack })
	rep.Candidates, rep.Rewritten = len(candidates), len(rewrites)
	if opts.DryRun {
		rep.Step = "dry-run"
		return rep, nil
	}
	keep := func(id objects.ID) bool { return m.live.Has(id) || protected[id] }
	for i := range rewrites {
		into, err := r.rewritePack(ctx, t, remoteName, rewrites[i].Pack, keep)
		if err != nil {
			return rep, err
		}
		rewrites[i].Into = into
	}
	// A rewrite's new pack that was a candidate lacked only its index (a
	// mark killed while writing it): rewritePack has just written it, so
	// it stays. A rewrite into a pack that is itself rewritten (or into
	// itself) would delete what it keeps: such a pack stays as it is.
	going := map[string]bool{}
	for _, c := range candidates {
		going[c] = true
	}
	for _, w := range rewrites {
		if cand[w.Into] {
			delete(going, w.Into)
		}
	}
	for _, w := range rewrites {
		if going[w.Into] || w.Into == w.Pack {
			delete(going, w.Pack)
		}
	}
	rewrites = slices.DeleteFunc(rewrites, func(w gcRewrite) bool { return !going[w.Pack] })
	candidates = slices.DeleteFunc(candidates, func(c string) bool { return !going[c] })
	rep.Candidates, rep.Rewritten = len(candidates), len(rewrites)
	next := &gcDoc{Format: gcDocFormat, Generation: doc.Generation + 1, Phase: gcMarked,
		GraceNanos: int64(grace), Candidates: candidates, Rewrites: rewrites}
	if len(candidates) == 0 {
		next.Phase = gcIdle
	}
	// marked_at records the remote time read before the mark; the sweep
	// waits the grace period from the document's own time, when pushers
	// can first see it.
	next.MarkedAt = now
	if err := swapGCDoc(ctx, t, remoteName, etag, next); err != nil {
		return rep, err
	}
	rep.Step = "marked"
	if len(candidates) > 0 {
		rep.SweepIn = grace + remoteClockSlack
	}
	return rep, nil
}

// swapGCDoc replaces the remote's gc document, read with etag, by next;
// another gc's swap since the read is ErrGCRaced.
func swapGCDoc(ctx context.Context, t remote.Transport, remoteName, etag string, next *gcDoc) error {
	enc, err := next.encode()
	if err != nil {
		return err
	}
	if _, err := t.CompareAndSwap(ctx, gcDocKey, etag, enc); err != nil {
		if errors.Is(err, remote.ErrConflict) {
			return fmt.Errorf("remote %s: %w", remoteName, ErrGCRaced)
		}
		return fmt.Errorf("remote %s: write %s: %w", remoteName, gcDocKey, err)
	}
	return nil
}

// ErrInvalidGrace is returned for a grace period out of bounds.
var ErrInvalidGrace = errors.New("invalid grace period")

// sweepRemote is RemoteGC's second step: mark again, delete the
// candidates of doc still dead, then swap in an idle document.
func (r *Repo) sweepRemote(ctx context.Context, t remote.Transport, remoteName string, doc *gcDoc, etag string, rep RemoteGCReport) (RemoteGCReport, error) {
	m, err := r.markRemote(ctx, t, remoteName)
	if err != nil {
		return rep, err
	}
	m.report(&rep)
	rep.Step = "swept"
	rep.Candidates = len(doc.Candidates)
	// The candidates still dead, less those a surviving object names now
	// (a push since the mark may have left a tree naming one); the
	// rewritten packs whose new pack is there.
	into := map[string]string{}
	for _, w := range doc.Rewrites {
		into[w.Pack] = w.Into
	}
	cand, rw := map[string]bool{}, map[string]bool{}
	for _, name := range doc.Candidates {
		p, listed := m.packs[name]
		if !listed {
			continue
		}
		rep.CandidateBytes += p.stored()
		if n, ok := into[name]; ok && p.hasIdx {
			if q, ok := m.packs[n]; ok && q.hasIdx && q.hasPack {
				rw[name] = true
			}
		} else if p.allDead() {
			// Dead, or a rewritten pack whose index a killed sweep
			// deleted: nobody can read it any more.
			cand[name] = true
		}
	}
	protected, err := r.protect(ctx, t, remoteName, m, cand, rw)
	if err != nil {
		return rep, err
	}
	// A rewritten pack goes if its new pack holds all of it that stays.
	for name := range rw {
		es, err := r.packEntries(ctx, t, remoteName, name)
		if err != nil {
			return rep, err
		}
		copied, err := r.packEntries(ctx, t, remoteName, into[name])
		if err != nil {
			return rep, err
		}
		has := map[objects.PackKey]bool{}
		for _, e := range copied {
			has[e.PackKey] = true
		}
		for _, e := range es {
			if (m.live.Has(e.ID) || protected[e.ID]) && !has[e.PackKey] {
				delete(rw, name) // revived since the rewrite: it stays
				break
			}
		}
	}
	for _, name := range doc.Candidates {
		p, listed := m.packs[name]
		if !listed || !cand[name] && !rw[name] {
			continue // deleted by an earlier sweep that was killed, revived, or named
		}
		// The index first: from then on no reader finds the pack.
		if p.hasIdx {
			if err := t.Delete(ctx, packIndexKey(name)); err != nil && !errors.Is(err, remote.ErrNotFound) {
				return rep, fmt.Errorf("remote %s: delete %s: %w", remoteName, packIndexKey(name), err)
			}
		}
		if p.hasPack {
			if err := t.Delete(ctx, packKeyOf(name)); err != nil && !errors.Is(err, remote.ErrNotFound) {
				return rep, fmt.Errorf("remote %s: delete %s: %w", remoteName, packKeyOf(name), err)
			}
		}
		r.fs.Remove(filepath.Join(r.packCacheDir(remoteName), name+objects.PackIndexSuffix))
		rep.Deleted++
		rep.FreedBytes += p.stored()
		rep.StoredBytes -= p.stored()
		if p.live > 0 {
			rep.LiveBytes -= p.liveBytes + 2*p.idxSize
		}
		rep.Packs--
	}
	// Idle only after the last deletion: while a candidate may still be
	// deleted, the document lists it.
	next := &gcDoc{Format: gcDocFormat, Generation: doc.Generation + 1, Phase: gcIdle, MarkedAt: doc.MarkedAt,
		GraceNanos: doc.GraceNanos}
	if err := swapGCDoc(ctx, t, remoteName, etag, next); err != nil {
		return rep, err
	}
	return rep, nil
}

// remotePack is one pack on a remote, as a mark sees it.
type remotePack struct {
	hasPack, hasIdx   bool
	packSize, idxSize int64
	packTime, idxTime time.Time
	entries           int   // entries its index lists
	live              int   // of those, live
	liveBytes         int64 // bytes of the live entries
	dead              []deadEntry
	deadSize          int64 // bytes of dead
}

// deadEntry is an entry of a pack that no listed version reaches, with
// its offset in the pack.
type deadEntry struct {
	objects.PackEntry
	off int64
}

// dead reports whether no entry of the pack is live (a pack without an
// index has none a reader can find).
func (p *remotePack) allDead() bool { return p.live == 0 }

func (p *remotePack) stored() int64 { return p.packSize + p.idxSize }

// deadBytes is the bytes of the pack's entries no listed version reaches.
func (p *remotePack) deadBytes() int64 { return p.deadSize }

// remoteMark is what a mark of a remote found.
type remoteMark struct {
	versions int
	live     *objects.IDSet
	packs    map[string]*remotePack
	docs     []*remoteDoc
}

func (m *remoteMark) report(rep *RemoteGCReport) {
	rep.Versions = m.versions
	rep.LiveObjects = m.live.Len()
	rep.Packs, rep.StoredBytes, rep.LiveBytes = 0, 0, 0
	for _, p := range m.packs {
		rep.Packs++
		rep.StoredBytes += p.stored()
		if p.live > 0 {
			// The live entries, and what holding them costs: the
			// pack's header, in the pack and as its index.
			rep.LiveBytes += p.liveBytes + 2*p.idxSize
		}
	}
}

// markRemote lists the remote's packs, then reads every ref document and
// walks what it reaches (commits, trees, chunk lists, run objects and the
// commits runs name) into a set of live IDs, and counts each pack's live
// entries. The packs are listed first: a pack that appears after the
// listing is not looked at (it is younger than any cutoff anyway).
func (r *Repo) markRemote(ctx context.Context, t remote.Transport, remoteName string) (*remoteMark, error) {
	m := &remoteMark{live: &objects.IDSet{}, packs: map[string]*remotePack{}}
	err := t.List(ctx, remotePackDir, func(i remote.Info) error {
		if name, ok := remotePackName(i.Key, objects.PackIndexSuffix); ok {
			p := m.pack(name)
			p.hasIdx, p.idxSize, p.idxTime = true, i.Size, i.ModTime
		} else if name, ok := remotePackName(i.Key, objects.PackSuffix); ok {
			p := m.pack(name)
			p.hasPack, p.packSize, p.packTime = true, i.Size, i.ModTime
		}
		if i.ModTime.IsZero() {
			return fmt.Errorf("%w (%s)", ErrNoRemoteTime, i.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs on remote %s: %w", remoteName, err)
	}
	names, err := remoteArtifacts(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("list artifacts on %s: %w", remoteName, err)
	}
	var docs []*remoteDoc
	for _, name := range names {
		doc, _, err := getRemoteDoc(ctx, t, name)
		if err != nil {
			return nil, fmt.Errorf("remote %s: %w", remoteName, err)
		}
		if doc != nil { // nil: removed since the listing
			docs = append(docs, doc)
		}
	}
	m.docs = docs
	// The pack index after the documents: every pack their versions use
	// was indexed before the document that names them was swapped in.
	d, err := r.newDownloader(ctx, t, remoteName, nil)
	if err != nil {
		return nil, err
	}
	for _, doc := range docs {
		name := doc.Name
		for _, v := range doc.Versions {
			m.versions++
			if err := d.markVersion(ctx, m.live, v.Commit); err != nil {
				return nil, fmt.Errorf("remote %s: %s:%s: %w", remoteName, name, fmtVersion(v.Version), err)
			}
		}
		for _, o := range doc.Runs {
			if err := d.markRun(ctx, m.live, o); err != nil {
				return nil, fmt.Errorf("remote %s: run object %s: %w", remoteName, o.Short(), err)
			}
		}
	}
	if err := d.batch.Sync(ctx); err != nil {
		return nil, err
	}
	// Count each listed pack's live entries, from the headers the
	// downloader's index read (cached here).
	for name, p := range m.packs {
		if !p.hasIdx {
			continue
		}
		es, err := r.packEntries(ctx, t, remoteName, name)
		if errors.Is(err, remote.ErrNotFound) {
			// Deleted since the listing (another gc's sweep): none of it
			// is readable.
			p.hasIdx = false
			continue
		}
		if err != nil {
			return nil, err
		}
		p.entries = len(es)
		off := p.idxSize // a pack is its header, then its entries
		for _, e := range es {
			if m.live.Has(e.ID) {
				p.live++
				p.liveBytes += e.Size
			} else {
				p.dead = append(p.dead, deadEntry{e, off})
				p.deadSize += e.Size
			}
			off += e.Size
		}
	}
	return m, nil
}

func (m *remoteMark) pack(name string) *remotePack {
	p := m.packs[name]
	if p == nil {
		p = &remotePack{}
		m.packs[name] = p
	}
	return p
}

func fmtVersion(n int64) string { return fmt.Sprintf("v%d", n) }

// packEntries returns the entries of the remote's pack name: from the
// header cached here when it still hashes to its name, else read from the
// remote (and cached).
func (r *Repo) packEntries(ctx context.Context, t remote.Transport, remoteName, name string) ([]objects.PackEntry, error) {
	if b, err := afero.ReadFile(r.fs, filepath.Join(r.packCacheDir(remoteName), name+objects.PackIndexSuffix)); err == nil {
		if es, err := objects.ParsePackHeader(name, b); err == nil {
			return es, nil
		}
	}
	b, es, err := readPackIndex(ctx, t, name)
	if err != nil {
		return nil, err
	}
	r.cachePackIndex(remoteName, name, b)
	return es, nil
}

// markVersion adds a commit and everything below it to live, reading
// what is not here from the remote (and keeping it here).
func (d *downloader) markVersion(ctx context.Context, live *objects.IDSet, commit objects.ID) error {
	if !live.Add(commit) {
		return nil
	}
	b, err := d.meta(ctx, commit)
	if err != nil {
		return err
	}
	c, err := objects.DecodeCommit(b)
	if err != nil {
		return fmt.Errorf("commit %s: %w", commit.Short(), err)
	}
	return d.markTree(ctx, live, c.Tree)
}

// markTree adds a tree and everything below it to live; a tree already
// live is skipped whole (it was marked with everything below it).
func (d *downloader) markTree(ctx context.Context, live *objects.IDSet, tree objects.ID) error {
	w := walk.Walker{
		Source: &pullTrees{d: d, fetched: map[objects.ID][]byte{}},
		Chunks: func(ctx context.Context, id objects.ID) (*objects.ChunkList, error) {
			return d.chunkList(ctx, id)
		},
		Enter: func(_ context.Context, dir walk.Dir) error {
			if live.Has(dir.ID) {
				return walk.SkipDir
			}
			return nil
		},
		Entry: func(_ context.Context, e walk.Entry) error {
			if e.Kind == objects.KindFile {
				live.Add(e.ID)
			}
			return nil
		},
		Chunk: func(_ context.Context, _ walk.Entry, c objects.Chunk) error {
			live.Add(c.ID)
			return nil
		},
		// Left, not entered: a tree is live once all below it is.
		Leave: func(_ context.Context, dir walk.Dir) error {
			live.Add(dir.ID)
			return nil
		},
	}
	return w.Walk(ctx, tree, "")
}

// chunkList returns the chunk list of the blob id, or nil if it is stored
// whole: from the store here, else from the remote.
func (d *downloader) chunkList(ctx context.Context, id objects.ID) (*objects.ChunkList, error) {
	if l, err := d.r.store.ReadChunkList(ctx, id); err == nil {
		return l, nil
	} else if !errors.Is(err, objects.ErrNotFound) {
		return nil, err
	}
	k := objects.PackListKey(id)
	if !d.idx().Has(k) {
		if _, err := d.t.Stat(ctx, remoteListKey(id)); err != nil {
			return nil, nil // stored whole (or missing: not gc's to judge)
		}
	}
	rc, _, err := d.open(ctx, k, objects.MaxMetaObjectSize, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, objects.MaxMetaObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch the %s from remote %s: %w", k, d.remote, err)
	}
	return d.decodeList(b, id, -1)
}

// markRun adds a run object and the commits it names to live.
func (d *downloader) markRun(ctx context.Context, live *objects.IDSet, obj objects.ID) error {
	live.Add(obj)
	b, err := d.meta(ctx, obj)
	if err != nil {
		return err
	}
	o, err := objects.DecodeRun(b)
	if err != nil {
		return err
	}
	for _, c := range slices.Concat(o.Inputs, o.Outputs) {
		live.Add(c)
	}
	return nil
}

// newestKeyTime is the newest modification time of the remote's keys
// under packs/ and refs/ (a dry run's stand-in for the remote's clock:
// it writes nothing).
func newestKeyTime(ctx context.Context, t remote.Transport) (time.Time, error) {
	var newest time.Time
	for _, prefix := range []string{remotePackDir, "refs/", "gc/"} {
		err := t.List(ctx, prefix, func(i remote.Info) error {
			if i.ModTime.After(newest) {
				newest = i.ModTime
			}
			return nil
		})
		if err != nil {
			return time.Time{}, err
		}
	}
	return newest, nil
}

// protect works out what must stay on the remote besides the live
// objects, given cand (packs to delete whole) and rw (packs to rewrite
// with only what stays): a dead tree, tree index node, commit or chunk
// list that stays (in a pack kept whole, or copied by a rewrite) must not
// be left naming a deleted object. It reads the dead entries of the packs
// kept whole and of what is copied; each object they name that lies in a
// pack of cand takes that pack out of cand (kept whole, its dead entries
// read in turn); one in a pack of rw is protected: copied by the rewrite,
// and read in turn. It returns the protected objects. So no object on the
// remote ever names a missing one, and a pusher that finds a tree there
// may rely on what is below it: those objects can go only with the tree.
func (r *Repo) protect(ctx context.Context, t remote.Transport, remoteName string, m *remoteMark, cand, rw map[string]bool) (map[objects.ID]bool, error) {
	type holder struct {
		pack string
		e    deadEntry
	}
	holders := map[objects.ID][]holder{}
	for name, p := range m.packs {
		if cand[name] || rw[name] {
			for _, e := range p.dead {
				holders[e.ID] = append(holders[e.ID], holder{name, e})
			}
		}
	}
	type batch struct {
		pack string
		es   []deadEntry
	}
	var work []batch
	for name, p := range m.packs {
		if !cand[name] && !rw[name] && len(p.dead) > 0 {
			work = append(work, batch{name, p.dead})
		}
	}
	sort.Slice(work, func(i, j int) bool { return work[i].pack < work[j].pack })
	type at struct {
		pack string
		off  int64
	}
	read := map[at]bool{}
	protected := map[objects.ID]bool{}
	for len(work) > 0 {
		b := work[len(work)-1]
		work = work[:len(work)-1]
		var es []deadEntry
		for _, e := range b.es {
			if !read[at{b.pack, e.off}] {
				read[at{b.pack, e.off}] = true
				es = append(es, e)
			}
		}
		if len(es) == 0 {
			continue
		}
		err := deadChildren(ctx, t, b.pack, es, func(id objects.ID) {
			if m.live.Has(id) || protected[id] {
				return
			}
			hs := holders[id]
			if len(hs) == 0 {
				return // only in packs kept whole, whose entries are read anyway
			}
			protected[id] = true
			for _, h := range hs {
				switch {
				case cand[h.pack]:
					delete(cand, h.pack)
					work = append(work, batch{h.pack, m.packs[h.pack].dead})
				case rw[h.pack]:
					work = append(work, batch{h.pack, []deadEntry{h.e}})
				}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("remote %s: pack %s: %w", remoteName, shortName(b.pack), err)
		}
	}
	return protected, nil
}

// Reading dead entries: a metadata object is told from file content by
// its first bytes; entries up to wholeReadMax bytes are read whole (small
// trees and commits, and the small files between them, in few requests),
// larger ones by their first probeBytes only, and whole if those say
// they are metadata.
const (
	probeBytes   = 32
	wholeReadMax = 64 << 10
	maxReadSpan  = 8 << 20
)

// deadChildren calls fn with every ID named by a metadata object among
// the dead entries of the remote's pack name.
func deadChildren(ctx context.Context, t remote.Transport, name string, dead []deadEntry, fn func(objects.ID)) error {
	dead = slices.Clone(dead)
	sort.Slice(dead, func(i, j int) bool { return dead[i].off < dead[j].off })
	want := func(e deadEntry) int64 {
		if e.Kind == objects.PackList || e.Size <= wholeReadMax {
			return e.Size
		}
		return probeBytes
	}
	for i := 0; i < len(dead); {
		start := dead[i].off
		end := start + want(dead[i])
		j := i + 1
		for j < len(dead) && dead[j].off-end <= rangeGap && dead[j].off+want(dead[j])-start <= maxReadSpan {
			end = dead[j].off + want(dead[j])
			j++
		}
		var b []byte
		if end > start {
			rc, err := t.GetRange(ctx, packKeyOf(name), start, end-start)
			if err != nil {
				return err
			}
			b, err = readSized(rc, end-start, end-start)
			rc.Close()
			if err != nil {
				return err
			}
			if int64(len(b)) != end-start {
				return fmt.Errorf("%w: %d bytes at %d, want %d", remote.ErrBadResponse, len(b), start, end-start)
			}
		}
		for _, e := range dead[i:j] {
			at := e.off - start
			part := b[at : at+want(e)]
			if !isMeta(e.Kind, part) {
				continue
			}
			whole := part
			if int64(len(part)) < e.Size {
				if e.Size > objects.MaxMetaObjectSize {
					continue // no metadata object is that large
				}
				rc, err := t.GetRange(ctx, packKeyOf(name), e.off, e.Size)
				if err != nil {
					return err
				}
				whole, err = readSized(rc, e.Size, e.Size)
				rc.Close()
				if err != nil {
					return err
				}
			}
			if objects.Hash(whole) != e.ID {
				return fmt.Errorf("%w: entry %s does not hash to its ID", ErrCorrupt, e.PackKey)
			}
			namedBy(e.Kind, whole, fn)
		}
		i = j
	}
	return ctx.Err()
}

// isMeta reports whether an entry whose first bytes are b may be a
// metadata object that names others.
func isMeta(kind byte, b []byte) bool {
	if kind == objects.PackList {
		return true
	}
	for _, h := range []string{objects.TreeHeader, objects.TreeIndexHeader, objects.CommitHeader} {
		n := min(len(h), len(b))
		if n > 0 && string(b[:n]) == h[:n] {
			return true
		}
	}
	return false
}

// namedBy calls fn with the IDs the metadata object b names; content that
// does not decode names nothing (a file that starts like a tree).
func namedBy(kind byte, b []byte, fn func(objects.ID)) {
	if kind == objects.PackList {
		if l, err := objects.DecodeChunkList(b); err == nil {
			for _, c := range l.Chunks {
				fn(c.ID)
			}
		}
		return
	}
	switch {
	case bytes.HasPrefix(b, []byte(objects.CommitHeader)):
		if c, err := objects.DecodeCommit(b); err == nil {
			fn(c.Tree)
		}
	default:
		n, err := objects.DecodeDirNode(b)
		if err != nil {
			return
		}
		if n.Index != nil {
			for _, c := range n.Index.Children {
				fn(c.ID)
			}
		}
		if n.Tree != nil {
			for _, e := range n.Tree.Entries {
				if !e.ID.IsZero() {
					fn(e.ID)
				}
			}
		}
	}
}

// rewritePack copies the entries of the remote's pack name that keep
// says stay into a new pack (the pack, then its index) and returns the
// new pack's name. Every entry copied is checked first: an object against
// its ID, a chunk list by decoding it for its blob.
func (r *Repo) rewritePack(ctx context.Context, t remote.Transport, remoteName, name string, keep func(objects.ID) bool) (string, error) {
	es, err := r.packEntries(ctx, t, remoteName, name)
	if err != nil {
		return "", err
	}
	hdr0 := objects.EncodePackHeader(es)
	off := int64(len(hdr0))
	var kept []objects.PackEntry
	var body bytes.Buffer
	for _, e := range es {
		at := off
		off += e.Size
		if !keep(e.ID) {
			continue
		}
		var b []byte
		if e.Size > 0 {
			rc, err := t.GetRange(ctx, packKeyOf(name), at, e.Size)
			if err != nil {
				return "", fmt.Errorf("remote %s: rewrite pack %s: %w", remoteName, shortName(name), err)
			}
			b, err = readSized(rc, e.Size, e.Size)
			rc.Close()
			if err != nil {
				return "", fmt.Errorf("remote %s: rewrite pack %s: %w", remoteName, shortName(name), err)
			}
		}
		if e.Kind == objects.PackList {
			if l, err := objects.DecodeChunkList(b); err != nil || l.Blob != e.ID {
				return "", fmt.Errorf("remote %s: pack %s: %w", remoteName, shortName(name), &objects.CorruptError{ID: e.ID, Reason: "chunk list does not decode for its blob"})
			}
		} else if got := objects.Hash(b); got != e.ID {
			return "", fmt.Errorf("remote %s: pack %s: %w", remoteName, shortName(name), &objects.CorruptError{ID: e.ID, Reason: "content hashes to " + got.String()})
		}
		kept = append(kept, e)
		body.Write(b)
	}
	hdr := objects.EncodePackHeader(kept)
	into := objects.Hash(hdr).String()
	pack := io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(body.Bytes()))
	if err := t.PutIfAbsent(ctx, packKeyOf(into), pack, int64(len(hdr)+body.Len())); err != nil && !errors.Is(err, remote.ErrExists) {
		return "", fmt.Errorf("remote %s: write the rewrite of pack %s: %w", remoteName, shortName(name), err)
	}
	if err := t.PutIfAbsent(ctx, packIndexKey(into), bytes.NewReader(hdr), int64(len(hdr))); err != nil && !errors.Is(err, remote.ErrExists) {
		return "", fmt.Errorf("remote %s: write the rewrite of pack %s: %w", remoteName, shortName(name), err)
	}
	r.cachePackIndex(remoteName, into, hdr)
	return into, nil
}

// RemoteUsage is what a remote holds, as DiskUsageRemote measures it.
type RemoteUsage struct {
	Remote    string
	Artifacts []RemoteArtifactUsage
	Logical   int64 // bytes of every listed version's files, as checked out
	Stored    int64 // bytes of the remote's packs, indexes and loose objects
	// Live is what the listed versions and runs take: their entries, with
	// the headers and indexes of the packs holding them, and their loose
	// objects. Garbage is the rest: what remote gc can reclaim (packs of
	// interrupted pushes, removed versions' objects, the dead part of
	// packs it leaves whole).
	Live    int64
	Garbage int64
	Packs   int
	Loose   int // loose objects (pushed by an art from before packs)
}

// RemoteArtifactUsage is one artifact of RemoteUsage.
type RemoteArtifactUsage struct {
	Name     string
	Versions int
	Logical  int64
}

// DiskUsageRemote measures the remote remoteName: it marks as a remote
// gc does (reading every ref document and what it reaches) and changes
// nothing there.
func (r *Repo) DiskUsageRemote(ctx context.Context, remoteName string) (RemoteUsage, error) {
	u := RemoteUsage{Remote: remoteName, Artifacts: []RemoteArtifactUsage{}}
	t, err := r.transport(ctx, remoteName)
	if err != nil {
		return u, err
	}
	m, err := r.markRemote(ctx, t, remoteName)
	if err != nil {
		return u, err
	}
	var rep RemoteGCReport
	m.report(&rep)
	u.Packs, u.Stored, u.Live = rep.Packs, rep.StoredBytes, rep.LiveBytes
	for _, d := range m.docs {
		a := RemoteArtifactUsage{Name: d.Name, Versions: len(d.Versions)}
		for _, v := range d.Versions {
			a.Logical += v.Size
		}
		u.Logical += a.Logical
		u.Artifacts = append(u.Artifacts, a)
	}
	err = t.List(ctx, "objects/", func(i remote.Info) error {
		u.Loose++
		u.Stored += i.Size
		h := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(i.Key, "objects/"), objects.ChunkListSuffix), "/", "")
		if id, err := objects.ParseID(h); err == nil && m.live.Has(id) {
			u.Live += i.Size
		}
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("list objects on remote %s: %w", remoteName, err)
	}
	u.Garbage = max(u.Stored-u.Live, 0)
	return u, nil
}

// expireRemote applies the retention policies in the remote's ref
// documents at now (the remote's time): the versions a policy lets go
// are removed from their document by compare-and-swap, as by
// DeleteOnRemote, unless an alias was set on them meanwhile; the newest
// version, aliased ones, and the inputs of the runs that produced kept
// versions (of any artifact, to a fixed point) stay. With dryRun it only
// lists them. It returns them as refs, sorted.
func (r *Repo) expireRemote(ctx context.Context, t remote.Transport, remoteName string, now time.Time, dryRun bool) ([]string, error) {
	names, err := remoteArtifacts(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("list artifacts on %s: %w", remoteName, err)
	}
	var docs []*remoteDoc
	policies := false
	for _, name := range names {
		doc, _, err := getRemoteDoc(ctx, t, name)
		if err != nil {
			return nil, fmt.Errorf("remote %s: %w", remoteName, err)
		}
		if doc != nil {
			docs = append(docs, doc)
			policies = policies || doc.Retention != nil
		}
	}
	if !policies {
		return nil, nil
	}
	d, err := r.newDownloader(ctx, t, remoteName, nil)
	if err != nil {
		return nil, err
	}
	runObj := map[string]objects.ID{}
	for _, doc := range docs {
		for id, o := range doc.Runs {
			runObj[id] = o
		}
	}
	going := map[objects.ID]refs.Version{}
	var kept []refs.Version
	for _, doc := range docs {
		byVersion := map[int64][]string{}
		for a, n := range doc.Aliases {
			byVersion[n] = append(byVersion[n], a)
		}
		vs := make([]refs.Version, 0, len(doc.Versions))
		for _, v := range doc.Versions {
			b, err := d.meta(ctx, v.Commit)
			if err != nil {
				return nil, fmt.Errorf("remote %s: %s:%s: %w", remoteName, doc.Name, fmtVersion(v.Version), err)
			}
			c, err := objects.DecodeCommit(b)
			if err != nil {
				return nil, fmt.Errorf("remote %s: commit %s: %w", remoteName, v.Commit.Short(), err)
			}
			vs = append(vs, refs.Version{Name: doc.Name, Version: v.Version, Commit: v.Commit, Created: c.Created,
				Producer: c.Run, Aliases: byVersion[v.Version]})
		}
		exp := map[int64]bool{}
		for _, v := range refs.Expired(vs, doc.retention(), now, nil) {
			exp[v.Version] = true
			going[v.Commit] = v
		}
		for _, v := range vs {
			if !exp[v.Version] {
				kept = append(kept, v)
			}
		}
	}
	seen := map[string]bool{}
	for len(kept) > 0 && len(going) > 0 {
		v := kept[len(kept)-1]
		kept = kept[:len(kept)-1]
		o, ok := runObj[v.Producer]
		if v.Producer == "" || seen[v.Producer] || !ok {
			continue
		}
		seen[v.Producer] = true
		b, err := d.meta(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("remote %s: run object %s: %w", remoteName, o.Short(), err)
		}
		run, err := objects.DecodeRun(b)
		if err != nil {
			return nil, fmt.Errorf("remote %s: run object %s: %w", remoteName, o.Short(), err)
		}
		for _, c := range run.Inputs {
			if g, ok := going[c]; ok {
				delete(going, c)
				kept = append(kept, g)
			}
		}
	}
	if err := d.batch.Sync(ctx); err != nil {
		return nil, err
	}
	byName := map[string]map[objects.ID]bool{}
	for c, v := range going {
		if byName[v.Name] == nil {
			byName[v.Name] = map[objects.ID]bool{}
		}
		byName[v.Name][c] = true
	}
	var out []string
	for name, commits := range byName {
		if dryRun {
			for c := range commits {
				out = append(out, going[c].Ref())
			}
			continue
		}
		gone, err := r.removeOnRemote(ctx, t, remoteName, name, commits)
		if err != nil {
			return nil, err
		}
		out = append(out, gone...)
	}
	sort.Strings(out)
	return out, nil
}

// removeOnRemote removes the versions of name whose commits are in
// commits from the remote's document, by compare-and-swap, skipping any
// that an alias now points at; it returns those removed, as refs.
func (r *Repo) removeOnRemote(ctx context.Context, t remote.Transport, remoteName, name string, commits map[objects.ID]bool) ([]string, error) {
	for attempt := 0; ; attempt++ {
		doc, etag, err := getRemoteDoc(ctx, t, name)
		if err != nil || doc == nil {
			return nil, err
		}
		aliased := map[int64]bool{}
		for _, n := range doc.Aliases {
			aliased[n] = true
		}
		var out []string
		keep := doc.Versions[:0:0]
		for i, v := range doc.Versions {
			if commits[v.Commit] && !aliased[v.Version] && i < len(doc.Versions)-1 {
				doc.Removed = append(doc.Removed, removedVersion{Version: v.Version, Commit: v.Commit})
				out = append(out, name+":"+fmtVersion(v.Version))
				continue
			}
			keep = append(keep, v)
		}
		if len(out) == 0 {
			return nil, nil
		}
		doc.Versions = keep
		enc, err := doc.encode()
		if err != nil {
			return nil, err
		}
		if _, err := decodeRemoteDoc(enc, name); err != nil {
			return nil, fmt.Errorf("retention of %s: the ref document built is invalid (%v); nothing was changed on the remote", name, err)
		}
		if _, err := t.CompareAndSwap(ctx, remoteRefKey(name), etag, enc); err != nil {
			if errors.Is(err, remote.ErrConflict) && attempt < maxCASRetries {
				continue
			}
			return nil, fmt.Errorf("remote %s: move the ref document of %s: %w", remoteName, name, err)
		}
		return out, nil
	}
}
