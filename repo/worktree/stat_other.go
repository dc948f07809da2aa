//go:build !linux

package worktree

import "io/fs"

// sysStat adds nothing where the record relies on size and mtime only.
func sysStat(fi fs.FileInfo, s *Stat) {}
