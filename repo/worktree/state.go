package worktree

import (
	"io/fs"

	"github.com/artvcs/art/objects"
)

// Stat is what a checkout compares to decide that a file is unchanged
// since it recorded it: size, modification time and, where the OS gives
// them, inode, device and change time (nanoseconds since the epoch).
type Stat struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"`
	Ino   uint64 `json:"ino,omitempty"`
	Dev   uint64 `json:"dev,omitempty"`
	CTime int64  `json:"ctime,omitempty"`
}

// StatOf returns the Stat of fi: its size and modification time and,
// where the OS gives them, its inode, device and change time.
func StatOf(fi fs.FileInfo) Stat {
	s := Stat{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	sysStat(fi, &s)
	return s
}

// FileState records a file that a checkout wrote or found right: its
// content's ID and its Stat afterwards.
type FileState struct {
	ID objects.ID `json:"id"`
	Stat
}

// State is what a directory was last checked out to (the checkout
// record). Its JSON encoding is the record's file format; Saved and
// Pending are kept apart.
type State struct {
	Dir     string               `json:"dir"`
	Name    string               `json:"name"`
	Version int64                `json:"version"`
	Files   map[string]FileState `json:"files"`
	// Saved is when the record was last saved (its file's modification
	// time, in nanoseconds; 0 if never). A file modified less than a tick
	// of the file system's clock before it cannot be trusted by its Stat.
	Saved int64 `json:"-"`
	// Pending is what checkouts that did not finish (killed, or failed
	// halfway) were writing: path -> the IDs it may now hold besides its
	// record in Files.
	Pending map[string][]objects.ID `json:"-"`
}

// PendingFile is the encoding of a State's Pending map, kept beside the
// record so that saving it leaves Saved alone.
type PendingFile struct {
	Dir   string                  `json:"dir"`
	Files map[string][]objects.ID `json:"files"`
}

// RacyWindow is the margin, in nanoseconds, between a file time and the
// moment it was read below which the time is not trusted; it exceeds the
// timestamp granularity of common Linux file systems (a jiffy on ext4,
// 1 ns on others).
const RacyWindow = 20_000_000 // 20 ms

// Settled reports whether a file time t is far enough before the moment
// at (both in nanoseconds) that a later write would have changed it.
// Times with no sub-second part come from a file system with whole-second
// (or two-second) timestamps, and need a wider margin.
func Settled(t, at int64) bool {
	window := int64(RacyWindow)
	if t%1_000_000_000 == 0 {
		window = 2_000_000_000
	}
	return t < at-window
}

// unchanged reports whether the file at p, with stat cur, is as the
// record says: the same Stat, and last modified before the record was
// saved.
func (st *State) unchanged(p string, cur Stat) (FileState, bool, bool) {
	prev, tracked := st.Files[p]
	return prev, tracked, tracked && prev.Stat == cur && Settled(cur.MTime, st.Saved)
}

// NeedsHash reports whether Plan needs the hash of the regular file at p,
// whose stat is cur: want is what the version has there (nil for an old
// path the version no longer has). A file the record vouches for needs
// none, nor one of the wrong size that is neither recorded nor pending.
func (st *State) NeedsHash(p string, want *Entry, cur Stat) bool {
	_, tracked, unchanged := st.unchanged(p, cur)
	return !unchanged && (tracked || len(st.Pending[p]) > 0 || (want != nil && cur.Size == want.Size))
}
