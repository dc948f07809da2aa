package repo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/afero"

	"github.com/artvcs/art/repo"
	_ "github.com/artvcs/art/repo/remote/all" // registers the drivers: directory, s3://, http(s)://
)

// The examples below are the public API of package repo at work, each on a
// repository in a temp directory. The code between a readme:start and a
// readme:end comment line is, in order, a Go block of the README's "Go
// API" section: TestREADMEGoAPI keeps the two equal, so every line of the
// README's Go code compiles, and runs with the output shown here.

// check stands for a program's error handling.
func check(err error) {
	if err != nil {
		panic(err)
	}
}

// putFile creates the file rel under dir with content.
func putFile(dir, rel, content string) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	check(os.MkdirAll(filepath.Dir(p), 0o755))
	check(os.WriteFile(p, []byte(content), 0o644))
}

// exampleProject makes a project directory in a temp dir: data/train.csv,
// data/test.csv and model.h5. The caller removes it.
func exampleProject() string {
	dir, err := os.MkdirTemp("", "art-example-")
	check(err)
	putFile(dir, "data/train.csv", "day,rides\n2011-01-01,985\n2011-01-02,801\n")
	putFile(dir, "data/test.csv", "day,rides\n2011-01-03,1349\n")
	putFile(dir, "model.h5", "weights: epoch 1\n")
	return dir
}

// exampleRepo makes a project (see exampleProject) with a repository in it.
func exampleRepo(ctx context.Context) (*repo.Repo, string) {
	project := exampleProject()
	r, err := repo.Init(ctx, afero.NewOsFs(), filepath.Join(project, ".art"), nil)
	check(err)
	return r, project
}

// logData logs the project's data/ directory as the next version of
// bike-dataset and returns it.
func logData(ctx context.Context, r *repo.Repo, project string) repo.Version {
	a := r.NewArtifact("bike-dataset", "dataset")
	check(a.AddDir(filepath.Join(project, "data"), ""))
	v, _, err := r.Log(ctx, a, nil)
	check(err)
	return v
}

// Init creates a repository (the .art directory of a project); Open opens
// it again, and Find looks for it from a directory below.
func ExampleInit() {
	ctx := context.Background()
	project := exampleProject()
	defer os.RemoveAll(project)

	// readme:start
	r, err := repo.Init(ctx, afero.NewOsFs(), filepath.Join(project, ".art"), nil) // afero.NewMemMapFs() in tests
	check(err)
	check(r.Close())
	dir, err := repo.Find(afero.NewOsFs(), filepath.Join(project, "data")) // walks up to the .art directory
	check(err)
	r, err = repo.Open(ctx, afero.NewOsFs(), dir, nil)
	check(err)
	defer r.Close()
	// readme:end

	_, err = repo.Init(ctx, afero.NewOsFs(), dir, nil)
	fmt.Println(filepath.Base(dir), errors.Is(err, repo.ErrExists))
	// Output: .art true
}

// An Artifact is built like W&B's wandb.Artifact and logged with Log; the
// manifest lists what the version holds.
func ExampleRepo_NewArtifact() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()

	// readme:start
	a := r.NewArtifact("bike-dataset", "dataset")
	a.Description = "January rentals"
	a.Metadata = map[string]any{"rows": 3}
	check(a.AddDir(filepath.Join(project, "data"), ""))             // W&B add_dir: data/* at the root
	check(a.AddFile(filepath.Join(project, "model.h5"), "models/")) // W&B add_file: models/model.h5
	w, err := a.NewFile(ctx, "hello.txt")                           // W&B new_file
	check(err)
	_, err = io.WriteString(w, "hi")
	check(err)
	check(w.Close())
	check(a.AddReference(ctx, "s3://bucket/raw.csv", "")) // W&B add_reference: raw.csv, not copied

	v, _, err := r.Log(ctx, a, nil)
	check(err)
	m, err := v.Manifest(ctx) // []ManifestEntry{Path, Size, Digest, Ref}, sorted by path
	check(err)
	for _, e := range m {
		fmt.Println(e.Path, e.Size) // a reference of unknown size: -1
	}
	e, err := v.GetPath(ctx, "hello.txt") // W&B get_path(name)
	check(err)
	fmt.Println(e.Digest) // BLAKE3 of "hi", what `b3sum hello.txt` prints
	// readme:end

	fmt.Println(v.Ref(), v.Files, "files")
	// Output:
	// hello.txt 2
	// models/model.h5 17
	// raw.csv -1
	// test.csv 26
	// train.csv 40
	// 85052e9aab1b67b6622d94a08441b09fd5b7aca61ee360416d70de5da67d86ca
	// bike-dataset:v0 5 files
}

