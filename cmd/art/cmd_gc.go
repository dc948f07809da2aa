package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type gcOptions struct {
	dryRun   bool
	grace    time.Duration
	remote   string
	maxCache string
}

func (a *app) newGCCommand() *cobra.Command {
	var opts gcOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete objects that no version uses",
		Long: `Delete the objects no version, alias or run uses: those of deleted versions.
Objects younger than the grace period are kept, as they may belong to a
commit still in progress.

With --remote NAME, reclaim space on that remote instead, safely while other
machines push and pull: each run does the step that is due. The first marks
what no version on the remote reaches and records the packs that hold only
that (and packs of interrupted pushes) as candidates; a run at least the
grace period later (default ` + repo.DefaultRemoteGrace.String() + `, longer than any push) marks again and
deletes the candidates still unused. Run it from cron, or twice a grace
period apart. Every machine that pushes there must run an art with remote gc
(this one or later): an older one does not read gc's document.`,
		Example: "  art gc\n  art gc --remote origin --grace 1h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.grace < 0 {
				return usagef(cmd, "--grace %s: want a duration of 0 or more", opts.grace)
			}
			if opts.maxCache != "" {
				if opts.remote != "" {
					return usagef(cmd, "--max-cache shrinks this repository's store, not a remote's")
				}
				if n, err := parseByteSize(opts.maxCache); err != nil || n <= 0 {
					return usagef(cmd, "--max-cache %q: want a size such as 20GiB", opts.maxCache)
				}
			}
			if opts.remote != "" {
				if cmd.Flags().Changed("grace") && opts.grace < repo.MinRemoteGrace {
					return usagef(cmd, "--grace %s: a remote gc's grace period is at least %s, longer than any push", opts.grace, repo.MinRemoteGrace)
				}
				return a.runRemoteGC(cmd.Context(), opts)
			}
			if cmd.Flags().Changed("grace") && opts.grace == 0 {
				opts.grace = -1 // GCOptions.Grace: 0 is the default, negative is none
			}
			return a.runGC(cmd.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.dryRun, "dry-run", "n", false, "report what would be deleted, delete nothing")
	f.DurationVar(&opts.grace, "grace", 0, "keep objects younger than `DURATION` (default "+repo.DefaultGrace.String()+"; with --remote "+repo.DefaultRemoteGrace.String()+")")
	f.StringVar(&opts.remote, "remote", "", "reclaim space on the remote `NAME` instead of here")
	f.StringVar(&opts.maxCache, "max-cache", "", "then evict file contents a remote holds, least recently used first, until the store is under `SIZE` (checkouts fetch them again)")
	return cmd
}

// gcJSON is the outcome of `art gc --json`.
type gcJSON struct {
	Live    int      `json:"live"`
	Garbage int      `json:"garbage"`
	Deleted int      `json:"deleted"`
	Young   int      `json:"young"`
	Bytes   int64    `json:"bytes"`
	DryRun  bool     `json:"dry_run"`
	Expired []string `json:"expired"` // versions retention deleted (would delete, with --dry-run)
	// file contents --max-cache evicted (would evict), and their bytes
	Evicted      int   `json:"evicted"`
	EvictedBytes int64 `json:"evicted_bytes"`
}

// nonNil returns xs, or an empty list for nil (JSON [] rather than null).
func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func (a *app) runGC(ctx context.Context, opts gcOptions, _ []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		var maxCache int64
		if opts.maxCache != "" {
			maxCache, _ = parseByteSize(opts.maxCache) // checked in RunE
		}
		rep, err := r.GC(ctx, &repo.GCOptions{DryRun: opts.dryRun, Grace: opts.grace, MaxCache: maxCache})
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(gcJSON{
				Live:         rep.Live,
				Garbage:      rep.Garbage,
				Deleted:      rep.Deleted,
				Young:        rep.Young,
				Bytes:        rep.Bytes,
				DryRun:       opts.dryRun,
				Expired:      nonNil(rep.Expired),
				Evicted:      rep.Evicted,
				EvictedBytes: rep.EvictedBytes,
			})
		}
		if len(rep.Expired) > 0 {
			verb := "deleted"
			if opts.dryRun {
				verb = "would delete"
			}
			a.printf("retention %s %s\n", verb, strings.Join(rep.Expired, ", "))
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
		if opts.maxCache != "" {
			verb := "evicted"
			if opts.dryRun {
				verb = "would evict"
			}
			a.printf("%s %s (%s) that a remote holds; checkouts fetch them again\n", verb,
				plural(int64(rep.Evicted), "file content"), formatBytes(rep.EvictedBytes))
		}
		return nil
	})
}

