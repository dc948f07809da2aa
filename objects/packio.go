package objects

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// PackReader streams a pack that starts with its header, as a remote holds
// it: the header, then each entry's bytes as its opener returns them. It
// fails with ErrCorrupt if an entry has other than the size its header
// gives.
type PackReader struct {
	hdr  []byte
	es   []PackEntry
	open func(PackEntry) (io.ReadCloser, error)
	done func(size int64)
	i    int // next entry to open
	cur  io.ReadCloser
	left int64 // bytes still due from cur
}

// NewPackReader returns a reader of the pack whose header is hdr
// (EncodePackHeader(es)). open is called for each entry of es with bytes,
// in order, when they are first due; its reader is read to EOF (so that a
// VerifyingReader checks the hash) and closed. done, if not nil, is called
// with the size of each entry once all its bytes have been read.
func NewPackReader(hdr []byte, es []PackEntry, open func(PackEntry) (io.ReadCloser, error), done func(size int64)) *PackReader {
	return &PackReader{hdr: hdr, es: es, open: open, done: done}
}

func (p *PackReader) Read(b []byte) (int, error) {
	if len(p.hdr) > 0 {
		n := copy(b, p.hdr)
		p.hdr = p.hdr[n:]
		return n, nil
	}
	for p.cur == nil {
		if p.i == len(p.es) {
			return 0, io.EOF
		}
		e := p.es[p.i]
		p.i++
		if e.Size == 0 {
			if p.done != nil {
				p.done(0)
			}
			continue
		}
		rc, err := p.open(e)
		if err != nil {
			return 0, err
		}
		p.cur = rc
		p.left = e.Size
	}
	e := p.es[p.i-1]
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.cur.Read(b)
	p.left -= int64(n)
	switch {
	case err != nil && err != io.EOF:
		return n, err
	case p.left > 0 && err == io.EOF:
		return n, fmt.Errorf("%w: %s has fewer than the %d bytes recorded for it", ErrCorrupt, e.PackKey, e.Size)
	case p.left > 0:
		return n, nil
	}
	// The entry is complete: read on to EOF, so a verifying reader
	// checks the hash, and make sure nothing follows.
	var one [1]byte
	m, err := io.ReadFull(p.cur, one[:])
	p.cur.Close()
	p.cur = nil
	if m > 0 {
		return n, fmt.Errorf("%w: %s has more than the %d bytes recorded for it", ErrCorrupt, e.PackKey, e.Size)
	}
	if err != io.EOF {
		return n, err
	}
	if p.done != nil {
		p.done(e.Size)
	}
	return n, nil
}

// Close closes the reader of the current entry, if any.
func (p *PackReader) Close() error {
	if p.cur != nil {
		p.cur.Close()
		p.cur = nil
	}
	return nil
}

// VerifyPack returns body, a pack that starts with its header, as a reader
// that fails unless it is the pack name: a header that hashes to name,
// then entries whose bytes match it (each object hashing to its ID, each
// chunk list decoding as the list of its blob), and nothing after. The
// header is read and checked before VerifyPack returns; the entries are
// checked as they are read, a mismatch failing the read that completes
// the entry (ErrCorrupt, or ErrMalformed for a chunk list that does not
// decode). A name that is not 64 lowercase hex is ErrMalformed.
func VerifyPack(name string, body io.Reader) (io.Reader, error) {
	if n, ok := PackNameOf(name, ""); !ok || n != name {
		return nil, fmt.Errorf("%w: %q is not a pack name (64 lowercase hex)", ErrMalformed, name)
	}
	br := bufio.NewReaderSize(body, 64<<10)
	hdr, err := ReadPackHeader(br)
	if err != nil {
		return nil, err
	}
	es, err := ParsePackHeader(name, hdr)
	if err != nil {
		return nil, err
	}
	return io.MultiReader(bytes.NewReader(hdr), &packVerifier{r: br, es: es, h: NewHasher()}), nil
}

// packVerifier passes a pack's entries through, checking each.
type packVerifier struct {
	r    io.Reader
	es   []PackEntry
	i    int   // current entry
	left int64 // its bytes still to come (0: not started, or done)
	h    *Hasher
	list []byte
	err  error
}

func (v *packVerifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	for v.i < len(v.es) && v.es[v.i].Size == 0 {
		if err := v.finish(v.es[v.i]); err != nil {
			v.err = err
			return 0, err
		}
		v.i++
	}
	if v.i == len(v.es) {
		var one [1]byte
		if n, _ := io.ReadFull(v.r, one[:]); n > 0 {
			v.err = fmt.Errorf("%w: bytes after the last entry of the pack", ErrCorrupt)
			return 0, v.err
		}
		return 0, io.EOF
	}
	e := v.es[v.i]
	if v.left == 0 {
		v.left = e.Size
		v.h.Reset()
		v.list = v.list[:0]
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n, err := v.r.Read(p)
	v.left -= int64(n)
	if e.Kind == PackList {
		v.list = append(v.list, p[:n]...)
	} else {
		v.h.Write(p[:n])
	}
	if v.left == 0 {
		if ferr := v.finish(e); ferr != nil {
			v.err = ferr
			return n, ferr
		}
		v.i++
		return n, nil
	}
	if err == io.EOF {
		v.err = fmt.Errorf("%w: the pack ends inside %s", ErrCorrupt, e.PackKey)
		return n, v.err
	}
	return n, err
}

// finish checks the entry e, whose bytes have all passed.
func (v *packVerifier) finish(e PackEntry) error {
	if e.Kind == PackList {
		l, err := DecodeChunkList(v.list)
		if err != nil {
			return err
		}
		if l.Blob != e.ID {
			return fmt.Errorf("%w: the %s holds the list of blob %s", ErrCorrupt, e.PackKey, l.Blob.Short())
		}
		return nil
	}
	if e.Size == 0 {
		v.h.Reset()
	}
	if got := v.h.Sum(); got != e.ID {
		return &CorruptError{ID: e.ID, Reason: "the pack's bytes hash to " + got.String()}
	}
	return nil
}
