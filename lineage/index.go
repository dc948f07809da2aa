package lineage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/artvcs/art/objects"
)

// Queryer is what the index needs from a database handle: *sql.DB for reads
// and *sql.Tx inside a write transaction both satisfy it.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Migrations create the lineage tables. The repository applies them, one
// transaction each, under the component name "lineage" in the database it
// shares with the version index. Steps are only ever appended.
//
// The edge tables run_inputs and run_outputs hold integer keys, not text
// IDs: run_id is runs.n and commit_id is lineage_commits.n, where
// lineage_commits interns the (64 hex character) commit IDs that edges
// name. The recursive walks then compare, index and deduplicate small
// integers, which makes them about three times faster than on hex IDs
// (BenchmarkUpstream), and the edge indexes several times smaller. Commit
// IDs are not foreign keys into the version index: a version may be
// deleted while the runs that used or logged it remain, and its commit
// object is kept for them.
var Migrations = []string{
	`CREATE TABLE runs (
		n INTEGER PRIMARY KEY,
		id TEXT NOT NULL UNIQUE,
		job_type TEXT NOT NULL,
		name TEXT NOT NULL DEFAULT '',
		config TEXT NOT NULL DEFAULT '{}',
		host TEXT NOT NULL DEFAULT '',
		started_at INTEGER NOT NULL,
		finished_at INTEGER,
		status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
		object_id TEXT
	) STRICT`,
	`CREATE INDEX runs_by_start ON runs(started_at)`,
	`CREATE TABLE lineage_commits (
		n INTEGER PRIMARY KEY,
		id TEXT NOT NULL UNIQUE
	) STRICT`,
	`CREATE TABLE run_inputs (
		run_id INTEGER NOT NULL REFERENCES runs(n),
		commit_id INTEGER NOT NULL REFERENCES lineage_commits(n),
		PRIMARY KEY (run_id, commit_id)
	) STRICT, WITHOUT ROWID`,
	`CREATE INDEX run_inputs_by_commit ON run_inputs(commit_id, run_id)`,
	`CREATE TABLE run_outputs (
		run_id INTEGER NOT NULL REFERENCES runs(n),
		commit_id INTEGER NOT NULL REFERENCES lineage_commits(n),
		created INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (run_id, commit_id)
	) STRICT, WITHOUT ROWID`,
	`CREATE INDEX run_outputs_by_commit ON run_outputs(commit_id, run_id)`,
}

// Index reads and writes the lineage tables through q. Writes that must be
// atomic with other changes (a version and its output edge) go through the
// caller's transaction.
type Index struct{ q Queryer }

// NewIndex returns an index over q.
func NewIndex(q Queryer) *Index { return &Index{q: q} }

const runCols = `r.id, r.job_type, r.name, r.config, r.host, r.started_at, coalesce(r.finished_at, 0), r.status, coalesce(r.object_id, '')`

func scanRun(row interface{ Scan(...any) error }, extra ...any) (Run, error) {
	var r Run
	var config, object string
	var started, finished int64
	dest := append([]any{&r.ID, &r.JobType, &r.Name, &config, &r.Host, &started, &finished, &r.Status, &object}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Run{}, err
	}
	r.Config = json.RawMessage(config)
	r.Started = time.Unix(0, started).UTC()
	if r.Status != StatusRunning {
		r.Finished = time.Unix(0, finished).UTC()
	}
	if object != "" {
		id, err := objects.ParseID(object)
		if err != nil {
			return Run{}, fmt.Errorf("lineage: run %s: object: %w", r.ID, err)
		}
		r.Object = id
	}
	return r, nil
}

