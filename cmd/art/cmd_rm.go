package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type rmOptions struct {
	force  bool
	remote string
}

func (a *app) newRmCommand() *cobra.Command {
	var opts rmOptions
	cmd := &cobra.Command{
		Use:   "rm REF",
		Short: "Delete a version (its number is never reused; `art gc` frees its objects)",
		Long: `Delete a version here. Its number is never reused, and art gc frees its
objects once nothing else uses them.

With --remote NAME the version is removed from that remote's list instead
(by compare-and-swap, safe while others push), and this repository is left
as it is: no push sends the version back, and a later art pull reports it
(art pull --prune removes it here too).`,
		Example: "  art rm bike-dataset:v3\n  art rm bike-dataset:v3 --remote origin",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runRm(cmd.Context(), opts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.force, "force", false, "delete the version even if aliases point at it (they go with it)")
	cmd.Flags().StringVar(&opts.remote, "remote", "", "remove the version from the remote `NAME`'s list, not here")
	return cmd
}

func (a *app) runRm(ctx context.Context, opts rmOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		if opts.remote != "" {
			d, err := r.DeleteOnRemote(ctx, opts.remote, args[0], opts.force)
			if err != nil {
				return err
			}
			if a.global.json {
				return a.printJSON(newRemoteRmJSON(d))
			}
			a.printf("removed %s (id %s) from %s; no push sends it back, and `art pull --prune` removes it elsewhere\n",
				d.Ref(), d.Commit.Short(), d.Remote)
			return nil
		}
		v, err := r.Delete(ctx, args[0], opts.force)
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(newVersionJSON(v))
		}
		a.printf("deleted %s (id %s); `art gc` removes its objects once no version uses them\n", v.Ref(), v.Version.Commit.Short())
		return nil
	})
}
