package objects

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/artvcs/art/objects/chunker"
)

// ChunkListHeader is the first line of every encoded chunk list.
const ChunkListHeader = "art chunks 1\n"

// Chunk is one piece of a chunked blob: an ordinary blob object of its own.
type Chunk struct {
	ID   ID
	Size int64
}

// ChunkList is how a large blob is stored: its content is the
// concatenation of the chunks, in order. The blob's ID stays the BLAKE3 of
// its whole content (what b3sum prints), so a chunk list is not an object
// named by its own hash: it is kept beside the store's objects under the
// blob's ID, and a reader checks every chunk against its ID and the whole
// content against the blob's.
type ChunkList struct {
	Blob   ID    // the ID of the whole content
	Size   int64 // the whole content's size, the sum of the chunk sizes
	Chunks []Chunk
}

// Encode returns the canonical encoding of l:
//
//	art chunks 1
//	blob <blob id>
//	size <bytes>
//	<chunk id> <bytes>     (one line per chunk, in order)
//
// It fails with ErrMalformed if l breaks a rule DecodeChunkList checks.
func (l *ChunkList) Encode() ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(ChunkListHeader) + 100 + len(l.Chunks)*(2*IDSize+12))
	b.WriteString(ChunkListHeader)
	b.WriteString("blob ")
	b.WriteString(l.Blob.String())
	b.WriteString("\nsize ")
	b.WriteString(strconv.FormatInt(l.Size, 10))
	b.WriteByte('\n')
	var hex [2 * IDSize]byte
	for _, c := range l.Chunks {
		encodeHex(hex[:], c.ID)
		b.Write(hex[:])
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(c.Size, 10))
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// check enforces the rules of a chunk list: at least one chunk, every
// chunk non-empty, sizes adding up to Size.
func (l *ChunkList) check() error {
	if len(l.Chunks) == 0 {
		return fmt.Errorf("%w: chunk list without chunks", ErrMalformed)
	}
	var sum int64
	for i, c := range l.Chunks {
		if c.Size <= 0 || c.Size > chunker.MaxLimit {
			return fmt.Errorf("%w: chunk %d has size %d", ErrMalformed, i, c.Size)
		}
		sum += c.Size
	}
	if sum != l.Size {
		return fmt.Errorf("%w: chunks add up to %d bytes, the list says %d", ErrMalformed, sum, l.Size)
	}
	return nil
}

// DecodeChunkList parses the canonical encoding of a chunk list, refusing
// anything else (other spacing, leading zeros, a missing final newline,
// sizes that do not add up) with ErrMalformed.
func DecodeChunkList(b []byte) (*ChunkList, error) {
	rest, ok := bytes.CutPrefix(b, []byte(ChunkListHeader))
	if !ok {
		return nil, fmt.Errorf("%w: not a chunk list (bad header)", ErrMalformed)
	}
	line := func(prefix string) (string, error) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 || !bytes.HasPrefix(rest, []byte(prefix)) {
			return "", fmt.Errorf("%w: chunk list: want a %q line", ErrMalformed, prefix)
		}
		v := string(rest[len(prefix):i])
		rest = rest[i+1:]
		return v, nil
	}
	l := &ChunkList{}
	s, err := line("blob ")
	if err != nil {
		return nil, err
	}
	if l.Blob, err = ParseID(s); err != nil {
		return nil, fmt.Errorf("%w: chunk list: %v", ErrMalformed, err)
	}
	if s, err = line("size "); err != nil {
		return nil, err
	}
	if l.Size, err = ParseCanonicalInt(s); err != nil {
		return nil, fmt.Errorf("%w: chunk list size: %v", ErrMalformed, err)
	}
	// Each line is 64 hex, a space, a size: at least 67 bytes.
	l.Chunks = make([]Chunk, 0, len(rest)/(2*IDSize+3))
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, fmt.Errorf("%w: chunk list: last line has no newline", ErrMalformed)
		}
		ln := rest[:i]
		rest = rest[i+1:]
		if len(ln) < 2*IDSize+2 || ln[2*IDSize] != ' ' {
			return nil, fmt.Errorf("%w: chunk list line %d: want \"<id> <size>\"", ErrMalformed, len(l.Chunks)+1)
		}
		id, err := ParseID(string(ln[:2*IDSize]))
		if err != nil {
			return nil, fmt.Errorf("%w: chunk list line %d: %v", ErrMalformed, len(l.Chunks)+1, err)
		}
		n, err := ParseCanonicalInt(string(ln[2*IDSize+1:]))
		if err != nil {
			return nil, fmt.Errorf("%w: chunk list line %d: %v", ErrMalformed, len(l.Chunks)+1, err)
		}
		l.Chunks = append(l.Chunks, Chunk{ID: id, Size: n})
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	return l, nil
}

