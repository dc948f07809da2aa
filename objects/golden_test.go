package objects_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/artvcs/art/objects"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata/golden")

const goldenDir = "../testdata/golden"

// Known IDs of the golden encodings. They change only with the format, and a
// format change is a new header version: never edit these to make a test pass.
const (
	goldenTreeID   = "9e8ac8845167a5083ccc49e80f0e4ab39a41569731046894d220683e7a6e7cc8"
	goldenCommitID = "94a9839b514d33644cc3fd66b672801449487c2e5f550d8bb12628386763d000"
	goldenRunID    = "c37770f91de5ad30b930def178daf8af6f7a27538eb7785f290c5221af32c132"
	goldenPackID   = "e8cff2c7687533c61309737c3f20cc93140da0925c10e5e75645f9d500b512ba"
)

// mustID returns the ID of s, a stand-in for some object's bytes.
func mustID(s string) objects.ID { return objects.Hash([]byte(s)) }

// goldenTree has one entry of every kind and variant.
func goldenTree() *objects.Tree {
	return &objects.Tree{Entries: []objects.TreeEntry{
		// Deliberately unsorted: Encode sorts.
		{Name: "train.sh", Kind: objects.KindFile, ID: mustID("#!/bin/sh\n"), Size: 10, Exec: true},
		{Name: "data", Kind: objects.KindDir, ID: mustID("subtree")},
		{Name: "model.h5", Kind: objects.KindFile, ID: mustID("weights"), Size: 123456789},
		{Name: "empty", Kind: objects.KindFile, ID: objects.Hash(nil), Size: 0},
		{Name: "s3-shard", Kind: objects.KindRef, Size: 4096, Digest: `"9b2cf535f27731c974343645a3985328"`, URI: "s3://bucket/path/shard-0001.tar?versionId=3"},
		{Name: "web ref", Kind: objects.KindRef, Size: -1, URI: "https://example.com/data.csv"},
		{Name: "ünïcödé.txt", Kind: objects.KindFile, ID: mustID("unicode"), Size: 7},
		{Name: "README", Kind: objects.KindFile, ID: mustID("readme"), Size: 6},
	}}
}

// goldenCommit has every optional field set and a description and metadata
// that exercise escaping and canonicalisation.
func goldenCommit() *objects.Commit {
	return &objects.Commit{
		Name:        "bike-dataset",
		Type:        "dataset",
		Version:     3,
		Tree:        mustID("tree"),
		Parent:      mustID("parent"),
		Created:     time.Date(2024, 5, 17, 12, 34, 56, 789012345, time.UTC),
		Run:         "run-7f3a9c",
		Description: "Line one\nLine \"two\" with 'quotes' \\ and <html> & ünïcödé ✓ 😀\ttab",
		Metadata: json.RawMessage(`{
			"zeta": 1.0,
			"alpha": {"nested": {"b": [1, 2.5, "x", true, null], "a": -0.0}},
			"lr": 0.0003,
			"big": 12345678901234567890,
			"epochs": 20,
			"ratio": 1e-7,
			"html": "<a href=\"x\">&amp;</a>",
			"ünï": "cödé"
		}`),
	}
}

// goldenRun has every field set, inputs and outputs out of order, and a
// name, host and config that exercise escaping and canonicalisation.
func goldenRun() *objects.Run {
	return &objects.Run{
		ID:       "k3x9q2b7",
		JobType:  "train",
		Name:     "baseline \"ünïcödé\" <run> ✓",
		Config:   json.RawMessage(`{"lr": 0.0003, "epochs": 20.0, "layers": [64, 32], "opt": {"name": "adam", "betas": [0.9, 0.999]}}`),
		Host:     "gpu-01.example.com",
		Started:  time.Date(2024, 5, 17, 12, 0, 0, 123456789, time.UTC),
		Finished: time.Date(2024, 5, 17, 13, 30, 15, 987654321, time.UTC),
		Status:   objects.RunFinished,
		Inputs:   []objects.ID{mustID("clean:v1"), mustID("clean:v0"), mustID("tokenizer:v4")},
		Outputs:  []objects.ID{mustID("model:v7"), mustID("metrics:v2")},
	}
}

