package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/artvcs/art/repo"
)

// version is art's version, set at link time with
// -ldflags "-X main.version=v1.2.3"; otherwise taken from the build info.
var version = ""

// app holds what commands may touch of the outside world, so tests can run
// them in-process with their own writers, environment and directory.
type app struct {
	stdout io.Writer
	stderr io.Writer
	// getenv looks up an environment variable ("" if unset).
	getenv func(string) string
	// wd is the working directory every relative path is resolved against.
	wd string
	// stderrIsTerminal reports whether stderr is a terminal, where progress
	// bars may be drawn.
	stderrIsTerminal func() bool
	// progressDelay is how long an operation runs before its progress bar
	// appears.
	progressDelay time.Duration

	global globalOptions
	// started is set once a command's own code runs: an error before that
	// (flags, argument count) is a usage error.
	started bool
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	repo  string // --repo: the .art directory or the directory holding it
	json  bool   // --json: print one JSON document on stdout
	quiet bool   // -q: print nothing but errors and the data asked for
}

// newOSApp returns an app on the process's real stdout, stderr,
// environment and working directory.
func newOSApp() *app {
	wd, err := os.Getwd()
	if err != nil {
		wd = "."
	}
	return &app{
		stdout:           os.Stdout,
		stderr:           os.Stderr,
		getenv:           os.Getenv,
		wd:               wd,
		stderrIsTerminal: func() bool { return term.IsTerminal(int(os.Stderr.Fd())) },
		progressDelay:    500 * time.Millisecond,
	}
}

// execute runs the command line args (without the program name). An error
// from parsing flags or arguments comes back as a *usageError.
func (a *app) execute(ctx context.Context, args []string) error {
	root := a.newRootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !a.started {
		var ue *usageError
		if !errors.As(err, &ue) {
			err = &usageError{cmd: cmd, err: err}
		}
	}
	return err
}

func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "art",
		Short: "Version machine-learning artifacts like Git versions source",
		Long: `art versions datasets, models and results: immutable content-addressed
objects, one version per commit (v0, v1, ...), and movable aliases.

The repository is the directory given by --repo, else $ART_DIR, else the
first .art directory found walking up from the working directory.`,
		Version:       buildVersion(),
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRun: func(*cobra.Command, []string) {
			a.started = true
		},
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetVersionTemplate("art {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{cmd: c, err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.global.repo, "repo", "", "repository `DIR` (the .art directory or the directory holding it); default $ART_DIR, else found by walking up from the working directory")
	pf.BoolVar(&a.global.json, "json", false, "print one JSON document on stdout")
	pf.BoolVarP(&a.global.quiet, "quiet", "q", false, "print nothing but errors and the data asked for; no progress bars")

	root.AddCommand(
		a.newInitCommand(),
		a.newCommitCommand(),
		a.newCheckoutCommand(),
		a.newLsCommand(),
		a.newLogCommand(),
		a.newShowCommand(),
		a.newDiffCommand(),
		a.newAliasCommand(),
		a.newRmCommand(),
		a.newRetentionCommand(),
		a.newVerifyCommand(),
		a.newFsckCommand(),
		a.newGCCommand(),
		a.newDuCommand(),
		a.newRemoteCommand(),
		a.newPushCommand(),
		a.newPullCommand(),
		a.newFetchCommand(),
		a.newServeCommand(),
		a.newRunCommand(),
		a.newLineageCommand(),
		a.newReindexCommand(),
	)
	return root
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "(devel)"
}

// openRepo opens the repository named by --repo or $ART_DIR, or found by
// walking up from the working directory. A directory given may be the
// .art directory itself or the directory holding it.
func (a *app) openRepo(ctx context.Context) (*repo.Repo, error) {
	fsys := afero.NewOsFs()
	dir, from := a.global.repo, "--repo"
	if dir == "" {
		dir, from = a.getenv("ART_DIR"), "ART_DIR"
	}
	if dir == "" {
		found, err := repo.Find(fsys, a.wd)
		if err != nil {
			return nil, err
		}
		return repo.Open(ctx, fsys, found, nil)
	}
	dir = a.abs(dir)
	if !isFile(filepath.Join(dir, "config")) && isDir(filepath.Join(dir, repo.DirName)) {
		dir = filepath.Join(dir, repo.DirName)
	}
	r, err := repo.Open(ctx, fsys, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return r, nil
}

// withRepo opens the repository, runs fn and closes the repository.
func (a *app) withRepo(ctx context.Context, fn func(r *repo.Repo) error) error {
	r, err := a.openRepo(ctx)
	if err != nil {
		return err
	}
	err = fn(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return err
}

// abs resolves p against the app's working directory.
func (a *app) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(a.wd, p)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// printJSON writes v to stdout as one indented JSON document.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printf writes a status message to stdout unless -q is set.
func (a *app) printf(format string, args ...any) {
	if !a.global.quiet {
		fmt.Fprintf(a.stdout, format, args...)
	}
}
