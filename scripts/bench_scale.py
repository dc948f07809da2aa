#!/usr/bin/env python3
"""A million files: art beside git, restic and kopia (`make bench-scale`).

The workload: 1,000,000 files of 1 KiB in 1,000 directories of 1,000, plus
one directory `wide/` of 100,000 entries (scaled by --scale; generated
deterministically from one seed). Each trial runs on a file system made
for it (benchlib.fresh_fs). The steps run tool by tool within each phase,
all from the same source directory, so each tool sees the same change:

  commit                  first commit of the tree
  recommit unchanged      the same tree again
  commit after 1 changed  one file rewritten and one added in wide/
  checkout                the latest version into an empty directory
  (art only) re-checkout of the same version, switch of the checkout to the
  first version (2 files differ), show --json, fsck, verify of the checkout,
  diff of the two versions, du, gc, push to a directory remote on the same
  file system, and pull from it into a new repository

Every checkout is compared with the source (diff -r). Reports wall time,
peak RSS and CPU per step: at --scale 1 to docs/bench-scale.md, else to
bin/bench/.

Usage: bench_scale.py --art BIN --peakrss BIN [--runs 1] [--scale 1]
                      [--tools art,git,restic,kopia] [--fs ext4] [--dir /var/tmp]
"""
import argparse
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import GiB  # noqa: E402
from bench_peers import Tool  # noqa: E402


def generate(root, scale, seed=7):
    """Writes the tree; returns (files, seconds). Same bytes for the same scale."""
    t0 = time.time()
    rng = random.Random(seed)
    per_dir, dirs, wide = 1000, max(1, int(1000 * scale)), int(100000 * scale)
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


def change(root):
    """Rewrites one file and adds one, deterministically."""
    rng = random.Random(8)
    with open(f"{root}/d0000/f0500.bin", "wb") as f:
        f.write(rng.randbytes(1024))
    with open(f"{root}/wide/zz-new.bin", "wb") as f:
        f.write(rng.randbytes(1024))


STEPS = ["commit", "recommit unchanged", "commit after 1 changed", "checkout",
         "re-checkout", "switch to v0", "show --json", "fsck", "verify", "diff v0 v1",
         "du", "gc", "push (directory remote)", "pull (directory remote)"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--art", required=True)
    ap.add_argument("--peakrss", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--tools", default="art,git,restic,kopia")
    ap.add_argument("--fs", default=os.environ.get("BENCH_FS", "ext4"))
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    bl.stop_on_signals()
    tools = bl.choose("tool", args.tools, ["art", "git", "restic", "kopia"])
    versions = bl.ensure_tools([t for t in tools if t != "art"])
    art, peakrss = os.path.abspath(args.art), os.path.abspath(args.peakrss)
    bl.require_binaries(art=art, peakrss=peakrss)
    bl.set_commit(art)
    kinds = bl.fs_kinds(args.fs)
    times, gen = {}, []  # (fs, step, tool) -> [Step]
    nfiles = 0
    # Per tool: a checkout and its repository (git's loose objects, art's)
    # take a 4 KiB block and an inode per file; the image's inode count
    # follows its size (one per 16 KiB).
    files = 1.1e6 * args.scale
    need = int(files * 4096 * (2 + 2 * len(tools)) * 1.2)
    size = int(max(files * 16384 * (2 + 2 * len(tools)) * 1.3, 16 * GiB))
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

                def step(label, n, cmd, cwd=None):
                    bl.log(f"   {fk} {label}: {n}")
                    s = bl.run(peakrss, cmd, cwd=cwd, env=ts[n].env(repos[n]))
                    times.setdefault((fk, label, n), []).append(s)

                for n in tools:
                    os.makedirs(repos[n])
                    bl.sh(ts[n].init(repos[n], src), env=ts[n].env(repos[n]))
                for n in tools:
                    step("commit", n, ts[n].commit(repos[n], src, "ds", "t1"))
                for n in tools:
                    step("recommit unchanged", n, ts[n].commit(repos[n], src, "ds", "t2"))
                change(src)
                for n in tools:
                    step("commit after 1 changed", n, ts[n].commit(repos[n], src, "ds", "t3"))
                for n in tools:
                    out = f"{w}/{n}/out"
                    prep = ts[n].prepare_checkout(repos[n], src)
                    step("checkout", n, ts[n].checkout(repos[n], "ds", out, "t3", prep))
                    d = subprocess.run(["diff", "-rq", src, out], capture_output=True)
                    if d.returncode != 0:
                        raise RuntimeError(f"{n} checked out the tree differently:\n{d.stdout.decode()[:1000]}")
                if "art" in tools:
                    r, out = repos["art"], f"{w}/art/out"
                    step("re-checkout", "art", f"cd {r} && {art} checkout -q ds -o {out}")
                    step("switch to v0", "art", f"cd {r} && {art} checkout -q ds:v0 -o {out}")
                    step("show --json", "art", f"cd {r} && {art} show --json ds >/dev/null")
                    step("fsck", "art", f"cd {r} && {art} fsck -q")
                    step("verify", "art", f"cd {r} && {art} verify -q ds:v0 {out}")
                    step("diff v0 v1", "art", f"cd {r} && {art} diff ds:v0 ds:v1 >/dev/null")
                    step("du", "art", f"cd {r} && {art} du >/dev/null")
                    step("gc", "art", f"cd {r} && {art} gc -q")
                    bl.sh(f"cd {r} && {art} remote add origin {w}/art/remote", env=ts["art"].env(r))
                    step("push (directory remote)", "art", f"cd {r} && {art} push -q origin")
                    clone = f"{w}/art/clone"
                    os.makedirs(clone)
                    bl.sh(f"{art} init -q {clone} && cd {clone} && {art} remote add origin {w}/art/remote",
                          env=ts["art"].env(r))
                    step("pull (directory remote)", "art", f"cd {clone} && {art} pull -q origin")
    doc = [f"# A million files (`make bench-scale`)\n",
           bl.header("bench-scale", kinds, versions,
                     f"{nfiles:,} files of 1 KiB ({int(1000 * args.scale)} directories of 1,000 and one of "
                     f"{int(100000 * args.scale):,}); medians of {args.runs} runs at scale {args.scale}; generation "
                     f"took {bl.median(gen):.0f} s. Ratio = art / peer."), ""]
    peers = [t for t in tools if t != "art"]
    for fk in kinds:
        doc.append(f"## {bl.describe_fs(fk)}\n")
        doc.append("| step | " + " | ".join(f"{t} wall | {t} RSS" for t in tools) + " | " +
                   " | ".join(f"art/{p}" for p in peers) + " |")
        doc.append("|---|" + "--:|--:|" * len(tools) + "--:|" * len(peers))
        for label in STEPS:
            by = {n: times[(fk, label, n)] for n in tools if (fk, label, n) in times}
            if not by:
                continue
            med = {n: bl.median([s.wall for s in v]) for n, v in by.items()}
            cells = [f"{bl.fmt_s(med[n])} | {max(s.rss for s in by[n]):.0f} MiB" if n in by else " | "
                     for n in tools]
            ratios = [f"{med['art'] / med[p]:.2f}" if "art" in med and p in med and med[p] > 0 else ""
                      for p in peers]
            doc.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        doc.append("")
    text = "\n".join(doc) + "\n"
    bl.publish(args, "bench-scale.md", text, {})


if __name__ == "__main__":
    main()
