package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/artvcs/art/repo"
)

// TestHints: the advice printError adds is chosen by the error's sentinel
// or type, as repo returns them (facts only), and names what the error
// carries.
func TestHints(t *testing.T) {
	t.Parallel()
	corrupt := fmt.Errorf("%w: x", repo.ErrCorrupt)
	for _, tc := range []struct {
		err  error
		want string // the whole line printed
	}{
		{fmt.Errorf("push ds to origin: %w", &repo.NotFastForwardError{Remote: "origin", Name: "ds", Reason: "the remote has v2 of ds"}),
			"push ds to origin: remote has changes this repository does not have: the remote has v2 of ds; run `art pull origin ds` first (or push --strategy new)"},
		{fmt.Errorf("%w: the remote has v2 of ds", repo.ErrNotFastForward), // after --strategy new gave up
			"remote has changes this repository does not have: the remote has v2 of ds"},
		{&repo.UnreadableError{Op: "gc", Kind: "tree", Err: corrupt},
			"gc: cannot read tree 0000000000000000000000000000000000000000000000000000000000000000 (object corrupt: x); run `art fsck` and repair before collecting garbage"},
		{&repo.UnreadableError{Op: "du", Kind: "chunk list", Err: corrupt},
			"du: cannot read chunk list 0000000000000000000000000000000000000000000000000000000000000000 (object corrupt: x); run `art fsck` to list damaged objects and the versions and paths they affect"},
		{fmt.Errorf("pull ds from origin: %w", &repo.DamagedPackError{Remote: "origin", Keys: []string{"packs/p.idx"}, Err: corrupt}),
			"pull ds from origin: object corrupt: x; remove packs/p.idx there, then push again from a repository that has its objects"},
		{&repo.DamagedPackError{Remote: "origin", Keys: []string{"packs/p.idx", "packs/p.pack"}, Err: errors.New("bad")},
			"bad; remove packs/p.idx and packs/p.pack there, then push again from a repository that has its objects"},
		{corrupt, "object corrupt: x; run `art fsck` to list damaged objects and the versions and paths they affect"},
		{fmt.Errorf("%w: v2 is abc here", repo.ErrConflict), "local and remote versions conflict: v2 is abc here; pull with --strategy new to renumber the local one"},
		{fmt.Errorf("%w in /w: a.txt (changed since checkout)", repo.ErrLocalChanges),
			"local changes would be lost in /w: a.txt (changed since checkout); commit or move them, or use --force to overwrite"},
		{&remoteArgError{name: "origin", err: fmt.Errorf("%w: origin", repo.ErrRemoteExists)},
			"remote already exists: origin; remove it first with `art remote rm origin`"},
		{fmt.Errorf("%w: %w", repo.ErrRemoteNotFound, repo.ErrNoRemote),
			"no such remote: no remote configured; add one with `art remote add origin URL`"},
		{fmt.Errorf("%w: %w", repo.ErrRemoteNotFound, repo.ErrNoDefaultRemote),
			"no such remote: several remotes and none named origin; name one"},
		{fmt.Errorf("%w: %q", repo.ErrRemoteNotFound, "x"), `no such remote: "x"; see ` + "`art remote ls`"},
		{fmt.Errorf("%w: /w/.art", repo.ErrNotRepository), "not an art repository: /w/.art; run `art init` to create a repository, or pass --repo DIR"},
		{fmt.Errorf("%w: ds@abcd matches ds:v0, ds:v1", repo.ErrAmbiguous), "ambiguous reference: ds@abcd matches ds:v0, ds:v1; give more of the ID"},
		{runEnvError(fmt.Errorf("%w: \"X\"", repo.ErrInvalidRunID)),
			"ART_RUN_ID: invalid run id: \"X\"; `art run start` prints a run's ID, and `art run ls` lists the runs"},
		{runEnvError(fmt.Errorf("%w: zz", repo.ErrRunNotFound)),
			"ART_RUN_ID: run not found: zz; `art run ls` lists the runs; unset ART_RUN_ID to work outside a run"},
		{fmt.Errorf("%w: zz", repo.ErrRunNotFound), "run not found: zz; `art run ls` lists the runs"},
		{errors.New("plain"), "plain"},
	} {
		var buf bytes.Buffer
		(&app{stderr: &buf}).printError(tc.err)
		if got, want := buf.String(), "art: "+tc.want+"\n"; got != want {
			t.Errorf("printError(%v):\n got %q\nwant %q", tc.err, got, want)
		}
	}
}

// TestAdviceEndToEnd: the advice reaches the user from the errors the
// binary really gets.
func TestAdviceEndToEnd(t *testing.T) {
	t.Parallel()
	expect := func(res result, wants ...string) {
		t.Helper()
		if res.code != 1 || !strings.HasPrefix(res.stderr, "art: ") {
			t.Fatalf("want exit 1 and an art: message, got %v", res)
		}
		for _, w := range wants {
			if !strings.Contains(res.stderr, w) {
				t.Fatalf("error lacks %q: %v", w, res)
			}
		}
	}
	p := newProject(t)
	expect(p.runIn(t.TempDir(), nil, "ls"), "not an art repository", "run `art init`")
	expect(p.run("push"), "no remote configured; add one with `art remote add origin URL`")

	p.write("data/a.txt", "a")
	p.ok("commit", "ds", "data")
	rem := t.TempDir()
	p.ok("remote", "add", "origin", rem)
	expect(p.run("remote", "add", "origin", t.TempDir()), "already exists: origin; remove it first with `art remote rm origin`")
	p.ok("push")

	// Both sides gain a v1: the pull that refuses, then the push.
	q := newProject(t)
	q.ok("remote", "add", "origin", rem)
	q.ok("pull")
	q.write("q.txt", "q")
	q.ok("commit", "ds", "q.txt")
	p.write("data/b.txt", "b")
	p.ok("commit", "ds", "data")
	p.ok("push")
	expect(q.run("pull", "--strategy", "error"), "conflict", "; pull with --strategy new to renumber the local one")
	expect(q.run("push"), "; run `art pull origin ds` first (or push --strategy new)")

	// A damaged tree stops gc and du.
	v := p.show("ds:v1")
	tree := v["digest"].(string)
	obj := p.path(".art/objects/" + tree[:2] + "/" + tree[2:])
	if err := os.Chmod(obj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(obj, []byte("art tree 1\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	expect(p.run("gc"), "gc: cannot read tree "+tree, "; run `art fsck` and repair before collecting garbage")
	expect(p.run("du"), "du: cannot read tree "+tree, "; run `art fsck`")
}
