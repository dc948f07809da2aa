package refs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// openDB opens (creating) the SQLite database at path the way a repository
// does, as a separate handle: one per simulated process.
func openDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	dsn := "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newDB returns a migrated database in a temporary directory and its path.
func newDB(tb testing.TB) (*sql.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "art.db")
	db := openDB(tb, path)
	if err := refs.Migrate(context.Background(), db); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db, path
}

// inTx runs fn with an index over a write transaction and commits it.
func inTx(tb testing.TB, db *sql.DB, fn func(x *refs.Index) error) error {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(refs.NewIndex(tx)); err != nil {
		return err
	}
	return tx.Commit()
}

var created0 = time.Date(2024, 5, 17, 12, 0, 0, 123456789, time.UTC)

// commitID returns a distinct, deterministic commit ID for name:vN.
func commitID(name string, n int64) objects.ID {
	return objects.Hash([]byte(fmt.Sprintf("commit %s %d", name, n)))
}

// logVersion allocates the next version of name and inserts it, as one
// transaction, and returns it.
func logVersion(tb testing.TB, db *sql.DB, name, typ string) refs.Version {
	tb.Helper()
	return logVersionID(tb, db, name, typ, nil)
}

// logVersionID is logVersion with a chosen commit ID (nil: commitID(name, n)).
func logVersionID(tb testing.TB, db *sql.DB, name, typ string, id *objects.ID) refs.Version {
	tb.Helper()
	var v refs.Version
	err := inTx(tb, db, func(x *refs.Index) error {
		ctx := context.Background()
		if err := x.EnsureArtifact(ctx, name, typ); err != nil {
			return err
		}
		n, err := x.AllocateVersion(ctx, name)
		if err != nil {
			return err
		}
		v = refs.Version{
			Name:        name,
			Type:        typ,
			Version:     n,
			Commit:      commitID(name, n),
			Tree:        objects.Hash([]byte(fmt.Sprintf("tree %s %d", name, n))),
			Size:        1000 + n,
			Files:       3,
			Created:     created0.Add(time.Duration(n) * time.Hour),
			Description: fmt.Sprintf("version %d of %s", n, name),
			Metadata:    json.RawMessage(fmt.Sprintf(`{"n":%d,"acc":0.5}`, n)),
			Producer:    "run-1",
		}
		if id != nil {
			v.Commit = *id
		}
		return x.Insert(ctx, v)
	})
	if err != nil {
		tb.Fatalf("log %s: %v", name, err)
	}
	canon, _ := objects.CanonicalJSON(v.Metadata)
	v.Metadata = canon
	return v
}

func resolve(tb testing.TB, db *sql.DB, ref string) (refs.Version, error) {
	tb.Helper()
	r, err := refs.Parse(ref)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", ref, err)
	}
	return refs.NewIndex(db).Resolve(context.Background(), r)
}

func mustResolve(tb testing.TB, db *sql.DB, ref string) refs.Version {
	tb.Helper()
	v, err := resolve(tb, db, ref)
	if err != nil {
		tb.Fatalf("Resolve(%s): %v", ref, err)
	}
	return v
}

