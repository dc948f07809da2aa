//go:build !linux

package repo

import "io/fs"

// sysStat adds nothing where the stat cache relies on size and mtime only.
func sysStat(fi fs.FileInfo, s *fileStat) {}
