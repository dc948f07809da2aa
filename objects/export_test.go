package objects

// SetBatchListMax sets how many unsynced objects a Batch lists before it
// syncs them early, for a test; the returned func restores it.
func SetBatchListMax(n int) (restore func()) {
	old := batchListMax
	batchListMax = n
	return func() { batchListMax = old }
}
