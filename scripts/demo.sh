#!/usr/bin/env bash
# `make demo`: the main job end to end in a temp dir, on the local store with
# no server: init, commit a sample dataset, commit a changed version, alias,
# checkout, switch versions in place, verify, diff, show, fsck; a large file
# stored as deduplicated chunks; sharing through a directory remote.
set -euo pipefail
: "${ART:?set ART to the art binary}"
sample=$(cd "$(dirname "$0")/../testdata/sample/bike-dataset" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/art-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
export PATH="$(dirname "$ART"):$PATH"
unset ART_DIR
cd "$work"

say()  { printf '\n\033[1;34m# %s\033[0m\n' "$*"; }
show() { printf '\033[1m$'; printf ' %q' "$@"; printf '\033[0m\n'; }
run()  { show "$@"; "$@"; }

say "a new repository in $work"
run art init

say "version the sample dataset (testdata/sample/bike-dataset) as v0"
cp -r "$sample" data
run art commit bike-dataset data -t dataset -m "hourly rentals, first 10 days" --meta rows=240 --meta source=synthetic

say "committing the same content again creates nothing"
run art commit bike-dataset data -t dataset

say "change the data: more rows, one image removed, one added; commit v1 with an alias"
tail -n 24 data/test.csv >> data/train.csv
rm data/images/road-bike.png
cp data/images/city-bike.png data/images/tandem.png
run art commit bike-dataset data -t dataset -m "ten more days of rentals" --meta rows=264 -a best
run art ls
run art log bike-dataset

say "aliases: mark v0 as the baseline"
run art alias add bike-dataset:v0 baseline

say "check out the baseline, then switch the same directory to the latest version in place"
run art checkout bike-dataset:baseline -o work-copy
run art checkout bike-dataset:latest -o work-copy
run ls -R work-copy

say "verify the checkout against the version, and see what changed between versions"
run art verify bike-dataset:latest work-copy
run art diff bike-dataset:v0 bike-dataset:v1

say "a local edit is protected: switching back refuses to overwrite it"
echo "my notes" >> work-copy/README.md
show art checkout bike-dataset:v0 -o work-copy
if art checkout bike-dataset:v0 -o work-copy; then echo "expected a refusal" >&2; exit 1; fi
echo "(refused, exit status 1: the edit is still there)"
run tail -n 1 work-copy/README.md

say "everything about one version, and the integrity of the whole store"
run art show bike-dataset:best
run art fsck

say "a 64 MiB model checkpoint, then a new version with 1% of it rewritten: only the changed chunks are stored"
mkdir -p model
head -c $((64 << 20)) /dev/urandom > model/weights.bin
run art commit resnet model -t model -m "epoch 1"
dd if=/dev/urandom of=model/weights.bin bs=64K count=10 seek=300 conv=notrunc status=none
run art commit resnet model -t model -m "epoch 2" -a best
run art log resnet
run art du

say "share through a remote (a directory here; s3://bucket/prefix or an art serve URL work the same)"
run art remote add origin "$work/team-remote"
run art push
mkdir teammate && cd teammate
run art init
run art remote add origin "$work/team-remote"
run art pull
run art checkout resnet:best -o model
run cmp model/weights.bin ../model/weights.bin
run art fsck
cd ..

say "demo finished: every step above ran against $work/.art (and a teammate's $work/teammate/.art)"
