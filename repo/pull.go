package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/artvcs/art/lineage"
	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo/remote"
)

// ErrConflict is returned by a pull with StrategyError when remote
// versions would take the numbers of local-only ones.
var ErrConflict = errors.New("local and remote versions conflict")

// PullOptions tune Pull and Fetch. A nil *PullOptions is the zero value.
type PullOptions struct {
	// Strategy for local-only versions whose numbers the remote took:
	// StrategyNew (the default) renumbers them after the remote's.
	Strategy Strategy
	// Prune removes here the versions removed from the remote (art rm
	// --remote), aliases and all; without it they stay, and are reported
	// (Pulled.RemovedThere).
	Prune    bool
	Progress TransferProgress
}

// Renumbered is a local version a pull moved after the remote's.
type Renumbered struct {
	From string // "v1"
	To   string // "v2"
	ID   string // the version's new commit ID
}

// AliasConflict is an alias both sides moved since they last met; the
// local move is kept (it comes after the remote's), and the next push
// publishes it.
type AliasConflict struct {
	Alias  string
	Remote string // where the remote put it
	Local  string // where it stays here
}

// Pulled says what a pull or fetch did for one artifact.
type Pulled struct {
	Name       string
	Versions   []string        // remote versions added here
	Renumbered []Renumbered    // local versions moved after the remote's
	Skipped    []string        // remote versions not taken (StrategySkip, or deleted here)
	Replaced   []string        // local versions deleted for the remote's (StrategyReplace)
	Conflicts  []AliasConflict // aliases both sides moved; the local moves are kept
	Runs       int             // runs added to the lineage
	// RemovedThere lists the versions here that were removed from the
	// remote; Pruned those of them removed here too (PullOptions.Prune).
	RemovedThere []string
	Pruned       []string
}

// PullResult is the outcome of Pull or Fetch.
type PullResult struct {
	Remote    string
	Artifacts []Pulled
	TransferStats
}

// Pull brings artifacts (all the remote has if names is empty) from the
// remote: ref documents, commits, trees, run objects and file contents
// (chunk lists and only the chunks missing here). Every object is
// verified before it is stored; a tree entry with an unsafe name, an
// object that fails its hash or has the wrong size, a ref document that
// names a missing commit: each fails the pull, naming the object and the
// remote, before any version is recorded.
//
// Remote versions are recorded under their numbers. Local-only versions
// whose numbers the remote took are renumbered after the remote's (their
// commits rewritten with the new number and parent, lineage kept), or
// handled as opts.Strategy says. Aliases follow the remote unless they
// were moved here since the remote was last seen; an alias both sides
// moved keeps the local move and is reported.
func (r *Repo) Pull(ctx context.Context, remoteName string, names []string, opts *PullOptions) (PullResult, error) {
	return r.pull(ctx, remoteName, names, opts, true)
}

// Fetch is Pull without file contents: versions, aliases and lineage
// arrive, and a checkout fetches the files it needs from the remote.
func (r *Repo) Fetch(ctx context.Context, remoteName string, names []string, opts *PullOptions) (PullResult, error) {
	return r.pull(ctx, remoteName, names, opts, false)
}

func (r *Repo) pull(ctx context.Context, remoteName string, names []string, opts *PullOptions, blobs bool) (PullResult, error) {
	if opts == nil {
		opts = &PullOptions{}
	}
	res := PullResult{Remote: remoteName, Artifacts: []Pulled{}}
	t, err := r.transport(ctx, remoteName)
	if err != nil {
		return res, err
	}
	if len(names) == 0 {
		if names, err = remoteArtifacts(ctx, t); err != nil {
			return res, fmt.Errorf("list artifacts on %s: %w", remoteName, err)
		}
	}
	var stats TransferStats
	for _, name := range names {
		if err := refs.ValidateName(name); err != nil {
			return res, err
		}
		p, st, err := r.pullOne(ctx, t, remoteName, name, opts, blobs)
		stats.Objects += st.Objects
		stats.Bytes += st.Bytes
		if err != nil {
			res.TransferStats = stats
			return res, fmt.Errorf("pull %s from %s: %w", name, remoteName, err)
		}
		res.Artifacts = append(res.Artifacts, p)
	}
	res.TransferStats = stats
	return res, nil
}

