package repo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/afero"
	"golang.org/x/sync/errgroup"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/repo/remote"
)

// Packs: a push sends objects to a remote bundled into pack files, so that
// 20,000 small files or the 4,000 chunks of a 1 GiB file cost a few dozen
// requests instead of one each.
//
// A pack is packs/<P>.pack: a header, then the entries' bytes one after the
// other. The header is
//
//	art pack 1
//	count <n>
//	<kind> <id> <size>       (n lines, in the order of the bytes)
//
// where kind is "o" for an object (its bytes hash to id) and "l" for the
// chunk list of the blob id (objects.ChunkList's encoding). P is the BLAKE3
// of the header, and packs/<P>.idx holds the header alone: a reader lists
// packs/, reads the headers it has not seen (each checked against its
// name, then kept in .art/remotes/NAME/packs/) and knows where every entry
// lies. The index is written after its pack, so an index names only
// complete packs; a pack without an index (an interrupted push) is never
// read. Every entry received is verified like any object.
const packHeaderLine = objects.PackHeaderLine

const (
	packKindObject = objects.PackObject
	packKindList   = objects.PackList
)

// packTarget is the size at which a push closes a pack.
const (
	packTarget     = 16 << 20
	maxPackEntries = objects.MaxPackEntries
	maxPackHeader  = objects.MaxPackHeader
)

// maxRemotePacks bounds the pack indexes a client reads from one remote.
const maxRemotePacks = 1 << 20

// packKey names an entry: an object, or the chunk list of a blob.
type packKey struct {
	kind byte
	id   objects.ID
}

func (k packKey) String() string { return objects.PackKey{Kind: k.kind, ID: k.id}.String() }

// packEntry is one entry of a pack header.
type packEntry struct {
	packKey
	size int64
}

// encodePackHeader returns the header of a pack holding es, in order
// (objects.EncodePackHeader).
func encodePackHeader(es []packEntry) []byte {
	oes := make([]objects.PackEntry, len(es))
	for i, e := range es {
		oes[i] = objects.PackEntry{PackKey: objects.PackKey{Kind: e.kind, ID: e.id}, Size: e.size}
	}
	return objects.EncodePackHeader(oes)
}

// decodePackHeader parses a pack header (objects.DecodePackHeader).
func decodePackHeader(b []byte) ([]packEntry, error) {
	oes, err := objects.DecodePackHeader(b)
	if err != nil {
		return nil, err
	}
	return fromObjectEntries(oes), nil
}

func fromObjectEntries(oes []objects.PackEntry) []packEntry {
	es := make([]packEntry, len(oes))
	for i, e := range oes {
		es[i] = packEntry{packKey{e.Kind, e.ID}, e.Size}
	}
	return es
}

func packKeyOf(name string) string    { return "packs/" + name + ".pack" }
func packIndexKey(name string) string { return "packs/" + name + ".idx" }

// packNameOf returns the pack name in an index key, or "" if key is not
// one.
func packNameOf(key string) string {
	name, ok := strings.CutSuffix(strings.TrimPrefix(key, "packs/"), ".idx")
	if !ok || len(key) == len(name)+len(".idx") {
		return ""
	}
	if id, err := objects.ParseID(name); err != nil || id.String() != name {
		return ""
	}
	return name
}

// packLoc is where an entry lies on the remote.
type packLoc struct {
	pack int32 // index into remoteIndex.names
	off  int64
	size int64
}

// remoteIndex is what the pack indexes of a remote say: where each entry
// lies. It is safe for concurrent use.
type remoteIndex struct {
	mu    sync.RWMutex
	names []string
	packs map[string]bool
	at    map[packKey]packLoc
}

func newRemoteIndex() *remoteIndex {
	return &remoteIndex{packs: map[string]bool{}, at: map[packKey]packLoc{}}
}

// add records the pack name with header hdr (whose entries are es).
func (x *remoteIndex) add(name string, hdrLen int64, es []packEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.packs[name] {
		return
	}
	x.packs[name] = true
	p := int32(len(x.names))
	x.names = append(x.names, name)
	off := hdrLen
	for _, e := range es {
		if _, dup := x.at[e.packKey]; !dup {
			x.at[e.packKey] = packLoc{pack: p, off: off, size: e.size}
		}
		off += e.size
	}
}

