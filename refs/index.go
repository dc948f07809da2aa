package refs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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

// Version is the index record of one artifact version.
type Version struct {
	Name    string
	Type    string
	Version int64
	Commit  objects.ID // the version's ID
	Tree    objects.ID // the version's digest
	Size    int64      // bytes of all files (and references of known size)
	Files   int64      // number of files and references
	// Added is how many bytes the version added to the object store when
	// it was recorded (new chunks, whole blobs, chunk lists, trees and its
	// commit); content it shares with what was stored before costs
	// nothing. -1 when unknown (a version rebuilt by reindex).
	Added int64
	// Remote names the remote the version was fetched from ("" for a
	// version made here): files of such a version may be fetched lazily,
	// so one missing locally is not damage.
	Remote      string
	Created     time.Time
	Description string
	Metadata    json.RawMessage // canonical JSON object
	Producer    string          // run ID, "" if none
	Aliases     []string        // sorted; includes "latest" for the newest version
}

// Ref returns the canonical reference "name:vN" to v.
func (v Version) Ref() string { return v.Name + ":" + VersionString(v.Version) }

// Artifact summarises one artifact.
type Artifact struct {
	Name     string
	Type     string
	Latest   int64 // -1 when every version was deleted
	Versions int64 // versions that exist
	Aliases  map[string]int64
}

// Index reads and writes the version index through q.
type Index struct{ q Queryer }

// NewIndex returns an index over q. Writes must go through a transaction
// begun with an immediate lock (the repository's DSN sets _txlock=immediate)
// so version allocation is serialised.
func NewIndex(q Queryer) *Index { return &Index{q: q} }

var migrations = []string{
	`CREATE TABLE artifacts (
		name TEXT PRIMARY KEY,
		type TEXT NOT NULL,
		next_version INTEGER NOT NULL DEFAULT 0
	) STRICT`,
	`CREATE TABLE versions (
		name TEXT NOT NULL REFERENCES artifacts(name),
		version INTEGER NOT NULL,
		commit_id TEXT NOT NULL UNIQUE,
		tree_id TEXT NOT NULL,
		size INTEGER NOT NULL,
		files INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		description TEXT NOT NULL DEFAULT '',
		metadata TEXT NOT NULL DEFAULT '{}',
		producer TEXT,
		PRIMARY KEY (name, version)
	) STRICT`,
	`CREATE INDEX versions_by_tree ON versions(name, tree_id)`,
	`CREATE TABLE aliases (
		name TEXT NOT NULL,
		alias TEXT NOT NULL,
		version INTEGER NOT NULL,
		PRIMARY KEY (name, alias),
		FOREIGN KEY (name, version) REFERENCES versions(name, version) ON DELETE CASCADE
	) STRICT`,
	`ALTER TABLE versions ADD COLUMN added INTEGER NOT NULL DEFAULT -1`,
	`ALTER TABLE versions ADD COLUMN remote TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE artifacts ADD COLUMN retention TEXT NOT NULL DEFAULT ''`,
}

// Migrate creates or upgrades the index tables in db. Each step runs in its
// own transaction and is recorded, so Migrate is idempotent and safe to run
// from several processes at once.
func Migrate(ctx context.Context, db *sql.DB) error {
	return ApplyMigrations(ctx, db, "refs", migrations)
}

