#!/usr/bin/env bash
# The whole test suite. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== unit and end-to-end tests (race detector)"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz smoke (each decoder 10s)"
while read -r pkg target; do
  go test -run '^$' -fuzz "^${target}\$" -fuzztime 10s "$pkg"
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | while read -r f; do
  pkg="./$(dirname "${f#./}")"
  grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$f" | awk -v p="$pkg" '{print p, substr($2,1)}'
done)

echo "== all tests passed"
