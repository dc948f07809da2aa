package repo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/objects/walk"
	"github.com/artvcs/art/repo/worktree"
)

// ErrVerifyFailed is returned by Verify when a directory does not match
// its version.
var ErrVerifyFailed = errors.New("verification failed")

// VerifyProblem is one way a directory differs from a version.
type VerifyProblem struct {
	Path    string
	Problem string // "missing", "modified" or "extra"
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Version  Version
	Dir      string
	Files    int
	Problems []VerifyProblem
}

// Verify checks the directory dir against the version ref names; see
// Version.Verify.
func (r *Repo) Verify(ctx context.Context, ref, dir string) (VerifyResult, error) {
	v, err := r.Resolve(ctx, ref)
	if err != nil {
		return VerifyResult{}, err
	}
	return v.Verify(ctx, dir)
}

// Verify checksums every file under dir against the version (W&B's
// Artifact.verify): each file of the version must be present with the
// right size and BLAKE3 hash, and no other file may be present. A file
// reached through a symbolic link is missing, as a checkout would not
// write through it. References
// to remote URIs are not checked. The error wraps ErrVerifyFailed when
// there are problems, which are listed in the result sorted by path.
func (v Version) Verify(ctx context.Context, dir string) (VerifyResult, error) {
	res := VerifyResult{Version: v, Dir: dir}
	fi, err := v.repo.fs.Stat(dir)
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	if !fi.IsDir() {
		return res, fmt.Errorf("verify: %s is not a directory", dir)
	}
	// The version's trees are walked one directory at a time, and the
	// directory compared with each as it goes (worktree.Verifier): memory
	// holds the widest directory and a batch of files, whatever the count.
	vf := &worktree.Verifier{Fs: v.repo.fs, Root: dir}
	w := walk.Walker{
		Source:   walk.Cached(walk.Store(v.repo.store)),
		MaxFiles: MaxVersionFiles,
		Enter: func(ctx context.Context, d walk.Dir) error {
			if d.IndexDepth > 0 {
				return nil // a part of a split directory
			}
			return vf.Enter(ctx, d.Path)
		},
		Entry: func(ctx context.Context, e walk.Entry) error {
			me := manifestEntry(e.Path, e.TreeEntry)
			if me.IsRef() && !isFileURI(me.Ref) {
				return nil
			}
			res.Files++
			return vf.File(ctx, worktree.Entry{Path: me.Path, ID: entryID(me), Size: me.Size, Exec: me.Exec})
		},
		Leave: func(ctx context.Context, d walk.Dir) error {
			if d.IndexDepth > 0 {
				return nil
			}
			return vf.Leave(ctx)
		},
	}
	err = w.Walk(ctx, v.Tree, "")
	if err != nil {
		return res, err
	}
	problems, err := vf.Finish(ctx)
	for _, p := range problems {
		res.Problems = append(res.Problems, VerifyProblem{Path: p.Path, Problem: p.Problem})
	}
	if err != nil {
		return res, err
	}
	if len(res.Problems) > 0 {
		return res, fmt.Errorf("%w: %s differs from %s in %d file(s)", ErrVerifyFailed, dir, v.Ref(), len(res.Problems))
	}
	return res, nil
}

// File downloads a single-file version into root and returns the file's
// path (W&B's Artifact.file). root "" means DefaultDir.
func (v Version) File(ctx context.Context, root string) (string, error) {
	if v.Files != 1 {
		return "", fmt.Errorf("%s has %d files; File needs exactly one (use Download)", v.Ref(), v.Files)
	}
	m, err := v.Manifest(ctx)
	if err != nil {
		return "", err
	}
	if root == "" {
		root = v.DefaultDir()
	}
	if _, err := v.Download(ctx, root, nil); err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(m[0].Path)), nil
}

// LocalPath returns where the file key of the version is (or would be)
// after Download into root, "" meaning DefaultDir (T9k's
// Artifact.local_path). With key "" it returns the directory itself. A key
// the version does not have is ErrNotFound.
func (v Version) LocalPath(ctx context.Context, root, key string) (string, error) {
	if root == "" {
		root = v.DefaultDir()
	}
	if key == "" {
		return root, nil
	}
	e, err := v.GetPath(ctx, key)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(e.Path)), nil
}

// blobIDs returns the IDs of the stored content (not references) of m.
func blobIDs(m []ManifestEntry) []objects.ID {
	var ids []objects.ID
	for _, e := range m {
		if !e.IsRef() {
			ids = append(ids, e.Digest)
		}
	}
	return ids
}
