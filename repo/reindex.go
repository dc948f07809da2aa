package repo

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/lineage"
	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// ReindexReport says what Reindex rebuilt.
type ReindexReport struct {
	Objects   int // objects in the store
	Artifacts int // artifacts indexed
	Versions  int // versions indexed
	Runs      int // ended runs rebuilt from their run objects
	// Running counts the running runs kept from the old index: they have no
	// object yet, so they survive only if the old index was there.
	Running int
	// Skipped counts commits not indexed as versions: versions deleted (as
	// their ref document says, or whose content is gone), and commits left
	// by transactions that never committed.
	Skipped int
	// UnknownRuns lists runs that commits name as their producer but that
	// neither a run object nor the old index knows (they were running when
	// the index was lost). The versions keep the producer's ID.
	UnknownRuns []string
	// Damaged lists versions indexed though their trees could not be read
	// (size and file count 0); `art fsck` says more.
	Damaged []string
	// BadRefDocs lists ref documents that could not be read; their
	// artifacts were rebuilt from commits alone.
	BadRefDocs []string
}

// Reindex rebuilds the SQLite index — artifacts, versions, aliases, runs
// and their edges — from the objects in the store and the ref documents
// (refs/<name>.json), so that a lost or damaged index.db can be recreated:
// delete index.db (and its -wal and -shm files), open the repository,
// which creates an empty index, and reindex.
//
// If the index being replaced still holds artifacts, it is the newest
// record of which commits are versions (ref documents are rewritten after
// each transaction, and a process killed in between leaves them behind):
// exactly its versions are kept, and everything else is rebuilt. Else, as
// after losing index.db, the commits and ref documents decide:
//
// Every commit object is a candidate version. A ref document decides what
// commits alone cannot: versions it lists as deleted stay deleted, its
// next version number is kept (so numbers are never reused), its aliases
// are restored, and where two commits claim one number (one left by a
// transaction that never committed) the one it lists wins. Without a ref
// document every commit whose root tree is present is restored, the
// newest winning a clash, and aliases are lost. Every run object becomes
// an ended run with its inputs and outputs.
//
// Running runs have no object: Reindex keeps the ones the current index
// holds (with their edges), so they are lost only when index.db was. The
// rebuild is one transaction: readers see the old index or the new.
func (r *Repo) Reindex(ctx context.Context) (ReindexReport, error) {
	var rep ReindexReport
	commits, runs, n, err := r.scanMetaObjects(ctx)
	if err != nil {
		return rep, fmt.Errorf("reindex: %w", err)
	}
	rep.Objects = n
	docs, bad, err := r.readRefDocs()
	if err != nil {
		return rep, fmt.Errorf("reindex: %w", err)
	}
	rep.BadRefDocs = bad

	// Choose the versions of each artifact.
	byName := map[string][]commitObj{}
	for _, c := range commits {
		byName[c.c.Name] = append(byName[c.c.Name], c)
	}
	for name := range docs {
		if _, ok := byName[name]; !ok {
			byName[name] = nil // every version deleted: keep the artifact and its numbering
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	type artifact struct {
		name, typ string
		next      int64
		versions  []refs.Version
		aliases   map[string]int64
		retention refs.Retention
	}
	// The index being replaced, if it holds anything, is newer than any
	// ref document (a document is rewritten after each transaction) and
	// knows which commits are versions: a commit object it does not hold
	// is one whose transaction never committed (a commit killed after
	// writing the object) or a version deleted (an rm killed before it
	// rewrote the document). An empty index (index.db lost) knows nothing:
	// then the documents and the commits decide.
	old := r.index()
	oldArts, err := old.Artifacts(ctx)
	haveOld := err == nil && len(oldArts) > 0
	var arts []artifact
	for _, name := range names {
		doc := docs[name]
		var oldLive map[objects.ID]bool
		if haveOld {
			oldLive = map[objects.ID]bool{}
			vs, err := old.Versions(ctx, name)
			if err != nil && !errors.Is(err, refs.ErrNotFound) {
				return rep, fmt.Errorf("reindex: %w", err)
			}
			for _, v := range vs {
				oldLive[v.Commit] = true
			}
		}
		chosen := map[int64]commitObj{}
		for _, c := range byName[name] {
			if !r.keepCommit(ctx, doc, c, oldLive) {
				rep.Skipped++
				continue
			}
			v := c.c.Version
			if prev, ok := chosen[v]; ok {
				rep.Skipped++
				if !newerCommit(doc, c, prev) {
					continue
				}
			}
			chosen[v] = c
		}
		a := artifact{name: name, aliases: map[string]int64{}}
		if doc != nil {
			a.typ, a.next = doc.Type, doc.NextVersion
		}
		nums := make([]int64, 0, len(chosen))
		for v := range chosen {
			nums = append(nums, v)
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
		for _, v := range nums {
			c := chosen[v]
			if a.typ == "" {
				a.typ = c.c.Type // the first version's
			}
			if c.c.Type != a.typ || refs.ValidateName(c.c.Name) != nil || refs.ValidateType(c.c.Type) != nil {
				rep.Skipped++
				continue
			}
			added := int64(-1)
			if id, ok := doc.commitOf(v); doc != nil && ok && id == c.id {
				added = doc.addedOf(v)
			}
			ver := refs.Version{Name: name, Type: a.typ, Version: v, Commit: c.id, Tree: c.c.Tree, Added: added,
				Created: c.c.Created, Description: c.c.Description, Metadata: c.c.Metadata, Producer: c.c.Run}
			err := r.walkTree(ctx, c.c.Tree, "", func(_ string, e objects.TreeEntry) error {
				ver.Files++
				if e.Size > 0 {
					ver.Size += e.Size
				}
				return nil
			})
			if err != nil {
				if !errors.Is(err, objects.ErrNotFound) && !errors.Is(err, objects.ErrCorrupt) {
					return rep, fmt.Errorf("reindex: %w", err)
				}
				rep.Damaged = append(rep.Damaged, ver.Ref())
			}
			a.versions = append(a.versions, ver)
			a.next = max(a.next, v+1)
		}
		if a.typ == "" {
			continue // a ref document of an artifact that had no type: nothing to restore
		}
		if doc != nil {
			live := map[int64]bool{}
			for _, v := range a.versions {
				live[v.Version] = true
			}
			for alias, v := range doc.Aliases {
				if live[v] && refs.ValidateAlias(alias) == nil {
					a.aliases[alias] = v
				}
			}
			if p, err := refs.DecodeRetention(doc.Retention); err == nil {
				a.retention = p
			}
		}
		arts = append(arts, a)
	}

	// Choose one object per run: two exist only if a finish was interrupted
	// after writing its object and the run was finished again; the later wins.
	latest := map[string]runObj{}
	for _, ro := range runs {
		if prev, ok := latest[ro.o.ID]; !ok || ro.o.Finished.After(prev.o.Finished) ||
			ro.o.Finished.Equal(prev.o.Finished) && bytes.Compare(ro.id[:], prev.id[:]) > 0 {
			latest[ro.o.ID] = ro
		}
	}
	runIDs := make([]string, 0, len(latest))
	for id := range latest {
		runIDs = append(runIDs, id)
	}
	sort.Strings(runIDs)
	producer := map[objects.ID]string{}
	for _, c := range commits {
		producer[c.id] = c.c.Run
	}

	err = r.writeTx(ctx, func(tx *sql.Tx) error {
		idx, x := refs.NewIndex(tx), lineage.NewIndex(tx)
		if err := idx.Clear(ctx); err != nil {
			return err
		}
		if _, err := x.DropEnded(ctx); err != nil {
			return err
		}
		for _, a := range arts {
			if err := idx.EnsureArtifact(ctx, a.name, a.typ); err != nil {
				return err
			}
			for _, v := range a.versions {
				if err := idx.Insert(ctx, v); err != nil {
					return err
				}
			}
			if err := idx.RaiseNextVersion(ctx, a.name, a.next); err != nil {
				return err
			}
			for alias, v := range a.aliases {
				if _, err := idx.SetAlias(ctx, a.name, alias, v); err != nil {
					return err
				}
			}
			if err := idx.SetRetention(ctx, a.name, a.retention); err != nil {
				return err
			}
			rep.Artifacts++
			rep.Versions += len(a.versions)
		}
		for _, id := range runIDs {
			ro := latest[id]
			outs := make([]lineage.Output, len(ro.o.Outputs))
			for i, c := range ro.o.Outputs {
				outs[i] = lineage.Output{Commit: c, Created: producer[c] == id}
			}
			if err := x.Restore(ctx, lineage.FromObject(ro.id, ro.o), ro.o.Inputs, outs); err != nil {
				return err
			}
			rep.Runs++
		}
		all, err := x.Runs(ctx)
		if err != nil {
			return err
		}
		for _, run := range all {
			if run.Running() {
				rep.Running++
			}
		}
		// Producers no run record explains.
		seen := map[string]bool{}
		for _, a := range arts {
			for _, v := range a.versions {
				if v.Producer == "" || seen[v.Producer] {
					continue
				}
				seen[v.Producer] = true
				if _, err := x.Run(ctx, v.Producer); errors.Is(err, lineage.ErrNotFound) || errors.Is(err, lineage.ErrInvalidRunID) {
					rep.UnknownRuns = append(rep.UnknownRuns, v.Producer)
				}
			}
		}
		sort.Strings(rep.UnknownRuns)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("reindex: %w", err)
	}
	// The stat cache is tied to the gc generation, which a new index
	// restarts: drop it rather than trust it.
	r.clearStatCache()
	for _, a := range arts {
		r.saveRefDoc(ctx, a.name)
	}
	return rep, nil
}

// keepCommit reports whether the commit c should be indexed as a version:
// if oldLive is not nil (the index being replaced holds artifacts), exactly
// when it is a version there; else as the artifact's ref document doc (nil
// if none) says.
func (r *Repo) keepCommit(ctx context.Context, doc *refDoc, c commitObj, oldLive map[objects.ID]bool) bool {
	if oldLive != nil {
		return oldLive[c.id]
	}
	if doc == nil {
		// Without a document, a commit whose content is gone was a version
		// deleted and collected, kept only for lineage.
		_, err := r.store.Stat(ctx, c.c.Tree)
		return err == nil
	}
	if doc.isDeleted(c.c.Version) {
		return false
	}
	if id, ok := doc.commitOf(c.c.Version); ok {
		return id == c.id
	}
	// Numbers below next_version that the document neither lists nor
	// deletes were never committed; numbers above it are versions newer
	// than the document (a write that lost a race, or an interrupted one).
	if c.c.Version < doc.NextVersion {
		return false
	}
	_, err := r.store.Stat(ctx, c.c.Tree)
	return err == nil
}

// newerCommit reports whether c should replace prev as the commit of their
// version number: the one the document lists, else the newer.
func newerCommit(doc *refDoc, c, prev commitObj) bool {
	if doc != nil {
		if id, ok := doc.commitOf(c.c.Version); ok {
			return id == c.id
		}
	}
	if !c.c.Created.Equal(prev.c.Created) {
		return c.c.Created.After(prev.c.Created)
	}
	return bytes.Compare(c.id[:], prev.id[:]) > 0
}

type commitObj struct {
	id objects.ID
	c  *objects.Commit
}

type runObj struct {
	id objects.ID
	o  *objects.Run
}

// scanMetaObjects lists the store and decodes every commit and run object,
// telling them from blobs by their header. A blob that merely starts like
// one (but does not decode) is left alone; an object whose bytes fail
// their hash is an error.
func (r *Repo) scanMetaObjects(ctx context.Context) ([]commitObj, []runObj, int, error) {
	var candidates []objects.ID
	n := 0
	minLen := int64(min(len(objects.CommitHeader), len(objects.RunHeader)))
	if err := r.store.List(ctx, func(i objects.Info) error {
		n++
		if !i.Chunked && i.Size >= minLen && i.Size <= objects.MaxMetaObjectSize {
			candidates = append(candidates, i.ID)
		}
		return nil
	}); err != nil {
		return nil, nil, 0, err
	}
	var mu sync.Mutex
	var commits []commitObj
	var runs []runObj
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4 * runtime.GOMAXPROCS(0))
	for _, id := range candidates {
		g.Go(func() error {
			head, err := r.readHead(gctx, id)
			if err != nil {
				return err
			}
			isCommit := strings.HasPrefix(head, objects.CommitHeader)
			if !isCommit && !strings.HasPrefix(head, objects.RunHeader) {
				return nil
			}
			b, err := objects.ReadAll(gctx, r.store, id, objects.MaxMetaObjectSize)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if isCommit {
				if c, err := objects.DecodeCommit(b); err == nil {
					commits = append(commits, commitObj{id, c})
				}
			} else if o, err := objects.DecodeRun(b); err == nil {
				runs = append(runs, runObj{id, o})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, 0, err
	}
	return commits, runs, n, nil
}

// readHead returns the first bytes of an object, enough to hold a header.
func (r *Repo) readHead(ctx context.Context, id objects.ID) (string, error) {
	rc, err := r.store.Open(ctx, id)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	buf := make([]byte, max(len(objects.CommitHeader), len(objects.RunHeader)))
	k, err := io.ReadFull(rc, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		var ce *objects.CorruptError
		if errors.As(err, &ce) {
			return "", nil // a short object that fails its hash is no commit; fsck reports it
		}
		return "", err
	}
	return string(buf[:k]), nil
}
