#!/usr/bin/env python3
"""Push and pull through S3 (a local MinIO): art against rclone, restic and kopia.

Every trial of every workload runs on a file system made for it
(benchlib.fresh_fs: a sparse image formatted as ext4 with its journal, and
again as XFS) holding the source, MinIO's data and every tool's directories,
with one MinIO server started on it (a free 127.0.0.1 port). Nothing is
deleted until the trial ends, so no tool pays for another's deletions. For
each tool, with its own bucket:

  push  art: `art init`, `art commit ds DATA`, `art remote add origin
        s3://BUCKET/x` (untimed), then `art push` (timed)
        rclone: `rclone copy DATA minio:BUCKET/x` (rclone's defaults:
        --transfers 4 --checkers 8, multipart above 200 MiB in 5 MiB parts)
        restic: `restic init` (untimed), then `restic backup .` in DATA
        (repository format 2, compression auto)
        kopia: `kopia repository create s3` (untimed), then
        `kopia snapshot create DATA` (its defaults: DYNAMIC-4M-BUZHASH
        splitter, encryption, maintenance when due)
  pull  into an empty place. art: a fresh repository and `art remote add`
        (untimed), then `art pull` and separately `art checkout ds -o OUT`;
        reported alone and summed ("pull + checkout", the files on disk)
        rclone: `rclone copy minio:BUCKET/x OUT`
        restic: `restic restore latest --target OUT` with an empty cache
        kopia: `kopia repository connect s3` with an empty cache and
        finding the snapshot (untimed), then `kopia restore ROOT OUT`

Every restored tree is compared with its source (diff -r, or cmp) in every
run. Each step starts once MinIO is idle, after `sync`, and runs under the
peakrss tool (wall time, peak RSS); its CPU time and MinIO's are measured.
The page cache stays warm.

Workloads:
  small  20,000 x 4 KiB random files in 100 directories (the dataset of
         bench_peers.py, same generator and seed)
  large  one 1 GiB random file

Writes Markdown (medians, art/peer ratios, the targets, peak RSS, S3
requests per step as MinIO counted them, what each tool stored): at
--scale 1 to docs/bench-remote.md and the README, else to bin/bench/.

Usage: bench_remote.py --art BIN --peakrss BIN [--runs 3] [--scale 1]
                       [--workloads small,large] [--tools art,rclone,restic,kopia]
                       [--fs ext4,xfs] [--minio BIN] [--dir /var/tmp] [--no-write]
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import MiB, GiB  # noqa: E402

USER, PASSWORD = "benchadmin", "bench-secret-key"


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
    for k in [k for k in env if k.startswith(("AWS_", "RCLONE_", "RESTIC_", "KOPIA_"))]:
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
        "KOPIA_PASSWORD": "bench", "KOPIA_CHECK_FOR_UPDATES": "false", "HOME": f"{work}/home",
    })
    return env


def identical(src, out, kind):
    if kind == "large":
        return subprocess.call(["cmp", "-s", f"{src}/model.bin", f"{out}/model.bin"]) == 0
    return subprocess.call(["diff", "-r", "-q", src, out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) == 0


def bench_tool(fk, name, kind, src, art, peakrss, work, minio, env, trial, rec, first):
    bucket = f"bench-{name}-{kind}-{trial}"
    rem = f"minio:{bucket}/x"
    restic_repo = f"s3:{minio.url}/{bucket}"
    # Every tool has its own directories on this trial's file system, and
    # nothing is deleted until the trial ends.
    repo, repo2, out = f"{work}/{name}/repo", f"{work}/{name}/repo2", f"{work}/{name}/out"
    os.makedirs(f"{work}/{name}")
    kopia_s3 = (f"s3 --bucket={bucket} --endpoint=127.0.0.1:{minio.port} --disable-tls "
                f"--access-key={USER} --secret-access-key={PASSWORD} --region=us-east-1")

    def kenv(side):
        return dict(env, KOPIA_CONFIG_PATH=f"{work}/{name}/kopia-{side}.config",
                    KOPIA_CACHE_DIRECTORY=f"{work}/{name}/kopia-cache-{side}",
                    KOPIA_LOG_DIR=f"{work}/{name}/kopia-logs-{side}")

    def step(label, cmd, cwd=None, env=env):
        minio.settle()
        before = minio.requests() if first else None
        ru0, m0 = resource.getrusage(resource.RUSAGE_CHILDREN), minio.cpu()
        s = bl.run(peakrss, cmd, cwd=cwd, env=env)
        ru1, m1 = resource.getrusage(resource.RUSAGE_CHILDREN), minio.cpu()
        own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        rec.cpu.setdefault((fk, kind, label, name), []).append((s.wall, own, m1 - m0))
        if first:
            after = minio.requests()
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            rec.requests[(fk, kind, label, name)] = {k: v for k, v in delta.items() if v}
        return s

    # push
    if name == "art":
        bl.sh(f"rclone -q mkdir minio:{bucket}", env=env)
        bl.sh(f"{art} init -q {repo} && cd {repo} && {art} commit -q ds {src} && "
              f"{art} remote add -q origin s3://{bucket}/x", env=env)
        s = step("push", f"{art} push -q", cwd=repo)
    elif name == "rclone":
        bl.sh(f"rclone -q mkdir minio:{bucket}", env=env)
        s = step("push", f"rclone -q copy {src} {rem}")
    elif name == "restic":
        e = dict(env, RESTIC_CACHE_DIR=f"{work}/{name}/cache-push")
        bl.sh(f"restic -q -r {restic_repo} init", env=e)
        s = step("push", f"cd {src} && restic -q -r {restic_repo} backup .", env=e)
    else:
        bl.sh(f"rclone -q mkdir minio:{bucket}", env=env)
        bl.sh(f"kopia repository create {kopia_s3} >/dev/null 2>&1", env=kenv("push"))
        s = step("push", f"kopia snapshot create --no-progress {src} >/dev/null 2>&1", env=kenv("push"))
    rec.add(fk, kind, "push", name, s)

    # pull into an empty place
    if name == "art":
        bl.sh(f"{art} init -q {repo2} && cd {repo2} && {art} remote add -q origin s3://{bucket}/x", env=env)
        s1 = step("pull", f"{art} pull -q", cwd=repo2)
        s2 = step("checkout", f"{art} checkout -q ds -o {out}", cwd=repo2)
        rec.add(fk, kind, "pull", name, s1)
        rec.add(fk, kind, "checkout", name, s2)
        rec.add(fk, kind, "pull + checkout", name,
                bl.Step(s1.wall + s2.wall, max(s1.rss, s2.rss), s1.user + s2.user, s1.sys + s2.sys))
    else:
        if name == "rclone":
            s = step("pull", f"rclone -q copy {rem} {out}")
        elif name == "restic":
            e = dict(env, RESTIC_CACHE_DIR=f"{work}/{name}/cache-pull")
            s = step("pull", f"restic -q -r {restic_repo} restore latest --target {out}", env=e)
        else:
            e = kenv("pull")
            bl.sh(f"kopia repository connect {kopia_s3} >/dev/null 2>&1", env=e)
            snaps = json.loads(bl.sh("kopia snapshot list --all --json", env=e))
            s = step("pull", f"kopia restore --no-progress {snaps[-1]['rootEntry']['obj']} {out} >/dev/null 2>&1",
                     env=e)
        rec.add(fk, kind, "pull", name, s)
        rec.add(fk, kind, "pull + checkout", name, s)

    ok = identical(src, out, kind)
    rec.verified.setdefault((fk, kind, name), []).append(ok)
    if not ok:
        raise RuntimeError(f"{name} restored {kind} differently from its source ({src} vs {out})")
    if first:
        size = json.loads(bl.sh(f"rclone size --json minio:{bucket}", env=env))
        rec.stored[(fk, kind, name)] = (size["count"], size["bytes"])


def gen_large(root, scale):
    """Writes one random file of 1 GiB (scaled) as root/model.bin."""
    os.makedirs(root)
    bl.write_random(f"{root}/model.bin", int(1024 * MiB * scale), 6)


def image_size(kind, scale, tools):
    """(sparse image bytes, bytes written) for one trial."""
    if kind == "small":
        return 16 * GiB, int(2 * GiB * scale)
    # art: pushing and pulling repositories, checkout and bucket; every
    # other tool: its bucket and restore; plus the source.
    need = ((4 if "art" in tools else 0) + 2 * len([t for t in tools if t != "art"]) + 1) * scale * GiB * 1.1
    return int(max(need * 1.5, 16 * GiB)), int(need)


class Record:
    def __init__(self):
        self.times, self.rss, self.requests, self.stored, self.verified = {}, {}, {}, {}, {}
        self.cpu = {}  # (fs, kind, step, tool) -> [(wall, tool CPU, MinIO CPU)]

    def add(self, fk, kind, step, tool, s):
        self.times.setdefault((fk, kind, step), {}).setdefault(tool, []).append(s.wall)
        group = "push" if step == "push" else "pull"
        key = (fk, kind, group, tool)
        self.rss[key] = max(self.rss.get(key, 0), s.rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--art", required=True)
    ap.add_argument("--peakrss", required=True, help="the tools/peakrss binary")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workloads", default="small,large")
    ap.add_argument("--tools", default="art,rclone,restic,kopia")
    ap.add_argument("--fs", default=os.environ.get("BENCH_FS", "ext4,xfs"))
    ap.add_argument("--minio", default="", help="the minio binary (default: PATH, then $(go env GOPATH)/bin)")
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR", "/var/tmp"))
    ap.add_argument("--no-write", action="store_true", help="never replace docs/ and the README")
    args = ap.parse_args()
    tools = bl.choose("tool", args.tools, ["art", "rclone", "restic", "kopia"])
    workloads = bl.choose("workload", args.workloads, ["small", "large"])
    versions = bl.ensure_tools([t for t in tools if t != "art"] + ["rclone"])
    minio_bin = find_minio(args.minio)
    os.environ["MINIO_BIN"] = minio_bin
    versions["minio"] = bl.tool_version("minio")
    art, peakrss = os.path.abspath(args.art), os.path.abspath(args.peakrss)
    bl.require_binaries(art=art, peakrss=peakrss)
    bl.set_commit(art)

    # Stop cleanly (MinIO stopped, images unmounted) on SIGTERM, and on
    # SIGINT even where a background start left it ignored.
    bl.stop_on_signals()
    kinds = bl.fs_kinds(args.fs)
    rec = Record()
    for fk in kinds:
        for kind in workloads:
            size, need = image_size(kind, args.scale, tools)
            for trial in range(args.runs):
                bl.check_space(args.dir, need, f"a trial of the {kind} workload")
                bl.log(f"== {fk}: workload {kind}, run {trial + 1}/{args.runs}")
                with bl.fresh_fs(fk, size, args.dir, f"remote-{kind}-{trial}") as fs:
                    work = fs.path
                    os.makedirs(f"{work}/home")
                    src = f"{work}/src"
                    if kind == "small":
                        bl.gen_small(src, args.scale)
                    else:
                        gen_large(src, args.scale)
                    minio = MinIO(minio_bin, work)
                    try:
                        env = tool_env(minio, work)
                        for name in tools:
                            bl.log(f"   {name}")
                            bench_tool(fk, name, kind, src, art, peakrss, work, minio, env, trial, rec, trial == 0)
                    finally:
                        minio.stop()
    bl.publish(args, "bench-remote.md", *report(args, tools, kinds, versions, rec))


TARGETS = [("small", "push", "rclone", 1.0), ("small", "push", "restic", 1.0),
           ("small", "pull + checkout", "rclone", 1.0), ("small", "pull + checkout", "restic", 1.0),
           ("large", "push", "rclone", 1.2), ("large", "pull + checkout", "rclone", 1.2)]
KIND_TITLE = {"small": "20,000 x 4 KiB", "large": "1 GiB file"}


def times_table(rec, fk, tools):
    peers = [t for t in tools if t != "art"]
    lines = ["| workload | step | " + " | ".join(tools) + " | " + " | ".join(f"art/{q}" for q in peers) + " |",
             "|---|---|" + "--:|" * (len(tools) + len(peers))]
    med = {}
    for (f, kind, step), by_tool in rec.times.items():
        if f != fk:
            continue
        m = {t: bl.median(v) for t, v in by_tool.items()}
        med[(kind, step)] = m
    for (kind, step), m in med.items():
        peer_step = "pull + checkout" if step in ("pull", "checkout") else step
        cells = [bl.fmt_s(m[t]) if t in m else "" for t in tools]
        ratios = []
        for q in peers:
            qm = med.get((kind, peer_step), {}).get(q)
            ratios.append(f"{m['art'] / qm:.2f}" if "art" in m and qm and step != "checkout" else "")
        lines.append(f"| {KIND_TITLE[kind]} | {step} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines) + "\n", med


def targets_table(med):
    lines = ["| target | measured | |", "|---|--:|---|"]
    for kind, step, peer, limit in TARGETS:
        m = med.get((kind, step), {})
        if "art" not in m or peer not in m or m[peer] <= 0:
            continue
        x = m["art"] / m[peer]
        met = x < limit if limit == 1.0 else x <= limit
        lines.append(f"| {KIND_TITLE[kind]} {step}: art/{peer} {'<' if limit == 1.0 else '≤'} {limit:g} | "
                     f"{x:.2f} | {'met' if met else 'missed'} |")
    return "\n".join(lines) + "\n"


def report(args, tools, kinds, versions, rec):
    explain = (f"Medians of {args.runs} runs at scale {args.scale}; one MinIO on 127.0.0.1 with its data on the "
               "trial's file system; `sync` and an idle MinIO before each step. art \"pull\" stores the objects "
               "in a fresh repository; \"pull + checkout\" (the sum of the two steps) puts the files on disk, as "
               "the peers' single pull step does, and both pull rows are compared with it.")
    parts = ["# Push and pull through MinIO (`make bench-remote`)\n",
             bl.header("bench-remote", kinds, versions, explain), ""]
    blocks = {}
    for fk in kinds:
        table, med = times_table(rec, fk, tools)
        parts += [f"## {bl.describe_fs(fk)}\n", table,
                  "Targets (issue 6): faster than rclone and restic on small files, within 1.2x of rclone on "
                  "the large file:\n", targets_table(med)]
        if fk == kinds[0]:
            blocks["remote"] = bl.header("bench-remote", [fk], versions,
                                         f"Medians of {args.runs} runs; ratio = art / peer.") + "\n" + table
        parts.append("Peak RSS (MiB, max over runs; pull includes art's checkout):\n")
        parts.append("| workload | step | " + " | ".join(tools) + " |")
        parts.append("|---|---|" + "--:|" * len(tools))
        for kind in ("small", "large"):
            for group in ("push", "pull"):
                if any((fk, kind, group, t) in rec.rss for t in tools):
                    parts.append(f"| {KIND_TITLE[kind]} | {group} | " +
                                 " | ".join(f"{rec.rss.get((fk, kind, group, t), 0):.0f}" for t in tools) + " |")
        ncpu = os.cpu_count() or 1
        parts.append(f"\nCPU seconds per step (user + system, medians; rest = {ncpu} cores x wall - tool - MinIO: "
                     "idle, waiting on the disk, or other processes):\n")
        parts.append("| workload | step | tool | wall | tool CPU | MinIO CPU | rest |")
        parts.append("|---|---|---|--:|--:|--:|--:|")
        for (f, kind, step, tool), xs in rec.cpu.items():
            if f != fk:
                continue
            w, c, m = (bl.median([x[i] for x in xs]) for i in range(3))
            parts.append(f"| {KIND_TITLE[kind]} | {step} | {tool} | {bl.fmt_s(w)} | {c:.2f} s | {m:.2f} s | "
                         f"{max(0.0, ncpu * w - c - m):.2f} s |")
        parts.append("\nS3 requests per step, as MinIO counted them (first run):\n")
        parts.append("| workload | step | tool | requests | by API |")
        parts.append("|---|---|---|--:|---|")
        for (f, kind, step, tool), by_api in rec.requests.items():
            if f != fk:
                continue
            detail = ", ".join(f"{k} {v}" for k, v in sorted(by_api.items(), key=lambda kv: -kv[1]))
            parts.append(f"| {KIND_TITLE[kind]} | {step} | {tool} | {sum(by_api.values())} | {detail} |")
        parts.append("\nStored in the bucket (first run), and restored trees identical to the source (every run):\n")
        parts.append("| workload | tool | objects | bytes | identical |")
        parts.append("|---|---|--:|--:|---|")
        for (f, kind, tool), (count, size) in rec.stored.items():
            if f != fk:
                continue
            v = rec.verified.get((f, kind, tool), [])
            parts.append(f"| {KIND_TITLE[kind]} | {tool} | {count} | {size / MiB:.2f} MiB | {sum(v)}/{len(v)} runs |")
        parts.append("")
    return "\n".join(parts) + "\n", blocks


if __name__ == "__main__":
    main()
