package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

// usageError is a command line that does not parse: an unknown flag, a
// malformed flag value or the wrong number of arguments. It exits 2 and
// prints the command's usage.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error of cmd.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, args...)}
}

// printError writes err to stderr as "art: <what went wrong and what to
// do>", followed by the command's usage for a usage error.
func (a *app) printError(err error) {
	msg := err.Error()
	if h := hint(err, msg); h != "" {
		msg += "; " + h
	}
	fmt.Fprintf(a.stderr, "art: %s\n", msg)
	var ue *usageError
	if errors.As(err, &ue) && ue.cmd != nil {
		fmt.Fprintf(a.stderr, "\n%s", ue.cmd.UsageString())
	}
}

// hint says what to do about err, unless its message msg already does.
func hint(err error, msg string) string {
	switch {
	case errors.Is(err, repo.ErrNotRepository):
		if !strings.Contains(msg, "art init") {
			return "run `art init` to create a repository, or pass --repo DIR"
		}
	case errors.Is(err, repo.ErrExists):
		return "use it as it is, or remove it first"
	case errors.Is(err, repo.ErrAmbiguous):
		if !strings.Contains(msg, "more of the ID") {
			return "give more of the ID"
		}
	case errors.Is(err, repo.ErrVersionNotFound):
		return "run `art ls` to list artifacts and `art log NAME` to list an artifact's versions and aliases"
	case errors.Is(err, repo.ErrNotFound):
		return "`art show REF` lists a version's files"
	case errors.Is(err, repo.ErrRunNotRunning):
		if strings.Contains(msg, runIDEnv) {
			return "start a new run with `art run start` and set " + runIDEnv + " to its ID, or unset " + runIDEnv
		}
		return "a run ends only once; `art run show ID` shows it"
	case errors.Is(err, repo.ErrRunNotFound):
		if strings.Contains(msg, runIDEnv) {
			return "`art run ls` lists the runs; unset " + runIDEnv + " to work outside a run"
		}
		return "`art run ls` lists the runs"
	case errors.Is(err, repo.ErrHasAliases):
		return "remove them with `art alias rm NAME ALIAS`, or use --force to delete the version and its aliases"
	case errors.Is(err, repo.ErrInvalidRef):
		return "a reference is NAME, NAME:vN, NAME:ALIAS or NAME@IDPREFIX"
	case errors.Is(err, repo.ErrTypeMismatch):
		return "an artifact's type is fixed by its first version; pass the same -t, or use another name"
	case errors.Is(err, repo.ErrDuplicatePath):
		return "give one of them another destination with PATH=DEST"
	case errors.Is(err, repo.ErrVerifyFailed):
		return "check the version out again (with --force to replace changed files)"
	case errors.Is(err, repo.ErrDamaged):
		return "restore the damaged objects from another copy of the repository, or delete the affected versions with `art rm --force`"
	case errors.Is(err, repo.ErrCorrupt):
		if !strings.Contains(msg, "art fsck") {
			return "run `art fsck` to list damaged objects and the versions and paths they affect"
		}
	}
	return ""
}
