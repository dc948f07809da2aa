package httpremote

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/artvcs/art/objects"
)

var (
	errShortBody = errors.New("request body ended before its Content-Length")
	errLongBody  = errors.New("content runs past its declared length")
	errCorrupt   = errors.New("content does not hash to the object's ID")
)

// tagReader passes reads through and remembers the first error other than
// io.EOF, so the handler can tell which layer of a request body failed.
type tagReader struct {
	r   io.Reader
	err error
}

func (t *tagReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// hashReader hashes what passes through and fails at EOF if the content
// does not hash to want.
type hashReader struct {
	r    io.Reader
	h    *objects.Hasher
	want objects.ID
}

func (v *hashReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF && v.h.Sum() != v.want {
		return n, errCorrupt
	}
	return n, err
}

// commitReader yields exactly n bytes of r and holds back the bytes that
// complete them until r has reported a clean io.EOF. Every check below it
// (the body's length, the object's hash, the Verify hook) fails at the
// latest at EOF, so a transport never receives a whole object that fails
// one: not even a transport that reads exactly size bytes with
// io.ReadFull and never looks for EOF. The transport sees an error
// instead and, by the Transport contract, leaves no key.
type commitReader struct {
	r    io.Reader
	n    int64 // bytes still to deliver
	done bool  // r reported a clean EOF after the n bytes
	err  error // sticky
}

func (c *commitReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.n == 0 {
		if err := c.finish(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	m, err := c.r.Read(p)
	c.n -= int64(m)
	switch {
	case err != nil && err != io.EOF:
		c.err = err
		return 0, err
	case err == io.EOF && c.n > 0:
		c.err = errShortBody
		return 0, c.err
	case c.n == 0:
		if err == io.EOF {
			c.done = true
		} else if err := c.finish(); err != nil {
			return 0, err
		}
	}
	return m, nil
}

// finish reads r until its EOF, expecting nothing more.
func (c *commitReader) finish() error {
	if c.done {
		return nil
	}
	var b [1]byte
	for range 100 {
		m, err := c.r.Read(b[:])
		if m > 0 {
			c.err = errLongBody
			return c.err
		}
		if err == io.EOF {
			c.done = true
			return nil
		}
		if err != nil {
			c.err = err
			return err
		}
	}
	c.err = fmt.Errorf("%w: the body reader returns nothing", io.ErrNoProgress)
	return c.err
}

// complete reports whether every byte was delivered and r ended cleanly.
func (c *commitReader) complete() bool { return c.err == nil && c.n == 0 && c.done }

// deadlines keeps a connection's read or write deadline a fixed time
// ahead while a body makes progress, so a long transfer is never cut off
// but a stalled one is.
type deadlines struct {
	rc   *http.ResponseController
	idle time.Duration // <= 0: leave deadlines alone
}

// extendRead and extendWrite move the deadline idle ahead of now; they
// skip the call if the last move was less than idle/8 ago.
func (d *deadlines) extendRead(last *time.Time) {
	if d.idle <= 0 {
		return
	}
	if now := time.Now(); now.Sub(*last) >= d.idle/8 {
		*last = now
		_ = d.rc.SetReadDeadline(now.Add(d.idle)) // ErrNotSupported: nothing to do
	}
}

func (d *deadlines) extendWrite(last *time.Time) {
	if d.idle <= 0 {
		return
	}
	if now := time.Now(); now.Sub(*last) >= d.idle/8 {
		*last = now
		_ = d.rc.SetWriteDeadline(now.Add(d.idle))
	}
}

// progressBody is a request body that pushes the read deadline ahead on
// every read. At EOF it clears the deadline: the server then waits in a
// background read that would cancel the request's context on a timeout,
// and the transport may still be committing what it received.
type progressBody struct {
	r    io.Reader
	d    *deadlines
	last time.Time
}

func (b *progressBody) Read(p []byte) (int, error) {
	b.d.extendRead(&b.last)
	n, err := b.r.Read(p)
	if err == io.EOF && b.d.idle > 0 {
		_ = b.d.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// progressWriter pushes the write deadline ahead on every write.
type progressWriter struct {
	w    io.Writer
	d    *deadlines
	last time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.d.extendWrite(&p.last)
	return p.w.Write(b)
}
