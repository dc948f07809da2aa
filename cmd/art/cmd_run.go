package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

// runIDEnv names the environment variable that makes commits and checkouts
// part of a run.
const runIDEnv = "ART_RUN_ID"

type runStartOptions struct {
	jobType    string
	name       string
	config     []string
	configFile string
}

type runFinishOptions struct {
	status string
}

func (a *app) newRunCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start, finish and inspect runs (the jobs that use and produce versions)",
		Long: `A run is a job — preprocess, train, evaluate — that uses versions as inputs
and logs versions as outputs. ` + "`art run start`" + ` prints its ID; with ` + runIDEnv + `
set to it, ` + "`art commit`" + ` records the run as the producer of the versions it
creates and ` + "`art checkout`" + ` records what it checks out as the run's inputs.
` + "`art run finish`" + ` closes it, writing it as an immutable run object.`,
		Example: `  export ART_RUN_ID=$(art run start --job-type train --config lr=0.001)
  art checkout clean-data:latest
  art commit model out/model.bin -t model
  art run finish`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var start runStartOptions
	startCmd := &cobra.Command{
		Use:   "start --job-type TYPE [--name NAME] [--config KEY=VALUE]... [--config-file FILE]",
		Short: "Start a run and print its ID",
		Long: `Start a run and print its ID, for ` + runIDEnv + `.

--config KEY=VALUE sets a config field; VALUE is parsed as JSON if it is JSON,
else taken as a string (like ` + "`art commit --meta`" + `). --config-file reads a JSON
object; --config fields override its fields.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if start.jobType == "" {
				return usagef(cmd, "give the run's job type with --job-type (train, preprocess, ...)")
			}
			config, err := parseMeta(start.config)
			if err != nil {
				return usagef(cmd, "%s", strings.Replace(err.Error(), "--meta", "--config", 1))
			}
			return a.runRunStart(cmd.Context(), start, config)
		},
	}
	f := startCmd.Flags()
	f.StringVar(&start.jobType, "job-type", "", "the kind of job: `TYPE` such as train, preprocess, evaluate")
	f.StringVar(&start.name, "name", "", "a `NAME` for the run (free text)")
	f.StringArrayVar(&start.config, "config", nil, "config `KEY=VALUE` (repeatable)")
	f.StringVar(&start.configFile, "config-file", "", "read the config from the JSON object in `FILE`")

	var finish runFinishOptions
	finishCmd := &cobra.Command{
		Use:   "finish [ID] [--status finished|failed]",
		Short: "Finish a run (default $" + runIDEnv + ")",
		Long: `Finish the run ID (default: $` + runIDEnv + `) with the status finished, or
failed. The run is written as an immutable run object listing its inputs and
outputs; a run is finished only once.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := a.getenv(runIDEnv)
			if len(args) == 1 {
				id = args[0]
			}
			if id == "" {
				return usagef(cmd, "give the run ID, or set %s", runIDEnv)
			}
			if finish.status != repo.RunFinished && finish.status != repo.RunFailed {
				return usagef(cmd, "--status %q: want %s or %s", finish.status, repo.RunFinished, repo.RunFailed)
			}
			return a.runRunFinish(cmd.Context(), finish, id)
		},
	}
	finishCmd.Flags().StringVar(&finish.status, "status", repo.RunFinished, "how the run ended: finished or failed")

	showCmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a run: job type, name, config, status, times, inputs and outputs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runRunShow(cmd.Context(), args[0])
		},
	}
	lsCmd := &cobra.Command{
		Use:   "ls",
		Short: "List the runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runRunLs(cmd.Context())
		},
	}
	cmd.AddCommand(startCmd, finishCmd, showCmd, lsCmd)
	return cmd
}

// runJSON is a run in --json output.
type runJSON struct {
	ID         string          `json:"id"`
	JobType    string          `json:"job_type"`
	Name       string          `json:"name"`
	Status     string          `json:"status"`
	Host       string          `json:"host"`
	Config     json.RawMessage `json:"config"`
	StartedAt  string          `json:"started_at"`  // RFC 3339, UTC
	FinishedAt *string         `json:"finished_at"` // null while running
	Object     *string         `json:"object"`      // the run object's ID, null while running
}

func newRunJSON(run *repo.Run) runJSON {
	out := runJSON{ID: run.ID, JobType: run.JobType, Name: run.Name, Status: run.Status, Host: run.Host,
		Config: run.Config, StartedAt: run.Started.UTC().Format(time.RFC3339Nano)}
	if len(out.Config) == 0 {
		out.Config = json.RawMessage("{}")
	}
	if !run.Finished.IsZero() {
		s := run.Finished.UTC().Format(time.RFC3339Nano)
		out.FinishedAt = &s
	}
	if !run.Object.IsZero() {
		s := run.Object.String()
		out.Object = &s
	}
	return out
}

