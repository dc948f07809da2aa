package repo

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/artvcs/art/lineage"
	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// Sentinel errors of runs, re-exported from lineage.
var (
	ErrRunNotFound   = lineage.ErrNotFound      // no run has that ID
	ErrRunNotRunning = lineage.ErrNotRunning    // the run has already finished or failed
	ErrInvalidRunID  = lineage.ErrInvalidRunID  // not the form of a run ID
	ErrInvalidStatus = lineage.ErrInvalidStatus // a status a run cannot end with
	// ErrInvalidConfig is returned for a run config or name that cannot be
	// recorded.
	ErrInvalidConfig = errors.New("invalid run config")
)

// Run statuses.
const (
	RunRunning  = lineage.StatusRunning
	RunFinished = lineage.StatusFinished
	RunFailed   = lineage.StatusFailed
)

// MaxRunNameLen is the longest run name, in bytes.
const MaxRunNameLen = 256

// Run is a job that uses versions as inputs and logs versions as outputs:
// W&B's run. Start one with Repo.StartRun; it stays running until Finish.
type Run struct {
	lineage.Run
	repo *Repo
}

func (r *Repo) lineage() *lineage.Index { return lineage.NewIndex(r.db) }

// StartRun records a new running run of jobType (validated like a name:
// "train", "preprocess"), with an optional free-text name and config (any
// value json.Marshal encodes as an object; nil for none). The run gets a
// random ID of 8 lowercase base-36 characters and the host it starts on.
func (r *Repo) StartRun(ctx context.Context, jobType, name string, config map[string]any) (*Run, error) {
	if err := refs.ValidateJobType(jobType); err != nil {
		return nil, err
	}
	if err := validateRunName(name); err != nil {
		return nil, err
	}
	raw := []byte("{}")
	if config != nil {
		var err error
		if raw, err = json.Marshal(config); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
		}
	}
	canon, err := objects.CanonicalJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	host, _ := os.Hostname()
	run := lineage.Run{JobType: jobType, Name: name, Config: canon, Host: host,
		Started: r.now().UTC(), Status: lineage.StatusRunning}
	// A new ID clashes with an existing one with odds of about runs/2.8e12;
	// try again then.
	for attempt := 0; ; attempt++ {
		if run.ID, err = lineage.NewRunID(); err != nil {
			return nil, err
		}
		err = r.writeTx(ctx, func(tx *sql.Tx) error {
			x := lineage.NewIndex(tx)
			if _, err := x.Run(ctx, run.ID); !errors.Is(err, lineage.ErrNotFound) {
				if err == nil {
					err = errRunIDTaken
				}
				return err
			}
			return x.Insert(ctx, run)
		})
		if !errors.Is(err, errRunIDTaken) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("start run: %w", err)
	}
	return &Run{Run: run, repo: r}, nil
}

var errRunIDTaken = errors.New("run id taken")

func validateRunName(name string) error {
	if len(name) > MaxRunNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("%w: run name must be valid UTF-8 of at most %d bytes", ErrInvalidConfig, MaxRunNameLen)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: run name %q holds a control character", ErrInvalidConfig, name)
	}
	return nil
}

// Run returns the run with ID id: ErrRunNotFound if there is none,
// ErrInvalidRunID if id cannot be a run ID.
func (r *Repo) Run(ctx context.Context, id string) (*Run, error) {
	run, err := r.lineage().Run(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Run{Run: run, repo: r}, nil
}

// Runs returns every run, newest first.
func (r *Repo) Runs(ctx context.Context) ([]*Run, error) {
	runs, err := r.lineage().Runs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Run, len(runs))
	for i, run := range runs {
		out[i] = &Run{Run: run, repo: r}
	}
	return out, nil
}

// LogArtifact logs a as the next version of its name with the run as its
// producer (W&B's run.log_artifact): Repo.Log with opts.Run set. If the
// content equals an existing version, that version is recorded as an
// output of the run but keeps its producer.
func (run *Run) LogArtifact(ctx context.Context, a *Artifact, opts *LogOptions) (Version, bool, error) {
	var o LogOptions
	if opts != nil {
		o = *opts
	}
	o.Run = run.ID
	return run.repo.Log(ctx, a, &o)
}

