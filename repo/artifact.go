package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// ErrDuplicatePath is returned when two sources map to one artifact path, a
// path is both a file and a directory, or two paths differ only in case or
// Unicode normalisation (objects.FoldName).
var ErrDuplicatePath = errors.New("two sources map to one path")

// ErrNotFound is returned when a file, path or object asked for does not
// exist. Version lookups return refs.ErrNotFound.
var ErrNotFound = errors.New("not found")

// source is where the content of one artifact path comes from.
type source struct {
	local  string     // a local file to read (AddFile)
	abs    string     // its absolute path: the stat cache's key (AddFile)
	root   string     // the absolute directory AddDir walked ("" for AddFile)
	ldir   string     // a listed file's local directory (AddDir: ldir/name is read)
	rel    string     // its directory below root, slash-separated (AddDir)
	name   string     // its name: root/rel/name is the stat cache's key (AddDir)
	stat   fileStat   // its stat when added, for the stat cache
	statAt int64      // when that stat was taken (Unix ns), for the racy-file rule
	blob   objects.ID // content already in the store (NewFile, or a stat cache hit)
	cached bool       // blob came from the stat cache
	size   int64
	exec   bool
	isRef  bool // AddReference
	uri    string
	digest string
	origin string // for error messages: what call added it
}

// path returns the local file to read, "" for none (a NewFile or a
// reference).
func (s *source) path() string {
	if s.ldir != "" {
		return filepath.Join(s.ldir, s.name)
	}
	return s.local
}

// Artifact is a version being assembled, like wandb.Artifact: add files,
// directories, new files and references, then log it with Repo.Log. The
// methods are safe for concurrent use.
type Artifact struct {
	Name        string
	Type        string
	Description string
	// Metadata is any JSON object; it is stored in canonical form.
	Metadata map[string]any

	repo    *Repo
	mu      sync.Mutex
	entries map[string]source // by cleaned artifact path
	mounts  []dirMount        // AddDir's directories, listed at Log
	dirs    map[string]string // implied directories -> a path under them
	folded  map[string]string // paths and directories by objects.FoldName of each part -> as added
	open    int               // NewFile writers not yet closed
}

// NewArtifact starts an artifact named name of type typ. The name and type
// are checked when it is logged.
func (r *Repo) NewArtifact(name, typ string) *Artifact {
	return &Artifact{Name: name, Type: typ, repo: r, entries: map[string]source{}, dirs: map[string]string{},
		folded: map[string]string{}}
}

// add records src at artifact path p, refusing a second source for the same
// path and a path that is both a file and a directory.
func (a *Artifact) add(p string, src source) error {
	return a.addAll([]string{p}, []source{src})
}

// addAll records srcs[i] at artifact path ps[i], all or none of them.
func (a *Artifact) addAll(ps []string, srcs []source) error {
	clean := make([]string, len(ps))
	for i, p := range ps {
		c, err := objects.CleanPath(p)
		if err != nil {
			return err
		}
		clean[i] = c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var undo []func()
	for i, p := range clean {
		if err := a.addLocked(p, srcs[i], &undo); err != nil {
			for _, u := range undo {
				u()
			}
			return err
		}
	}
	return nil
}

// addLocked records src at the cleaned path p, appending to undo what
// takes it back. a.mu is held.
func (a *Artifact) addLocked(p string, src source, undo *[]func()) error {
	if prev, ok := a.entries[p]; ok {
		return fmt.Errorf("%w: %q from %s and from %s", ErrDuplicatePath, p, prev.origin, src.origin)
	}
	if under, ok := a.dirs[p]; ok {
		return fmt.Errorf("%w: %q from %s is also a directory holding %q", ErrDuplicatePath, p, src.origin, under)
	}
	parts := strings.Split(p, "/")
	folded := make([]string, len(parts))
	for i, part := range parts {
		folded[i] = objects.FoldName(part)
	}
	for i := 1; i <= len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if prev, ok := a.entries[d]; ok && i < len(parts) {
			return fmt.Errorf("%w: %q from %s needs %q to be a directory, but it is a file from %s", ErrDuplicatePath, p, src.origin, d, prev.origin)
		}
		// A tree cannot hold names that differ only in case or Unicode
		// normalisation (objects.FoldName): they would be one file on a
		// case- or normalisation-insensitive file system.
		if other, ok := a.folded[strings.Join(folded[:i], "/")]; ok && other != d {
			return fmt.Errorf("%w: %q from %s and %q differ only in case or Unicode normalisation", ErrDuplicatePath, d, src.origin, other)
		}
	}
	for i := 1; i <= len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if _, ok := a.dirs[d]; !ok && i < len(parts) {
			a.dirs[d] = p
			*undo = append(*undo, func() { delete(a.dirs, d) })
		}
		if f := strings.Join(folded[:i], "/"); a.folded[f] == "" {
			a.folded[f] = d
			*undo = append(*undo, func() { delete(a.folded, f) })
		}
	}
	for _, m := range a.mounts {
		if err := m.clash(a.repo.fs, p, src); err != nil {
			return err
		}
	}
	a.entries[p] = src
	*undo = append(*undo, func() { delete(a.entries, p) })
	return nil
}