// ApplyMigrations applies the steps of component that db has not seen yet,
// one transaction each, recording progress in the schema_migrations table.
// Other packages sharing the database (lineage) use it with their own
// component name.
func ApplyMigrations(ctx context.Context, db *sql.DB, component string, steps []string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL, step INTEGER NOT NULL, PRIMARY KEY (component, step))`); err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	for i, step := range steps {
		err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE component = ? AND step = ?`, component, i).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, step); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, step) VALUES (?, ?)`, component, i); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return fmt.Errorf("migrate %s step %d: %w", component, i, err)
		}
	}
	return nil
}

// ArtifactType returns the type fixed by name's first version, or
// ErrNotFound if the artifact has never existed.
func (x *Index) ArtifactType(ctx context.Context, name string) (string, error) {
	var typ string
	err := x.q.QueryRowContext(ctx, `SELECT type FROM artifacts WHERE name = ?`, name).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: artifact %q", ErrNotFound, name)
	}
	return typ, err
}

// EnsureArtifact records name with type typ if it is new, and otherwise
// checks that typ matches; a mismatch is ErrTypeMismatch.
func (x *Index) EnsureArtifact(ctx context.Context, name, typ string) error {
	have, err := x.ArtifactType(ctx, name)
	if errors.Is(err, ErrNotFound) {
		_, err = x.q.ExecContext(ctx, `INSERT INTO artifacts (name, type) VALUES (?, ?)`, name, typ)
		return err
	}
	if err != nil {
		return err
	}
	if have != typ {
		return fmt.Errorf("%w: %s has type %q, not %q", ErrTypeMismatch, name, have, typ)
	}
	return nil
}

// EnsureNewArtifact is EnsureArtifact for an artifact that a commit or a
// pull may be about to create: if name is not an artifact yet but another
// artifact's name equals it ignoring letter case, it fails with
// ErrCaseCollision and creates nothing.
func (x *Index) EnsureNewArtifact(ctx context.Context, name, typ string) error {
	if _, err := x.ArtifactType(ctx, name); errors.Is(err, ErrNotFound) {
		var twin string
		err := x.q.QueryRowContext(ctx,
			`SELECT name FROM artifacts WHERE lower(name) = lower(?) AND name <> ? LIMIT 1`, name, name).Scan(&twin)
		if err == nil {
			return fmt.Errorf("%w: %s and the existing %s would be one file on a case-insensitive file system; pick another name",
				ErrCaseCollision, name, twin)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	} else if err != nil {
		return err
	}
	return x.EnsureArtifact(ctx, name, typ)
}

// AllocateVersion takes the next version number of name. Numbers are never
// reused, even after versions are deleted. Call it inside a write
// transaction.
func (x *Index) AllocateVersion(ctx context.Context, name string) (int64, error) {
	var n int64
	err := x.q.QueryRowContext(ctx,
		`UPDATE artifacts SET next_version = next_version + 1 WHERE name = ? RETURNING next_version - 1`, name).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: artifact %q", ErrNotFound, name)
	}
	return n, err
}

// Insert records a new version. Its aliases are not touched; use SetAlias.
func (x *Index) Insert(ctx context.Context, v Version) error {
	meta, err := objects.CanonicalJSON(v.Metadata)
	if err != nil {
		return err
	}
	var producer any
	if v.Producer != "" {
		producer = v.Producer
	}
	_, err = x.q.ExecContext(ctx, `INSERT INTO versions
		(name, version, commit_id, tree_id, size, files, created_at, description, metadata, producer, added, remote)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Name, v.Version, v.Commit.String(), v.Tree.String(), v.Size, v.Files,
		v.Created.UnixNano(), v.Description, string(meta), producer, v.Added, v.Remote)
	if err != nil {
		return fmt.Errorf("index version %s: %w", v.Ref(), err)
	}
	return nil
}

const versionCols = `name, (SELECT type FROM artifacts a WHERE a.name = v.name), version, commit_id, tree_id,
	size, files, created_at, description, metadata, coalesce(producer, ''), added, remote`

func (x *Index) scanVersions(ctx context.Context, query string, args ...any) ([]Version, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT `+versionCols+` FROM versions v `+query, args...)
	if err != nil {
		return nil, err
	}
	var out []Version
	for rows.Next() {
		var v Version
		var commit, tree, meta string
		var created int64
		if err := rows.Scan(&v.Name, &v.Type, &v.Version, &commit, &tree, &v.Size, &v.Files,
			&created, &v.Description, &meta, &v.Producer, &v.Added, &v.Remote); err != nil {
			rows.Close()
			return nil, err
		}
		if v.Commit, err = objects.ParseID(commit); err != nil {
			rows.Close()
			return nil, fmt.Errorf("index: version %s:v%d: %w", v.Name, v.Version, err)
		}
		if v.Tree, err = objects.ParseID(tree); err != nil {
			rows.Close()
			return nil, fmt.Errorf("index: version %s:v%d: %w", v.Name, v.Version, err)
		}
		v.Created = time.Unix(0, created).UTC()
		v.Metadata = json.RawMessage(meta)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		if out[i].Aliases, err = x.aliasesOf(ctx, out[i].Name, out[i].Version); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (x *Index) aliasesOf(ctx context.Context, name string, version int64) ([]string, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT alias FROM aliases WHERE name = ? AND version = ?
		UNION ALL SELECT 'latest' WHERE ? = (SELECT max(version) FROM versions WHERE name = ?)`,
		name, version, version, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	sort.Strings(out)
	return out, rows.Err()
}

