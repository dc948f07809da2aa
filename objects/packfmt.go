package objects

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Pack headers. A pack holds entries back to back and is described by a
// header:
//
//	art pack 1
//	count <n>
//	<kind> <id> <size>       (n lines, in the order of the bytes)
//
// where kind is "o" for an object (its bytes hash to id) and "l" for the
// chunk list of the blob id (ChunkList's encoding). A pack is named by the
// BLAKE3 of its header. Remotes keep the header at the start of the pack
// and alone in an index next to it (see package repo); the local store
// keeps it in an index file next to a pack of objects (see PackWriter).
//
// This file set is the one home of packs: the format (this file), the
// PackIndex of where entries lie (packindex.go, for the local store and
// for a remote's packs alike), the streaming PackReader and VerifyPack
// (packio.go), and the local store's packs (packstore.go).

// PackHeaderLine starts every pack header.
const PackHeaderLine = "art pack 1\n"

// Pack entry kinds.
const (
	PackObject = 'o'
	PackList   = 'l'
)

// MaxPackEntries bounds the entries of one pack, and so MaxPackHeader the
// size of its header; MaxPackBytes bounds the bytes a header may list, far
// above any real pack, so that offsets computed from a hostile header
// never overflow.
const (
	MaxPackEntries = 32768
	MaxPackHeader  = int64(len(PackHeaderLine)) + 32 + MaxPackEntries*(2+2*IDSize+1+20)
	MaxPackBytes   = 1 << 50
)

// PackEntriesTarget is how many entries a pack that art writes holds at
// most (the local store's, and push's): at most MaxPackEntries, which
// every reader accepts. Writers hold a pack's entries in memory until it
// is sent or published, so this bounds that memory too. A variable so
// that tests of flat memory can lower it; set it before writing packs.
var PackEntriesTarget = MaxPackEntries

// The file names of a pack P: P.pack (its bytes) and P.idx (its header).
const (
	PackSuffix      = ".pack"
	PackIndexSuffix = ".idx"
)

// PackNameOf returns the pack name P of a file name "P"+suffix, and false
// unless P is a pack name (an ID: 64 lowercase hex).
func PackNameOf(file, suffix string) (string, bool) {
	name, ok := strings.CutSuffix(file, suffix)
	if !ok {
		return "", false
	}
	if id, err := ParseID(name); err != nil || id.String() != name {
		return "", false
	}
	return name, true
}

// PackSize returns the size of a pack that starts with a header of hdrLen
// bytes listing es (a remote's pack; a local pack's file has no header:
// hdrLen 0).
func PackSize(hdrLen int, es []PackEntry) int64 {
	size := int64(hdrLen)
	for _, e := range es {
		size += e.Size
	}
	return size
}

// PackKey names a pack entry: an object, or the chunk list of a blob.
type PackKey struct {
	Kind byte
	ID   ID
}

func (k PackKey) String() string {
	if k.Kind == PackList {
		return "chunk list of " + k.ID.String()
	}
	return "object " + k.ID.String()
}

// PackObjectKey is the key of the object id in a pack.
func PackObjectKey(id ID) PackKey { return PackKey{PackObject, id} }

// PackListKey is the key of the chunk list of the blob id in a pack.
func PackListKey(id ID) PackKey { return PackKey{PackList, id} }

// PackEntry is one line of a pack header.
type PackEntry struct {
	PackKey
	Size int64
}

