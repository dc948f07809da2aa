//go:build unix

// Command peakrss runs a command and prints its wall time, peak resident set
// size and CPU time (from the kernel's rusage of the command and every
// process it waited for), for the benchmarks.
//
//	peakrss LABEL -- COMMAND [ARG...]
//
// prints one line: LABEL WALL s RSS MiB USER s SYS s. The command's own
// stdout and stderr go to peakrss's stderr.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 4 || os.Args[2] != "--" {
		fmt.Fprintln(os.Stderr, "usage: peakrss LABEL -- COMMAND [ARG...]")
		os.Exit(2)
	}
	label := os.Args[1]
	cmd := exec.Command(os.Args[3], os.Args[4:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(1)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Printf("%-40s %9.4f s %8.1f MiB %8.3f s %8.3f s\n", label, wall.Seconds(), float64(ru.Maxrss)/1024,
		time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds())
	if err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", label, "failed:", err)
		os.Exit(1)
	}
}
