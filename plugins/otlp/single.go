package otlp

import (
	"net"
	"strconv"
	"strings"

	"github.com/weft-agent/weft/pipelines"
)

// SingleSignal describes the listener of Data Prepper's one-signal sources
// (otel_trace_source, otel_logs_source, otel_metrics_source): gRPC on
// Port, optionally OTLP/HTTP (unframed requests) on the same port, Export
// at the standard gRPC path or at Path.
type SingleSignal struct {
	Port             int
	Path             string // "" for the standard path; ${pipelineName} is replaced
	UnframedRequests bool
}

// NewSingleSignalReceiver creates the receiver of a one-signal source.
func NewSingleSignalReceiver(s pipelines.Settings, opts ServerOptions, sig *Signal, c SingleSignal) (*Receiver, error) {
	ep := Endpoint{Addr: net.JoinHostPort(opts.Host, strconv.Itoa(c.Port)), GRPC: true}
	path := sig.GRPCMethod()
	if c.Path != "" {
		path = strings.ReplaceAll(c.Path, "${pipelineName}", s.Pipeline)
		ep.GRPCPaths = map[string]*Signal{path: sig}
	}
	if c.UnframedRequests {
		ep.HTTPPaths = map[string]*Signal{path: sig}
		ep.Health = opts.HealthCheckService
	}
	return NewReceiver(s, opts, []*Signal{sig}, []Endpoint{ep})
}
