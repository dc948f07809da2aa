package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type checkoutOptions struct {
	output string
	path   string
	force  bool
}

func (a *app) newCheckoutCommand() *cobra.Command {
	var opts checkoutOptions
	cmd := &cobra.Command{
		Use:   "checkout REF",
		Short: "Materialise a version into a directory",
		Long: `Materialise the version REF (NAME, NAME:vN, NAME:ALIAS, NAME@IDPREFIX) into
./NAME, or the directory given by -o.

Files already right are left alone; switching a directory to another version
updates it in place, removing files the new version lacks. Files changed
since the last checkout are never overwritten or removed without --force.

With ART_RUN_ID set (see art run start), the version is recorded as an input
of the run; a run that has finished is refused before anything is written.`,
		Example: `  art checkout bike-dataset:latest
  art checkout resnet:best -o model --path weights/model.h5`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCheckout(cmd.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.output, "output", "o", "", "check out into `DIR` (default: ./NAME)")
	f.StringVar(&opts.path, "path", "", "check out only the file or directory `P` of the version")
	f.BoolVar(&opts.force, "force", false, "overwrite and remove files changed since the last checkout")
	return cmd
}

// checkoutJSON is the outcome of `art checkout --json`.
type checkoutJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"` // absolute
	Files   int    `json:"files"`
	Written int    `json:"written"`
	Skipped int    `json:"skipped"`
	Removed int    `json:"removed"`
}

func (a *app) runCheckout(ctx context.Context, opts checkoutOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		v, err := r.Resolve(ctx, args[0])
		if err != nil {
			return err
		}
		dir := opts.output
		if dir == "" {
			dir = v.DefaultDir()
		}
		run, err := a.currentRun(ctx, r)
		if err != nil {
			return err
		}
		progress, done := a.progress("checking out")
		coOpts := &repo.CheckoutOptions{Path: opts.path, Force: opts.force, Progress: progress}
		var res repo.CheckoutResult
		if run != nil {
			res, err = run.Download(ctx, v, a.abs(dir), coOpts)
			if isRunError(err) {
				err = runEnvError(err)
			}
		} else {
			res, err = v.Download(ctx, a.abs(dir), coOpts)
		}
		done()
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(checkoutJSON{
				Name:    res.Version.Name,
				Version: versionString(res.Version.Version.Version),
				Path:    res.Dir,
				Files:   res.Files,
				Written: res.Written,
				Skipped: res.Skipped,
				Removed: res.Removed,
			})
		}
		a.printf("checked out %s to %s (%s: %d written, %d skipped, %d removed)\n",
			res.Version.Ref(), dir, plural(int64(res.Files), "file"), res.Written, res.Skipped, res.Removed)
		if res.Refs > 0 {
			a.printf("%s to remote URIs listed in the manifest (`art show %s`), not downloaded\n",
				plural(int64(res.Refs), "reference"), res.Version.Ref())
		}
		return nil
	})
}
