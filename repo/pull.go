package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

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
	Progress TransferProgress
}

// Renumbered is a local version a pull moved after the remote's.
type Renumbered struct {
	From string `json:"from"` // "v1"
	To   string `json:"to"`   // "v2"
	ID   string `json:"id"`   // the version's new commit ID
}

// AliasConflict is an alias both sides moved since they last met; the
// local move is kept (it comes after the remote's), and the next push
// publishes it.
type AliasConflict struct {
	Alias  string `json:"alias"`
	Remote string `json:"remote"` // where the remote put it
	Local  string `json:"local"`  // where it stays here
}

// Pulled says what a pull or fetch did for one artifact.
type Pulled struct {
	Name       string          `json:"name"`
	Versions   []string        `json:"versions"`             // remote versions added here
	Renumbered []Renumbered    `json:"renumbered,omitempty"` // local versions moved after the remote's
	Skipped    []string        `json:"skipped,omitempty"`    // remote versions not taken (StrategySkip, or deleted here)
	Replaced   []string        `json:"replaced,omitempty"`   // local versions deleted for the remote's (StrategyReplace)
	Conflicts  []AliasConflict `json:"alias_conflicts,omitempty"`
	Runs       int             `json:"runs"` // runs added to the lineage
}

// PullResult is the outcome of Pull or Fetch.
type PullResult struct {
	Remote    string   `json:"remote"`
	Artifacts []Pulled `json:"artifacts"`
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
	for attempt := 0; ; attempt++ {
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
		d := newDownloader(r, t, remoteName, opts.Progress)
		got, err := d.artifact(ctx, doc, blobs)
		stats.Objects += d.objects.Load()
		stats.Bytes += d.bytes.Load()
		if err != nil {
			return Pulled{}, stats, err
		}
		if err := d.batch.Sync(ctx); err != nil {
			return Pulled{}, stats, err
		}
		p, err := r.importArtifact(ctx, remoteName, doc, got, gen, opts.Strategy)
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

// downloader receives objects from a remote, verifying each before it is
// stored.
type downloader struct {
	r      *Repo
	t      remote.Transport
	remote string
	batch  *objects.Batch
	sem
	done     sync.Map // object ID -> true once here
	objects  atomic.Int64
	bytes    atomic.Int64
	progress TransferProgress
}

func newDownloader(r *Repo, t remote.Transport, remoteName string, progress TransferProgress) *downloader {
	return &downloader{r: r, t: t, remote: remoteName, batch: r.store.NewBatch(),
		sem: newSem(), progress: progress}
}

// artifact fetches what doc names that is missing here: the commits and
// trees of versions not here (with file contents if blobs), file contents
// of versions here whose files are not (if blobs), and run objects.
func (d *downloader) artifact(ctx context.Context, doc *remoteDoc, blobs bool) (*fetched, error) {
	got := &fetched{commits: map[objects.ID]*objects.Commit{}, runs: map[objects.ID]*objects.Run{}}
	idx := d.r.index()
	for _, v := range doc.Versions {
		if lv, err := idx.ByCommit(ctx, v.Commit); err == nil {
			if blobs {
				if err := d.tree(ctx, lv.Tree, 0, true); err != nil {
					return nil, err
				}
			}
			continue
		}
		b, err := d.meta(ctx, v.Commit)
		if errors.Is(err, ErrObjectNotFound) {
			return nil, fmt.Errorf("%w: the ref document of %s on remote %s names %s, commit %s, which the remote does not hold",
				remote.ErrBadResponse, doc.Name, d.remote, refs.VersionString(v.Version), v.Commit)
		}
		if err != nil {
			return nil, err
		}
		c, err := objects.DecodeCommit(b)
		if err != nil {
			return nil, fmt.Errorf("commit %s from remote %s: %w", v.Commit, d.remote, err)
		}
		if c.Name != doc.Name || c.Type != doc.Type || c.Version != v.Version {
			return nil, fmt.Errorf("%w: the ref document of %s on remote %s lists commit %s as %s:%s, but it is %s:%s of type %s",
				remote.ErrBadResponse, doc.Name, d.remote, v.Commit.Short(), doc.Name, refs.VersionString(v.Version),
				c.Name, refs.VersionString(c.Version), c.Type)
		}
		if err := d.tree(ctx, c.Tree, 0, blobs); err != nil {
			return nil, err
		}
		got.commits[v.Commit] = c
	}
	x := d.r.lineage()
	for id, obj := range doc.Runs {
		if run, err := x.Run(ctx, id); err == nil && !run.Running() {
			continue
		}
		b, err := d.meta(ctx, obj)
		if err != nil {
			return nil, err
		}
		o, err := objects.DecodeRun(b)
		if err != nil {
			return nil, fmt.Errorf("run object %s from remote %s: %w", obj, d.remote, err)
		}
		if o.ID != id {
			return nil, fmt.Errorf("%w: remote %s lists run %s with the object of run %s", remote.ErrBadResponse, d.remote, id, o.ID)
		}
		got.runs[obj] = o
	}
	return got, nil
}

func (d *downloader) count(n int64) {
	o := d.objects.Add(1)
	b := d.bytes.Add(n)
	if d.progress != nil {
		d.progress(o, b)
	}
}

// get opens key on the remote, refusing content larger than max bytes or,
// if want >= 0, of another size than want.
func (d *downloader) get(ctx context.Context, key string, max, want int64) (io.ReadCloser, int64, error) {
	rc, info, err := d.t.Get(ctx, key)
	if errors.Is(err, remote.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s is not on remote %s", ErrObjectNotFound, key, d.remote)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s from remote %s: %w", key, d.remote, err)
	}
	if info.Size > max || want >= 0 && info.Size != want {
		rc.Close()
		w := fmt.Sprintf("at most %d", max)
		if want >= 0 {
			w = fmt.Sprint(want)
		}
		return nil, 0, fmt.Errorf("%w: %s on remote %s has %d bytes, want %s", ErrCorrupt, key, d.remote, info.Size, w)
	}
	return rc, info.Size, nil
}

// meta returns a small object (commit, tree, run), from the store if it is
// here, else fetched, verified and stored.
func (d *downloader) meta(ctx context.Context, id objects.ID) ([]byte, error) {
	if b, err := objects.ReadAll(ctx, d.r.store, id, objects.MaxMetaObjectSize); err == nil {
		return b, nil
	} else if !errors.Is(err, objects.ErrNotFound) {
		return nil, err
	}
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	rc, _, err := d.get(ctx, remoteObjectKey(id), objects.MaxMetaObjectSize, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, objects.MaxMetaObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s from remote %s: %w", id, d.remote, err)
	}
	if got := objects.Hash(b); got != id {
		return nil, fmt.Errorf("remote %s: %w", d.remote, &objects.CorruptError{ID: id, Reason: "received content hashes to " + got.String()})
	}
	if _, err := d.batch.PutBytes(ctx, b); err != nil {
		return nil, err
	}
	d.count(int64(len(b)))
	return b, nil
}

// tree fetches a tree (decoding it, which refuses unsafe entry names) and
// the trees below it, and with blobs the file contents.
func (d *downloader) tree(ctx context.Context, id objects.ID, depth int, blobs bool) error {
	if depth > objects.MaxPathDepth {
		return fmt.Errorf("%w: tree %s from remote %s nests too deep", ErrInvalidPath, id, d.remote)
	}
	if _, ok := d.done.Load(id); ok {
		return nil
	}
	b, err := d.meta(ctx, id)
	if err != nil {
		return err
	}
	t, err := objects.DecodeTree(b)
	if err != nil {
		return fmt.Errorf("tree %s from remote %s: %w", id, d.remote, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferWorkers)
	for _, e := range t.Entries {
		switch e.Kind {
		case objects.KindDir:
			g.Go(func() error { return d.tree(gctx, e.ID, depth+1, blobs) })
		case objects.KindFile:
			if blobs {
				g.Go(func() error { return d.blob(gctx, e.ID, e.Size) })
			}
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	d.done.Store(id, true)
	return nil
}

// chunkedGuess is the size from which a blob is looked for as a chunk
// list first.
const chunkedGuess = 1 << 20

// blob fetches a file's content unless it is here: the whole blob, or its
// chunk list and the chunks missing here.
func (d *downloader) blob(ctx context.Context, id objects.ID, size int64) error {
	if _, ok := d.done.Load(id); ok {
		return nil
	}
	if ok, err := d.r.store.Complete(ctx, id); err != nil {
		return err
	} else if ok {
		d.done.Store(id, true)
		return nil
	}
	order := []bool{false, true} // whole, then chunked
	if size >= chunkedGuess {
		order = []bool{true, false}
	}
	var err error
	for _, chunked := range order {
		if chunked {
			err = d.chunked(ctx, id, size)
		} else {
			err = d.object(ctx, id, size)
		}
		if !errors.Is(err, ErrObjectNotFound) {
			break
		}
	}
	if err == nil {
		d.done.Store(id, true)
	}
	return err
}

// object fetches one object unless it is here; size is its size, or -1
// if not known.
func (d *downloader) object(ctx context.Context, id objects.ID, size int64) error {
	if _, err := d.r.store.Stat(ctx, id); err == nil {
		return nil
	}
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	rc, n, err := d.get(ctx, remoteObjectKey(id), 1<<40, size)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := d.batch.PutExpect(ctx, id, io.LimitReader(rc, n)); err != nil {
		return fmt.Errorf("object %s from remote %s: %w", id.Short(), d.remote, err)
	}
	d.count(n)
	return nil
}

// chunked fetches a chunk list, the chunks missing here, then checks the
// whole and stores the list.
func (d *downloader) chunked(ctx context.Context, id objects.ID, size int64) error {
	key := remoteListKey(id)
	if err := d.acquire(ctx); err != nil {
		return err
	}
	rc, _, err := d.get(ctx, key, objects.MaxMetaObjectSize, -1)
	if err != nil {
		d.release()
		return err
	}
	b, err := io.ReadAll(io.LimitReader(rc, objects.MaxMetaObjectSize+1))
	rc.Close()
	d.release()
	if err != nil {
		return fmt.Errorf("fetch %s from remote %s: %w", key, d.remote, err)
	}
	l, err := objects.DecodeChunkList(b)
	if err == nil && (l.Blob != id || size >= 0 && l.Size != size) {
		err = fmt.Errorf("it describes %d bytes of blob %s", l.Size, l.Blob.Short())
	}
	if err != nil {
		return fmt.Errorf("remote %s: %w", d.remote, &objects.CorruptError{ID: id, Reason: "chunk list: " + err.Error()})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferWorkers)
	seen := map[objects.ID]bool{}
	for _, c := range l.Chunks {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		g.Go(func() error { return d.object(gctx, c.ID, c.Size) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := d.batch.PutChunkList(ctx, l); err != nil {
		return fmt.Errorf("blob %s from remote %s: %w", id.Short(), d.remote, err)
	}
	d.count(int64(len(b)))
	return nil
}

// importArtifact records what a pull fetched, in one transaction: the
// remote's versions under their numbers, local-only versions renumbered
// (or as strategy says), aliases merged and runs added to the lineage.
func (r *Repo) importArtifact(ctx context.Context, remoteName string, doc *remoteDoc, got *fetched, gen int64, strategy Strategy) (Pulled, error) {
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
		if err := idx.EnsureArtifact(ctx, doc.Name, doc.Type); err != nil {
			return err
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
					return fmt.Errorf("%w: %s is %s here and another version on remote %s; pull with --strategy new to renumber the local one",
						ErrConflict, refs.VersionString(v.Version), lv.Commit.Short(), remoteName)
				case StrategySkip:
					p.Skipped = append(p.Skipped, refs.VersionString(v.Version))
					continue
				}
				collide = append(collide, lv)
			}
			add = append(add, v)
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

// fetchMissing brings from its remote the files of a fetched version that
// are not here yet (a checkout of a version that came by `art fetch`).
func (r *Repo) fetchMissing(ctx context.Context, v Version, entries []ManifestEntry) error {
	if v.Remote == "" {
		return nil
	}
	var missing []ManifestEntry
	for _, e := range entries {
		if e.IsRef() {
			continue
		}
		if ok, err := r.store.Complete(ctx, e.Digest); err != nil {
			return err
		} else if !ok {
			missing = append(missing, e)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	t, err := r.transport(ctx, v.Remote)
	if err != nil {
		return fmt.Errorf("%s has %d file(s) not fetched yet: %w", v.Ref(), len(missing), err)
	}
	d := newDownloader(r, t, v.Remote, nil)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferWorkers)
	for _, e := range missing {
		g.Go(func() error { return d.blob(gctx, e.Digest, e.Size) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return d.batch.Sync(ctx)
}
