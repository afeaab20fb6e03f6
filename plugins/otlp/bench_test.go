package otlp

import (
	"encoding/binary"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func intv(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}

// benchRequest is a realistic export: one service, 100 spans of 10 traces,
// each with HTTP semantic-convention attributes; every tenth span has an
// event.
func benchRequest(n int) []byte {
	res := &resourcepb.Resource{Attributes: kvs(
		"service.name", str("checkout"), "service.version", str("1.4.2"), "telemetry.sdk.language", str("go"),
		"telemetry.sdk.name", str("opentelemetry"), "k8s.pod.name", str("checkout-7d9f8b6c5-x2x9z"),
		"k8s.namespace.name", str("shop"))}
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		trace := make([]byte, 16)
		binary.BigEndian.PutUint64(trace, uint64(i/10+1))
		binary.BigEndian.PutUint64(trace[8:], 0x9e3779b97f4a7c15)
		span := make([]byte, 8)
		binary.BigEndian.PutUint64(span, uint64(i+1)*0x9e3779b97f4a7c15)
		sp := &tracepb.Span{TraceId: trace, SpanId: span, Name: "GET /api/cart/{id}", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: 1763884800000000000 + uint64(i)*1000, EndTimeUnixNano: 1763884800000000000 + uint64(i)*1000 + 2500000,
			Attributes: kvs("http.method", str("GET"), "http.route", str("/api/cart/{id}"), "http.status_code", intv(200),
				"http.url", str("http://checkout:8080/api/cart/42"), "net.peer.ip", str("10.0.3.7"), "user_agent.original", str("Go-http-client/1.1"),
				"http.response_content_length", intv(512), "thread.id", intv(17)),
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_UNSET}}
		if i%10 != 0 {
			sp.ParentSpanId = make([]byte, 8)
			binary.BigEndian.PutUint64(sp.ParentSpanId, uint64(i/10*10+1)*0x9e3779b97f4a7c15)
		} else {
			sp.Events = []*tracepb.Span_Event{{Name: "cache.miss", TimeUnixNano: sp.StartTimeUnixNano + 100, Attributes: kvs("cache.key", str("cart:42"))}}
		}
		spans[i] = sp
	}
	b, err := proto.Marshal(request(res, spans...))
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkDecodeConvert100Spans measures protobuf decode plus conversion
// into span documents, per request of 100 spans.
func BenchmarkDecodeConvert100Spans(b *testing.B) {
	body := benchRequest(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := DecodeTraces(body, false)
		if err != nil || len(res.Events) != 100 {
			b.Fatal(err, len(res.Events))
		}
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(testing.AllocsPerRun(10, func() { DecodeTraces(body, false) }))/100, "allocs/span")
}

// BenchmarkConvertOnly100Spans isolates the conversion from decoding.
func BenchmarkConvertOnly100Spans(b *testing.B) {
	body := benchRequest(100)
	req := request(nil)
	req.Reset()
	if err := proto.Unmarshal(body, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ConvertTraces(req)
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkDecodeConvertJSON100Spans is the OTLP/JSON path.
func BenchmarkDecodeConvertJSON100Spans(b *testing.B) {
	req := request(nil)
	if err := proto.Unmarshal(benchRequest(100), req); err != nil {
		b.Fatal(err)
	}
	body := toHexIDs(b, req) // OTLP/JSON, hex IDs
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := DecodeTraces(body, true)
		if err != nil || len(res.Events) != 100 {
			b.Fatal(err, len(res.Events))
		}
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "spans/s")
}
