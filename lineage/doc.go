// Package lineage records the runs that produce and consume artifact
// versions (W&B's logged_by and used_by) and answers graph queries over
// them. Its tables live in the repository's SQLite database next to the
// version index, so a version and its lineage edge commit together.
package lineage