func (a *app) runRunStart(ctx context.Context, opts runStartOptions, flags map[string]any) error {
	config := map[string]any{}
	if opts.configFile != "" {
		b, err := os.ReadFile(a.abs(opts.configFile))
		if err != nil {
			return fmt.Errorf("--config-file: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&config); err != nil || dec.More() || config == nil {
			return fmt.Errorf("--config-file %s: want one JSON object (%v)", opts.configFile, err)
		}
	}
	for k, v := range flags {
		config[k] = v
	}
	return a.withRepo(ctx, func(r *repo.Repo) error {
		run, err := r.StartRun(ctx, opts.jobType, opts.name, config)
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(struct {
				ID      string `json:"id"`
				JobType string `json:"job_type"`
				Name    string `json:"name"`
			}{run.ID, run.JobType, run.Name})
		}
		// The ID alone, even with -q: it is what the caller asked for.
		_, err = fmt.Fprintln(a.stdout, run.ID)
		return err
	})
}

func (a *app) runRunFinish(ctx context.Context, opts runFinishOptions, id string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		run, err := r.Run(ctx, id)
		if err != nil {
			return err
		}
		if err := run.FinishStatus(ctx, opts.status); err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(newRunJSON(run))
		}
		a.printf("%s run %s (%s)\n", run.Status, run.ID, run.JobType)
		return nil
	})
}

// refsOf returns lineage nodes as version references.
func refsOf(nodes []repo.LineageNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Ref()
	}
	return out
}

func (a *app) runRunShow(ctx context.Context, id string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		run, err := r.Run(ctx, id)
		if err != nil {
			return err
		}
		ins, err := run.Inputs(ctx)
		if err != nil {
			return err
		}
		outs, err := run.Outputs(ctx)
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(struct {
				runJSON
				Inputs  []string `json:"inputs"`
				Outputs []string `json:"outputs"`
			}{newRunJSON(run), refsOf(ins), refsOf(outs)})
		}
		finished, object := "-", "-"
		if !run.Finished.IsZero() {
			finished = run.Finished.Local().Format(time.RFC3339)
		}
		if !run.Object.IsZero() {
			object = run.Object.String()
		}
		t := newTable(a.stdout, 1)
		for _, kv := range [][2]string{
			{"id", run.ID},
			{"job type", run.JobType},
			{"name", run.Name},
			{"status", run.Status},
			{"host", run.Host},
			{"started", run.Started.Local().Format(time.RFC3339)},
			{"finished", finished},
			{"config", string(run.Config)},
			{"object", object},
		} {
			t.row(kv[0]+":", kv[1])
		}
		if err := t.flush(); err != nil {
			return err
		}
		for _, list := range []struct {
			title string
			nodes []repo.LineageNode
		}{{"inputs", ins}, {"outputs", outs}} {
			fmt.Fprintf(a.stdout, "\n%s:\n", list.title)
			if len(list.nodes) == 0 {
				fmt.Fprintln(a.stdout, "  (none)")
			}
			for _, n := range list.nodes {
				fmt.Fprintf(a.stdout, "  %s\n", n.Label())
			}
		}
		return nil
	})
}

func (a *app) runRunLs(ctx context.Context) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		runs, err := r.Runs(ctx)
		if err != nil {
			return err
		}
		if a.global.json {
			out := make([]runJSON, len(runs))
			for i, run := range runs {
				out[i] = newRunJSON(run)
			}
			return a.printJSON(out)
		}
		if len(runs) == 0 {
			if !a.global.quiet {
				fmt.Fprintln(a.stderr, "no runs yet; start one with `art run start --job-type TYPE`")
			}
			return nil
		}
		t := newTable(a.stdout, 2)
		t.row("ID", "JOB TYPE", "STATUS", "STARTED", "NAME")
		for _, run := range runs {
			t.row(run.ID, run.JobType, run.Status, formatTime(run.Started), run.Name)
		}
		return t.flush()
	})
}

// currentRun returns the run $ART_RUN_ID names, or nil when it is unset.
// A run that is unknown or has ended is an error naming the variable.
func (a *app) currentRun(ctx context.Context, r *repo.Repo) (*repo.Run, error) {
	id := a.getenv(runIDEnv)
	if id == "" {
		return nil, nil
	}
	run, err := r.Run(ctx, id)
	if err == nil && run.Status != repo.RunRunning {
		err = fmt.Errorf("%w: %s %s at %s", repo.ErrRunNotRunning, id, run.Status, run.Finished.Format(time.RFC3339))
	}
	if err != nil {
		return nil, runEnvError(err)
	}
	return run, nil
}

// runEnvError says that err comes from the run $ART_RUN_ID names.
func runEnvError(err error) error { return &envRunError{err: err} }

// envRunError is an error about the run $ART_RUN_ID names, not one given
// on the command line; the hint says so.
type envRunError struct{ err error }

func (e *envRunError) Error() string { return runIDEnv + ": " + e.err.Error() }
func (e *envRunError) Unwrap() error { return e.err }

// isRunError reports whether err is about the run itself (unknown, ended,
// malformed ID) rather than the work done in it.
func isRunError(err error) bool {
	return errors.Is(err, repo.ErrRunNotFound) || errors.Is(err, repo.ErrRunNotRunning) || errors.Is(err, repo.ErrInvalidRunID)
}

// runSummary describes a run in one line: `k3x9q2b7 (train "baseline", finished)`.
func runSummary(run *repo.Run) string {
	what := run.JobType
	if run.Name != "" {
		what += " " + strconv.Quote(run.Name)
	}
	return run.ID + " (" + what + ", " + run.Status + ")"
}
