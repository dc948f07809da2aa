// Package objects defines art's content-addressed object model and the
// object store.
//
// # IDs
//
// An object's ID is the BLAKE3-256 hash of its bytes exactly as stored,
// written as 64 lowercase hex characters. A blob is a file's raw bytes, so a
// blob's ID equals the output of `b3sum FILE`.
//
// # Kinds
//
// A blob is raw file content with no header. Trees, commits and runs start
// with a header line naming their kind and format version ("art tree 1",
// "art commit 1", "art run 1") followed by a canonical body: there is exactly
// one encoding for every value, so equal content always has an equal ID, and
// the decoders reject anything that is not canonical.
//
// A run object is written once, when a run ends: its job type, name,
// config, host, start and finish times, status, and the commits it used
// (inputs) and logged (outputs), so that lineage travels with the commits.
//
// # Store
//
// A Store holds immutable objects by ID. FSStore keeps them as loose,
// read-only files under a directory of an afero.Fs ("ab/cdef…"), and in
// packs (see Packs). Writes are hashed while copied, synced, and published
// under their name by a link of an anonymous file where the file system
// has them (AnonymousCreator: O_TMPFILE and linkat on Linux), else from a
// temp file; reads are hashed on the way and fail with ErrCorrupt when the
// bytes do not match their ID.
//
// # Packs
//
// A pack holds entries (objects, and chunk lists of blobs) back to back,
// described by a header (EncodePackHeader) whose BLAKE3 is the pack's
// name. This package is their one home: the format, the PackIndex of
// where entries lie (for the store's own packs in pack/ and for the packs
// of a remote alike), PackReader, which streams a pack from its entries,
// and VerifyPack, which checks one as it streams. FSStore keeps the
// objects a pull receives, and the chunks of large files, in packs
// (PackWriter).
//
// # Capabilities
//
// What a file system can do beyond afero.Fs is asked for, not assumed:
// AnonymousCreator (files with no name until linked: O_TMPFILE and
// linkat(2)), HardLinker and FSSyncer (syncfs(2)). The OS file system has
// them on Linux; objects/faulttest.Fs has the first and the last within
// its crash model; elsewhere writes take the portable path (a named temp
// file, renamed; a sync per file). Kernel copies (CopyTo) and OpenFile's
// poller-free open need OS file descriptors and so only the OS file
// system.
//
// This package imports nothing else of art's.
package objects
