#!/usr/bin/env python3
"""A million files: art beside git, restic and kopia (`make bench-scale`).

The workload (issue 15): 1,000,000 files of 1 KiB in 1,000 directories of
1,000, plus one directory `wide/` of 100,000 entries (the number of
directories and of wide/'s entries scaled by --scale; generated
deterministically from one seed). Each trial runs on a file system made
for it (benchlib.fresh_fs: a sparse image formatted as ext4 with its
journal, loop-mounted), holding the source, every tool's directories and
MinIO's data. Nothing is deleted until the trial ends. The steps run tool
by tool within each phase, all from the same source directory, so each
tool sees the same change. art's versions: v0 the generated tree, v1 =
v0 with 1,000 files rewritten in place (CHANGED: 1,000 from --scale 0.5,
1,000 x --scale below it, at least 10, spread over the directories, 1 in
100 of them in wide/), v2 = v1 with
exactly 10 more files rewritten in place (3 of them in wide/).

  art, git, restic and kopia (git: `add -A && commit`; restic: `backup`;
  kopia: `snapshot create`; each with a repository in a directory):
  commit                        first commit of the tree (v0)
  recommit unchanged            the same tree again (art: no new version)
  commit after CHANGED changed  CHANGED files rewritten (v1)
  checkout                      the latest version (v1, what the source
                                holds then) into an empty directory;
                                compared with the source by diff -rq
  art only, in this order:
  re-checkout                   v1 again into the same directory
  switch to v0 (CHANGED files differ)  that directory switched to v0
  show --json                   the manifest of v1
  fsck                          every object of the repository
  verify                        the switched directory against v0
  commit v2 (10 more changed)   10 files rewritten in the source (v2)
  diff (10 files differ)        `art diff ds:v1 ds:v2` (its output is
                                checked, untimed, to list 10 files, as
                                is v0 -> v1's to list CHANGED)
  du, gc                        the repository's usage; gc (nothing to free)
  push (directory remote)       every version to a directory on the same
                                file system
  pull (directory remote)       from it into a fresh repository
  art, restic and kopia, through one MinIO (bench_remote.MinIO:
  a free 127.0.0.1 port, its data on the trial's file system), a bucket
  each; the same definitions as bench_remote.py:
  push (MinIO)      art: `rclone mkdir` of the bucket and `art remote add
                    minio s3://BUCKET/x` (untimed), then `art push minio`
                    of the repository above: every version (v0, v1, v2),
                    the source's state plus the earlier contents of the
                    CHANGED + 10 files rewritten
                    restic: `restic init` (untimed; it makes the bucket),
                    then `restic backup .` in the source (v2's state), an
                    s3: repository, its own fresh cache
                    kopia: `rclone mkdir` and `kopia repository create s3`
                    (untimed), then `kopia snapshot create` of the source
  pull (MinIO)      into an empty place. art: a fresh repository with
                    `art init` and `art remote add` (untimed), then `art
                    pull minio` (every version's objects, no files)
                    restic: `restic restore latest --target OUT` with an
                    empty cache; kopia: `kopia repository connect s3` with
                    an empty cache and finding the snapshot (untimed), then
                    `kopia restore ROOT OUT`
  checkout after pull (MinIO)  art only: `art checkout ds -o OUT` in the
                    pulled repository
  pull + checkout (MinIO)      art: the sum of the two, the files on disk
                    as restic's and kopia's single pull step puts them
                    (their row repeats their pull); every restored tree is
                    compared with the source (diff -rq, untimed)
  Each MinIO step starts once MinIO is idle (MinIO.settle).

Every step runs after `sync` under the peakrss tool (wall time, peak RSS;
the page cache stays warm). The `git gc --auto` that git's commit leaves
running detached is waited for after each git step (untimed), so that it
runs in no other step. Ratio = art / peer, per row, for the peers that
ran it. The report ends with the goals of issue 15 (measured at the
scale run: peak RSS, ratios to git, restic and kopia, and the absolute
bounds on diff and switch) and whether each was met. At --scale 1 it goes
to docs/bench-scale.md, else (or with --no-write) to bin/bench/.

Usage: bench_scale.py --art BIN --peakrss BIN [--runs 1] [--scale 1]
                      [--tools art,git,restic,kopia] [--fs ext4] [--dir /var/tmp]
                      [--minio BIN] [--no-write]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import GiB  # noqa: E402
from bench_peers import Tool  # noqa: E402
from bench_remote import MinIO, find_minio, tool_env, USER, PASSWORD  # noqa: E402

S3_TOOLS = ("art", "restic", "kopia")  # the tools that push and pull through MinIO


def shape(scale):
    """(directories of 1,000 files, entries of wide/) at scale."""
    return max(1, int(1000 * scale)), int(100000 * scale)


def generate(root, scale, seed=7):
    """Writes the tree; returns (files, seconds). Same bytes for the same scale."""
    t0 = time.time()
    rng = random.Random(seed)
    per_dir = 1000
    dirs, wide = shape(scale)
    count = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for d in range(dirs):
        p = f"{root}/d{d:04d}"
        os.makedirs(p)
        for i in range(per_dir):
            fd = os.open(f"{p}/f{i:04d}.bin", flags, 0o644)
            os.write(fd, rng.randbytes(1024))
            os.close(fd)
        count += per_dir
    os.makedirs(f"{root}/wide")
    for i in range(wide):
        fd = os.open(f"{root}/wide/w{i:06d}.bin", flags, 0o644)
        os.write(fd, rng.randbytes(1024))
        os.close(fd)
    count += wide
    return count, time.time() - t0


def changed_count(scale):
    """How many files v1 rewrites: 1,000 from scale 0.5 (a run at 0.91,
    1,001,000 files, fits a smaller disk), scaled below it, at least 10."""
    return 1000 if scale >= 0.5 else max(10, int(round(1000 * scale)))


def rewrite(root, scale, n, in_wide, seed):
    """Rewrites n distinct files in place with new random bytes (the same
    size), in_wide of them in wide/, the rest spread evenly over the
    directories; deterministic for (scale, n, in_wide, seed). Returns the
    paths rewritten, relative to root."""
    rng = random.Random(seed)
    dirs, wide = shape(scale)
    in_wide = min(in_wide, wide)
    rest = n - in_wide
    paths = [f"wide/w{i:06d}.bin" for i in sorted(rng.sample(range(wide), in_wide))]
    chosen = set()
    for k in range(rest):
        d = k * dirs // rest
        i = rng.randrange(1000)
        while (d, i) in chosen:
            i = (i + 1) % 1000
        chosen.add((d, i))
        paths.append(f"d{d:04d}/f{i:04d}.bin")
    for p in paths:
        with open(f"{root}/{p}", "r+b") as f:
            f.write(rng.randbytes(1024))
    return paths


def same_tree(a, b, what):
    d = subprocess.run(["diff", "-rq", a, b], capture_output=True)
    if d.returncode != 0:
        raise RuntimeError(f"{what} differs from its source:\n{(d.stdout + d.stderr).decode()[:1000]}")


def image_size(scale, tools):
    """(sparse image bytes, bytes it may write) for one trial.

    Measured at scale 0.01 (11,000 files), and linear in the file count: a
    tree of files (the source, each checkout or restore; art's repository,
    whose store keeps a loose object per file until it packs; kopia's
    content cache on each side) takes a 4 KiB block and an inode per file;
    a packed store (git's repository once its auto gc has run, restic's,
    art's directory remote and the two repositories pulled, each MinIO
    bucket: MinIO keeps each pack as an object of its own, small ones
    inline in their xl.meta) about 1.4 KiB a file, budgeted at 1.5 KiB; 1
    GiB for logs and caches. The image is sparse, so its size is generous:
    twice that, and an inode per 16 KiB (mkfs.ext4's default below 512
    GiB; the size here stays below that at scale 1) for every tree plus
    two spare. What it writes: 1.2x the data, plus the inode tables
    mkfs.ext4 writes at once (256 B an inode)."""
    files = 1.1e6 * scale
    s3 = [t for t in tools if t in S3_TOOLS]
    trees = (1 + len(tools) + ("art" in tools) + ("kopia" in tools) + len(s3) + ("kopia" in s3))
    packed = ("git" in tools) + ("restic" in tools) + 2 * ("art" in tools) + len(s3) + ("art" in s3)
    data = files * (4096 * trees + 1536 * packed) + GiB
    size = int(max(data * 2, files * (trees + 2) * 16384 * 1.2, 16 * GiB))
    return size, int(data * 1.2 + size / 64)


def minio_phase(w, src, art, minio_bin, s3_tools, step, repo_art):
    """push (MinIO), pull (MinIO) and art's checkout after pull, tool by
    tool, each with its own bucket; MinIO is stopped whatever happens."""
    os.makedirs(f"{w}/home", exist_ok=True)
    minio = MinIO(minio_bin, w)
    try:
        env = tool_env(minio, w)
        for n in s3_tools:
            bucket = f"bench-scale-{n}"
            base = f"{w}/{n}/s3"
            os.makedirs(base)
            out = f"{base}/out"

            def s3step(label, cmd, e):
                minio.settle()
                return step(label, n, cmd, env=e)

            if n == "art":
                bl.sh(f"rclone -q mkdir minio:{bucket}", env=env)
                bl.sh(f"cd {repo_art} && {art} remote add -q minio s3://{bucket}/x", env=env)
                s3step("push (MinIO)", f"cd {repo_art} && {art} push -q minio", env)
                clone = f"{base}/clone"
                bl.sh(f"{art} init -q {clone} && cd {clone} && {art} remote add -q minio s3://{bucket}/x", env=env)
                p = s3step("pull (MinIO)", f"cd {clone} && {art} pull -q minio", env)
                c = s3step("checkout after pull (MinIO)", f"cd {clone} && {art} checkout -q ds -o {out}", env)
                step("pull + checkout (MinIO)", n, None,
                     given=bl.Step(p.wall + c.wall, max(p.rss, c.rss), p.user + c.user, p.sys + c.sys))
            elif n == "restic":
                repo = f"s3:{minio.url}/{bucket}"
                e = dict(env, RESTIC_CACHE_DIR=f"{base}/cache-push")
                bl.sh(f"restic -q -r {repo} init", env=e)
                s3step("push (MinIO)", f"cd {src} && restic -q -r {repo} backup .", e)
                e = dict(env, RESTIC_CACHE_DIR=f"{base}/cache-pull")
                p = s3step("pull (MinIO)", f"restic -q -r {repo} restore latest --target {out}", e)
                step("pull + checkout (MinIO)", n, None, given=p)
            else:
                kopia_s3 = (f"s3 --bucket={bucket} --endpoint=127.0.0.1:{minio.port} --disable-tls "
                            f"--access-key={USER} --secret-access-key={PASSWORD} --region=us-east-1")

                def kenv(side):
                    return dict(env, KOPIA_CONFIG_PATH=f"{base}/kopia-{side}.config",
                                KOPIA_CACHE_DIRECTORY=f"{base}/kopia-cache-{side}",
                                KOPIA_LOG_DIR=f"{base}/kopia-logs-{side}")
                bl.sh(f"rclone -q mkdir minio:{bucket}", env=env)
                bl.sh(f"kopia repository create {kopia_s3} >/dev/null 2>&1", env=kenv("push"))
                s3step("push (MinIO)", f"kopia snapshot create --no-progress {src} >/dev/null 2>&1", kenv("push"))
                e = kenv("pull")
                bl.sh(f"kopia repository connect {kopia_s3} >/dev/null 2>&1", env=e)
                snaps = json.loads(bl.sh("kopia snapshot list --all --json", env=e))
                p = s3step("pull (MinIO)",
                           f"kopia restore --no-progress {snaps[-1]['rootEntry']['obj']} {out} >/dev/null 2>&1", e)
                step("pull + checkout (MinIO)", n, None, given=p)
            same_tree(src, out, f"{n}'s pull from MinIO")
    finally:
        minio.stop()


def wait_git_gc(gitdir, limit=7200):
    """Waits (untimed) for the `git gc --auto` a git commit may leave
    running detached (more than 6,700 loose objects), so that it runs in no
    other tool's step: until gc.pid has been absent twice in a row."""
    def running():
        try:
            with open(f"{gitdir}/gc.pid") as f:
                pid = f.read().split()[0]
        except (OSError, IndexError):
            return False
        return not pid.isdigit() or os.path.exists(f"/proc/{pid}")  # a stale file is no gc
    deadline, absent = time.time() + limit, 0
    time.sleep(0.2)
    while absent < 2 and time.time() < deadline:
        absent = 0 if running() else absent + 1
        time.sleep(0.2)


