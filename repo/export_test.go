package repo

// SetDiffBudget sets what one Diff may look at (entries compared and
// changes listed) and returns what restores it. Tests that call it must
// not run in parallel.
func SetDiffBudget(n int64) (restore func()) {
	old := diffBudget
	diffBudget = n
	return func() { diffBudget = old }
}

// SetPullBatch sets how many wanted file contents a pull gathers before it
// fetches them, and returns what restores it. Tests that call it must not
// run in parallel.
func SetPullBatch(n int) (restore func()) {
	old := pullBatch
	pullBatch = n
	return func() { pullBatch = old }
}

// SetPrefetchKeep sets how many bytes of prefetched trees a pull keeps in
// memory, and returns what restores it. Tests that call it must not run
// in parallel.
func SetPrefetchKeep(n int) (restore func()) {
	old := prefetchKeep
	prefetchKeep = n
	return func() { prefetchKeep = old }
}

// SetCheckoutTouchedMax sets how many paths a streaming checkout's first
// pass remembers for the second, and returns what restores it. Tests that
// call it must not run in parallel.
func SetCheckoutTouchedMax(n int) (restore func()) {
	old := checkoutTouchedMax
	checkoutTouchedMax = n
	return func() { checkoutTouchedMax = old }
}
