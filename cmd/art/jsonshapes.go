package main

import (
	"github.com/artvcs/art/repo"
)

// The --json shapes of the verbs whose results are repo types: the
// contract the README lists under "`--json` shapes". Each struct here is
// converted from its repo type field by field, so renaming a field of repo
// changes no output; the key order is the struct's. Slices keep their
// nil-ness (null) unless a converter says otherwise, as the output did when
// the repo types were encoded directly.

// transferJSON is the counts of a push or pull.
type transferJSON struct {
	Objects int64 `json:"objects"` // objects (and chunk lists) sent or received
	Bytes   int64 `json:"bytes"`
}

func newTransferJSON(st repo.TransferStats) transferJSON {
	return transferJSON{Objects: st.Objects, Bytes: st.Bytes}
}

// pushJSON is the outcome of `art push --json`.
type pushJSON struct {
	Remote    string       `json:"remote"`
	Artifacts []pushedJSON `json:"artifacts"` // [] when nothing was pushed
	transferJSON
}

// pushedJSON is what a push did for one artifact.
type pushedJSON struct {
	Name     string      `json:"name"`
	Versions []string    `json:"versions"`           // versions sent, "v3"
	UpToDate bool        `json:"up_to_date"`         // the remote already had everything
	Skipped  string      `json:"skipped,omitempty"`  // why it was skipped (--strategy skip)
	Pulled   *pulledJSON `json:"pulled,omitempty"`   // what --strategy new pulled first
	Replaced []string    `json:"replaced,omitempty"` // remote versions dropped (--strategy replace)
	// local versions not sent: removed from the remote (art rm --remote)
	RemovedThere []string `json:"removed_on_remote,omitempty"`
}

func newPushJSON(res repo.PushResult) pushJSON {
	out := pushJSON{
		Remote:       res.Remote,
		Artifacts:    mapSlice(res.Artifacts, newPushedJSON),
		transferJSON: newTransferJSON(res.TransferStats),
	}
	if out.Artifacts == nil {
		out.Artifacts = []pushedJSON{}
	}
	return out
}

func newPushedJSON(p repo.PushedArtifact) pushedJSON {
	out := pushedJSON{Name: p.Name, Versions: p.Versions, UpToDate: p.UpToDate, Skipped: p.Skipped, Replaced: p.Replaced,
		RemovedThere: p.RemovedThere}
	if p.Pulled != nil {
		pulled := newPulledJSON(*p.Pulled)
		out.Pulled = &pulled
	}
	return out
}

// pullJSON is the outcome of `art pull --json` and `art fetch --json`.
type pullJSON struct {
	Remote    string       `json:"remote"`
	Artifacts []pulledJSON `json:"artifacts"`
	transferJSON
}

// pulledJSON is what a pull or fetch did for one artifact.
type pulledJSON struct {
	Name       string              `json:"name"`
	Versions   []string            `json:"versions"`             // remote versions added here
	Renumbered []renumberedJSON    `json:"renumbered,omitempty"` // local versions moved after the remote's
	Skipped    []string            `json:"skipped,omitempty"`    // remote versions not taken
	Replaced   []string            `json:"replaced,omitempty"`   // local versions deleted for the remote's
	Conflicts  []aliasConflictJSON `json:"alias_conflicts,omitempty"`
	Runs       int                 `json:"runs"` // runs added to the lineage
	// versions here that were removed from the remote (art rm --remote)
	RemovedThere []string `json:"removed_on_remote,omitempty"`
	Pruned       []string `json:"pruned,omitempty"` // of those, removed here (--prune)
}

// renumberedJSON is a local version a pull moved after the remote's.
type renumberedJSON struct {
	From string `json:"from"` // "v1"
	To   string `json:"to"`   // "v2"
	ID   string `json:"id"`   // the version's new commit ID
}

// aliasConflictJSON is an alias both sides moved; the local move is kept.
type aliasConflictJSON struct {
	Alias  string `json:"alias"`
	Remote string `json:"remote"` // where the remote put it
	Local  string `json:"local"`  // where it stays here
}

func newPullJSON(res repo.PullResult) pullJSON {
	return pullJSON{
		Remote:       res.Remote,
		Artifacts:    mapSlice(res.Artifacts, newPulledJSON),
		transferJSON: newTransferJSON(res.TransferStats),
	}
}

func newPulledJSON(p repo.Pulled) pulledJSON {
	return pulledJSON{
		Name:     p.Name,
		Versions: p.Versions,
		Renumbered: mapSlice(p.Renumbered, func(r repo.Renumbered) renumberedJSON {
			return renumberedJSON{From: r.From, To: r.To, ID: r.ID}
		}),
		Skipped:  p.Skipped,
		Replaced: p.Replaced,
		Conflicts: mapSlice(p.Conflicts, func(c repo.AliasConflict) aliasConflictJSON {
			return aliasConflictJSON{Alias: c.Alias, Remote: c.Remote, Local: c.Local}
		}),
		Runs:         p.Runs,
		RemovedThere: p.RemovedThere,
		Pruned:       p.Pruned,
	}
}

// verifyProblemJSON is one problem in `art verify --json`.
type verifyProblemJSON struct {
	Path    string `json:"path"`
	Problem string `json:"problem"` // "missing", "modified" or "extra"
}

// newVerifyProblemsJSON converts problems; none is [].
func newVerifyProblemsJSON(problems []repo.VerifyProblem) []verifyProblemJSON {
	out := make([]verifyProblemJSON, len(problems))
	for i, p := range problems {
		out[i] = verifyProblemJSON{Path: p.Path, Problem: p.Problem}
	}
	return out
}

