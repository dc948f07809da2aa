#!/usr/bin/env bash
# Peak RSS and wall time of `art commit` and `art checkout` on a 2 GiB file
# and on 50,000 small files. Goal: under 100 MiB on every step.
set -euo pipefail
: "${ART:?set ART to the art binary}" "${PEAKRSS:?set PEAKRSS to the peakrss binary}"
BIG_MIB=${BIG_MIB:-2048}
SMALL_FILES=${SMALL_FILES:-50000}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/art-bench.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

echo "generating ${BIG_MIB} MiB file and ${SMALL_FILES} small files in $work ..." >&2
mkdir -p big small
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom > big/checkpoint.bin
python3 - "$SMALL_FILES" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"small/d{i % 100:03d}"
    if i < 100:
        os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:06d}.bin", "wb") as f:
        f.write(os.urandom(4096))
PY
"$ART" init -q . >/dev/null
printf '%-40s %10s %12s\n' step wall "peak RSS"
"$PEAKRSS" "commit ${BIG_MIB} MiB file" -- "$ART" commit -q big big/checkpoint.bin -t model
"$PEAKRSS" "recommit ${BIG_MIB} MiB file (unchanged)" -- "$ART" commit -q big big/checkpoint.bin -t model
"$PEAKRSS" "checkout ${BIG_MIB} MiB file" -- "$ART" checkout -q big -o out-big
"$PEAKRSS" "commit ${SMALL_FILES} x 4 KiB files" -- "$ART" commit -q small small
"$PEAKRSS" "recommit ${SMALL_FILES} files (unchanged)" -- "$ART" commit -q small small
"$PEAKRSS" "checkout ${SMALL_FILES} files" -- "$ART" checkout -q small -o out-small
"$PEAKRSS" "re-checkout ${SMALL_FILES} files" -- "$ART" checkout -q small -o out-small
"$PEAKRSS" "fsck" -- "$ART" fsck -q
cmp big/checkpoint.bin out-big/checkpoint.bin && echo "checkout of the big file is byte-identical" >&2
