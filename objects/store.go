package objects

import (
	"bytes"
	"context"
	"io"
	"time"
)

// Info describes a stored object.
type Info struct {
	ID      ID
	Size    int64     // bytes Open returns (-1 if a damaged chunk list hides it)
	ModTime time.Time // last write or refresh; gc keeps objects younger than its grace period
	// Chunked is set for a blob stored as a chunk list (see ChunkList);
	// its chunks are objects of their own.
	Chunked bool
	// Stored is how many bytes the entry itself takes: the object's
	// size, or for a chunked blob its chunk list's.
	Stored int64
	// Packed is set for an object stored in a pack file (FSStore's local
	// packs); ModTime is then its pack's.
	Packed bool
}

// Getter reads objects.
type Getter interface {
	// Open returns a reader of the object's bytes. The reader hashes what it
	// returns and, on reaching the end, returns a *CorruptError instead of
	// io.EOF if the bytes do not match id. A missing object is ErrNotFound.
	Open(ctx context.Context, id ID) (io.ReadCloser, error)
	// Stat returns the object's size and modification time without reading
	// it, or ErrNotFound.
	Stat(ctx context.Context, id ID) (Info, error)
}

// Putter writes objects.
type Putter interface {
	// Put stores everything read from r and returns its ID and size. The
	// bytes are hashed while they are copied (r is read once) and are
	// durable when Put returns. Putting an object that already exists does
	// not rewrite it but refreshes its modification time, so that a
	// concurrent gc's grace period covers it. Put is safe to call
	// concurrently, including for the same content.
	Put(ctx context.Context, r io.Reader) (ID, int64, error)
	// PutExpect is Put for content whose ID is known in advance (received
	// from a remote, say): if the bytes do not hash to want, nothing is
	// stored and a *CorruptError naming want is returned.
	PutExpect(ctx context.Context, want ID, r io.Reader) (int64, error)
}

// Lister enumerates objects.
type Lister interface {
	// List calls fn once for every complete object in the store, in no
	// particular order. Objects being written are not listed. If fn returns
	// an error, List stops and returns it.
	List(ctx context.Context, fn func(Info) error) error
}

// Deleter removes objects.
type Deleter interface {
	// Delete removes the object. Deleting a missing object is ErrNotFound.
	Delete(ctx context.Context, id ID) error
}

// Store is the full object store.
type Store interface {
	Getter
	Putter
	Lister
	Deleter
}

// BytesPutter is an optional interface of a Putter that stores in-memory
// content faster than Put (hashing first, so an existing object is not
// rewritten).
type BytesPutter interface {
	PutBytes(ctx context.Context, b []byte) (ID, error)
}

// PutBytes stores b and returns its ID, using s's BytesPutter if it has one.
func PutBytes(ctx context.Context, s Putter, b []byte) (ID, error) {
	if bp, ok := s.(BytesPutter); ok {
		return bp.PutBytes(ctx, b)
	}
	id, _, err := s.Put(ctx, bytes.NewReader(b))
	return id, err
}

// ReadAll reads a whole object and verifies it. It refuses objects larger
// than max bytes (use it only for trees, commits and other small objects).
func ReadAll(ctx context.Context, s Getter, id ID, max int64) ([]byte, error) {
	rc, err := s.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &CorruptError{ID: id, Reason: "larger than expected for its kind"}
	}
	// b was read to EOF through Open's verifying reader: a mismatch has
	// already been returned as a *CorruptError.
	return b, nil
}

// MaxMetaObjectSize bounds trees and commits read into memory.
const MaxMetaObjectSize = 64 << 20

// ReadTree reads, verifies and decodes a directory into one Tree: a tree
// object as it is, a split directory (see ReadDir) gathered whole, so all
// its entries are in memory at once; walk a large one with ReadDir or
// walk.Walker instead. Undecodable bytes are reported as a *CorruptError
// naming the damaged object.
func ReadTree(ctx context.Context, s Getter, id ID) (*Tree, error) {
	n, err := ReadDirNode(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if n.Tree != nil {
		return n.Tree, nil
	}
	t := &Tree{Entries: make([]TreeEntry, 0, min(n.Index.Total(), 1<<20))}
	if err := ReadDir(ctx, s, id, func(e TreeEntry) error {
		t.Entries = append(t.Entries, e)
		return nil
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// ReadCommit reads, verifies and decodes a commit object.
func ReadCommit(ctx context.Context, s Getter, id ID) (*Commit, error) {
	b, err := ReadAll(ctx, s, id, MaxMetaObjectSize)
	if err != nil {
		return nil, err
	}
	c, err := DecodeCommit(b)
	if err != nil {
		return nil, &CorruptError{ID: id, Reason: err.Error()}
	}
	return c, nil
}
