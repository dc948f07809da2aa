// Package remote defines how art talks to a remote: a Transport, a dumb
// key-value store with stat, get, put-if-absent, compare-and-swap, list and
// delete, and a registry of drivers by URL scheme.
//
// # Drivers
//
// Each driver is its own package (dirremote for a directory, s3remote for
// S3-compatible buckets, httpremote for `art serve`); package all registers
// them. The push and pull logic (which objects to send, how refs move) is
// in package repo, not here.
//
// # Conformance
//
// Package remotetest is a suite every driver passes.
package remote