// goldenPack lists an object of every size class (empty, small, beyond
// 32 bits) and a chunk list, in the order of a pack's bytes (not sorted).
func goldenPack() []objects.PackEntry {
	obj := func(s string, size int64) objects.PackEntry {
		return objects.PackEntry{PackKey: objects.PackKey{Kind: objects.PackObject, ID: mustID(s)}, Size: size}
	}
	return []objects.PackEntry{
		obj("weights", 123456789012),
		obj("", 0),
		{PackKey: objects.PackKey{Kind: objects.PackList, ID: mustID("checkpoint")}, Size: 4242},
		obj("readme", 6),
	}
}

// TestGoldenPack pins the pack header format: a pack's name is the hash
// of its header, so local packs, remote packs and their indexes all
// depend on these bytes.
func TestGoldenPack(t *testing.T) {
	enc := objects.EncodePackHeader(goldenPack())
	checkGolden(t, "pack-v1.golden", enc)
	if got, want := objects.Hash(enc).String(), goldenPackID; got != want {
		t.Errorf("pack name=%s, want %s", got, want)
	}
	es, err := objects.ParsePackHeader(goldenPackID, enc)
	if err != nil {
		t.Fatalf("ParsePackHeader(golden): %v", err)
	}
	if !reflect.DeepEqual(es, goldenPack()) {
		t.Fatalf("ParsePackHeader(EncodePackHeader(es))=%+v, want %+v", es, goldenPack())
	}
	hdr, err := objects.ReadPackHeader(bufioReader(append(enc, "entries' bytes"...)))
	if err != nil || !bytes.Equal(hdr, enc) {
		t.Fatalf("ReadPackHeader(golden + bytes)=%q, %v; want the golden header", hdr, err)
	}
}

func TestGoldenTree(t *testing.T) {
	tree := goldenTree()
	enc, err := tree.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	checkGolden(t, "tree-v1.golden", enc)
	if got, want := objects.Hash(enc).String(), goldenTreeID; got != want {
		t.Errorf("tree ID=%s, want %s", got, want)
	}

	dec, err := objects.DecodeTree(enc)
	if err != nil {
		t.Fatalf("DecodeTree(golden): %v", err)
	}
	want := goldenTree()
	sortEntries(want)
	if !reflect.DeepEqual(dec, want) {
		t.Fatalf("DecodeTree(Encode(t))=%+v, want %+v", dec, want)
	}
	enc2, err := dec.Encode()
	if err != nil || !bytes.Equal(enc2, enc) {
		t.Fatalf("Encode(DecodeTree(b)) differs from b (err %v)", err)
	}
	for _, e := range want.Entries {
		got, ok := dec.Find(e.Name)
		if !ok || got != e {
			t.Errorf("Find(%q)=%+v, %v; want %+v", e.Name, got, ok, e)
		}
	}
	if _, ok := dec.Find("missing"); ok {
		t.Errorf("Find(missing) found something")
	}
}

