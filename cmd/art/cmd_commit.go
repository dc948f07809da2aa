package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type commitOptions struct {
	typ         string
	description string
	aliases     []string
	meta        []string
	refs        []string

	metadata map[string]any // parsed from meta
}

func (a *app) newCommitCommand() *cobra.Command {
	var opts commitOptions
	cmd := &cobra.Command{
		Use:   "commit NAME PATH[=DEST]... [--ref URI[=DEST]]...",
		Short: "Record files and directories as the next version of an artifact",
		Long: `Record files and directories as the next version of the artifact NAME.

A file PATH is stored under its base name, or at DEST (a DEST ending in "/"
is a directory to put it in). A directory PATH has its contents stored at the
artifact's root, or under DEST/. A PATH that exists as given is used as it
is; otherwise it is split at its last '='.

--ref records a reference to content outside the repository (its checksum
for file:// URIs) without copying it; URI=DEST is split at the last '=', so
a URI holding '=' needs an explicit =DEST.

--meta KEY=VALUE sets a metadata field; VALUE is parsed as JSON if it is
JSON (numbers, true, objects, "quoted strings"), else taken as a string.

If the content equals an existing version's, nothing new is created: that
version gets the aliases, and art says "unchanged".

With ART_RUN_ID set (see art run start), the run is recorded as the version's
producer; a run that has finished is refused.`,
		Example: `  art commit bike-dataset data/ -m "April export" -a best
  art commit resnet checkpoints/model.h5=models/ -t model --meta epochs=12`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 && len(opts.refs) == 0 {
				return usagef(cmd, "give at least one PATH or --ref to commit")
			}
			var err error
			if opts.metadata, err = parseMeta(opts.meta); err != nil {
				return &usageError{cmd: cmd, err: err}
			}
			return a.runCommit(cmd.Context(), opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.typ, "type", "t", "dataset", "artifact `TYPE`, fixed by the first version (dataset, model, result, ...)")
	f.StringVarP(&opts.description, "message", "m", "", "describe the version (`DESCRIPTION`)")
	f.StringArrayVarP(&opts.aliases, "alias", "a", nil, "point `ALIAS` at the version (repeatable)")
	f.StringArrayVar(&opts.meta, "meta", nil, "metadata `KEY=VALUE` (repeatable)")
	f.StringArrayVar(&opts.refs, "ref", nil, "add a reference `URI[=DEST]` (repeatable)")
	return cmd
}

func (a *app) runCommit(ctx context.Context, opts commitOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		art := r.NewArtifact(args[0], opts.typ)
		art.Description = opts.description
		art.Metadata = opts.metadata
		for _, arg := range args[1:] {
			src, dest := a.splitSource(arg)
			if strings.HasSuffix(arg, "=") && !exists(a.abs(arg)) {
				return fmt.Errorf("commit %s: nothing after '='; give PATH=DEST, or just PATH for its own name", arg)
			}
			fi, err := os.Stat(src)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("commit: %s: no such file or directory", arg)
			}
			if err != nil {
				return fmt.Errorf("commit %s: %w", arg, err)
			}
			if fi.IsDir() {
				err = art.AddDir(src, dest)
			} else {
				err = art.AddFile(src, dest)
			}
			if err != nil {
				return fmt.Errorf("commit %s: %w", arg, err)
			}
		}
		for _, arg := range opts.refs {
			uri, dest := arg, ""
			if i := strings.LastIndexByte(arg, '='); i >= 0 {
				uri, dest = arg[:i], arg[i+1:]
				if dest == "" {
					return fmt.Errorf("commit --ref %s: nothing after '='; give URI=DEST, or just URI", arg)
				}
			}
			if err := art.AddReference(ctx, uri, dest); err != nil {
				return fmt.Errorf("commit --ref %s: %w", arg, err)
			}
		}

		run, err := a.currentRun(ctx, r)
		if err != nil {
			return err
		}
		progress, done := a.progress("storing")
		logOpts := &repo.LogOptions{Aliases: opts.aliases, Progress: progress}
		var v repo.Version
		var created bool
		if run != nil {
			v, created, err = run.LogArtifact(ctx, art, logOpts)
			if isRunError(err) {
				err = runEnvError(err)
			}
		} else {
			v, created, err = r.Log(ctx, art, logOpts)
		}
		done()
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(struct {
				versionJSON
				Created bool `json:"created"`
			}{newVersionJSON(v), created})
		}
		if !created {
			a.printf("unchanged: %s\n", v.Ref())
			return nil
		}
		a.printf("created %s (%s, %s) id %s\n", v.Ref(), plural(v.Files, "file"), formatBytes(v.Size), v.Version.Commit.Short())
		return nil
	})
}

// splitSource splits a PATH[=DEST] argument into the absolute local path
// and the destination in the artifact. An argument that exists as a path is
// all path; otherwise it is split at its last '='.
func (a *app) splitSource(arg string) (src, dest string) {
	if exists(a.abs(arg)) {
		return a.abs(arg), ""
	}
	if i := strings.LastIndexByte(arg, '='); i > 0 {
		return a.abs(arg[:i]), arg[i+1:]
	}
	return a.abs(arg), ""
}

// parseMeta turns KEY=VALUE pairs into a metadata object. A VALUE that is
// valid JSON is decoded (numbers keep their exact digits); any other VALUE
// is a string.
func parseMeta(pairs []string) (map[string]any, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	meta := make(map[string]any, len(pairs))
	for _, kv := range pairs {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--meta %q: want KEY=VALUE", kv)
		}
		meta[key] = val
		if json.Valid([]byte(val)) {
			dec := json.NewDecoder(bytes.NewReader([]byte(val)))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err == nil {
				meta[key] = v
			}
		}
	}
	return meta, nil
}
