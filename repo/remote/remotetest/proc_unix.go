//go:build unix

package remotetest

import (
	"os"
	"syscall"
)

// signalGroup sends SIGTERM (or SIGKILL if kill) to p's process group.
func signalGroup(p *os.Process, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}
