package main

import (
	"context"
	"path/filepath"

	"github.com/spf13/afero"
	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type initOptions struct {
	noChunking bool
}

func (a *app) newInitCommand() *cobra.Command {
	var opts initOptions
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create an empty repository in DIR/.art (default: --repo, else the working directory)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runInit(cmd.Context(), opts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.noChunking, "no-chunking", false,
		"store every file whole (by default files of 8 MiB and more are stored as content-defined chunks, deduplicated between versions)")
	return cmd
}

func (a *app) runInit(ctx context.Context, opts initOptions, args []string) error {
	path := filepath.Join(a.wd, repo.DirName)
	switch {
	case len(args) == 1:
		path = filepath.Join(a.abs(args[0]), repo.DirName)
	case a.global.repo != "":
		// --repo names the .art directory or the directory to hold it.
		path = a.abs(a.global.repo)
		if filepath.Base(path) != repo.DirName {
			path = filepath.Join(path, repo.DirName)
		}
	}
	var ropts repo.Options
	if opts.noChunking {
		ropts.Chunking = &repo.Chunking{}
	}
	r, err := repo.Init(ctx, afero.NewOsFs(), path, &ropts)
	if err != nil {
		return err
	}
	if err := r.Close(); err != nil {
		return err
	}
	if a.global.json {
		return a.printJSON(map[string]string{"path": path})
	}
	a.printf("initialized empty art repository in %s\n", path)
	return nil
}
