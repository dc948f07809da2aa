package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

func (a *app) newDuCommand() *cobra.Command {
	var remoteName string
	cmd := &cobra.Command{
		Use:   "du",
		Short: "Show the logical size of each artifact's versions against what they take in the store",
		Long: `Summarise the repository's disk use. For each artifact: how many versions,
their logical size (what checking out every version would write) and the
bytes of the distinct objects they use (equal files, shared directories and
the chunks large files share between versions are stored once). The total
line adds what the store holds on disk, and how much of it is garbage for
` + "`art gc`" + `.

With --remote NAME, the same for a remote: each artifact's versions and
logical size there, what the remote stores, what of it the listed versions
use, and the garbage ` + "`art gc --remote`" + ` can reclaim. Nothing is changed there.`,
		Example: "  art du\n  art du --remote origin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if remoteName != "" {
				return a.runDuRemote(cmd.Context(), remoteName)
			}
			return a.runDu(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&remoteName, "remote", "", "measure the remote `NAME` instead of this repository")
	return cmd
}

// duRemoteJSON is the outcome of `art du --remote NAME --json`.
type duRemoteJSON struct {
	Remote    string                 `json:"remote"`
	Artifacts []duRemoteArtifactJSON `json:"artifacts"`
	Logical   int64                  `json:"logical"`
	Stored    int64                  `json:"stored"`
	Live      int64                  `json:"live"`
	Garbage   int64                  `json:"garbage"`
	Packs     int                    `json:"packs"`
	Loose     int                    `json:"loose_objects"`
}

type duRemoteArtifactJSON struct {
	Name     string `json:"name"`
	Versions int    `json:"versions"`
	Logical  int64  `json:"logical"`
}

func (a *app) runDuRemote(ctx context.Context, remoteName string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		u, err := r.DiskUsageRemote(ctx, remoteName)
		if err != nil {
			return err
		}
		if a.global.json {
			out := duRemoteJSON{Remote: u.Remote, Logical: u.Logical, Stored: u.Stored, Live: u.Live,
				Garbage: u.Garbage, Packs: u.Packs, Loose: u.Loose,
				Artifacts: mapSlice(u.Artifacts, func(x repo.RemoteArtifactUsage) duRemoteArtifactJSON {
					return duRemoteArtifactJSON{Name: x.Name, Versions: x.Versions, Logical: x.Logical}
				})}
			if out.Artifacts == nil {
				out.Artifacts = []duRemoteArtifactJSON{}
			}
			return a.printJSON(out)
		}
		t := newTable(a.stdout, 2)
		t.row("NAME", "VERSIONS", "LOGICAL")
		versions := 0
		for _, x := range u.Artifacts {
			versions += x.Versions
			t.row(x.Name, fmt.Sprint(x.Versions), formatBytes(x.Logical))
		}
		t.row("total", fmt.Sprint(versions), formatBytes(u.Logical))
		if err := t.flush(); err != nil {
			return err
		}
		a.printf("%s: %s stored in %s, %s used by its versions, %s garbage for `art gc --remote %s`\n",
			u.Remote, formatBytes(u.Stored), plural(int64(u.Packs), "pack"), formatBytes(u.Live), formatBytes(u.Garbage), u.Remote)
		return nil
	})
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
