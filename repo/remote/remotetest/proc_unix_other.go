//go:build unix && !linux

package remotetest

import "syscall"

// sysProcAttr puts the server in its own process group, so stop reaches
// any children.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
