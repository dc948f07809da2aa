package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type lsOptions struct{}

func (a *app) newLsCommand() *cobra.Command {
	var opts lsOptions
	return &cobra.Command{
		Use:   "ls",
		Short: "List the artifacts, their latest version and aliases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runLs(cmd.Context(), opts, args)
		},
	}
}

// artifactJSON is an artifact in `art ls --json`.
type artifactJSON struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Latest   *string           `json:"latest"` // "vN", null when every version was deleted
	Versions int64             `json:"versions"`
	Aliases  map[string]string `json:"aliases"` // alias -> "vN"; "latest" is not listed
}

func (a *app) runLs(ctx context.Context, _ lsOptions, _ []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		arts, err := r.Artifacts(ctx)
		if err != nil {
			return err
		}
		if a.global.json {
			out := make([]artifactJSON, len(arts))
			for i, art := range arts {
				out[i] = artifactJSON{Name: art.Name, Type: art.Type, Versions: art.Versions, Aliases: map[string]string{}}
				if art.Latest >= 0 {
					l := versionString(art.Latest)
					out[i].Latest = &l
				}
				for al, n := range art.Aliases {
					out[i].Aliases[al] = versionString(n)
				}
			}
			return a.printJSON(out)
		}
		if len(arts) == 0 {
			if !a.global.quiet {
				fmt.Fprintln(a.stderr, "no artifacts yet; create one with `art commit NAME PATH`")
			}
			return nil
		}
		t := newTable(a.stdout, 2)
		t.row("NAME", "TYPE", "LATEST", "VERSIONS", "ALIASES")
		for _, art := range arts {
			latest := "-"
			if art.Latest >= 0 {
				latest = versionString(art.Latest)
			}
			names := make([]string, 0, len(art.Aliases))
			for al := range art.Aliases {
				names = append(names, al)
			}
			sort.Strings(names)
			for i, al := range names {
				names[i] = al + ":" + versionString(art.Aliases[al])
			}
			t.row(art.Name, art.Type, latest, fmt.Sprint(art.Versions), strings.Join(names, ", "))
		}
		return t.flush()
	})
}
