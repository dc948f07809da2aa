package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
		if a.global.json {
			return a.printShowJSON(ctx, v)
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
		w := bufio.NewWriterSize(a.stdout, 64<<10)
		fmt.Fprintln(w, "\nmanifest:")
		err = v.WalkManifest(ctx, func(e repo.ManifestEntry) error {
			if e.IsRef() {
				_, err := fmt.Fprintf(w, "  %10s  %-12s  %s -> %s\n", formatBytes(e.Size), "ref", e.Path, e.Ref)
				return err
			}
			_, err := fmt.Fprintf(w, "  %10s  %s  %s\n", formatBytes(e.Size), e.Digest.Short(), e.Path)
			return err
		})
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		return err
	})
}

// printShowJSON prints `art show --json`: the version and its manifest,
// {..., "manifest": [...]}, exactly as printJSON would print the one
// struct, but streamed entry by entry, so that a version of millions of
// files is never held whole. Nothing is printed before the first entry,
// which comes after the version's trees were all measured (a missing or
// damaged tree, or a tree bomb, prints nothing but the error); an error
// found later (a split directory that is not what its index claims) cuts
// the document short, and the command fails with it.
func (a *app) printShowJSON(ctx context.Context, v repo.Version) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(newVersionJSON(v)); err != nil {
		return err
	}
	head := bytes.TrimSuffix(bytes.TrimRight(buf.Bytes(), "\n"), []byte("}"))
	head = append(bytes.TrimRight(head, "\n"), []byte(",\n  \"manifest\": [")...)
	w := bufio.NewWriterSize(a.stdout, 64<<10)
	n := 0
	enc = json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("    ", "  ")
	err := v.WalkManifest(ctx, func(e repo.ManifestEntry) error {
		if n == 0 {
			w.Write(head)
		} else {
			w.WriteString(",")
		}
		n++
		buf.Reset()
		if err := enc.Encode(newManifestEntryJSON(e)); err != nil {
			return err
		}
		w.WriteString("\n    ")
		_, err := w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
		return err
	})
	if err != nil {
		w.Flush()
		return err
	}
	if n == 0 {
		w.Write(head)
		w.WriteString("]\n}\n")
	} else {
		w.WriteString("\n  ]\n}\n")
	}
	return w.Flush()
}
