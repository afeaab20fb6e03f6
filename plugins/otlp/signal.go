package otlp

import (
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Signal is one OTLP signal a receiver accepts: where it is served and how
// its export requests are decoded and answered: Traces, Logs and Metrics
// (NewMetricsSignal for other conversion options). A receiver serves the
// signals passed to NewReceiver; the others answer 404 (HTTP, when listed
// in Endpoint.NotYet) and UNIMPLEMENTED (gRPC).
type Signal struct {
	// Name is the signal ("traces"), used in metrics and messages.
	Name string
	// Items names what the signal carries ("spans"), for messages.
	Items string
	// HTTPPath is the OTLP/HTTP path ("/v1/traces").
	HTTPPath string
	// GRPCService is the full gRPC service name and GRPCFile the proto file
	// that defines it (for server reflection); the method is Export.
	GRPCService string
	GRPCFile    string
	// Decode parses an export request, protobuf or OTLP/JSON, and converts
	// its items into events. An error means the request as a whole is
	// malformed.
	Decode func(body []byte, isJSON bool) (Result, error)
	// RejectReason is the reason label under which items the decoder
	// rejected individually are counted ("invalid_id" when empty).
	RejectReason string
	// Response builds the export response for a result (OTLP partial
	// success when items were rejected).
	Response func(r *Result) proto.Message
}

// GRPCMethod is the full gRPC method path of the signal's Export call.
func (s *Signal) GRPCMethod() string { return "/" + s.GRPCService + "/Export" }

// Traces is the OTLP trace signal.
var Traces = &Signal{
	Name:        SignalTraces,
	Items:       "spans",
	HTTPPath:    "/v1/traces",
	GRPCService: coltracepb.TraceService_ServiceDesc.ServiceName,
	GRPCFile:    coltracepb.TraceService_ServiceDesc.Metadata.(string),
	Decode:      DecodeTraces,
	Response: func(r *Result) proto.Message {
		resp := &coltracepb.ExportTraceServiceResponse{}
		if r.Rejected > 0 || r.Message != "" {
			resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: r.Rejected, ErrorMessage: r.Message}
		}
		return resp
	},
}

// DecodeTraces decodes an ExportTraceServiceRequest (protobuf, or OTLP/JSON
// when isJSON) and converts its spans.
func DecodeTraces(body []byte, isJSON bool) (Result, error) {
	if !isJSON {
		return decodeTracesProto(body)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON(body, req); err != nil {
		return Result{}, err
	}
	return ConvertTraces(req), nil
}
