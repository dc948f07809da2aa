package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
)

type transferOptions struct {
	strategy string
	prune    bool
}

func (a *app) newPushCommand() *cobra.Command {
	var opts transferOptions
	cmd := &cobra.Command{
		Use:   "push [REMOTE] [NAME...]",
		Short: "Send artifacts' new versions, aliases and lineage to a remote",
		Long: `Send the versions of the named artifacts (all by default) that the remote
lacks: only the objects it does not have, chunks of large files included, in
parallel; an interrupted push resumes where it stopped. Then the remote's
ref document is moved by compare-and-swap, so concurrent pushes never lose a
version.

A push that would drop versions or alias moves the remote has is refused;
run art pull first, or choose a --strategy: new (pull, renumbering local
versions after the remote's, then push), skip (leave such artifacts alone),
replace (make the remote's list of versions this repository's).

REMOTE defaults to origin (or the only remote).`,
		Example: "  art push\n  art push origin bike-dataset",
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := repo.ParseStrategy(opts.strategy)
			if err != nil {
				return usagef(cmd, "%v", err)
			}
			return a.runPush(cmd.Context(), st, args)
		},
	}
	cmd.Flags().StringVar(&opts.strategy, "strategy", "error", "when the remote has versions this repository lacks: `error`, new, skip or replace")
	return cmd
}

// remoteAndNames splits REMOTE [NAME...]: the first argument is a remote
// if one by that name exists; otherwise every argument is a name and the
// default remote is used.
func remoteAndNames(ctx context.Context, r *repo.Repo, args []string) (string, []string, error) {
	if len(args) > 0 {
		rs, err := r.Remotes(ctx)
		if err != nil {
			return "", nil, err
		}
		for _, c := range rs {
			if c.Name == args[0] {
				return args[0], args[1:], nil
			}
		}
	}
	name, err := r.DefaultRemote(ctx)
	if err != nil {
		if len(args) > 0 {
			return "", nil, fmt.Errorf("%q is not a remote, and %w", args[0], err)
		}
		return "", nil, err
	}
	for _, n := range args {
		if strings.ContainsAny(n, ":@") {
			return "", nil, fmt.Errorf("%w: %q: push and pull take artifact names, not versions", repo.ErrInvalidArgument, n)
		}
	}
	return name, args, nil
}

func (a *app) runPush(ctx context.Context, st repo.Strategy, args []string) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		remoteName, names, err := remoteAndNames(ctx, r, args)
		if err != nil {
			return err
		}
		progress, done := a.transferProgress("pushing")
		res, err := r.Push(ctx, remoteName, names, &repo.PushOptions{Strategy: st, Progress: progress})
		done()
		if a.global.json && err == nil {
			return a.printJSON(newPushJSON(res))
		}
		for _, p := range res.Artifacts {
			if p.Pulled != nil {
				a.printPulled(remoteName, *p.Pulled)
			}
			switch {
			case p.Skipped != "":
				a.printf("%s: skipped: %s\n", p.Name, p.Skipped)
			case len(p.Versions) == 0:
				a.printf("%s: up to date on %s\n", p.Name, remoteName)
			default:
				a.printf("%s: pushed %s to %s\n", p.Name, strings.Join(p.Versions, ", "), remoteName)
			}
			if len(p.Replaced) > 0 {
				a.printf("%s: dropped %s from %s's list (--strategy replace)\n", p.Name, strings.Join(p.Replaced, ", "), remoteName)
			}
			if len(p.RemovedThere) > 0 {
				a.printf("%s: did not send %s: removed from %s (art rm --remote)\n", p.Name, strings.Join(p.RemovedThere, ", "), remoteName)
			}
		}
		if res.Objects > 0 {
			a.printf("sent %s (%s)\n", plural(res.Objects, "object"), formatBytes(res.Bytes))
		}
		return err
	})
}

