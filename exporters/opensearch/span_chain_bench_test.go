package opensearch

import (
	"context"
	"testing"

	"github.com/weft-agent/weft/pipelines/pipelinestest"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
	"github.com/weft-agent/weft/plugins/otlp"
	"github.com/weft-agent/weft/plugins/otlp/otlptest"

	_ "github.com/weft-agent/weft/plugins/oteltraceraw"
)

// BenchmarkSpanChain is issue 5's measured chain on one goroutine: an
// OTLP/protobuf export request of 100 spans (otlptest.TraceRequest) decoded
// and converted into span documents, otel_trace_raw (trace groups), and each
// document encoded as bulk action and source lines. One op is one request;
// run with -cpu 1 for a per-core figure. cpu-ns/span is the process's CPU
// time (garbage collection included) per span, which a busy machine
// distorts far less than ns/span.
func BenchmarkSpanChain(b *testing.B) {
	const spans = 100
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = otlptest.TraceRequestBytes(i, spans)
	}
	p, _, err := pipelinestest.Processor("otel_trace_raw", "")
	if err != nil {
		b.Fatal(err)
	}
	enc := benchEncoder(b, "index_type: trace-analytics-raw\n")
	ctx := context.Background()
	var buf, tmp []byte
	run := func(body []byte) {
		res, err := otlp.DecodeTraces(body, false)
		if err != nil || len(res.Events) != spans {
			b.Fatal(err, len(res.Events))
		}
		buf = buf[:0]
		for _, ev := range p.Process(ctx, res.Events) {
			var ferr *encodeError
			if buf, ferr = enc.appendDoc(buf, &tmp, ev); ferr != nil {
				b.Fatal(ferr.Reason)
			}
		}
	}
	for _, body := range bodies {
		run(body) // warm the trace-group cache and the buffers
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	cpu0 := spantest.CPUTime()
	i := 0
	for b.Loop() {
		run(bodies[i%len(bodies)])
		i++
	}
	cpu := spantest.CPUTime() - cpu0
	b.ReportMetric(float64(b.N)*spans/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/spans, "ns/span")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/spans, "cpu-ns/span")
}
