package objects

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/zeebo/blake3"
)

// TreeIndexHeader is the first line of every encoded index node: one object
// of a directory of more than ShardThreshold entries (see NewDirWriter).
const TreeIndexHeader = "art tree-index 1\n"

// The shape of large directories. A directory of at most ShardThreshold
// entries is one tree (TreeHeader), exactly as before index nodes existed.
// A larger one is split into leaves, trees holding contiguous name ranges
// of its entries, under one or more levels of index nodes. Where it is cut
// depends on names only:
//
//   - a new leaf starts at entry x when the current leaf holds at least
//     LeafMinEntries entries and cutHash(0, x.Name) is a multiple of
//     leafCutEvery, or when it holds LeafMaxEntries;
//   - a new index node of level k starts at child c (a leaf for k = 1, a
//     node of level k-1 above) when the current node holds at least
//     IndexMinChildren children and cutHash(k, c.First) is a multiple of
//     indexCutEvery, or when it holds IndexMaxChildren;
//   - levels are added until one holds a single node: the directory's top.
const (
	// ShardThreshold is the most entries a directory stored as one tree
	// may have; a directory of more is split. At 4,096 entries of about
	// 100 bytes a tree is 400 KiB and decodes to about 1 MiB: small enough
	// to hold whole, and so large that nearly every directory committed
	// before index nodes existed is still written the same way (same IDs).
	ShardThreshold = 4096
	// LeafMinEntries and LeafMaxEntries bound the entries of a leaf
	// (the last leaf of a directory may hold fewer than the minimum).
	LeafMinEntries = 256
	LeafMaxEntries = ShardThreshold
	// IndexMinChildren and IndexMaxChildren bound the children of an index
	// node (the last node of a level may hold fewer than the minimum).
	IndexMinChildren = 4
	IndexMaxChildren = 1024
	// MaxIndexLevel bounds the level of an index node. Each level holds at
	// least IndexMinChildren times fewer nodes, so 16 levels would take
	// far more entries than any version may hold (2^24).
	MaxIndexLevel = 16

	leafCutEvery  = 512 // a leaf averages LeafMinEntries + 512 entries (about 77 KiB)
	indexCutEvery = 32  // an index node averages 36 children (about 4 KiB)
)

// TreeIndex is a decoded index node: an ordered list of children, each the
// root of a contiguous name range of one directory's entries.
type TreeIndex struct {
	// Level is 1 when the children are leaves (trees), k > 1 when they are
	// index nodes of level k-1.
	Level    int
	Children []IndexChild
}

// IndexChild is one child of an index node.
type IndexChild struct {
	First string // the name of the first entry in the child's range
	Count int64  // the entries in the child's range (not counting below subdirectories)
	ID    ID     // a tree (level 1) or an index node of the level below
}

// Total returns the entries of the node's range: its children's counts
// added up.
func (x *TreeIndex) Total() int64 {
	var n int64
	for _, c := range x.Children {
		n += c.Count
	}
	return n
}

