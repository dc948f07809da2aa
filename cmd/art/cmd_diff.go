package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type diffOptions struct{}

func (a *app) newDiffCommand() *cobra.Command {
	var opts diffOptions
	return &cobra.Command{
		Use:   "diff REF REF",
		Short: "List the files added (+), removed (-) and modified (M) from one version to another",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDiff(cmd.Context(), opts, args)
		},
	}
}

func (a *app) runDiff(ctx context.Context, _ diffOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		changes, err := r.Diff(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(newChangesJSON(changes))
		}
		for _, c := range changes {
			op := "M"
			switch c.Op {
			case "added":
				op = "+"
			case "removed":
				op = "-"
			}
			fmt.Fprintf(a.stdout, "%s %s\n", op, c.Path)
		}
		return nil
	})
}
