package repo

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// A ref document, refs/<name>.json in the repository, records what of an
// artifact is not in any object: its aliases, the versions deleted (so
// Reindex does not bring them back from their commits) and the next
// version number (so numbers are never reused), plus the commit of each
// live version (so Reindex can tell the real commit of a number from one
// left by a transaction that never committed). It is rewritten whole,
// atomically, after every transaction that changes any of these, from
// what the index then holds.
//
// It is an aid for Reindex, not the record: the index is. A document that
// could not be written is rewritten by the next change, and Reindex
// without one still recovers every version from its commit.
type refDoc struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	NextVersion int64             `json:"next_version"`
	Aliases     map[string]int64  `json:"aliases"`
	Deleted     []int64           `json:"deleted"`
	Versions    map[string]string `json:"versions"` // "3" -> commit ID
	// Added is what each version added to the store when it was
	// recorded ("3" -> bytes), which no object holds.
	Added map[string]int64 `json:"added,omitempty"`
	// Retention is the artifact's retention policy (refs.EncodeRetention).
	Retention string `json:"retention,omitempty"`

	deleted map[int64]bool // Deleted as a set, filled by readRefDocs
}

const refDocDir = "refs"

func (r *Repo) refDocPath(name string) string {
	return filepath.Join(r.dir, refDocDir, name+".json")
}

// refDocMu serialises ref document writes within the process; lockRefDocs
// adds the file system's FileLocker (flock on the OS file system) for
// other processes.
var refDocMu sync.Mutex

// lockRefDocs takes the ref documents' lock and returns its release.
func (r *Repo) lockRefDocs() (func(), error) {
	refDocMu.Lock()
	l := fileLockerOf(r.fs)
	if l == nil {
		return refDocMu.Unlock, nil
	}
	if err := r.fs.MkdirAll(filepath.Join(r.dir, refDocDir), 0o755); err != nil {
		refDocMu.Unlock()
		return nil, err
	}
	unlock, err := l.LockFile(filepath.Join(r.dir, refDocDir, ".lock"))
	if err != nil {
		refDocMu.Unlock()
		return nil, err
	}
	return func() {
		unlock()
		refDocMu.Unlock()
	}, nil
}

// saveRefDoc rewrites the ref document of the artifact name from the
// index. Callers run it after their transaction commits; under the lock it
// reads the index afresh, so whichever writer goes last writes the latest
// state. Failing to write it is not the caller's failure (see refDoc), so
// it returns nothing.
func (r *Repo) saveRefDoc(ctx context.Context, name string) {
	_ = r.writeRefDoc(ctx, name)
}

func (r *Repo) writeRefDoc(ctx context.Context, name string) error {
	if err := r.fs.MkdirAll(filepath.Join(r.dir, refDocDir), 0o755); err != nil {
		return err
	}
	unlock, err := r.lockRefDocs()
	if err != nil {
		return err
	}
	defer unlock()
	doc, err := r.buildRefDoc(ctx, name)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(r.fs, r.refDocPath(name), append(b, '\n'), 0o644)
}

func (r *Repo) buildRefDoc(ctx context.Context, name string) (*refDoc, error) {
	idx := r.index()
	typ, err := idx.ArtifactType(ctx, name)
	if err != nil {
		return nil, err
	}
	next, err := idx.NextVersion(ctx, name)
	if err != nil {
		return nil, err
	}
	vs, err := idx.Versions(ctx, name)
	if err != nil {
		return nil, err
	}
	commits := make(map[int64]objects.ID, len(vs))
	added := make(map[string]int64, len(vs))
	for _, v := range vs {
		commits[v.Version] = v.Commit
		if v.Added >= 0 {
			added[strconv.FormatInt(v.Version, 10)] = v.Added
		}
	}
	aliases, err := idx.Aliases(ctx, name)
	if err != nil {
		return nil, err
	}
	p, err := idx.Retention(ctx, name)
	if err != nil {
		return nil, err
	}
	doc := &refDoc{Name: name, Type: typ, NextVersion: next, Aliases: aliases,
		Deleted: []int64{}, Versions: make(map[string]string, len(commits)), Added: added,
		Retention: refs.EncodeRetention(p)}
	for v := int64(0); v < next; v++ {
		if id, ok := commits[v]; ok {
			doc.Versions[strconv.FormatInt(v, 10)] = id.String()
		} else {
			doc.Deleted = append(doc.Deleted, v)
		}
	}
	return doc, nil
}

// readRefDocs reads every ref document, by artifact name. A document that
// does not parse, or whose name does not match its file, is skipped and
// reported in bad.
func (r *Repo) readRefDocs() (docs map[string]*refDoc, bad []string, err error) {
	docs = map[string]*refDoc{}
	dir := filepath.Join(r.dir, refDocDir)
	entries, err := afero.ReadDir(r.fs, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return docs, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		fname := e.Name()
		if e.IsDir() || !strings.HasSuffix(fname, ".json") || strings.HasPrefix(fname, ".") {
			continue
		}
		name := strings.TrimSuffix(fname, ".json")
		b, err := afero.ReadFile(r.fs, filepath.Join(dir, fname))
		if err != nil {
			return nil, nil, err
		}
		var doc refDoc
		if err := json.Unmarshal(b, &doc); err != nil || doc.Name != name || refs.ValidateName(name) != nil ||
			refs.ValidateType(doc.Type) != nil || doc.NextVersion < 0 {
			bad = append(bad, fname)
			continue
		}
		doc.deleted = make(map[int64]bool, len(doc.Deleted))
		for _, v := range doc.Deleted {
			doc.deleted[v] = true
		}
		docs[name] = &doc
	}
	sort.Strings(bad)
	return docs, bad, nil
}

// commitOf returns the commit the document records for version v.
func (d *refDoc) commitOf(v int64) (objects.ID, bool) {
	if d == nil {
		return objects.ZeroID, false
	}
	s, ok := d.Versions[strconv.FormatInt(v, 10)]
	if !ok {
		return objects.ZeroID, false
	}
	id, err := objects.ParseID(s)
	return id, err == nil
}

// addedOf returns what the document records version v added to the store,
// or -1.
func (d *refDoc) addedOf(v int64) int64 {
	if n, ok := d.Added[strconv.FormatInt(v, 10)]; ok && n >= 0 {
		return n
	}
	return -1
}

// isDeleted reports whether the document lists version v as deleted.
func (d *refDoc) isDeleted(v int64) bool { return d.deleted[v] }