// Find returns the index of the child whose range would hold name, or -1
// when name sorts before the first child.
func (x *TreeIndex) Find(name string) int {
	lo, hi := 0, len(x.Children) // the first child whose First > name
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.Children[m].First <= name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// Encode returns the canonical encoding of x, checking what can be checked
// in one node (see DecodeTreeIndex); an error wraps ErrMalformed or
// ErrInvalidPath. The encoding is TreeIndexHeader, a line "level <n>", then
// one line per child, fields separated by tabs:
//
//	<first name> <count> <id>
func (x *TreeIndex) Encode() ([]byte, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(TreeIndexHeader) + 10 + len(x.Children)*(2*IDSize+32))
	b.WriteString(TreeIndexHeader)
	b.WriteString("level ")
	b.WriteString(strconv.Itoa(x.Level))
	b.WriteByte('\n')
	var hex [2 * IDSize]byte
	for _, c := range x.Children {
		b.WriteString(c.First)
		b.WriteByte('\t')
		b.Write(strconv.AppendInt(hex[:0], c.Count, 10))
		b.WriteByte('\t')
		hexID(hex[:], c.ID)
		b.Write(hex[:])
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// check holds x to the rules one node can be checked against: a level of
// 1..MaxIndexLevel; 1..IndexMaxChildren children with valid, strictly
// increasing first names and positive counts; no child from position
// IndexMinChildren on that would have started a new node of this level;
// and, at level 1, leaves of at most LeafMaxEntries, each leaf but the last
// one that ended where the leaf rule ends one.
func (x *TreeIndex) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: tree index: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if x.Level < 1 || x.Level > MaxIndexLevel {
		return bad("level %d is not 1..%d", x.Level, MaxIndexLevel)
	}
	if len(x.Children) == 0 || len(x.Children) > IndexMaxChildren {
		return bad("%d children, want 1..%d", len(x.Children), IndexMaxChildren)
	}
	var total int64
	for i, c := range x.Children {
		if err := ValidateName(c.First); err != nil {
			return err
		}
		if i > 0 && x.Children[i-1].First >= c.First {
			return bad("children out of order: %q, %q", x.Children[i-1].First, c.First)
		}
		if c.Count < 1 || c.Count > maxCount-total {
			return bad("child %q counts %d entries", c.First, c.Count)
		}
		total += c.Count
		if i >= IndexMinChildren && indexCut(x.Level, c.First) {
			return bad("child %q should start a new node of level %d", c.First, x.Level)
		}
		if x.Level != 1 {
			continue
		}
		if c.Count > LeafMaxEntries {
			return bad("leaf %q holds %d entries, more than %d", c.First, c.Count, LeafMaxEntries)
		}
		if i > 0 {
			prev := x.Children[i-1].Count
			if prev < LeafMinEntries || prev < LeafMaxEntries && !leafCut(c.First) {
				return bad("leaf %q of %d entries does not end where a leaf ends", x.Children[i-1].First, prev)
			}
		}
	}
	return nil
}

// maxCount bounds the entries an index node may claim, so that sums never
// overflow.
const maxCount = 1 << 62

// DecodeTreeIndex parses the canonical encoding of an index node. Anything
// else (another header, a level out of range, unsorted children, a count of
// 0, a child that breaks the cutting rules within the node, a number with a
// leading zero) is rejected with an error wrapping ErrMalformed or
// ErrInvalidPath. What one node cannot show (that its children hold what it
// claims, and that the cuts between nodes are where NewDirWriter makes
// them) is checked by the readers of a whole directory: ReadDir and
// walk.Walker.
func DecodeTreeIndex(b []byte) (*TreeIndex, error) {
	s := string(b)
	if !strings.HasPrefix(s, TreeIndexHeader) {
		return nil, fmt.Errorf("%w: not a tree index (missing %q header)", ErrMalformed, strings.TrimSpace(TreeIndexHeader))
	}
	s = s[len(TreeIndexHeader):]
	nl := strings.IndexByte(s, '\n')
	if nl < 0 || !strings.HasPrefix(s[:nl], "level ") {
		return nil, fmt.Errorf("%w: tree index: missing level line", ErrMalformed)
	}
	level, err := parseSize(s[len("level "):nl])
	if err != nil || level > MaxIndexLevel {
		return nil, fmt.Errorf("%w: tree index: bad level %q", ErrMalformed, truncate(s[:nl]))
	}
	s = s[nl+1:]
	x := &TreeIndex{Level: int(level)}
	for s != "" {
		if len(x.Children) == IndexMaxChildren {
			return nil, fmt.Errorf("%w: tree index: more than %d children", ErrMalformed, IndexMaxChildren)
		}
		nl := strings.IndexByte(s, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("%w: tree index: unterminated line", ErrMalformed)
		}
		line := s[:nl]
		s = s[nl+1:]
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: tree index line %q: want 3 fields", ErrMalformed, truncate(line))
		}
		c := IndexChild{First: f[0]}
		if c.Count, err = parseSize(f[1]); err != nil {
			return nil, fmt.Errorf("%w: tree index line %q: bad count", ErrMalformed, truncate(line))
		}
		if c.ID, err = ParseID(f[2]); err != nil {
			return nil, fmt.Errorf("%w: tree index line %q: bad id", ErrMalformed, truncate(line))
		}
		x.Children = append(x.Children, c)
	}
	enc, err := x.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, b) {
		return nil, fmt.Errorf("%w: tree index is not in canonical form", ErrMalformed)
	}
	return x, nil
}

