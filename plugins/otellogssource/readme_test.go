package otellogssource

import (
	"testing"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "otel_logs_source", "README.md")
}
