package remote

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// sizedReader returns exactly size bytes of r and then io.EOF. A body
// that ends early or holds more is an error wrapping ErrBadResponse.
type sizedReader struct {
	r    io.ReadCloser
	what string // the driver, for errors
	key  string
	size int64
	n    int64
	err  error // sticky
}

// NewSizedReader wraps a driver's body for key, announced as size bytes,
// into the reader Transport.Get and Transport.GetRange promise: exactly
// size bytes, then io.EOF; a body that ends early or runs long is an error
// wrapping ErrBadResponse. driver names the driver in other read errors.
func NewSizedReader(r io.ReadCloser, driver, key string, size int64) io.ReadCloser {
	return &sizedReader{r: r, what: driver, key: key, size: size}
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.n == s.size {
		s.err = s.checkEnd()
		return 0, s.err
	}
	if left := s.size - s.n; int64(len(p)) > left {
		p = p[:left]
	}
	m, err := s.r.Read(p)
	s.n += int64(m)
	switch {
	case err == io.EOF && s.n < s.size:
		s.err = fmt.Errorf("%w: %s ended after %d of %d bytes", ErrBadResponse, s.key, s.n, s.size)
	case err == io.EOF:
		err = nil // checkEnd on the next call
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.err = fmt.Errorf("%w: %s ended after %d of %d bytes: %w", ErrBadResponse, s.key, s.n, s.size, err)
	case err != nil:
		s.err = fmt.Errorf("%s: read %s: %w", s.what, s.key, err)
	}
	return m, s.err
}

// checkEnd reads past the announced size: anything but io.EOF there means
// the content is longer than announced.
func (s *sizedReader) checkEnd() error {
	var one [1]byte
	for range 100 {
		m, err := s.r.Read(one[:])
		if m > 0 {
			return fmt.Errorf("%w: %s holds more than its %d bytes", ErrBadResponse, s.key, s.size)
		}
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("%s: read %s: %w", s.what, s.key, err)
		}
	}
	return fmt.Errorf("%s: read %s: %w", s.what, s.key, io.ErrNoProgress)
}

func (s *sizedReader) Close() error { return s.r.Close() }

// RangeHeader returns the HTTP Range header value that asks for n bytes
// at off: "bytes=FIRST-LAST".
func RangeHeader(off, n int64) string {
	return "bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10)
}

// ParseRangeHeader parses a Range header value of the one form
// RangeHeader writes, "bytes=FIRST-LAST" with FIRST <= LAST, and returns
// the range as an offset and a length. Any other form (several ranges, a
// suffix "-N", an open end "N-", another unit, spaces, signs) is an
// error wrapping ErrInvalidRange.
func ParseRangeHeader(h string) (off, n int64, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	a, b, found2 := strings.Cut(spec, "-")
	first, ok1 := parseDecimal(a)
	last, ok2 := parseDecimal(b)
	if !found || !found2 || !ok1 || !ok2 || last < first {
		return 0, 0, fmt.Errorf("%w: Range %q is not bytes=FIRST-LAST", ErrInvalidRange, trunc(h))
	}
	if last == math.MaxInt64 {
		// off+n would overflow: past the end of any content.
		return 0, 0, fmt.Errorf("%w: Range %q ends past any content", ErrInvalidRange, trunc(h))
	}
	return first, last - first + 1, nil
}

// CheckContentRange checks the Content-Range header h ("bytes
// FIRST-LAST/COMPLETE", COMPLETE a number or "*") of a driver's answer to
// a request for n bytes at off. It returns nil if h names exactly that
// range; an error wrapping ErrInvalidRange if h names the part of the
// range that exists because the content ends before off+n (what S3 and
// HTTP servers answer for a range that runs past the end); and an error
// wrapping ErrBadResponse for anything else.
func CheckContentRange(h string, off, n int64) error {
	first, last, complete, ok := parseContentRange(h)
	want := off + n - 1
	switch {
	case !ok:
		return fmt.Errorf("%w: malformed Content-Range %q", ErrBadResponse, trunc(h))
	case first == off && last < want && complete == last+1:
		return fmt.Errorf("%w: %d bytes at offset %d of content that holds %d", ErrInvalidRange, n, off, complete)
	case first != off || last != want || complete >= 0 && complete <= want:
		return fmt.Errorf("%w: Content-Range %q for bytes %d-%d", ErrBadResponse, trunc(h), off, want)
	}
	return nil
}

// parseContentRange parses "bytes FIRST-LAST/COMPLETE"; complete is -1
// for "*".
func parseContentRange(h string) (first, last, complete int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, total, found := strings.Cut(spec, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	first, ok1 := parseDecimal(a)
	last, ok2 := parseDecimal(b)
	complete, ok3 := int64(-1), total == "*"
	if !ok3 {
		complete, ok3 = parseDecimal(total)
	}
	if !ok1 || !ok2 || !ok3 || last < first {
		return 0, 0, 0, false
	}
	return first, last, complete, true
}

// parseDecimal parses a non-negative int64 written in 1 to 19 ASCII
// digits, nothing else (no sign, no spaces).
func parseDecimal(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}
