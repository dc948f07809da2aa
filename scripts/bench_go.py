#!/usr/bin/env python3
"""Runs the Go benchmarks of the hot paths (`make bench-go`) and writes them
as a Markdown table: docs/bench-go.md at --scale 1, else bin/bench/.

Usage: bench_go.py [--scale 1] [--benchtime 1s] PACKAGE...
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

LINE = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--benchtime", default="1s")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("packages", nargs="+")
    args = ap.parse_args()
    if args.scale != 1:
        args.benchtime = "100ms"
    bl.set_commit()
    rows = []
    for pkg in args.packages:
        bl.log(f"== go test -bench {pkg}")
        p = subprocess.run(["go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", args.benchtime,
                            pkg], cwd=bl.TOP, capture_output=True, text=True)
        sys.stderr.write(p.stdout[-3000:])
        if p.returncode != 0:
            raise SystemExit(f"bench: go test -bench {pkg} failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        for line in p.stdout.splitlines():
            m = LINE.match(line)
            if not m:
                continue
            name, n, rest = m.groups()
            f = dict((u, v) for v, u in re.findall(r"([\d.]+) (\S+)", rest))
            rows.append((pkg.strip("./"), name, f.get("ns/op", ""), f.get("MB/s", ""), f.get("B/op", ""),
                         f.get("allocs/op", "")))
    table = ["| package | benchmark | ns/op | MB/s | B/op | allocs/op |", "|---|---|--:|--:|--:|--:|"]
    table += [f"| {p} | {n} | {ns} | {mb} | {b} | {a} |" for p, n, ns, mb, b, a in rows]
    text = ("# Go benchmarks of the hot paths (`make bench-go`)\n\n" +
            bl.header("bench-go", [], {}, f"`go test -bench . -benchmem -benchtime {args.benchtime}`; in memory "
                      "or on the temp directory, not on a fresh file system.") + "\n" + "\n".join(table) + "\n")
    bl.publish(args, "bench-go.md", text, {})


if __name__ == "__main__":
    main()