func TestGoldenCommit(t *testing.T) {
	c := goldenCommit()
	enc, err := c.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	checkGolden(t, "commit-v1.golden", enc)
	if got, want := objects.Hash(enc).String(), goldenCommitID; got != want {
		t.Errorf("commit ID=%s, want %s", got, want)
	}

	dec, err := objects.DecodeCommit(enc)
	if err != nil {
		t.Fatalf("DecodeCommit(golden): %v", err)
	}
	want := goldenCommit()
	want.Metadata, err = objects.CanonicalJSON(want.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	assertCommitEqual(t, dec, want)
	enc2, err := dec.Encode()
	if err != nil || !bytes.Equal(enc2, enc) {
		t.Fatalf("Encode(DecodeCommit(b)) differs from b (err %v)", err)
	}
}

func TestGoldenRun(t *testing.T) {
	r := goldenRun()
	enc, err := r.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	checkGolden(t, "run-v1.golden", enc)
	if got, want := objects.Hash(enc).String(), goldenRunID; got != want {
		t.Errorf("run ID=%s, want %s", got, want)
	}
	dec, err := objects.DecodeRun(enc)
	if err != nil {
		t.Fatalf("DecodeRun(golden): %v", err)
	}
	want := goldenRun()
	if want.Config, err = objects.CanonicalJSON(want.Config); err != nil {
		t.Fatal(err)
	}
	sortIDs(want.Inputs)
	sortIDs(want.Outputs)
	assertRunEqual(t, dec, want)
	enc2, err := dec.Encode()
	if err != nil || !bytes.Equal(enc2, enc) {
		t.Fatalf("Encode(DecodeRun(b)) differs from b (err %v)", err)
	}
}

// TestRunMinimal covers the empty fields: no name, host, config, inputs or
// outputs.
func TestRunMinimal(t *testing.T) {
	r := &objects.Run{ID: "a", JobType: "eval", Status: objects.RunFailed, Started: time.Unix(0, 5), Finished: time.Unix(0, 7)}
	enc, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "art run 1\nid a\njob_type eval\nname \"\"\nconfig {}\nhost \"\"\nstarted 5\nfinished 7\nstatus failed\n"
	if got := string(enc); got != want {
		t.Fatalf("Encode=%q, want %q", got, want)
	}
	dec, err := objects.DecodeRun(enc)
	if err != nil {
		t.Fatal(err)
	}
	r.Config = json.RawMessage("{}")
	assertRunEqual(t, dec, r)
}

// TestRunRejects covers values Encode refuses and encodings DecodeRun
// refuses.
func TestRunRejects(t *testing.T) {
	base := func() *objects.Run {
		return &objects.Run{ID: "abc", JobType: "train", Status: objects.RunFinished}
	}
	for name, mut := range map[string]func(r *objects.Run){
		"empty id":        func(r *objects.Run) { r.ID = "" },
		"uppercase id":    func(r *objects.Run) { r.ID = "ABC" },
		"long id":         func(r *objects.Run) { r.ID = strings.Repeat("a", objects.MaxRunIDLen+1) },
		"space job type":  func(r *objects.Run) { r.JobType = "pre process" },
		"empty job type":  func(r *objects.Run) { r.JobType = "" },
		"running":         func(r *objects.Run) { r.Status = "running" },
		"config array":    func(r *objects.Run) { r.Config = json.RawMessage("[1]") },
		"duplicate input": func(r *objects.Run) { r.Inputs = []objects.ID{mustID("a"), mustID("a")} },
		"zero output":     func(r *objects.Run) { r.Outputs = []objects.ID{{}} },
	} {
		r := base()
		mut(r)
		if _, err := r.Encode(); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("%s: Encode err=%v, want ErrMalformed", name, err)
		}
	}
	good, err := goldenRun().Encode()
	if err != nil {
		t.Fatal(err)
	}
	in0, in1 := mustID("clean:v0").String(), mustID("clean:v1").String()
	lo, hi := in0, in1
	if hi < lo {
		lo, hi = hi, lo
	}
	for name, b := range map[string]string{
		"no header":        strings.TrimPrefix(string(good), objects.RunHeader),
		"other header":     strings.Replace(string(good), "art run 1", "art run 2", 1),
		"unsorted inputs":  strings.Replace(strings.Replace(strings.Replace(string(good), lo, "X", 1), hi, lo, 1), "X", hi, 1),
		"duplicate input":  strings.Replace(string(good), hi, lo, 1),
		"config spaces":    strings.Replace(string(good), `"epochs":20`, `"epochs": 20`, 1),
		"config unsorted":  strings.Replace(string(good), `{"epochs":20,"layers":[64,32],`, `{"layers":[64,32],"epochs":20,`, 1),
		"escaped name":     strings.Replace(string(good), "<run>", `\u003crun\u003e`, 1),
		"trailing line":    string(good) + "extra 1\n",
		"no final newline": strings.TrimSuffix(string(good), "\n"),
		"fields swapped":   strings.Replace(string(good), "id k3x9q2b7\njob_type train\n", "job_type train\nid k3x9q2b7\n", 1),
		"status running":   strings.Replace(string(good), "status finished", "status running", 1),
		"started +0":       strings.Replace(string(good), "started 1", "started +1", 1),
		"uppercase input":  strings.Replace(string(good), "input "+in0, "input "+strings.ToUpper(in0), 1),
	} {
		if _, err := objects.DecodeRun([]byte(b)); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("%s: DecodeRun err=%v, want ErrMalformed", name, err)
		}
	}
}

