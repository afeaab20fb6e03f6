# weft — build, test, run. `make test` is the whole test suite (CI runs it).
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/weft

.PHONY: build test run demo lint bench fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# The whole suite: formatting, vet, unit tests with the race detector, the
# end-to-end tests that drive the built binary, and short fuzz runs.
test:
	./scripts/test.sh

# The README's first command: the agent on its built-in default plus a
# generated shop (OTLP spans, logs in four formats); correlated, masked
# documents appear under ./weft-data. Ctrl-C stops (DEMO_FLAGS="--duration 30s").
demo:
	$(GO) run . demo $(DEMO_FLAGS)

# Run the agent on its built-in default: OTLP (4317, 4318, 21890) and HTTP log
# (2021) listeners, documents under ./weft-data, /metrics on 127.0.0.1:4900.
run:
	$(GO) run . run

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pipelines/... ./plugins/... ./exporters/...

clean:
	rm -rf bin weft-data