func TestMigrateIdempotent(t *testing.T) {
	db, path := newDB(t)
	ctx := context.Background()
	logVersion(t, db, "a", "dataset")
	if err := refs.Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	// And from another handle, as another process would.
	if err := refs.Migrate(ctx, openDB(t, path)); err != nil {
		t.Fatalf("Migrate from a second handle: %v", err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode=%q, %v; want wal", mode, err)
	}
	if got, want := mustResolve(t, db, "a:v0").Commit, commitID("a", 0); got != want {
		t.Fatalf("version lost across Migrate: %s, want %s", got, want)
	}
	var steps int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations WHERE component = 'refs'`).Scan(&steps); err != nil {
		t.Fatal(err)
	}
	if got, want := steps, 7; got != want {
		t.Fatalf("recorded migration steps=%d, want %d", got, want)
	}
}

func TestEnsureArtifact(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	x := refs.NewIndex(db)
	if _, err := x.ArtifactType(ctx, "bike"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("ArtifactType(missing) err=%v, want ErrNotFound", err)
	}
	if err := x.EnsureArtifact(ctx, "bike", "dataset"); err != nil {
		t.Fatal(err)
	}
	if err := x.EnsureArtifact(ctx, "bike", "dataset"); err != nil {
		t.Fatalf("EnsureArtifact again: %v", err)
	}
	if got, err := x.ArtifactType(ctx, "bike"); err != nil || got != "dataset" {
		t.Fatalf("ArtifactType=%q, %v; want dataset", got, err)
	}
	if err := x.EnsureArtifact(ctx, "bike", "model"); !errors.Is(err, refs.ErrTypeMismatch) {
		t.Fatalf("EnsureArtifact(other type) err=%v, want ErrTypeMismatch", err)
	}
	if got, _ := x.ArtifactType(ctx, "bike"); got != "dataset" {
		t.Fatalf("type changed to %q", got)
	}
	// A new name that differs from an existing one only in case.
	for _, name := range []string{"Bike", "BIKE", "bIkE"} {
		if err := x.EnsureNewArtifact(ctx, name, "dataset"); !errors.Is(err, refs.ErrCaseCollision) {
			t.Errorf("EnsureNewArtifact(%q) err=%v, want ErrCaseCollision", name, err)
		}
		if _, err := x.ArtifactType(ctx, name); !errors.Is(err, refs.ErrNotFound) {
			t.Errorf("%s was created: %v", name, err)
		}
	}
	if err := x.EnsureNewArtifact(ctx, "bike", "dataset"); err != nil {
		t.Errorf("EnsureNewArtifact of the existing name: %v", err)
	}
	if err := x.EnsureNewArtifact(ctx, "bikes", "dataset"); err != nil {
		t.Errorf("EnsureNewArtifact of another name: %v", err)
	}
}

func TestAllocateVersion(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	if err := inTx(t, db, func(x *refs.Index) error {
		_, err := x.AllocateVersion(ctx, "missing")
		return err
	}); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("AllocateVersion(missing) err=%v, want ErrNotFound", err)
	}
	for want := int64(0); want < 3; want++ {
		if got := logVersion(t, db, "m", "model").Version; got != want {
			t.Fatalf("version=%d, want %d", got, want)
		}
	}
	// Numbers are never reused, even after the newest is deleted.
	if err := refs.NewIndex(db).Delete(ctx, "m", 2, false); err != nil {
		t.Fatal(err)
	}
	if got, want := logVersion(t, db, "m", "model").Version, int64(3); got != want {
		t.Fatalf("version after deleting v2=%d, want %d", got, want)
	}
	for _, n := range []int64{0, 1, 3} {
		if err := refs.NewIndex(db).Delete(ctx, "m", n, false); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := logVersion(t, db, "m", "model").Version, int64(4); got != want {
		t.Fatalf("version after deleting all=%d, want %d", got, want)
	}
	// Counters are per artifact.
	if got, want := logVersion(t, db, "other", "model").Version, int64(0); got != want {
		t.Fatalf("first version of another artifact=%d, want %d", got, want)
	}
	// A rolled-back allocation is not consumed.
	errRollback := errors.New("rollback")
	if err := inTx(t, db, func(x *refs.Index) error {
		if _, err := x.AllocateVersion(ctx, "m"); err != nil {
			return err
		}
		return errRollback
	}); !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if got, want := logVersion(t, db, "m", "model").Version, int64(5); got != want {
		t.Fatalf("version after a rolled-back allocation=%d, want %d", got, want)
	}
}

func TestInsertAndResolve(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	v0 := logVersion(t, db, "bike", "dataset")
	v1 := logVersion(t, db, "bike", "dataset")
	v2 := logVersion(t, db, "bike", "dataset")
	logVersion(t, db, "other", "model")
	x := refs.NewIndex(db)
	if _, err := x.SetAlias(ctx, "bike", "best", 1); err != nil {
		t.Fatal(err)
	}
	v1.Aliases = []string{"best"}
	v0.Aliases = []string{}
	v2.Aliases = []string{"latest"}

	for _, tt := range []struct {
		ref  string
		want refs.Version
	}{
		{"bike", v2},
		{"bike:latest", v2},
		{"bike:v0", v0},
		{"bike:v1", v1},
		{"bike:v2", v2},
		{"bike:best", v1},
		{"bike@" + v0.Commit.String()[:8], v0},
		{"bike@" + v1.Commit.String(), v1},
	} {
		got := mustResolve(t, db, tt.ref)
		assertVersion(t, got, tt.want)
	}

	for _, ref := range []string{
		"missing",
		"missing:v0",
		"bike:v3",
		"bike:nosuchalias",
		"bike@" + commitID("other", 0).String()[:8], // another artifact's commit
		"bike@" + "ffff",
	} {
		if _, err := resolve(t, db, ref); !errors.Is(err, refs.ErrNotFound) {
			t.Errorf("Resolve(%s) err=%v, want ErrNotFound", ref, err)
		}
	}

	// Inserting an existing version or commit fails.
	dup := v0
	dup.Commit = objects.Hash([]byte("new commit"))
	if err := inTx(t, db, func(x *refs.Index) error { return x.Insert(ctx, dup) }); err == nil {
		t.Errorf("Insert of an existing version number succeeded")
	}
	dup = v0
	dup.Version = 99
	if err := inTx(t, db, func(x *refs.Index) error { return x.Insert(ctx, dup) }); err == nil {
		t.Errorf("Insert of an existing commit ID succeeded")
	}
	bad := v0
	bad.Version, bad.Commit, bad.Metadata = 98, objects.Hash([]byte("bad meta")), json.RawMessage(`[1]`)
	if err := inTx(t, db, func(x *refs.Index) error { return x.Insert(ctx, bad) }); !errors.Is(err, objects.ErrMalformed) {
		t.Errorf("Insert with array metadata err=%v, want ErrMalformed", err)
	}

	vs, err := x.Versions(ctx, "bike")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versionNumbers(vs), []int64{2, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("Versions=%v, want %v (newest first)", got, want)
	}
	if _, err := x.Versions(ctx, "missing"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Versions(missing) err=%v, want ErrNotFound", err)
	}
	all, err := x.AllVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var refsAll []string
	for _, v := range all {
		refsAll = append(refsAll, v.Ref())
	}
	if got, want := refsAll, []string{"bike:v0", "bike:v1", "bike:v2", "other:v0"}; !slices.Equal(got, want) {
		t.Fatalf("AllVersions=%v, want %v", got, want)
	}
	got, err := x.FindByTree(ctx, "bike", v1.Tree)
	if err != nil || got.Version != 1 {
		t.Fatalf("FindByTree=%v, %v; want v1", got.Ref(), err)
	}
	if _, err := x.FindByTree(ctx, "other", v1.Tree); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("FindByTree(other artifact) err=%v, want ErrNotFound", err)
	}
	if got, err := x.Latest(ctx, "bike"); err != nil || got.Version != 2 {
		t.Fatalf("Latest=%v, %v; want v2", got.Ref(), err)
	}
}

func TestResolveAmbiguousPrefix(t *testing.T) {
	db, _ := newDB(t)
	craft := func(b ...byte) *objects.ID {
		var id objects.ID
		copy(id[:], b)
		id[31] = byte(len(b)) + 1 // keep them distinct from each other
		return &id
	}
	a := logVersionID(t, db, "m", "model", craft(0xab, 0xcd, 0x12, 0x34))
	b := logVersionID(t, db, "m", "model", craft(0xab, 0xcd, 0x56, 0x78, 0x9a))
	logVersionID(t, db, "n", "model", craft(0xab, 0xcd, 0x12, 0x34, 0x56, 0x78)) // same prefix, other artifact
	_, err := resolve(t, db, "m@abcd")
	if !errors.Is(err, refs.ErrAmbiguous) {
		t.Fatalf("Resolve(m@abcd) err=%v, want ErrAmbiguous", err)
	}
	if got, want := mustResolve(t, db, "m@abcd1").Version, a.Version; got != want {
		t.Fatalf("Resolve(m@abcd1)=v%d, want v%d", got, want)
	}
	if got, want := mustResolve(t, db, "m@abcd5678").Version, b.Version; got != want {
		t.Fatalf("Resolve(m@abcd5678)=v%d, want v%d", got, want)
	}
	if got, want := mustResolve(t, db, "n@abcd").Name, "n"; got != want {
		t.Fatalf("Resolve(n@abcd) found %s, want artifact %s", got, want)
	}
	if _, err := resolve(t, db, "m@abce"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Resolve(m@abce) err=%v, want ErrNotFound", err)
	}
}

func TestAliases(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	for range 3 {
		logVersion(t, db, "m", "model")
	}
	x := refs.NewIndex(db)
	prev, err := x.SetAlias(ctx, "m", "best", 0)
	if err != nil || prev != -1 {
		t.Fatalf("SetAlias(new)=%d, %v; want -1", prev, err)
	}
	prev, err = x.SetAlias(ctx, "m", "best", 1)
	if err != nil || prev != 0 {
		t.Fatalf("SetAlias(move)=%d, %v; want 0", prev, err)
	}
	prev, err = x.SetAlias(ctx, "m", "best", 1)
	if err != nil || prev != 1 {
		t.Fatalf("SetAlias(same)=%d, %v; want 1", prev, err)
	}
	if _, err := x.SetAlias(ctx, "m", "prod", 1); err != nil {
		t.Fatal(err)
	}
	if got, want := mustResolve(t, db, "m:v1").Aliases, []string{"best", "prod"}; !slices.Equal(got, want) {
		t.Fatalf("v1 aliases=%v, want %v", got, want)
	}
	if got, want := mustResolve(t, db, "m:v0").Aliases, []string{}; !slices.Equal(got, want) {
		t.Fatalf("v0 aliases=%v, want %v", got, want)
	}
	for _, a := range []string{"latest", "v0", "v2"} {
		if _, err := x.SetAlias(ctx, "m", a, 0); !errors.Is(err, refs.ErrReservedAlias) {
			t.Errorf("SetAlias(%q) err=%v, want ErrReservedAlias", a, err)
		}
	}
	if _, err := x.SetAlias(ctx, "m", "bad alias", 0); !errors.Is(err, refs.ErrInvalidName) {
		t.Errorf("SetAlias(bad alias) err=%v, want ErrInvalidName", err)
	}
	if _, err := x.SetAlias(ctx, "m", "ghost", 7); err == nil {
		t.Errorf("SetAlias to a missing version succeeded")
	}
	if _, err := resolve(t, db, "m:ghost"); !errors.Is(err, refs.ErrNotFound) {
		t.Errorf("alias to a missing version resolves: %v", err)
	}

	if err := x.RemoveAlias(ctx, "m", "prod"); err != nil {
		t.Fatal(err)
	}
	if err := x.RemoveAlias(ctx, "m", "prod"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("RemoveAlias(missing) err=%v, want ErrNotFound", err)
	}
	if err := x.RemoveAlias(ctx, "m", "latest"); !errors.Is(err, refs.ErrReservedAlias) {
		t.Fatalf("RemoveAlias(latest) err=%v, want ErrReservedAlias", err)
	}
	if _, err := resolve(t, db, "m:prod"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Resolve(removed alias) err=%v, want ErrNotFound", err)
	}
	if got, want := mustResolve(t, db, "m:best").Version, int64(1); got != want {
		t.Fatalf("best=v%d, want v%d", got, want)
	}
}

func TestDelete(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	for range 3 {
		logVersion(t, db, "m", "model")
	}
	x := refs.NewIndex(db)
	if _, err := x.SetAlias(ctx, "m", "best", 1); err != nil {
		t.Fatal(err)
	}
	err := x.Delete(ctx, "m", 1, false)
	if !errors.Is(err, refs.ErrHasAliases) {
		t.Fatalf("Delete(aliased) err=%v, want ErrHasAliases", err)
	}
	if _, err := resolve(t, db, "m:v1"); err != nil {
		t.Fatalf("refused Delete removed the version: %v", err)
	}
	if err := x.Delete(ctx, "m", 1, true); err != nil {
		t.Fatalf("Delete(force): %v", err)
	}
	if _, err := resolve(t, db, "m:v1"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Resolve(deleted) err=%v, want ErrNotFound", err)
	}
	if _, err := resolve(t, db, "m:best"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("alias of a deleted version still resolves: %v", err)
	}
	if err := x.Delete(ctx, "m", 1, false); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Delete(deleted) err=%v, want ErrNotFound", err)
	}
	if err := x.Delete(ctx, "missing", 0, true); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Delete(missing artifact) err=%v, want ErrNotFound", err)
	}
	// "latest" alone does not protect a version.
	if err := x.Delete(ctx, "m", 2, false); err != nil {
		t.Fatalf("Delete(latest): %v", err)
	}
}

func TestLatestFollowsNewest(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	x := refs.NewIndex(db)
	if _, err := x.Latest(ctx, "m"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Latest(no artifact) err=%v, want ErrNotFound", err)
	}
	for range 3 {
		logVersion(t, db, "m", "model")
	}
	latestHolders := func() []int64 {
		t.Helper()
		vs, err := x.Versions(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, v := range vs {
			if slices.Contains(v.Aliases, refs.Latest) {
				out = append(out, v.Version)
			}
		}
		return out
	}
	if got, want := latestHolders(), []int64{2}; !slices.Equal(got, want) {
		t.Fatalf("latest on %v, want %v", got, want)
	}
	if err := x.Delete(ctx, "m", 2, false); err != nil {
		t.Fatal(err)
	}
	if got, want := latestHolders(), []int64{1}; !slices.Equal(got, want) {
		t.Fatalf("after deleting v2, latest on %v, want %v", got, want)
	}
	if got, want := mustResolve(t, db, "m:latest").Version, int64(1); got != want {
		t.Fatalf("m:latest=v%d, want v%d", got, want)
	}
	if err := x.Delete(ctx, "m", 0, false); err != nil {
		t.Fatal(err)
	}
	if got, want := latestHolders(), []int64{1}; !slices.Equal(got, want) {
		t.Fatalf("after deleting v0, latest on %v, want %v", got, want)
	}
	logVersion(t, db, "m", "model") // v3
	if got, want := latestHolders(), []int64{3}; !slices.Equal(got, want) {
		t.Fatalf("after logging v3, latest on %v, want %v", got, want)
	}
	for _, n := range []int64{1, 3} {
		if err := x.Delete(ctx, "m", n, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := resolve(t, db, "m"); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Resolve(m) with no versions err=%v, want ErrNotFound", err)
	}
}

func TestArtifacts(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	x := refs.NewIndex(db)
	if as, err := x.Artifacts(ctx); err != nil || len(as) != 0 {
		t.Fatalf("Artifacts of empty index=%v, %v", as, err)
	}
	for range 3 {
		logVersion(t, db, "zeta", "model")
	}
	logVersion(t, db, "alpha", "dataset")
	logVersion(t, db, "gone", "result")
	if _, err := x.SetAlias(ctx, "zeta", "best", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := x.SetAlias(ctx, "zeta", "prod", 1); err != nil {
		t.Fatal(err)
	}
	if err := x.Delete(ctx, "zeta", 2, false); err != nil {
		t.Fatal(err)
	}
	if err := x.Delete(ctx, "gone", 0, false); err != nil {
		t.Fatal(err)
	}
	got, err := x.Artifacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []refs.Artifact{
		{Name: "alpha", Type: "dataset", Latest: 0, Versions: 1, Aliases: map[string]int64{}},
		{Name: "gone", Type: "result", Latest: -1, Versions: 0, Aliases: map[string]int64{}},
		{Name: "zeta", Type: "model", Latest: 1, Versions: 2, Aliases: map[string]int64{"best": 0, "prod": 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Artifacts=%+v\nwant %+v", got, want)
	}
}

// TestConcurrentAllocation simulates processes committing at once: each
// goroutine has its own *sql.DB on the same file.
func TestConcurrentAllocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "art.db")
	if err := refs.Migrate(context.Background(), openDB(t, path)); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 8, 10
	dbs := make([]*sql.DB, workers)
	for i := range dbs {
		dbs[i] = openDB(t, path)
	}
	var (
		mu   sync.Mutex
		got  []int64
		errs []error
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			db := dbs[w]
			if err := refs.Migrate(ctx, db); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("worker %d: Migrate: %w", w, err))
				mu.Unlock()
				return
			}
			for i := range perWorker {
				n, err := func() (int64, error) {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return 0, err
					}
					defer tx.Rollback()
					x := refs.NewIndex(tx)
					if err := x.EnsureArtifact(ctx, "shared", "dataset"); err != nil {
						return 0, err
					}
					n, err := x.AllocateVersion(ctx, "shared")
					if err != nil {
						return 0, err
					}
					err = x.Insert(ctx, refs.Version{
						Name:    "shared",
						Version: n,
						Commit:  objects.Hash([]byte(fmt.Sprintf("worker %d commit %d", w, i))),
						Tree:    objects.Hash([]byte(fmt.Sprintf("worker %d tree %d", w, i))),
						Created: created0,
					})
					if err != nil {
						return 0, err
					}
					return n, tx.Commit()
				}()
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("worker %d tx %d: %w", w, i, err))
				} else {
					got = append(got, n)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	slices.Sort(got)
	want := make([]int64, workers*perWorker)
	for i := range want {
		want[i] = int64(i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("allocated versions=%v, want 0..%d dense and unique", got, len(want)-1)
	}
	vs, err := refs.NewIndex(dbs[0]).Versions(context.Background(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(vs), workers*perWorker; got != want {
		t.Fatalf("index holds %d versions, want %d", got, want)
	}
}

func assertVersion(tb testing.TB, got, want refs.Version) {
	tb.Helper()
	if !got.Created.Equal(want.Created) {
		tb.Errorf("%s: Created=%v, want %v", want.Ref(), got.Created, want.Created)
	}
	g, w := got, want
	g.Created, w.Created = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("version=%+v\nwant    %+v", g, w)
	}
}

func versionNumbers(vs []refs.Version) []int64 {
	var out []int64
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}
