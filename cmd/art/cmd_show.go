package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type showOptions struct{}

func (a *app) newShowCommand() *cobra.Command {
	var opts showOptions
	return &cobra.Command{
		Use:   "show REF",
		Short: "Show a version and its manifest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runShow(cmd.Context(), opts, args)
		},
	}
}

func (a *app) runShow(ctx context.Context, _ showOptions, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		v, err := r.Resolve(ctx, args[0])
		if err != nil {
			return err
		}
		m, err := v.Manifest(ctx)
		if err != nil {
			return err
		}
		if a.global.json {
			return a.printJSON(struct {
				versionJSON
				Manifest []manifestEntryJSON `json:"manifest"` // sorted by path
			}{newVersionJSON(v), newManifestJSON(m)})
		}
		producer := v.Producer
		if producer == "" {
			producer = "-"
		} else if run, err := r.Run(ctx, v.Producer); err == nil {
			producer = runSummary(run)
		}
		meta := string(v.Metadata)
		if meta == "" {
			meta = "{}"
		}
		t := newTable(a.stdout, 1)
		for _, kv := range [][2]string{
			{"name", v.Name},
			{"version", versionString(v.Version.Version)},
			{"type", v.Type},
			{"id", v.Version.Commit.String()},
			{"digest", v.Tree.String()},
			{"size", fmt.Sprintf("%s (%d bytes)", formatBytes(v.Size), v.Size)},
			{"added", formatAdded(v) + " (new bytes in the store; the rest was already there)"},
			{"files", fmt.Sprint(v.Files)},
			{"aliases", strings.Join(v.Aliases, ", ")},
			{"created", v.Created.Local().Format(time.RFC3339)},
			{"producer", producer},
			{"description", v.Description},
			{"metadata", meta},
		} {
			t.row(kv[0]+":", kv[1])
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "\nmanifest:")
		for _, e := range m {
			if e.IsRef() {
				fmt.Fprintf(a.stdout, "  %10s  %-12s  %s -> %s\n", formatBytes(e.Size), "ref", e.Path, e.Ref)
				continue
			}
			fmt.Fprintf(a.stdout, "  %10s  %s  %s\n", formatBytes(e.Size), e.Digest.Short(), e.Path)
		}
		return nil
	})
}