// UseArtifact records the version ref names as an input of the run (W&B's
// run.use_artifact) and returns it. Using a version twice records it once.
// A run that has ended is refused with ErrRunNotRunning and nothing is
// recorded.
func (run *Run) UseArtifact(ctx context.Context, ref string) (Version, error) {
	parsed, err := refs.Parse(ref)
	if err != nil {
		return Version{}, err
	}
	var v refs.Version
	err = run.repo.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		if v, err = refs.NewIndex(tx).Resolve(ctx, parsed); err != nil {
			return err
		}
		return lineage.NewIndex(tx).AddInput(ctx, run.ID, v.Commit)
	})
	if err != nil {
		return Version{}, fmt.Errorf("run %s: use %s: %w", run.ID, ref, err)
	}
	return Version{Version: v, repo: run.repo}, nil
}

// Checkout materialises the version ref names into dir, like
// Repo.Checkout, and records it as an input of the run; see Download.
func (run *Run) Checkout(ctx context.Context, ref, dir string, opts *CheckoutOptions) (CheckoutResult, error) {
	if _, err := run.repo.lineage().Running(ctx, run.ID); err != nil {
		return CheckoutResult{}, err
	}
	v, err := run.repo.Resolve(ctx, ref)
	if err != nil {
		return CheckoutResult{}, err
	}
	return run.Download(ctx, v, dir, opts)
}

// Download materialises the version v into root, like Version.Download,
// and then records it as an input of the run. A run that has ended is
// refused with ErrRunNotRunning before anything is written.
func (run *Run) Download(ctx context.Context, v Version, root string, opts *CheckoutOptions) (CheckoutResult, error) {
	if _, err := run.repo.lineage().Running(ctx, run.ID); err != nil {
		return CheckoutResult{}, err
	}
	res, err := v.Download(ctx, root, opts)
	if err != nil {
		return res, err
	}
	if err := run.repo.writeTx(ctx, func(tx *sql.Tx) error {
		return lineage.NewIndex(tx).AddInput(ctx, run.ID, v.Version.Commit)
	}); err != nil {
		return res, fmt.Errorf("run %s: record input %s: %w", run.ID, v.Ref(), err)
	}
	return res, nil
}

// Finish ends the run: finished if err is nil, failed otherwise (W&B's
// run.finish(exit_code)). See FinishStatus.
func (run *Run) Finish(ctx context.Context, err error) error {
	status := RunFinished
	if err != nil {
		status = RunFailed
	}
	return run.FinishStatus(ctx, status)
}

