#!/usr/bin/env bash
# Keeps the package boundaries of DESIGN.md: each package may import only the
# packages of ours listed for it.
set -euo pipefail
mod=$(go list -m)
declare -A allowed=(
  [objects]="objects/chunker"
  [objects/chunker]=""
  [refs]="objects"
  [lineage]="objects"
  [repo]="objects refs lineage objects/chunker repo/remote"
  [repo/remote]="objects refs"
  [repo/remote/dirremote]="repo/remote objects refs"
  [repo/remote/s3remote]="repo/remote objects refs"
  [repo/remote/httpremote]="repo/remote objects refs"
  [repo/remote/all]="repo/remote repo/remote/dirremote repo/remote/s3remote repo/remote/httpremote"
  [cmd/art]="repo repo/remote repo/remote/all repo/remote/httpremote"
  [tools/peakrss]=""
)
fail=0
while read -r pkg imports; do
  rel=${pkg#"$mod"/}
  [[ $rel == "$mod" ]] && rel=.
  # test helper packages (…test) may use anything below them
  [[ $rel == */*test ]] && continue
  if [[ -z ${allowed[$rel]+x} ]]; then
    echo "depcheck: package $rel has no entry in scripts/depcheck.sh"; fail=1; continue
  fi
  for imp in $imports; do
    [[ $imp == "$mod"/* ]] || continue
    dep=${imp#"$mod"/}
    ok=0
    for a in ${allowed[$rel]}; do [[ $dep == "$a" ]] && ok=1; done
    if [[ $ok == 0 ]]; then echo "depcheck: $rel must not import $dep"; fail=1; fi
  done
done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
[[ $fail == 0 ]] && echo "depcheck: package boundaries hold"
exit $fail
