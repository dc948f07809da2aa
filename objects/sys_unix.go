//go:build unix

package objects

import "syscall"

var errEINVAL error = syscall.EINVAL
