package otlptest

import (
	"encoding/binary"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TraceRequest is the realistic export the span benchmarks decode: one
// service (six resource attributes) and scope, n spans in traces of ten, root first,
// each with eight HTTP semantic-convention attributes; every root has an
// event. req numbers the request so that consecutive requests carry
// different traces.
func TraceRequest(req, n int) *coltracepb.ExportTraceServiceRequest {
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		kv("service.name", str("checkout")), kv("service.version", str("1.4.2")), kv("telemetry.sdk.language", str("go")),
		kv("telemetry.sdk.name", str("opentelemetry")), kv("k8s.pod.name", str("checkout-7d9f8b6c5-x2x9z")),
		kv("k8s.namespace.name", str("shop"))}}
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		id := req*n + i
		trace := make([]byte, 16)
		binary.BigEndian.PutUint64(trace, uint64(id/10+1))
		binary.BigEndian.PutUint64(trace[8:], 0x9e3779b97f4a7c15)
		span := make([]byte, 8)
		binary.BigEndian.PutUint64(span, uint64(id+1)*0x9e3779b97f4a7c15)
		sp := &tracepb.Span{TraceId: trace, SpanId: span, Name: "GET /api/cart/{id}", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: 1763884800000000000 + uint64(id)*1000, EndTimeUnixNano: 1763884800000000000 + uint64(id)*1000 + 2500000,
			Attributes: []*commonpb.KeyValue{kv("http.method", str("GET")), kv("http.route", str("/api/cart/{id}")), kv("http.status_code", intv(200)),
				kv("http.url", str("http://checkout:8080/api/cart/42")), kv("net.peer.ip", str("10.0.3.7")), kv("user_agent.original", str("Go-http-client/1.1")),
				kv("http.response_content_length", intv(512)), kv("thread.id", intv(17))},
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_UNSET}}
		if id%10 != 0 {
			sp.ParentSpanId = make([]byte, 8)
			binary.BigEndian.PutUint64(sp.ParentSpanId, uint64(id/10*10+1)*0x9e3779b97f4a7c15)
		} else {
			sp.Events = []*tracepb.Span_Event{{Name: "cache.miss", TimeUnixNano: sp.StartTimeUnixNano + 100,
				Attributes: []*commonpb.KeyValue{kv("cache.key", str("cart:42"))}}}
		}
		spans[i] = sp
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: res, ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "lib", Version: "1.2.3"}, Spans: spans}}}}}
}

// TraceRequestBytes is TraceRequest in its protobuf encoding.
func TraceRequestBytes(req, n int) []byte {
	b, err := proto.Marshal(TraceRequest(req, n))
	if err != nil {
		panic(err)
	}
	return b
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func intv(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}