// DirNode is one decoded object of a directory: a tree (a whole directory,
// or a leaf of a large one) or an index node. Exactly one field is set.
type DirNode struct {
	Tree  *Tree
	Index *TreeIndex
}

// DecodeDirNode decodes a tree or an index node, by its header.
func DecodeDirNode(b []byte) (DirNode, error) {
	if bytes.HasPrefix(b, []byte(TreeIndexHeader)) {
		x, err := DecodeTreeIndex(b)
		return DirNode{Index: x}, err
	}
	t, err := DecodeTree(b)
	return DirNode{Tree: t}, err
}

// CheckChild reports, as an error wrapping ErrMalformed, whether n, the
// node read for child c of an index node of the given level, is what c
// claims: a leaf of c.Count entries starting with c.First under level 1, an
// index node of the level below, counting c.Count entries and starting
// with c.First, above.
func CheckChild(level int, c IndexChild, n DirNode) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: tree index: child %q (%s) %s", ErrMalformed, truncate(c.First), c.ID.Short(), what)
	}
	switch {
	case level == 1 && n.Tree != nil:
		if int64(len(n.Tree.Entries)) != c.Count {
			return bad(fmt.Sprintf("holds %d entries, its index says %d", len(n.Tree.Entries), c.Count))
		}
		if n.Tree.Entries[0].Name != c.First {
			return bad(fmt.Sprintf("starts with %q", truncate(n.Tree.Entries[0].Name)))
		}
	case level > 1 && n.Index != nil:
		if n.Index.Level != level-1 {
			return bad(fmt.Sprintf("is of level %d under level %d", n.Index.Level, level))
		}
		if t := n.Index.Total(); t != c.Count {
			return bad(fmt.Sprintf("holds %d entries, its index says %d", t, c.Count))
		}
		if n.Index.Children[0].First != c.First {
			return bad(fmt.Sprintf("starts with %q", truncate(n.Index.Children[0].First)))
		}
	case level == 1:
		return bad("is an index node where a leaf belongs")
	default:
		return bad("is a tree where an index node belongs")
	}
	return nil
}

// CheckTop reports, as an error wrapping ErrMalformed, whether x may be the
// top object of a directory: more than ShardThreshold entries (fewer are
// one tree) and at least two children (one child would be the top).
func CheckTop(x *TreeIndex) error {
	if t := x.Total(); t <= ShardThreshold {
		return fmt.Errorf("%w: tree index of %d entries: a directory of at most %d is one tree", ErrMalformed, t, ShardThreshold)
	}
	if len(x.Children) < 2 {
		return fmt.Errorf("%w: tree index of one child: the child is the directory", ErrMalformed)
	}
	return nil
}

// cutHash is the name hash the cutting rules use: the first 8 bytes, little
// endian, of the BLAKE3 of one byte holding level followed by the name.
// Names only, so a file's content never moves a cut.
func cutHash(level int, name string) uint64 {
	var buf [1 + 255]byte
	b := append(buf[:0], byte(level))
	b = append(b, name...)
	sum := blake3.Sum256(b)
	return binary.LittleEndian.Uint64(sum[:8])
}

func leafCut(name string) bool { return cutHash(0, name)%leafCutEvery == 0 }

func indexCut(level int, first string) bool {
	return cutHash(level, first)%indexCutEvery == 0
}
