package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"sync"

	"github.com/spf13/afero"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
	"github.com/artvcs/art/repo/remote"
)

var (
	// ErrRemoteNotFound is returned for a remote name the repository does
	// not know, and by DefaultRemote when no remote is the default (with
	// ErrNoRemote or ErrNoDefaultRemote saying why).
	ErrRemoteNotFound = errors.New("no such remote")
	// ErrNoRemote is returned by DefaultRemote, with ErrRemoteNotFound,
	// when no remote is configured.
	ErrNoRemote = errors.New("no remote configured")
	// ErrNoDefaultRemote is returned by DefaultRemote, with
	// ErrRemoteNotFound, when several remotes are configured and none is
	// named origin.
	ErrNoDefaultRemote = errors.New("several remotes and none named origin")
	// ErrRemoteExists is returned by AddRemote for a name already in use.
	ErrRemoteExists = errors.New("remote already exists")
	// ErrInvalidArgument is returned for an option value that makes no
	// sense (an unknown strategy, say).
	ErrInvalidArgument = errors.New("invalid argument")
)

// RemoteConfig is a named remote: `art remote add NAME URL`.
type RemoteConfig struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type remotesFile struct {
	Remotes map[string]RemoteConfig `json:"remotes"`
}

func (r *Repo) remotesPath() string { return filepath.Join(r.dir, "remotes.json") }

func (r *Repo) readRemotes() (remotesFile, error) {
	f := remotesFile{Remotes: map[string]RemoteConfig{}}
	b, err := afero.ReadFile(r.fs, r.remotesPath())
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read remotes: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("read remotes: %s is not valid JSON: %v", r.remotesPath(), err)
	}
	if f.Remotes == nil {
		f.Remotes = map[string]RemoteConfig{}
	}
	return f, nil
}

// validateRemoteName applies the artifact name rules to remote names.
func validateRemoteName(name string) error {
	if err := refs.ValidateName(name); err != nil {
		return fmt.Errorf("remote name: %w", err)
	}
	return nil
}

// AddRemote records a remote: a directory path, s3://bucket/prefix or
// http(s)://host[:port] of an `art serve`. The URL is checked for form
// only; nothing is contacted.
func (r *Repo) AddRemote(ctx context.Context, name, rawURL string) error {
	if err := validateRemoteName(name); err != nil {
		return err
	}
	u, err := remote.ParseURL(rawURL)
	if err != nil {
		return err
	}
	if u.Scheme == "file" && !filepath.IsAbs(u.Path) {
		abs, err := filepath.Abs(u.Path)
		if err != nil {
			return err
		}
		rawURL = abs
	}
	return r.updateRemotes(func(f *remotesFile) error {
		if _, ok := f.Remotes[name]; ok {
			return fmt.Errorf("%w: %s", ErrRemoteExists, name)
		}
		f.Remotes[name] = RemoteConfig{Name: name, URL: rawURL}
		return nil
	})
}

// RemoveRemote forgets a remote (and what was last seen of it). Nothing
// on the remote is touched.
func (r *Repo) RemoveRemote(ctx context.Context, name string) error {
	err := r.updateRemotes(func(f *remotesFile) error {
		if _, ok := f.Remotes[name]; !ok {
			return fmt.Errorf("%w: %q", ErrRemoteNotFound, name)
		}
		delete(f.Remotes, name)
		return nil
	})
	if err != nil {
		return err
	}
	r.closeTransport(name)
	if validateRemoteName(name) == nil {
		r.fs.RemoveAll(r.trackingDir(name))
	}
	return nil
}

