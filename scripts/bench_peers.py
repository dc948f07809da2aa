#!/usr/bin/env python3
"""Side-by-side benchmark of art against git, git-lfs, restic, borg and kopia.

Every trial of every workload runs on a file system made for it (see
benchlib.fresh_fs: a sparse image formatted as ext4 with its journal, and
again as XFS), so no tool pays for another's deletions: each tool has its
own directories in the trial and nothing is deleted until the trial ends.
Steps run with a warm page cache, after a sync; medians, art/peer ratios,
peak RSS, CPU and repository sizes are written as Markdown.

Workloads:
  large       4 x 256 MiB random files
  small       20,000 x 4 KiB random files in 100 directories
  checkpoint  a 512 MiB checkpoint v1; v2 with 1% of its bytes changed in 8
              regions; v3 = v2 with 4 KiB inserted near the start
  append      a 1 GiB CSV-like file, then 1% more rows appended to it

Tools: art (files of 8 MiB and more stored as content-defined chunks),
art-whole (`art init --no-chunking`), git, git-lfs, restic, borg, kopia,
each with its defaults. The append workload runs only the tools that
deduplicate inside files (and art-whole).

Usage: bench_peers.py --art BIN --peakrss BIN [--runs 3] [--scale 1]
                      [--workloads large,small,checkpoint,append]
                      [--tools art,art-whole,git,git-lfs,restic,borg,kopia]
                      [--fs ext4,xfs] [--dir /var/tmp] [--no-write]
At --scale 1 the report replaces docs/bench-peers.md and the README's
tables; at any other scale it goes to bin/bench/ (and stdout).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import MiB, GiB  # noqa: E402

ALL_TOOLS = "art,art-whole,git,git-lfs,restic,borg,kopia"
DEDUP_TOOLS = ("art", "art-whole", "restic", "borg", "kopia")


def gen_large(root, scale):
    os.makedirs(root)
    rng = random.Random(1)
    size = int(256 * MiB * scale)
    for i in range(4):
        with open(f"{root}/shard-{i}.bin", "wb") as f:
            left = size
            while left:
                k = min(left, 8 * MiB)
                f.write(rng.randbytes(k))
                left -= k


# CSV_TABLE maps random bytes onto digits, commas and newlines (about one
# newline per 64 bytes), so random data becomes CSV-like rows.
CSV_TABLE = bytes((b"0123456789" * 26)[:250] + b",,,,\n\n")[:256]


def csv_rows(rng, n):
    data = bl.rand_bytes(rng, n).translate(CSV_TABLE)
    return data[:-1] + b"\n"


def gen_append(root, scale):
    """Writes root/v1/table.csv (1 GiB) and root/v2/table.csv (v1 + 1%)."""
    rng = random.Random(5)
    size = int(1024 * MiB * scale)
    os.makedirs(f"{root}/v1")
    os.makedirs(f"{root}/v2")
    with open(f"{root}/v1/table.csv", "wb") as f:
        left = size
        while left:
            k = min(left, 8 * MiB)
            f.write(csv_rows(rng, k))
            left -= k
    shutil.copy(f"{root}/v1/table.csv", f"{root}/v2/table.csv")
    with open(f"{root}/v2/table.csv", "ab") as f:
        f.write(csv_rows(rng, size // 100))


def change_small(root, n, frac=0.01):
    rng = random.Random(3)
    for i in rng.sample(range(n), max(1, int(n * frac))):
        with open(f"{root}/d{i % 100:03d}/f{i:06d}.bin", "wb") as f:
            f.write(bl.rand_bytes(rng, 4096))


def gen_checkpoint(root, scale):
    """Writes root/v1, root/v2, root/v3 (each holding model.ckpt)."""
    rng = random.Random(4)
    size = int(512 * MiB * scale)
    data = bytearray(bl.rand_bytes(rng, size))
    os.makedirs(f"{root}/v1")
    with open(f"{root}/v1/model.ckpt", "wb") as f:
        f.write(data)
    changed = size // 100
    per = changed // 8
    for r in range(8):
        off = (r * size) // 8 + size // 32
        data[off:off + per] = bl.rand_bytes(rng, per)
    os.makedirs(f"{root}/v2")
    with open(f"{root}/v2/model.ckpt", "wb") as f:
        f.write(data)
    ins = 4096
    off = 64 * 1024 + 123
    data[off:off] = bl.rand_bytes(rng, ins)
    os.makedirs(f"{root}/v3")
    with open(f"{root}/v3/model.ckpt", "wb") as f:
        f.write(data)


class Tool:
    """How one tool commits a directory and checks it out again. Every
    method returns a shell command; repo is the tool's own directory."""

    def __init__(self, name, art):
        self.name, self.art = name, art

    def env(self, repo):
        return {"RESTIC_PASSWORD": "bench", "RESTIC_CACHE_DIR": f"{repo}/restic-cache",
                "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
                "BORG_BASE_DIR": f"{repo}/borg-base",
                "KOPIA_PASSWORD": "bench", "KOPIA_CHECK_FOR_UPDATES": "false", "KOPIA_LOG_DIR": f"{repo}/kopia-logs",
                "KOPIA_CONFIG_PATH": f"{repo}/kopia.config", "KOPIA_CACHE_DIRECTORY": f"{repo}/kopia-cache",
                "GIT_LFS_SKIP_PUSH": "1", "HOME": f"{repo}/home"}

    def init(self, repo, data):
        os.makedirs(f"{repo}/home", exist_ok=True)
        a = self.art
        if self.name == "art":
            return f"{a} init -q {repo}"
        if self.name == "art-whole":
            return f"{a} init -q --no-chunking {repo}"
        git = f"git init -q {repo}/g && git -C {repo}/g config user.email b@b && git -C {repo}/g config user.name b"
        if self.name == "git":
            return git
        if self.name == "git-lfs":
            return (f"{git} && cd {repo}/g && git lfs install --local >/dev/null && "
                    f"git lfs track '*.bin' '*.ckpt' >/dev/null && git add .gitattributes && "
                    f"git commit -qm attrs && cp .gitattributes {data}/")
        if self.name == "restic":
            return f"restic init -q -r {repo}/r"
        if self.name == "borg":
            return f"borg init -e none {repo}/r"
        if self.name == "kopia":
            return f"kopia repository create filesystem --path {repo}/r >/dev/null 2>&1"
        raise ValueError(self.name)

    def commit(self, repo, data, name, tag):
        if self.name.startswith("art"):
            return f"cd {repo} && {self.art} commit -q {name} {data}"
        if self.name in ("git", "git-lfs"):
            g = f"git -C {repo}/g --work-tree={data}"
            return f"{g} add -A . && {g} commit -qm {tag} --allow-empty"
        if self.name == "restic":
            return f"cd {data} && restic -q -r {repo}/r backup --tag {tag} ."
        if self.name == "borg":
            return f"cd {data} && borg create {repo}/r::{tag} ."
        if self.name == "kopia":
            return f"kopia snapshot create --no-progress {data} >/dev/null 2>&1"
        raise ValueError(self.name)

    def prepare_checkout(self, repo, data):
        """Untimed: what a checkout needs to know (kopia: the snapshot ID)."""
        if self.name == "kopia":
            snaps = json.loads(bl.sh(f"kopia snapshot list --json {data}", env=self.env(repo)))
            return snaps[-1]["rootEntry"]["obj"]
        return None

    def checkout(self, repo, name, out, tag, prep=None):
        os.makedirs(out, exist_ok=True)
        if self.name.startswith("art"):
            return f"cd {repo} && {self.art} checkout -q {name} -o {out}"
        if self.name in ("git", "git-lfs"):
            return f"git -C {repo}/g --work-tree={out} checkout -f HEAD -- ."
        if self.name == "restic":
            return f"restic -q -r {repo}/r restore latest --target {out}"
        if self.name == "borg":
            return f"cd {out} && borg extract {repo}/r::{tag}"
        if self.name == "kopia":
            return f"kopia restore --no-progress {prep} {out} >/dev/null 2>&1"
        raise ValueError(self.name)

    def repo_size(self, repo):
        if self.name.startswith("art"):
            return bl.du(f"{repo}/.art")
        if self.name in ("git", "git-lfs"):
            return bl.du(f"{repo}/g/.git")
        return bl.du(f"{repo}/r")


