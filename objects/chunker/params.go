package chunker

import (
	"errors"
	"fmt"
	"math/bits"
)

// ErrInvalidParams is returned by Params.Validate and New for parameters
// that break a rule of Params.
var ErrInvalidParams = errors.New("invalid chunker parameters")

// Limits on Params.
const (
	// MinLimit is the smallest allowed Params.Min: the gear hash's window.
	// Below it a cut point would depend on bytes of the previous chunk.
	MinLimit = window
	// MaxLimit is the largest allowed Params.Max. It bounds a Chunker's
	// memory when the parameters come from a config file.
	MaxLimit = 1 << 30
)

// Params are the chunker's parameters, in bytes; they are recorded in a
// repository's config so every writer chunks the same way.
//
// Rules, checked by Validate: MinLimit <= Min < Avg < Max <= MaxLimit, and
// Avg is a power of two. Avg is the target size around which normalized
// chunking concentrates chunk sizes (on random data the mean comes out a
// little above it, as fewer chunks are cut before Avg than after).
type Params struct {
	Min int `json:"min"` // no cut point is made in a chunk's first Min bytes
	Avg int `json:"avg"` // the target chunk size, a power of two
	Max int `json:"max"` // a chunk is cut at Max bytes if no cut point came sooner
	// Norm is FastCDC's normalization level, 0 to 3: the mask bits added
	// before Avg and removed after it; 0 means level 1 (Algorithm). It is
	// not recorded with the sizes: it follows from the algorithm name
	// (AlgorithmNorm).
	Norm int `json:"-"`
}

// DefaultParams returns Min 256 KiB, Avg 1 MiB, Max 4 MiB.
//
// The chunks are large because art versions large files (checkpoints,
// dataset shards) whose changes are edits of whole tensors or appended
// records, not scattered bytes: 1 MiB chunks find that reuse, keep a 10 GiB
// file to about 10,000 objects and a chunk list to a few hundred KiB, and
// amortize the per-object cost of stores and remotes (a file, a request).
// restic uses 512 KiB to 8 MiB with a 1 MiB mean for the same reasons.
// Min = Avg/4 and Max = 4*Avg are FastCDC's usual normalization range.
func DefaultParams() Params {
	return Params{Min: 256 << 10, Avg: 1 << 20, Max: 4 << 20}
}

// Validate returns nil if p follows the rules of Params, else an error
// wrapping ErrInvalidParams that names the broken rule.
func (p Params) Validate() error {
	switch {
	case p.Min < MinLimit:
		return fmt.Errorf("%w: min %d below %d", ErrInvalidParams, p.Min, MinLimit)
	case p.Max > MaxLimit:
		return fmt.Errorf("%w: max %d above %d", ErrInvalidParams, p.Max, MaxLimit)
	case !(p.Min < p.Avg && p.Avg < p.Max):
		return fmt.Errorf("%w: want min < avg < max, have %d, %d, %d", ErrInvalidParams, p.Min, p.Avg, p.Max)
	case p.Avg&(p.Avg-1) != 0:
		return fmt.Errorf("%w: avg %d is not a power of two", ErrInvalidParams, p.Avg)
	case p.Norm < 0 || p.Norm > maxNorm:
		return fmt.Errorf("%w: normalization level %d (want 0 to %d)", ErrInvalidParams, p.Norm, maxNorm)
	}
	return nil
}

// masks returns the cut masks for chunks shorter than p.Avg (small, Norm
// bits more than log2(Avg)) and for longer ones (large, Norm bits fewer).
// They select the hash's top bits, which depend on the most bytes of the
// window. p must be valid.
func (p Params) masks() (small, large uint64) {
	b := bits.TrailingZeros(uint(p.Avg)) // log2(Avg), at least 7 for a valid p
	n := p.Norm
	if n == 0 {
		n = defaultNorm
	}
	return ^uint64(0) << (64 - (b + n)), ^uint64(0) << (64 - (b - n))
}
