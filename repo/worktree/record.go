package worktree

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// Records keeps the checkout records of directories in the directory Dir
// of Fs (a repository's checkouts/): for each checked-out directory, K.json
// holds its State and K.pending.json its Pending (a PendingFile), K being
// the first 32 hex digits of the BLAKE3 of the directory's absolute path.
type Records struct {
	Fs  afero.Fs
	Dir string
}

// paths returns the record's file, the pending file and the absolute path
// of root.
func (rs Records) paths(root string) (state, pending, abs string, err error) {
	if abs, err = filepath.Abs(root); err != nil {
		return "", "", "", err
	}
	key := objects.Hash([]byte(abs)).String()[:32]
	state = filepath.Join(rs.Dir, key+".json")
	return state, strings.TrimSuffix(state, ".json") + ".pending.json", abs, nil
}

// Load returns the record of root, with Saved and Pending: an empty one
// when there is none. A damaged record, or one of another directory, is
// as good as none (it only costs re-hashing), and so is a damaged pending
// file; paths that are not clean are dropped, so that a damaged record
// cannot send a checkout outside root. An error reading either file is
// returned: a record read in part would make a checkout forget files it
// wrote, and refuse to replace them or leave them behind.
func (rs Records) Load(root string) (*State, error) {
	rec, err := rs.Open(root)
	if err != nil {
		return nil, err
	}
	st := rec.State
	st.Files = map[string]FileState{}
	if err := rec.Files(func(p string, f FileState) error {
		st.Files[p] = f
		return nil
	}); err != nil {
		return nil, err
	}
	return st, nil
}

// loadPending reads the pending file p of the directory abs, keeping only
// clean paths with at least one ID.
func (rs Records) loadPending(p, abs string) (map[string][]objects.ID, error) {
	out := map[string][]objects.ID{}
	b, err := afero.ReadFile(rs.Fs, p)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkout state: %w", err)
	}
	var pf PendingFile
	if json.Unmarshal(b, &pf) != nil || pf.Dir != abs {
		return out, nil
	}
	for p, ids := range pf.Files {
		if c, err := objects.CleanPath(p); err == nil && c == p && len(ids) > 0 {
			out[p] = ids
		}
	}
	return out, nil
}

// Save replaces the record of root with st (its Saved and Pending are not
// written), durably.
func (rs Records) Save(root string, st *State) error {
	sp, _, _, err := rs.paths(root)
	if err != nil {
		return err
	}
	return rs.write(sp, st)
}

// SavePending records what a checkout of root is about to write (see
// State.Pending), durably, or removes the record when files is empty.
func (rs Records) SavePending(root string, files map[string][]objects.ID) error {
	_, pp, abs, err := rs.paths(root)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		if err := rs.Fs.Remove(pp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return rs.write(pp, PendingFile{Dir: abs, Files: files})
}

// write replaces the file name with the JSON of v: a pending file in its
// directory, synced, renamed over it, the directory synced.
func (rs Records) write(name string, v any) error {
	dir := filepath.Dir(name)
	if err := rs.Fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return objects.WriteFileAtomic(rs.Fs, name, 0o644, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(v)
	})
}
