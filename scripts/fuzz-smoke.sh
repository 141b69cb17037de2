#!/usr/bin/env bash
# Runs every fuzz target for a short while (FUZZTIME, default 2s) on top of
# its seed corpus, which `go test` already runs as unit tests. CI runs this;
# longer campaigns: FUZZTIME=10m scripts/fuzz-smoke.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-2s}
status=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  out=$(mktemp)
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >"$out" 2>&1; then
    echo "ok   $pkg $name"
  elif grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
    # The fuzzing engine sometimes reports its own deadline when the time
    # runs out mid-exec; no input failed.
    echo "ok   $pkg $name (engine deadline)"
  else
    echo "FAIL $pkg $name"
    cat "$out"
    status=1
  fi
  rm -f "$out"
done < <(git grep -n '^func Fuzz' -- '*_test.go' | sed -E 's/^([^:]+):[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*/\1:\2/')
exit $status
