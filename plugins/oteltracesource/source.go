// Package oteltracesource is the `otel_trace_source` source: Data
// Prepper's OTLP trace receiver (gRPC on port 21890, optionally OTLP/HTTP on
// the same port), producing Trace Analytics span documents.
package oteltracesource

import (
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/plugins/otlp"
)

func init() {
	pipelines.RegisterSource("otel_trace_source", "Data Prepper's OTLP trace receiver: gRPC on 21890, optionally OTLP/HTTP (unframed requests) on the same port", NewConfig, New)
}

// New creates the source.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	return otlp.NewSingleSignalReceiver(s, c.ServerOptions, otlp.Traces,
		otlp.SingleSignal{Port: c.Port, Path: c.Path, UnframedRequests: c.UnframedRequests})
}