def image_size(kind, scale, ntools):
    """Bytes of the sparse image one trial needs (written bytes are what
    counts against the host's disk; the rest costs nothing)."""
    per_tool = {"large": 3.2, "small": 0.4, "checkpoint": 4.5, "append": 4.5}[kind] * scale * GiB
    src = {"large": 2.1, "small": 0.2, "checkpoint": 1.6, "append": 2.1}[kind] * scale * GiB
    need = src + ntools * per_tool
    # Inodes: mkfs.ext4 makes one per 16 KiB; the small set needs ~80,000 per tool.
    return int(max(need * 1.5, 16 * GiB, ntools * 80000 * scale * 16384 * 2)), int(need)


class Results:
    def __init__(self, scale=1.0):
        self.scale = scale
        self.times = {}   # (fs, kind, step) -> {tool: [Step]}
        self.sizes = {}   # (fs, kind, tool, what) -> bytes | str | bool
        self.floors = {}  # (fs, kind, what) -> [seconds]

    def rec(self, fs, kind, step, tool, s):
        self.times.setdefault((fs, kind, step), {}).setdefault(tool, []).append(s)


def trial(fs, kind, tools, art, peakrss, runs, t, scale, res):
    """One trial of one workload on the fresh file system fs."""
    w = fs.path
    src = f"{w}/src"
    n = 0
    if kind == "large":
        gen_large(src, scale)
    elif kind == "small":
        n = bl.gen_small(src, scale)
    elif kind == "append":
        gen_append(src, scale)
    else:
        gen_checkpoint(src, scale)
    fk = fs.kind

    def step(label, name, cmd, cwd=None, env=None):
        s = bl.run(peakrss, cmd, cwd=cwd, env=env)
        res.rec(fk, kind, label, name, s)
        return s

    if kind in ("large", "small"):
        s = bl.run(peakrss, f"cp -r {src} {w}/floor-cp")
        res.floors.setdefault((fk, kind, "cp -r"), []).append(s.wall)
        if kind == "large":
            s = bl.run(peakrss, f"b3sum {src}/*.bin >/dev/null")
            res.floors.setdefault((fk, kind, "b3sum"), []).append(s.wall)
    for name in tools:
        bl.log(f"   {fk} {kind} run {t + 1}/{runs}: {name}")
        tool = Tool(name, art)
        repo, data, out = f"{w}/{name}/repo", f"{w}/{name}/data", f"{w}/{name}/out"
        os.makedirs(repo)
        env = tool.env(repo)
        subprocess.check_call(["cp", "-r", src if kind not in ("checkpoint", "append") else f"{src}/v1", data])
        bl.sh(tool.init(repo, data), env=env)
        if kind == "append":
            step("commit", name, tool.commit(repo, data, "table", "v1"), env=env)
            shutil.copy(f"{src}/v2/table.csv", f"{data}/table.csv")
            before = tool.repo_size(repo)
            step("commit after 1% appended", name, tool.commit(repo, data, "table", "v2"), env=env)
            if t == 0:
                added = tool.repo_size(repo) - before
                res.sizes[(fk, kind, name, "added by the append")] = added
                res.sizes[(fk, kind, name, "added, % of the file")] = \
                    f"{100 * added / os.path.getsize(f'{src}/v1/table.csv'):.2f}%"
        elif kind == "checkpoint":
            for v in ("v1", "v2", "v3"):
                if v != "v1":
                    shutil.copy(f"{src}/{v}/model.ckpt", f"{data}/model.ckpt")
                before = tool.repo_size(repo)
                step(f"commit {v}", name, tool.commit(repo, data, "ckpt", v), env=env)
                if t == 0:
                    res.sizes[(fk, kind, name, f"added by {v}")] = tool.repo_size(repo) - before
            prep = tool.prepare_checkout(repo, data)
            step("checkout", name, tool.checkout(repo, "ckpt", out, "v3", prep), env=env)
            ok = subprocess.call(["cmp", "-s", f"{src}/v3/model.ckpt", f"{out}/model.ckpt"]) == 0
            if not ok:
                raise RuntimeError(f"{name} checked out v3 differently from its source")
            if t == runs - 1 and name.startswith("art"):
                # Every version checks out with the b3sum of its source.
                for i, v in enumerate(("v1", "v2", "v3")):
                    o = f"{w}/{name}/out-{v}"
                    bl.sh(tool.checkout(repo, f"ckpt:v{i}", o, v), env=env)
                    want = subprocess.check_output(["b3sum", "--no-names", f"{src}/{v}/model.ckpt"])
                    got = subprocess.check_output(["b3sum", "--no-names", f"{o}/model.ckpt"])
                    res.sizes[(fk, kind, name, f"{v} checkout b3sum equal")] = want == got
        else:
            step("commit", name, tool.commit(repo, data, "ds", "t1"), env=env)
            step("recommit unchanged", name, tool.commit(repo, data, "ds", "t2"), env=env)
            last = "t2"
            if kind == "small":
                change_small(data, n)
                step("commit after 1% changed", name, tool.commit(repo, data, "ds", "t3"), env=env)
                last = "t3"
            if t == 0:
                res.sizes[(fk, kind, name, "repository")] = tool.repo_size(repo)
            prep = tool.prepare_checkout(repo, data)
            step("checkout", name, tool.checkout(repo, "ds", out, last, prep), env=env)
            if name.startswith("art") or name.startswith("git"):
                step("re-checkout unchanged", name, tool.checkout(repo, "ds", out, last, prep), env=env)
            if name.startswith("art") and kind == "large":
                # Hashing every byte of the set, as b3sum does (the hashing goal).
                step("verify", name, f"cd {repo} && {art} verify -q ds {data}", env=env)
            diff = subprocess.run(["diff", "-rq", "-x", ".gitattributes", data, out], capture_output=True)
            if diff.returncode != 0:
                raise RuntimeError(f"{name} checked out {kind} differently from its source:\n"
                                   f"{diff.stdout.decode()[:1000]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--art", required=True)
    ap.add_argument("--peakrss", required=True, help="the tools/peakrss binary")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default="large,small,checkpoint,append")
    ap.add_argument("--tools", default=ALL_TOOLS)
    ap.add_argument("--fs", default=os.environ.get("BENCH_FS", "ext4,xfs"))
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--no-write", action="store_true", help="never replace docs/ and the README")
    args = ap.parse_args()
    bl.stop_on_signals()
    tools = bl.choose("tool", args.tools, ALL_TOOLS.split(","))
    workloads = bl.choose("workload", args.workloads, list(KIND_TITLE))
    versions = bl.ensure_tools([t for t in tools if not t.startswith("art")] + ["b3sum"])
    art, peakrss = os.path.abspath(args.art), os.path.abspath(args.peakrss)
    bl.require_binaries(art=art, peakrss=peakrss)
    bl.set_commit(art)
    kinds = bl.fs_kinds(args.fs)
    res = Results(args.scale)
    for fk in kinds:
        for kind in workloads:
            ktools = [t for t in tools if kind != "append" or t in DEDUP_TOOLS]
            size, need = image_size(kind, args.scale, len(ktools))
            for t in range(args.runs):
                bl.check_space(args.dir, need, f"a trial of the {kind} workload")
                bl.log(f"== {fk}: workload {kind}, run {t + 1}/{args.runs}")
                with bl.fresh_fs(fk, size, args.dir, f"{kind}-{t}") as fs:
                    trial(fs, kind, ktools, art, peakrss, args.runs, t, args.scale, res)
    doc, blocks = report(args, tools, kinds, versions, res)
    bl.publish(args, "bench-peers.md", doc, blocks)


