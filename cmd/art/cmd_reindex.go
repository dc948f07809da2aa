package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

func (a *app) newReindexCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the index (versions, aliases, runs, lineage) from the objects",
		Long: `Rebuild the SQLite index — artifacts, versions, aliases, runs and their
inputs and outputs — from the commit and run objects in the store and the ref
documents in .art/refs/. If index.db is lost or damaged, delete index.db,
index.db-wal and index.db-shm and run art reindex: art lineage, art log and
art show answer as before.

Runs still running have no object yet: reindex keeps those the current index
holds, so they are lost only with index.db.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runReindex(cmd.Context())
		},
	}
}

// reindexJSON is the outcome of `art reindex --json`.
type reindexJSON struct {
	Objects     int      `json:"objects"`
	Artifacts   int      `json:"artifacts"`
	Versions    int      `json:"versions"`
	Runs        int      `json:"runs"`
	Running     int      `json:"running"`
	Skipped     int      `json:"skipped"`
	UnknownRuns []string `json:"unknown_runs"`
	Damaged     []string `json:"damaged"`
	BadRefDocs  []string `json:"bad_ref_documents"`
}

func (a *app) runReindex(ctx context.Context) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		rep, err := r.Reindex(ctx)
		if err != nil {
			return err
		}
		if a.global.json {
			nonNil := func(s []string) []string {
				if s == nil {
					return []string{}
				}
				return s
			}
			return a.printJSON(reindexJSON{rep.Objects, rep.Artifacts, rep.Versions, rep.Runs, rep.Running,
				rep.Skipped, nonNil(rep.UnknownRuns), nonNil(rep.Damaged), nonNil(rep.BadRefDocs)})
		}
		a.printf("reindexed %s, %s and %s from %s",
			plural(int64(rep.Artifacts), "artifact"), plural(int64(rep.Versions), "version"),
			plural(int64(rep.Runs), "finished run"), plural(int64(rep.Objects), "object"))
		if rep.Running > 0 {
			a.printf("; kept %s still running", plural(int64(rep.Running), "run"))
		}
		a.printf("\n")
		if rep.Skipped > 0 {
			a.printf("skipped %s of deleted or never-recorded versions\n", plural(int64(rep.Skipped), "commit"))
		}
		if len(rep.UnknownRuns) > 0 {
			a.printf("versions name runs that no longer exist (they were running when the index was lost): %s\n", strings.Join(rep.UnknownRuns, ", "))
		}
		if len(rep.Damaged) > 0 {
			a.printf("could not read the content of %s; run `art fsck`\n", strings.Join(rep.Damaged, ", "))
		}
		if len(rep.BadRefDocs) > 0 {
			a.printf("ignored unreadable ref documents (aliases of those artifacts are lost): %s\n", strings.Join(rep.BadRefDocs, ", "))
		}
		return nil
	})
}
