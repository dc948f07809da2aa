package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type lineageOptions struct {
	up, down bool
	depth    int
	format   string
}

func (a *app) newLineageCommand() *cobra.Command {
	var opts lineageOptions
	cmd := &cobra.Command{
		Use:   "lineage REF [--up|--down] [--depth N] [--format text|json|dot|mermaid]",
		Short: "Show what a version was made from and what used it",
		Long: `Show the lineage of the version REF: upstream (--up), the runs that logged it,
the versions they used, the runs that logged those, and so on; downstream
(--down), the runs that used it, the versions they logged, and so on; both
when neither is given. --depth counts runs (default 10).

--format text draws a tree; json is {"nodes": [...], "edges": [{"from", "to"}]}
(also --json); dot is Graphviz (art lineage REF --format dot | dot -Tsvg > g.svg);
mermaid is a Mermaid flowchart.`,
		Example: `  art lineage model:latest --up
  art lineage raw-data --down --format mermaid
  art lineage model:prod --format dot | dot -Tsvg > lineage.svg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.depth < 1 {
				return usagef(cmd, "--depth %d: want 1 or more", opts.depth)
			}
			if a.global.json {
				if cmd.Flags().Changed("format") && opts.format != "json" {
					return usagef(cmd, "--json and --format %s disagree; give one", opts.format)
				}
				opts.format = "json"
			}
			switch opts.format {
			case "text", "json", "dot", "mermaid":
			default:
				return usagef(cmd, "--format %q: want text, json, dot or mermaid", opts.format)
			}
			return a.runLineage(cmd.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.up, "up", false, "upstream only: what the version was made from")
	f.BoolVar(&opts.down, "down", false, "downstream only: what used the version")
	f.IntVar(&opts.depth, "depth", repo.DefaultLineageDepth, "walk at most `N` runs away")
	f.StringVar(&opts.format, "format", "text", "output `FORMAT`: text, json, dot or mermaid")
	return cmd
}

func (a *app) runLineage(ctx context.Context, opts lineageOptions, args []string) error {
	dir := repo.BothWays
	switch {
	case opts.up && !opts.down:
		dir = repo.Upstream
	case opts.down && !opts.up:
		dir = repo.Downstream
	}
	return a.withRepo(ctx, func(r *repo.Repo) error {
		g, err := r.Lineage(ctx, args[0], dir, opts.depth)
		if err != nil {
			return err
		}
		switch opts.format {
		case "json":
			return g.WriteJSON(a.stdout)
		case "dot":
			return g.WriteDot(a.stdout)
		case "mermaid":
			return g.WriteMermaid(a.stdout)
		}
		return g.WriteText(a.stdout)
	})
}