STEP_ORDER = ["commit", "recommit unchanged", "commit after 1% changed", "commit v1", "commit v2", "commit v3",
              "commit after 1% appended", "checkout", "re-checkout unchanged", "verify"]
KIND_TITLE = {"large": "4 x 256 MiB", "small": "20,000 x 4 KiB", "checkpoint": "512 MiB checkpoint",
              "append": "1 GiB CSV"}


def medians(res, fk):
    """{(kind, step): {tool: Step of medians}}, steps in a fixed order."""
    out = {}
    keys = sorted([k for k in res.times if k[0] == fk], key=lambda k: (
        list(KIND_TITLE).index(k[1]), STEP_ORDER.index(k[2]) if k[2] in STEP_ORDER else 99))
    for (_, kind, step) in keys:
        out[(kind, step)] = {t: bl.Step(bl.median([s.wall for s in ss]), max(s.rss for s in ss),
                                        bl.median([s.user for s in ss]), bl.median([s.sys for s in ss]))
                             for t, ss in res.times[(fk, kind, step)].items()}
    return out


def times_table(med, tools, kinds_steps, floors=None, scale=1):
    """A Markdown table of wall times and art/peer ratios."""
    peers = [t for t in tools if t != "art"]
    lines = ["| workload | step | " + " | ".join(tools) + (" | floor" if floors is not None else "") + " | " +
             " | ".join(f"art/{p}" for p in peers) + " |",
             "|---|---|" + "--:|" * (len(tools) + (1 if floors is not None else 0) + len(peers))]
    last = None
    for (kind, step), by in med.items():
        if kinds_steps and (kind, step) not in kinds_steps:
            continue
        cells = [bl.fmt_s(by[t].wall) if t in by else "" for t in tools]
        ratios = [f"{by['art'].wall / by[p].wall:.2f}" if "art" in by and p in by and by[p].wall > 0 else ""
                  for p in peers]
        row = f"| {KIND_TITLE[kind] if kind != last else ''} | {step} | " + " | ".join(cells)
        if floors is not None:
            fl = ""
            cp = floors.get((kind, "cp -r"))
            if cp and step in ("commit", "checkout") and "art" in by:
                fl = f"cp -r {bl.fmt_s(cp)} (art {by['art'].wall / cp:.2f}x)"
                if step == "commit" and (kind, "b3sum") in floors:
                    fl += f", b3sum {bl.fmt_s(floors[(kind, 'b3sum')])}"
            row += f" | {fl}"
        lines.append(row + " | " + " | ".join(ratios) + " |")
        last = kind
    return "\n".join(lines) + "\n"


