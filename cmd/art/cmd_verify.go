package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type verifyOptions struct{}

func (a *app) newVerifyCommand() *cobra.Command {
	var opts verifyOptions
	return &cobra.Command{
		Use:   "verify REF DIR",
		Short: "Check that DIR holds exactly the files of the version REF",
		Long: `Check that DIR holds exactly the files of the version REF, hashing each one.
Every missing, modified or extra file is listed, and the exit status is 1.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runVerify(cmd.Context(), opts, args)
		},
	}
}

// verifyJSON is the outcome of `art verify --json`.
type verifyJSON struct {
	Name     string              `json:"name"`
	Version  string              `json:"version"`
	Path     string              `json:"path"`
	Files    int                 `json:"files"`
	OK       bool                `json:"ok"`
	Problems []verifyProblemJSON `json:"problems"`
}

func (a *app) runVerify(ctx context.Context, _ verifyOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		res, err := r.Verify(ctx, args[0], a.abs(args[1]))
		if err != nil && !errors.Is(err, repo.ErrVerifyFailed) {
			return err
		}
		if a.global.json {
			if perr := a.printJSON(verifyJSON{
				Name:     res.Version.Name,
				Version:  versionString(res.Version.Version.Version),
				Path:     res.Dir,
				Files:    res.Files,
				OK:       len(res.Problems) == 0,
				Problems: newVerifyProblemsJSON(res.Problems),
			}); perr != nil {
				return perr
			}
			return err
		}
		if !a.global.quiet {
			for _, p := range res.Problems {
				fmt.Fprintf(a.stdout, "%-9s %s\n", p.Problem, p.Path)
			}
		}
		if err != nil {
			return err
		}
		a.printf("ok: %s matches %s (%s)\n", res.Version.Ref(), args[1], plural(int64(res.Files), "file"))
		return nil
	})
}
