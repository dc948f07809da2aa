package worktree

import (
	"errors"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
)

// TestRecordsFormat holds the on-disk format of the checkout record and
// its pending file: checkouts made by earlier versions of art must still
// be read, and the other way round.
func TestRecordsFormat(t *testing.T) {
	fsys := afero.NewMemMapFs()
	rs := Records{Fs: fsys, Dir: "/repo/.art/checkouts"}
	root := "/work/out"
	key := objects.Hash([]byte(root)).String()[:32]
	st := &State{Dir: root, Name: "data", Version: 3, Files: map[string]FileState{
		"a/b.csv": {ID: idA, Stat: Stat{Size: 5, MTime: 7, Ino: 9, Dev: 1, CTime: 8}},
		"c":       {ID: idB, Stat: Stat{Size: 0, MTime: 6}},
	}}
	if err := rs.Save(root, st); err != nil {
		t.Fatal(err)
	}
	if err := rs.SavePending(root, map[string][]objects.ID{"c": {idC}}); err != nil {
		t.Fatal(err)
	}
	got, err := afero.ReadFile(fsys, filepath.Join(rs.Dir, key+".json"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"dir":"/work/out","name":"data","version":3,"files":{` +
		`"a/b.csv":{"id":"` + idA.String() + `","size":5,"mtime":7,"ino":9,"dev":1,"ctime":8},` +
		`"c":{"id":"` + idB.String() + `","size":0,"mtime":6}}}` + "\n"
	if string(got) != want {
		t.Errorf("record:\n got  %s\n want %s", got, want)
	}
	got, err = afero.ReadFile(fsys, filepath.Join(rs.Dir, key+".pending.json"))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"dir":"/work/out","files":{"c":["` + idC.String() + `"]}}` + "\n"
	if string(got) != want {
		t.Errorf("pending:\n got  %s\n want %s", got, want)
	}

	back, err := rs.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(back.Files, st.Files) || back.Name != "data" || back.Version != 3 || back.Saved == 0 {
		t.Errorf("Load = %+v, want %+v", back, st)
	}
	if got := back.Pending["c"]; !slices.Equal(got, []objects.ID{idC}) {
		t.Errorf("Pending[c] = %v", got)
	}
	if err := rs.SavePending(root, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(filepath.Join(rs.Dir, key+".pending.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty pending record left on disk: %v", err)
	}
}

func TestRecordsDamaged(t *testing.T) {
	root := "/work/out"
	key := objects.Hash([]byte(root)).String()[:32]
	rid := `"id":"` + idA.String() + `","size":1,"mtime":1`
	for _, tc := range []struct {
		name, record, pending string
		files, pend           []string
	}{
		{"no record", "", "", nil, nil},
		{"garbage", "{", "[", nil, nil},
		{"another directory's", `{"dir":"/elsewhere","files":{"a":{` + rid + `}}}`,
			`{"dir":"/elsewhere","files":{"a":["` + idA.String() + `"]}}`, nil, nil},
		{"unclean paths dropped", `{"dir":"/work/out","files":{"a":{` + rid + `},"../x":{` + rid + `},"b/./c":{` + rid + `},".art/config":{` + rid + `}}}`,
			`{"dir":"/work/out","files":{"p":["` + idA.String() + `"],"/etc/x":["` + idA.String() + `"],"q":[]}}`,
			[]string{"a"}, []string{"p"}},
		{"a damaged record keeps the pending one", "{",
			`{"dir":"/work/out","files":{"p":["` + idA.String() + `"]}}`, nil, []string{"p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := afero.NewMemMapFs()
			rs := Records{Fs: fsys, Dir: "/r"}
			if tc.record != "" {
				afero.WriteFile(fsys, "/r/"+key+".json", []byte(tc.record), 0o644)
			}
			if tc.pending != "" {
				afero.WriteFile(fsys, "/r/"+key+".pending.json", []byte(tc.pending), 0o644)
			}
			st, err := rs.Load(root)
			if err != nil {
				t.Fatal(err)
			}
			if st.Dir != root {
				t.Errorf("Dir = %q", st.Dir)
			}
			if got := slices.Sorted(maps.Keys(st.Files)); !slices.Equal(got, tc.files) {
				t.Errorf("files %q, want %q", got, tc.files)
			}
			if got := slices.Sorted(maps.Keys(st.Pending)); !slices.Equal(got, tc.pend) {
				t.Errorf("pending %q, want %q", got, tc.pend)
			}
		})
	}
}

// TestRecordStream: SaveStream and SavePendingStream write what Save and
// SavePending write, byte for byte; Open and Files read it back in path
// order; files emitted out of order fail and leave the old record; a
// record whose paths are not sorted is as good as none.
func TestRecordStream(t *testing.T) {
	fsys := afero.NewMemMapFs()
	rs := Records{Fs: fsys, Dir: "/repo/.art/checkouts"}
	root := "/work/out"
	key := objects.Hash([]byte(root)).String()[:32]
	files := map[string]FileState{
		"a-b":     {ID: idA, Stat: Stat{Size: 5, MTime: 7, Ino: 9, Dev: 1, CTime: 8}},
		"a/<&>":   {ID: idB, Stat: Stat{Size: 0, MTime: 6}},
		"a/x.csv": {ID: idC, Stat: Stat{Size: 3, MTime: 2}},
	}
	st := &State{Dir: root, Name: "data", Version: 3, Files: files}
	if err := rs.Save(root, st); err != nil {
		t.Fatal(err)
	}
	whole, _ := afero.ReadFile(fsys, filepath.Join(rs.Dir, key+".json"))
	if err := rs.SaveStream(root, st, func(emit func(string, FileState) error) error {
		for _, p := range slices.Sorted(maps.Keys(files)) {
			if err := emit(p, files[p]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	streamed, _ := afero.ReadFile(fsys, filepath.Join(rs.Dir, key+".json"))
	if string(streamed) != string(whole) {
		t.Errorf("SaveStream wrote\n%s\nSave wrote\n%s", streamed, whole)
	}
	rec, err := rs.Open(root)
	if err != nil || rec.Name != "data" || rec.Version != 3 {
		t.Fatalf("Open = %+v, %v", rec, err)
	}
	var order []string
	if err := rec.Files(func(p string, f FileState) error {
		order = append(order, p)
		if f != files[p] {
			t.Errorf("%s: %+v, want %+v", p, f, files[p])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"a-b", "a/<&>", "a/x.csv"}) {
		t.Errorf("Files order %q", order)
	}
	if err := rs.SaveStream(root, st, func(emit func(string, FileState) error) error {
		emit("b", FileState{})
		return emit("a", FileState{})
	}); err == nil {
		t.Error("SaveStream took paths out of order")
	}
	if again, _ := afero.ReadFile(fsys, filepath.Join(rs.Dir, key+".json")); string(again) != string(whole) {
		t.Error("a failed SaveStream changed the record")
	}

	pend := map[string][]objects.ID{"a": {idA}, "b/c": {idB, idC}}
	if err := rs.SavePending(root, pend); err != nil {
		t.Fatal(err)
	}
	wholeP, _ := afero.ReadFile(fsys, filepath.Join(rs.Dir, key+".pending.json"))
	if err := rs.SavePendingStream(root, func(emit func(string, []objects.ID) error) error {
		for _, p := range SortedPending(pend) {
			if err := emit(p, pend[p]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	streamedP, _ := afero.ReadFile(fsys, filepath.Join(rs.Dir, key+".pending.json"))
	if string(streamedP) != string(wholeP) {
		t.Errorf("SavePendingStream wrote\n%s\nSavePending wrote\n%s", streamedP, wholeP)
	}
	if err := rs.SavePendingStream(root, func(func(string, []objects.ID) error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(filepath.Join(rs.Dir, key+".pending.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an empty pending record left on disk: %v", err)
	}

	rid := `{"id":"` + idA.String() + `","size":1,"mtime":1}`
	afero.WriteFile(fsys, filepath.Join(rs.Dir, key+".json"), []byte(`{"dir":"/work/out","files":{"b":`+rid+`,"a":`+rid+`}}`), 0o644)
	if st, err := rs.Load(root); err != nil || len(st.Files) != 0 {
		t.Errorf("an unsorted record loaded as %v, %v; want none", st.Files, err)
	}
}

// TestRecordFastScan reads records with the fast scanner and with
// encoding/json's decoder, which must agree: records SaveStream writes
// (stats with and without inode, device and change time, paths JSON
// escapes or that are not clean), and records of other forms (spaces, keys
// in another order, a zero written out), which the fast scanner refuses
// before it calls fn, so that Open reads them the slow way.
func TestRecordFastScan(t *testing.T) {
	fsys := afero.NewMemMapFs()
	rs := Records{Fs: fsys, Dir: "/r"}
	root := "/work/out"
	key := objects.Hash([]byte(root)).String()[:32]
	file := "/r/" + key + ".json"
	files := map[string]FileState{
		"a":   {ID: idA, Stat: Stat{Size: 1, MTime: -5}},
		"b c": {ID: idB, Stat: Stat{Size: 2, MTime: 7, Ino: 9}},
		"c/d": {ID: idC, Stat: Stat{Size: 3, MTime: 7, Dev: 4, CTime: 1 << 60}},
		"é/ü": {ID: idA, Stat: Stat{Size: 0, MTime: 0, Ino: 1, Dev: 2, CTime: 3}},
	}
	escaped := maps.Clone(files)
	escaped["b/<&>\"\\"] = FileState{ID: idB, Stat: Stat{Size: 2, MTime: 7}}
	rid := `{"id":"` + idA.String() + `","size":1,"mtime":1}`
	for _, tc := range []struct {
		name, record string
		fast         bool
	}{
		{"saved", "", true},
		{"saved, escaped", "escaped", false},
		{"spaces", `{"dir": "/work/out", "files": {"a": ` + rid + `}}` + "\n", false},
		{"keys in another order", `{"files":{"a":` + rid + `},"dir":"/work/out","name":"","version":0}` + "\n", false},
		{"a zero written out", `{"dir":"/work/out","name":"","version":0,"files":{"a":{"id":"` + idA.String() + `","size":1,"mtime":1,"ino":0}}}` + "\n", false},
		{"unclean path", `{"dir":"/work/out","name":"n","version":1,"files":{"../x":` + rid + `,"a":` + rid + `}}` + "\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.record == "" || tc.record == "escaped" {
				st := &State{Dir: root, Name: "d", Version: 2, Files: files}
				if tc.record == "escaped" {
					st.Files = escaped
				}
				if err := rs.Save(root, st); err != nil {
					t.Fatal(err)
				}
			} else {
				afero.WriteFile(fsys, file, []byte(tc.record), 0o644)
			}
			type entry struct {
				p string
				f FileState
			}
			var fast, slow []entry
			hf, isFast, errF := rs.scan(file, nil, true)
			if isFast != tc.fast && errF == nil {
				t.Errorf("read fast: %v, want %v", isFast, tc.fast)
			}
			hf, _, errF = rs.scan(file, func(p string, f FileState) error { fast = append(fast, entry{p, f}); return nil }, isFast)
			hs, errS := rs.scanSlow(file, func(p string, f FileState) error { slow = append(slow, entry{p, f}); return nil })
			if (errF == nil) != (errS == nil) || hf.Dir != hs.Dir || hf.Name != hs.Name || hf.Version != hs.Version || !slices.Equal(fast, slow) {
				t.Errorf("fast: %+v %v %v\nslow: %+v %v %v", hf, fast, errF, hs, slow, errS)
			}
		})
	}
}
