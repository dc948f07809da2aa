package worktree

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/artvcs/art/objects"
)

// The checkout record is JSON, read and written a file at a time. These
// are the fast ways through the exact form encoding/json gives a State
// (which Save and SaveStream write): a file of another form (written by
// hand, or damaged) is read by encoding/json's decoder instead.

// errNotFast: the record is not in the form the fast scanner reads.
var errNotFast = errors.New("checkout record: not in the fast form")

// appendFileState appends the JSON of f as json.Marshal writes it.
func appendFileState(b []byte, f FileState) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, f.ID.String()...)
	b = append(b, `","size":`...)
	b = strconv.AppendInt(b, f.Size, 10)
	b = append(b, `,"mtime":`...)
	b = strconv.AppendInt(b, f.MTime, 10)
	if f.Ino != 0 {
		b = append(b, `,"ino":`...)
		b = strconv.AppendUint(b, f.Ino, 10)
	}
	if f.Dev != 0 {
		b = append(b, `,"dev":`...)
		b = strconv.AppendUint(b, f.Dev, 10)
	}
	if f.CTime != 0 {
		b = append(b, `,"ctime":`...)
		b = strconv.AppendInt(b, f.CTime, 10)
	}
	return append(b, '}')
}

// appendJSONString appends s as json.Marshal writes a string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// fastScanner reads a record in the form appendFileState and SaveStream
// write: {"dir":"...","name":"...","version":N,"files":{"p":{...},...}}.
type fastScanner struct {
	r *bufio.Reader
}

func (s *fastScanner) expect(lit string) error {
	for i := 0; i < len(lit); i++ {
		c, err := s.r.ReadByte()
		if err != nil {
			return err
		}
		if c != lit[i] {
			return errNotFast
		}
	}
	return nil
}

// str reads a JSON string (the opening quote already read).
func (s *fastScanner) str() (string, error) {
	raw, err := s.r.ReadSlice('"')
	if err != nil {
		return "", errNotFast
	}
	if bytes.IndexByte(raw, '\\') >= 0 {
		return "", errNotFast // escapes: the slow way
	}
	body := raw[:len(raw)-1]
	for _, c := range body {
		if c < 0x20 {
			return "", errNotFast
		}
	}
	if !utf8.Valid(body) {
		return "", errNotFast
	}
	return string(body), nil
}

// int reads a JSON integer followed by one of the bytes in end, which it
// returns.
func (s *fastScanner) int() (int64, byte, error) {
	var buf [24]byte
	n := 0
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, 0, err
		}
		if c == ',' || c == '}' {
			v, err := strconv.ParseInt(string(buf[:n]), 10, 64)
			if err != nil {
				return 0, 0, errNotFast
			}
			return v, c, nil
		}
		if n == len(buf) {
			return 0, 0, errNotFast
		}
		buf[n] = c
		n++
	}
}

// fileState reads {"id":"...","size":N,"mtime":N[,"ino":N][,"dev":N][,"ctime":N]}.
func (s *fastScanner) fileState() (FileState, error) {
	var f FileState
	if err := s.expect(`{"id":"`); err != nil {
		return f, err
	}
	hex, err := s.str()
	if err != nil {
		return f, err
	}
	if f.ID, err = objects.ParseID(hex); err != nil {
		return f, errNotFast
	}
	if err := s.expect(`,"size":`); err != nil {
		return f, err
	}
	var end byte
	if f.Size, end, err = s.int(); err != nil || end != ',' {
		return f, errNotFast
	}
	if err := s.expect(`"mtime":`); err != nil {
		return f, err
	}
	if f.MTime, end, err = s.int(); err != nil {
		return f, err
	}
	for _, field := range []string{"ino", "dev", "ctime"} {
		if end == '}' {
			return f, nil
		}
		b, err := s.r.Peek(len(field) + 3)
		if err != nil || string(b) != `"`+field+`":` {
			continue
		}
		s.r.Discard(len(b))
		var v int64
		if v, end, err = s.int(); err != nil || v == 0 {
			return f, errNotFast // omitempty never writes a zero
		}
		switch field {
		case "ino":
			f.Ino = uint64(v)
		case "dev":
			f.Dev = uint64(v)
		case "ctime":
			f.CTime = v
		}
	}
	if end != '}' {
		return f, errNotFast
	}
	return f, nil
}

// scanFast reads the record from r as scan does; errNotFast (or any
// error) sends the caller to the slow way from the start.
func scanFast(r io.Reader, fn func(string, FileState) error) (State, error) {
	var hdr State
	s := &fastScanner{r: bufio.NewReaderSize(r, 64<<10)}
	var err error
	if err = s.expect(`{"dir":"`); err != nil {
		return hdr, errNotFast
	}
	if hdr.Dir, err = s.str(); err != nil {
		return hdr, err
	}
	if err = s.expect(`,"name":"`); err != nil {
		return hdr, errNotFast
	}
	if hdr.Name, err = s.str(); err != nil {
		return hdr, err
	}
	if err = s.expect(`,"version":`); err != nil {
		return hdr, errNotFast
	}
	var end byte
	if hdr.Version, end, err = s.int(); err != nil || end != ',' {
		return hdr, errNotFast
	}
	if err = s.expect(`"files":{`); err != nil {
		return hdr, errNotFast
	}
	last, n := "", 0
	if c, err := s.r.ReadByte(); err != nil {
		return hdr, errNotFast
	} else if c == '}' {
		return hdr, s.finish()
	} else if c != '"' {
		return hdr, errNotFast
	}
	for {
		p, err := s.str()
		if err != nil {
			return hdr, err
		}
		if err := s.expect(":"); err != nil {
			return hdr, errNotFast
		}
		f, err := s.fileState()
		if err != nil {
			return hdr, errNotFast
		}
		if c, err := objects.CleanPath(p); err == nil && c == p {
			if n > 0 && p <= last {
				return hdr, errRecordFormat
			}
			last, n = p, n+1
			if fn != nil {
				if err := fn(p, f); err != nil {
					return hdr, &fnError{err}
				}
			}
		}
		c, err := s.r.ReadByte()
		if err != nil {
			return hdr, errNotFast
		}
		if c == '}' {
			return hdr, s.finish()
		}
		if c != ',' {
			return hdr, errNotFast
		}
		if err := s.expect(`"`); err != nil {
			return hdr, errNotFast
		}
	}
}

// finish reads the end of the record: "}" and a newline.
func (s *fastScanner) finish() error {
	if err := s.expect("}\n"); err != nil {
		return errNotFast
	}
	if _, err := s.r.ReadByte(); err != io.EOF {
		return errNotFast
	}
	return nil
}

// fnError carries an error of the caller's fn out of scanFast unchanged.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }
