package worktree

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/artvcs/art/objects"
)

// Entry is a file a version wants in the directory.
type Entry struct {
	Path string     // clean, slash-separated, root-relative
	ID   objects.ID // its content: the blob, or a file:// reference's BLAKE3
	Size int64
	Exec bool
}

// DiskKind is what is at a path.
type DiskKind uint8

const (
	// Absent: nothing is there, or a directory on the way is missing.
	Absent DiskKind = iota
	// File: a regular file (Disk.Stat, Disk.Exec, Disk.Hash).
	File
	// Dir: a directory (Disk.Holds, Disk.HoldsOther).
	Dir
	// Symlink: a symbolic link.
	Symlink
	// Irregular: anything else (a device, a pipe, a socket).
	Irregular
	// Blocked: a directory on the way is a symbolic link or not a
	// directory (Disk.Block, Disk.Why).
	Blocked
)

// Disk is what a checkout found at one path of its directory.
type Disk struct {
	Kind DiskKind
	// Stat and Exec (any executable bit set) describe a File.
	Stat Stat
	Exec bool
	// Hash is the File's content hash when State.NeedsHash asked for it,
	// else the zero ID.
	Hash objects.ID
	// Block is the root-relative path on the way that is in the way of a
	// Blocked path, and Why is WhyLink or WhyFileAsDir.
	Block, Why string
	// Holds lists the regular files below a Dir (root-relative), for a
	// path the version wants; HoldsOther is set when it holds anything
	// else (a symbolic link, a special file) or could not be listed.
	Holds      []string
	HoldsOther bool
}

// Why a path is in the way of a file, or conflicts.
const (
	WhyLink       = "is a symbolic link"
	WhyFileAsDir  = "is a file where the version has a directory"
	WhyDir        = "is a directory"
	WhyIrregular  = "is not a regular file"
	WhyChanged    = "changed since checkout"
	WhyNotOurs    = "not written by art"
	WhyDirNotOurs = "is a directory holding files art did not write or that changed"
	// WhyUnchanged: a Skip of a file the record vouches for by its stat.
	WhyUnchanged = "unchanged since checkout"
)

// Kind is what a checkout does at one path.
type Kind uint8

const (
	// Skip: the file is right; keep Action.Record.
	Skip Kind = iota
	// Write: write the file (over what is there when Action.Replace).
	Write
	// Chmod: the bytes are right (Action.Record), the executable bit not.
	Chmod
	// Clear: remove Action.Clear (root-relative), which is in the way,
	// then write the file.
	Clear
	// Remove: delete an old file of ours the version no longer has
	// (unless Action.Cleared: a Clear removes it).
	Remove
	// Forget: drop the record of an old path and leave what is there: it
	// is gone, not a regular file, behind a link, or an interrupted
	// checkout's file changed since.
	Forget
	// Conflict: a file the user changed or art did not write is in the
	// way (Action.Why); nothing may be written.
	Conflict
)

