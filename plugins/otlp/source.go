// Package otlp receives OpenTelemetry Protocol exports. It holds the
// machinery shared by weft's OTLP sources (listeners, TLS, authentication,
// limits, backpressure, acknowledgement), the conversion of OTLP spans into
// Trace Analytics span documents and of OTLP log records into Data Prepper
// log documents, and the `otlp` source: the OTLP standard listeners (gRPC
// on 4317, HTTP on 4318).
package otlp

import (
	"net"
	"strconv"

	"github.com/weft-agent/weft/pipelines"
)

func init() {
	pipelines.RegisterSource("otlp", "OTLP receiver on the standard ports: gRPC 4317 and HTTP 4318 (/v1/traces, /v1/logs), protobuf and JSON", NewConfig, New)
}

// notYet are the OTLP/HTTP paths of signals weft does not accept yet.
var notYet = map[string]string{"/v1/metrics": "metrics"}

// New creates the `otlp` source.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	signals := []*Signal{Traces, Logs}
	var eps []Endpoint
	if c.GRPCPort != 0 {
		eps = append(eps, Endpoint{Addr: net.JoinHostPort(c.Host, strconv.Itoa(c.GRPCPort)), GRPC: true})
	}
	if c.HTTPPort != 0 {
		paths := map[string]*Signal{}
		for _, sig := range signals {
			paths[sig.HTTPPath] = sig
		}
		eps = append(eps, Endpoint{Addr: net.JoinHostPort(c.Host, strconv.Itoa(c.HTTPPort)),
			HTTPPaths: paths, NotYet: notYet, Health: c.HealthCheckService})
	}
	return NewReceiver(s, c.ServerOptions, signals, eps)
}
