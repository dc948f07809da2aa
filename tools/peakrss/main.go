//go:build unix

// Command peakrss runs a command and prints its wall time and peak resident
// set size (from the kernel's rusage), for the memory benchmarks.
//
//	peakrss LABEL -- COMMAND [ARG...]
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
	fmt.Printf("%-40s %9.4f s %8.1f MiB\n", label, wall.Seconds(), float64(ru.Maxrss)/1024)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", label, "failed:", err)
		os.Exit(1)
	}
}
