// Package otlp receives OpenTelemetry Protocol exports. It holds the
// machinery shared by weft's OTLP sources (listeners, TLS, authentication,
// limits, backpressure, acknowledgement), the conversion of OTLP spans into
// Trace Analytics span documents, of OTLP log records into Data Prepper
// log documents and of OTLP metric data points into Data Prepper metric
// documents, and the `otlp` source: the OTLP standard listeners (gRPC on
// 4317, HTTP on 4318).
package otlp

import (
	"net"
	"slices"
	"strconv"

	"github.com/weft-agent/weft/pipelines"
)

func init() {
	pipelines.RegisterSource("otlp", "OTLP receiver on the standard ports: gRPC 4317 and HTTP 4318 (/v1/traces, /v1/logs, /v1/metrics), protobuf and JSON", NewConfig, New)
}

// New creates the `otlp` source.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	var signals []*Signal
	off := map[string]string{} // HTTP paths of the signals not accepted
	for _, sig := range []*Signal{Traces, Logs, NewMetricsSignal(c.MetricsOptions)} {
		if slices.Contains(c.Signals, sig.Name) {
			signals = append(signals, sig)
		} else {
			off[sig.HTTPPath] = sig.Name
		}
	}
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
			HTTPPaths: paths, NotYet: off, Health: c.HealthCheckService})
	}
	return NewReceiver(s, c.ServerOptions, signals, eps)
}
