//go:build race

package repo_test

// raceEnabled: the race detector slows SQLite and the fault wrapper
// down about tenfold, so the fault tests sample their injection points.
const raceEnabled = true