// Logging content equal to an existing version creates nothing: that
// version is returned, and the aliases asked for move to it. New content
// is the next version; latest follows it, other aliases stay.
func ExampleRepo_Log() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()

	// readme:start
	a := r.NewArtifact("bike-dataset", "dataset")
	check(a.AddDir(filepath.Join(project, "data"), ""))
	v, created, err := r.Log(ctx, a, &repo.LogOptions{Aliases: []string{"best"}})
	check(err)
	fmt.Println(v.Ref(), created, v.Aliases) // bike-dataset:v0 true [best latest]

	same := r.NewArtifact("bike-dataset", "dataset")
	check(same.AddDir(filepath.Join(project, "data"), ""))
	v, created, err = r.Log(ctx, same, &repo.LogOptions{Aliases: []string{"baseline"}})
	check(err)
	fmt.Println(v.Ref(), created, v.Aliases) // unchanged: bike-dataset:v0 false [baseline best latest]
	// readme:end

	putFile(project, "data/train.csv", "day,rides\n2011-01-01,985\n2011-01-02,801\n2011-01-03,1349\n")
	v = logData(ctx, r, project)
	fmt.Println(v.Ref(), v.Aliases)
	best, err := r.Resolve(ctx, "bike-dataset:best")
	check(err)
	fmt.Println(best.Ref())
	vs, err := r.Versions(ctx, "bike-dataset")
	check(err)
	for _, v := range vs {
		fmt.Println(v.Ref(), v.Files, v.Size)
	}
	// Output:
	// bike-dataset:v0 true [best latest]
	// bike-dataset:v0 false [baseline best latest]
	// bike-dataset:v1 [latest]
	// bike-dataset:v0
	// bike-dataset:v1 2 82
	// bike-dataset:v0 2 66
}

// Download (Repo.Checkout by reference) puts a version on disk, verified
// byte for byte; files already right are left alone, switching versions
// updates the directory in place, and a file the user changed is never
// overwritten without Force.
func ExampleVersion_Download() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	logData(ctx, r, project)
	putFile(project, "data/extra.csv", "day,rides\n")
	logData(ctx, r, project)

	// readme:start
	v, err := r.Resolve(ctx, "bike-dataset:latest") // or name, name:v3, name:best, name@1f2e3d4c
	check(err)
	work := filepath.Join(project, "work")
	res, err := v.Download(ctx, work, nil) // W&B download(root); r.Checkout(ctx, ref, dir, opts) too
	check(err)
	fmt.Println(res.Files, res.Written, res.Skipped) // 3 3 0
	p, err := v.LocalPath(ctx, work, "train.csv")    // T9k local_path(key)
	check(err)
	fmt.Println(filepath.Base(p)) // train.csv
	// readme:end

	res, err = v.Download(ctx, work, nil)
	check(err)
	fmt.Println("again:", res.Written, "written,", res.Skipped, "skipped")
	res, err = r.Checkout(ctx, "bike-dataset:v0", work, nil)
	check(err)
	fmt.Println("v0:", res.Written, "written,", res.Removed, "removed")
	putFile(work, "train.csv", "my edit\n")
	_, err = r.Checkout(ctx, "bike-dataset:v1", work, nil)
	fmt.Println(errors.Is(err, repo.ErrLocalChanges))
	res, err = r.Checkout(ctx, "bike-dataset:v1", work, &repo.CheckoutOptions{Force: true})
	check(err)
	fmt.Println("forced:", res.Written, "written")
	// Output:
	// 3 3 0
	// train.csv
	// again: 0 written, 3 skipped
	// v0: 0 written, 1 removed
	// true
	// forced: 2 written
}

