package objects

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CommitHeader is the first line of every encoded commit.
const CommitHeader = "art commit 1\n"

// Commit is one artifact version. Aliases are not part of a commit: they
// move, so they live in refs.
type Commit struct {
	Name        string    // artifact name
	Type        string    // artifact type, fixed by the first version
	Version     int64     // version number N of "vN"
	Tree        ID        // root tree: the version's digest
	Parent      ID        // previous version's commit; zero for the first
	Created     time.Time // creation time, stored as UTC nanoseconds
	Run         string    // ID of the producing run, "" if none
	Description string
	// Metadata is a canonical JSON object (see CanonicalJSON); nil or
	// empty means {}.
	Metadata json.RawMessage
}

// Encode returns the canonical encoding of c:
//
//	art commit 1
//	name <name>
//	type <type>
//	version <n>
//	tree <id>
//	parent <id>          (absent for a first version)
//	created <unix nanoseconds>
//	run <run id>         (absent when no run produced it)
//	description <JSON string>
//	metadata <canonical JSON object>
func (c *Commit) Encode() ([]byte, error) {
	if err := validateLineField(c.Name); err != nil {
		return nil, fmt.Errorf("%w: commit name %q", ErrMalformed, c.Name)
	}
	if err := validateLineField(c.Type); err != nil {
		return nil, fmt.Errorf("%w: commit type %q", ErrMalformed, c.Type)
	}
	if c.Run != "" && validateLineField(c.Run) != nil {
		return nil, fmt.Errorf("%w: commit run %q", ErrMalformed, c.Run)
	}
	if c.Version < 0 {
		return nil, fmt.Errorf("%w: negative version", ErrMalformed)
	}
	if c.Tree.IsZero() {
		return nil, fmt.Errorf("%w: commit has no tree", ErrMalformed)
	}
	meta, err := CanonicalJSON(c.Metadata)
	if err != nil {
		return nil, err
	}
	desc, err := marshalNoEscape(c.Description)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(CommitHeader)
	fmt.Fprintf(&b, "name %s\ntype %s\nversion %d\ntree %s\n", c.Name, c.Type, c.Version, c.Tree)
	if !c.Parent.IsZero() {
		fmt.Fprintf(&b, "parent %s\n", c.Parent)
	}
	fmt.Fprintf(&b, "created %d\n", c.Created.UnixNano())
	if c.Run != "" {
		fmt.Fprintf(&b, "run %s\n", c.Run)
	}
	fmt.Fprintf(&b, "description %s\nmetadata %s\n", desc, meta)
	return b.Bytes(), nil
}

// DecodeCommit parses the canonical encoding of a commit and rejects any
// other form with an error wrapping ErrMalformed.
func DecodeCommit(b []byte) (*Commit, error) {
	s := string(b)
	if !strings.HasPrefix(s, CommitHeader) {
		return nil, fmt.Errorf("%w: not a commit (missing %q header)", ErrMalformed, strings.TrimSpace(CommitHeader))
	}
	s = s[len(CommitHeader):]
	if s == "" {
		return nil, fmt.Errorf("%w: commit: no fields", ErrMalformed)
	}
	if !strings.HasSuffix(s, "\n") {
		return nil, fmt.Errorf("%w: commit: unterminated line", ErrMalformed)
	}
	lines := strings.Split(s[:len(s)-1], "\n")
	c := &Commit{}
	next := func(key string, optional bool) (string, bool, error) {
		if len(lines) == 0 || !strings.HasPrefix(lines[0], key+" ") {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("%w: commit: missing %q", ErrMalformed, key)
		}
		v := lines[0][len(key)+1:]
		lines = lines[1:]
		return v, true, nil
	}
	var err error
	var v string
	if c.Name, _, err = next("name", false); err != nil {
		return nil, err
	}
	if c.Type, _, err = next("type", false); err != nil {
		return nil, err
	}
	if v, _, err = next("version", false); err != nil {
		return nil, err
	}
	if c.Version, err = parseSize(v); err != nil {
		return nil, fmt.Errorf("%w: commit: bad version %q", ErrMalformed, v)
	}
	if v, _, err = next("tree", false); err != nil {
		return nil, err
	}
	if c.Tree, err = ParseID(v); err != nil {
		return nil, fmt.Errorf("%w: commit: bad tree id", ErrMalformed)
	}
	v, ok, err := next("parent", true)
	if err != nil {
		return nil, err
	}
	if ok {
		if c.Parent, err = ParseID(v); err != nil {
			return nil, fmt.Errorf("%w: commit: bad parent id", ErrMalformed)
		}
	}
	if v, _, err = next("created", false); err != nil {
		return nil, err
	}
	ns, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: commit: bad created time", ErrMalformed)
	}
	c.Created = time.Unix(0, ns).UTC()
	if c.Run, _, err = next("run", true); err != nil {
		return nil, err
	}
	if v, _, err = next("description", false); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(v), &c.Description); err != nil {
		return nil, fmt.Errorf("%w: commit: bad description", ErrMalformed)
	}
	if v, _, err = next("metadata", false); err != nil {
		return nil, err
	}
	c.Metadata = json.RawMessage(v)
	if len(lines) != 0 {
		return nil, fmt.Errorf("%w: commit: unexpected line %q", ErrMalformed, truncate(lines[0]))
	}
	enc, err := c.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, b) {
		return nil, fmt.Errorf("%w: commit is not in canonical form", ErrMalformed)
	}
	return c, nil
}

func validateLineField(s string) error {
	if s == "" || len(s) > 1024 {
		return ErrMalformed
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return ErrMalformed
		}
	}
	return nil
}

// CanonicalJSON returns the canonical form of a JSON object: keys sorted,
// no insignificant space, no HTML escaping, integers written as integers and
// other numbers in Go's shortest 'g' form. Empty input is "{}". Anything
// that is not a single JSON object is rejected with ErrMalformed.
func CanonicalJSON(raw []byte) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: metadata: %v", ErrMalformed, err)
	}
	// Decoder.More is false before a stray '}' or ']', so ask for the next
	// token instead: only the end of the input is acceptable.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: metadata: trailing data", ErrMalformed)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: metadata must be a JSON object", ErrMalformed)
	}
	var b bytes.Buffer
	if err := writeCanonical(&b, v, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeCanonical(b *bytes.Buffer, v any, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%w: metadata nested deeper than 64", ErrMalformed)
	}
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, err := marshalNoEscape(k)
			if err != nil {
				return err
			}
			b.Write(kb)
			b.WriteByte(':')
			if err := writeCanonical(b, v[k], depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			b.WriteString(strconv.FormatInt(i, 10))
			return nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%w: metadata number %s out of range", ErrMalformed, v)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			b.WriteString(strconv.FormatInt(int64(f), 10))
			return nil
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	default:
		eb, err := marshalNoEscape(v)
		if err != nil {
			return err
		}
		b.Write(eb)
	}
	return nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
