package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

func (a *app) newDuCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "du",
		Short: "Show the logical size of each artifact's versions against what they take in the store",
		Long: `Summarise the repository's disk use. For each artifact: how many versions,
their logical size (what checking out every version would write) and the
bytes of the distinct objects they use (equal files, shared directories and
the chunks large files share between versions are stored once). The total
line adds what the store holds on disk, and how much of it is garbage for
` + "`art gc`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDu(cmd.Context())
		},
	}
}

func (a *app) runDu(ctx context.Context) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		u, err := r.DiskUsage(ctx)
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(newDuJSON(u))
		}
		t := newTable(a.stdout, 2)
		t.row("NAME", "VERSIONS", "LOGICAL", "STORED", "SAVED")
		versions := 0
		for _, x := range u.Artifacts {
			versions += x.Versions
			t.row(x.Name, fmt.Sprint(x.Versions), formatBytes(x.Logical), formatBytes(x.Stored), saved(x.Logical, x.Stored))
		}
		t.row("total", fmt.Sprint(versions), formatBytes(u.Logical), formatBytes(u.Stored), saved(u.Logical, u.Stored))
		if err := t.flush(); err != nil {
			return err
		}
		a.printf("store: %s on disk in %s (%d chunked), %s of it garbage for `art gc`\n",
			formatBytes(u.OnDisk), plural(int64(u.Objects), "object"), u.Chunked, formatBytes(u.Garbage))
		return nil
	})
}

// saved formats how much smaller stored is than logical, as a percentage.
func saved(logical, stored int64) string {
	if logical <= 0 || stored >= logical {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(logical-stored)/float64(logical))
}