// Remotes returns the configured remotes, sorted by name.
func (r *Repo) Remotes(ctx context.Context) ([]RemoteConfig, error) {
	f, err := r.readRemotes()
	if err != nil {
		return nil, err
	}
	out := make([]RemoteConfig, 0, len(f.Remotes))
	for _, c := range f.Remotes {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DefaultRemote returns the remote to use when none is named: "origin" if
// it exists, else the only remote. It fails, with ErrRemoteNotFound, when
// there is no remote (ErrNoRemote) or several and none named origin
// (ErrNoDefaultRemote).
func (r *Repo) DefaultRemote(ctx context.Context) (string, error) {
	rs, err := r.Remotes(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range rs {
		if c.Name == "origin" {
			return c.Name, nil
		}
	}
	switch len(rs) {
	case 0:
		return "", fmt.Errorf("%w: %w", ErrRemoteNotFound, ErrNoRemote)
	case 1:
		return rs[0].Name, nil
	}
	return "", fmt.Errorf("%w: %w", ErrRemoteNotFound, ErrNoDefaultRemote)
}

func (r *Repo) updateRemotes(fn func(*remotesFile) error) error {
	unlock, err := r.lockRefDocs()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := r.readRemotes()
	if err != nil {
		return err
	}
	if err := fn(&f); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return writeFileAtomic(r.fs, r.remotesPath(), append(b, '\n'), 0o644)
}

// transports caches open transports per Repo.
type transports struct {
	mu  sync.Mutex
	m   map[string]remote.Transport
	idx map[string]*objects.PackIndex // what each remote's pack indexes say, as far as read
}

// remoteIndexOf returns the pack index kept for the remote name.
func (r *Repo) remoteIndexOf(name string) *objects.PackIndex {
	r.remotes.mu.Lock()
	defer r.remotes.mu.Unlock()
	if r.remotes.idx == nil {
		r.remotes.idx = map[string]*objects.PackIndex{}
	}
	x := r.remotes.idx[name]
	if x == nil {
		x = &objects.PackIndex{}
		r.remotes.idx[name] = x
	}
	return x
}

// resetRemoteIndex replaces the pack index kept for the remote name with
// an empty one, and returns it.
func (r *Repo) resetRemoteIndex(name string) *objects.PackIndex {
	r.remotes.mu.Lock()
	defer r.remotes.mu.Unlock()
	if r.remotes.idx == nil {
		r.remotes.idx = map[string]*objects.PackIndex{}
	}
	x := &objects.PackIndex{}
	r.remotes.idx[name] = x
	return x
}

// SetTransport makes the repository use t for the remote name (which need
// not be configured), instead of opening its URL: for programs and tests
// that build transports themselves.
func (r *Repo) SetTransport(name string, t remote.Transport) {
	r.remotes.mu.Lock()
	defer r.remotes.mu.Unlock()
	if r.remotes.m == nil {
		r.remotes.m = map[string]remote.Transport{}
	}
	r.remotes.m[name] = t
	delete(r.remotes.idx, name)
}

// transport returns the open transport of the remote name, opening its URL
// through the driver registry (package repo/remote/all registers every
// driver) on first use.
func (r *Repo) transport(ctx context.Context, name string) (remote.Transport, error) {
	r.remotes.mu.Lock()
	defer r.remotes.mu.Unlock()
	if t := r.remotes.m[name]; t != nil {
		return t, nil
	}
	f, err := r.readRemotes()
	if err != nil {
		return nil, err
	}
	c, ok := f.Remotes[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrRemoteNotFound, name)
	}
	t, err := remote.Open(ctx, c.URL)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", name, err)
	}
	if r.remotes.m == nil {
		r.remotes.m = map[string]remote.Transport{}
	}
	r.remotes.m[name] = t
	return t, nil
}

func (r *Repo) closeTransport(name string) {
	r.remotes.mu.Lock()
	defer r.remotes.mu.Unlock()
	if t := r.remotes.m[name]; t != nil {
		t.Close()
		delete(r.remotes.m, name)
	}
	delete(r.remotes.idx, name)
}

func (r *Repo) closeTransports() {
	r.remotes.mu.Lock()
	defer r.remotes.mu.Unlock()
	for name, t := range r.remotes.m {
		t.Close()
		delete(r.remotes.m, name)
	}
	r.remotes.idx = nil
}

// trackingDir holds the last ref documents seen on a remote, by artifact.
func (r *Repo) trackingDir(remoteName string) string {
	return filepath.Join(r.dir, "remotes", remoteName)
}

// readTracking returns the ref document of name last seen on the remote,
// or nil.
func (r *Repo) readTracking(remoteName, name string) *remoteDoc {
	return r.readTrackingFile(remoteName, name, name+".json")
}

// readPending returns the ref document a push of name was about to swap in
// when it was interrupted (killed between the swap and saveTracking), or
// nil: the remote may hold it.
func (r *Repo) readPending(remoteName, name string) *remoteDoc {
	return r.readTrackingFile(remoteName, name, name+".pending.json")
}

// savePendingDoc records d as the document a push is about to swap in.
func (r *Repo) savePendingDoc(remoteName string, d *remoteDoc) {
	r.saveTrackingFile(remoteName, d, d.Name+".pending.json")
}

// trackedDocs returns what this repository knows the remote held or may
// hold for name: the last document seen and, if a push was interrupted,
// the one it was swapping in. Nil entries are left out.
func (r *Repo) trackedDocs(remoteName, name string) []*remoteDoc {
	var out []*remoteDoc
	for _, d := range []*remoteDoc{r.readTracking(remoteName, name), r.readPending(remoteName, name)} {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

func (r *Repo) readTrackingFile(remoteName, name, file string) *remoteDoc {
	b, err := afero.ReadFile(r.fs, filepath.Join(r.trackingDir(remoteName), file))
	if err != nil {
		return nil
	}
	d, err := decodeRemoteDoc(b, name)
	if err != nil {
		return nil
	}
	return d
}

// saveTracking records d as what the remote holds for its artifact. A
// failure only costs a less precise alias merge later, so it is ignored.
func (r *Repo) saveTracking(remoteName string, d *remoteDoc) {
	r.saveTrackingFile(remoteName, d, d.Name+".json")
	r.fs.Remove(filepath.Join(r.trackingDir(remoteName), d.Name+".pending.json"))
}

func (r *Repo) saveTrackingFile(remoteName string, d *remoteDoc, file string) {
	dir := r.trackingDir(remoteName)
	if err := r.fs.MkdirAll(dir, 0o755); err != nil {
		return
	}
	b, err := d.encode()
	if err != nil {
		return
	}
	writeFileAtomic(r.fs, filepath.Join(dir, file), b, 0o644)
}
