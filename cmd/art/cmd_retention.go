package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type retentionOptions struct {
	keepLast   int64
	keepWithin time.Duration
	clear      bool
}

func (a *app) newRetentionCommand() *cobra.Command {
	var opts retentionOptions
	cmd := &cobra.Command{
		Use:   "retention NAME",
		Short: "Show or set which versions of an artifact gc keeps",
		Long: `Show the retention policy of an artifact, or set it: --keep-last N keeps the
newest N versions, --keep-within DURATION those created within DURATION (both:
a version either keeps stays); --clear keeps every version again.

Versions with aliases, the newest one, and the versions that were inputs of
the runs that produced kept versions are always kept. art gc deletes the
others here (art gc --dry-run lists them); art push takes the policy to a
remote, where art gc --remote applies it, and art pull brings it back.`,
		Example: "  art retention checkpoints --keep-last 3\n  art retention logs --keep-within 720h\n  art retention checkpoints",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			set := f.Changed("keep-last") || f.Changed("keep-within")
			if opts.clear && set {
				return usagef(cmd, "--clear takes no --keep-last or --keep-within")
			}
			if f.Changed("keep-last") && opts.keepLast < 1 {
				return usagef(cmd, "--keep-last %d: want 1 or more", opts.keepLast)
			}
			if f.Changed("keep-within") && opts.keepWithin <= 0 {
				return usagef(cmd, "--keep-within %s: want a duration above 0", opts.keepWithin)
			}
			return a.runRetention(cmd.Context(), args[0], opts, set || opts.clear)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&opts.keepLast, "keep-last", 0, "keep the newest `N` versions")
	f.DurationVar(&opts.keepWithin, "keep-within", 0, "keep the versions created within `DURATION` (720h: 30 days)")
	f.BoolVar(&opts.clear, "clear", false, "remove the policy: keep every version")
	return cmd
}

// retentionJSON is the outcome of `art retention NAME --json`.
type retentionJSON struct {
	Name       string  `json:"name"`
	KeepLast   *int64  `json:"keep_last"`   // null: no such rule
	KeepWithin *string `json:"keep_within"` // null: no such rule
	Policy     string  `json:"policy"`      // in words
}

func (a *app) runRetention(ctx context.Context, name string, opts retentionOptions, change bool) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		if change {
			p := repo.Retention{KeepLast: opts.keepLast, KeepWithin: repo.Duration(opts.keepWithin)}
			if err := r.SetRetention(ctx, name, p); err != nil {
				return err
			}
		}
		p, err := r.Retention(ctx, name)
		if err != nil {
			return err
		}
		if a.global.json {
			out := retentionJSON{Name: name, Policy: p.String()}
			if p.KeepLast > 0 {
				out.KeepLast = &p.KeepLast
			}
			if p.KeepWithin > 0 {
				s := time.Duration(p.KeepWithin).String()
				out.KeepWithin = &s
			}
			return a.printJSON(out)
		}
		a.printf("%s: %s\n", name, p.String())
		return nil
	})
}
