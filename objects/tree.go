package objects

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// TreeHeader is the first line of every encoded tree.
const TreeHeader = "art tree 1\n"

// EntryKind is what a tree entry points at.
type EntryKind uint8

const (
	// KindFile is a regular file; ID names its blob.
	KindFile EntryKind = iota + 1
	// KindDir is a subdirectory; ID names its tree.
	KindDir
	// KindRef is a reference to content outside the store (a URI).
	KindRef
)

func (k EntryKind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindRef:
		return "ref"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// TreeEntry is one name in a directory.
type TreeEntry struct {
	Name string    // one path component; see ValidateName
	Kind EntryKind // file, dir or ref
	ID   ID        // blob ID for a file, tree ID for a dir; zero for a ref
	Size int64     // bytes of a file or ref; -1 for a ref of unknown size; 0 for a dir
	Exec bool      // the file is executable (KindFile only)
	// URI and Digest describe a reference (KindRef only). Digest is the
	// checksum or ETag recorded when the reference was added ("" if unknown).
	URI    string
	Digest string
}

// Tree is a directory: entries sorted by name, byte-wise, with no duplicates.
type Tree struct {
	Entries []TreeEntry
}

// Find returns the entry named name.
func (t *Tree) Find(name string) (TreeEntry, bool) {
	i := sort.Search(len(t.Entries), func(i int) bool { return t.Entries[i].Name >= name })
	if i < len(t.Entries) && t.Entries[i].Name == name {
		return t.Entries[i], true
	}
	return TreeEntry{}, false
}

// Encode returns the canonical encoding of t. Entries are sorted first; an
// invalid entry, a duplicate name, or two names with one FoldName (they
// differ only in case, normalisation or invisible code points) is an error
// wrapping ErrMalformed or ErrInvalidPath.
//
// The encoding is TreeHeader followed by one line per entry, fields
// separated by tabs:
//
//	file <name> <size> <blob id>
//	exec <name> <size> <blob id>
//	dir  <name> <tree id>
//	ref  <name> <size or -> <digest or -> <uri>
func (t *Tree) Encode() ([]byte, error) {
	es := append([]TreeEntry(nil), t.Entries...)
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	var b bytes.Buffer
	b.WriteString(TreeHeader)
	folded := make(map[string]string, len(es))
	for i, e := range es {
		if err := e.validate(); err != nil {
			return nil, err
		}
		if i > 0 && es[i-1].Name == e.Name {
			return nil, fmt.Errorf("%w: duplicate tree entry %q", ErrMalformed, e.Name)
		}
		f := FoldName(e.Name)
		if other, ok := folded[f]; ok {
			return nil, fmt.Errorf("%w: tree entries %q and %q differ only in case or Unicode normalisation (one file on some file systems)", ErrInvalidPath, other, e.Name)
		}
		folded[f] = e.Name
		var hex [2 * IDSize]byte
		switch e.Kind {
		case KindFile:
			if e.Exec {
				b.WriteString("exec\t")
			} else {
				b.WriteString("file\t")
			}
			b.WriteString(e.Name)
			b.WriteByte('\t')
			b.Write(strconv.AppendInt(hex[:0], e.Size, 10))
			b.WriteByte('\t')
			hexID(hex[:], e.ID)
			b.Write(hex[:])
			b.WriteByte('\n')
		case KindDir:
			b.WriteString("dir\t")
			b.WriteString(e.Name)
			b.WriteByte('\t')
			hexID(hex[:], e.ID)
			b.Write(hex[:])
			b.WriteByte('\n')
		case KindRef:
			size, digest := "-", "-"
			if e.Size >= 0 {
				size = strconv.FormatInt(e.Size, 10)
			}
			if e.Digest != "" {
				digest = e.Digest
			}
			fmt.Fprintf(&b, "ref\t%s\t%s\t%s\t%s\n", e.Name, size, digest, e.URI)
		}
	}
	return b.Bytes(), nil
}

func hexID(dst []byte, id ID) { hex.Encode(dst, id[:]) }

func (e *TreeEntry) validate() error {
	if err := ValidateName(e.Name); err != nil {
		return err
	}
	switch e.Kind {
	case KindFile:
		if e.Size < 0 {
			return fmt.Errorf("%w: file %q has negative size", ErrMalformed, e.Name)
		}
	case KindDir:
		if e.Size != 0 || e.Exec {
			return fmt.Errorf("%w: dir %q has a size or exec bit", ErrMalformed, e.Name)
		}
	case KindRef:
		if e.Size < -1 || e.Exec || !e.ID.IsZero() {
			return fmt.Errorf("%w: ref %q has bad fields", ErrMalformed, e.Name)
		}
		if err := validateToken(e.URI, 4096); err != nil || e.URI == "-" {
			return fmt.Errorf("%w: ref %q: bad uri", ErrMalformed, e.Name)
		}
		if e.Digest != "" {
			if err := validateToken(e.Digest, 512); err != nil || e.Digest == "-" {
				return fmt.Errorf("%w: ref %q: bad digest", ErrMalformed, e.Name)
			}
		}
	default:
		return fmt.Errorf("%w: entry %q has unknown kind %d", ErrMalformed, e.Name, e.Kind)
	}
	return nil
}

// validateToken accepts 1..max bytes of printable non-space ASCII.
func validateToken(s string, max int) error {
	if s == "" || len(s) > max {
		return ErrMalformed
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return ErrMalformed
		}
	}
	return nil
}

