// Package chunker splits a byte stream into content-defined chunks, so that
// an edit inside a large file changes only the chunks around it.
//
// # Chunks
//
// A chunk is a contiguous run of a stream's bytes. The chunks of a stream,
// in order, concatenate to exactly the stream; an empty stream has no
// chunks. Every chunk but the last is between Params.Min and Params.Max bytes
// long; the last is between 1 and Params.Max bytes.
//
// # Cut points
//
// A cut point is the offset where one chunk ends and the next begins. It is
// chosen by the content just before it, not by its offset in the stream:
// a gear hash (FastCDC, Xia et al., USENIX ATC 2016) rolls over the stream,
// and a cut is made after a byte where the hash's top bits are all zero.
// The hash after a byte depends only on the 64 bytes ending there, so an
// insertion or deletion moves the cut points near it and leaves the others
// where they were, shifted with the bytes. A chunk that ends at a cut point
// is the same chunk, with the same hash, in every stream that contains it.
//
// Normalized chunking keeps chunk sizes close to Params.Avg: before a
// chunk reaches Avg bytes a cut needs Params.Norm more zero bits (level 1:
// it is twice as rare), and after Avg that many fewer. Level 1 (Algorithm)
// spreads sizes wider than level 2 (AlgorithmV1) but finds its way back to
// the old cut points sooner after an edit, so an edited file shares more
// chunks with the version before it. No cut is made
// in a chunk's first Min bytes, and one is forced at Max bytes.
//
// # Parameters
//
// Params and the gear table together decide every cut point. Writers that
// share a store must chunk the same way or they stop deduplicating against
// each other (the data stays correct: a file's identity never depends on how
// it is chunked). A repository therefore records its Params, together with
// Algorithm, in its config. The gear table is generated at init from a fixed
// seed and never changes within one Algorithm.
//
// This package imports nothing else of art's.
package chunker
