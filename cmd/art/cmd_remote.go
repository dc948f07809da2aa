package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

func (a *app) newRemoteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remote",
		Short: "Manage the remotes this repository pushes to and pulls from",
		Long: `A remote is a directory, an S3 bucket (s3://bucket/prefix; credentials,
region and endpoint come from the standard AWS environment variables and
config files, AWS_ENDPOINT_URL for MinIO and other S3-compatible stores) or
an ` + "`art serve`" + ` (http://host:port; the token comes from ART_TOKEN).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "add NAME URL",
		Short:   "Add a remote",
		Example: "  art remote add origin s3://ml-artifacts/team\n  art remote add backup /mnt/nas/art\n  art remote add lab http://10.0.0.5:8080",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRepo(cmd.Context(), func(r *repo.Repo) error {
				if err := r.AddRemote(cmd.Context(), args[0], args[1]); err != nil {
					return &remoteArgError{name: args[0], err: err}
				}
				if a.global.json {
					return a.printJSON(map[string]string{"name": args[0], "url": args[1]})
				}
				a.printf("added remote %s: %s\n", args[0], args[1])
				return nil
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Forget a remote (nothing on it is touched)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRepo(cmd.Context(), func(r *repo.Repo) error {
				if err := r.RemoveRemote(cmd.Context(), args[0]); err != nil {
					return err
				}
				if a.global.json {
					return a.printJSON(map[string]string{"removed": args[0]})
				}
				a.printf("removed remote %s\n", args[0])
				return nil
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the remotes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runRemoteLs(cmd.Context())
		},
	})
	return cmd
}

func (a *app) runRemoteLs(ctx context.Context) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		rs, err := r.Remotes(ctx)
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(newRemotesJSON(rs))
		}
		t := newTable(a.stdout, 2)
		for _, c := range rs {
			t.row(c.Name, c.URL)
		}
		return t.flush()
	})
}
