//go:build !race

package repo_test

// raceEnabled: see fault_race_test.go.
const raceEnabled = false