// lookup returns the pack key and location of k.
func (x *remoteIndex) lookup(k packKey) (string, packLoc, bool) {
	if x == nil {
		return "", packLoc{}, false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	l, ok := x.at[k]
	if !ok {
		return "", packLoc{}, false
	}
	return x.names[l.pack], l, true
}

// holds reports whether the pack name was added.
func (x *remoteIndex) holds(name string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.packs[name]
}

func (x *remoteIndex) has(k packKey) bool {
	_, _, ok := x.lookup(k)
	return ok
}

// packCacheDir holds the pack headers read from a remote.
func (r *Repo) packCacheDir(remoteName string) string {
	return filepath.Join(r.trackingDir(remoteName), "packs")
}

// loadRemoteIndex lists the remote's pack indexes and reads those not read
// before: from the cache when a cached copy still hashes to its name, else
// from the remote (checked against its name, then cached; a failed cache
// write only costs a read next time). Packs are only ever added, so the
// index kept for the remote grows and is never wrong.
func (r *Repo) loadRemoteIndex(ctx context.Context, t remote.Transport, remoteName string) (*remoteIndex, error) {
	var names []string
	err := t.List(ctx, "packs/", func(i remote.Info) error {
		if name := packNameOf(i.Key); name != "" {
			if len(names) == maxRemotePacks {
				return fmt.Errorf("%w: the remote lists more than %d pack indexes", remote.ErrTooLarge, maxRemotePacks)
			}
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs on remote %s: %w", remoteName, err)
	}
	x := r.remoteIndexOf(remoteName)
	dir := r.packCacheDir(remoteName)
	var fetch []string
	for _, name := range names {
		if x.holds(name) {
			continue
		}
		b, err := afero.ReadFile(r.fs, filepath.Join(dir, name+".idx"))
		if err == nil {
			if es, err := parsePackHeader(name, b); err == nil {
				x.add(name, int64(len(b)), es)
				continue
			}
		}
		fetch = append(fetch, name)
	}
	if len(fetch) == 0 {
		return x, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferWorkers)
	for _, name := range fetch {
		g.Go(func() error {
			b, es, err := readPackIndex(gctx, t, name)
			if err != nil {
				if errors.Is(err, remote.ErrBadResponse) {
					return &DamagedPackError{Remote: remoteName, Keys: []string{packIndexKey(name), packKeyOf(name)},
						Err: fmt.Errorf("remote %s: %w; the remote is damaged", remoteName, err)}
				}
				return fmt.Errorf("remote %s: %w", remoteName, err)
			}
			x.add(name, int64(len(b)), es)
			r.cachePackIndex(remoteName, name, b)
			return nil
		})
	}
	return x, g.Wait()
}

// cachePackIndex keeps the header of a pack on the remote; a failure only
// costs a read next time.
func (r *Repo) cachePackIndex(remoteName, name string, hdr []byte) {
	dir := r.packCacheDir(remoteName)
	if err := r.fs.MkdirAll(dir, 0o755); err == nil {
		writeFileAtomic(r.fs, filepath.Join(dir, name+".idx"), hdr, 0o644)
	}
}

// readPackIndex reads and checks packs/<name>.idx.
func readPackIndex(ctx context.Context, t remote.Transport, name string) ([]byte, []packEntry, error) {
	key := packIndexKey(name)
	rc, info, err := t.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	if info.Size > maxPackHeader {
		return nil, nil, fmt.Errorf("%w: %s has %d bytes", remote.ErrBadResponse, key, info.Size)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxPackHeader+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", key, err)
	}
	es, err := parsePackHeader(name, b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", remote.ErrBadResponse, key, err)
	}
	return b, es, nil
}

// parsePackHeader decodes the header b of the pack name, which must hash
// to the name.
func parsePackHeader(name string, b []byte) ([]packEntry, error) {
	oes, err := objects.ParsePackHeader(name, b)
	if err != nil {
		return nil, err
	}
	return fromObjectEntries(oes), nil
}

// packSize is the size of a pack whose header has hdrLen bytes and lists es.
func packSize(hdrLen int, es []packEntry) int64 {
	size := int64(hdrLen)
	for _, e := range es {
		size += e.size
	}
	return size
}

// packReader streams a pack: its header, then each entry read from the
// store (verified as it is read), failing if an entry has another size
// than its header says.
type packReader struct {
	ctx   context.Context
	store *objects.FSStore
	hdr   []byte
	es    []packEntry
	lists map[objects.ID][]byte // encoded chunk lists of the "l" entries
	done  func(size int64)      // called as each entry has been read
	i     int                   // next entry to open
	cur   io.ReadCloser
	left  int64 // bytes still due from cur
}

func (p *packReader) Read(b []byte) (int, error) {
	if len(p.hdr) > 0 {
		n := copy(b, p.hdr)
		p.hdr = p.hdr[n:]
		return n, nil
	}
	for p.cur == nil {
		if p.i == len(p.es) {
			return 0, io.EOF
		}
		e := p.es[p.i]
		p.i++
		if e.size == 0 {
			if p.done != nil {
				p.done(0)
			}
			continue
		}
		if e.kind == packKindList {
			p.cur = io.NopCloser(bytes.NewReader(p.lists[e.id]))
		} else {
			rc, err := p.store.Open(p.ctx, e.id)
			if err != nil {
				return 0, err
			}
			p.cur = rc
		}
		p.left = e.size
	}
	e := p.es[p.i-1]
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.cur.Read(b)
	p.left -= int64(n)
	switch {
	case err != nil && err != io.EOF:
		return n, err
	case p.left > 0 && err == io.EOF:
		return n, fmt.Errorf("%w: %s has fewer than the %d bytes recorded for it", ErrCorrupt, e.packKey, e.size)
	case p.left > 0:
		return n, nil
	}
	// The entry is complete: read on to EOF, so a verifying reader
	// checks the hash, and make sure nothing follows.
	var one [1]byte
	m, err := io.ReadFull(p.cur, one[:])
	p.cur.Close()
	p.cur = nil
	if m > 0 {
		return n, fmt.Errorf("%w: %s has more than the %d bytes recorded for it", ErrCorrupt, e.packKey, e.size)
	}
	if err != io.EOF {
		return n, err
	}
	if p.done != nil {
		p.done(e.size)
	}
	return n, nil
}

func (p *packReader) Close() error {
	if p.cur != nil {
		p.cur.Close()
		p.cur = nil
	}
	return nil
}

// verifyPackBody returns body as a reader that fails unless it is the pack
// name: a header that hashes to name, then entries whose bytes match it
// (each object hashing to its ID, each chunk list decoding as the list of
// its blob), and nothing after. The header is checked before the reader is
// returned.
func verifyPackBody(name string, body io.Reader) (io.Reader, error) {
	if packNameOf(packIndexKey(name)) != name {
		return nil, fmt.Errorf("%w: %q is not a pack name (64 lowercase hex)", remote.ErrInvalidKey, name)
	}
	br := bufio.NewReaderSize(body, 64<<10)
	hdr, err := readPackHeader(br)
	if err != nil {
		return nil, err
	}
	es, err := parsePackHeader(name, hdr)
	if err != nil {
		return nil, err
	}
	return io.MultiReader(bytes.NewReader(hdr), &packVerifier{r: br, es: es, h: objects.NewHasher()}), nil
}

// readPackHeader reads a pack header, line by line, up to maxPackHeader
// bytes.
func readPackHeader(br *bufio.Reader) ([]byte, error) {
	var hdr []byte
	lines, want := 0, int64(-1)
	for want < 0 || int64(lines) < want+2 {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("%w: pack header: %v", objects.ErrMalformed, err)
		}
		hdr = append(hdr, line...)
		if int64(len(hdr)) > maxPackHeader {
			return nil, fmt.Errorf("%w: pack header of more than %d bytes", objects.ErrMalformed, maxPackHeader)
		}
		lines++
		if lines == 2 {
			n, err := objects.ParseCanonicalInt(strings.TrimPrefix(strings.TrimSuffix(string(line), "\n"), "count "))
			if err != nil || !strings.HasPrefix(string(line), "count ") || n > maxPackEntries {
				return nil, fmt.Errorf("%w: pack header: bad count line %q", objects.ErrMalformed, line)
			}
			want = n
		}
	}
	return hdr, nil
}

// packVerifier passes a pack's entries through, checking each.
type packVerifier struct {
	r    io.Reader
	es   []packEntry
	i    int   // current entry
	left int64 // its bytes still to come (0: not started, or done)
	h    *objects.Hasher
	list []byte
	err  error
}

func (v *packVerifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	for v.i < len(v.es) && v.es[v.i].size == 0 {
		if err := v.finish(v.es[v.i]); err != nil {
			v.err = err
			return 0, err
		}
		v.i++
	}
	if v.i == len(v.es) {
		var one [1]byte
		if n, _ := io.ReadFull(v.r, one[:]); n > 0 {
			v.err = fmt.Errorf("%w: bytes after the last entry of the pack", ErrCorrupt)
			return 0, v.err
		}
		return 0, io.EOF
	}
	e := v.es[v.i]
	if v.left == 0 {
		v.left = e.size
		v.h.Reset()
		v.list = v.list[:0]
	}
	if int64(len(p)) > v.left {
		p = p[:v.left]
	}
	n, err := v.r.Read(p)
	v.left -= int64(n)
	if e.kind == packKindList {
		v.list = append(v.list, p[:n]...)
	} else {
		v.h.Write(p[:n])
	}
	if v.left == 0 {
		if ferr := v.finish(e); ferr != nil {
			v.err = ferr
			return n, ferr
		}
		v.i++
		return n, nil
	}
	if err == io.EOF {
		v.err = fmt.Errorf("%w: the pack ends inside %s", ErrCorrupt, e.packKey)
		return n, v.err
	}
	return n, err
}

// finish checks the entry e, whose bytes have all passed.
func (v *packVerifier) finish(e packEntry) error {
	if e.kind == packKindList {
		l, err := objects.DecodeChunkList(v.list)
		if err != nil {
			return err
		}
		if l.Blob != e.id {
			return fmt.Errorf("%w: the %s holds the list of blob %s", ErrCorrupt, e.packKey, l.Blob.Short())
		}
		return nil
	}
	if e.size == 0 {
		v.h.Reset()
	}
	if got := v.h.Sum(); got != e.id {
		return &objects.CorruptError{ID: e.id, Reason: "the pack's bytes hash to " + got.String()}
	}
	return nil
}

// shortName is the first 12 characters of a pack name, for messages.
func shortName(name string) string {
	if len(name) > 12 {
		return name[:12]
	}
	return name
}
