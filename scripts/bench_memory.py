#!/usr/bin/env python3
"""Peak RSS and wall time of art on a 2 GiB file and on 50,000 small files
(`make bench-memory`). Goal: well under 100 MiB on every step (docs/architecture.md, Guarantees).

Runs on a file system made for it (benchlib.fresh_fs). At --scale 1 the
table goes to docs/bench-memory.md and the README, else to bin/bench/.

Usage: bench_memory.py --art BIN --peakrss BIN [--scale 1] [--fs ext4] [--dir /var/tmp]
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import MiB, GiB  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--art", required=True)
    ap.add_argument("--peakrss", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--fs", default=os.environ.get("BENCH_FS", "ext4,xfs"))
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    bl.stop_on_signals()
    art, peakrss = os.path.abspath(args.art), os.path.abspath(args.peakrss)
    bl.require_binaries(art=art, peakrss=peakrss)
    bl.set_commit(art)
    big, small = int(2048 * MiB * args.scale), int(50000 * args.scale)
    kinds = bl.fs_kinds(args.fs)
    rows = {}
    for fk in kinds:
        with bl.fresh_fs(fk, 16 * GiB, args.dir, "memory") as fs:
            w = fs.path
            os.makedirs(f"{w}/big")
            bl.write_random(f"{w}/big/checkpoint.bin", big, 9)
            bl.gen_small(f"{w}/small", small / 20000, seed=10)
            bl.sh(f"{art} init -q {w}")
            steps = [
                (f"commit a {big / GiB:g} GiB file", f"{art} commit -q big big/checkpoint.bin -t model"),
                ("recommit it unchanged", f"{art} commit -q big big/checkpoint.bin -t model"),
                (f"checkout the {big / GiB:g} GiB file", f"{art} checkout -q big -o out-big"),
                (f"commit {small:,} x 4 KiB files", f"{art} commit -q small small"),
                ("recommit them unchanged", f"{art} commit -q small small"),
                (f"checkout {small:,} files", f"{art} checkout -q small -o out-small"),
                ("re-checkout (nothing to write)", f"{art} checkout -q small -o out-small"),
                ("fsck", f"{art} fsck -q"),
            ]
            for label, cmd in steps:
                bl.log(f"   {fk}: {label}")
                rows.setdefault(label, {})[fk] = bl.run(peakrss, cmd, cwd=w)
            if subprocess.call(["cmp", "-s", f"{w}/big/checkpoint.bin", f"{w}/out-big/checkpoint.bin"]) != 0:
                raise RuntimeError("the checkout of the big file differs from its source")
    table = ["| step | " + " | ".join(f"{k} wall | {k} peak RSS" for k in kinds) + " |",
             "|---|" + "--:|--:|" * len(kinds)]
    for label, by in rows.items():
        table.append(f"| {label} | " + " | ".join(f"{bl.fmt_s(by[k].wall)} | {by[k].rss:.1f} MiB" for k in kinds) + " |")
    head = bl.header("bench-memory", kinds, {}, "One run; peak RSS from the kernel's rusage of the art process.")
    body = head + "\n" + "\n".join(table) + "\n"
    bl.publish(args, "bench-memory.md", "# Memory (`make bench-memory`)\n\n" + body, {"memory": body})


if __name__ == "__main__":
    main()
