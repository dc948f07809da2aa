package chunker

// Algorithm names the cut-point function new repositories use: the gear
// table below, the window, and normalization level 1. A repository records
// it next to its Params; it changes whenever the cut points of some input
// would.
const Algorithm = "fastcdc-gear64-v2"

// AlgorithmV1 is the cut-point function of repositories made before
// Algorithm: the same gear table and window with normalization level 2.
// It stays supported, so those repositories keep deduplicating against
// themselves.
const AlgorithmV1 = "fastcdc-gear64-v1"

// AlgorithmNorm returns the normalization level of a known algorithm name
// (the value for Params.Norm), and whether the name is known.
func AlgorithmNorm(name string) (int, bool) {
	switch name {
	case Algorithm:
		return 1, true
	case AlgorithmV1:
		return 2, true
	}
	return 0, false
}

const (
	// window is the number of bytes the gear hash depends on: each byte
	// shifts the hash left by one, so a byte's table entry is gone from the
	// 64-bit hash 64 bytes later.
	window = 64
	// defaultNorm is the normalization level of a Params whose Norm is 0.
	defaultNorm = 1
	// maxNorm bounds Params.Norm.
	maxNorm = 3
	// gearSeed seeds the gear table. Changing it changes Algorithm.
	gearSeed = 0x61727463_68756e6b // "artchunk"
)

// gear maps each byte value to a pseudo-random 64-bit word. It is filled at
// init by SplitMix64 from gearSeed, spelled out here rather than taken from
// math/rand so the table can never change under us with a Go release.
// gearLS[b] is gear[b]<<1, for scan's pairs of bytes.
var gear, gearLS [256]uint64

func init() {
	s := uint64(gearSeed)
	for i := range gear {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		gear[i] = z ^ z>>31
		gearLS[i] = gear[i] << 1
	}
}