// remoteArtifacts lists the artifacts whose ref documents a remote holds.
func remoteArtifacts(ctx context.Context, t remote.Transport) ([]string, error) {
	var names []string
	err := t.List(ctx, "refs/", func(i remote.Info) error {
		if len(names) >= maxRemoteArtifacts {
			return fmt.Errorf("%w: the remote lists more than %d artifacts; pull them by name", remote.ErrTooLarge, maxRemoteArtifacts)
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(i.Key, "refs/"), ".json")
		if !ok || strings.Contains(name, "/") || refs.ValidateName(name) != nil {
			return fmt.Errorf("%w: unexpected key %q under refs/", remote.ErrBadResponse, i.Key)
		}
		names = append(names, name)
		return nil
	})
	sort.Strings(names)
	return names, err
}

// maxRemoteArtifacts bounds the artifacts a pull of everything takes from
// a remote's listing.
const maxRemoteArtifacts = 100000

// pullArtifact is pullOne for Push's StrategyNew.
func (r *Repo) pullArtifact(ctx context.Context, t remote.Transport, remoteName, name string, opts *PullOptions) (Pulled, error) {
	p, _, err := r.pullOne(ctx, t, remoteName, name, opts, true)
	return p, err
}

func (r *Repo) pullOne(ctx context.Context, t remote.Transport, remoteName, name string, opts *PullOptions, blobs bool) (Pulled, TransferStats, error) {
	var stats TransferStats
	unlockGC := func() {}
	defer func() { unlockGC() }()
	for attempt := 0; ; attempt++ {
		if attempt == gcRetriesUnlocked {
			// As in Log: GCs keep overlapping this pull.
			if unlock, lerr := r.lockGC(false); lerr == nil {
				unlockGC = unlock
			}
		}
		gen, err := gcGeneration(ctx, r.db)
		if err != nil {
			return Pulled{}, stats, err
		}
		doc, _, err := getRemoteDoc(ctx, t, name)
		if err != nil {
			return Pulled{}, stats, err
		}
		if doc == nil {
			return Pulled{}, stats, fmt.Errorf("%w: the remote has no artifact %s", ErrVersionNotFound, name)
		}
		d, err := r.newDownloader(ctx, t, remoteName, opts.Progress)
		if err != nil {
			return Pulled{}, stats, err
		}
		got, err := d.artifact(ctx, doc, blobs)
		stats.Objects += d.objects.Load()
		stats.Bytes += d.bytes.Load()
		if err != nil {
			return Pulled{}, stats, err
		}
		if err := d.batch.Sync(ctx); err != nil {
			return Pulled{}, stats, err
		}
		p, err := r.importArtifact(ctx, remoteName, doc, got, gen, opts.Strategy, opts.Prune)
		if errors.Is(err, errGCRaced) && attempt < maxGCRetries {
			continue
		}
		if err != nil {
			return Pulled{}, stats, err
		}
		r.saveRefDoc(ctx, name)
		r.saveTracking(remoteName, doc)
		return p, stats, nil
	}
}

// fetched is what a downloader brought for an artifact.
type fetched struct {
	commits map[objects.ID]*objects.Commit // the remote versions not here before
	runs    map[objects.ID]*objects.Run    // run objects, by object ID
}

