package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type gcOptions struct {
	dryRun bool
	grace  time.Duration
}

func (a *app) newGCCommand() *cobra.Command {
	var opts gcOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete objects that no version uses",
		Long: `Delete the objects no version, alias or run uses: those of deleted versions.
Objects younger than the grace period are kept, as they may belong to a
commit still in progress.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.grace < 0 {
				return usagef(cmd, "--grace %s: want a duration of 0 or more", opts.grace)
			}
			if cmd.Flags().Changed("grace") && opts.grace == 0 {
				opts.grace = -1 // GCOptions.Grace: 0 is the default, negative is none
			}
			return a.runGC(cmd.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.dryRun, "dry-run", "n", false, "report what would be deleted, delete nothing")
	f.DurationVar(&opts.grace, "grace", 0, "keep objects younger than `DURATION` (default "+repo.DefaultGrace.String()+")")
	return cmd
}

// gcJSON is the outcome of `art gc --json`.
type gcJSON struct {
	Live    int   `json:"live"`
	Garbage int   `json:"garbage"`
	Deleted int   `json:"deleted"`
	Young   int   `json:"young"`
	Bytes   int64 `json:"bytes"`
	DryRun  bool  `json:"dry_run"`
}

func (a *app) runGC(ctx context.Context, opts gcOptions, _ []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		rep, err := r.GC(ctx, &repo.GCOptions{DryRun: opts.dryRun, Grace: opts.grace})
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(gcJSON{
				Live:    rep.Live,
				Garbage: rep.Garbage,
				Deleted: rep.Deleted,
				Young:   rep.Young,
				Bytes:   rep.Bytes,
				DryRun:  opts.dryRun,
			})
		}
		if opts.dryRun {
			a.printf("would delete %s (%s); %d live", plural(int64(rep.Garbage), "object"), formatBytes(rep.Bytes), rep.Live)
		} else {
			a.printf("deleted %s (%s); %d live", plural(int64(rep.Deleted), "object"), formatBytes(rep.Bytes), rep.Live)
		}
		if rep.Young > 0 {
			a.printf(", %d unused but younger than the grace period kept", rep.Young)
		}
		a.printf("\n")
		return nil
	})
}
