// Command art versions machine-learning artifacts the way Git versions
// source. It is a thin shell over package repo: it parses flags, makes the
// repo call and prints the result as text or, with --json, as one JSON
// document. See docs/architecture.md, "The CLI contract".
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	_ "github.com/artvcs/art/repo/remote/all" // every remote driver
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed (or found problems: verify, fsck)
	exitUsage = 2 // unknown flag, wrong argument count, malformed flag value
)

// memoryLimit is the Go runtime's soft heap limit for the CLI. art's work
// is streamed, so its live heap is small; the limit makes the collector run
// sooner instead of letting garbage double the heap, which keeps peak RSS
// flat (docs/architecture.md, "The CLI contract"). GOMEMLIMIT overrides it.
const memoryLimit = 48 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := newOSApp()
	stopProfile := startProfile()
	err := a.execute(ctx, os.Args[1:])
	stopProfile()
	stop()
	if err != nil {
		a.printError(err)
	}
	os.Exit(exitCode(err))
}

// exitCode maps the error a command returned to the process exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	default:
		return exitError
	}
}
