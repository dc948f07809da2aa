// Package faulttest provides Fs, an afero.Fs wrapper for tests that counts
// file system operations, fails chosen ones, and simulates crashes, so a
// test can run an operation with a fault at every point it touches the
// disk and check what survives.
//
// # Operations
//
// Every call is counted under one Op kind: OpWrite, OpSync (of a file,
// a directory, or SyncFS), OpRename, OpCreate (a new file: an open that
// creates one, a symbolic link, CreateAnonymous), OpRemove, OpMkdir,
// OpChtimes, OpOpenWrite (an existing file opened for writing), OpChmod,
// OpLink (LinkAnonymous), and the reads OpOpen, OpRead and OpStat. A call is
// one operation of one kind, so "the Nth write" is well defined for a
// single-threaded caller; with several goroutines the order of their
// operations, and so which one is the Nth, may differ from run to run.
//
// # Faults
//
// Fs.Inject makes the Nth operation of a kind (or every one from the Nth
// on) fail with a chosen error, wrapped in an *os.PathError like a real
// one (syscall.EIO when none is given; syscall.ENOSPC for a full disk). A
// failed operation changes nothing, except a write, which writes the
// first half of its bytes before failing (as a full disk may), and a sync,
// which poisons the file (below).
//
// # Crashes
//
// Fs keeps a model of what a power loss would keep, and Crash applies it
// to the wrapped file system:
//
//   - A file's content survives as it was at its last successful Sync (a
//     file written but never synced comes back empty); a file that existed
//     before the Fs was made (or before Settle or the last Crash) is
//     durable as it was then.
//   - A name created, removed or renamed in a directory survives only if
//     the directory was synced (opened and Synced, as objects.SyncDir
//     does) afterwards; otherwise the directory's entry reverts to what it
//     was at its last sync: new files and directories vanish (with all
//     below them), removed ones come back with their durable content. A
//     rename is a removal in one directory and a creation in the other,
//     each durable on its own.
//   - A failed Sync poisons the file (as Linux marks its pages clean after
//     a writeback error): later Syncs report success but make nothing
//     durable, so retrying an fsync into success is caught.
//   - Not modelled, and durable at once: mode, owner and time changes, and
//     renames of directories. Paths are cleaned but not made absolute, so
//     a test should name each file one way; symbolic links are followed
//     by the wrapped file system, and tracked by the link's name.
//
// CrashAfter(n) lets n more mutating operations happen (reads are not
// counted) and then makes every later call fail with ErrCrashed, as if
// the process had died there; Crash then drops what was not durable, and
// Revive instead resumes with nothing lost (a killed process: the page
// cache survives). Handles opened before either fail with ErrCrashed.
//
// The model keeps the durable content of every file it tracks in memory:
// it is meant for the small files of tests.
//
// # Capabilities
//
// Fs implements objects.AnonymousCreator (CreateAnonymous, LinkAnonymous)
// and objects.FSSyncer (SyncFS), the capabilities that Linux's OS file
// system gives objects (O_TMPFILE + linkat(2), syncfs(2)), so code under
// test takes the path it takes there. An anonymous file is a hidden name
// in the base file system that nothing listed or opened through Fs
// shows; it vanishes when closed unlinked and at Crash or Revive.
// LinkAnonymous names it: a new entry of the directory, durable once the
// directory is synced, holding what the file held at its last Sync.
// SyncFS makes everything durable but files poisoned by a failed sync; a
// failed SyncFS poisons every file with unsynced writes. Setting Portable
// turns both off (they report errors.ErrUnsupported), for tests of the
// portable paths. Fs has no hard links (objects.HardLinker): the portable
// path renames.
//
// # Durability order
//
// Unsynced lists the names and contents that a crash could lose now, and
// ClosedUnsynced the files closed with unsynced writes (OnUnsyncedClose
// is called for each as it happens), so a test can assert that an object
// is durable before anything names it.
package faulttest