// WalkManifest streams a version's files in path order, one directory
// read at a time, for versions of millions of files; Manifest returns the
// same entries in a slice.
func ExampleVersion_WalkManifest() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	v := logData(ctx, r, project)

	var total int64
	err := v.WalkManifest(ctx, func(e repo.ManifestEntry) error {
		fmt.Println(e.Path, e.Size)
		total += e.Size
		return nil
	})
	check(err)
	fmt.Println(total == v.Size)
	// Output:
	// test.csv 26
	// train.csv 40
	// true
}

// Verify checksums a directory against a version: every file present
// with its size and BLAKE3, nothing else.
func ExampleVersion_Verify() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	v := logData(ctx, r, project)
	work := filepath.Join(project, "work")
	_, err := v.Download(ctx, work, nil)
	check(err)

	// readme:start
	res, err := v.Verify(ctx, work)                // W&B verify(root)
	fmt.Println(res.Files, len(res.Problems), err) // 2 0 <nil>
	// readme:end

	putFile(work, "test.csv", "day,rides\n2011-01-03,0\n")
	check(os.Remove(filepath.Join(work, "train.csv")))
	putFile(work, "notes.txt", "mine\n")
	res, err = v.Verify(ctx, work)
	fmt.Println(errors.Is(err, repo.ErrVerifyFailed))
	for _, p := range res.Problems {
		fmt.Println(p.Path, p.Problem)
	}
	// Output:
	// 2 0 <nil>
	// true
	// notes.txt extra
	// test.csv modified
	// train.csv missing
}

// Diff lists the files added, removed and modified between two versions.
func ExampleRepo_Diff() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	logData(ctx, r, project)
	putFile(project, "data/train.csv", "day,rides\n2011-01-01,985\n")
	check(os.Remove(filepath.Join(project, "data/test.csv")))
	putFile(project, "data/val.csv", "day,rides\n")
	logData(ctx, r, project)

	// readme:start
	changes, err := r.Diff(ctx, "bike-dataset:v0", "bike-dataset:v1")
	check(err)
	for _, c := range changes {
		fmt.Println(c.Op, c.Path) // "added", "removed" or "modified", sorted by path
	}
	// readme:end

	// Output:
	// removed test.csv
	// modified train.csv
	// added val.csv
}

// A run uses versions as inputs and logs versions as outputs (W&B's
// use_artifact and log_artifact); the lineage answers logged_by and
// used_by. A run that has finished can neither use nor log anything.
func ExampleRun_LogArtifact() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	logData(ctx, r, project)

	// readme:start
	run, err := r.StartRun(ctx, "train", "baseline", map[string]any{"lr": 0.001}) // W&B wandb.init
	check(err)
	in, err := run.UseArtifact(ctx, "bike-dataset:latest") // W&B use_artifact: an input
	check(err)
	model := r.NewArtifact("bike-model", "model")
	check(model.AddFile(filepath.Join(project, "model.h5"), ""))
	out, created, err := run.LogArtifact(ctx, model, nil) // W&B log_artifact: the run is the producer
	check(err)
	check(run.Finish(ctx, nil)) // finished; failed if given the job's error

	producer, err := out.LoggedBy(ctx) // W&B logged_by (nil outside a run)
	check(err)
	users, err := in.UsedBy(ctx) // W&B used_by
	check(err)
	fmt.Println(out.Ref(), created, producer.JobType, users[0].JobType) // bike-model:v0 true train train
	g, err := r.Lineage(ctx, "bike-model:latest", repo.Upstream, 0)     // g.WriteJSON, WriteDot, WriteMermaid, WriteText
	check(err)
	fmt.Println(len(g.Nodes), "nodes,", len(g.Edges), "edges") // 3 nodes, 2 edges
	// readme:end

	for _, n := range g.Nodes {
		if n.Kind == "run" {
			fmt.Println(n.Kind, n.JobType, n.Name, n.Status)
		} else {
			fmt.Println(n.Kind, n.Ref())
		}
	}
	_, err = run.UseArtifact(ctx, "bike-dataset:latest")
	fmt.Println(errors.Is(err, repo.ErrRunNotRunning))
	// Output:
	// bike-model:v0 true train train
	// 3 nodes, 2 edges
	// version bike-model:v0
	// run train baseline finished
	// version bike-dataset:v0
	// true
}

