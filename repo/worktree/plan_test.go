package worktree

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/artvcs/art/objects"
)

// The record in these tests was saved at savedAt; a file last modified at
// old is settled, one modified at racy is not.
const (
	savedAt = 100_000_000_500
	old     = 50_000_000_123
	racy    = savedAt - 1
)

var (
	idA = objects.Hash([]byte("a"))
	idB = objects.Hash([]byte("b"))
	idC = objects.Hash([]byte("c"))
)

func entry(p string, id objects.ID, size int64) Entry { return Entry{Path: p, ID: id, Size: size} }

func stat(size, mtime int64) Stat { return Stat{Size: size, MTime: mtime, Ino: 7} }

func file(s Stat, hash objects.ID) Disk { return Disk{Kind: File, Stat: s, Hash: hash} }

func rec(id objects.ID, s Stat) FileState { return FileState{ID: id, Stat: s} }

// state is a record saved at savedAt.
func state(files map[string]FileState, pending map[string][]objects.ID) *State {
	if files == nil {
		files = map[string]FileState{}
	}
	return &State{Files: files, Pending: pending, Saved: savedAt}
}

// summary is a plan in a line per action: "path kind" (with the cleared
// path, "replace" and "cleared" where set), then "! path (why)" per
// conflict.
func summary(p Plan) []string {
	var out []string
	for _, a := range p.Actions {
		s := a.Path + " " + a.Kind.String()
		if a.Clear != "" {
			s += " " + a.Clear
		}
		if a.Replace {
			s += " replace"
		}
		if a.Cleared {
			s += " cleared"
		}
		out = append(out, s)
	}
	for _, c := range p.Conflicts {
		out = append(out, "! "+c.String())
	}
	return out
}