// EncodePackHeader returns the header of a pack holding es, in order.
func EncodePackHeader(es []PackEntry) []byte {
	var b bytes.Buffer
	b.Grow(len(PackHeaderLine) + 20 + len(es)*(4+2*IDSize+20))
	b.WriteString(PackHeaderLine)
	b.WriteString("count ")
	b.WriteString(strconv.Itoa(len(es)))
	b.WriteByte('\n')
	for _, e := range es {
		b.WriteByte(e.Kind)
		b.WriteByte(' ')
		b.WriteString(e.ID.String())
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(e.Size, 10))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParsePackHeader decodes the header b of the pack name, which must hash
// to the name (else ErrCorrupt).
func ParsePackHeader(name string, b []byte) ([]PackEntry, error) {
	if got := Hash(b).String(); got != name {
		short := name
		if len(short) > 12 {
			short = short[:12]
		}
		return nil, fmt.Errorf("%w: the header of pack %s hashes to %s", ErrCorrupt, short, got)
	}
	return DecodePackHeader(b)
}

// DecodePackHeader parses a pack header, refusing (with ErrMalformed)
// anything but the canonical encoding: a known kind, lowercase IDs,
// canonical sizes, no entry twice, at most MaxPackEntries entries adding
// up to at most MaxPackBytes, chunk lists within MaxMetaObjectSize.
func DecodePackHeader(b []byte) ([]PackEntry, error) {
	bad := func(format string, a ...any) ([]PackEntry, error) {
		return nil, fmt.Errorf("%w: pack header: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	if int64(len(b)) > MaxPackHeader {
		return bad("%d bytes, more than %d", len(b), MaxPackHeader)
	}
	rest, ok := bytes.CutPrefix(b, []byte(PackHeaderLine))
	if !ok {
		return bad("no %q line", strings.TrimSpace(PackHeaderLine))
	}
	line, rest, ok := bytes.Cut(rest, []byte{'\n'})
	cs, ok2 := bytes.CutPrefix(line, []byte("count "))
	if !ok || !ok2 {
		return bad("no count line")
	}
	n, err := ParseCanonicalInt(string(cs))
	if err != nil || n > MaxPackEntries {
		return bad("count %q", cs)
	}
	es := make([]PackEntry, 0, n)
	seen := make(map[PackKey]bool, n)
	var total int64
	for i := int64(0); i < n; i++ {
		line, rest, ok = bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return bad("%d entries, the count says %d", i, n)
		}
		f := strings.Split(string(line), " ")
		if len(f) != 3 || len(f[0]) != 1 || f[0][0] != PackObject && f[0][0] != PackList {
			return bad("line %d: %q", i+1, line)
		}
		id, err := ParseID(f[1])
		if err != nil || id.String() != f[1] {
			return bad("line %d: bad ID %q", i+1, f[1])
		}
		size, err := ParseCanonicalInt(f[2])
		if err != nil || f[0][0] == PackList && (size == 0 || size > MaxMetaObjectSize) {
			return bad("line %d: bad size %q", i+1, f[2])
		}
		if total += size; total > MaxPackBytes {
			return bad("line %d: the entries add up to more than %d bytes", i+1, int64(MaxPackBytes))
		}
		e := PackEntry{PackKey{f[0][0], id}, size}
		if seen[e.PackKey] {
			return bad("line %d: %s twice", i+1, e.PackKey)
		}
		seen[e.PackKey] = true
		es = append(es, e)
	}
	if len(rest) != 0 {
		return bad("%d bytes after the last entry", len(rest))
	}
	return es, nil
}

// ReadPackHeader reads the header at the start of a pack from br: two
// lines, then as many as the count line says, up to MaxPackHeader bytes.
// It returns them undecoded (ParsePackHeader checks and decodes them),
// leaving br at the first entry's bytes. A bad count line, a header longer
// than MaxPackHeader or an early end is ErrMalformed.
func ReadPackHeader(br *bufio.Reader) ([]byte, error) {
	var hdr []byte
	lines, want := 0, int64(-1)
	for want < 0 || int64(lines) < want+2 {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("%w: pack header: %v", ErrMalformed, err)
		}
		hdr = append(hdr, line...)
		if int64(len(hdr)) > MaxPackHeader {
			return nil, fmt.Errorf("%w: pack header of more than %d bytes", ErrMalformed, MaxPackHeader)
		}
		lines++
		if lines == 2 {
			n, err := ParseCanonicalInt(strings.TrimPrefix(strings.TrimSuffix(string(line), "\n"), "count "))
			if err != nil || !strings.HasPrefix(string(line), "count ") || n > MaxPackEntries {
				return nil, fmt.Errorf("%w: pack header: bad count line %q", ErrMalformed, line)
			}
			want = n
		}
	}
	return hdr, nil
}
