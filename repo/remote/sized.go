package remote

import (
	"errors"
	"fmt"
	"io"
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
// into the reader Transport.Get promises: exactly size bytes, then io.EOF;
// a body that ends early or runs long is an error wrapping
// ErrBadResponse. driver names the driver in other read errors.
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
