package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type logOptions struct{}

func (a *app) newLogCommand() *cobra.Command {
	var opts logOptions
	return &cobra.Command{
		Use:   "log NAME",
		Short: "List the versions of an artifact, newest first, with the run that made each",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runLog(cmd.Context(), opts, args)
		},
	}
}

func (a *app) runLog(ctx context.Context, _ logOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		vs, err := r.Versions(ctx, args[0])
		if err != nil {
			return err
		}
		if a.global.json {
			out := make([]versionJSON, len(vs))
			for i, v := range vs {
				out[i] = newVersionJSON(v)
			}
			return a.printJSON(out)
		}
		// Which run made each version, looked up once per run.
		producers := map[string]string{}
		for _, v := range vs {
			if v.Producer == "" {
				continue
			}
			if _, ok := producers[v.Producer]; !ok {
				producers[v.Producer] = "run " + v.Producer
				if run, err := r.Run(ctx, v.Producer); err == nil {
					producers[v.Producer] = "by " + run.JobType + " run " + run.ID
				}
			}
		}
		t := newTable(a.stdout, 2)
		for _, v := range vs {
			t.row(versionString(v.Version.Version), v.Version.Commit.Short(), formatTime(v.Created),
				plural(v.Files, "file"), formatBytes(v.Size), formatAdded(v), formatAliases(v.Aliases), producers[v.Producer],
				oneLine(v.Description))
		}
		return t.flush()
	})
}
