package faulttest

import (
	"os"
	"path/filepath"

	"github.com/spf13/afero"
)

// file is a handle opened through Fs.
type file struct {
	fs     *Fs
	f      afero.File
	name   string
	node   *node // nil for a file the model does not track (durable as is)
	epoch  int
	wrote  bool // this handle wrote data not yet synced
	closed bool
}

// begin counts an operation on the handle; f.fs.mu is held.
func (h *file) begin(op Op) error {
	if h.epoch != h.fs.epoch {
		return &os.PathError{Op: op.String(), Path: h.name, Err: ErrCrashed}
	}
	return h.fs.begin(op, h.name)
}

func (h *file) lock() func() {
	h.fs.mu.Lock()
	return h.fs.mu.Unlock
}

// written marks the handle's file as holding unsynced data.
func (h *file) written() {
	h.wrote = true
	if h.node != nil {
		h.node.dirty = true
	}
}

// write runs a write-like call: on a fault it writes the first half of
// p (a short write, as on a full disk) and fails.
func (h *file) write(p []byte, do func([]byte) (int, error)) (int, error) {
	defer h.lock()()
	if err := h.begin(OpWrite); err != nil {
		if h.epoch != h.fs.epoch || h.fs.crashed {
			return 0, err
		}
		n, _ := do(p[:len(p)/2])
		if n > 0 {
			h.written()
		}
		return n, err
	}
	n, err := do(p)
	if n > 0 {
		h.written()
	}
	return n, err
}

func (h *file) Write(p []byte) (int, error) { return h.write(p, h.f.Write) }

func (h *file) WriteAt(p []byte, off int64) (int, error) {
	return h.write(p, func(b []byte) (int, error) { return h.f.WriteAt(b, off) })
}

func (h *file) WriteString(s string) (int, error) { return h.Write([]byte(s)) }

func (h *file) Truncate(size int64) error {
	defer h.lock()()
	if err := h.begin(OpWrite); err != nil {
		return err
	}
	if err := h.f.Truncate(size); err != nil {
		return err
	}
	h.written()
	return nil
}

func (h *file) Sync() error {
	defer h.lock()()
	f := h.fs
	if err := h.begin(OpSync); err != nil {
		if n := h.node; n != nil && n.dirty && h.epoch == f.epoch && !f.crashed {
			n.poisoned = true
		}
		return err
	}
	if err := h.f.Sync(); err != nil {
		return err
	}
	fi, err := h.f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		// Entries created, removed or renamed in it are durable now.
		delete(f.changed, h.name)
		return nil
	}
	n := h.node
	if n == nil {
		n = f.nodes[h.name] // tracked since this handle was opened?
	}
	h.wrote = false
	if n == nil || n.poisoned || n.path == "" {
		return nil // durable already; or poisoned: the lie a kernel tells
	}
	b, err := afero.ReadFile(f.base, n.path)
	if err != nil {
		return err
	}
	n.durable, n.dirty = b, false
	return nil
}

func (h *file) Close() error {
	h.fs.mu.Lock()
	// An anonymous file closed unlinked vanishes, unsynced writes and all.
	anon := h.node != nil && h.fs.anon[h.node.path] == h.node
	unsynced := !h.closed && h.wrote && h.epoch == h.fs.epoch && h.node != nil && h.node.dirty && !anon
	h.closed = true
	if unsynced {
		h.fs.closed = append(h.fs.closed, h.name)
	}
	cb := h.fs.OnUnsyncedClose
	err := h.f.Close()
	if anon {
		h.fs.forgetAnonymous(h.node)
	}
	h.fs.mu.Unlock()
	if unsynced && cb != nil {
		cb(h.name)
	}
	return err
}

func (h *file) Read(p []byte) (int, error) {
	defer h.lock()()
	if err := h.begin(OpRead); err != nil {
		return 0, err
	}
	return h.f.Read(p)
}

func (h *file) ReadAt(p []byte, off int64) (int, error) {
	defer h.lock()()
	if err := h.begin(OpRead); err != nil {
		return 0, err
	}
	return h.f.ReadAt(p, off)
}

// Readdir and Readdirnames leave out the hidden names of anonymous
// files; asked for count entries, they return fewer only at the end.
func (h *file) Readdir(count int) ([]os.FileInfo, error) {
	defer h.lock()()
	if err := h.begin(OpRead); err != nil {
		return nil, err
	}
	for {
		fis, err := h.f.Readdir(count)
		out := fis[:0]
		for _, fi := range fis {
			if !h.hides(fi.Name()) {
				out = append(out, fi)
			}
		}
		if len(out) > 0 || len(fis) == 0 || count <= 0 || err != nil {
			return out, err
		}
	}
}

func (h *file) Readdirnames(n int) ([]string, error) {
	defer h.lock()()
	if err := h.begin(OpRead); err != nil {
		return nil, err
	}
	for {
		names, err := h.f.Readdirnames(n)
		out := names[:0]
		for _, name := range names {
			if !h.hides(name) {
				out = append(out, name)
			}
		}
		if len(out) > 0 || len(names) == 0 || n <= 0 || err != nil {
			return out, err
		}
	}
}

// hides reports whether the entry name of the directory h is an
// anonymous file's hidden name. h.fs.mu is held.
func (h *file) hides(name string) bool {
	return len(h.fs.anon) > 0 && h.fs.anon[filepath.Join(h.name, name)] != nil
}

func (h *file) Stat() (os.FileInfo, error) {
	defer h.lock()()
	if err := h.begin(OpStat); err != nil {
		return nil, err
	}
	return h.f.Stat()
}

func (h *file) Seek(offset int64, whence int) (int64, error) {
	defer h.lock()()
	if h.epoch != h.fs.epoch {
		return 0, &os.PathError{Op: "seek", Path: h.name, Err: ErrCrashed}
	}
	return h.f.Seek(offset, whence)
}

func (h *file) Name() string { return h.f.Name() }
