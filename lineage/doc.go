// Package lineage records the runs that produce and consume artifact
// versions (W&B's logged_by and used_by) and answers graph queries over
// them. Its tables live in the repository's SQLite database next to the
// version index, so a version and its lineage edge commit together.
//
// # Runs
//
// A Run is one job: a short random ID (NewRunID: 8 lowercase base-36
// characters), a job type ("preprocess", "train"), an optional name and
// config, the host it started on, start and finish times and a status
// (running, then finished or failed). A run is running until it is
// finished; only a running run may gain inputs or outputs. When it ends
// the caller writes it as an objects.Run (Run.Object) and records that
// object's ID with Index.Finish, so the lineage of a version can travel
// with its commits and the tables can be rebuilt from objects.
//
// # Edges
//
// A run's inputs (run_inputs) are the versions it used and its outputs
// (run_outputs) the versions it logged, both by commit ID. An output is
// marked created when the run made the version (it is the version's
// producer, LoggedBy); logging content equal to an existing version records
// an output edge but leaves the producer alone. Each table has an index in
// both directions, so every hop of a query is an index lookup.
//
// # Queries
//
// LoggedBy and UsedBy answer W&B's questions about one version. Upstream
// and Downstream walk the graph from a version with recursive CTEs, to a
// depth counted in runs, and return a Graph of version nodes (commit IDs)
// and run nodes joined by edges (version → run for an input, run → version
// for an output). This package knows nothing of artifact names: the caller
// (package repo, which owns the version index) fills in each version
// node's name, number and type before exporting it.
//
// # Exports
//
// A Graph is written as JSON (the `art lineage --json` shape), Graphviz dot,
// a Mermaid flowchart, or a readable text tree.
//
// This package imports only objects: its schema is the Migrations list,
// which the repository applies with the version index's migration runner.
package lineage
