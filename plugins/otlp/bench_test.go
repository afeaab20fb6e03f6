package otlp

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

// BenchmarkDecodeConvert100Spans measures protobuf decode plus conversion
// into span documents, per request of 100 spans.
func BenchmarkDecodeConvert100Spans(b *testing.B) {
	body := otlptest.TraceRequestBytes(0, 100)
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
	body := otlptest.TraceRequestBytes(0, 100)
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
	if err := proto.Unmarshal(otlptest.TraceRequestBytes(0, 100), req); err != nil {
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