// AddFile adds the local file at localPath. With name "" it is stored under
// its base name; with a name ending in "/" under that directory and its
// base name; otherwise at name (which may contain directories).
func (a *Artifact) AddFile(localPath, name string) error {
	statAt := time.Now().UnixNano()
	fi, err := a.repo.fs.Stat(localPath)
	if err != nil {
		return fmt.Errorf("add file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("add file: %s is not a regular file (use AddDir for a directory)", localPath)
	}
	switch {
	case name == "":
		name = filepath.Base(localPath)
	case strings.HasSuffix(name, "/"):
		name += filepath.Base(localPath)
	}
	abs, err := filepath.Abs(localPath)
	if err != nil {
		return fmt.Errorf("add file: %w", err)
	}
	return a.add(name, source{local: localPath, abs: abs, stat: statOf(fi), statAt: statAt,
		size: fi.Size(), exec: fi.Mode()&0o111 != 0, origin: fmt.Sprintf("file %s", localPath)})
}

// AddDir adds every regular file under the local directory dir, keeping
// their relative paths: at the artifact's root with name "", or under name/.
// Symbolic links to files are followed; a symbolic link to a directory is an
// error (it could loop or leave the tree).
//
// The directory is listed when the artifact is logged, one directory at a
// time, so that an artifact of millions of files costs no memory per file
// (see Repo.Log). AddDir checks now that dir is a directory, that name is
// a valid path and that no file added by name is in the way; what only the
// listing can show — a name no tree may hold, two names equal but for
// case or Unicode normalisation, a path another AddDir also gives, a
// symbolic link to a directory, a file that is not regular — makes Log fail
// with the error, recording nothing.
func (a *Artifact) AddDir(dir, name string) error {
	fi, err := a.repo.fs.Stat(dir)
	if err != nil {
		return fmt.Errorf("add dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("add dir: %s is not a directory (use AddFile for a file)", dir)
	}
	prefix := ""
	if name != "" {
		clean, err := objects.CleanPath(name)
		if err != nil {
			return fmt.Errorf("add dir: %w", err)
		}
		prefix = clean
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("add dir: %w", err)
	}
	m := dirMount{local: dir, abs: absDir, prefix: prefix, origin: fmt.Sprintf("dir %s", dir)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.addMountLocked(m); err != nil {
		return fmt.Errorf("add dir: %w", err)
	}
	return nil
}

// addMountLocked records the mount m, refusing a file added by name at its
// prefix or above it, or one of the files its directory holds. a.mu is held.
func (a *Artifact) addMountLocked(m dirMount) error {
	var parts []string
	if m.prefix != "" {
		parts = strings.Split(m.prefix, "/")
	}
	for i := 1; i <= len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if prev, ok := a.entries[d]; ok {
			return fmt.Errorf("%w: %s needs %q to be a directory, but it is a file from %s", ErrDuplicatePath, m.origin, d, prev.origin)
		}
		f := foldPath(parts[:i])
		if other, ok := a.folded[f]; ok && other != d {
			return fmt.Errorf("%w: %q from %s and %q differ only in case or Unicode normalisation", ErrDuplicatePath, d, m.origin, other)
		}
	}
	for p, src := range a.entries {
		if err := m.clash(a.repo.fs, p, src); err != nil {
			return err
		}
	}
	for i := 1; i <= len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if _, ok := a.dirs[d]; !ok {
			a.dirs[d] = m.prefix + "/..."
		}
		if f := foldPath(parts[:i]); a.folded[f] == "" {
			a.folded[f] = d
		}
	}
	a.mounts = append(a.mounts, m)
	return nil
}

// clash reports an error if the mount's directory holds something at the
// artifact path p, which src (added by name) gives.
func (m dirMount) clash(fsys afero.Fs, p string, src source) error {
	rel := p
	if m.prefix != "" {
		if !strings.HasPrefix(p, m.prefix+"/") {
			return nil
		}
		rel = p[len(m.prefix)+1:]
	}
	full := filepath.Join(m.local, filepath.FromSlash(rel))
	var err error
	if l, ok := fsys.(afero.Lstater); ok {
		_, _, err = l.LstatIfPossible(full)
	} else {
		_, err = fsys.Stat(full)
	}
	if err == nil {
		return fmt.Errorf("%w: %q from %s and from %s", ErrDuplicatePath, p, src.origin, m.origin)
	}
	return nil
}

func foldPath(parts []string) string {
	f := make([]string, len(parts))
	for i, p := range parts {
		f[i] = objects.FoldName(p)
	}
	return strings.Join(f, "/")
}

// NewFile returns a writer whose content is stored as name in the artifact
// when it is closed. The artifact cannot be logged while a writer is open.
// An invalid path, artifact name or type is refused before any byte is
// stored.
func (a *Artifact) NewFile(ctx context.Context, name string) (io.WriteCloser, error) {
	clean, err := objects.CleanPath(name)
	if err != nil {
		return nil, fmt.Errorf("new file: %w", err)
	}
	// The bytes are stored as they are written: refuse an artifact that
	// Log would refuse before any of them reaches the store.
	if err := refs.ValidateName(a.Name); err != nil {
		return nil, fmt.Errorf("new file: %w", err)
	}
	if err := refs.ValidateType(a.Type); err != nil {
		return nil, fmt.Errorf("new file: %w", err)
	}
	a.mu.Lock()
	if _, ok := a.entries[clean]; ok {
		a.mu.Unlock()
		return nil, fmt.Errorf("%w: %q already added", ErrDuplicatePath, clean)
	}
	a.open++
	a.mu.Unlock()
	pr, pw := io.Pipe()
	w := &newFileWriter{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.id, w.size, w.err = a.repo.store.Put(ctx, pr)
		pr.CloseWithError(w.err)
	}()
	w.finish = func() error {
		a.mu.Lock()
		a.open--
		a.mu.Unlock()
		if w.err != nil {
			return fmt.Errorf("new file %s: %w", clean, w.err)
		}
		return a.add(clean, source{blob: w.id, size: w.size, origin: "new file " + clean})
	}
	return w, nil
}

type newFileWriter struct {
	pw     *io.PipeWriter
	done   chan struct{}
	id     objects.ID
	size   int64
	err    error
	finish func() error
	closed bool
}

func (w *newFileWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

func (w *newFileWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.pw.Close()
	<-w.done
	return w.finish()
}

// AddReference adds a reference to content outside the repository. With
// name "" the entry is named after the last element of the URI's path.
// For a file:// URI the file's size and BLAKE3 checksum are recorded (and
// checked when the reference is checked out); for other schemes only the
// URI is recorded.
func (a *Artifact) AddReference(ctx context.Context, uri, name string) error {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("add reference: %q is not a URI with a scheme (e.g. s3://bucket/key, file:///data/x)", uri)
	}
	if name == "" {
		name = path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			name = u.Host
		}
	} else if strings.HasSuffix(name, "/") {
		name += path.Base(u.Path)
	}
	src := source{isRef: true, uri: u.String(), size: -1, origin: "reference " + uri}
	if u.Scheme == "file" {
		f, err := a.repo.fs.Open(u.Path)
		if err != nil {
			return fmt.Errorf("add reference: %w", err)
		}
		defer f.Close()
		h := objects.NewHasher()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("add reference: %w", err)
		}
		src.size, src.digest = n, "blake3:"+h.Sum().String()
	}
	return a.add(name, src)
}

// paths returns the artifact's paths, sorted.
func (a *Artifact) paths() []string {
	ps := make([]string, 0, len(a.entries))
	for p := range a.entries {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// validate checks everything Log needs before any object is written.
func (a *Artifact) validate(aliases []string) error {
	if err := refs.ValidateName(a.Name); err != nil {
		return err
	}
	if err := refs.ValidateType(a.Type); err != nil {
		return err
	}
	for _, al := range aliases {
		if err := refs.ValidateAlias(al); err != nil {
			return err
		}
	}
	if _, err := objects.CanonicalJSON(a.metadataJSON()); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open > 0 {
		return fmt.Errorf("artifact %s has %d NewFile writer(s) still open; close them before logging", a.Name, a.open)
	}
	return nil
}

func (a *Artifact) metadataJSON() []byte {
	if len(a.Metadata) == 0 {
		return nil
	}
	b, err := json.Marshal(a.Metadata)
	if err != nil {
		return []byte("not json")
	}
	return b
}
