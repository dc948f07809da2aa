package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type aliasOptions struct{}

func (a *app) newAliasCommand() *cobra.Command {
	var opts aliasOptions
	cmd := &cobra.Command{
		Use:   "alias",
		Short: "Add or remove aliases (movable names for versions, like best or prod)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "add REF ALIAS",
		Short: "Point ALIAS at the version REF, moving it from another version if needed",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runAliasAdd(cmd.Context(), opts, args)
		},
	}, &cobra.Command{
		Use:   "rm NAME ALIAS",
		Short: "Remove ALIAS from the artifact NAME",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runAliasRm(cmd.Context(), opts, args)
		},
	})
	return cmd
}

// aliasJSON is the outcome of `art alias add --json`.
type aliasJSON struct {
	Name     string  `json:"name"`
	Alias    string  `json:"alias"`
	Version  string  `json:"version"`  // the version it now names
	Previous *string `json:"previous"` // the version it named before, or null
}

func (a *app) runAliasAdd(ctx context.Context, _ aliasOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		alias := args[1]
		v, prev, err := r.AddAlias(ctx, args[0], alias)
		if err != nil {
			return err
		}
		if a.global.json {
			out := aliasJSON{Name: v.Name, Alias: alias, Version: versionString(v.Version.Version)}
			if prev >= 0 {
				p := versionString(prev)
				out.Previous = &p
			}
			return a.printJSON(out)
		}
		switch {
		case prev < 0:
			a.printf("%s:%s -> %s\n", v.Name, alias, v.Ref())
		case prev == v.Version.Version:
			a.printf("%s:%s -> %s (unchanged)\n", v.Name, alias, v.Ref())
		default:
			a.printf("%s:%s -> %s (moved from %s)\n", v.Name, alias, v.Ref(), versionString(prev))
		}
		return nil
	})
}

func (a *app) runAliasRm(ctx context.Context, _ aliasOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		if err := r.RemoveAlias(ctx, args[0], args[1]); err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(map[string]string{"name": args[0], "alias": args[1]})
		}
		a.printf("removed alias %s:%s\n", args[0], args[1])
		return nil
	})
}
