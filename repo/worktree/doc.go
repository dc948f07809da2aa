// Package worktree is what a checkout does to a directory. Scan looks at
// what is on disk at each path a version wants there (and at each old
// path of the record), in parallel and never through a symbolic link;
// NewPlan decides, from that, the wanted files and the directory's
// checkout record, one Action per path (skip, write, chmod, remove, clear,
// forget or conflict), touching no file system; an Executor carries a Plan
// out on an afero.Fs, taking the files' content from a Source, and returns
// what the record must now say (Result); Checkout.Run wraps that in the
// order of the records. Verify compares a directory with the files of a
// version. Package repo gives the wanted files (from a version's
// manifest), the Source (its object store, and the files that file://
// references name) and the place of the records.
//
// # Records
//
// A State is what a directory was last checked out to: per path, the ID
// of the content written and the file's Stat afterwards, and when the
// record was saved. Its Pending map is what checkouts that did not finish
// were writing: IDs a path may hold besides its record, which are ours
// too. Records keeps both in the repository (checkouts/K.json and
// checkouts/K.pending.json, as PendingFile). Checkout.Run saves the
// pending record before anything changes, and the record, then the
// pending record without what is now recorded, after.
//
// # Rules
//
// A file is ours when its record says so and it is unchanged since (same
// Stat, last modified before the record was saved: Settled), or when its
// content hashes to its record's or to a pending ID. Only files of ours
// are replaced or removed unless forced. Nothing is removed through a
// symbolic link. What stands where a file must go (a file where the
// version has a directory, a directory where it has a file) is cleared
// when it holds only old files of ours that the checkout removes anyway,
// or when forced; otherwise it is a conflict, and a plan with a conflict
// is not carried out.
//
// # Carrying out
//
// Every file is written to a pending file in its own directory (anonymous
// where the OS allows, else named with TempPrefix), its bytes hashed on
// the way, and published under its name only once they hashed to its ID.
// Directories are created one at a time, none through a symbolic link or
// a file. An Executor may run several plans in turn, one batch each, the
// caller applying each Result to the record. With Executor.Stage (plans in
// path order) a directory the checkout creates is written whole in a
// staging directory (StagePrefix) and renamed into place by Publish: its
// files then need no pending file each, as none has a visible name until
// all are complete.
package worktree
