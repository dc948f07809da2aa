//go:build !linux

package repo

import (
	"io/fs"
	"time"
)

// accessTime is unknown here: eviction orders by modification time.
func accessTime(fs.FileInfo) (time.Time, bool) { return time.Time{}, false }