# The goals of the performance, chunking and checkout issues (3, 4, 14):
# (label, workload, step, what it is compared with, limit). "vs" is a
# peer's time for the same step, "cp" the cp -r floor of the run, "b3sum"
# the b3sum floor, "whole" art-whole (unchunked), "git-checkout" git's
# checkout of the set, "seconds" an absolute bound on art's time, and
# "rss" a bound on art's peak RSS over the workload.
TARGETS = [
    ("large commit at least 2x faster than borg", "large", "commit", ("vs", "borg"), 0.5),
    ("large commit at least 3x faster than git-lfs", "large", "commit", ("vs", "git-lfs"), 1 / 3),
    ("large verify (hashing every byte) within 1.5x of b3sum", "large", "verify", ("b3sum",), 1.5),
    ("large commit within 1.15x of unchunked", "large", "commit", ("whole",), 1.15),
    ("small commit at most 1.2x cp -r", "small", "commit", ("cp",), 1.2),
    ("small commit at least 2x faster than git", "small", "commit", ("vs", "git"), 0.5),
    ("large recommit unchanged at most 0.05 s", "large", "recommit unchanged", ("seconds",), 0.05),
    ("small recommit unchanged at most 2x git", "small", "recommit unchanged", ("vs", "git"), 2),
    ("small commit after 1% changed within 2x git", "small", "commit after 1% changed", ("vs", "git"), 2),
    ("large checkout at most 1.3x cp -r", "large", "checkout", ("cp",), 1.3),
    ("large checkout within 1.15x of unchunked", "large", "checkout", ("whole",), 1.15),
    ("small checkout at most 1.3x cp -r", "small", "checkout", ("cp",), 1.3),
    ("small checkout at most 0.8x git", "small", "checkout", ("vs", "git"), 0.8),
    ("small re-checkout at most 0.5x git's checkout", "small", "re-checkout unchanged", ("git-checkout",), 0.5),
]
PEERS_FASTER = ["large", "small", "checkpoint"]  # checkout faster than every peer


