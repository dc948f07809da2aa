#!/usr/bin/env bash
# Keeps the package boundaries of docs/architecture.md ("Packages"): each
# package may import only the packages of ours listed for it. A change here
# changes that table in the same commit.
set -euo pipefail
mod=$(go list -m)
declare -A allowed=(
  [objects]="objects/chunker"
  [objects/chunker]=""
  [objects/walk]="objects"
  [refs]="objects"
  [lineage]="objects"
  [repo/worktree]="objects"
  [repo]="objects objects/walk refs lineage objects/chunker repo/remote repo/worktree"
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

# The table of packages in docs/architecture.md must say what is allowed
# here: one row per package, its last column naming exactly the packages
# above, in backquotes ("nothing" for none).
doc=docs/architecture.md
words() { tr ' ' '\n' <<<"$1" | { grep -v '^$' || true; } | sort | tr '\n' ' '; }
declare -A documented=()
while IFS='|' read -r _ pkg _ deps _; do
  pkg=$(tr -d '` ' <<<"$pkg")
  documented[$pkg]=$(words "$({ grep -o '`[^`]*`' || true; } <<<"$deps" | tr -d '`' | tr '\n' ' ')")
done < <(awk '/^## Packages/ { p = 1; next } /^## / { p = 0 } p && /^\| `/' "$doc")
for rel in "${!allowed[@]}"; do
  if [[ -z ${documented[$rel]+x} ]]; then
    echo "depcheck: $doc has no row for $rel"; fail=1
  elif [[ ${documented[$rel]} != "$(words "${allowed[$rel]}")" ]]; then
    echo "depcheck: $doc says $rel may import [${documented[$rel]% }], this script [$(words "${allowed[$rel]}" | sed 's/ $//')]"; fail=1
  fi
done
for rel in "${!documented[@]}"; do
  [[ -n ${allowed[$rel]+x} ]] || { echo "depcheck: $doc has a row for $rel, which this script does not know"; fail=1; }
done

[[ $fail == 0 ]] && echo "depcheck: package boundaries hold, as $doc says"
exit $fail
