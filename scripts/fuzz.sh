#!/usr/bin/env bash
# Runs every Fuzz target in the module for FUZZTIME (default 10s) each.
#
# A target fails the run when the fuzzer finds something (it then writes the
# input under testdata/fuzz/<target>/ and prints "Failing input written"), or
# when the test fails for any reason other than the Go 1.26 coordinator race
# at the -fuzztime boundary (golang/go#75804, fixed in Go 1.27): the engine
# then prints a bare "context deadline exceeded" without any input. That case
# is reported, the target's seed corpus is replayed deterministically, and
# only a failure of the replay fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
failed=0
targets=$(grep -rl --include='*_test.go' -E '^func Fuzz' . | sort | while read -r f; do
  pkg="./$(dirname "${f#./}")"
  grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$f" | awk -v p="$pkg" '{print p, $2}'
done)
while read -r pkg target; do
  [ -n "$pkg" ] || continue
  corpus="$pkg/testdata/fuzz/$target"
  before=$(ls "$corpus" 2>/dev/null | sort)
  out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
  rc=$?
  printf '%s\n' "$out" | tail -n 4
  [ "$rc" -eq 0 ] && continue
  after=$(ls "$corpus" 2>/dev/null | sort)
  # What the failure says, without the engine's progress lines.
  reasons=$(printf '%s\n' "$out" | grep -vE '^(fuzz: |--- FAIL: |FAIL|exit status |ok )' | sed '/^[[:space:]]*$/d')
  if [ "$before" = "$after" ] && [ "$(printf '%s' "$reasons" | tr -d '[:space:]')" = "contextdeadlineexceeded" ]; then
    echo "note: $target hit the -fuzztime boundary race of Go 1.26 (golang/go#75804), no input written; replaying its corpus"
    if ! go test -count=1 -run "^${target}\$" "$pkg"; then
      echo "FAIL: $target corpus replay"; failed=1
    fi
    continue
  fi
  printf '%s\n' "$out"
  echo "FAIL: fuzz target $target in $pkg"
  failed=1
done <<< "$targets"
exit "$failed"