// Push sends versions, their files, aliases and lineage to a remote;
// Pull brings them into another repository. A push that would lose the
// remote's versions is refused; a pull then places the local version
// after the remote's.
func ExampleRepo_Push() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	logData(ctx, r, project)
	other, otherProject := exampleRepo(ctx)
	defer os.RemoveAll(otherProject)
	defer other.Close()

	// readme:start
	bucket := filepath.Join(project, "shared") // a directory; or s3://bucket/prefix, http://host:8080 (art serve)
	check(r.AddRemote(ctx, "origin", bucket))
	pushed, err := r.Push(ctx, "origin", nil, nil) // every artifact; or names
	check(err)
	fmt.Println(pushed.Artifacts[0].Name, pushed.Artifacts[0].Versions) // bike-dataset [v0]

	check(other.AddRemote(ctx, "origin", bucket))      // other: a repository on another machine
	pulled, err := other.Pull(ctx, "origin", nil, nil) // Fetch: the same without files (checkout fetches them)
	check(err)
	fmt.Println(pulled.Artifacts[0].Name, pulled.Artifacts[0].Versions) // bike-dataset [v0]
	// readme:end

	// Both log a v1 of their own; the second push is refused until a pull.
	putFile(otherProject, "data/train.csv", "day,rides\n")
	logData(ctx, other, otherProject)
	_, err = other.Push(ctx, "origin", nil, nil)
	check(err)
	putFile(project, "data/test.csv", "day,rides\n")
	logData(ctx, r, project)
	_, err = r.Push(ctx, "origin", nil, nil)
	fmt.Println(errors.Is(err, repo.ErrNotFastForward))
	pulled, err = r.Pull(ctx, "origin", []string{"bike-dataset"}, nil)
	check(err)
	for _, n := range pulled.Artifacts[0].Renumbered {
		fmt.Println("renumbered", n.From, "->", n.To)
	}
	pushed, err = r.Push(ctx, "origin", nil, nil)
	check(err)
	fmt.Println(pushed.Artifacts[0].Versions)
	// Output:
	// bike-dataset [v0]
	// bike-dataset [v0]
	// true
	// renumbered v1 -> v2
	// [v2]
}