func TestPlan(t *testing.T) {
	s5 := stat(5, old)
	for _, tc := range []struct {
		name string
		in   Input
		want []string
	}{
		{
			name: "absent files are written, linked in",
			in:   Input{Want: []Entry{entry("a", idA, 5), entry("d/b", idB, 5)}},
			want: []string{"a write", "d/b write"},
		},
		{
			name: "unchanged since checkout: skip by stat alone",
			in: Input{
				Want:  []Entry{entry("a", idA, 5)},
				Disk:  map[string]Disk{"a": file(s5, objects.ZeroID)},
				State: state(map[string]FileState{"a": rec(idA, s5)}, nil),
			},
			want: []string{"a skip"},
		},
		{
			name: "racily clean: the stat is not trusted, the hash decides",
			in: Input{
				Want:  []Entry{entry("a", idA, 5)},
				Disk:  map[string]Disk{"a": file(stat(5, racy), idC)},
				State: state(map[string]FileState{"a": rec(idA, stat(5, racy))}, nil),
			},
			want: []string{"a conflict", "! a (changed since checkout)"},
		},
		{
			name: "whole-second times need two seconds",
			in: Input{
				Want:  []Entry{entry("a", idA, 5)},
				Disk:  map[string]Disk{"a": file(stat(5, 99_000_000_000), idC)},
				State: state(map[string]FileState{"a": rec(idA, stat(5, 99_000_000_000))}, nil),
			},
			want: []string{"a conflict", "! a (changed since checkout)"},
		},
		{
			name: "already right though not recorded: skip",
			in: Input{
				Want: []Entry{entry("a", idA, 5)},
				Disk: map[string]Disk{"a": file(s5, idA)},
			},
			want: []string{"a skip"},
		},
		{
			name: "right bytes, wrong executable bit: chmod",
			in: Input{
				Want:  []Entry{{Path: "a", ID: idA, Size: 5, Exec: true}, entry("b", idB, 5)},
				Disk:  map[string]Disk{"a": file(s5, objects.ZeroID), "b": {Kind: File, Stat: s5, Hash: idB, Exec: true}},
				State: state(map[string]FileState{"a": rec(idA, s5)}, nil),
			},
			want: []string{"a chmod", "b chmod"},
		},
		{
			name: "an old version's file of ours is replaced",
			in: Input{
				Want:  []Entry{entry("a", idB, 5)},
				Disk:  map[string]Disk{"a": file(s5, objects.ZeroID)},
				State: state(map[string]FileState{"a": rec(idA, s5)}, nil),
			},
			want: []string{"a write replace"},
		},
		{
			name: "touched but same bytes as recorded: still ours",
			in: Input{
				Want:  []Entry{entry("a", idB, 5)},
				Disk:  map[string]Disk{"a": file(stat(5, old+1), idA)},
				State: state(map[string]FileState{"a": rec(idA, s5)}, nil),
			},
			want: []string{"a write replace"},
		},
		{
			name: "changed since checkout",
			in: Input{
				Want:  []Entry{entry("a", idB, 5)},
				Disk:  map[string]Disk{"a": file(stat(6, old+1), idC)},
				State: state(map[string]FileState{"a": rec(idA, s5)}, nil),
			},
			want: []string{"a conflict", "! a (changed since checkout)"},
		},
		{
			name: "not written by art",
			in: Input{
				Want: []Entry{entry("a", idA, 5)},
				Disk: map[string]Disk{"a": file(stat(6, old), objects.ZeroID)},
			},
			want: []string{"a conflict", "! a (not written by art)"},
		},
		{
			name: "forced: replace what is not ours",
			in: Input{
				Want:  []Entry{entry("a", idA, 5), entry("b", idB, 5)},
				Disk:  map[string]Disk{"a": file(stat(6, old), objects.ZeroID), "b": file(stat(6, old+1), idC)},
				State: state(map[string]FileState{"b": rec(idA, s5)}, nil),
				Force: true,
			},
			want: []string{"a write replace", "b write replace"},
		},
		{
			name: "written by an interrupted checkout: ours",
			in: Input{
				Want:  []Entry{entry("a", idA, 5)},
				Disk:  map[string]Disk{"a": file(stat(4, old), idC)},
				State: state(nil, map[string][]objects.ID{"a": {idB, idC}}),
			},
			want: []string{"a write replace"},
		},
		{
			name: "old files of ours are removed; gone, moved-away and changed ones forgotten",
			in: Input{
				Disk: map[string]Disk{
					"ours":    file(s5, objects.ZeroID),
					"dir":     {Kind: Dir},
					"link":    {Kind: Symlink},
					"fifo":    {Kind: Irregular},
					"l/x":     {Kind: Blocked, Block: "l", Why: WhyLink},
					"pending": file(s5, idB),
					"pchg":    file(s5, idC),
				},
				State: state(map[string]FileState{
					"ours": rec(idA, s5), "gone": rec(idA, s5), "dir": rec(idA, s5),
					"link": rec(idA, s5), "fifo": rec(idA, s5), "l/x": rec(idA, s5),
				}, map[string][]objects.ID{"pending": {idB}, "pchg": {idB}}),
			},
			want: []string{"dir forget", "fifo forget", "gone forget", "l/x forget", "link forget",
				"ours remove", "pchg forget", "pending remove"},
		},
		{
			name: "an old file changed since checkout",
			in: Input{
				Disk:  map[string]Disk{"a": file(stat(6, old+1), idC)},
				State: state(map[string]FileState{"a": rec(idA, s5)}, nil),
			},
			want: []string{"a conflict", "! a (changed since checkout)"},
		},
		{
			name: "forced: remove old files whatever they hold",
			in: Input{
				Disk:  map[string]Disk{"a": file(stat(6, old+1), idC), "p": file(s5, idC)},
				State: state(map[string]FileState{"a": rec(idA, s5)}, map[string][]objects.ID{"p": {idB}}),
				Force: true,
			},
			want: []string{"a remove", "p remove"},
		},
		{
			name: "scope: old files outside it stay",
			in: Input{
				Want:  []Entry{entry("d/a", idA, 5)},
				Scope: "d",
				Disk:  map[string]Disk{"d/b": file(s5, objects.ZeroID)},
				State: state(map[string]FileState{"d/b": rec(idA, s5), "e/c": rec(idA, s5), "dd": rec(idA, s5)},
					map[string][]objects.ID{"e/p": {idB}, "d/p": {idB}}),
			},
			want: []string{"d/a write", "d/b remove", "d/p forget"},
		},
		{
			name: "a file of ours where the version has a directory is cleared",
			in: Input{
				Want:  []Entry{entry("d/a", idA, 5), entry("d/b", idB, 5)},
				Disk:  map[string]Disk{"d": file(s5, objects.ZeroID), "d/a": {Kind: Blocked, Block: "d", Why: WhyFileAsDir}, "d/b": {Kind: Blocked, Block: "d", Why: WhyFileAsDir}},
				State: state(map[string]FileState{"d": rec(idC, s5)}, nil),
			},
			want: []string{"d/a clear d replace", "d/b clear d replace", "d remove cleared"},
		},
		{
			name: "a file not ours where the version has a directory",
			in: Input{
				Want: []Entry{entry("d/a", idA, 5), entry("d/b", idB, 5)},
				Disk: map[string]Disk{"d/a": {Kind: Blocked, Block: "d", Why: WhyFileAsDir}, "d/b": {Kind: Blocked, Block: "d", Why: WhyFileAsDir}},
			},
			want: []string{"d/a conflict d", "d/b conflict d", "! d (is a file where the version has a directory)"},
		},
		{
			name: "a directory of old files of ours where the version has a file is cleared",
			in: Input{
				Want: []Entry{entry("d", idA, 5)},
				Disk: map[string]Disk{
					"d":   {Kind: Dir, Holds: []string{"d/x", "d/e/y"}},
					"d/x": file(s5, objects.ZeroID), "d/e/y": file(s5, objects.ZeroID),
				},
				State: state(map[string]FileState{"d/x": rec(idB, s5), "d/e/y": rec(idC, s5)}, nil),
			},
			want: []string{"d clear d replace", "d/e/y remove cleared", "d/x remove cleared"},
		},
		{
			name: "an empty directory where the version has a file is cleared",
			in: Input{
				Want: []Entry{entry("d", idA, 5)},
				Disk: map[string]Disk{"d": {Kind: Dir}},
			},
			want: []string{"d clear d replace"},
		},
		{
			name: "a directory holding files art did not write or that changed",
			in: Input{
				Want: []Entry{entry("d", idA, 5), entry("e", idA, 5), entry("f", idA, 5)},
				Disk: map[string]Disk{
					"d": {Kind: Dir, Holds: []string{"d/x", "d/mine"}}, "d/x": file(s5, objects.ZeroID),
					"e": {Kind: Dir, Holds: []string{"e/x"}}, "e/x": file(stat(6, old), idC),
					"f": {Kind: Dir, HoldsOther: true},
				},
				State: state(map[string]FileState{"d/x": rec(idB, s5), "e/x": rec(idB, s5)}, nil),
			},
			want: []string{"d conflict d", "e conflict e", "f conflict f", "d/x remove", "e/x conflict",
				"! d (is a directory holding files art did not write or that changed)",
				"! e (is a directory holding files art did not write or that changed)",
				"! e/x (changed since checkout)",
				"! f (is a directory holding files art did not write or that changed)"},
		},
		{
			name: "symbolic links and special files in the way",
			in: Input{
				Want: []Entry{entry("a", idA, 5), entry("l/b", idB, 5), entry("l/c", idB, 5), entry("p", idB, 5)},
				Disk: map[string]Disk{
					"a": {Kind: Symlink}, "l/b": {Kind: Blocked, Block: "l", Why: WhyLink},
					"l/c": {Kind: Blocked, Block: "l", Why: WhyLink}, "p": {Kind: Irregular},
				},
				State: state(map[string]FileState{"l": rec(idA, s5)}, nil),
			},
			want: []string{"a conflict a", "l/b conflict l", "l/c conflict l", "p conflict p", "l forget",
				"! a (is a symbolic link)", "! l (is a symbolic link)", "! p (is not a regular file)"},
		},
		{
			name: "forced: clear whatever is in the way, never removing through it",
			in: Input{
				Want: []Entry{entry("a", idA, 5), entry("l/b", idB, 5), entry("d", idA, 5)},
				Disk: map[string]Disk{
					"a": {Kind: Symlink}, "l/b": {Kind: Blocked, Block: "l", Why: WhyLink},
					"d": {Kind: Dir, HoldsOther: true}, "l/old": {Kind: Blocked, Block: "l", Why: WhyLink},
				},
				State: state(map[string]FileState{"l/old": rec(idA, s5)}, nil),
				Force: true,
			},
			want: []string{"a clear a replace", "l/b clear l replace", "d clear d replace", "l/old forget"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summary(NewPlan(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

func TestPlanRecords(t *testing.T) {
	s5, now := stat(5, old), stat(5, old+9)
	st := state(map[string]FileState{"a": rec(idA, s5)}, nil)
	p := NewPlan(Input{
		Want:  []Entry{entry("a", idA, 5), entry("b", idB, 5)},
		Disk:  map[string]Disk{"a": file(s5, objects.ZeroID), "b": file(now, idB)},
		State: st,
	})
	if got, want := p.Actions[0].Record, rec(idA, s5); got != want {
		t.Errorf("skip by stat: record %v, want %v", got, want)
	}
	if got, want := p.Actions[1].Record, rec(idB, now); got != want {
		t.Errorf("skip by hash: record %v, want %v", got, want)
	}
}

func TestPlanPending(t *testing.T) {
	s5 := stat(5, old)
	old := map[string][]objects.ID{"a": {idC}, "z": {idC}}
	p := NewPlan(Input{
		Want: []Entry{entry("a", idA, 5), entry("b", idB, 5), entry("c", idC, 5), entry("l/d", idA, 5)},
		Disk: map[string]Disk{
			"a": file(s5, idC), "c": file(s5, idC),
			"l/d": {Kind: Blocked, Block: "l", Why: WhyLink},
		},
		State: state(nil, old),
		Force: true,
	})
	got := p.Pending(old)
	want := map[string][]objects.ID{"a": {idC, idA}, "b": {idB}, "l/d": {idA}, "z": {idC}}
	if !maps.EqualFunc(got, want, slices.Equal[[]objects.ID]) {
		t.Errorf("Pending = %v, want %v", got, want)
	}
	if len(old["a"]) != 1 {
		t.Errorf("Pending changed its argument: %v", old)
	}
	if got, want := p.Clears(), []string{"l"}; !slices.Equal(got, want) {
		t.Errorf("Clears = %q, want %q", got, want)
	}
}

func TestNeedsHash(t *testing.T) {
	s5 := stat(5, old)
	st := state(map[string]FileState{"t": rec(idA, s5), "r": rec(idA, stat(5, racy))},
		map[string][]objects.ID{"p": {idB}})
	w5, w6 := entry("x", idA, 5), entry("x", idA, 6)
	for _, tc := range []struct {
		p    string
		want *Entry
		cur  Stat
		need bool
	}{
		{"t", &w5, s5, false},            // the record vouches for it
		{"t", nil, s5, false},            // an old file, likewise
		{"t", &w6, stat(5, old+1), true}, // changed: is it still ours?
		{"r", &w5, stat(5, racy), true},  // racily clean
		{"p", nil, stat(9, old), true},   // pending: which content is it?
		{"u", &w5, s5, true},             // untracked, right size: right already?
		{"u", &w6, s5, false},            // untracked, wrong size: not ours
		{"u", nil, s5, false},
	} {
		if got := st.NeedsHash(tc.p, tc.want, tc.cur); got != tc.need {
			t.Errorf("NeedsHash(%q, %v, %v) = %v, want %v", tc.p, tc.want, tc.cur, got, tc.need)
		}
	}
}

func TestSettled(t *testing.T) {
	for _, tc := range []struct {
		t, at int64
		want  bool
	}{
		{1_000_000_001, 1_030_000_000, true},
		{1_000_000_001, 1_010_000_000, false},
		{1_000_000_000, 2_500_000_000, false}, // whole second: 2 s margin
		{1_000_000_000, 3_000_000_001, true},
	} {
		if got := Settled(tc.t, tc.at); got != tc.want {
			t.Errorf("Settled(%d, %d) = %v, want %v", tc.t, tc.at, got, tc.want)
		}
	}
}

func ExampleNewPlan() {
	p := NewPlan(Input{
		Want: []Entry{{Path: "data/train.csv", ID: objects.Hash([]byte("x")), Size: 1}},
	})
	for _, a := range p.Actions {
		fmt.Println(a.Path, a.Kind, a.Why)
	}
	// Output: data/train.csv write absent
}

// BenchmarkNewPlan plans a switch of 20,000 files to 20,000 others, each
// old file of ours removed: the plan must stay linear in the files.
func BenchmarkNewPlan(b *testing.B) {
	const n = 20_000
	s5 := stat(5, old)
	in := Input{Disk: map[string]Disk{}, State: state(nil, nil)}
	for i := range n {
		p, q := fmt.Sprintf("new/%05d", i), fmt.Sprintf("old/%05d", i)
		in.Want = append(in.Want, entry(p, idA, 5))
		in.State.Files[q] = rec(idB, s5)
		in.Disk[q] = file(s5, objects.ZeroID)
	}
	b.ReportAllocs()
	for b.Loop() {
		if p := NewPlan(in); len(p.Actions) != 2*n || len(p.Conflicts) != 0 {
			b.Fatalf("%d actions, %d conflicts", len(p.Actions), len(p.Conflicts))
		}
	}
}
