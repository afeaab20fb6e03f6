# weft — build, test, run. `make test` is the whole test suite (CI runs it).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/weft

.PHONY: build test run lint bench fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# The whole suite: formatting, vet, unit tests with the race detector, the
# end-to-end tests that drive the built binary, and short fuzz runs.
test:
	./scripts/test.sh

# Run the agent on its built-in default pipeline (stdin → parse → stdout).
run:
	$(GO) run . run < deploy/pipelines/sample-logs.ndjson

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pipelines/... ./plugins/... ./exporters/...

clean:
	rm -rf bin weft-data
