//go:build !unix

package remotetest

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup kills p; there are no process groups to signal here.
func signalGroup(p *os.Process, kill bool) { p.Kill() }
