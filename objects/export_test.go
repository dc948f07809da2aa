package objects

// SetBatchListMax sets how many unsynced objects a Batch lists before it
// syncs them early, for a test; the returned func restores it.
func SetBatchListMax(n int) (restore func()) {
	old := batchListMax
	batchListMax = n
	return func() { batchListMax = old }
}

// SetPackIndexSpillAt sets how many entries a PackIndex keeps sorted in
// memory before it spills them to a file, for a test; the returned func
// restores it.
func SetPackIndexSpillAt(n int) (restore func()) {
	old := PackIndexMemoryEntries
	PackIndexMemoryEntries = n
	return func() { PackIndexMemoryEntries = old }
}

// PackIndexSpillAt returns the spilling threshold.
func PackIndexSpillAt() int { return PackIndexMemoryEntries }

// PackIndexSpilled reports whether x keeps entries in a spill file.
func PackIndexSpilled(x *PackIndex) bool {
	if x == nil {
		return false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.spilled != nil && x.spilled.n > 0
}

// StorePackIndex returns the index of s's local packs.
func StorePackIndex(s *FSStore) *PackIndex { return &s.packs.idx }
