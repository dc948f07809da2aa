// Package refs owns the names of artifacts and the references that pick one
// of their versions, and the SQLite index of versions and aliases.
//
// # Grammar
//
// A name, a type and an alias are 1..128 bytes of letters, digits, '_', '-'
// and '.', starting with a letter or digit, and not ending in '.' or ".lock". A
// reference is one of
//
//	name            the latest version
//	name:latest     the latest version
//	name:v3         version 3
//	name:best-ap50  the version the alias best-ap50 points at
//	name@1f2e3d4c   the version whose commit ID starts with 1f2e3d4c
//
// "latest" and "vN" are reserved: they cannot be set as aliases.
//
// # Index
//
// The index lives in the repository's SQLite database (shared with lineage,
// so a version, its aliases and its lineage edges commit in one
// transaction). Version numbers are allocated from a per-artifact counter
// inside a write transaction (BEGIN IMMEDIATE), so they are dense, unique
// and never reused, even with many processes committing at once. "latest"
// is not stored: it is always the highest-numbered version that exists.
package refs