var kindNames = [...]string{"skip", "write", "chmod", "clear", "remove", "forget", "conflict"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Action is what a checkout does at one path.
type Action struct {
	Path string
	Kind Kind
	// Entry is what the version has at Path (zero for Remove and Forget
	// of old paths).
	Entry Entry
	// Record is the file's record after a Skip or a Chmod (whose mode the
	// executor then sets, restating its Stat).
	Record FileState
	// Replace is set on a Write or Clear when something is at Path: the
	// new file replaces it rather than being linked in.
	Replace bool
	// Clear is what a Clear removes first (for a Conflict, what is in the
	// way, if not Path itself); Cleared marks a Remove that lies inside
	// some Clear.
	Clear   string
	Cleared bool
	// Why says why, in a few words.
	Why string
}

// ConflictItem is one reason a checkout refuses: the path in the way (the
// file itself, or what stands where it must go) and why.
type ConflictItem struct {
	Path, Why string
}

func (c ConflictItem) String() string { return c.Path + " (" + c.Why + ")" }

// Input is what Plan decides from.
type Input struct {
	// Want is the version's files in Scope (references to remote URIs
	// left out).
	Want []Entry
	// Scope restricts the checkout to a path of the version ("" for all):
	// only old files in it are removed.
	Scope string
	// Disk is what is at each path of Want and of Removals; a path it
	// lacks is Absent.
	Disk map[string]Disk
	// State is the directory's checkout record (nil for none).
	State *State
	// Force replaces and removes files that are not ours and clears what
	// is in the way.
	Force bool
}

// Plan is what a checkout does: one Action per path of Want, in order,
// then one per old path (Removals), and the conflicts, sorted, with no
// duplicates. A Plan with conflicts must not be carried out.
type Plan struct {
	Actions   []Action
	Conflicts []ConflictItem
}

// InScope reports whether the path p lies in scope ("" for everything).
func InScope(p, scope string) bool {
	return scope == "" || p == scope || strings.HasPrefix(p, scope+"/")
}

// Removals returns, sorted, the paths in scope that the record (or a
// pending write) has and want does not: the old files a checkout removes.
func Removals(want []Entry, st *State, scope string) []string {
	if st == nil {
		return nil
	}
	wanted := make(map[string]bool, len(want))
	for _, e := range want {
		wanted[e.Path] = true
	}
	var old []string
	for p := range st.Files {
		if InScope(p, scope) && !wanted[p] {
			old = append(old, p)
		}
	}
	for p := range st.Pending {
		if _, tracked := st.Files[p]; !tracked && InScope(p, scope) && !wanted[p] {
			old = append(old, p)
		}
	}
	sort.Strings(old)
	return old
}

// NewPlan decides what a checkout does, from in alone: it touches no file
// system.
func NewPlan(in Input) Plan {
	st := in.State
	if st == nil {
		st = &State{}
	}
	old := Removals(in.Want, st, in.Scope)
	p := Plan{Actions: make([]Action, 0, len(in.Want)+len(old))}
	for _, e := range in.Want {
		p.Actions = append(p.Actions, planWant(e, in.Disk[e.Path], st, in.Force))
	}
	for _, o := range old {
		p.Actions = append(p.Actions, planOld(o, in.Disk[o], st, in.Force))
	}

	// What stands in the way of a file: old files of ours that are
	// removed anyway (a file where the version now has a directory, a
	// directory of them where it now has a file) are cleared; anything
	// else only when forced.
	removable := map[string]bool{}
	for _, a := range p.Actions {
		if a.Kind == Remove {
			removable[a.Path] = true
		}
	}
	for i := range p.Actions {
		a := &p.Actions[i]
		if a.Kind != Clear {
			continue
		}
		ok := false
		switch a.Why {
		case WhyFileAsDir:
			ok = removable[a.Clear]
		case WhyDir:
			d := in.Disk[a.Clear]
			ok = !d.HoldsOther && !slices.ContainsFunc(d.Holds, func(h string) bool { return !removable[h] })
		}
		switch {
		case ok || in.Force:
			a.Replace = true
		case a.Why == WhyDir:
			a.Kind, a.Why = Conflict, WhyDirNotOurs
		default:
			a.Kind = Conflict
		}
	}
	clears := p.Clears() // few, usually none
	for i := range p.Actions {
		a := &p.Actions[i]
		switch a.Kind {
		case Conflict:
			at := a.Path
			if a.Clear != "" {
				at = a.Clear // what is in the way
			}
			p.Conflicts = append(p.Conflicts, ConflictItem{at, a.Why})
		case Remove:
			a.Cleared = slices.ContainsFunc(clears, func(c string) bool { return InScope(a.Path, c) })
		}
	}
	slices.SortFunc(p.Conflicts, func(a, b ConflictItem) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Why, b.Why)
	})
	p.Conflicts = slices.Compact(p.Conflicts)
	return p
}