// ParseCanonicalInt parses a non-negative decimal with no sign, no leading
// zeros and no other characters.
func ParseCanonicalInt(s string) (int64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("%q is not a canonical number", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a canonical number", s)
	}
	return n, nil
}

func encodeHex(dst []byte, id ID) {
	const digits = "0123456789abcdef"
	for i, c := range id {
		dst[2*i] = digits[c>>4]
		dst[2*i+1] = digits[c&15]
	}
}

// Chunking says which blobs an FSStore stores as chunk lists and how it
// cuts them. It is recorded in the repository config so that every writer
// chunks alike (equal files give equal chunks, whoever writes them).
type Chunking struct {
	// Algorithm names the cut function: chunker.Algorithm, or
	// chunker.AlgorithmV1 in repositories made before it.
	Algorithm string `json:"algorithm"`
	// MinFileSize: blobs of at least this many bytes are chunked.
	MinFileSize int64 `json:"min_file_size"`
	// Params are the chunker's sizes.
	chunker.Params
}

// DefaultChunking returns the chunking new repositories record: blobs of
// 8 MiB and more cut into chunks of 128 KiB to 1 MiB, 256 KiB on average.
//
// The sizes are a trade. On a 512 MiB checkpoint with 1% of its bytes
// rewritten in 8 places (5.1 MiB of change), 256 KiB chunks cut at
// normalization level 1 store about 8 MiB for the new version (12.3 MiB at
// level 2, 26 MiB with 1 MiB chunks: every changed region drags in the
// chunks around it); a 4 KiB insertion stores about 0.4 MiB. In
// exchange a 1 GiB file becomes about 3,500 chunk objects with a 250 KiB
// chunk list, and creating that many files costs the kernel more than
// writing one. A Min of half the average lets the chunker skip hashing
// half of every chunk. Files under 8 MiB gain little from chunking and
// would multiply the object count, so they are stored whole.
func DefaultChunking() Chunking {
	return Chunking{
		Algorithm:   chunker.Algorithm,
		MinFileSize: 8 << 20,
		Params:      chunker.Params{Min: 128 << 10, Avg: 256 << 10, Max: 1 << 20},
	}
}

// Validate returns nil if c can be used to write: a known algorithm,
// valid parameters, and a MinFileSize of at least Params.Max.
func (c Chunking) Validate() error {
	if _, ok := chunker.AlgorithmNorm(c.Algorithm); !ok {
		return fmt.Errorf("%w: chunking algorithm %q (this art knows %q and %q)", chunker.ErrInvalidParams, c.Algorithm, chunker.Algorithm, chunker.AlgorithmV1)
	}
	if err := c.chunkerParams().Validate(); err != nil {
		return err
	}
	if c.MinFileSize < int64(c.Max) {
		return fmt.Errorf("%w: min_file_size %d is below the largest chunk, %d", chunker.ErrInvalidParams, c.MinFileSize, c.Max)
	}
	return nil
}

// chunkerParams returns c's sizes with the normalization level of its
// algorithm.
func (c Chunking) chunkerParams() chunker.Params {
	p := c.Params
	p.Norm, _ = chunker.AlgorithmNorm(c.Algorithm)
	return p
}

// chunkListSize returns the size field from the start of an encoded chunk
// list (at least its first three lines).
func chunkListSize(b []byte) (int64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(ChunkListHeader+"blob "))
	if !ok || len(rest) < 2*IDSize+1 || rest[2*IDSize] != '\n' {
		return 0, false
	}
	rest, ok = bytes.CutPrefix(rest[2*IDSize+1:], []byte("size "))
	if !ok {
		return 0, false
	}
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return 0, false
	}
	n, err := ParseCanonicalInt(string(rest[:i]))
	return n, err == nil
}
