package remotetest

import "syscall"

// sysProcAttr puts the server in its own process group (so stop reaches
// any children) and has the kernel kill it if this test binary dies
// without stopping it (a test timeout, kill -9).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