def targets_table(med, floors, res, fk, tools):
    """Each goal with the measured ratio and whether it was met."""
    lines = ["| goal | measured | |", "|---|--:|---|"]

    def row(label, x, limit, unit=""):
        met = x <= limit
        lines.append(f"| {label} | {x:.2f}{unit} | {'met' if met else 'missed'} |")
    for label, kind, step, cmp, limit in TARGETS:
        by = med.get((kind, step), {})
        if "art" not in by:
            continue
        a = by["art"].wall
        if cmp[0] == "vs":
            ref = by.get(cmp[1])
            ref = ref.wall if ref else None
        elif cmp[0] == "cp":
            ref = floors.get((kind, "cp -r"))
        elif cmp[0] == "b3sum":
            ref = floors.get((kind, "b3sum"))
        elif cmp[0] == "whole":
            ref = by.get("art-whole")
            ref = ref.wall if ref else None
        elif cmp[0] == "git-checkout":
            ref = med.get((kind, "checkout"), {}).get("git")
            ref = ref.wall if ref else None
        else:
            row(label, a, limit, " s")
            continue
        if ref:
            row(label, a / ref, limit)
    for kind in PEERS_FASTER:
        by = med.get((kind, "checkout"), {})
        peers = {t: s.wall for t, s in by.items() if t not in ("art", "art-whole")}
        if "art" in by and peers:
            best = min(peers, key=peers.get)
            row(f"{KIND_TITLE[kind]} checkout faster than every peer (fastest: {best})",
                by["art"].wall / peers[best], 0.999)
    rss = max([s.rss for (k, _), by in med.items() for t, s in by.items() if t == "art"] or [0])
    if rss:
        row("peak RSS of art under 100 MiB on every step (MiB)", rss, 100)
    sizes = {w: res.sizes.get((fk, "checkpoint", "art", w)) for w in ("added by v2", "added by v3")}
    restic_v3 = res.sizes.get((fk, "checkpoint", "restic", "added by v3"))
    if isinstance(sizes["added by v2"], int):
        row("checkpoint v2 adds at most 12 MiB (MiB, scaled)", sizes["added by v2"] / MiB, 12 * res.scale)
        row("checkpoint v3 adds at most 1 MiB (MiB, scaled)", sizes["added by v3"] / MiB, 1 * res.scale)
        if isinstance(restic_v3, int) and restic_v3 > 0:
            row("checkpoint v3 adds at most half of restic's", sizes["added by v3"] / restic_v3, 0.5)
    eq = all(res.sizes.get((fk, "checkpoint", "art", f"{v} checkout b3sum equal")) for v in ("v1", "v2", "v3"))
    if (fk, "checkpoint", "art", "v1 checkout b3sum equal") in res.sizes:
        lines.append(f"| every checkpoint version checks out with its source's b3sum | {'yes' if eq else 'NO'} | "
                     f"{'met' if eq else 'missed'} |")
    app = res.sizes.get((fk, "append", "art", "added by the append"))
    if isinstance(app, int):
        row("appending 1% to the CSV adds at most 2% of its size (%)",
            100 * app / (1024 * MiB * res.scale), 2)
    return "\n".join(lines) + "\n"


