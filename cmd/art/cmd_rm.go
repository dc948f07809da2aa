package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type rmOptions struct {
	force bool
}

func (a *app) newRmCommand() *cobra.Command {
	var opts rmOptions
	cmd := &cobra.Command{
		Use:   "rm REF",
		Short: "Delete a version (its number is never reused; `art gc` frees its objects)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runRm(cmd.Context(), opts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.force, "force", false, "delete the version even if aliases point at it (they go with it)")
	return cmd
}

func (a *app) runRm(ctx context.Context, opts rmOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
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
