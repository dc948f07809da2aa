package objects

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/afero"
)

// PendingFile is a new file that nobody can see until it is published
// under its final name, complete. On a file system with anonymous files
// (an AnonymousCreator: Linux's OS file system with O_TMPFILE,
// faulttest.Fs) it is one, which vanishes by itself if the process dies,
// and Link publishes it with one LinkAnonymous (linkat(2)); elsewhere it
// is a temp file in the same directory, hard-linked (a HardLinker) or
// renamed into place.
type PendingFile struct {
	fs     afero.Fs
	anon   AnonymousCreator // set for an anonymous file
	f      afero.File
	dir    string
	prefix string
	tmp    string // the temp file's name; "" for an anonymous file
	perm   os.FileMode
}

// CreatePending starts a file in dir that will have permissions perm
// (subject to the umask) once published. Where it needs a temp name, the
// name starts with prefix.
func CreatePending(fsys afero.Fs, dir, prefix string, perm os.FileMode) (*PendingFile, error) {
	if a := anonymousCreator(fsys); a != nil {
		if f, err := a.CreateAnonymous(dir, perm); err == nil {
			return &PendingFile{fs: fsys, anon: a, f: f, dir: dir, prefix: prefix, perm: perm}, nil
		} else if !errors.Is(err, errors.ErrUnsupported) {
			return nil, err
		}
	}
	f, err := afero.TempFile(fsys, dir, prefix)
	if err != nil {
		return nil, err
	}
	return &PendingFile{fs: fsys, f: f, dir: dir, prefix: prefix, tmp: f.Name(), perm: perm}, nil
}

// Write writes to the file.
func (p *PendingFile) Write(b []byte) (int, error) { return p.f.Write(b) }

// File returns the open file, for copies the kernel does itself.
func (p *PendingFile) File() afero.File { return p.f }

// startWriteback asks the kernel to start writing the file's dirty pages
// to disk without waiting (Linux sync_file_range); a hint, whose failure is
// ignored: a later Sync or syncfs makes the content durable.
func (p *PendingFile) startWriteback() {
	if f, ok := p.f.(*os.File); ok {
		startWriteback(f)
	}
}

// Sync flushes the file's content to stable storage.
func (p *PendingFile) Sync() error { return p.f.Sync() }

// Link publishes the file as final if nothing has that name yet, and
// closes it. If the name is taken the error wraps fs.ErrExist; if final's
// directory is missing it wraps fs.ErrNotExist. In both cases the file is
// still pending: the caller may Link again, Replace, or Abort.
func (p *PendingFile) Link(final string) error {
	if p.anon != nil {
		err := p.anon.LinkAnonymous(p.f, final)
		if err == nil {
			p.f.Close()
		}
		return err
	}
	if _, err := p.fs.Stat(filepath.Dir(final)); err != nil {
		return err
	}
	if err := p.fs.Chmod(p.tmp, p.perm); err != nil {
		return err
	}
	if l := hardLinker(p.fs); l != nil {
		// A hard link fails atomically if final exists; then drop the
		// temp name.
		if err := l.Link(p.tmp, final); err != nil {
			return err
		}
		p.f.Close()
		p.fs.Remove(p.tmp)
		return nil
	}
	// Other file systems (in-memory ones in tests) have no hard links:
	// check, then rename.
	if _, err := p.fs.Stat(final); err == nil {
		return fmt.Errorf("%s: %w", final, fs.ErrExist)
	}
	p.f.Close()
	if err := p.fs.Rename(p.tmp, final); err != nil {
		return err
	}
	return nil
}

// Replace publishes the file as final, atomically replacing whatever has
// that name (a rename never follows a symbolic link at final: it replaces
// the link), and closes it.
func (p *PendingFile) Replace(final string) error {
	if p.anon != nil {
		// Give the anonymous file a temp name, then rename it over final.
		f := p.f
		for i := 0; ; i++ {
			tmp := filepath.Join(p.dir, fmt.Sprintf("%s%d-%d", p.prefix, os.Getpid(), randUint()))
			err := p.anon.LinkAnonymous(f, tmp)
			if errors.Is(err, fs.ErrExist) && i < 8 {
				continue
			}
			f.Close()
			if err != nil {
				return err
			}
			p.tmp = tmp
			break
		}
	} else {
		if err := p.f.Close(); err != nil {
			p.fs.Remove(p.tmp)
			return err
		}
		if err := p.fs.Chmod(p.tmp, p.perm); err != nil {
			p.fs.Remove(p.tmp)
			return err
		}
	}
	if err := p.fs.Rename(p.tmp, final); err != nil {
		p.fs.Remove(p.tmp)
		return err
	}
	return nil
}

// Abort discards the file. It is safe to call after Link or Replace.
func (p *PendingFile) Abort() {
	p.f.Close()
	if p.tmp != "" {
		p.fs.Remove(p.tmp)
	}
}

// WriteFileAtomic streams what write produces to name through a pending
// file in the same directory, synced and then renamed over name, and syncs
// the directory: readers see the old content or the new, never a mix, and
// a crash leaves at most a temp file (named ".tmp-" + the base name, and
// only where the file system has no anonymous files). The directory must
// exist.
func WriteFileAtomic(fsys afero.Fs, name string, perm os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(name)
	pf, err := CreatePending(fsys, dir, ".tmp-"+filepath.Base(name), perm)
	if err != nil {
		return err
	}
	defer pf.Abort()
	bw := bufio.NewWriterSize(pf, 64<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := pf.Sync(); err != nil {
		return err
	}
	if err := pf.Replace(name); err != nil {
		return err
	}
	return SyncDir(fsys, dir)
}
