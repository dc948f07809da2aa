package refs_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

const (
	benchArtifacts = 100
	benchVersions  = 100
)

// benchDB returns a migrated SQLite file database (opened with the test
// DSN) holding benchArtifacts artifacts of benchVersions versions each; the
// alias "best" of every artifact points at its middle version.
func benchDB(b *testing.B) *sql.DB {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "art.db")
	dsn := "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := refs.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	for a := range benchArtifacts {
		name := benchName(a)
		err := benchTx(ctx, db, func(x *refs.Index) error {
			if err := x.EnsureArtifact(ctx, name, "dataset"); err != nil {
				return err
			}
			for range benchVersions {
				if _, err := benchInsert(ctx, x, name); err != nil {
					return err
				}
			}
			_, err := x.SetAlias(ctx, name, "best", benchVersions/2)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func benchName(a int) string { return fmt.Sprintf("artifact-%03d", a) }

// benchCommitID is the commit ID of name:vN in the benchmark index.
func benchCommitID(name string, n int64) objects.ID {
	return objects.Hash(fmt.Appendf(nil, "bench commit %s %d", name, n))
}

// benchTx runs fn over a write transaction and commits it.
func benchTx(ctx context.Context, db *sql.DB, fn func(x *refs.Index) error) error {
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

// benchInsert allocates the next version of name and records it, the way
// Repo.Log does.
func benchInsert(ctx context.Context, x *refs.Index, name string) (int64, error) {
	n, err := x.AllocateVersion(ctx, name)
	if err != nil {
		return 0, err
	}
	return n, x.Insert(ctx, refs.Version{
		Name: name, Type: "dataset", Version: n,
		Commit: benchCommitID(name, n), Tree: objects.Hash(fmt.Appendf(nil, "bench tree %s %d", name, n)),
		Size: 4 << 20, Files: 1000, Created: time.Unix(1_700_000_000+n, 0).UTC(),
		Description: "benchmark version", Metadata: []byte(`{"epoch":3,"split":"train"}`),
	})
}

// BenchmarkResolve resolves references against an index of 100 artifacts
// x 100 versions, cycling through the artifacts.
func BenchmarkResolve(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	x := refs.NewIndex(db)
	kinds := []struct {
		name string
		ref  func(a int) string
		want func(a int) int64
	}{
		{"latest", func(a int) string { return benchName(a) + ":latest" },
			func(int) int64 { return benchVersions - 1 }},
		{"version", func(a int) string { return fmt.Sprintf("%s:v%d", benchName(a), (a*37)%benchVersions) },
			func(a int) int64 { return int64((a * 37) % benchVersions) }},
		{"alias", func(a int) string { return benchName(a) + ":best" },
			func(int) int64 { return benchVersions / 2 }},
		{"idprefix", func(a int) string {
			n := int64((a * 53) % benchVersions)
			return benchName(a) + "@" + benchCommitID(benchName(a), n).String()[:8]
		}, func(a int) int64 { return int64((a * 53) % benchVersions) }},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			rs := make([]refs.Ref, benchArtifacts)
			for a := range rs {
				r, err := refs.Parse(k.ref(a))
				if err != nil {
					b.Fatal(err)
				}
				rs[a] = r
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				a := i % benchArtifacts
				i++
				v, err := x.Resolve(ctx, rs[a])
				if err != nil {
					b.Fatal(err)
				}
				if want := k.want(a); v.Version != want {
					b.Fatalf("%s resolved to v%d, want v%d", rs[a], v.Version, want)
				}
			}
		})
	}
}

// BenchmarkAllocateAndInsert logs versions into the populated index, one
// write transaction per version (ensure artifact, allocate, insert, commit).
func BenchmarkAllocateAndInsert(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		name := benchName(i % benchArtifacts)
		i++
		err := benchTx(ctx, db, func(x *refs.Index) error {
			if err := x.EnsureArtifact(ctx, name, "dataset"); err != nil {
				return err
			}
			_, err := benchInsert(ctx, x, name)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