// FinishStatus ends the run with status (RunFinished or RunFailed). The
// run is written as an immutable run object (its job type, name, config,
// host, times, status, inputs and outputs) and the index records it, in
// one transaction that also checks the run is still running: finishing a
// run twice is refused with ErrRunNotRunning and writes nothing.
func (run *Run) FinishStatus(ctx context.Context, status string) error {
	if err := lineage.ValidateStatus(status); err != nil {
		return err
	}
	r := run.repo
	// Refuse an ended run before writing any object.
	if _, err := r.lineage().Running(ctx, run.ID); err != nil {
		return err
	}
	var ended lineage.Run
	err := r.writeTx(ctx, func(tx *sql.Tx) error {
		x := lineage.NewIndex(tx)
		cur, err := x.Running(ctx, run.ID)
		if err != nil {
			return err
		}
		inputs, err := x.Inputs(ctx, run.ID)
		if err != nil {
			return err
		}
		outputs, err := x.Outputs(ctx, run.ID)
		if err != nil {
			return err
		}
		finished := r.now().UTC()
		enc, err := cur.ObjectOf(status, finished, inputs, outputs).Encode()
		if err != nil {
			return err
		}
		// The object is durable before the index names it. Written inside
		// the transaction, it matches the edges exactly: no version can be
		// logged to or used by the run between the two.
		id, err := objects.PutBytes(ctx, r.store, enc)
		if err != nil {
			return err
		}
		if err := x.Finish(ctx, run.ID, status, finished, id); err != nil {
			return err
		}
		ended, err = x.Run(ctx, run.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	run.Run = ended
	return nil
}

// Inputs returns the versions the run used, by name and number.
func (run *Run) Inputs(ctx context.Context) ([]lineage.Node, error) {
	ids, err := run.repo.lineage().Inputs(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	return run.repo.versionNodes(ctx, ids)
}

// Outputs returns the versions the run logged, by name and number.
func (run *Run) Outputs(ctx context.Context) ([]lineage.Node, error) {
	ids, err := run.repo.lineage().Outputs(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	return run.repo.versionNodes(ctx, ids)
}

// LoggedBy returns the run that made the version (W&B's logged_by), or nil
// if it was logged outside any run.
func (v Version) LoggedBy(ctx context.Context) (*Run, error) {
	run, err := v.repo.lineage().LoggedBy(ctx, v.Version.Commit)
	if errors.Is(err, lineage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Run{Run: run, repo: v.repo}, nil
}

// UsedBy returns the runs that used the version (W&B's used_by), oldest
// first.
func (v Version) UsedBy(ctx context.Context) ([]*Run, error) {
	runs, err := v.repo.lineage().UsedBy(ctx, v.Version.Commit)
	if err != nil {
		return nil, err
	}
	out := make([]*Run, len(runs))
	for i, run := range runs {
		out[i] = &Run{Run: run, repo: v.repo}
	}
	return out, nil
}

// LineageGraph is the answer of Repo.Lineage; see package lineage for its
// JSON, dot, Mermaid and text forms.
type LineageGraph = lineage.Graph

// LineageNode is a version or run in a LineageGraph.
type LineageNode = lineage.Node

// Lineage directions.
const (
	Upstream   = lineage.Up
	Downstream = lineage.Down
	BothWays   = lineage.Both
)

// DefaultLineageDepth is how many runs away Lineage walks by default.
const DefaultLineageDepth = lineage.DefaultDepth

// Lineage returns the lineage graph of the version ref names: upstream
// (what it was made from), downstream (what used it) or both, to depth
// runs away (0 means lineage.DefaultDepth). Version nodes carry their
// artifact name, number and type; a version since deleted is named from
// its commit object and marked Deleted.
func (r *Repo) Lineage(ctx context.Context, ref string, dir lineage.Direction, depth int) (*LineageGraph, error) {
	v, err := r.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	g, err := r.lineage().Graph(ctx, v.Version.Commit, dir, depth)
	if err != nil {
		return nil, err
	}
	for i := range g.Nodes {
		if n := &g.Nodes[i]; n.Kind == lineage.KindVersion {
			if err := r.describeVersion(ctx, n); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// versionNodes returns version nodes for commit IDs, described, sorted by
// name and number.
func (r *Repo) versionNodes(ctx context.Context, ids []objects.ID) ([]lineage.Node, error) {
	out := make([]lineage.Node, len(ids))
	for i, id := range ids {
		out[i] = lineage.Node{Kind: lineage.KindVersion, ID: id.String(), Version: -1}
		if err := r.describeVersion(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b lineage.Node) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// describeVersion fills in a version node's name, number and type from the
// version index, or, for a deleted version, from its commit object (which
// GC keeps while a run names it). A node whose commit is gone too stays
// unnamed.
func (r *Repo) describeVersion(ctx context.Context, n *lineage.Node) error {
	id, err := objects.ParseID(n.ID)
	if err != nil {
		return err
	}
	v, err := r.index().ByCommit(ctx, id)
	if err == nil {
		n.Name, n.Version, n.Type = v.Name, v.Version, v.Type
		return nil
	}
	if !errors.Is(err, refs.ErrNotFound) {
		return err
	}
	c, err := objects.ReadCommit(ctx, r.store, id)
	if errors.Is(err, objects.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	n.Name, n.Version, n.Type, n.Deleted = c.Name, c.Version, c.Type, true
	return nil
}
