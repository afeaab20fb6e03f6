package otelmetricssource

import (
	"testing"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "otel_metrics_source", "README.md")
}
