package chunker

import (
	"errors"
	"io"
)

// Cut returns the length of the first chunk of data: the first cut point
// at or after p.Min bytes, or p.Max if there is none before it. It returns
// len(data) when data is no longer than p.Min, or when data is shorter than
// p.Max and holds no cut point.
//
// Cut does not copy or allocate. To find the same cut points as a Chunker,
// pass either at least p.Max bytes or the rest of the stream: a shorter
// slice in the middle of a stream ends in a chunk that is not cut by
// content. Chunking a whole slice is
//
//	for len(data) > 0 {
//		n := Cut(data, p)
//		use(data[:n])
//		data = data[n:]
//	}
//
// Cut panics if p.Validate fails (check parameters from outside the
// program once, with Validate, before chunking with them).
func Cut(data []byte, p Params) int {
	if err := p.Validate(); err != nil {
		panic("chunker.Cut: " + err.Error())
	}
	small, large := p.masks()
	return cut(data, p.Min, p.Avg, p.Max, small, large)
}

// cut is Cut for valid parameters and their masks.
func cut(data []byte, minSize, avgSize, maxSize int, small, large uint64) int {
	n := len(data)
	if n <= minSize {
		return n
	}
	n = min(n, maxSize)
	// Roll the hash over the 63 bytes before the first candidate, so the
	// hash after every candidate byte depends on the 64 bytes ending there
	// and on nothing else (not on where the chunk began).
	var h uint64
	for _, b := range data[minSize-window : minSize-1] {
		h = h<<1 + gear[b]
	}
	// A cut after byte i gives a chunk of i+1 bytes. Candidates for a
	// chunk shorter than Avg must match the small (stricter) mask.
	i := minSize - 1
	if end := min(avgSize-1, n); i < end {
		j, hh := scan(data[i:end], h, small)
		if j >= 0 {
			return i + j + 1
		}
		i, h = end, hh
	}
	if j, _ := scan(data[i:n], h, large); j >= 0 {
		return i + j + 1
	}
	return n
}

// scan rolls the gear hash h over s and returns the index of the first byte
// after which h&mask is zero, or -1, and the hash after s.
//
// Rolling byte by byte (h = h<<1 + gear[b]) puts a shift and an add per
// byte on the chain through h, which bounds the speed. scan instead takes
// bytes in pairs a, b: the hash after a, h<<1 + gear[a], is only tested,
// off the chain, and the hash after b is h<<2 + (gearLS[a] + gear[b]),
// one shift and one add on the chain per two bytes. Four pairs make a step
// with one bounds check.
func scan(s []byte, h, mask uint64) (int, uint64) {
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		w := s[i : i+8 : i+8]
		if a := h<<1 + gear[w[0]]; a&mask == 0 {
			return i + 0, a
		}
		if h = h<<2 + (gearLS[w[0]] + gear[w[1]]); h&mask == 0 {
			return i + 1, h
		}
		if a := h<<1 + gear[w[2]]; a&mask == 0 {
			return i + 2, a
		}
		if h = h<<2 + (gearLS[w[2]] + gear[w[3]]); h&mask == 0 {
			return i + 3, h
		}
		if a := h<<1 + gear[w[4]]; a&mask == 0 {
			return i + 4, a
		}
		if h = h<<2 + (gearLS[w[4]] + gear[w[5]]); h&mask == 0 {
			return i + 5, h
		}
		if a := h<<1 + gear[w[6]]; a&mask == 0 {
			return i + 6, a
		}
		if h = h<<2 + (gearLS[w[6]] + gear[w[7]]); h&mask == 0 {
			return i + 7, h
		}
	}
	for j, b := range s[i:] {
		if h = h<<1 + gear[b]; h&mask == 0 {
			return i + j, h
		}
	}
	return -1, h
}

// maxEmptyReads is how many reads in a row may return no bytes and no error
// before Next gives up with io.ErrNoProgress (as bufio does).
const maxEmptyReads = 100

// errBadRead reports a reader that returned an impossible byte count.
var errBadRead = errors.New("chunker: reader returned invalid count")

// Chunker splits the bytes of an io.Reader into chunks; see Next. A Chunker
// is not safe for concurrent use.
//
// Its memory is one buffer of 2*Max bytes, allocated by New and reused by
// Reset, whatever the input size: up to Max bytes for the chunk being cut,
// and as much again of read-ahead, so reads are large and the unreturned
// bytes are moved to the front of the buffer only when fewer than Max
// bytes fit after their start (less than one move per Max bytes read).
type Chunker struct {
	r            io.Reader
	p            Params
	small, large uint64 // p.masks()
	buf          []byte // len(buf) == 2*p.Max
	start, end   int    // buf[start:end] is read but not yet returned
	err          error  // the first error from r (io.EOF at the end), sticky
}

// New returns a Chunker that reads r and cuts with p. It fails with an
// error wrapping ErrInvalidParams if p.Validate does. It does not read
// from r until the first call to Next.
func New(r io.Reader, p Params) (*Chunker, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := &Chunker{p: p, buf: make([]byte, 2*p.Max)}
	c.small, c.large = p.masks()
	c.Reset(r)
	return c, nil
}

// Reset discards any buffered input and makes c chunk r from its start,
// reusing c's buffer and parameters.
func (c *Chunker) Reset(r io.Reader) {
	c.r, c.start, c.end, c.err = r, 0, 0, nil
}

// Params returns the parameters c cuts with.
func (c *Chunker) Params() Params { return c.p }

// Next returns the next chunk's bytes, or io.EOF after the last chunk. The
// slice aliases c's buffer and is valid only until the next call to Next or
// Reset; copy it to keep it. Its chunks are those Cut finds on the whole
// input, and, concatenated, equal the input.
//
// A read error other than io.EOF is returned unchanged, with no chunk, as
// soon as the reader reports it (even if chunks are buffered); once Next
// returns an error it returns the same error on every later call. A reader
// that returns no bytes and no error 100 times in a row fails with
// io.ErrNoProgress.
func (c *Chunker) Next() ([]byte, error) {
	if c.err == nil && c.end-c.start < c.p.Max {
		c.fill()
	}
	if c.err != nil && c.err != io.EOF {
		return nil, c.err
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	n := cut(c.buf[c.start:c.end], c.p.Min, c.p.Avg, c.p.Max, c.small, c.large)
	chunk := c.buf[c.start : c.start+n : c.start+n]
	c.start += n
	return chunk, nil
}

// fill reads until the buffer is full or the reader fails, first moving
// the unreturned bytes to the front if fewer than Max bytes fit after them.
func (c *Chunker) fill() {
	if len(c.buf)-c.start < c.p.Max {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	for empty := 0; c.end < len(c.buf); {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			c.err = errBadRead
			return
		}
		c.end += n
		if err != nil {
			c.err = err
			return
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			c.err = io.ErrNoProgress
			return
		}
	}
}