func (x *Index) runs(ctx context.Context, query string, args ...any) ([]Run, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT `+runCols+` FROM `+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Insert records a run. A running run has a zero Finished time and Object;
// an ended one (restored from its object) has both. The config must be a
// JSON object; it is stored in canonical form.
func (x *Index) Insert(ctx context.Context, r Run) error {
	if err := ValidateRunID(r.ID); err != nil {
		return err
	}
	if r.Status != StatusRunning {
		if err := ValidateStatus(r.Status); err != nil {
			return err
		}
	}
	config, err := objects.CanonicalJSON(r.Config)
	if err != nil {
		return fmt.Errorf("run config: %w", err)
	}
	var finished, object any
	if r.Status != StatusRunning {
		finished = r.Finished.UnixNano()
		if !r.Object.IsZero() {
			object = r.Object.String()
		}
	}
	_, err = x.q.ExecContext(ctx, `INSERT INTO runs
		(id, job_type, name, config, host, started_at, finished_at, status, object_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.JobType, r.Name, string(config), r.Host, r.Started.UnixNano(), finished, r.Status, object)
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

// Run returns the run id names, or ErrNotFound.
func (x *Index) Run(ctx context.Context, id string) (Run, error) {
	r, _, err := x.run(ctx, id)
	return r, err
}

// run returns the run id names and its key.
func (x *Index) run(ctx context.Context, id string) (Run, int64, error) {
	if err := ValidateRunID(id); err != nil {
		return Run{}, 0, err
	}
	var n int64
	r, err := scanRun(x.q.QueryRowContext(ctx, `SELECT `+runCols+`, r.n FROM runs r WHERE r.id = ?`, id), &n)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return r, n, err
}

// Running returns the run id names if it is still running: ErrNotFound if
// there is no such run, ErrNotRunning if it has ended. Inside a write
// transaction the answer holds until the transaction ends.
func (x *Index) Running(ctx context.Context, id string) (Run, error) {
	r, _, err := x.running(ctx, id)
	return r, err
}

func (x *Index) running(ctx context.Context, id string) (Run, int64, error) {
	r, n, err := x.run(ctx, id)
	if err != nil {
		return Run{}, 0, err
	}
	if !r.Running() {
		return r, 0, fmt.Errorf("%w: %s %s at %s", ErrNotRunning, id, r.Status, r.Finished.Format(time.RFC3339))
	}
	return r, n, nil
}

// Runs returns every run, newest first.
func (x *Index) Runs(ctx context.Context) ([]Run, error) {
	return x.runs(ctx, `runs r ORDER BY r.started_at DESC, r.id`)
}

// commitKey returns the key of commit in lineage_commits, adding it if
// it is new.
func (x *Index) commitKey(ctx context.Context, commit objects.ID) (int64, error) {
	var n int64
	err := x.q.QueryRowContext(ctx, `INSERT INTO lineage_commits (id) VALUES (?)
		ON CONFLICT (id) DO UPDATE SET id = excluded.id RETURNING n`, commit.String()).Scan(&n)
	return n, err
}

// AddInput records that the running run used the version commit. Using a
// version twice records it once. A run that is not running is refused with
// ErrNotRunning (ErrNotFound if there is none) and nothing is written.
func (x *Index) AddInput(ctx context.Context, run string, commit objects.ID) error {
	_, rn, err := x.running(ctx, run)
	if err != nil {
		return err
	}
	cn, err := x.commitKey(ctx, commit)
	if err != nil {
		return err
	}
	_, err = x.q.ExecContext(ctx, `INSERT OR IGNORE INTO run_inputs (run_id, commit_id) VALUES (?, ?)`, rn, cn)
	return err
}

// AddOutput records that the running run logged the version commit;
// created says the run made the version (it is its producer) rather than
// logging content equal to an existing version. Logging a version twice
// records it once, and created is never cleared. A run that is not running
// is refused like AddInput.
func (x *Index) AddOutput(ctx context.Context, run string, commit objects.ID, created bool) error {
	_, rn, err := x.running(ctx, run)
	if err != nil {
		return err
	}
	cn, err := x.commitKey(ctx, commit)
	if err != nil {
		return err
	}
	_, err = x.q.ExecContext(ctx, `INSERT INTO run_outputs (run_id, commit_id, created) VALUES (?, ?, ?)
		ON CONFLICT (run_id, commit_id) DO UPDATE SET created = max(created, excluded.created)`, rn, cn, created)
	return err
}

func (x *Index) commits(ctx context.Context, query string, args ...any) ([]objects.ID, error) {
	rows, err := x.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []objects.ID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		id, err := objects.ParseID(s)
		if err != nil {
			return nil, fmt.Errorf("lineage: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Inputs returns the commits the run used, sorted.
func (x *Index) Inputs(ctx context.Context, run string) ([]objects.ID, error) {
	return x.commits(ctx, `SELECT c.id FROM runs r JOIN run_inputs e ON e.run_id = r.n
		JOIN lineage_commits c ON c.n = e.commit_id WHERE r.id = ? ORDER BY c.id`, run)
}

// Outputs returns the commits the run logged, sorted.
func (x *Index) Outputs(ctx context.Context, run string) ([]objects.ID, error) {
	return x.commits(ctx, `SELECT c.id FROM runs r JOIN run_outputs e ON e.run_id = r.n
		JOIN lineage_commits c ON c.n = e.commit_id WHERE r.id = ? ORDER BY c.id`, run)
}

// Finish ends the running run with status (finished or failed) at
// finished, recording its run object. It is a compare-and-swap on the
// status: a run that has already ended is refused with ErrNotRunning and
// left as it is.
func (x *Index) Finish(ctx context.Context, id, status string, finished time.Time, object objects.ID) error {
	if err := ValidateStatus(status); err != nil {
		return err
	}
	res, err := x.q.ExecContext(ctx, `UPDATE runs SET status = ?, finished_at = ?, object_id = ?
		WHERE id = ? AND status = 'running'`, status, finished.UnixNano(), object.String(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		_, err := x.Running(ctx, id)
		if err == nil {
			err = fmt.Errorf("finish run %s: not updated", id)
		}
		return err
	}
	return nil
}

// LoggedBy returns the run that made the version commit (W&B's
// logged_by), or ErrNotFound if it was logged outside any run.
func (x *Index) LoggedBy(ctx context.Context, commit objects.ID) (Run, error) {
	rs, err := x.runs(ctx, `lineage_commits c JOIN run_outputs o ON o.commit_id = c.n JOIN runs r ON r.n = o.run_id
		WHERE c.id = ? AND o.created = 1 ORDER BY r.started_at, r.id LIMIT 1`, commit.String())
	if err != nil {
		return Run{}, err
	}
	if len(rs) == 0 {
		return Run{}, fmt.Errorf("%w: no run logged %s", ErrNotFound, commit.Short())
	}
	return rs[0], nil
}

// UsedBy returns the runs that used the version commit (W&B's used_by),
// oldest first.
func (x *Index) UsedBy(ctx context.Context, commit objects.ID) ([]Run, error) {
	return x.runs(ctx, `lineage_commits c JOIN run_inputs i ON i.commit_id = c.n JOIN runs r ON r.n = i.run_id
		WHERE c.id = ? ORDER BY r.started_at, r.id`, commit.String())
}

// CommitIDs returns every commit any run used or logged, for GC: those
// commits stay even when their versions are deleted.
func (x *Index) CommitIDs(ctx context.Context) ([]objects.ID, error) {
	return x.commits(ctx, `SELECT id FROM lineage_commits WHERE n IN
		(SELECT commit_id FROM run_inputs UNION SELECT commit_id FROM run_outputs) ORDER BY id`)
}

// ObjectIDs returns the run objects of every ended run, for GC.
func (x *Index) ObjectIDs(ctx context.Context) ([]objects.ID, error) {
	return x.commits(ctx, `SELECT object_id FROM runs WHERE object_id IS NOT NULL ORDER BY object_id`)
}

// Output is one version a run logged.
type Output struct {
	Commit  objects.ID
	Created bool // the run made the version
}

// Restore records an ended run with its inputs and outputs exactly as given,
// replacing whatever the index held for that run ID. It is for rebuilding
// the index from run objects.
func (x *Index) Restore(ctx context.Context, r Run, inputs []objects.ID, outputs []Output) error {
	if err := x.forget(ctx, r.ID); err != nil {
		return err
	}
	if err := x.Insert(ctx, r); err != nil {
		return err
	}
	_, rn, err := x.run(ctx, r.ID)
	if err != nil {
		return err
	}
	for _, in := range inputs {
		cn, err := x.commitKey(ctx, in)
		if err != nil {
			return err
		}
		if _, err := x.q.ExecContext(ctx, `INSERT OR IGNORE INTO run_inputs (run_id, commit_id) VALUES (?, ?)`, rn, cn); err != nil {
			return err
		}
	}
	for _, out := range outputs {
		cn, err := x.commitKey(ctx, out.Commit)
		if err != nil {
			return err
		}
		if _, err := x.q.ExecContext(ctx, `INSERT OR IGNORE INTO run_outputs (run_id, commit_id, created) VALUES (?, ?, ?)`,
			rn, cn, out.Created); err != nil {
			return err
		}
	}
	return nil
}

func (x *Index) forget(ctx context.Context, id string) error {
	for _, q := range []string{
		`DELETE FROM run_inputs WHERE run_id IN (SELECT n FROM runs WHERE id = ?)`,
		`DELETE FROM run_outputs WHERE run_id IN (SELECT n FROM runs WHERE id = ?)`,
		`DELETE FROM runs WHERE id = ?`,
	} {
		if _, err := x.q.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// DropEnded deletes every ended run and its edges, keeping running runs
// (which have no object to be rebuilt from), and forgets commits no edge
// names any more. It returns how many running runs were kept. It is the
// first step of rebuilding the index from run objects.
func (x *Index) DropEnded(ctx context.Context) (int, error) {
	for _, q := range []string{
		`DELETE FROM run_inputs WHERE run_id IN (SELECT n FROM runs WHERE status != 'running')`,
		`DELETE FROM run_outputs WHERE run_id IN (SELECT n FROM runs WHERE status != 'running')`,
		`DELETE FROM runs WHERE status != 'running'`,
		`DELETE FROM lineage_commits WHERE n NOT IN (SELECT commit_id FROM run_inputs UNION SELECT commit_id FROM run_outputs)`,
	} {
		if _, err := x.q.ExecContext(ctx, q); err != nil {
			return 0, err
		}
	}
	var n int
	err := x.q.QueryRowContext(ctx, `SELECT count(*) FROM runs`).Scan(&n)
	return n, err
}

// RenameCommit makes every edge that names the commit old name new
// instead: a version whose commit was rewritten (renumbered by a pull)
// keeps its lineage. Nothing happens if no edge names old.
func (x *Index) RenameCommit(ctx context.Context, old, new objects.ID) error {
	var n int64
	err := x.q.QueryRowContext(ctx, `SELECT n FROM lineage_commits WHERE id = ?`, old.String()).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	var m int64
	err = x.q.QueryRowContext(ctx, `SELECT n FROM lineage_commits WHERE id = ?`, new.String()).Scan(&m)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = x.q.ExecContext(ctx, `UPDATE lineage_commits SET id = ? WHERE n = ?`, new.String(), n)
		return err
	case err != nil:
		return err
	}
	// Both exist: move old's edges onto new's key.
	for _, q := range []string{
		`INSERT OR IGNORE INTO run_inputs (run_id, commit_id) SELECT run_id, ? FROM run_inputs WHERE commit_id = ?`,
		`INSERT OR IGNORE INTO run_outputs (run_id, commit_id, created) SELECT run_id, ?, created FROM run_outputs WHERE commit_id = ?`,
	} {
		if _, err := x.q.ExecContext(ctx, q, m, n); err != nil {
			return err
		}
	}
	for _, q := range []string{`DELETE FROM run_inputs WHERE commit_id = ?`, `DELETE FROM run_outputs WHERE commit_id = ?`} {
		if _, err := x.q.ExecContext(ctx, q, n); err != nil {
			return err
		}
	}
	return nil
}