func (a *app) newPullCommand() *cobra.Command {
	var opts transferOptions
	cmd := &cobra.Command{
		Use:   "pull [REMOTE] [NAME...]",
		Short: "Bring artifacts' versions, files, aliases and lineage from a remote",
		Long: `Bring the versions of the named artifacts (all on the remote by default) that
this repository lacks, with their files (only the chunks missing here),
aliases and lineage. Every object is verified before it is stored.

Local versions that the remote's took the numbers of are renumbered after
the remote's (the output says how), so a later push is a fast-forward.
--strategy error refuses instead, skip leaves such remote versions out,
replace deletes the local ones.

REMOTE defaults to origin (or the only remote).`,
		Example: "  art pull\n  art pull origin bike-dataset",
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := repo.ParseStrategy(opts.strategy)
			if err != nil {
				return usagef(cmd, "%v", err)
			}
			return a.runPull(cmd.Context(), st, opts.prune, args, true)
		},
	}
	cmd.Flags().StringVar(&opts.strategy, "strategy", "new", "for local versions whose numbers the remote took: `new`, error, skip or replace")
	cmd.Flags().BoolVar(&opts.prune, "prune", false, "remove here the versions removed from the remote (art rm --remote), aliases and all")
	return cmd
}

func (a *app) newFetchCommand() *cobra.Command {
	var opts transferOptions
	cmd := &cobra.Command{
		Use:   "fetch [REMOTE] [NAME...]",
		Short: "Bring versions, aliases and lineage from a remote, but not files",
		Long: `Like art pull, without file contents: versions, aliases and lineage arrive
(with commits and directory trees), and art checkout later fetches just the
files it writes.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := repo.ParseStrategy(opts.strategy)
			if err != nil {
				return usagef(cmd, "%v", err)
			}
			return a.runPull(cmd.Context(), st, opts.prune, args, false)
		},
	}
	cmd.Flags().StringVar(&opts.strategy, "strategy", "new", "for local versions whose numbers the remote took: `new`, error, skip or replace")
	cmd.Flags().BoolVar(&opts.prune, "prune", false, "remove here the versions removed from the remote (art rm --remote), aliases and all")
	return cmd
}

func (a *app) runPull(ctx context.Context, st repo.Strategy, prune bool, args []string, blobs bool) error {
	return a.withRepo(ctx, func(r *repo.Repo) error {
		remoteName, names, err := remoteAndNames(ctx, r, args)
		if err != nil {
			return err
		}
		verb := "pulling"
		if !blobs {
			verb = "fetching"
		}
		progress, done := a.transferProgress(verb)
		opts := &repo.PullOptions{Strategy: st, Prune: prune, Progress: progress}
		var res repo.PullResult
		if blobs {
			res, err = r.Pull(ctx, remoteName, names, opts)
		} else {
			res, err = r.Fetch(ctx, remoteName, names, opts)
		}
		done()
		if a.global.json && err == nil {
			return a.printJSON(newPullJSON(res))
		}
		for _, p := range res.Artifacts {
			a.printPulled(remoteName, p)
		}
		if res.Objects > 0 {
			a.printf("received %s (%s)\n", plural(res.Objects, "object"), formatBytes(res.Bytes))
		}
		return err
	})
}

func (a *app) printPulled(remoteName string, p repo.Pulled) {
	if len(p.Versions) == 0 && len(p.Renumbered) == 0 {
		a.printf("%s: up to date with %s\n", p.Name, remoteName)
	} else if len(p.Versions) > 0 {
		a.printf("%s: added %s from %s\n", p.Name, strings.Join(p.Versions, ", "), remoteName)
	}
	for _, rn := range p.Renumbered {
		a.printf("%s: your %s:%s is now %s:%s (the remote's %s came first); push to publish it\n",
			p.Name, p.Name, rn.From, p.Name, rn.To, rn.From)
	}
	if len(p.Skipped) > 0 {
		a.printf("%s: did not take %s\n", p.Name, strings.Join(p.Skipped, ", "))
	}
	if len(p.Replaced) > 0 {
		a.printf("%s: deleted your %s for the remote's (--strategy replace)\n", p.Name, strings.Join(p.Replaced, ", "))
	}
	for _, c := range p.Conflicts {
		a.printf("%s: alias %s: the remote moved it to %s, you to %s; yours is kept (push to publish it)\n",
			p.Name, c.Alias, c.Remote, c.Local)
	}
	if kept := without(p.RemovedThere, p.Pruned); len(kept) > 0 {
		a.printf("%s: %s removed from %s; kept here (`art pull --prune` removes them)\n", p.Name, strings.Join(kept, ", "), remoteName)
	}
	if len(p.Pruned) > 0 {
		a.printf("%s: removed %s here, as %s did\n", p.Name, strings.Join(p.Pruned, ", "), remoteName)
	}
}

// without returns the strings of xs not in ys, in order.
func without(xs, ys []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(ys, x) {
			out = append(out, x)
		}
	}
	return out
}
