#!/usr/bin/env python3
"""Push and pull through S3 (a local MinIO): art against rclone and restic.

Starts one MinIO server on a free 127.0.0.1 port with a temp data dir,
generates the workloads, and for each tool and run, with a fresh bucket:

  push  art: `art init`, `art commit ds DATA`, `art remote add origin
        s3://BUCKET/x` (untimed), then `art push` (timed)
        rclone: `rclone copy DATA minio:BUCKET/x` (rclone's defaults:
        --transfers 4 --checkers 8, multipart above 200 MiB in 5 MiB parts,
        4 parts at once)
        restic: `restic init` (untimed; creates the bucket), then
        `restic backup .` in DATA (restic's defaults: repository format 2,
        compression auto)
  pull  into an empty place. art: a fresh repository and `art remote add`
        (untimed), then `art pull` and separately `art checkout ds -o OUT`;
        reported alone and summed ("pull + checkout", the files on disk)
        rclone: `rclone copy minio:BUCKET/x OUT` (multi-thread download of
        files above 250 MiB in 4 streams)
        restic: `restic restore latest --target OUT` with an empty cache

Every restored tree is compared with its source (diff -r, or cmp) in every
run. Each trial has its own directories and bucket, deleted only when the
workload ends, and each workload starts 370 s after any deletion: on ext4 without a
journal, creating a file within minutes of deleting others scans past every
recently freed inode, so a deletion between steps would slow whichever step
comes next (with `perf`, 30-40% of a pull's CPU time). Each step starts
once MinIO is idle, after `sync`, and runs under the peakrss tool (wall
time, peak RSS); its CPU time and MinIO's are measured too.
The page cache stays warm; MinIO writes to the same disk.

Workloads:
  small  20,000 x 4 KiB random files in 100 directories (the dataset of
         bench_peers.py, same generator and seed)
  large  one 1 GiB random file

Prints Markdown on stdout: medians, art/rclone and art/restic ratios, the
issue's targets, peak RSS, S3 requests per step as MinIO counted them (first
run) and what each tool stored.

Usage: bench_remote.py --art BIN --peakrss BIN [--runs 3] [--scale 1]
                       [--workloads small,large] [--tools art,rclone,restic]
                       [--minio BIN] [--dir /tmp]
"""
import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_peers import apt_install, fmt_s, gen_small, median, rand_bytes  # noqa: E402

MiB = 1 << 20
DEB = {"rclone": "rclone", "restic": "restic"}
USER, PASSWORD = "benchadmin", "bench-secret-key"
STEP_TIMEOUT = 3600

PEAKRSS = None  # path of the peakrss tool, set in main


def ensure_peers(tools):
    apt_install(sorted({DEB[t] for t in tools + ["rclone"] if t in DEB and not shutil.which(t)}))


def find_minio(given):
    if given:
        return given
    m = shutil.which("minio")
    if m:
        return m
    gopath = subprocess.run(["go", "env", "GOPATH"], capture_output=True, text=True).stdout.strip()
    m = os.path.join(gopath, "bin", "minio") if gopath else ""
    if m and os.access(m, os.X_OK):
        return m
    sys.exit("minio not found on PATH or in $(go env GOPATH)/bin: run `make minio`")


def run(cmd, env, cwd=None):
    """Runs a shell command under peakrss; returns (wall seconds, peak RSS MiB).

    peakrss starts the command rather than this Python process, since the
    kernel's peak-RSS mark survives exec (as in bench_peers.py).
    """
    # Start every step with nothing dirty, so one step's writeback is not
    # charged to the next (the page cache stays warm).
    os.sync()
    out = group_run([PEAKRSS, "cmd", "--", "bash", "-c", cmd], env, cwd)
    fields = out.split()
    return float(fields[-4]), float(fields[-2])


def sh(cmd, env, cwd=None):
    """Runs an untimed setup command; returns its stdout."""
    return group_run(["bash", "-c", cmd], env, cwd)


