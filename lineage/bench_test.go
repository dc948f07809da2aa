package lineage_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/artvcs/art/lineage"
	"github.com/artvcs/art/objects"
)

// The benchmark graph: benchRuns runs, each using two versions and logging
// one (3 edges a run: 300,000 in all), over benchRoots initial versions.
// Inputs are drawn from the benchWindow most recent versions, so chains run
// deep (thousands of runs) and a walk of depth 10 from a leaf fans out over
// up to 2^10 runs rather than stopping early.
const (
	benchRuns   = 100_000
	benchRoots  = 1_000
	benchWindow = 2_000
)

// benchCommit is the stand-in commit ID of the i-th version.
func benchCommit(i int) objects.ID {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	return objects.Hash(b[:])
}

// openFileDB opens a SQLite file as the repository does (WAL, foreign
// keys) and creates the lineage tables.
func openFileDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	db, err := sql.Open("sqlite", u.String()+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	migrate(tb, db)
	return db
}

// generate writes the benchmark graph in one transaction with prepared
// statements and returns the commit ID of a leaf (the last run's output).
func generate(tb testing.TB, db *sql.DB) objects.ID {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		s, err := tx.PrepareContext(ctx, q)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	// Keys are given explicitly: run i is n = i+1, version v is n = v+1.
	insCommit := prep(`INSERT INTO lineage_commits (n, id) VALUES (?, ?)`)
	insRun := prep(`INSERT INTO runs (n, id, job_type, name, config, host, started_at, finished_at, status, object_id)
		VALUES (?, ?, ?, '', '{}', 'bench', ?, ?, 'finished', ?)`)
	insIn := prep(`INSERT OR IGNORE INTO run_inputs (run_id, commit_id) VALUES (?, ?)`)
	insOut := prep(`INSERT INTO run_outputs (run_id, commit_id, created) VALUES (?, ?, 1)`)
	exec := func(s *sql.Stmt, args ...any) {
		if _, err := s.ExecContext(ctx, args...); err != nil {
			tb.Fatal(err)
		}
	}
	for v := range benchRoots {
		exec(insCommit, v+1, benchCommit(v).String())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	jobs := []string{"preprocess", "train", "evaluate", "export"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	versions := benchRoots
	var leaf objects.ID
	for i := range benchRuns {
		ts := start + int64(i)*int64(time.Second)
		exec(insRun, i+1, fmt.Sprintf("r%07d", i), jobs[i%len(jobs)], ts, ts+int64(time.Millisecond), benchCommit(-1-i).String())
		lo := max(0, versions-benchWindow)
		for range 2 {
			exec(insIn, i+1, lo+rng.IntN(versions-lo)+1)
		}
		leaf = benchCommit(versions)
		exec(insCommit, versions+1, leaf.String())
		exec(insOut, i+1, versions+1)
		versions++
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return leaf
}

// BenchmarkUpstream answers an upstream query of depth 10 from a leaf of a
// graph of 100,000 runs and 300,000 edges in a SQLite file. The target is
// well under 50 ms an answer.
func BenchmarkUpstream(b *testing.B) {
	db := openFileDB(b, filepath.Join(b.TempDir(), "lineage.db"))
	t := time.Now()
	leaf := generate(b, db)
	b.Logf("generated %d runs and %d edges in %v", benchRuns, 3*benchRuns, time.Since(t).Round(time.Millisecond))
	var n int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM run_inputs) + (SELECT count(*) FROM run_outputs)`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n < 3*benchRuns-benchRuns/100 {
		b.Fatalf("%d edges generated, want about %d", n, 3*benchRuns)
	}
	x := lineage.NewIndex(db)
	ctx := context.Background()
	var g *lineage.Graph
	for b.Loop() {
		var err error
		if g, err = x.Upstream(ctx, leaf, 10); err != nil {
			b.Fatal(err)
		}
	}
	runs := 0
	for _, n := range g.Nodes {
		if n.Kind == lineage.KindRun {
			runs++
		}
	}
	b.ReportMetric(float64(runs), "runs")
	b.ReportMetric(float64(len(g.Nodes)), "nodes")
	b.ReportMetric(float64(len(g.Edges)), "edges")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/query")
}
