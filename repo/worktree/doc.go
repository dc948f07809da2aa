// Package worktree decides what a checkout does to a directory: from the
// files a version wants there, what is on disk at each of their paths and
// the checkout record of the directory, Plan makes one Action per path
// (skip, write, chmod, remove, clear, forget or conflict), touching no file
// system. Package repo gathers the disk state, asks for the plan and
// carries it out.
//
// # Records
//
// A State is what a directory was last checked out to: per path, the ID
// of the content written and the file's Stat afterwards, and when the
// record was saved. Its Pending map is what checkouts that did not finish
// were writing: IDs a path may hold besides its record, which are ours
// too. Package repo keeps both in the repository (checkouts/K.json and
// checkouts/K.pending.json, as PendingFile).
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
// or when forced; otherwise it is a conflict.
package worktree