def group_run(argv, env, cwd):
    """Runs argv in its own process group, killed whole if this script
    stops or the step times out; returns stdout, or raises on failure."""
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=STEP_TIMEOUT)
    except BaseException:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        raise
    if p.returncode != 0:
        raise RuntimeError(f"command failed ({p.returncode}): {argv[-1]}\n{err.decode(errors='replace')[-2000:]}")
    return out.decode()


def gen_large(root, scale):
    """Writes one random file of 1 GiB (scaled) as root/model.bin."""
    os.makedirs(root)
    rng = random.Random(6)
    left = int(1024 * MiB * scale)
    with open(f"{root}/model.bin", "wb") as f:
        while left:
            k = min(left, 8 * MiB)
            f.write(rand_bytes(rng, k))
            left -= k


class MinIO:
    """One MinIO server on a free loopback port, in its own process group."""

    def __init__(self, binary, work):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = f"{work}/minio-data"
        self.log = f"{work}/minio.log"
        os.makedirs(self.data)
        env = dict(os.environ, MINIO_ROOT_USER=USER, MINIO_ROOT_PASSWORD=PASSWORD, MINIO_BROWSER="off",
                   MINIO_PROMETHEUS_AUTH_TYPE="public", MINIO_UPDATE="off")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([binary, "server", "--quiet", "--address", f"127.0.0.1:{self.port}",
                                          self.data], env=env, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/minio/health/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                with open(self.log, errors="replace") as f:
                    sys.exit(f"minio did not start:\n{f.read()[-2000:]}")
            time.sleep(0.2)

    def requests(self):
        """MinIO's S3 request counters by API name."""
        with urllib.request.urlopen(f"{self.url}/minio/metrics/v3/api/requests", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line.startswith("minio_api_requests_total{"):
                labels, value = line.rsplit(" ", 1)
                name = labels.split('name="', 1)[1].split('"', 1)[0]
                out[name] = out.get(name, 0) + int(float(value))
        return out

    def cpu(self):
        """CPU seconds (user + system) the server has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, limit=15.0):
        """Waits (up to limit seconds) until the server is idle, so that
        background work left by one step (deletes, its scanner) is not
        charged to the next."""
        deadline = time.time() + limit
        while time.time() < deadline:
            c = self.cpu()
            time.sleep(0.5)
            if self.cpu() - c < 0.05:
                return

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass


def tool_env(minio, work):
    env = dict(os.environ)
    # A CA bundle is for TLS; this endpoint is plain HTTP, and rclone's AWS
    # SDK refuses to start with one set on its HTTP transport.
    env.pop("AWS_CA_BUNDLE", None)
    for k in [k for k in env if k.startswith(("AWS_", "RCLONE_", "RESTIC_"))]:
        del env[k]
    none = f"{work}/no-such-config"
    env.update({
        "AWS_ACCESS_KEY_ID": USER, "AWS_SECRET_ACCESS_KEY": PASSWORD,
        "AWS_ENDPOINT_URL": minio.url, "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
        "RCLONE_CONFIG": none,
        "RCLONE_CONFIG_MINIO_TYPE": "s3", "RCLONE_CONFIG_MINIO_PROVIDER": "Minio",
        "RCLONE_CONFIG_MINIO_ENDPOINT": minio.url, "RCLONE_CONFIG_MINIO_ACCESS_KEY_ID": USER,
        "RCLONE_CONFIG_MINIO_SECRET_ACCESS_KEY": PASSWORD, "RCLONE_CONFIG_MINIO_REGION": "us-east-1",
        "RESTIC_PASSWORD": "bench",
    })
    return env


def identical(src, out, kind):
    if kind == "large":
        return subprocess.call(["cmp", "-s", f"{src}/model.bin", f"{out}/model.bin"]) == 0
    return subprocess.call(["diff", "-r", "-q", src, out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) == 0


def bench_tool(name, kind, src, art, work, minio, env, trial, rec, first):
    bucket = f"bench-{name}-{kind}-{trial}"
    rem = f"minio:{bucket}/x"
    restic_repo = f"s3:{minio.url}/{bucket}"
    # Every trial has its own directories, and nothing is deleted until the
    # workload ends (see cleanup): on ext4 without a journal, a file created
    # within a minute of deleting others scans past every such inode, so a
    # deletion here would be charged to whichever step runs next.
    tag = f"{name}-{trial}"
    repo, repo2, out = f"{work}/repo-{tag}", f"{work}/repo2-{tag}", f"{work}/out-{tag}"
    caches = (f"{work}/restic-cache-push-{tag}", f"{work}/restic-cache-pull-{tag}")
    rec.leftovers.append((bucket, (repo, repo2, out) + caches))

    def step(label, cmd, cwd=None):
        minio.settle()
        before = minio.requests() if first else None
        ru0, m0 = resource.getrusage(resource.RUSAGE_CHILDREN), minio.cpu()
        t, r = run(cmd, env, cwd)
        ru1, m1 = resource.getrusage(resource.RUSAGE_CHILDREN), minio.cpu()
        # The step's own CPU time: peakrss waits for the command, so its
        # rusage holds the whole tree's.
        own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        rec.cpu.setdefault((kind, label, name), []).append((t, own, m1 - m0))
        if first:
            after = minio.requests()
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            rec.requests[(kind, label, name)] = {k: v for k, v in delta.items() if v}
        return t, r

    # push
    if name == "art":
        sh(f"rclone -q mkdir minio:{bucket}", env)
        sh(f"{art} init -q {repo} && cd {repo} && {art} commit -q ds {src} && "
           f"{art} remote add -q origin s3://{bucket}/x", env)
        t, r = step("push", f"{art} push -q", cwd=repo)
    elif name == "rclone":
        sh(f"rclone -q mkdir minio:{bucket}", env)
        t, r = step("push", f"rclone -q copy {src} {rem}")
    else:
        env = dict(env, RESTIC_CACHE_DIR=caches[0])
        sh(f"restic -q -r {restic_repo} init", env)
        t, r = step("push", f"cd {src} && restic -q -r {restic_repo} backup .")
    rec.add(kind, "push", name, t, r)

    # pull into an empty place
    if name == "art":
        sh(f"{art} init -q {repo2} && cd {repo2} && {art} remote add -q origin s3://{bucket}/x", env)
        t1, r1 = step("pull", f"{art} pull -q", cwd=repo2)
        t2, r2 = step("checkout", f"{art} checkout -q ds -o {out}", cwd=repo2)
        rec.add(kind, "pull", name, t1, r1)
        rec.add(kind, "checkout", name, t2, r2)
        rec.add(kind, "pull + checkout", name, t1 + t2, max(r1, r2))
    elif name == "rclone":
        t, r = step("pull", f"rclone -q copy {rem} {out}")
        rec.add(kind, "pull", name, t, r)
        rec.add(kind, "pull + checkout", name, t, r)
    else:
        env = dict(env, RESTIC_CACHE_DIR=caches[1])
        t, r = step("pull", f"restic -q -r {restic_repo} restore latest --target {out}")
        rec.add(kind, "pull", name, t, r)
        rec.add(kind, "pull + checkout", name, t, r)

    ok = identical(src, out, kind)
    rec.verified.setdefault((kind, name), []).append(ok)
    if not ok:
        raise RuntimeError(f"{name} restored {kind} differently from its source ({src} vs {out})")
    if first:
        size = json.loads(sh(f"rclone size --json minio:{bucket}", env))
        rec.stored[(kind, name)] = (size["count"], size["bytes"])


# QUIET is how long after deleting files a workload waits before it
# starts: ext4 without a journal will not reuse an inode freed in the last
# 60 s, or 360 s while its inode-table block is dirty, and every file
# created meanwhile scans past all such inodes of its block group.
QUIET = 370


def cleanup(rec, env):
    """Deletes the buckets and directories of the trials run so far."""
    for bucket, dirs in rec.leftovers:
        sh(f"rclone -q purge minio:{bucket}", env)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    rec.leftovers = []
    sh("sync", env)


def check_space(where, kind, runs, scale, tools):
    """Refuses to start when the trials of a workload cannot all fit, since
    nothing is deleted until the workload ends."""
    if kind != "large":
        return
    # Per run: art's pushing and pulling repositories and checkout, each
    # other tool's restore, and every tool's bucket.
    per_run = (3 if "art" in tools else 0) + 2 * len(tools)
    need = per_run * runs * scale * (1 << 30) * 1.1
    free = shutil.disk_usage(where).free
    if free < need:
        raise SystemExit(f"bench_remote: the large workload needs {need / (1 << 30):.0f} GiB free in {where}, "
                         f"there are {free / (1 << 30):.0f}; set BENCH_DIR, or lower --runs or --scale")


class Record:
    def __init__(self):
        self.times, self.rss, self.requests, self.stored, self.verified = {}, {}, {}, {}, {}
        self.cpu = {}  # (kind, step, tool) -> [(wall, tool CPU, MinIO CPU)]
        self.leftovers = []  # (bucket, dirs) of trials not yet cleaned up

    def add(self, kind, step, tool, t, r):
        self.times.setdefault((kind, step), {}).setdefault(tool, []).append(t)
        group = "push" if step == "push" else "pull"
        key = (kind, group, tool)
        self.rss[key] = max(self.rss.get(key, 0), r)


def versions(art, minio_bin):
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"
    mv = first_line([minio_bin, "--version"])
    return (f"{first_line(['go', 'version'])}; {mv}; {first_line(['rclone', 'version'])}; "
            f"{first_line(['restic', 'version'])}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--art", required=True)
    ap.add_argument("--peakrss", required=True, help="the tools/peakrss binary")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workloads", default="small,large")
    ap.add_argument("--tools", default="art,rclone,restic")
    ap.add_argument("--minio", default="", help="the minio binary (default: PATH, then $(go env GOPATH)/bin)")
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/tmp"))
    ap.add_argument("--quiet", type=float, default=QUIET,
                    help="seconds to wait before each workload for earlier deletions to age")
    args = ap.parse_args()
    tools = args.tools.split(",")
    ensure_peers(tools)
    minio_bin = find_minio(args.minio)
    art = os.path.abspath(args.art)
    global PEAKRSS
    PEAKRSS = os.path.abspath(args.peakrss)
    # Stop cleanly (MinIO stopped, temp dirs removed) on SIGTERM, and on
    # SIGINT even where a background start left it ignored.
    def stop(signum, frame):
        raise SystemExit(f"bench_remote: signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rec = Record()
    work = tempfile.mkdtemp(prefix="art-remote.", dir=args.dir)
    minio = None
    try:
        minio = MinIO(minio_bin, work)
        env = tool_env(minio, work)
        for kind in args.workloads.split(","):
            check_space(work, kind, args.runs, args.scale, tools)
            # Files deleted just before (the last workload's, or whatever
            # ran before this script) would slow the first steps.
            print(f"== waiting {args.quiet:.0f} s for recent deletions to age", file=sys.stderr)
            time.sleep(args.quiet)
            print(f"== workload {kind}", file=sys.stderr)
            src = f"{work}/src-{kind}"
            if kind == "small":
                gen_small(src, args.scale)
            elif kind == "large":
                gen_large(src, args.scale)
            else:
                raise SystemExit(f"unknown workload {kind}")
            for trial in range(args.runs):
                for name in tools:
                    print(f"   run {trial + 1}/{args.runs}: {name}", file=sys.stderr)
                    bench_tool(name, kind, src, art, work, minio, env, trial, rec, trial == 0)
            cleanup(rec, env)
            shutil.rmtree(src, ignore_errors=True)
            report(args, tools, rec, sys.stderr, "")
    finally:
        if minio:
            minio.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(args, tools, rec, sys.stdout, versions(art, minio_bin))


def report(args, tools, rec, out, vers):
    def p(*a):
        print(*a, file=out)
    out.flush()
    peers = [t for t in tools if t != "art"]
    p(f"\nMedians of {args.runs} runs, scale {args.scale}, one MinIO on 127.0.0.1 (same disk), "
      "warm page cache, `sync` and an idle MinIO before each step.")
    if vers:
        p(f"Versions: {vers}.")
    p("\nart \"pull\" stores the objects in a fresh repository; \"pull + checkout\" (the sum of the "
      "two steps in each run) puts the files on disk, as rclone's copy and restic's restore do. "
      "Ratios of both pull rows are against the peers' single pull step.\n")
    p("| workload | step | " + " | ".join(tools) + " | " + " | ".join(f"art/{q}" for q in peers) + " |")
    p("|---|---|" + "--:|" * (len(tools) + len(peers)))
    med = {}
    for (kind, step), by_tool in rec.times.items():
        m = {t: median(v) for t, v in by_tool.items()}
        med[(kind, step)] = m
        peer_step = "pull + checkout" if step in ("pull", "checkout") else step
        cells = [fmt_s(m[t]) if t in m else "" for t in tools]
        ratios = []
        for q in peers:
            qm = rec.times.get((kind, peer_step), {}).get(q)
            if "art" in m and qm and step != "checkout":
                ratios.append(f"{m['art'] / median(qm):.2f}")
            else:
                ratios.append("")
        p(f"| {kind} | {step} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")

    p("\nTargets (issue 6): faster than rclone and restic on small files, within 1.2x of rclone on "
      "the large file:\n")
    p("| target | measured | |")
    p("|---|--:|---|")

    def ratio(kind, step, peer):
        m = med.get((kind, step), {})
        if "art" in m and peer in m and m[peer] > 0:
            return m["art"] / m[peer]
        return None
    for kind, step, peer, limit in [("small", "push", "rclone", 1.0), ("small", "push", "restic", 1.0),
                                    ("small", "pull + checkout", "rclone", 1.0),
                                    ("small", "pull + checkout", "restic", 1.0),
                                    ("large", "push", "rclone", 1.2),
                                    ("large", "pull + checkout", "rclone", 1.2)]:
        x = ratio(kind, step, peer)
        if x is None:
            continue
        cmp = "<" if limit == 1.0 else "≤"
        p(f"| {kind} {step}: art/{peer} {cmp} {limit:g} | {x:.2f} | {'met' if (x < limit if limit == 1.0 else x <= limit) else 'missed'} |")

    p("\nPeak RSS (MiB, max over runs; pull includes art's checkout):\n")
    p("| workload | step | " + " | ".join(tools) + " |")
    p("|---|---|" + "--:|" * len(tools))
    for kind in sorted({k for k, _, _ in rec.rss}, reverse=True):
        for group in ("push", "pull"):
            p(f"| {kind} | {group} | " + " | ".join(f"{rec.rss.get((kind, group, t), 0):.0f}" for t in tools) + " |")

    ncpu = os.cpu_count() or 1
    p(f"\nCPU seconds per step (user + system, medians; rest = {ncpu} cores x wall - tool - MinIO: idle, waiting on the disk, or other processes):\n")
    p("| workload | step | tool | wall | tool CPU | MinIO CPU | rest |")
    p("|---|---|---|--:|--:|--:|--:|")
    for (kind, step, tool), xs in rec.cpu.items():
        w, c, m = (median([x[i] for x in xs]) for i in range(3))
        rest = max(0.0, ncpu * w - c - m)
        p(f"| {kind} | {step} | {tool} | {fmt_s(w)} | {c:.2f} s | {m:.2f} s | {rest:.2f} s |")

    p("\nS3 requests per step, as MinIO counted them (first run):\n")
    p("| workload | step | tool | requests | by API |")
    p("|---|---|---|--:|---|")
    for (kind, step, tool), by_api in rec.requests.items():
        total = sum(by_api.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(by_api.items(), key=lambda kv: -kv[1]))
        p(f"| {kind} | {step} | {tool} | {total} | {detail} |")

    p("\nStored in the bucket (first run), and restored trees identical to the source (every run):\n")
    p("| workload | tool | objects | bytes | identical |")
    p("|---|---|--:|--:|---|")
    for (kind, tool), (count, size) in rec.stored.items():
        v = rec.verified.get((kind, tool), [])
        p(f"| {kind} | {tool} | {count} | {size / MiB:.2f} MiB | {sum(v)}/{len(v)} runs |")


if __name__ == "__main__":
    main()
