package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/worktree"
)

// ErrLocalChanges is returned when a checkout would overwrite or delete a
// file that the user changed (or that art did not write), or write through
// a symbolic link. Nothing is changed; --force (CheckoutOptions.Force)
// replaces such files.
var ErrLocalChanges = worktree.ErrLocalChanges

// CheckoutOptions tune a checkout. A nil *CheckoutOptions is the zero value.
type CheckoutOptions struct {
	// Path restricts the checkout to one file or directory of the version.
	Path string
	// Force overwrites and deletes files the user changed, and replaces
	// symbolic links and other non-files in the way (never writing through
	// them).
	Force bool
	// Progress, if set, is called as bytes are written.
	Progress ProgressFunc
}

// CheckoutResult says what a checkout did.
type CheckoutResult struct {
	Version Version
	Dir     string
	Files   int // files (and file:// references) the version has in scope
	Written int // files written (or whose executable bit was set right)
	Skipped int // files already right, left alone
	Removed int // files of the previous checkout that the version no longer has
	// Refs counts references to remote URIs, which are listed in the
	// manifest but not downloaded.
	Refs int
}

// Checkout materialises the version ref names into dir; see Version.Download.
func (r *Repo) Checkout(ctx context.Context, ref, dir string, opts *CheckoutOptions) (CheckoutResult, error) {
	v, err := r.Resolve(ctx, ref)
	if err != nil {
		return CheckoutResult{}, err
	}
	return v.Download(ctx, dir, opts)
}

// DefaultDir is where a version is checked out when no directory is given:
// a directory named after the artifact in the current directory.
func (v Version) DefaultDir() string { return v.Name }

// Download materialises the version into root (W&B's Artifact.download).
// root "" means DefaultDir.
//
// Files already present with the right size and hash are not rewritten
// (only their executable bit is set right). Switching a directory from
// another checkout updates it in place: files the new version no longer
// has are removed, with directories they leave empty, and a file of the
// old version where the new one has a directory (or the reverse) is
// replaced. A file that the user changed since the last checkout, or that
// art did not write, is never overwritten or removed unless opts.Force is
// set: without it, ErrLocalChanges is returned, naming the files, before
// anything is written.
//
// A stat cache (size, modification time, inode, change time) kept in the
// repository spares re-hashing files that have not changed since a
// checkout; a file modified in the same tick of the file system's clock
// as the cache was saved is hashed all the same.
//
// Download never writes outside root and never follows a symbolic link
// inside it. Every file is written through a temp file and renamed into
// place only after its bytes hashed to the right ID, so corrupt bytes
// never reach root.
func (v Version) Download(ctx context.Context, root string, opts *CheckoutOptions) (CheckoutResult, error) {
	if opts == nil {
		opts = &CheckoutOptions{}
	}
	if root == "" {
		root = v.DefaultDir()
	}
	root = filepath.Clean(root)
	r := v.repo
	res := CheckoutResult{Version: v, Dir: root}
	scope := ""
	if opts.Path != "" {
		clean, err := objects.CleanPath(opts.Path)
		if err != nil {
			return res, err
		}
		scope = clean
	}
	// Streaming, unless something in the way must be cleared (rare): then
	// the whole-version plan below, with the same rules.
	if sres, ok, err := v.downloadStream(ctx, root, scope, opts); ok {
		return sres, err
	}
	manifest, err := v.Manifest(ctx)
	if err != nil {
		return res, err
	}
	var want []ManifestEntry
	for _, e := range manifest {
		// The decoder already refused unsafe names; every path is checked
		// again with the same validator before anything is written.
		if c, err := objects.CleanPath(e.Path); err != nil || c != e.Path {
			if err == nil {
				err = fmt.Errorf("%w: %q is not a clean path", objects.ErrInvalidPath, e.Path)
			}
			return res, fmt.Errorf("%w: %s: %w", objects.ErrCorrupt, v.Ref(), err)
		}
		if worktree.InScope(e.Path, scope) {
			want = append(want, e)
		}
	}
	if scope != "" && len(want) == 0 {
		return res, fmt.Errorf("%w: %s has no file or directory %q", ErrNotFound, v.Ref(), scope)
	}
	// A version that came by `art fetch`: bring the files it needs.
	if err := r.fetchMissing(ctx, v, want); err != nil {
		return res, err
	}
	if err := r.fs.MkdirAll(root, 0o755); err != nil {
		return res, fmt.Errorf("create %s: %w", root, err)
	}
	st, err := r.records().Load(root)
	if err != nil {
		return res, err
	}

	// Plan: look at every path, then decide, before changing anything,
	// whether to skip, write or remove it, and what conflicts.
	var wt []worktree.Entry
	refs := map[string]ManifestEntry{} // the file:// references, by path
	for _, e := range want {
		if e.IsRef() && !isFileURI(e.Ref) {
			res.Refs++
			continue
		}
		if e.IsRef() {
			refs[e.Path] = e
		}
		wt = append(wt, worktree.Entry{Path: e.Path, ID: entryID(e), Size: e.Size, Exec: e.Exec})
	}
	res.Files = len(wt)
	old := worktree.Removals(wt, st, scope)
	disk, err := worktree.Scan(ctx, r.fs, root, wt, old, st)
	if err != nil {
		return res, err
	}
	plan := worktree.NewPlan(worktree.Input{Want: wt, Scope: scope, Disk: disk, State: st, Force: opts.Force})
	if len(plan.Conflicts) > 0 {
		conflicts := make([]string, len(plan.Conflicts))
		for i, c := range plan.Conflicts {
			conflicts[i] = c.String()
		}
		more := ""
		if len(conflicts) > 10 {
			more = fmt.Sprintf(" and %d more", len(conflicts)-10)
			conflicts = conflicts[:10]
		}
		return res, fmt.Errorf("%w in %s: %s%s",
			ErrLocalChanges, root, strings.Join(conflicts, ", "), more)
	}
	x := &worktree.Executor{Fs: r.fs, Root: root, Source: entrySource{r: r, refs: refs}, Now: r.now, Progress: opts.Progress}
	co := worktree.Checkout{Executor: x, Records: r.records(), State: st, Scope: scope,
		Name: v.Name, Version: v.Version.Version}
	done, err := co.Run(ctx, plan)
	res.Written, res.Skipped, res.Removed = done.Written, done.Skipped, done.Removed
	return res, err
}