def report(args, tools, kinds, versions, res):
    """The full Markdown report and the README blocks (ext4, or the first file system)."""
    parts = [f"# art beside its peers (`make bench-peers`)\n",
             bl.header("bench-peers", kinds, versions,
                       f"Medians of {args.runs} runs at scale {args.scale}; a fresh file system per trial, "
                       "warm page cache, `sync` before each step; ratio = art's time / the peer's "
                       "(below 1: art is faster)."), ""]
    blocks = {}
    for fk in kinds:
        med = medians(res, fk)
        floors = {(k, w): bl.median(v) for (f, k, w), v in res.floors.items() if f == fk}
        parts.append(f"## {bl.describe_fs(fk)}\n")
        main_tools = [t for t in tools if t != "art-whole"]
        parts.append("### Wall time\n")
        parts.append(times_table(med, tools, None, floors, args.scale))
        parts.append("### Goals (issues 3, 4 and 14)\n")
        parts.append(targets_table(med, floors, res, fk, tools))
        parts.append("### Peak RSS (MiB, max over runs) and CPU (user + system, median)\n")
        parts.append("| workload | step | " + " | ".join(tools) + " |")
        parts.append("|---|---|" + "--:|" * len(tools))
        for (kind, step), by in med.items():
            parts.append(f"| {KIND_TITLE[kind]} | {step} | " + " | ".join(
                f"{by[t].rss:.0f} MiB, {by[t].user + by[t].sys:.2f} s" if t in by else "" for t in tools) + " |")
        parts.append("\n### Repository bytes\n")
        parts.append("| workload | what | " + " | ".join(tools) + " |")
        parts.append("|---|---|" + "--:|" * len(tools))
        whats = []
        for (f, k, _, w) in res.sizes:
            if f == fk and (k, w) not in whats:
                whats.append((k, w))
        for k, w in whats:
            cells = []
            for t in tools:
                v = res.sizes.get((fk, k, t, w), "")
                cells.append(("yes" if v else "NO") if isinstance(v, bool) else v if isinstance(v, str)
                             else bl.fmt_mib(v))
            parts.append(f"| {KIND_TITLE[k]} | {w} | " + " | ".join(cells) + " |")
        parts.append("")
        if fk == kinds[0]:
            head = bl.header("bench-peers", [fk], versions, f"Medians of {args.runs} runs; ratio = art / peer.")
            main_steps = [(k, s) for (k, s) in med if k in ("large", "small", "checkpoint")]
            blocks["peers"] = head + "\n" + times_table(med, main_tools, main_steps)
            blocks["targets"] = head + "\n" + targets_table(med, floors, res, fk, tools)
            chunk_tools = [t for t in ("art", "art-whole", "restic", "borg", "kopia") if t in tools]
            sizes = ["| workload | what | " + " | ".join(chunk_tools) + " |", "|---|---|" + "--:|" * len(chunk_tools)]
            for k, w in whats:
                if k in ("checkpoint", "append") and not w.endswith("equal") and w != "added by v1":
                    sizes.append(f"| {KIND_TITLE[k]} | {w} | " + " | ".join(
                        (bl.fmt_mib(res.sizes[(fk, k, t, w)]) if not isinstance(res.sizes.get((fk, k, t, w)), str)
                         else res.sizes[(fk, k, t, w)]) if (fk, k, t, w) in res.sizes else "" for t in chunk_tools) + " |")
            eq = [t for t in ("art", "art-whole") if all(res.sizes.get((fk, "checkpoint", t, f"{v} checkout b3sum equal"))
                                                       for v in ("v1", "v2", "v3"))]
            if ("checkpoint", "commit v1") in med:
                sizes.append(f"| {KIND_TITLE['checkpoint']} | every version checks out with its source's b3sum | " +
                             " | ".join("yes" if t in eq else "" for t in chunk_tools) + " |")
            chunk_steps = [(k, s) for (k, s) in med if (k == "checkpoint" and s in ("commit v1", "commit v2", "checkout"))
                           or (k == "append" and s != "commit") or (k == "large" and s in ("commit", "checkout"))]
            blocks["chunks"] = head + "\n" + "\n".join(sizes) + "\n\n" + times_table(med, chunk_tools, chunk_steps)
    return "\n".join(parts) + "\n", blocks


if __name__ == "__main__":
    main()
