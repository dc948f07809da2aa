package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type fsckOptions struct {
	repair string
}

func (a *app) newFsckCommand() *cobra.Command {
	var opts fsckOptions
	cmd := &cobra.Command{
		Use:   "fsck",
		Short: "Check every object of the repository for damage",
		Long: `Read and hash every object of the repository and check that every version's
objects are present. Each damaged or missing object is listed with the
versions and paths it affects, and the exit status is 1.

With --repair REMOTE, damaged and missing objects are fetched again from the
remote (each verified before it is stored), and the repository is checked
once more.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runFsck(cmd.Context(), opts, args)
		},
	}
	cmd.Flags().StringVar(&opts.repair, "repair", "", "fetch damaged objects again from `REMOTE`")
	return cmd
}

// fsckJSON is the outcome of `art fsck --json`.
type fsckJSON struct {
	Objects  int               `json:"objects"`
	Bytes    int64             `json:"bytes"`
	Versions int               `json:"versions"`
	OK       bool              `json:"ok"`
	Problems []fsckProblemJSON `json:"problems"`
}

func (a *app) runFsck(ctx context.Context, opts fsckOptions, _ []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		progress, done := a.progress("checking")
		rep, err := r.Fsck(ctx, &repo.FsckOptions{Progress: progress})
		done()
		if err != nil && !errors.Is(err, repo.ErrDamaged) {
			return err
		}
		if opts.repair != "" && len(rep.Problems) > 0 {
			fixed, rerr := r.Repair(ctx, opts.repair, rep)
			if rerr != nil {
				return rerr
			}
			if !a.global.json {
				a.printf("repaired %s from %s\n", plural(int64(len(fixed.Repaired)), "object"), opts.repair)
				for _, f := range fixed.Failed {
					a.printf("  not repaired: %s\n", f)
				}
			}
			progress, done := a.progress("checking again")
			rep, err = r.Fsck(ctx, &repo.FsckOptions{Progress: progress})
			done()
			if err != nil && !errors.Is(err, repo.ErrDamaged) {
				return err
			}
		}
		if a.global.json {
			if perr := a.printJSON(fsckJSON{
				Objects:  rep.Objects,
				Bytes:    rep.Bytes,
				Versions: rep.Versions,
				OK:       len(rep.Problems) == 0,
				Problems: newFsckProblemsJSON(rep.Problems),
			}); perr != nil {
				return perr
			}
			return err
		}
		if !a.global.quiet {
			for _, p := range rep.Problems {
				fmt.Fprintf(a.stdout, "%s object %s: %s\n", p.Kind, p.ID, p.Detail)
				for _, af := range p.Affects {
					if af.Path == "" {
						fmt.Fprintf(a.stdout, "  affects %s\n", af.Version)
					} else {
						fmt.Fprintf(a.stdout, "  affects %s %s\n", af.Version, af.Path)
					}
				}
			}
		}
		if err != nil {
			return err
		}
		a.printf("ok: %s (%s) in %s checked\n", plural(int64(rep.Objects), "object"), formatBytes(rep.Bytes),
			plural(int64(rep.Versions), "version"))
		return nil
	})
}