def diff_count(art, repo, a, b, env):
    """How many files `art diff a b` lists (untimed)."""
    out = bl.sh(f"cd {repo} && {art} diff {a} {b}", env=env)
    return len([line for line in out.splitlines() if line.strip()])


def steps_for(nchanged):
    return {"changed": f"commit after {nchanged:,} changed",
            "switch": f"switch to v0 ({nchanged:,} files differ)"}


def order(nchanged):
    lb = steps_for(nchanged)
    return ["commit", "recommit unchanged", lb["changed"], "checkout",
            "re-checkout", lb["switch"], "show --json", "fsck", "verify", "commit v2 (10 more changed)",
            "diff (10 files differ)", "du", "gc", "push (directory remote)", "pull (directory remote)",
            "push (MinIO)", "pull (MinIO)", "checkout after pull (MinIO)", "pull + checkout (MinIO)"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--art", required=True)
    ap.add_argument("--peakrss", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--tools", default="art,git,restic,kopia")
    ap.add_argument("--fs", default=os.environ.get("BENCH_FS", "ext4"))
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"))
    ap.add_argument("--minio", default="", help="the minio binary (default: PATH, then $(go env GOPATH)/bin)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    bl.stop_on_signals()
    tools = bl.choose("tool", args.tools, ["art", "git", "restic", "kopia"])
    s3_tools = [t for t in tools if t in S3_TOOLS]
    # rclone only makes buckets (as in bench_remote.py); it is no peer here.
    versions = bl.ensure_tools([t for t in tools if t != "art"] + (["rclone"] if s3_tools else []))
    versions.pop("rclone", None)
    minio_bin = None
    if s3_tools:
        minio_bin = find_minio(args.minio)
        os.environ["MINIO_BIN"] = minio_bin
        versions["minio"] = bl.tool_version("minio")
    art, peakrss = os.path.abspath(args.art), os.path.abspath(args.peakrss)
    bl.require_binaries(art=art, peakrss=peakrss)
    bl.set_commit(art)
    kinds = bl.fs_kinds(args.fs)
    times, gen = {}, []  # (fs, step, tool) -> [Step]
    nfiles = 0
    nchanged = changed_count(args.scale)
    lb = steps_for(nchanged)
    files = 1.1e6 * args.scale
    size, need = image_size(args.scale, tools)
    for fk in kinds:
        for t in range(args.runs):
            bl.check_space(args.dir, need, "a trial of the scale workload")
            with bl.fresh_fs(fk, size, args.dir, f"scale-{t}") as fs:
                w = fs.path
                src = f"{w}/src"
                bl.log(f"== {fk}: generating {files:,.0f} files")
                nfiles, secs = generate(src, args.scale)
                gen.append(secs)
                bl.log(f"   {nfiles:,} files in {secs:.0f} s")
                ts = {n: Tool(n, art) for n in tools}
                repos = {n: f"{w}/{n}/repo" for n in tools}

                def step(label, n, cmd, cwd=None, env=None, given=None):
                    bl.log(f"   {fk} {label}: {n}")
                    s = given or bl.run(peakrss, cmd, cwd=cwd, env=env if env is not None else ts[n].env(repos[n]))
                    times.setdefault((fk, label, n), []).append(s)
                    if n == "git":
                        wait_git_gc(f"{repos[n]}/g/.git")
                    return s

                for n in tools:
                    os.makedirs(repos[n])
                    bl.sh(ts[n].init(repos[n], src), env=ts[n].env(repos[n]))
                for n in tools:
                    step("commit", n, ts[n].commit(repos[n], src, "ds", "t1"))
                for n in tools:
                    step("recommit unchanged", n, ts[n].commit(repos[n], src, "ds", "t2"))
                rewrite(src, args.scale, nchanged, max(1, nchanged // 100), seed=8)
                for n in tools:
                    step(lb["changed"], n, ts[n].commit(repos[n], src, "ds", "t3"))
                for n in tools:
                    out = f"{w}/{n}/out"
                    prep = ts[n].prepare_checkout(repos[n], src)
                    step("checkout", n, ts[n].checkout(repos[n], "ds", out, "t3", prep))
                    same_tree(src, out, f"{n}'s checkout")
                if "art" in tools:
                    r, out = repos["art"], f"{w}/art/out"
                    env = ts["art"].env(r)
                    step("re-checkout", "art", f"cd {r} && {art} checkout -q ds -o {out}")
                    same_tree(src, out, "art's re-checkout")
                    step(lb["switch"], "art", f"cd {r} && {art} checkout -q ds:v0 -o {out}")
                    step("show --json", "art", f"cd {r} && {art} show --json ds >/dev/null")
                    step("fsck", "art", f"cd {r} && {art} fsck -q")
                    step("verify", "art", f"cd {r} && {art} verify -q ds:v0 {out}")
                    rewrite(src, args.scale, 10, 3, seed=9)
                    step("commit v2 (10 more changed)", "art", f"cd {r} && {art} commit -q ds {src}")
                    step("diff (10 files differ)", "art", f"cd {r} && {art} diff ds:v1 ds:v2 >/dev/null")
                    for a, b, want in (("ds:v0", "ds:v1", nchanged), ("ds:v1", "ds:v2", 10)):
                        got = diff_count(art, r, a, b, env)
                        if got != want:
                            raise RuntimeError(f"art diff {a} {b} lists {got} files, not {want}")
                    step("du", "art", f"cd {r} && {art} du >/dev/null")
                    step("gc", "art", f"cd {r} && {art} gc -q")
                    bl.sh(f"cd {r} && {art} remote add origin {w}/art/remote", env=env)
                    step("push (directory remote)", "art", f"cd {r} && {art} push -q origin")
                    clone = f"{w}/art/clone"
                    os.makedirs(clone)
                    bl.sh(f"{art} init -q {clone} && cd {clone} && {art} remote add origin {w}/art/remote", env=env)
                    step("pull (directory remote)", "art", f"cd {clone} && {art} pull -q origin")
                if s3_tools:
                    bl.log(f"   {fk}: MinIO")
                    minio_phase(w, src, art, minio_bin, s3_tools, step, repos.get("art"))
                used = os.statvfs(w)
                bl.log(f"   image: {(used.f_blocks - used.f_bfree) * used.f_frsize / GiB:.2f} GiB and "
                       f"{used.f_files - used.f_ffree:,} inodes used of {size / GiB:.1f} GiB and "
                       f"{used.f_files:,}; budgeted {need / GiB:.2f} GiB written")
    text = report(args, tools, kinds, versions, times, gen, nfiles, nchanged)
    bl.publish(args, "bench-scale.md", text, {})


def medians(times, fk, tools, label):
    by = {n: times[(fk, label, n)] for n in tools if (fk, label, n) in times}
    return by, {n: bl.median([s.wall for s in v]) for n, v in by.items()}


def goals_table(times, fk, tools, nchanged):
    """The goals of issue 15: (goal, measured, met/missed) rows."""
    lb = steps_for(nchanged)
    lines = ["| goal | measured | |", "|---|--:|---|"]

    def row(goal, measured, met):
        lines.append(f"| {goal} | {measured} | {'met' if met else 'missed'} |")

    def absent(goal):
        lines.append(f"| {goal} | not measured | |")

    art_rss = [(max(s.rss for s in v), label) for (f, label, n), v in times.items()
               if f == fk and n == "art" and label != "pull + checkout (MinIO)"]  # that one is a sum
    if art_rss:
        rss, worst = max(art_rss)
        row("peak RSS of art under 100 MiB on every art step", f"{rss:.0f} MiB ({worst})", rss < 100)
    else:
        absent("peak RSS of art under 100 MiB on every art step")
    for label, goal, peer, limit, strict in (
            ("commit", "commit at most 0.5x git", "git", 0.5, False),
            ("recommit unchanged", "recommit unchanged at most 1.0x git", "git", 1.0, False),
            ("checkout", "checkout at most 0.8x git", "git", 0.8, False),
            ("push (MinIO)", "push (MinIO) faster than restic", "restic", 1.0, True),
            ("push (MinIO)", "push (MinIO) faster than kopia", "kopia", 1.0, True),
            ("pull + checkout (MinIO)", "pull (MinIO) faster than restic (art: pull + checkout)", "restic", 1.0,
             True),
            ("pull + checkout (MinIO)", "pull (MinIO) faster than kopia (art: pull + checkout)", "kopia", 1.0,
             True)):
        _, med = medians(times, fk, tools, label)
        if "art" not in med or not med.get(peer):
            absent(goal)
            continue
        x = med["art"] / med[peer]
        row(goal, f"{x:.2f}x", x < limit if strict else x <= limit)
    for label, goal, limit in (("diff (10 files differ)", "diff (10 files differ) under 0.1 s", 0.1),
                               (lb["switch"], f"switch ({nchanged:,} files differ) under 2 s", 2.0)):
        _, med = medians(times, fk, tools, label)
        if "art" not in med:
            absent(goal)
            continue
        row(goal, bl.fmt_s(med["art"]), med["art"] < limit)
    return "\n".join(lines) + "\n"


def report(args, tools, kinds, versions, times, gen, nfiles, nchanged):
    dirs, wide = shape(args.scale)
    doc = [f"# A million files (`make bench-scale`)\n",
           bl.header("bench-scale", kinds, versions,
                     f"{nfiles:,} files of 1 KiB ({dirs:,} directories of 1,000 and one of {wide:,}); v1 rewrites "
                     f"{nchanged:,} of them, v2 10 more; medians of {args.runs} runs at scale {args.scale}; "
                     f"generation took {bl.median(gen):.0f} s. Ratio = art / peer. MinIO on 127.0.0.1, its data on "
                     f"the trial's file system, a bucket per tool; art's pull (MinIO) stores the objects in a fresh "
                     f"repository, its pull + checkout puts the files on disk as restic's and kopia's pull do."), ""]
    peers = [t for t in tools if t != "art"]
    for fk in kinds:
        doc.append(f"## {bl.describe_fs(fk)}\n")
        doc.append("| step | " + " | ".join(f"{t} wall | {t} RSS" for t in tools) + " | " +
                   " | ".join(f"art/{p}" for p in peers) + " |")
        doc.append("|---|" + "--:|--:|" * len(tools) + "--:|" * len(peers))
        for label in order(nchanged):
            by, med = medians(times, fk, tools, label)
            if not by:
                continue
            cells = [f"{bl.fmt_s(med[n])} | {max(s.rss for s in by[n]):.0f} MiB" if n in by else " | "
                     for n in tools]
            ratios = [f"{med['art'] / med[p]:.2f}" if "art" in med and p in med and med[p] > 0 else ""
                      for p in peers]
            doc.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        doc.append("")
        doc.append("### Goals (issue 15)\n")
        if args.scale != 1:
            doc.append(f"_At scale {args.scale}: the goals are for 1,000,000 files; the bounds on diff and "
                       f"switch are checked as they stand._\n")
        doc.append(goals_table(times, fk, tools, nchanged))
    return "\n".join(doc) + "\n"


if __name__ == "__main__":
    main()