// A bucket that shrinks: a version removed from the remote, a retention
// policy that travels with push, and remote gc's two steps, a grace
// period apart (here a second, the shortest it takes).
func ExampleRepo_RemoteGC() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	check(r.AddRemote(ctx, "origin", filepath.Join(project, "shared")))
	for i := range 3 { // three versions, pushed one by one
		putFile(project, "data/train.csv", fmt.Sprintf("day,rides\n2011-01-0%d,%d\n", i+1, 985+i))
		logData(ctx, r, project)
		_, err := r.Push(ctx, "origin", nil, nil)
		check(err)
	}

	// readme:start
	gone, err := r.DeleteOnRemote(ctx, "origin", "bike-dataset:v0", false) // art rm --remote; force: aliased too
	check(err)
	fmt.Println(gone.Ref()) // bike-dataset:v0: no push sends it back; pulls report it (PullOptions.Prune)

	check(r.SetRetention(ctx, "bike-dataset", repo.Retention{KeepLast: 1})) // aliased versions always stay
	_, err = r.Push(ctx, "origin", nil, nil)                                // the policy travels with the ref document
	check(err)

	opts := &repo.RemoteGCOptions{Grace: time.Second} // default 24h: longer than any push
	mark, err := r.RemoteGC(ctx, "origin", opts)      // retention, then the mark: what nothing uses becomes a candidate
	check(err)
	fmt.Println(mark.Step, mark.Expired) // marked [bike-dataset:v1]
	// readme:end

	// Nothing is old enough yet; a mark once the packs are, then the sweep
	// a grace period later.
	time.Sleep(2100 * time.Millisecond)
	_, err = r.RemoteGC(ctx, "origin", opts)
	check(err)
	time.Sleep(2100 * time.Millisecond)
	sweep, err := r.RemoteGC(ctx, "origin", opts)
	check(err)
	fmt.Println(sweep.Step, sweep.Deleted > 0, sweep.Versions)
	// Output:
	// bike-dataset:v0
	// marked [bike-dataset:v1]
	// swept true 1
}

// Aliases, deletion, and the repository's upkeep: fsck re-hashes every
// object, gc deletes what no version or run uses, reindex rebuilds the
// index from the objects.
func ExampleRepo_GC() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()
	logData(ctx, r, project)
	putFile(project, "data/val.csv", "day,rides\n")
	logData(ctx, r, project)

	// gc keeps what was written in the last 50 ms, whatever the grace.
	time.Sleep(100 * time.Millisecond)

	// readme:start
	_, _, err := r.AddAlias(ctx, "bike-dataset:v0", "baseline")
	check(err)
	_, err = r.Delete(ctx, "bike-dataset:v0", false)
	fmt.Println(errors.Is(err, repo.ErrHasAliases)) // true: force it, or remove the alias
	_, err = r.Delete(ctx, "bike-dataset:v0", true)
	check(err)

	report, err := r.Fsck(ctx, nil) // errors.Is(err, repo.ErrDamaged) when damaged
	check(err)
	gc, err := r.GC(ctx, &repo.GCOptions{Grace: -1}) // default grace: an hour
	check(err)
	usage, err := r.DiskUsage(ctx) // art du
	check(err)
	rebuilt, err := r.Reindex(ctx) // index.db again from the objects and ref documents
	check(err)
	fmt.Println(len(report.Problems), gc.Deleted, usage.Garbage, rebuilt.Versions) // 0 2 0 1
	// readme:end

	// Output:
	// true
	// 0 2 0 1
}

// Upload and DownloadTag are dstack's artifacts.upload and download; File
// is W&B's Artifact.file for a version of one file.
func ExampleRepo_Upload() {
	ctx := context.Background()
	r, project := exampleRepo(ctx)
	defer os.RemoveAll(project)
	defer r.Close()

	// readme:start
	v, _, err := r.Upload(ctx, filepath.Join(project, "data"), "datasets/d1", "my_tag") // dstack upload
	check(err)
	_, err = r.DownloadTag(ctx, "my_tag", "datasets/d1/train.csv", filepath.Join(project, "out")) // dstack download
	check(err)
	m, _, err := r.Upload(ctx, filepath.Join(project, "model.h5"), "", "my_model")
	check(err)
	p, err := m.File(ctx, filepath.Join(project, "model")) // W&B file(root), for single-file versions
	check(err)
	fmt.Println(v.Ref(), v.Type, filepath.Base(p)) // my_tag:v0 artifact model.h5
	// readme:end

	_, err = os.Stat(filepath.Join(project, "out/datasets/d1/train.csv"))
	fmt.Println(err == nil)
	// Output:
	// my_tag:v0 artifact model.h5
	// true
}