// DecodeTree parses the canonical encoding of a tree. Anything else —
// another header, unsorted or duplicate entries, a bad name, a number with a
// leading zero — is rejected with an error wrapping ErrMalformed or
// ErrInvalidPath.
func DecodeTree(b []byte) (*Tree, error) {
	s := string(b)
	if !strings.HasPrefix(s, TreeHeader) {
		return nil, fmt.Errorf("%w: not a tree (missing %q header)", ErrMalformed, strings.TrimSpace(TreeHeader))
	}
	s = s[len(TreeHeader):]
	t := &Tree{}
	for s != "" {
		nl := strings.IndexByte(s, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("%w: tree: unterminated line", ErrMalformed)
		}
		line := s[:nl]
		s = s[nl+1:]
		e, err := parseEntry(line)
		if err != nil {
			return nil, err
		}
		t.Entries = append(t.Entries, e)
	}
	enc, err := t.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, b) {
		return nil, fmt.Errorf("%w: tree is not in canonical form", ErrMalformed)
	}
	return t, nil
}

func parseEntry(line string) (TreeEntry, error) {
	f := strings.Split(line, "\t")
	bad := func(what string) (TreeEntry, error) {
		return TreeEntry{}, fmt.Errorf("%w: tree entry %q: %s", ErrMalformed, truncate(line), what)
	}
	var e TreeEntry
	var err error
	switch f[0] {
	case "file", "exec":
		if len(f) != 4 {
			return bad("want 4 fields")
		}
		e = TreeEntry{Name: f[1], Kind: KindFile, Exec: f[0] == "exec"}
		if e.Size, err = parseSize(f[2]); err != nil {
			return bad("bad size")
		}
		if e.ID, err = ParseID(f[3]); err != nil {
			return bad("bad id")
		}
	case "dir":
		if len(f) != 3 {
			return bad("want 3 fields")
		}
		e = TreeEntry{Name: f[1], Kind: KindDir}
		if e.ID, err = ParseID(f[2]); err != nil {
			return bad("bad id")
		}
	case "ref":
		if len(f) != 5 {
			return bad("want 5 fields")
		}
		e = TreeEntry{Name: f[1], Kind: KindRef, Size: -1, URI: f[4]}
		if f[2] != "-" {
			if e.Size, err = parseSize(f[2]); err != nil {
				return bad("bad size")
			}
		}
		if f[3] != "-" {
			e.Digest = f[3]
		}
	default:
		return bad("unknown kind")
	}
	return e, nil
}

// parseSize parses a non-negative decimal with no sign and no leading zero.
func parseSize(s string) (int64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' || s[0] == '+' || s[0] == '-' {
		return 0, ErrMalformed
	}
	return strconv.ParseInt(s, 10, 64)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
