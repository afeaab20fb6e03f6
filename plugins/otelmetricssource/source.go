// Package otelmetricssource is the `otel_metrics_source` source: Data
// Prepper's OTLP metrics receiver (gRPC on port 21891, optionally OTLP/HTTP
// on the same port), producing one metric document per data point.
package otelmetricssource

import (
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/plugins/otlp"
)

func init() {
	pipelines.RegisterSource("otel_metrics_source", "Data Prepper's OTLP metrics receiver: gRPC on 21891, optionally OTLP/HTTP (unframed requests) on the same port", NewConfig, New)
}

// New creates the source.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	return otlp.NewSingleSignalReceiver(s, c.ServerOptions, otlp.NewMetricsSignal(c.MetricsOptions),
		otlp.SingleSignal{Port: c.Port, Path: c.Path, UnframedRequests: c.UnframedRequests})
}