// entrySource is the content of a checkout's entries: blobs from the
// store, file:// references (refs, by path) from the files they name.
type entrySource struct {
	r    *Repo
	refs map[string]ManifestEntry
}

// Open opens the content of e, verified against e.ID.
func (s entrySource) Open(ctx context.Context, e worktree.Entry) (io.ReadCloser, error) {
	me, isRef := s.refs[e.Path]
	if !isRef {
		return s.r.store.Open(ctx, e.ID)
	}
	u, err := url.Parse(me.Ref)
	if err != nil {
		return nil, err
	}
	f, err := s.r.fs.Open(u.Path)
	if err != nil {
		return nil, fmt.Errorf("reference %s: %w", me.Ref, err)
	}
	return refReader{objects.NewVerifyingReader(f, e.ID), me.Ref}, nil
}

// ReadInto reads a stored blob whole (worktree.WholeReader); a reference
// is read through Open.
func (s entrySource) ReadInto(ctx context.Context, e worktree.Entry, buf []byte) ([]byte, error) {
	if _, isRef := s.refs[e.Path]; !isRef {
		return s.r.store.ReadInto(ctx, e.ID, e.Size, buf)
	}
	rc, err := s.Open(ctx, e)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return objects.ReadToEnd(rc, buf)
}

// CopyTo lets the kernel copy a stored blob; a reference is copied from
// Open.
func (s entrySource) CopyTo(ctx context.Context, e worktree.Entry, dst afero.File, progress func(int64)) (int64, bool, error) {
	if _, isRef := s.refs[e.Path]; isRef {
		return 0, false, nil
	}
	return s.r.store.CopyTo(ctx, e.ID, dst, progress)
}

// refReader reads a file:// reference, saying so when its content is not
// what was logged.
type refReader struct {
	io.ReadCloser
	uri string
}

func (r refReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if errors.Is(err, objects.ErrCorrupt) {
		err = fmt.Errorf("reference %s changed since it was logged (size or checksum differs)", r.uri)
	}
	return n, err
}

func isFileURI(uri string) bool { return strings.HasPrefix(uri, "file://") }

// entryID is the ID of e's content: its blob, or the BLAKE3 recorded for
// a file:// reference.
func entryID(e ManifestEntry) objects.ID {
	if e.IsRef() {
		return refBlobID(e)
	}
	return e.Digest
}

// refBlobID returns the BLAKE3 recorded for a file:// reference.
func refBlobID(e ManifestEntry) objects.ID {
	id, _ := objects.ParseID(strings.TrimPrefix(e.RefDigest, "blake3:"))
	return id
}

// copyBufPool holds the buffers fsck reads objects through.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// fileStat is a file's stat as the stat cache and the checkout record keep
// it.
type fileStat = worktree.Stat

func statOf(fi fs.FileInfo) fileStat { return worktree.StatOf(fi) }

// records are the repository's checkout records (checkouts/).
func (r *Repo) records() worktree.Records {
	return worktree.Records{Fs: r.fs, Dir: filepath.Join(r.dir, "checkouts")}
}
