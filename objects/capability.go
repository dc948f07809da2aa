package objects

import (
	"errors"
	"io/fs"
	"os"

	"github.com/spf13/afero"
)

// Optional capabilities of a file system. An afero.Fs may implement any
// of these interfaces; each user asks for one through a helper (as io/fs
// ReadFile does) and, where the file system has none, does the same
// thing the portable way beside it. *afero.OsFs cannot have methods of
// ours: the helpers give it the OS implementations (osFS), which use
// Linux's O_TMPFILE, linkat(2), syncfs(2) and renameat2(2) and report
// errors.ErrUnsupported elsewhere. objects/faulttest.Fs implements
// AnonymousCreator, FSSyncer and NoReplaceRenamer within its crash model, so the fault and
// power-loss tests run the path the OS file system runs.

// AnonymousCreator is a file system that can create a file with no name,
// which nobody can see, and give it a name later in one atomic step.
type AnonymousCreator interface {
	// CreateAnonymous creates an empty file in the directory dir, open
	// for reading and writing, that has no name: no listing, Stat or Open
	// finds it, and it vanishes (with its content) when it is closed
	// unlinked, when the process dies, or at a crash. perm is the mode it
	// will have once linked (subject to the umask). A missing dir is an
	// error wrapping fs.ErrNotExist. An error wrapping
	// errors.ErrUnsupported means dir's file system cannot (Linux
	// O_TMPFILE on tmpfs before 3.11, say, or no /proc): the caller falls
	// back to a named temp file.
	CreateAnonymous(dir string, perm os.FileMode) (afero.File, error)
	// LinkAnonymous gives f, open from CreateAnonymous on this file
	// system and not yet linked, the name final, atomically: final never
	// names a partial file. It never replaces: if final exists the error
	// wraps fs.ErrExist; if final's directory is missing it wraps
	// fs.ErrNotExist; either way f stays open and anonymous, and may be
	// linked again. f stays open after a success; the caller closes it.
	// Durability is a named file's: the name survives a crash once
	// final's directory is synced, the content once f was synced (before
	// or after the link).
	LinkAnonymous(f afero.File, final string) error
}

// HardLinker is a file system with hard links.
type HardLinker interface {
	// Link makes newname a second name of the file oldname, atomically
	// and never replacing: if newname exists the error wraps fs.ErrExist
	// (if its directory is missing, fs.ErrNotExist). The new name is
	// durable once its directory is synced.
	Link(oldname, newname string) error
}

// FSSyncer is a file system that can flush everything at once.
type FSSyncer interface {
	// SyncFS makes durable every file and directory entry written on the
	// file system holding dir, by anyone, as syncing each of them would:
	// nil means all of it survives a crash. An error means some of it may
	// not (it is not retried into success: a later SyncFS or Sync may
	// report nil for data already lost). An error wrapping
	// errors.ErrUnsupported means it cannot (or cannot report write-back
	// errors, as Linux before 5.8) and nothing was done: the caller syncs
	// files and directories one by one.
	SyncFS(dir string) error
}

// NoReplaceRenamer is a file system that can rename without replacing.
type NoReplaceRenamer interface {
	// RenameNoReplace renames oldname (a file or a directory) to newname
	// in one atomic step if nothing has that name: if newname exists (a
	// file, a directory, even an empty one, or a symbolic link, which is
	// never followed) the error wraps fs.ErrExist and nothing changed. An
	// error wrapping errors.ErrUnsupported means it cannot (Linux before
	// 3.15, or a file system without RENAME_NOREPLACE) and nothing was
	// done: RenameNoReplace (the function) then checks and renames.
	RenameNoReplace(oldname, newname string) error
}

// RenameNoReplace renames oldname to newname on fsys unless newname
// exists, when the error wraps fs.ErrExist. With fsys's NoReplaceRenamer
// that is one atomic step; without one (or where it cannot) newname is
// looked at first, and a name appearing between the look and the rename
// is replaced as by Rename (a file, or an empty directory).
func RenameNoReplace(fsys afero.Fs, oldname, newname string) error {
	if c, ok := capability[NoReplaceRenamer](fsys); ok {
		err := c.RenameNoReplace(oldname, newname)
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	if _, err := lstatFs(fsys, newname); err == nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrExist}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fsys.Rename(oldname, newname)
}

// osFS holds the OS implementations of the capabilities, for
// *afero.OsFs (whose names are OS paths).
type osFS struct{}

var (
	_ AnonymousCreator = osFS{}
	_ HardLinker       = osFS{}
	_ FSSyncer         = osFS{}
	_ NoReplaceRenamer = osFS{}
)

func (osFS) CreateAnonymous(dir string, perm os.FileMode) (afero.File, error) {
	return openAnonymous(dir, perm)
}

func (osFS) LinkAnonymous(f afero.File, final string) error { return linkAnonymous(f, final) }

func (osFS) Link(oldname, newname string) error { return os.Link(oldname, newname) }

func (osFS) SyncFS(dir string) error { return syncFS(dir) }

func (osFS) RenameNoReplace(oldname, newname string) error {
	return renameNoReplace(oldname, newname)
}

// isOS reports whether fsys is the OS file system, whose files are
// *os.File: the kernel copies of CopyTo and the poller-free open of
// OpenFile need OS file descriptors on both sides, so they are not
// capabilities another file system could offer.
func isOS(fsys afero.Fs) bool {
	_, ok := fsys.(*afero.OsFs)
	return ok
}

// capability returns fsys's implementation of the capability T: the OS
// one for *afero.OsFs, else fsys itself if it implements T.
func capability[T any](fsys afero.Fs) (T, bool) {
	if isOS(fsys) {
		c, ok := any(osFS{}).(T)
		return c, ok
	}
	c, ok := fsys.(T)
	return c, ok
}

// anonymousCreator returns fsys's AnonymousCreator, or nil if it has none.
func anonymousCreator(fsys afero.Fs) AnonymousCreator {
	c, _ := capability[AnonymousCreator](fsys)
	return c
}

// hardLinker returns fsys's HardLinker, or nil if it has none.
func hardLinker(fsys afero.Fs) HardLinker {
	c, _ := capability[HardLinker](fsys)
	return c
}

// syncWholeFS makes everything written on the file system holding dir
// durable with fsys's FSSyncer. If fsys has none, or it cannot, the
// error wraps errors.ErrUnsupported and nothing was done: the caller
// syncs file by file.
func syncWholeFS(fsys afero.Fs, dir string) error {
	c, ok := capability[FSSyncer](fsys)
	if !ok {
		return errors.ErrUnsupported
	}
	return c.SyncFS(dir)
}

// lstatFs is Lstat where fsys has it, else Stat.
func lstatFs(fsys afero.Fs, name string) (fs.FileInfo, error) {
	if l, ok := fsys.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(name)
		return fi, err
	}
	return fsys.Stat(name)
}
