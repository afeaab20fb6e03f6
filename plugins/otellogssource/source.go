// Package otellogssource is the `otel_logs_source` source: Data Prepper's
// OTLP logs receiver (gRPC on port 21892, optionally OTLP/HTTP on the same
// port), producing log documents.
package otellogssource

import (
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/plugins/otlp"
)

func init() {
	pipelines.RegisterSource("otel_logs_source", "Data Prepper's OTLP logs receiver: gRPC on 21892, optionally OTLP/HTTP (unframed requests) on the same port", NewConfig, New)
}

// New creates the source.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	return otlp.NewSingleSignalReceiver(s, c.ServerOptions, otlp.Logs,
		otlp.SingleSignal{Port: c.Port, Path: c.Path, UnframedRequests: c.UnframedRequests})
}