func (x *Index) one(ctx context.Context, what string, query string, args ...any) (Version, error) {
	vs, err := x.scanVersions(ctx, query, args...)
	if err != nil {
		return Version{}, err
	}
	switch len(vs) {
	case 0:
		return Version{}, fmt.Errorf("%w: %s", ErrNotFound, what)
	case 1:
		return vs[0], nil
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.Ref() + " (" + v.Commit.Short() + ")"
	}
	return Version{}, fmt.Errorf("%w: %s matches %s", ErrAmbiguous, what, strings.Join(ids, ", "))
}

// FindByTree returns the version of name whose digest is tree, or
// ErrNotFound. If several versions share the tree (an older one was
// re-logged after being deleted and re-added), the newest is returned.
func (x *Index) FindByTree(ctx context.Context, name string, tree objects.ID) (Version, error) {
	return x.one(ctx, name+" with digest "+tree.Short(),
		`WHERE name = ? AND tree_id = ? ORDER BY version DESC LIMIT 1`, name, tree.String())
}

// Latest returns the highest-numbered version of name, or ErrNotFound.
func (x *Index) Latest(ctx context.Context, name string) (Version, error) {
	return x.one(ctx, name+":latest (no versions)", `WHERE name = ? ORDER BY version DESC LIMIT 1`, name)
}

// Resolve returns the version r names.
func (x *Index) Resolve(ctx context.Context, r Ref) (Version, error) {
	if _, err := x.ArtifactType(ctx, r.Name); err != nil {
		return Version{}, err
	}
	switch r.Kind {
	case ByVersion:
		return x.one(ctx, r.String(), `WHERE name = ? AND version = ?`, r.Name, r.Version)
	case ByAlias:
		return x.one(ctx, r.String()+" (no such alias)",
			`WHERE name = ? AND version = (SELECT version FROM aliases WHERE name = ? AND alias = ?)`,
			r.Name, r.Name, r.Alias)
	case ByID:
		return x.one(ctx, r.String(), `WHERE name = ? AND commit_id >= ? AND commit_id < ? ORDER BY version LIMIT 8`,
			r.Name, r.IDPrefix, r.IDPrefix+"g")
	}
	return x.Latest(ctx, r.Name)
}

// ByCommit returns the version whose commit ID is id, or ErrNotFound (the
// version was deleted, or never indexed).
func (x *Index) ByCommit(ctx context.Context, id objects.ID) (Version, error) {
	return x.one(ctx, "version with commit "+id.Short(), `WHERE commit_id = ?`, id.String())
}

// Versions returns every version of name, newest first.
func (x *Index) Versions(ctx context.Context, name string) ([]Version, error) {
	if _, err := x.ArtifactType(ctx, name); err != nil {
		return nil, err
	}
	return x.scanVersions(ctx, `WHERE name = ? ORDER BY version DESC`, name)
}

// AllVersions returns every version of every artifact, by name then number.
func (x *Index) AllVersions(ctx context.Context) ([]Version, error) {
	return x.scanVersions(ctx, `ORDER BY name, version`)
}

