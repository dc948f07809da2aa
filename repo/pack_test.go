package repo

import (
	"testing"

	"github.com/artvcs/art/objects"
)

// The pack format, its reader and its verifier are tested with them, in
// objects/packfmt_test.go (TestPackHeaderRoundTrip, TestPackHeaderRefused,
// TestVerifyPackBody, TestPackReader, TestPackIndex and the fuzz targets
// FuzzDecodePackHeader and FuzzVerifyPackBody).

func TestSplitPacks(t *testing.T) {
	var es []objects.PackEntry
	for i := 0; i < 10; i++ {
		es = append(es, objects.PackEntry{PackKey: objects.PackObjectKey(objects.Hash([]byte{byte(i)})), Size: packTarget / 4})
	}
	es = append(es, objects.PackEntry{PackKey: objects.PackObjectKey(objects.Hash([]byte("big"))), Size: 3 * packTarget})
	packs := splitPacks(es)
	n := 0
	for _, p := range packs {
		var size int64
		for _, e := range p {
			size += e.Size
		}
		if size > packTarget && len(p) > 1 {
			t.Errorf("a pack of %d entries holds %d bytes, more than %d", len(p), size, packTarget)
		}
		n += len(p)
	}
	if n != len(es) || len(packs) != 4 {
		t.Fatalf("%d entries in %d packs, want %d in 4", n, len(packs), len(es))
	}
}
