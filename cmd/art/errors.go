package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
	"github.com/artvcs/art/repo/remote"
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

// remoteArgError is an error of a command about the remote its arguments
// name; the hint names it too.
type remoteArgError struct {
	name string
	err  error
}

func (e *remoteArgError) Error() string { return e.err.Error() }
func (e *remoteArgError) Unwrap() error { return e.err }

// printError writes err to stderr as "art: <what went wrong and what to
// do>", followed by the command's usage for a usage error.
func (a *app) printError(err error) {
	msg := err.Error()
	if h := hint(err); h != "" {
		msg += "; " + h
	}
	fmt.Fprintf(a.stderr, "art: %s\n", msg)
	var ue *usageError
	if errors.As(err, &ue) && ue.cmd != nil {
		fmt.Fprintf(a.stderr, "\n%s", ue.cmd.UsageString())
	}
}

// hint says what to do about err. Errors from repo state what went wrong
// and carry no advice: every "what to do" of the CLI is here, chosen by
// the error's sentinel or type, never by its text.
func hint(err error) string {
	var (
		nff    *repo.NotFastForwardError
		unread *repo.UnreadableError
		pack   *repo.DamagedPackError
		named  *remoteArgError
		env    *envRunError
	)
	inRun := errors.As(err, &env) // about $ART_RUN_ID's run
	switch {
	case errors.As(err, &nff):
		return fmt.Sprintf("run `art pull %s %s` first (or push --strategy new)", nff.Remote, nff.Name)
	case errors.As(err, &unread):
		if unread.Op == "gc" {
			return "run `art fsck` and repair before collecting garbage"
		}
		return "run `art fsck` to list damaged objects and the versions and paths they affect"
	case errors.As(err, &pack):
		return "remove " + strings.Join(pack.Keys, " and ") + " there, then push again from a repository that has its objects"
	case errors.Is(err, repo.ErrGCRaced):
		return "run the command again (another machine's gc moved the remote's gc document meanwhile)"
	case errors.Is(err, repo.ErrNoRemoteTime):
		return "a remote gc needs a remote that stamps its keys with times (a directory, S3, or art serve)"
	case errors.Is(err, repo.ErrNotRepository):
		return "run `art init` to create a repository, or pass --repo DIR"
	case errors.Is(err, repo.ErrExists):
		return "use it as it is, or remove it first"
	case errors.Is(err, repo.ErrAmbiguous):
		return "give more of the ID"
	case errors.Is(err, repo.ErrVersionNotFound):
		return "run `art ls` to list artifacts and `art log NAME` to list an artifact's versions and aliases"
	case errors.Is(err, repo.ErrNotFound):
		return "`art show REF` lists a version's files"
	case errors.Is(err, repo.ErrRunNotRunning):
		if inRun {
			return "start a new run with `art run start` and set " + runIDEnv + " to its ID, or unset " + runIDEnv
		}
		return "a run ends only once; `art run show ID` shows it"
	case errors.Is(err, repo.ErrRunNotFound):
		if inRun {
			return "`art run ls` lists the runs; unset " + runIDEnv + " to work outside a run"
		}
		return "`art run ls` lists the runs"
	case errors.Is(err, repo.ErrInvalidRunID):
		return "`art run start` prints a run's ID, and `art run ls` lists the runs"
	case errors.Is(err, repo.ErrHasAliases):
		return "remove them with `art alias rm NAME ALIAS`, or use --force to delete the version and its aliases"
	case errors.Is(err, repo.ErrInvalidRef):
		return "a reference is NAME, NAME:vN, NAME:ALIAS or NAME@IDPREFIX"
	case errors.Is(err, repo.ErrTypeMismatch):
		return "an artifact's type is fixed by its first version; pass the same -t, or use another name"
	case errors.Is(err, repo.ErrDuplicatePath):
		return "give one of them another destination with PATH=DEST"
	case errors.Is(err, repo.ErrLocalChanges):
		return "commit or move them, or use --force to overwrite"
	case errors.Is(err, repo.ErrVerifyFailed):
		return "check the version out again (with --force to replace changed files)"
	case errors.Is(err, repo.ErrDamaged):
		return "restore the damaged objects from another copy of the repository, or delete the affected versions with `art rm --force`"
	case errors.Is(err, repo.ErrConflict):
		return "pull with --strategy new to renumber the local one"
	case errors.Is(err, repo.ErrRemoteExists):
		if errors.As(err, &named) {
			return "remove it first with `art remote rm " + named.name + "`"
		}
		return "remove it first with `art remote rm NAME`"
	case errors.Is(err, repo.ErrNoRemote):
		return "add one with `art remote add origin URL`"
	case errors.Is(err, repo.ErrNoDefaultRemote):
		return "name one"
	case errors.Is(err, repo.ErrRemoteNotFound):
		return "see `art remote ls`"
	case errors.Is(err, repo.ErrCorrupt):
		return "run `art fsck` to list damaged objects and the versions and paths they affect"
	case errors.Is(err, remote.ErrTooLarge):
		return "an `art serve` takes larger uploads with --max-object-size SIZE (files stored whole, in a repository made with --no-chunking, travel in one piece)"
	}
	return ""
}