// importArtifact records what a pull fetched, in one transaction: the
// remote's versions under their numbers, local-only versions renumbered
// (or as strategy says), aliases merged and runs added to the lineage.
func (r *Repo) importArtifact(ctx context.Context, remoteName string, doc *remoteDoc, got *fetched, gen int64, strategy Strategy, prune bool) (Pulled, error) {
	p := Pulled{Name: doc.Name, Versions: []string{}}
	tracked := r.readTracking(remoteName, doc.Name)
	if pending := r.readPending(remoteName, doc.Name); pending != nil {
		// A push of ours was interrupted after it swapped its document in
		// (the remote still holds it): that is what we last saw.
		if a, err := pending.encode(); err == nil {
			if b, err := doc.encode(); err == nil && string(a) == string(b) {
				tracked = pending
			}
		}
	}
	err := r.writeTx(ctx, func(tx *sql.Tx) error {
		p = Pulled{Name: doc.Name, Versions: []string{}}
		if now, err := gcGeneration(ctx, tx); err != nil {
			return err
		} else if now != gen {
			return errGCRaced
		}
		idx, x := refs.NewIndex(tx), lineage.NewIndex(tx)
		if err := idx.EnsureNewArtifact(ctx, doc.Name, doc.Type); err != nil {
			return err
		}
		// The retention policy follows the remote's if it changed there
		// since this repository last saw it, and not here.
		if lp, err := idx.Retention(ctx, doc.Name); err != nil {
			return err
		} else if rp, tp := doc.retention(), tracked.retention(); rp != tp && lp == tp {
			if err := idx.SetRetention(ctx, doc.Name, rp); err != nil {
				return err
			}
		}
		vs, err := idx.Versions(ctx, doc.Name)
		if err != nil {
			return err
		}
		next, err := idx.NextVersion(ctx, doc.Name)
		if err != nil {
			return err
		}
		local := map[int64]refs.Version{}
		localCommit := map[objects.ID]refs.Version{}
		for _, v := range vs {
			local[v.Version] = v
			localCommit[v.Commit] = v
		}
		aliases, err := idx.Aliases(ctx, doc.Name)
		if err != nil {
			return err
		}
		// Which remote versions to add, and which local ones they collide with.
		var add []remoteVersion
		var collide []refs.Version
		for _, v := range doc.Versions {
			if _, ok := localCommit[v.Commit]; ok {
				continue
			}
			if _, ok := got.commits[v.Commit]; !ok {
				continue // not fetched (cannot happen: artifact fetched every missing one)
			}
			lv, taken := local[v.Version]
			if !taken && v.Version < next {
				// The number was deleted here: do not bring the version back.
				p.Skipped = append(p.Skipped, refs.VersionString(v.Version))
				continue
			}
			if taken {
				switch strategy {
				case StrategyError:
					return fmt.Errorf("%w: %s is %s here and another version on remote %s",
						ErrConflict, refs.VersionString(v.Version), lv.Commit.Short(), remoteName)
				case StrategySkip:
					p.Skipped = append(p.Skipped, refs.VersionString(v.Version))
					continue
				}
				collide = append(collide, lv)
			}
			add = append(add, v)
		}
		// Versions removed from the remote: reported, pruned if asked; a
		// local version under a removed number is another version, whose
		// number the remote has taken.
		for _, v := range doc.Removed {
			lv, taken := local[v.Version]
			if lc, ok := localCommit[v.Commit]; ok && lc.Version == v.Version {
				p.RemovedThere = append(p.RemovedThere, refs.VersionString(v.Version))
				if prune {
					if err := idx.Delete(ctx, doc.Name, v.Version, true); err != nil {
						return err
					}
					p.Pruned = append(p.Pruned, refs.VersionString(v.Version))
				}
				continue
			}
			if taken && (strategy == StrategyNew || strategy == StrategyDefault) {
				collide = append(collide, lv)
			}
		}
		sort.Slice(collide, func(i, j int) bool { return collide[i].Version < collide[j].Version })
		// Take the colliding local versions out (their aliases are put
		// back on their new numbers below), then record the remote's.
		oldAliases := map[int64][]string{}
		for a, n := range aliases {
			oldAliases[n] = append(oldAliases[n], a)
		}
		for _, lv := range collide {
			if err := idx.Delete(ctx, doc.Name, lv.Version, true); err != nil {
				return err
			}
		}
		for _, v := range add {
			c := got.commits[v.Commit]
			nv := refs.Version{Name: doc.Name, Type: doc.Type, Version: v.Version, Commit: v.Commit, Tree: c.Tree,
				Size: v.Size, Files: v.Files, Added: -1, Remote: remoteName, Created: c.Created,
				Description: c.Description, Metadata: c.Metadata, Producer: c.Run}
			if err := idx.Insert(ctx, nv); err != nil {
				return err
			}
			p.Versions = append(p.Versions, refs.VersionString(v.Version))
		}
		if doc.NextVersion > next {
			next = doc.NextVersion
		}
		if err := idx.RaiseNextVersion(ctx, doc.Name, next); err != nil {
			return err
		}
		// Renumber (StrategyNew) or drop (StrategyReplace) the colliding ones.
		for _, lv := range collide {
			if strategy == StrategyReplace {
				p.Replaced = append(p.Replaced, refs.VersionString(lv.Version))
				continue
			}
			n, err := idx.AllocateVersion(ctx, doc.Name)
			if err != nil {
				return err
			}
			nc, err := r.renumberCommit(ctx, idx, lv, n)
			if err != nil {
				return err
			}
			nv := lv
			nv.Version, nv.Commit, nv.Aliases = n, nc, nil
			if err := idx.Insert(ctx, nv); err != nil {
				return err
			}
			if err := x.RenameCommit(ctx, lv.Commit, nc); err != nil {
				return err
			}
			for _, a := range oldAliases[lv.Version] {
				if _, err := idx.SetAlias(ctx, doc.Name, a, n); err != nil {
					return err
				}
			}
			p.Renumbered = append(p.Renumbered, Renumbered{From: refs.VersionString(lv.Version), To: refs.VersionString(n), ID: nc.String()})
		}
		conflicts, err := mergeAliases(ctx, idx, doc, tracked)
		if err != nil {
			return err
		}
		p.Conflicts = conflicts
		// Runs: add those not here, with their edges.
		for obj, o := range got.runs {
			if run, err := x.Run(ctx, o.ID); err == nil && !run.Running() {
				continue
			}
			outs := make([]lineage.Output, len(o.Outputs))
			for i, c := range o.Outputs {
				created := false
				if v, err := idx.ByCommit(ctx, c); err == nil && v.Producer == o.ID {
					created = true
				} else if v, ok := got.commits[c]; ok && v.Run == o.ID {
					created = true
				}
				outs[i] = lineage.Output{Commit: c, Created: created}
			}
			if err := x.Restore(ctx, lineage.FromObject(obj, o), o.Inputs, outs); err != nil {
				return err
			}
			p.Runs++
		}
		return nil
	})
	return p, err
}

