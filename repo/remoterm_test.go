package repo_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
	"github.com/artvcs/art/repo/remote"
)

// remoteVersions lists what a fresh repository pulling name from tr gets.
func remoteVersions(t *testing.T, tr remote.Transport, name string) []string {
	t.Helper()
	c, _ := newChunkedRepo(t, afero.NewOsFs(), filepath.Join(t.TempDir(), "fresh"))
	c.SetTransport("origin", tr)
	pull(t, c, name)
	return versionIDs(t, c, name)
}

// TestDeleteOnRemote: a version removed from the remote's document stays
// removed there whatever later pushes send, is reported by pulls, pruned
// only when asked, and its number is never reused.
func TestDeleteOnRemote(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	logDir(t, a, "ds", files{"f": "0"}, nil)
	v1, _ := logDir(t, a, "ds", files{"f": "1"}, &repo.LogOptions{Aliases: []string{"best"}})
	logDir(t, a, "ds", files{"f": "2"}, nil)
	push(t, a)
	pull(t, b)
	all := versionIDs(t, a, "ds")

	// Refusals change nothing.
	for _, tt := range []struct {
		ref  string
		want error
	}{
		{"ds:v1", repo.ErrHasAliases},
		{"ds:best", repo.ErrHasAliases},
		{"ds:v9", repo.ErrVersionNotFound},
		{"nope:v0", repo.ErrVersionNotFound},
		{"ds:", repo.ErrInvalidRef},
	} {
		if _, err := a.DeleteOnRemote(ctx, "origin", tt.ref, false); !errors.Is(err, tt.want) {
			t.Errorf("DeleteOnRemote(%s) = %v, want %v", tt.ref, err, tt.want)
		}
	}
	if _, err := a.DeleteOnRemote(ctx, "elsewhere", "ds:v0", false); err == nil {
		t.Error("DeleteOnRemote on an unknown remote succeeded")
	}
	if got := remoteVersions(t, tr, "ds"); !slices.Equal(got, all) {
		t.Fatalf("after refusals the remote has %v, want %v", got, all)
	}

	d, err := a.DeleteOnRemote(ctx, "origin", "ds:best", true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || d.Commit != v1.Version.Commit || !slices.Equal(d.Aliases, []string{"best"}) || d.Ref() != "ds:v1" {
		t.Fatalf("DeleteOnRemote = %+v", d)
	}
	want := []string{all[0], all[2]}
	if got := remoteVersions(t, tr, "ds"); !slices.Equal(got, want) {
		t.Fatalf("the remote has %v, want %v", got, want)
	}
	// The local repository is left alone, and pushing does not send it back.
	if got := versionIDs(t, a, "ds"); !slices.Equal(got, all) {
		t.Fatalf("A changed: %v", got)
	}
	res := push(t, a)
	if p := res.Artifacts[0]; !slices.Equal(p.RemovedThere, []string{"v1"}) || len(p.Versions) != 0 {
		t.Fatalf("A's push: %+v", p)
	}
	// B, which pulled v1 before: told, keeps it, does not push it back.
	pr := pull(t, b)
	if p := pr.Artifacts[0]; !slices.Equal(p.RemovedThere, []string{"v1"}) || len(p.Pruned) != 0 {
		t.Fatalf("B's pull: %+v", p)
	}
	if got := versionIDs(t, b, "ds"); !slices.Equal(got, all) {
		t.Fatalf("B changed without --prune: %v", got)
	}
	logDir(t, b, "ds", files{"f": "3"}, nil)
	res = push(t, b)
	if p := res.Artifacts[0]; !slices.Equal(p.RemovedThere, []string{"v1"}) || !slices.Equal(p.Versions, []string{"v3"}) {
		t.Fatalf("B's push: %+v", p)
	}
	if got := remoteVersions(t, tr, "ds"); len(got) != 3 || !strings.HasPrefix(got[0], "ds:v3 ") || !strings.HasPrefix(got[1], "ds:v2 ") {
		t.Fatalf("the remote has %v, want v3, v2, v0", got)
	}
	// --prune removes it here.
	pr, err = b.Pull(ctx, "origin", nil, &repo.PullOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := pr.Artifacts[0]; !slices.Equal(p.Pruned, []string{"v1"}) {
		t.Fatalf("B's pull --prune: %+v", p)
	}
	if _, err := b.Resolve(ctx, "ds:v1"); !errors.Is(err, repo.ErrVersionNotFound) {
		t.Fatalf("B still has ds:v1 after --prune: %v", err)
	}
	clean(t, b)

	// Removing the latest makes the one before it latest; a new version
	// takes a new number.
	if _, err := a.DeleteOnRemote(ctx, "origin", "ds", false); err != nil {
		t.Fatal(err)
	}
	pull(t, a)
	logDir(t, a, "ds", files{"f": "4"}, nil)
	res = push(t, a)
	if p := res.Artifacts[0]; !slices.Equal(p.Versions, []string{"v4"}) {
		t.Fatalf("A's push of a new version: %+v", p)
	}
	got := remoteVersions(t, tr, "ds")
	if len(got) != 3 || !strings.HasPrefix(got[0], "ds:v4 ") || !strings.HasPrefix(got[1], "ds:v2 ") || !strings.HasPrefix(got[2], "ds:v0 ") {
		t.Fatalf("the remote has %v, want v4, v2, v0", got)
	}
	equalFiles(t, checkedOut(t, a, "ds:v0"), files{"f": "0"})
}

// TestDeleteOnRemoteNumberTaken: a repository holding, under a number the
// remote removed, a version of its own cannot push it under that number:
// the push is not a fast-forward, and a pull renumbers it.
func TestDeleteOnRemoteNumberTaken(t *testing.T) {
	ctx := context.Background()
	tr, _ := sharedRemote(t)
	a, b := twoRepos(t, tr)
	logDir(t, a, "ds", files{"f": "0"}, nil)
	push(t, a)
	pull(t, b)
	logDir(t, a, "ds", files{"f": "A1"}, nil)
	push(t, a)
	if _, err := a.DeleteOnRemote(ctx, "origin", "ds:v1", false); err != nil {
		t.Fatal(err)
	}
	logDir(t, b, "ds", files{"f": "B1"}, nil) // B's own v1
	if _, err := b.Push(ctx, "origin", nil, nil); !errors.Is(err, repo.ErrNotFastForward) {
		t.Fatalf("B's push of its own v1: %v, want ErrNotFastForward", err)
	}
	pr := pull(t, b)
	if p := pr.Artifacts[0]; len(p.Renumbered) != 1 || p.Renumbered[0].From != "v1" || p.Renumbered[0].To != "v2" {
		t.Fatalf("B's pull: %+v", p)
	}
	res := push(t, b)
	if p := res.Artifacts[0]; !slices.Equal(p.Versions, []string{"v2"}) {
		t.Fatalf("B's push: %+v", p)
	}
	equalFiles(t, checkedOut(t, a, "ds:v0"), files{"f": "0"})
	pull(t, a)
	equalFiles(t, checkedOut(t, a, "ds:v2"), files{"f": "B1"})
}