// remoteGCJSON is the outcome of `art gc --remote NAME --json`.
type remoteGCJSON struct {
	Remote         string   `json:"remote"`
	Step           string   `json:"step"` // marked, waiting, swept, dry-run
	SweepInSeconds float64  `json:"sweep_in_seconds"`
	Versions       int      `json:"versions"`
	LiveObjects    int      `json:"live_objects"`
	Packs          int      `json:"packs"`
	StoredBytes    int64    `json:"stored_bytes"`
	LiveBytes      int64    `json:"live_bytes"`
	Candidates     int      `json:"candidates"`
	CandidateBytes int64    `json:"candidate_bytes"`
	Rewritten      int      `json:"rewritten"`
	Expired        []string `json:"expired"`
	DeletedPacks   int      `json:"deleted_packs"`
	FreedBytes     int64    `json:"freed_bytes"`
}

func (a *app) runRemoteGC(ctx context.Context, opts gcOptions) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		rep, err := r.RemoteGC(ctx, opts.remote, &repo.RemoteGCOptions{DryRun: opts.dryRun, Grace: opts.grace})
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(remoteGCJSON{Remote: rep.Remote, Step: rep.Step, SweepInSeconds: rep.SweepIn.Seconds(),
				Versions: rep.Versions, LiveObjects: rep.LiveObjects, Packs: rep.Packs, StoredBytes: rep.StoredBytes,
				LiveBytes: rep.LiveBytes, Candidates: rep.Candidates, CandidateBytes: rep.CandidateBytes, Rewritten: rep.Rewritten,
				Expired:      nonNil(rep.Expired),
				DeletedPacks: rep.Deleted, FreedBytes: rep.FreedBytes})
		}
		if len(rep.Expired) > 0 {
			verb := "removed"
			if opts.dryRun {
				verb = "would remove"
			}
			a.printf("%s: retention %s %s\n", rep.Remote, verb, strings.Join(rep.Expired, ", "))
		}
		switch rep.Step {
		case "waiting":
			a.printf("%s: %s marked for deletion; the sweep is due in %s (run art gc --remote %s again then)\n",
				rep.Remote, plural(int64(rep.Candidates), "pack"), rep.SweepIn.Round(time.Second), rep.Remote)
			return nil
		case "swept":
			a.printf("%s: deleted %s (%s); ", rep.Remote, plural(int64(rep.Deleted), "pack"), formatBytes(rep.FreedBytes))
		case "dry-run":
			a.printf("%s: would mark %s (%s) for deletion; ", rep.Remote, plural(int64(rep.Candidates), "pack"), formatBytes(rep.CandidateBytes))
		default:
			a.printf("%s: marked %s (%s) for deletion", rep.Remote, plural(int64(rep.Candidates), "pack"), formatBytes(rep.CandidateBytes))
			if rep.Candidates > 0 {
				a.printf(", deleted by an art gc --remote %s after %s", rep.Remote, rep.SweepIn.Round(time.Second))
			}
			a.printf("; ")
		}
		a.printf("%s stored in %s, %s live in %s\n", formatBytes(rep.StoredBytes), plural(int64(rep.Packs), "pack"),
			formatBytes(rep.LiveBytes), plural(int64(rep.Versions), "version"))
		return nil
	})
}