// renumberCommit writes the commit of local version lv again as version n,
// with the artifact's latest version below n as its parent, and returns
// its ID.
func (r *Repo) renumberCommit(ctx context.Context, idx *refs.Index, lv refs.Version, n int64) (objects.ID, error) {
	c, err := objects.ReadCommit(ctx, r.store, lv.Commit)
	if err != nil {
		return objects.ZeroID, err
	}
	c.Version = n
	c.Parent = objects.ZeroID
	if prev, err := idx.Latest(ctx, lv.Name); err == nil {
		c.Parent = prev.Commit
	} else if !errors.Is(err, refs.ErrNotFound) {
		return objects.ZeroID, err
	}
	enc, err := c.Encode()
	if err != nil {
		return objects.ZeroID, err
	}
	return objects.PutBytes(ctx, r.store, enc)
}

// mergeAliases applies the remote's aliases: an alias the remote moved
// (or set) since this repository last saw it follows the remote, unless
// it was moved here too, in which case the local move stays and is
// reported; an alias the remote removed is removed here if it was not
// moved here.
func mergeAliases(ctx context.Context, idx *refs.Index, doc, tracked *remoteDoc) ([]AliasConflict, error) {
	local, err := idx.Aliases(ctx, doc.Name)
	if err != nil {
		return nil, err
	}
	numOf := func(c objects.ID) (int64, bool) {
		v, err := idx.ByCommit(ctx, c)
		if err != nil || v.Name != doc.Name {
			return 0, false
		}
		return v.Version, true
	}
	commitHere := func(a string) (objects.ID, bool) {
		n, ok := local[a]
		if !ok {
			return objects.ZeroID, false
		}
		v, err := idx.Resolve(ctx, refs.Ref{Name: doc.Name, Kind: refs.ByVersion, Version: n})
		if err != nil {
			return objects.ZeroID, false
		}
		return v.Commit, true
	}
	var conflicts []AliasConflict
	names := make([]string, 0, len(doc.Aliases))
	for a := range doc.Aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		rc, _ := doc.aliasCommit(a)
		n, ok := numOf(rc)
		if !ok {
			continue // a version not taken here
		}
		lc, here := commitHere(a)
		if here && lc == rc {
			continue
		}
		tc, seen := tracked.aliasCommit(a)
		movedHere := seen && (!here || lc != tc) || !seen && here
		movedThere := !seen || tc != rc
		if movedHere && movedThere {
			ln := "(removed)"
			if here {
				ln = refs.VersionString(local[a])
			}
			conflicts = append(conflicts, AliasConflict{Alias: a, Remote: refs.VersionString(n), Local: ln})
			continue
		}
		if movedHere {
			continue
		}
		if _, err := idx.SetAlias(ctx, doc.Name, a, n); err != nil {
			return nil, err
		}
	}
	// Aliases the remote removed since it was last seen.
	if tracked != nil {
		for a := range tracked.Aliases {
			if _, still := doc.Aliases[a]; still {
				continue
			}
			tc, _ := tracked.aliasCommit(a)
			if lc, here := commitHere(a); here && lc == tc {
				if err := idx.RemoveAlias(ctx, doc.Name, a); err != nil {
					return nil, err
				}
			}
		}
	}
	return conflicts, nil
}
