// Package remotetest holds what every remote.Transport driver's tests
// share.
//
// # Conformance
//
// Run is the conformance suite: each behaviour of the remote.Transport
// contract (key validation, not-found, put-if-absent atomicity, exact
// reads, ranged reads, compare-and-swap under contention, listing,
// delete) as a subtest against a fresh remote.
//
// # MinIO
//
// MinIO starts one real MinIO server on 127.0.0.1 per test binary for the
// S3 driver's tests, and NewBucket gives each test a bucket of its own.
// Main stops the server when the tests end. Without a minio binary the
// tests skip, unless ART_REQUIRE_MINIO=1 (set by `make test`, which
// installs MinIO) makes them fail.
package remotetest
