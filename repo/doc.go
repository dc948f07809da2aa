// Package repo is art's public API: a repository of versioned artifacts on
// one machine, composed from the object store (package objects), the
// version index (package refs) and the lineage record (package lineage),
// which share one SQLite database.
//
// # Layout
//
// A repository is a directory (".art" inside a project) holding
//
//	config       format version, hash algorithm and chunking (JSON)
//	objects/     the object store (objects.FSStore): loose objects, chunk
//	             lists, and packs in objects/pack/
//	index.db     SQLite: versions, aliases, runs (an index over objects)
//	refs/        one ref document per artifact: its versions and their
//	             commits, aliases, deleted versions and next version
//	             number, for Reindex
//	checkouts/   what each checkout directory was last set to, and what an
//	             interrupted checkout was writing (repo/worktree's records)
//	statcache/   per committed directory, file stats to blob IDs
//	remotes.json the configured remotes; remotes/NAME/ what each remote
//	             held when last seen (its pack indexes among it)
//	served/      the store `art serve` serves by default
//
// # Artifacts and versions
//
// An Artifact is built like W&B's wandb.Artifact (AddFile, AddDir, NewFile,
// AddReference) and logged with Repo.Log, which stores its files, builds
// its trees and, unless an existing version has the same content, records a
// new version v0, v1, … in one transaction. A Version is then looked up by
// any reference refs.Parse accepts and can be checked out, verified, diffed
// and deleted.
//
// # Runs and lineage
//
// A Run (Repo.StartRun) is a job that uses versions (Run.UseArtifact,
// Run.Checkout) and logs them (Run.LogArtifact, Repo.Log with
// LogOptions.Run); its output edge is written in the version's own
// transaction, and a run that has ended is refused before anything is
// written. Run.Finish writes the run as an immutable run object.
// Version.LoggedBy, Version.UsedBy and Repo.Lineage answer from the
// lineage tables (package lineage), and Repo.Reindex rebuilds every table
// from the commit and run objects and the ref documents.
//
// # Errors
//
// Errors state what went wrong, never what to do about it (that is the
// caller's; cmd/art's advice is in its errors.go). Each case is a sentinel
// wrapped with %w and some context (ErrNotRepository, ErrLocalChanges,
// ErrConflict, ErrNoRemote, and those of objects, refs and lineage
// re-exported here), or, where a caller needs a field, a typed error that
// unwraps to one: NotFastForwardError (the remote and the artifact),
// DamagedPackError (the damaged keys of a remote), UnreadableError (the
// object GC or DiskUsage could not read).
//
// # Safety
//
// Objects are immutable and durable before a version naming them is
// recorded. Checkout never writes outside its target directory, never
// follows a symlink it did not create, never writes bytes that fail their
// hash, and never overwrites or deletes a file the user changed unless
// forced. GC keeps everything reachable from a version, every run object
// and the commits runs name, and anything younger than its grace period.
package repo
