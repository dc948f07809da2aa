package worktree

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"

	"github.com/artvcs/art/objects"
)

// A Record is a directory's checkout record opened for streaming: its
// State without Files (Dir, Name, Version, Saved and Pending), and its
// files read one at a time, in the order of their paths, by Files. The
// file format is the one Save writes (a JSON object whose "files" member
// lists paths sorted, as encoding/json sorts a map's keys), so records of
// every version of art read either way.
type Record struct {
	*State
	rs   Records
	path string // the record's file; "" when there is none (or it is damaged)
	fast bool   // in the form the fast scanner reads
}

// Open opens the record of root. A record that is damaged, of another
// directory, or whose files are not sorted by path is as good as none
// (Load's rules); it is checked whole here, one entry at a time, so that
// Files never finds damage halfway.
func (rs Records) Open(root string) (*Record, error) {
	sp, pp, abs, err := rs.paths(root)
	if err != nil {
		return nil, err
	}
	st := &State{Dir: abs}
	if st.Pending, err = rs.loadPending(pp, abs); err != nil {
		return nil, err
	}
	rec := &Record{State: st, rs: rs}
	fi, err := rs.Fs.Stat(sp)
	if errors.Is(err, fs.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return nil, err
	}
	hdr, fast, err := rs.scan(sp, nil, true)
	var rerr *readError
	if errors.As(err, &rerr) {
		return nil, fmt.Errorf("read checkout state: %w", rerr.err)
	}
	if err != nil || hdr.Dir != abs {
		return rec, nil // damaged or foreign: as good as none
	}
	st.Name, st.Version, st.Saved = hdr.Name, hdr.Version, fi.ModTime().UnixNano()
	rec.path, rec.fast = sp, fast
	return rec, nil
}

// Files calls fn for each file of the record with a clean path, in path
// order. An error of fn stops it and is returned.
func (r *Record) Files(fn func(p string, f FileState) error) error {
	if r.path == "" {
		return nil
	}
	_, _, err := r.rs.scan(r.path, fn, r.fast)
	var rerr *readError
	if errors.As(err, &rerr) {
		return fmt.Errorf("read checkout state: %w", rerr.err)
	}
	return err
}

// readError is an error reading the record's file (not its content).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

// errReader marks the errors of reading r as *readError, keeping the
// first.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
		if e.err == nil {
			e.err = err
		}
	}
	return n, err
}

// errRecordFormat is a record that is not what Save writes.
var errRecordFormat = errors.New("checkout record: not in the expected form")

// scan reads the record file p, calling fn (when set) for each file with
// a clean path, in order, and returns its header. The files must be
// sorted by path, each once. With fast, it reads the form Save writes
// (recordfast.go) and says whether it was; a record of another form is
// read by encoding/json's decoder, which Open finds out before any fn is
// called.
func (rs Records) scan(p string, fn func(string, FileState) error, fast bool) (State, bool, error) {
	if fast {
		f, err := rs.Fs.Open(p)
		if err != nil {
			return State{}, false, &readError{err}
		}
		er := &errReader{r: f}
		hdr, err := scanFast(er, fn)
		f.Close()
		var fe *fnError
		switch {
		case er.err != nil:
			return hdr, true, er.err // an I/O error, not the record's form
		case errors.As(err, &fe):
			return hdr, true, fe.err
		case !errors.Is(err, errNotFast):
			return hdr, true, err
		case fn != nil:
			return hdr, true, fmt.Errorf("checkout record %s changed while it was read", p)
		}
	}
	hdr, err := rs.scanSlow(p, fn)
	return hdr, false, err
}

// scanSlow is scan through encoding/json's decoder.
func (rs Records) scanSlow(p string, fn func(string, FileState) error) (State, error) {
	var hdr State
	f, err := rs.Fs.Open(p)
	if err != nil {
		return hdr, &readError{err}
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(&errReader{r: f}, 64<<10))
	if err := expectDelim(dec, '{'); err != nil {
		return hdr, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return hdr, err
		}
		switch tok {
		case "dir":
			err = dec.Decode(&hdr.Dir)
		case "name":
			err = dec.Decode(&hdr.Name)
		case "version":
			err = dec.Decode(&hdr.Version)
		case "files":
			err = scanFiles(dec, fn)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return hdr, err
		}
	}
	return hdr, expectDelim(dec, '}')
}