func assertRunEqual(tb testing.TB, got, want *objects.Run) {
	tb.Helper()
	for _, tt := range [][2]time.Time{{got.Started, want.Started}, {got.Finished, want.Finished}} {
		if !tt[0].Equal(tt[1]) || tt[0].Location() != time.UTC {
			tb.Errorf("time=%v, want %v in UTC", tt[0], tt[1])
		}
	}
	g, w := *got, *want
	g.Started, w.Started, g.Finished, w.Finished = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("run=%+v\nwant %+v", g, w)
	}
}

func sortIDs(ids []objects.ID) {
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
}

// TestCommitMinimal covers the optional fields left out: no parent, no run,
// empty description and metadata.
func TestCommitMinimal(t *testing.T) {
	c := &objects.Commit{Name: "m", Type: "model", Tree: mustID("t"), Created: time.Unix(0, 0)}
	enc, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "art commit 1\nname m\ntype model\nversion 0\ntree " + mustID("t").String() +
		"\ncreated 0\ndescription \"\"\nmetadata {}\n"
	if got := string(enc); got != want {
		t.Fatalf("Encode=%q, want %q", got, want)
	}
	dec, err := objects.DecodeCommit(enc)
	if err != nil {
		t.Fatal(err)
	}
	c.Metadata = json.RawMessage("{}")
	assertCommitEqual(t, dec, c)
}

func TestTreeEmpty(t *testing.T) {
	enc, err := (&objects.Tree{}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(enc), objects.TreeHeader; got != want {
		t.Fatalf("Encode(empty)=%q, want %q", got, want)
	}
	dec, err := objects.DecodeTree(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(dec.Entries), 0; got != want {
		t.Fatalf("len(Entries)=%d, want %d", got, want)
	}
}

func assertCommitEqual(tb testing.TB, got, want *objects.Commit) {
	tb.Helper()
	if !got.Created.Equal(want.Created) {
		tb.Errorf("Created=%v, want %v", got.Created, want.Created)
	}
	if got.Created.Location() != time.UTC {
		tb.Errorf("Created is in %v, want UTC", got.Created.Location())
	}
	g, w := *got, *want
	g.Created, w.Created = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("commit=%+v\nwant %+v", g, w)
	}
}

func sortEntries(t *objects.Tree) {
	es := t.Entries
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Name < es[j-1].Name; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// checkGolden compares got with the golden file name. With -update it
// rewrites the file; on a mismatch it writes name.actual beside it.
func checkGolden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join(goldenDir, name)
	actual := path + ".actual"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		os.Remove(actual)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden file (run go test ./objects -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		if err := os.WriteFile(actual, got, 0o644); err != nil {
			tb.Errorf("write %s: %v", actual, err)
		}
		tb.Fatalf("encoding differs from %s; got written to %s\ngot:\n%s\nwant:\n%s", path, actual, got, want)
	}
	os.Remove(actual)
}
