#!/usr/bin/env python3
"""Side-by-side benchmark of art against git, git-lfs, restic and borg.

Generates the workloads, runs every tool on every step in one run on the same
file system (warm page cache), and prints medians, art/peer ratios, peak RSS
and repository sizes as Markdown.

Workloads:
  large       4 x 256 MiB random files
  small       20,000 x 4 KiB random files in 100 directories
  checkpoint  a 512 MiB checkpoint v1; v2 with 1% of its bytes changed in 8
              regions; v3 = v2 with 4 KiB inserted near the start
  append      a 1 GiB CSV-like file, then 1% more rows appended to it

Tools: art (default config: files of 8 MiB and more stored as content-defined
chunks), art-whole (`art init --no-chunking`: every file stored whole, the
figures before chunking), git, git-lfs, restic, borg. The append workload
runs only the tools that deduplicate inside files (and art-whole).

Usage: bench_peers.py --art BIN --peakrss BIN [--runs 3] [--workloads large,small,checkpoint,append]
                      [--tools art,art-whole,git,git-lfs,restic,borg] [--dir /tmp]
Scale with --scale 0.1 for a quick run.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

MiB = 1 << 20
PEERS_DEB = {"git": "git", "git-lfs": "git-lfs", "restic": "restic", "borg": "borgbackup", "b3sum": "b3sum"}


def ensure_peers(tools):
    apt_install([PEERS_DEB[t] for t in tools + ["b3sum"] if t in PEERS_DEB and not shutil.which(t)])


def apt_install(missing):
    """Installs the Debian packages missing (none: nothing to do)."""
    if not missing:
        return
    print(f"installing from Debian: {' '.join(missing)}", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if subprocess.call(sudo + ["apt-get", "install", "-y", "-q"] + missing, env=env,
                       stdout=subprocess.DEVNULL) != 0:
        subprocess.check_call(sudo + ["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        subprocess.check_call(sudo + ["apt-get", "install", "-y", "-q"] + missing, env=env,
                              stdout=subprocess.DEVNULL)


PEAKRSS = None  # path of the peakrss tool, set in main


def run(cmd, cwd=None, env=None):
    """Runs a shell command; returns (wall seconds, peak RSS MiB).

    The command is started by the small peakrss tool rather than from this
    Python process: the kernel's peak-RSS mark survives exec, so a child
    forked from Python would report Python's own size.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    # Start every step with nothing dirty, so one tool's writeback is not
    # charged to the next (the page cache stays warm).
    os.sync()
    p = subprocess.run([PEAKRSS, "cmd", "--", "bash", "-c", cmd], cwd=cwd, env=full_env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace")
        raise RuntimeError(f"command failed ({p.returncode}): {cmd}\n{err[-2000:]}")
    fields = p.stdout.decode().split()
    return float(fields[-4]), float(fields[-2])


def du(path):
    out = subprocess.check_output(["du", "-sb", path]).split()[0]
    return int(out)


def rand_bytes(rng, n):
    chunks = []
    while n > 0:
        k = min(n, 8 * MiB)
        chunks.append(rng.randbytes(k))
        n -= k
    return b"".join(chunks)


def gen_large(root, scale):
    os.makedirs(root)
    rng = random.Random(1)
    size = int(256 * MiB * scale)
    for i in range(4):
        with open(f"{root}/shard-{i}.bin", "wb") as f:
            left = size
            while left:
                k = min(left, 8 * MiB)
                f.write(rand_bytes(rng, k))
                left -= k


# CSV_TABLE maps random bytes onto digits, commas and newlines (about one
# newline per 64 bytes), so random data becomes CSV-like rows.
CSV_TABLE = bytes((b"0123456789" * 26)[:250] + b",,,,\n\n")[:256]


def csv_rows(rng, n):
    data = rand_bytes(rng, n).translate(CSV_TABLE)
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


def gen_small(root, scale):
    rng = random.Random(2)
    n = int(20000 * scale)
    for d in range(100):
        os.makedirs(f"{root}/d{d:03d}")
    for i in range(n):
        with open(f"{root}/d{i % 100:03d}/f{i:06d}.bin", "wb") as f:
            f.write(rand_bytes(rng, 4096))
    return n


def change_small(root, n, frac=0.01):
    rng = random.Random(3)
    for i in rng.sample(range(n), max(1, int(n * frac))):
        with open(f"{root}/d{i % 100:03d}/f{i:06d}.bin", "wb") as f:
            f.write(rand_bytes(rng, 4096))


def gen_checkpoint(root, scale):
    """Writes root/v1, root/v2, root/v3 (each holding model.ckpt)."""
    rng = random.Random(4)
    size = int(512 * MiB * scale)
    data = bytearray(rand_bytes(rng, size))
    os.makedirs(f"{root}/v1")
    with open(f"{root}/v1/model.ckpt", "wb") as f:
        f.write(data)
    changed = size // 100
    per = changed // 8
    for r in range(8):
        off = (r * size) // 8 + size // 32
        data[off:off + per] = rand_bytes(rng, per)
    os.makedirs(f"{root}/v2")
    with open(f"{root}/v2/model.ckpt", "wb") as f:
        f.write(data)
    ins = 4096
    off = 64 * 1024 + 123
    data[off:off] = rand_bytes(rng, ins)
    os.makedirs(f"{root}/v3")
    with open(f"{root}/v3/model.ckpt", "wb") as f:
        f.write(data)


class Tool:
    """How one tool commits a directory and checks it out again."""

    def __init__(self, name, art):
        self.name, self.art = name, art

    def init(self, repo, data):
        os.makedirs(repo, exist_ok=True)
        a = self.art
        if self.name == "art":
            return f"{a} init -q {repo}"
        if self.name == "art-whole":
            return f"{a} init -q --no-chunking {repo}"
        if self.name == "git":
            return f"git init -q {repo} && git -C {repo} config user.email b@b && git -C {repo} config user.name b"
        if self.name == "git-lfs":
            return (f"git init -q {repo} && git -C {repo} config user.email b@b && git -C {repo} config user.name b"
                    f" && cd {repo} && git lfs install --local >/dev/null && git lfs track '*.bin' '*.ckpt' >/dev/null"
                    f" && git add .gitattributes && git commit -qm attrs && cp .gitattributes {data}/")
        if self.name == "restic":
            return f"restic init -q -r {repo}/r"
        if self.name == "borg":
            return f"borg init -e none {repo}/r"
        raise ValueError(self.name)

    def env(self):
        return {"RESTIC_PASSWORD": "bench", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
                "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes", "GIT_LFS_SKIP_PUSH": "1"}

    def commit(self, repo, data, name, tag):
        a = self.art
        if self.name.startswith("art"):
            return f"cd {repo} && {a} commit -q {name} {data}"
        if self.name in ("git", "git-lfs"):
            return f"git -C {repo} --work-tree={data} add -A . && git -C {repo} --work-tree={data} commit -qm {tag} --allow-empty"
        if self.name == "restic":
            return f"cd {data} && restic -q -r {repo}/r backup --tag {tag} ."
        if self.name == "borg":
            return f"cd {data} && borg create {repo}/r::{tag} ."
        raise ValueError(self.name)

    def checkout(self, repo, name, out, tag):
        a = self.art
        os.makedirs(out, exist_ok=True)
        if self.name.startswith("art"):
            return f"cd {repo} && {a} checkout -q {name} -o {out}"
        if self.name in ("git", "git-lfs"):
            return f"git -C {repo} --work-tree={out} checkout -f HEAD -- ."
        if self.name == "restic":
            return f"restic -q -r {repo}/r restore latest --target {out}"
        if self.name == "borg":
            return f"cd {out} && borg extract {repo}/r::{tag}"
        raise ValueError(self.name)

    def repo_size(self, repo):
        if self.name.startswith("art"):
            return du(f"{repo}/.art")
        if self.name in ("git", "git-lfs"):
            return du(f"{repo}/.git")
        return du(f"{repo}/r")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_workload(kind, tools, art, work, runs, scale, results, rss, sizes, floors):
    src = f"{work}/src-{kind}"
    if kind == "large":
        gen_large(src, scale)
    elif kind == "small":
        n = gen_small(src, scale)
    elif kind == "append":
        gen_append(src, scale)
        tools = [t for t in tools if t in ("art", "art-whole", "restic", "borg")]
    else:
        gen_checkpoint(src, scale)
    def rec(step, tool, t, r):
        results.setdefault((kind, step), {}).setdefault(tool, []).append(t)
        key = (kind, tool)
        rss[key] = max(rss.get(key, 0), r)

    for trial in range(runs):
        if kind in ("large", "small"):
            out = f"{work}/floor-cp"
            t, _ = run(f"cp -r {src} {out}")
            floors.setdefault((kind, "commit"), []).append(("cp -r", t))
            shutil.rmtree(out)
            if kind == "large":
                t, _ = run(f"b3sum {src}/*.bin >/dev/null")
                floors.setdefault((kind, "hash"), []).append(("b3sum", t))
        for name in tools:
            tool = Tool(name, art)
            repo = f"{work}/repo-{name}"
            data = f"{work}/data-{name}"
            shutil.rmtree(repo, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
            subprocess.check_call(["cp", "-r", src if kind not in ("checkpoint", "append") else f"{src}/v1", data])
            run(tool.init(repo, data), env=tool.env())
            if kind == "append":
                t, r = run(tool.commit(repo, data, "table", "v1"), env=tool.env())
                rec("commit", name, t, r)
                shutil.copy(f"{src}/v2/table.csv", f"{data}/table.csv")
                before = tool.repo_size(repo)
                t, r = run(tool.commit(repo, data, "table", "v2"), env=tool.env())
                rec("commit after 1% appended", name, t, r)
                if trial == 0:
                    added = tool.repo_size(repo) - before
                    sizes[(kind, name, "added by the append")] = added
                    sizes[(kind, name, "added, % of the file")] = f"{100 * added / os.path.getsize(f'{src}/v1/table.csv'):.2f}%"
            elif kind == "checkpoint":
                for v in ("v1", "v2", "v3"):
                    if v != "v1":
                        shutil.copy(f"{src}/{v}/model.ckpt", f"{data}/model.ckpt")
                    before = tool.repo_size(repo)
                    t, r = run(tool.commit(repo, data, "ckpt", v), env=tool.env())
                    rec(f"commit {v}", name, t, r)
                    if trial == 0:
                        sizes[(kind, name, f"added by {v}")] = tool.repo_size(repo) - before
                out = f"{work}/out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                t, r = run(tool.checkout(repo, "ckpt", out, "v3"), env=tool.env())
                rec("checkout", name, t, r)
            else:
                t, r = run(tool.commit(repo, data, "ds", "t1"), env=tool.env())
                rec("commit", name, t, r)
                t, r = run(tool.commit(repo, data, "ds", "t2"), env=tool.env())
                rec("recommit unchanged", name, t, r)
                if kind == "small":
                    change_small(data, n)
                    t, r = run(tool.commit(repo, data, "ds", "t3"), env=tool.env())
                    rec("commit after 1% changed", name, t, r)
                if trial == 0:
                    sizes[(kind, name, "repository")] = tool.repo_size(repo)
                out = f"{work}/out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                t, r = run(tool.checkout(repo, "ds", out, "t3" if kind == "small" else "t2"), env=tool.env())
                rec("checkout", name, t, r)
                shutil.rmtree(out, ignore_errors=True)
            if trial == runs - 1 and kind == "checkpoint":
                ok = subprocess.call(["cmp", "-s", f"{src}/v3/model.ckpt", f"{work}/out-{name}/model.ckpt"]) == 0
                sizes[(kind, name, "v3 checkout identical")] = ok
                if name.startswith("art"):
                    # Every version checks out with the b3sum of its source.
                    for i, v in enumerate(("v1", "v2", "v3")):
                        out = f"{work}/out-{name}-{v}"
                        run(tool.checkout(repo, f"ckpt:v{i}", out, v), env=tool.env())
                        want = subprocess.check_output(["b3sum", "--no-names", f"{src}/{v}/model.ckpt"])
                        got = subprocess.check_output(["b3sum", "--no-names", f"{out}/model.ckpt"])
                        sizes[(kind, name, f"{v} checkout b3sum equal")] = want == got
                        shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(repo, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(f"{work}/out-{name}", ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)


def fmt_s(x):
    return f"{x:.3f} s" if x < 1 else f"{x:.2f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--art", required=True)
    ap.add_argument("--peakrss", required=True, help="the tools/peakrss binary")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default="large,small,checkpoint,append")
    ap.add_argument("--tools", default="art,art-whole,git,git-lfs,restic,borg")
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp"))
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    tools = args.tools.split(",")
    ensure_peers([t for t in tools if not t.startswith("art")])
    art = os.path.abspath(args.art)
    global PEAKRSS
    PEAKRSS = os.path.abspath(args.peakrss)
    work = tempfile.mkdtemp(prefix="art-peers.", dir=args.dir)
    results, rss, sizes, floors = {}, {}, {}, {}
    try:
        for kind in args.workloads.split(","):
            print(f"== workload {kind}", file=sys.stderr)
            bench_workload(kind, tools, art, work, args.runs, args.scale, results, rss, sizes, floors)
            report(args, tools, results, rss, sizes, floors, sys.stderr)
    finally:
        subprocess.call(["chmod", "-R", "u+w", work])
        shutil.rmtree(work, ignore_errors=True)
    report(args, tools, results, rss, sizes, floors, sys.stdout)


def report(args, tools, results, rss, sizes, floors, out):
    def print(*a):
        __builtins__.print(*a, file=out)
    out.flush()
    peers = [t for t in tools if t != "art"]
    print(f"\nMedians of {args.runs} runs, scale {args.scale}, warm page cache, one file system.\n")
    print("| workload | step | " + " | ".join(tools) + " | floor | " + " | ".join(f"art/{p}" for p in peers) + " |")
    print("|---|---|" + "--:|" * len(tools) + "--:|" + "--:|" * len(peers))
    for (kind, step), by_tool in results.items():
        med = {t: median(v) for t, v in by_tool.items()}
        floor = ""
        if step == "commit" and (kind, "commit") in floors:
            cp = median([t for _, t in floors[(kind, "commit")]])
            floor = f"cp -r {fmt_s(cp)}"
            if (kind, "hash") in floors:
                floor += f", b3sum {fmt_s(median([t for _, t in floors[(kind, 'hash')]]))}"
            if "art" in med:
                floor += f" (art/cp {med['art'] / cp:.2f}x)"
        if step == "checkout" and (kind, "commit") in floors:
            cp = median([t for _, t in floors[(kind, "commit")]])
            floor = f"cp -r {fmt_s(cp)}"
            if "art" in med:
                floor += f" (art/cp {med['art'] / cp:.2f}x)"
        cells = [fmt_s(med[t]) if t in med else "" for t in tools]
        ratios = [f"{med['art'] / med[p]:.2f}" if "art" in med and p in med and med[p] > 0 else "" for p in peers]
        print(f"| {kind} | {step} | " + " | ".join(cells) + f" | {floor} | " + " | ".join(ratios) + " |")
    print("\nPeak RSS (MiB, max over the workload's steps):\n")
    kinds = sorted({k for k, _ in rss})
    print("| workload | " + " | ".join(tools) + " |")
    print("|---|" + "--:|" * len(tools))
    for k in kinds:
        print(f"| {k} | " + " | ".join(f"{rss.get((k, t), 0):.0f}" for t in tools) + " |")
    print("\nRepository bytes:\n")
    print("| workload | what | " + " | ".join(tools) + " |")
    print("|---|---|" + "--:|" * len(tools))
    whats = []
    for (k, _, w) in sizes:
        if (k, w) not in whats:
            whats.append((k, w))
    for k, w in whats:
        cells = []
        for t in tools:
            v = sizes.get((k, t, w), "")
            cells.append(str(v) if isinstance(v, (bool, str)) else f"{v / MiB:.2f} MiB")
        print(f"| {k} | {w} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
