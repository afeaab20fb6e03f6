// Package otellogssource is the `otel_logs_source` source: Data Prepper's
// OTLP logs receiver (gRPC on port 21892, optionally OTLP/HTTP on the same
// port), producing log documents.
package otellogssource

import (
	"net"
	"strconv"
	"strings"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/plugins/otlp"
)

func init() {
	pipelines.RegisterSource("otel_logs_source", "Data Prepper's OTLP logs receiver: gRPC on 21892, optionally OTLP/HTTP (unframed requests) on the same port", NewConfig, New)
}

// New creates the source.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	sig := otlp.Logs
	ep := otlp.Endpoint{Addr: net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), GRPC: true}
	path := sig.GRPCMethod()
	if c.Path != "" {
		path = strings.ReplaceAll(c.Path, "${pipelineName}", s.Pipeline)
		ep.GRPCPaths = map[string]*otlp.Signal{path: sig}
	}
	if c.UnframedRequests {
		ep.HTTPPaths = map[string]*otlp.Signal{path: sig}
		ep.Health = c.HealthCheckService
	}
	return otlp.NewReceiver(s, c.ServerOptions, []*otlp.Signal{sig}, []otlp.Endpoint{ep})
}
