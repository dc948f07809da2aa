"""What every benchmark harness of art shares.

- Peers, pinned: restic, kopia, rclone and git-lfs are built from the Go
  module proxy into a cache directory (ensure_tools); git, borg, b3sum and
  xfsprogs come from Debian.
- A fresh file system per trial (fresh_fs): a sparse image file formatted
  as ext4 with its default journal (or XFS) and loop-mounted, so no tool
  pays for another's deletions and nothing runs on the host's own file
  system. Where loop devices cannot be used, a plain directory, and every
  report says so loudly.
- run(): one timed step under tools/peakrss (wall, peak RSS, CPU).
- Reports: Markdown tables with a header naming the commit, date, file
  system, machine and peer versions; write_block() puts a table between
  `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in the README.
"""
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

MiB = 1 << 20
GiB = 1 << 30
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Peers built from the Go module proxy: name -> (module, version, package
# directory inside the module). `go install module@version` would look up
# the module's version list for deprecations, which this proxy refuses for
# some modules, so the module is downloaded at its exact version and built
# from its own directory.
GO_PEERS = {
    "restic": ("github.com/restic/restic", "v0.18.1", "./cmd/restic"),
    "kopia": ("github.com/kopia/kopia", "v0.22.3", "."),
    "rclone": ("github.com/rclone/rclone", "v1.76.0", "."),
    "git-lfs": ("github.com/git-lfs/git-lfs/v3", "v3.8.1", "."),
}
# Peers and helpers from Debian: command -> package.
DEB = {"git": "git", "borg": "borgbackup", "b3sum": "b3sum", "mkfs.xfs": "xfsprogs"}


def cache_dir():
    """Where built peers and their logs live (never in the repository)."""
    base = os.environ.get("ART_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "art-bench")
    os.makedirs(os.path.join(base, "bin"), exist_ok=True)
    return base


def stop_on_signals():
    """Makes SIGTERM and SIGINT raise SystemExit, so that every `finally`
    runs: servers stopped, scratch file systems unmounted and removed."""
    import signal

    def stop(signum, frame):
        raise SystemExit(f"bench: stopped by signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def apt_install(missing):
    """Installs the Debian packages missing (none: nothing to do); returns
    whether they all installed."""
    if not missing:
        return True
    log(f"installing from Debian: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    cmd = sudo + ["apt-get", "install", "-y", "-q"] + missing
    if subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL) == 0:
        return True
    subprocess.call(sudo + ["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    return subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL) == 0


def go_peer(name):
    """Builds the pinned peer NAME into the cache (once) and returns its path."""
    module, version, pkg = GO_PEERS[name]
    bindir = os.path.join(cache_dir(), "bin")
    exe, stamp = os.path.join(bindir, name), os.path.join(bindir, name + ".version")
    if os.access(exe, os.X_OK) and os.path.exists(stamp) and open(stamp).read().strip() == version:
        return exe
    log(f"building {name} {version} from the Go module proxy into {bindir} (once; a few minutes)")
    env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")
    info = json.loads(subprocess.check_output(["go", "mod", "download", "-json", f"{module}@{version}"],
                                              env=env, cwd=cache_dir()))
    if info.get("Error"):
        raise SystemExit(f"bench: cannot download {module}@{version}: {info['Error']}")
    out = os.path.join(bindir, name + ".tmp")
    subprocess.check_call(["go", "build", "-trimpath", "-o", out, pkg], cwd=info["Dir"], env=env)
    os.replace(out, exe)
    with open(stamp, "w") as f:
        f.write(version + "\n")
    return exe


def ensure_tools(names):
    """Makes every tool in names runnable (building or installing it) and
    puts the cache's bin directory first on PATH, so `git lfs` finds the
    pinned git-lfs. Returns {name: version string}."""
    bindir = os.path.join(cache_dir(), "bin")
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    for n in names:
        if n in GO_PEERS:
            go_peer(n)
    missing = sorted({DEB[n] for n in names if n in DEB and not shutil.which(n)})
    if missing and not apt_install(missing):
        raise SystemExit(f"bench: could not install {' '.join(missing)} from Debian")
    return {n: tool_version(n) for n in names if n not in ("b3sum", "mkfs.xfs")}


def tool_version(name):
    cmds = {"git": ["git", "--version"], "git-lfs": ["git-lfs", "version"], "restic": ["restic", "version"],
            "kopia": ["kopia", "--version"], "rclone": ["rclone", "version"], "borg": ["borg", "--version"],
            "minio": [os.environ.get("MINIO_BIN", "minio"), "--version"]}
    if name in GO_PEERS:
        return f"{name} {GO_PEERS[name][1]} (built from the Go module proxy)"
    if name not in cmds:
        return ""
    try:
        out = subprocess.run(cmds[name], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.splitlines()[0] if out else "?"


# ---------------------------------------------------------------- file systems

class FS:
    """A mounted scratch file system (or a plain directory)."""

    def __init__(self, kind, path, note):
        self.kind, self.path, self.note = kind, path, note


_fs_ok = None


def loop_available():
    """Whether this process can make and mount loop devices (root, losetup)."""
    global _fs_ok
    if _fs_ok is None:
        _fs_ok = os.geteuid() == 0 and shutil.which("losetup") is not None and \
            subprocess.call(["losetup", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    return _fs_ok


def fs_kinds(asked):
    """The file systems to run on, from a comma list (ext4, xfs): xfs only
    where mkfs.xfs is installed or installable; 'dir' (loudly) where loop
    devices are unavailable."""
    if not loop_available():
        log("bench: *** NO LOOP DEVICES (not root, or no losetup): running on a plain directory of the "
            "host file system; the figures include its state and earlier deletions ***")
        return ["dir"]
    kinds = []
    for k in asked.split(","):
        k = k.strip()
        if k == "xfs" and not shutil.which("mkfs.xfs") and not apt_install(["xfsprogs"]):
            log("bench: mkfs.xfs is not installable: skipping XFS")
            continue
        if k not in ("ext4", "xfs", "dir"):
            raise SystemExit(f"bench: unknown file system {k!r} (ext4, xfs, dir)")
        kinds.append(k)
    return kinds


def describe_fs(kind):
    if kind == "ext4":
        return ("ext4 (mkfs.ext4 defaults: 4 KiB blocks, its journal, data=ordered; inode tables "
                "initialized at mkfs) on a fresh sparse image, loop-mounted with direct I/O")
    if kind == "xfs":
        return "XFS (mkfs.xfs defaults, reflink on) on a fresh sparse image, loop-mounted with direct I/O"
    return "*** a plain directory of the host file system (no loop devices): NOT a fresh file system ***"


@contextlib.contextmanager
def fresh_fs(kind, size, where, label):
    """Yields an FS made for one trial: a sparse image of size bytes in
    where, formatted and mounted, removed whole afterwards (one large file,
    so the host file system keeps no freed inodes of ours)."""
    if kind == "dir":
        d = tempfile.mkdtemp(prefix=f"art-bench-{label}.", dir=where)
        try:
            yield FS(kind, d, describe_fs(kind))
        finally:
            subprocess.call(["chmod", "-R", "u+w", d])
            shutil.rmtree(d, ignore_errors=True)
        return
    top = tempfile.mkdtemp(prefix=f"art-bench-{label}.", dir=where)
    img, mnt = os.path.join(top, "fs.img"), os.path.join(top, "mnt")
    dev = None
    size = -(-size // MiB) * MiB  # whole sectors, for the loop device
    try:
        with open(img, "wb") as f:
            f.truncate(size)
        if kind == "ext4":
            subprocess.check_call(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", img])
        else:
            subprocess.check_call(["mkfs.xfs", "-q", "-f", img])
        dev = subprocess.check_output(["losetup", "-f", "--show", "--direct-io=on", img], text=True).strip()
        os.makedirs(mnt)
        subprocess.check_call(["mount", dev, mnt])
        os.chmod(mnt, 0o777)
        yield FS(kind, mnt, describe_fs(kind))
    finally:
        if os.path.ismount(mnt):
            subprocess.call(["sync"])
            if subprocess.call(["umount", mnt]) != 0:
                subprocess.call(["umount", "-l", mnt])
        if dev:
            subprocess.call(["losetup", "-d", dev])
        if os.path.ismount(mnt):
            log(f"bench: {mnt} is still mounted; unmount it and remove {top} by hand")
        else:
            # Everything under top is this trial's: the image, and whatever
            # a tool wrote to the mount point after a lazy unmount.
            shutil.rmtree(top, ignore_errors=True)


def check_space(where, need, what):
    """Refuses to start a trial that cannot fit on the host's disk."""
    free = shutil.disk_usage(where).free
    if free < need:
        raise SystemExit(f"bench: {what} needs {need / GiB:.0f} GiB free in {where}, there are "
                         f"{free / GiB:.0f}; set BENCH_DIR, or lower --runs or BENCH_SCALE")


# ---------------------------------------------------------------- running steps

class Step:
    """One timed command: wall seconds, peak RSS (MiB), user and system CPU."""

    def __init__(self, wall, rss, user, sys_):
        self.wall, self.rss, self.user, self.sys = wall, rss, user, sys_


def run(peakrss, cmd, cwd=None, env=None, timeout=7200):
    """Runs a shell command under peakrss, after a sync so that no earlier
    step's writeback is charged to it (the page cache stays warm)."""
    os.sync()
    full = dict(os.environ)
    full.update(env or {})
    p = subprocess.run([peakrss, "step", "--", "bash", "-c", cmd], cwd=cwd, env=full,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"command failed ({p.returncode}): {cmd}\n{p.stderr.decode(errors='replace')[-2000:]}")
    f = p.stdout.decode().split()
    return Step(float(f[-8]), float(f[-6]), float(f[-4]), float(f[-2]))


def sh(cmd, cwd=None, env=None):
    """Runs an untimed setup command; returns its stdout."""
    full = dict(os.environ)
    full.update(env or {})
    p = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=full, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"command failed ({p.returncode}): {cmd}\n{p.stderr.decode(errors='replace')[-2000:]}")
    return p.stdout.decode()


def du(path):
    return int(subprocess.check_output(["du", "-sb", path]).split()[0])


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x):
    if x != x:
        return ""
    return f"{x:.3f} s" if x < 1 else f"{x:.2f} s"


def fmt_mib(b):
    return f"{b / MiB:.2f} MiB"


# ---------------------------------------------------------------- data

def rand_bytes(rng, n):
    chunks = []
    while n > 0:
        k = min(n, 8 * MiB)
        chunks.append(rng.randbytes(k))
        n -= k
    return b"".join(chunks)


def gen_small(root, scale, seed=2):
    """20,000 x 4 KiB random files in 100 directories (scaled); returns the count."""
    import random
    rng = random.Random(seed)
    n = int(20000 * scale)
    for d in range(100):
        os.makedirs(f"{root}/d{d:03d}")
    for i in range(n):
        with open(f"{root}/d{i % 100:03d}/f{i:06d}.bin", "wb") as f:
            f.write(rng.randbytes(4096))
    return n


def write_random(path, size, seed):
    import random
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            k = min(left, 8 * MiB)
            f.write(rng.randbytes(k))
            left -= k


# ---------------------------------------------------------------- reports

COMMIT = None  # the commit measured: set_commit() from the art binary's build information


def git_commit():
    """The commit of the work tree now (+dirty when tracked files changed)."""
    def g(*a):
        return subprocess.run(["git", "-C", TOP] + list(a), capture_output=True, text=True).stdout.strip()
    rev = g("rev-parse", "--short=7", "HEAD") or "unknown"
    dirty = g("status", "--porcelain", "--untracked-files=no")
    return rev + ("+dirty" if dirty else "")


def choose(what, given, known):
    """Splits a comma list and refuses a name not in known, before anything runs."""
    names = [n.strip() for n in given.split(",") if n.strip()]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise SystemExit(f"bench: unknown {what} {', '.join(bad) or '(none given)'}; choose from {','.join(known)}")
    return names


def require_binaries(**paths):
    """Stops with a clear message when a binary the harness runs is missing."""
    for what, path in paths.items():
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SystemExit(f"bench: {what} {path} is not an executable file; build it first "
                             f"(`make build peakrss`), or run the harness through `make bench`")


def set_commit(art=None):
    """Records which commit is measured: the VCS revision the art binary was
    built from (`go version -m`; `make build` embeds it), else the work
    tree's commit at the start of the run."""
    global COMMIT
    COMMIT = None
    if art:
        out = subprocess.run(["go", "version", "-m", art], capture_output=True, text=True).stdout
        info = dict(line.split("\t")[2].split("=", 1) for line in out.splitlines()
                    if line.startswith("\tbuild\t") and "=" in line)
        if info.get("vcs.revision"):
            COMMIT = info["vcs.revision"][:7] + ("+dirty" if info.get("vcs.modified") == "true" else "")
    if COMMIT is None:
        COMMIT = git_commit()
    return COMMIT


def machine():
    cores = os.cpu_count()
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) * 1024
    return f"{cores} cores, {mem / GiB:.0f} GiB, Linux {platform.release()}"


def header(title, fs_kinds, versions, extra=""):
    """The lines every table starts with: what was measured, where, when."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = [machine()] + [describe_fs(k) for k in fs_kinds]
    lines = [f"_{title}: measured at commit `{COMMIT or set_commit()}` on {now}; {'; '.join(where)}._"]
    tools = [v for _, v in sorted(versions.items()) if v]
    tools.append(subprocess.check_output(["go", "version"], text=True).strip())
    lines.append(f"_{'Peers' if versions else 'Built with'}: {'; '.join(tools)}._")
    if extra:
        lines.append(f"_{extra}_")
    return "\n".join(lines) + "\n"


def write_block(path, name, text):
    """Replaces what stands between <!-- bench:NAME --> and <!-- /bench:NAME -->
    in path with text; fails when the markers are missing."""
    with open(path) as f:
        doc = f.read()
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        raise SystemExit(f"bench: {path} has no {begin} ... {end} block")
    doc = doc[:i + len(begin)] + "\n" + text.rstrip("\n") + "\n" + doc[j:]
    with open(path, "w") as f:
        f.write(doc)


def publish(args, doc_name, doc_text, blocks):
    """Writes the full report: to docs/DOC_NAME and README blocks at scale
    1 (a full run), else under bin/bench/ only, so a quick run never
    replaces the published tables. Also prints it."""
    print(doc_text)
    full = args.scale == 1 and not getattr(args, "no_write", False)
    outdir = os.path.join(TOP, "docs") if full else os.path.join(TOP, "bin", "bench")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, doc_name), "w") as f:
        f.write(doc_text)
    if full:
        for name, text in blocks.items():
            write_block(os.path.join(TOP, "README.md"), name, text)
        log(f"bench: wrote docs/{doc_name}" + (f" and README blocks {', '.join(blocks)}" if blocks else ""))
    else:
        with open(os.path.join(outdir, doc_name.replace(".md", "-readme.md")), "w") as f:
            for name, text in blocks.items():
                f.write(f"<!-- bench:{name} -->\n{text}\n<!-- /bench:{name} -->\n\n")
        log(f"bench: scale {args.scale}: wrote {outdir}/{doc_name} (README and docs/ are written by full runs only)")