// planWant decides for a path the version wants. A path in the way comes
// back as a Clear naming it, with its reason in Why, for NewPlan to settle.
func planWant(e Entry, d Disk, st *State, force bool) Action {
	a := Action{Path: e.Path, Entry: e}
	switch d.Kind {
	case Absent:
		a.Kind, a.Why = Write, "absent"
		return a
	case Blocked:
		a.Kind, a.Clear, a.Why = Clear, d.Block, d.Why
		return a
	case Dir:
		a.Kind, a.Clear, a.Why = Clear, e.Path, WhyDir
		return a
	case Symlink:
		a.Kind, a.Clear, a.Why = Clear, e.Path, WhyLink
		return a
	case Irregular:
		a.Kind, a.Clear, a.Why = Clear, e.Path, WhyIrregular
		return a
	}
	prev, tracked, unchanged := st.unchanged(e.Path, d.Stat)
	keep := Skip
	if d.Exec != e.Exec {
		keep = Chmod
	}
	switch {
	case unchanged && prev.ID == e.ID:
		// Only a file last modified before the record was saved can be
		// trusted by its stat: one modified within the same tick of the
		// file system's clock may have changed after art recorded it,
		// keeping its stat.
		a.Kind, a.Record, a.Why = keep, prev, WhyUnchanged
	case !unchanged && d.Hash == e.ID && d.Stat.Size == e.Size:
		a.Kind, a.Record, a.Why = keep, FileState{ID: e.ID, Stat: d.Stat}, "already right"
	case ours(prev, tracked, unchanged, d, st.Pending[e.Path]):
		a.Kind, a.Replace, a.Why = Write, true, "ours"
	case force:
		a.Kind, a.Replace, a.Why = Write, true, "forced"
	case tracked:
		a.Kind, a.Why = Conflict, WhyChanged
	default:
		a.Kind, a.Why = Conflict, WhyNotOurs
	}
	return a
}

// planOld decides for an old path the version no longer has.
func planOld(p string, d Disk, st *State, force bool) Action {
	a := Action{Path: p, Kind: Forget}
	switch d.Kind {
	case Absent:
		a.Why = "gone"
		return a
	case Blocked:
		a.Why = "behind " + d.Block // never delete through a link
		return a
	case Dir, Symlink, Irregular:
		a.Why = "not a regular file"
		return a
	}
	prev, tracked, unchanged := st.unchanged(p, d.Stat)
	switch {
	case ours(prev, tracked, unchanged, d, st.Pending[p]):
		a.Kind, a.Why = Remove, "ours"
	case force:
		a.Kind, a.Why = Remove, "forced"
	case !tracked:
		a.Why = "an interrupted checkout's file, changed since"
	default:
		a.Kind, a.Why = Conflict, WhyChanged
	}
	return a
}

// ours reports whether a regular file may be replaced or removed without
// force: it is as recorded, or holds what an interrupted checkout wrote.
func ours(prev FileState, tracked, unchanged bool, d Disk, pending []objects.ID) bool {
	return tracked && (unchanged || d.Hash == prev.ID) || !unchanged && slices.Contains(pending, d.Hash)
}

// Pending returns the pending record a checkout saves before it carries
// out p: old (the record's Pending) with the ID of every file p writes
// added to its path. It is a new map; old is left alone.
func (p Plan) Pending(old map[string][]objects.ID) map[string][]objects.ID {
	out := maps.Clone(old)
	if out == nil {
		out = map[string][]objects.ID{}
	}
	for _, a := range p.Actions {
		if a.Kind != Write && a.Kind != Clear {
			continue
		}
		if ids := out[a.Path]; !slices.Contains(ids, a.Entry.ID) {
			out[a.Path] = append(slices.Clone(ids), a.Entry.ID)
		}
	}
	return out
}

// Clears returns what p's Clear actions remove, sorted, once each.
func (p Plan) Clears() []string {
	var out []string
	for _, a := range p.Actions {
		if a.Kind == Clear {
			out = append(out, a.Clear)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
