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

echo "== allocation tests without the race detector (it changes allocation counts)"
go test -count=1 -run 'Alloc' ./pipelines/... ./plugins/... ./exporters/...

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

echo "== container image (buildah: scratch image from the built binary, checked and run)"
# test/image/build.sh installs buildah with apt-get when missing (and fails
# if it cannot), builds bin/weft, assembles the Dockerfile's final stage on a
# scratch base in a temporary vfs storage, checks the image configuration
# (user 65532, entrypoint, cmd, the /var/lib/weft volume, exposed ports) and
# runs weft from the committed image as UID 65532 with no capabilities.
bash test/image/build.sh

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

echo "== Prometheus integration tests (a real Prometheus server on 127.0.0.1, race detector)"
# test/prometheus/start.sh installs Debian's prometheus package when missing
# and runs /usr/bin/prometheus directly (no systemd) on 127.0.0.1:19090,
# scraping weft's admin address 127.0.0.1:19101 every second, with the
# remote write receiver on; promtool comes with the package. The server is
# stopped on exit unless it was already running before this script.
prom_url="http://127.0.0.1:${WEFT_PROM_PORT:-19090}"
prom_ours=1
if curl -fsS -m 5 "$prom_url/-/ready" >/dev/null 2>&1; then
  echo "(Prometheus already running at $prom_url: using it and leaving it running)"
  prom_ours=0
else
  trap 'test/prometheus/stop.sh || true' EXIT
fi
WEFT_PROMETHEUS_URL="$(test/prometheus/start.sh)"
export WEFT_PROMETHEUS_URL
go vet -tags integration ./e2e/
go test -race -count=1 -timeout 10m -tags integration -run "Prometheus" ./e2e/
if [ "$prom_ours" = 1 ]; then
  test/prometheus/stop.sh
  trap - EXIT
fi

# ---- CloudWatch Logs stage (cloudwatch_logs sink) -----------------------------------------
echo "== CloudWatch Logs integration tests (moto emulator on 127.0.0.1, race detector)"
# test/cloudwatch/start.sh creates a Python virtualenv with moto[server]
# (pinned; the first run installs it from PyPI) and starts moto_server; the
# tests point the real AWS SDK client at it. In a subshell so that its EXIT
# trap (stopping the emulator it started; one already running before is
# left alone) is independent of the other stages'.
(
  cw_url="http://127.0.0.1:${WEFT_CW_PORT:-15000}"
  if curl -fsS -m 5 -o /dev/null -X POST -H 'X-Amz-Target: Logs_20140328.DescribeLogGroups' \
      -H 'Content-Type: application/x-amz-json-1.1' -d '{}' \
      -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0' \
      "$cw_url/" 2>/dev/null; then
    echo "(an emulator is already running at $cw_url: using it and leaving it running)"
  else
    trap 'test/cloudwatch/stop.sh || true' EXIT
  fi
  WEFT_CLOUDWATCH_ENDPOINT="$(test/cloudwatch/start.sh)"
  export WEFT_CLOUDWATCH_ENDPOINT
  go vet -tags integration ./e2e/ ./exporters/cloudwatch/
  go test -race -count=1 -timeout 10m -tags integration -run CloudWatch ./e2e/ ./exporters/cloudwatch/
)
# ---- end of the CloudWatch Logs stage ------------------------------------------------------

echo "== fuzz smoke (each decoder 10s)"
./scripts/fuzz.sh

echo "== all tests passed"
