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

echo "== Fluent Bit output plugin (c-shared build, exported entry points)"
# plugins/fluentbit: Fluent Bit loads weft.so with dlopen and calls these
# symbols; a missing export would only show inside Fluent Bit.
fb_tmp="$(mktemp -d)"
CGO_ENABLED=1 go build -buildmode=c-shared -o "$fb_tmp/weft.so" ./plugins/fluentbit/cmd/weft-fluentbit
for sym in FLBPluginRegister FLBPluginInit FLBPluginFlushCtx FLBPluginExitCtx FLBPluginExit; do
  if ! nm -D --defined-only "$fb_tmp/weft.so" | grep -qw "$sym"; then
    echo "weft.so does not export $sym"; rm -rf "$fb_tmp"; exit 1
  fi
done
rm -rf "$fb_tmp"

echo "== OpenSearch integration tests (a real OpenSearch 2.19.1 on 127.0.0.1, race detector)"
# test/opensearch/start.sh builds the launcher with Maven (the first run
# downloads the OpenSearch jars from Maven Central) and starts a single-node
# engine; it is stopped on exit unless it was already running before this
# script (a developer's engine, shared with other work, is left alone).
os_url="http://127.0.0.1:${WEFT_OS_PORT:-19200}"
os_ours=1
if curl -fsS -m 5 "$os_url/_cluster/health" >/dev/null 2>&1; then
  echo "(OpenSearch already running at $os_url: using it and leaving it running)"
  os_ours=0
else
  trap 'test/opensearch/stop.sh || true' EXIT
fi
WEFT_OPENSEARCH_URL="$(test/opensearch/start.sh)"
export WEFT_OPENSEARCH_URL
go vet -tags integration ./e2e/ ./exporters/opensearch/
go test -race -count=1 -timeout 15m -tags integration -run "OpenSearch|TraceAnalytics" ./e2e/
go test -race -count=1 -timeout 15m -tags integration ./exporters/opensearch/
if [ "$os_ours" = 1 ]; then
  test/opensearch/stop.sh
  trap - EXIT
fi

echo "== fuzz smoke (each decoder 10s)"
while read -r pkg target; do
  go test -run '^$' -fuzz "^${target}\$" -fuzztime 10s "$pkg"
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | while read -r f; do
  pkg="./$(dirname "${f#./}")"
  grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$f" | awk -v p="$pkg" '{print p, substr($2,1)}'
done)

echo "== all tests passed"
