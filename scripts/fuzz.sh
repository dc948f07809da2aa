#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (the first
# argument, else $FUZZTIME, else 30s). Targets are discovered with
# `go test -list` in every package whose tests declare one, so a new
# target is picked up without editing this script. An input that fails
# is written by Go to the package's testdata/fuzz/<Target>/, where
# `make test` runs it from then on: commit it with the fix.
set -uo pipefail
t=${1:-${FUZZTIME:-30s}}
cd "$(dirname "$0")/.."
failed=()
ran=0
while read -r pkg dir; do
  grep -qs '^func Fuzz' "$dir"/*_test.go || continue
  targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz') || { failed+=("$pkg (does not build)"); continue; }
  for f in $targets; do
    echo "== $pkg $f ($t)"
    ran=$((ran + 1))
    if ! go test "$pkg" -run '^$' -fuzz "^$f\$" -fuzztime "$t"; then
      failed+=("$pkg $f")
    fi
  done
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
echo "== $ran fuzz targets, $t each"
if ((${#failed[@]})); then
  printf 'FAIL: %s\n' "${failed[@]}"
  echo "failing inputs are under each package's testdata/fuzz/"
  exit 1
fi
