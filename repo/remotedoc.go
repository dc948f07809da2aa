package repo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// remoteDocFormat is the format of ref documents on remotes; a document
// that lists removed versions or has a retention policy has format
// remoteDocFormatRemoved, so that an art from before them refuses it
// ("upgrade art") rather than push the removed versions back or drop the
// policy.
const (
	remoteDocFormat        = 1
	remoteDocFormatRemoved = 2
)

// maxRemoteDocSize bounds a ref document read from a remote: about 100,000
// versions.
const maxRemoteDocSize = 16 << 20

// A remoteDoc is refs/<name>.json on a remote: everything about an
// artifact that is not in its objects. It is replaced only by
// compare-and-swap, so concurrent pushes never lose a version.
type remoteDoc struct {
	Format      int                   `json:"format"`
	Name        string                `json:"name"`
	Type        string                `json:"type"`
	NextVersion int64                 `json:"next_version"`
	Versions    []remoteVersion       `json:"versions"` // ascending by number
	Aliases     map[string]int64      `json:"aliases"`
	Runs        map[string]objects.ID `json:"runs"` // run ID -> run object, for runs that logged or used these versions
	// Removed lists the versions removed from the remote (art rm
	// --remote), ascending by number: a push never sends them back, and
	// a pull reports them (and with Prune removes them here).
	Removed []removedVersion `json:"removed,omitempty"`
	// Retention is the artifact's retention policy, which remote gc
	// applies there and pulls take here (nil: none).
	Retention *refs.Retention `json:"retention,omitempty"`
}

// retention returns the document's retention policy (zero for none).
func (d *remoteDoc) retention() refs.Retention {
	if d == nil || d.Retention == nil {
		return refs.Retention{}
	}
	return *d.Retention
}

// newer reports whether the document uses what only format 2 holds.
func (d *remoteDoc) newer() bool { return len(d.Removed) > 0 || d.Retention != nil }

// removedVersion is a version removed from a remote's document.
type removedVersion struct {
	Version int64      `json:"version"`
	Commit  objects.ID `json:"commit"`
}

type remoteVersion struct {
	Version int64      `json:"version"`
	Commit  objects.ID `json:"commit"`
	Size    int64      `json:"size"`
	Files   int64      `json:"files"`
}

// remoteObjectKey is where an object lives on a remote.
func remoteObjectKey(id objects.ID) string {
	h := id.String()
	return "objects/" + h[:2] + "/" + h[2:]
}

// remoteListKey is where a chunked blob's chunk list lives on a remote.
func remoteListKey(id objects.ID) string { return remoteObjectKey(id) + objects.ChunkListSuffix }

// remoteRefKey is where an artifact's ref document lives on a remote.
func remoteRefKey(name string) string { return "refs/" + name + ".json" }

