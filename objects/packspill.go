package objects

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// PackIndexMemoryEntries is how many entries a PackIndex keeps sorted in
// memory before it moves them to its spill file (a variable so that tests
// of flat memory can make it small; set it before building an index).
var PackIndexMemoryEntries = 1 << 16

// A PackIndex of more than PackIndexMemoryEntries entries keeps them in a
// spill file: an unlinked temp file (in os.TempDir) of fixed-size records
// sorted by key (comparePackKeys), and in memory only a fan-out table of where each
// first two bytes of an ID start (256 KiB), so that a lookup reads the few
// records of one bucket (about 17 at a million entries) with one pread.
// Entries added since stay in memory (sorted, and a small map) and are
// merged into a new spill file, sequentially, each time they number
// PackIndexMemoryEntries again: at most about 10 MiB of memory however
// many entries, where a million would take 60 MiB in memory.

// spillRec is the size of a record: ID, kind, pack, offset, size.
const spillRec = IDSize + 1 + 4 + 8 + 8

const spillBuckets = 1 << 16

// packSpill is a spill file.
type packSpill struct {
	f   *os.File
	n   int
	fan []uint32 // fan[b] is the first record whose ID starts with the two bytes b; fan[spillBuckets] = n
	// refs counts the index holding the file and each walk reading it:
	// the file is closed when the last lets go.
	refs atomic.Int32
}

// acquire takes a reference to s for a walk, which close gives back.
func (s *packSpill) acquire() *packSpill {
	if s != nil {
		s.refs.Add(1)
	}
	return s
}

func bucketOf(id ID) int { return int(id[0])<<8 | int(id[1]) }

func encodeSpill(b []byte, r packRec) {
	copy(b, r.key.ID[:])
	b[IDSize] = r.key.Kind
	binary.LittleEndian.PutUint32(b[IDSize+1:], uint32(r.pack))
	binary.LittleEndian.PutUint64(b[IDSize+5:], uint64(r.off))
	binary.LittleEndian.PutUint64(b[IDSize+13:], uint64(r.size))
}

func decodeSpill(b []byte) packRec {
	var r packRec
	copy(r.key.ID[:], b)
	r.key.Kind = b[IDSize]
	r.pack = int32(binary.LittleEndian.Uint32(b[IDSize+1:]))
	r.off = int64(binary.LittleEndian.Uint64(b[IDSize+5:]))
	r.size = int64(binary.LittleEndian.Uint64(b[IDSize+13:]))
	return r
}

var spillBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64*spillRec); return &b }}

// find returns where k lies in the spill file. It is safe for concurrent
// use (pread). A record it cannot read is an error (the caller takes the
// key for absent: an object sent again, or looked up elsewhere).
func (s *packSpill) find(k PackKey) (packSlot, bool, error) {
	if s == nil || s.n == 0 {
		return packSlot{}, false, nil
	}
	b := bucketOf(k.ID)
	lo, hi := int(s.fan[b]), int(s.fan[b+1])
	if lo == hi {
		return packSlot{}, false, nil
	}
	bp := spillBufPool.Get().(*[]byte)
	defer spillBufPool.Put(bp)
	buf := slices.Grow((*bp)[:0], (hi-lo)*spillRec)[:(hi-lo)*spillRec]
	*bp = buf
	if _, err := s.f.ReadAt(buf, int64(lo)*spillRec); err != nil {
		return packSlot{}, false, fmt.Errorf("pack index spill file: %w", err)
	}
	l, h := 0, hi-lo
	for l < h {
		m := int(uint(l+h) >> 1)
		r := buf[m*spillRec : (m+1)*spillRec]
		c := bytes.Compare(r[:IDSize], k.ID[:])
		if c == 0 {
			c = int(r[IDSize]) - int(k.Kind)
		}
		switch {
		case c == 0:
			return decodeSpill(r).packSlot, true, nil
		case c < 0:
			l = m + 1
		default:
			h = m
		}
	}
	return packSlot{}, false, nil
}

// all yields every record, in file order.
func (s *packSpill) all(yield func(packRec) bool) error {
	if s == nil || s.n == 0 {
		return nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, int64(s.n)*spillRec), 256<<10)
	var b [spillRec]byte
	for range s.n {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return fmt.Errorf("pack index spill file: %w", err)
		}
		if !yield(decodeSpill(b[:])) {
			return nil
		}
	}
	return nil
}

// close gives back a reference; the last closes the file.
func (s *packSpill) close() {
	if s != nil && s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

// spill writes a new spill file holding old's records and add's (which
// it sorts, in spill order; a key of add that old has is left out), and
// returns it.
func spill(old *packSpill, add []packRec) (*packSpill, error) {
	slices.SortFunc(add, func(a, b packRec) int { return comparePackKeys(a.key, b.key) })
	f, err := os.CreateTemp("", "art-packindex-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
	s := &packSpill{f: f, fan: make([]uint32, spillBuckets+1)}
	s.refs.Store(1)
	w := bufio.NewWriterSize(f, 256<<10)
	var b [spillRec]byte
	put := func(r packRec) error {
		encodeSpill(b[:], r)
		if _, err := w.Write(b[:]); err != nil {
			return err
		}
		s.fan[bucketOf(r.key.ID)+1]++
		s.n++
		return nil
	}
	var werr error
	i := 0
	err = old.all(func(r packRec) bool {
		for i < len(add) && comparePackKeys(add[i].key, r.key) <= 0 {
			if add[i].key != r.key { // an entry already spilled keeps its first place
				if werr = put(add[i]); werr != nil {
					return false
				}
			}
			i++
		}
		werr = put(r)
		return werr == nil
	})
	for ; werr == nil && err == nil && i < len(add); i++ {
		werr = put(add[i])
	}
	if err == nil {
		err = werr
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		f.Close()
		return nil, errors.Join(errors.New("pack index spill file"), err)
	}
	for k := 1; k <= spillBuckets; k++ {
		s.fan[k] += s.fan[k-1]
	}
	return s, nil
}