// Artifacts lists every artifact that has ever had a version, by name.
func (x *Index) Artifacts(ctx context.Context) ([]Artifact, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT a.name, a.type,
		coalesce((SELECT max(version) FROM versions v WHERE v.name = a.name), -1),
		(SELECT count(*) FROM versions v WHERE v.name = a.name)
		FROM artifacts a ORDER BY a.name`)
	if err != nil {
		return nil, err
	}
	var out []Artifact
	for rows.Next() {
		a := Artifact{Aliases: map[string]int64{}}
		if err := rows.Scan(&a.Name, &a.Type, &a.Latest, &a.Versions); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	arows, err := x.q.QueryContext(ctx, `SELECT name, alias, version FROM aliases`)
	if err != nil {
		return nil, err
	}
	defer arows.Close()
	byName := map[string]*Artifact{}
	for i := range out {
		byName[out[i].Name] = &out[i]
	}
	for arows.Next() {
		var name, alias string
		var v int64
		if err := arows.Scan(&name, &alias, &v); err != nil {
			return nil, err
		}
		if a := byName[name]; a != nil {
			a.Aliases[alias] = v
		}
	}
	return out, arows.Err()
}

// NextVersion returns the number the next version of name will take, or
// ErrNotFound if the artifact has never existed.
func (x *Index) NextVersion(ctx context.Context, name string) (int64, error) {
	var n int64
	err := x.q.QueryRowContext(ctx, `SELECT next_version FROM artifacts WHERE name = ?`, name).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: artifact %q", ErrNotFound, name)
	}
	return n, err
}

// RaiseNextVersion makes the next version of name at least n, so numbers
// used before are never reused (for rebuilding the index).
func (x *Index) RaiseNextVersion(ctx context.Context, name string, n int64) error {
	res, err := x.q.ExecContext(ctx, `UPDATE artifacts SET next_version = max(next_version, ?) WHERE name = ?`, n, name)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return fmt.Errorf("%w: artifact %q", ErrNotFound, name)
	}
	return nil
}

// Commits returns the commit ID of each existing version of name, by
// version number (one query, without aliases: cheaper than Versions).
func (x *Index) Commits(ctx context.Context, name string) (map[int64]objects.ID, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT version, commit_id FROM versions WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]objects.ID{}
	for rows.Next() {
		var v int64
		var s string
		if err := rows.Scan(&v, &s); err != nil {
			return nil, err
		}
		id, err := objects.ParseID(s)
		if err != nil {
			return nil, fmt.Errorf("index: version %s:v%d: %w", name, v, err)
		}
		out[v] = id
	}
	return out, rows.Err()
}

// Aliases returns the aliases set on name's versions ("latest" is not
// stored, so not listed).
func (x *Index) Aliases(ctx context.Context, name string) (map[string]int64, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT alias, version FROM aliases WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var alias string
		var v int64
		if err := rows.Scan(&alias, &v); err != nil {
			return nil, err
		}
		out[alias] = v
	}
	return out, rows.Err()
}

// Clear deletes every artifact, version and alias (the first step of
// rebuilding the index). Call it inside a write transaction.
func (x *Index) Clear(ctx context.Context) error {
	for _, q := range []string{`DELETE FROM aliases`, `DELETE FROM versions`, `DELETE FROM artifacts`} {
		if _, err := x.q.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// SetAlias points alias at version of name, moving it if it pointed
// elsewhere. It returns the version the alias pointed at before, or -1.
func (x *Index) SetAlias(ctx context.Context, name, alias string, version int64) (int64, error) {
	if err := ValidateAlias(alias); err != nil {
		return -1, err
	}
	prev := int64(-1)
	err := x.q.QueryRowContext(ctx, `SELECT version FROM aliases WHERE name = ? AND alias = ?`, name, alias).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return -1, err
	}
	_, err = x.q.ExecContext(ctx, `INSERT INTO aliases (name, alias, version) VALUES (?, ?, ?)
		ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version`, name, alias, version)
	if err != nil {
		return -1, fmt.Errorf("set alias %s:%s: %w", name, alias, err)
	}
	return prev, nil
}

// RemoveAlias removes alias from name; a missing alias is ErrNotFound.
func (x *Index) RemoveAlias(ctx context.Context, name, alias string) error {
	if alias == Latest {
		return fmt.Errorf("%w: %q always names the newest version and cannot be removed", ErrReservedAlias, alias)
	}
	res, err := x.q.ExecContext(ctx, `DELETE FROM aliases WHERE name = ? AND alias = ?`, name, alias)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: alias %s:%s", ErrNotFound, name, alias)
	}
	return nil
}

// Delete removes a version from the index. A version with aliases of its
// own (other than "latest") is refused with ErrHasAliases unless force is
// set, in which case the aliases go with it. The version's number is never
// reused.
func (x *Index) Delete(ctx context.Context, name string, version int64, force bool) error {
	var n int
	if err := x.q.QueryRowContext(ctx, `SELECT count(*) FROM aliases WHERE name = ? AND version = ?`, name, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 && !force {
		as, _ := x.aliasesOf(ctx, name, version)
		return fmt.Errorf("%w: %s:%s is %s", ErrHasAliases, name, VersionString(version), strings.Join(as, ", "))
	}
	if _, err := x.q.ExecContext(ctx, `DELETE FROM aliases WHERE name = ? AND version = ?`, name, version); err != nil {
		return err
	}
	res, err := x.q.ExecContext(ctx, `DELETE FROM versions WHERE name = ? AND version = ?`, name, version)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return fmt.Errorf("%w: %s:%s", ErrNotFound, name, VersionString(version))
	}
	return nil
}