// encode returns d's canonical encoding (indented JSON, sorted keys).
func (d *remoteDoc) encode() ([]byte, error) {
	if d.Aliases == nil {
		d.Aliases = map[string]int64{}
	}
	if d.Runs == nil {
		d.Runs = map[string]objects.ID{}
	}
	if d.Versions == nil {
		d.Versions = []remoteVersion{}
	}
	sort.Slice(d.Versions, func(i, j int) bool { return d.Versions[i].Version < d.Versions[j].Version })
	sort.Slice(d.Removed, func(i, j int) bool { return d.Removed[i].Version < d.Removed[j].Version })
	if d.Retention != nil && d.Retention.IsZero() {
		d.Retention = nil
	}
	d.Format = remoteDocFormat
	if d.newer() {
		d.Format = remoteDocFormatRemoved
	}
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeRemoteDoc parses and validates a ref document read from a remote
// under the key of name: known format, the right name, valid type, alias
// and run names, versions strictly ascending below next_version, aliases
// pointing at listed versions. Anything else is an error saying what is
// wrong.
func decodeRemoteDoc(b []byte, name string) (*remoteDoc, error) {
	if len(b) > maxRemoteDocSize {
		return nil, fmt.Errorf("ref document of %s is larger than %d bytes", name, maxRemoteDocSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d remoteDoc
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("ref document of %s is not valid: %v", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("ref document of %s has trailing data", name)
	}
	if d.Format != remoteDocFormat && d.Format != remoteDocFormatRemoved {
		return nil, fmt.Errorf("ref document of %s has format %d (this art reads %d and %d; upgrade art)", name, d.Format, remoteDocFormat, remoteDocFormatRemoved)
	}
	if d.Retention != nil && (d.Retention.IsZero() || d.Retention.Validate() != nil) {
		return nil, fmt.Errorf("ref document of %s: bad retention policy", name)
	}
	if (d.Format == remoteDocFormatRemoved) != d.newer() {
		return nil, fmt.Errorf("ref document of %s: format %d with %d removed versions and retention %v (format %d has them, and only it)",
			name, d.Format, len(d.Removed), d.Retention != nil, remoteDocFormatRemoved)
	}
	if d.Name != name {
		return nil, fmt.Errorf("ref document of %s names artifact %q", name, d.Name)
	}
	if err := refs.ValidateName(d.Name); err != nil {
		return nil, fmt.Errorf("ref document: %w", err)
	}
	if err := refs.ValidateType(d.Type); err != nil {
		return nil, fmt.Errorf("ref document of %s: %w", name, err)
	}
	nums := map[int64]bool{}
	for i, v := range d.Versions {
		if v.Version < 0 || v.Version >= d.NextVersion || i > 0 && v.Version <= d.Versions[i-1].Version {
			return nil, fmt.Errorf("ref document of %s: version numbers must ascend from 0 below next_version %d", name, d.NextVersion)
		}
		if v.Commit.IsZero() || v.Size < 0 || v.Files < 0 {
			return nil, fmt.Errorf("ref document of %s: bad entry for v%d", name, v.Version)
		}
		nums[v.Version] = true
	}
	for i, v := range d.Removed {
		if v.Version < 0 || v.Version >= d.NextVersion || i > 0 && v.Version <= d.Removed[i-1].Version || nums[v.Version] {
			return nil, fmt.Errorf("ref document of %s: removed version numbers must ascend from 0 below next_version %d, apart from the versions listed", name, d.NextVersion)
		}
		if v.Commit.IsZero() {
			return nil, fmt.Errorf("ref document of %s: bad removed entry for v%d", name, v.Version)
		}
	}
	for a, v := range d.Aliases {
		if err := refs.ValidateAlias(a); err != nil {
			return nil, fmt.Errorf("ref document of %s: %w", name, err)
		}
		if !nums[v] {
			return nil, fmt.Errorf("ref document of %s: alias %s names v%d, which it does not list", name, a, v)
		}
	}
	for id, obj := range d.Runs {
		if err := objects.ValidateRunID(id); err != nil {
			return nil, fmt.Errorf("ref document of %s: %w", name, err)
		}
		if obj.IsZero() {
			return nil, fmt.Errorf("ref document of %s: run %s has no object", name, id)
		}
	}
	return &d, nil
}

// byCommit returns the document's versions by commit.
func (d *remoteDoc) byCommit() map[objects.ID]remoteVersion {
	m := map[objects.ID]remoteVersion{}
	if d != nil {
		for _, v := range d.Versions {
			m[v.Commit] = v
		}
	}
	return m
}

// commitOf returns the commit of version n in d.
func (d *remoteDoc) commitOf(n int64) (objects.ID, bool) {
	if d == nil {
		return objects.ZeroID, false
	}
	i := sort.Search(len(d.Versions), func(i int) bool { return d.Versions[i].Version >= n })
	if i < len(d.Versions) && d.Versions[i].Version == n {
		return d.Versions[i].Commit, true
	}
	return objects.ZeroID, false
}

// aliasCommit returns the commit alias a names in d.
func (d *remoteDoc) aliasCommit(a string) (objects.ID, bool) {
	if d == nil {
		return objects.ZeroID, false
	}
	n, ok := d.Aliases[a]
	if !ok {
		return objects.ZeroID, false
	}
	return d.commitOf(n)
}

// removedCommits returns the commits of the document's removed versions,
// by commit, with their numbers.
func (d *remoteDoc) removedCommits() map[objects.ID]int64 {
	m := map[objects.ID]int64{}
	if d != nil {
		for _, v := range d.Removed {
			m[v.Commit] = v.Version
		}
	}
	return m
}

// removedNumbers returns the numbers of the document's removed versions,
// with their commits.
func (d *remoteDoc) removedNumbers() map[int64]objects.ID {
	m := map[int64]objects.ID{}
	if d != nil {
		for _, v := range d.Removed {
			m[v.Version] = v.Commit
		}
	}
	return m
}
