// Package dirremote is a remote.Transport on a local (or network-mounted)
// directory: the remote's keys are files under a root directory.
//
// # Layout
//
// Key "objects/ab/cdef…" is the file ROOT/objects/ab/cdef…. Names that start
// with a dot are never keys (remote.ValidateKey refuses them), so the
// driver's own files use them: ".tmp-*" for content being written and
// ".lock-*" for the lock of a key being swapped. List skips both, so a
// temp file left by a crash is invisible (it is never cleaned up by the
// driver; it is safe to delete one older than any running push). Empty
// directories are left in place after Delete.
//
// # Atomicity
//
// PutIfAbsent writes a temp file in the key's directory, syncs it, and
// publishes it with a hard link, which fails if the key exists: content
// is never overwritten, and readers see the whole file or no key. Where
// the file system has no hard links, the publish falls back to the swap
// lock below plus a rename.
//
// CompareAndSwap and Delete take an exclusive flock(2) on the key's lock
// file, compare the current state, then write a temp file, sync it and
// rename it over the key, and sync the directory. flock is released by
// the kernel when its holder dies, so a killed process never leaves a
// lock that blocks others; a lock file present but not locked is simply
// taken. On systems without flock the lock serialises swaps within one
// process only.
//
// # ETags
//
// An ETag is "INODE-SIZE-MTIME" (hex; MTIME in nanoseconds) of the key's
// file. Every write goes to a new file (a new inode while the old one is
// still linked) whose modification time the driver sets from the
// nanosecond clock, later than the previous version's, so the ETag
// changes whenever the content does; computing it costs one stat, never a
// read. Copying the remote directory elsewhere changes every ETag, which
// is safe: a swap from an old ETag then fails with remote.ErrConflict.
//
// # Limits
//
// A key segment must fit a file name (255 bytes). On a case-insensitive
// file system keys that differ only in case are one file. A key cannot be
// both a file and a directory ("refs/a" and "refs/a/b").
package dirremote