func scanFiles(dec *json.Decoder, fn func(string, FileState) error) error {
	if tok, err := dec.Token(); err != nil {
		return err
	} else if tok == nil {
		return nil // "files": null
	} else if tok != json.Delim('{') {
		return errRecordFormat
	}
	last, n := "", 0 // the clean paths must come sorted, each once
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		p, _ := tok.(string)
		var f FileState
		if err := dec.Decode(&f); err != nil {
			return err
		}
		if c, err := objects.CleanPath(p); err != nil || c != p {
			continue // dropped: never sends a checkout outside its root
		}
		if n > 0 && p <= last {
			return errRecordFormat
		}
		last, n = p, n+1
		if fn == nil {
			continue
		}
		if err := fn(p, f); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return errRecordFormat
	}
	return nil
}

// SaveStream replaces the record of root, durably, with the header of st
// (Dir, Name, Version) and the files that files emits, which must come in
// strictly increasing path order: the file Save writes for the same
// State, byte for byte, without holding the files in memory. If files
// returns an error, the old record stays.
func (rs Records) SaveStream(root string, st *State, files func(emit func(p string, f FileState) error) error) error {
	sp, _, _, err := rs.paths(root)
	if err != nil {
		return err
	}
	if err := rs.Fs.MkdirAll(rs.Dir, 0o755); err != nil {
		return err
	}
	return objects.WriteFileAtomic(rs.Fs, sp, 0o644, func(w io.Writer) error {
		head, err := json.Marshal(struct {
			Dir     string `json:"dir"`
			Name    string `json:"name"`
			Version int64  `json:"version"`
		}{st.Dir, st.Name, st.Version})
		if err != nil {
			return err
		}
		if _, err := w.Write(head[:len(head)-1]); err != nil { // without the closing brace
			return err
		}
		var buf []byte
		_, err = writeFiles(w, func(put func(p string, value []byte) error) error {
			return files(func(p string, f FileState) error {
				buf = appendFileState(buf[:0], f)
				return put(p, buf)
			})
		})
		return err
	})
}

// writeFiles writes `,"files":{...}}` and a newline: the members that
// each puts, each key a path in strictly increasing order (checked) and
// each value JSON, for SaveStream and SavePendingStream. It returns how
// many there were.
func writeFiles(w io.Writer, each func(put func(p string, value []byte) error) error) (int, error) {
	io.WriteString(w, `,"files":{`) // w buffers: an error shows at its Flush
	n, last := 0, ""
	var buf []byte
	err := each(func(p string, value []byte) error {
		if n > 0 && p <= last {
			return fmt.Errorf("checkout record: %q after %q, out of order", p, last)
		}
		buf = buf[:0]
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, p)
		buf = append(buf, ':')
		buf = append(buf, value...)
		_, err := w.Write(buf)
		n, last = n+1, p
		return err
	})
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(w, "}}\n")
	return n, err
}

// SortedPending returns the paths of a pending map in path order.
func SortedPending(m map[string][]objects.ID) []string {
	return slices.Sorted(maps.Keys(m))
}

// SavePendingStream replaces the pending record of root, durably, with
// the paths and IDs that files emits in strictly increasing path order;
// files returning an error leaves the old one. Emitting nothing removes
// it, as SavePending of an empty map does.
func (rs Records) SavePendingStream(root string, files func(emit func(p string, ids []objects.ID) error) error) error {
	_, pp, abs, err := rs.paths(root)
	if err != nil {
		return err
	}
	if err := rs.Fs.MkdirAll(rs.Dir, 0o755); err != nil {
		return err
	}
	n := 0
	err = objects.WriteFileAtomic(rs.Fs, pp, 0o644, func(w io.Writer) error {
		d, err := json.Marshal(abs)
		if err != nil {
			return err
		}
		io.WriteString(w, `{"dir":`)
		w.Write(d)
		n, err = writeFiles(w, func(put func(p string, value []byte) error) error {
			return files(func(p string, ids []objects.ID) error {
				v, err := json.Marshal(ids)
				if err != nil {
					return err
				}
				return put(p, v)
			})
		})
		return err
	})
	if err == nil && n == 0 {
		if err := rs.Fs.Remove(pp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}