// fsckProblemJSON is one damaged object in `art fsck --json`.
type fsckProblemJSON struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"` // "corrupt" or "missing"
	Detail  string         `json:"detail"`
	Affects []affectedJSON `json:"affects"` // [] when no version uses it
}

// affectedJSON is a version, and the path in it, that uses a damaged
// object; the path is "" for the version's commit.
type affectedJSON struct {
	Version string `json:"version"`
	Path    string `json:"path"`
}

// newFsckProblemsJSON converts problems; none is [], and so is a problem
// affecting nothing.
func newFsckProblemsJSON(problems []repo.FsckProblem) []fsckProblemJSON {
	out := make([]fsckProblemJSON, len(problems))
	for i, p := range problems {
		affects := make([]affectedJSON, len(p.Affects))
		for j, a := range p.Affects {
			affects[j] = affectedJSON{Version: a.Version, Path: a.Path}
		}
		out[i] = fsckProblemJSON{ID: p.ID.String(), Kind: p.Kind, Detail: p.Detail, Affects: affects}
	}
	return out
}

// duJSON is the outcome of `art du --json`.
type duJSON struct {
	Artifacts []artifactUsageJSON `json:"artifacts"` // sorted by name; [] when none
	Logical   int64               `json:"logical"`
	Stored    int64               `json:"stored"`
	OnDisk    int64               `json:"on_disk"`
	Garbage   int64               `json:"garbage"`
	Objects   int                 `json:"objects"`
	Chunked   int                 `json:"chunked"`
}

// artifactUsageJSON is one artifact in `art du --json`.
type artifactUsageJSON struct {
	Name     string `json:"name"`
	Versions int    `json:"versions"`
	Logical  int64  `json:"logical"`
	Stored   int64  `json:"stored"`
}

func newDuJSON(u repo.Usage) duJSON {
	arts := make([]artifactUsageJSON, len(u.Artifacts))
	for i, a := range u.Artifacts {
		arts[i] = artifactUsageJSON{Name: a.Name, Versions: a.Versions, Logical: a.Logical, Stored: a.Stored}
	}
	return duJSON{Artifacts: arts, Logical: u.Logical, Stored: u.Stored, OnDisk: u.OnDisk,
		Garbage: u.Garbage, Objects: u.Objects, Chunked: u.Chunked}
}

// manifestEntryJSON is a file of a version, {"path", "size", "digest"}, or
// a reference, {"path", "size", "ref", "digest"} with size and digest null
// when unknown: `art show --json`'s manifest and `art diff --json`'s old
// and new.
type manifestEntryJSON struct {
	Path   string  `json:"path"`
	Size   *int64  `json:"size"`
	Ref    string  `json:"ref,omitempty"`
	Digest *string `json:"digest"`
}

func newManifestEntryJSON(e repo.ManifestEntry) manifestEntryJSON {
	out := manifestEntryJSON{Path: e.Path, Ref: e.Ref}
	if e.Size >= 0 {
		size := e.Size
		out.Size = &size
	}
	digest := e.Digest.String()
	if e.IsRef() {
		digest = e.RefDigest
	}
	if digest != "" {
		out.Digest = &digest
	}
	return out
}

// newManifestJSON converts a manifest; an empty one is [].
func newManifestJSON(m []repo.ManifestEntry) []manifestEntryJSON {
	out := make([]manifestEntryJSON, len(m))
	for i, e := range m {
		out[i] = newManifestEntryJSON(e)
	}
	return out
}

// changeJSON is one difference in `art diff --json`.
type changeJSON struct {
	Path string             `json:"path"`
	Op   string             `json:"op"` // "added", "removed" or "modified"
	Old  *manifestEntryJSON `json:"old,omitempty"`
	New  *manifestEntryJSON `json:"new,omitempty"`
}

// newChangesJSON converts changes; none is [].
func newChangesJSON(changes []repo.Change) []changeJSON {
	out := make([]changeJSON, len(changes))
	for i, c := range changes {
		out[i] = changeJSON{Path: c.Path, Op: c.Op}
		if c.Old != nil {
			e := newManifestEntryJSON(*c.Old)
			out[i].Old = &e
		}
		if c.New != nil {
			e := newManifestEntryJSON(*c.New)
			out[i].New = &e
		}
	}
	return out
}

// remoteJSON is a remote in `art remote ls --json`.
type remoteJSON struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// newRemotesJSON converts remotes; none is [].
func newRemotesJSON(rs []repo.RemoteConfig) []remoteJSON {
	out := make([]remoteJSON, len(rs))
	for i, c := range rs {
		out[i] = remoteJSON{Name: c.Name, URL: c.URL}
	}
	return out
}

// mapSlice applies f to every element of in; nil stays nil.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}

// remoteRmJSON is the outcome of `art rm REF --remote NAME --json`.
type remoteRmJSON struct {
	Remote  string   `json:"remote"`
	Name    string   `json:"name"`
	Version string   `json:"version"` // "v3"
	ID      string   `json:"id"`      // the version's commit ID
	Size    int64    `json:"size"`
	Files   int64    `json:"files"`
	Aliases []string `json:"aliases"` // aliases that went with it (--force)
}

func newRemoteRmJSON(d repo.DeletedOnRemote) remoteRmJSON {
	out := remoteRmJSON{Remote: d.Remote, Name: d.Name, Version: versionString(d.Version), ID: d.Commit.String(),
		Size: d.Size, Files: d.Files, Aliases: d.Aliases}
	if out.Aliases == nil {
		out.Aliases = []string{}
	}
	return out
}
