package spanmetrics

import (
	"fmt"
	"testing"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
)

// benchBatch is 200 span documents over 40 label combinations (10
// operations of 4 services, some failing).
func benchBatch() []*event.Event {
	var out []*event.Event
	for i := 0; i < 200; i++ {
		ev := spantest.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: fmt.Sprintf("%016x", i+1),
			ParentSpanID: "00f067aa0ba902b7", Name: fmt.Sprintf("GET /api/%d", i%10), Kind: "SPAN_KIND_SERVER",
			Service: fmt.Sprintf("svc-%d", i%4), Start: 0, End: int64(i) * 1_000_000, StatusCode: int64(i%7) / 6 * 2}.Event()
		ev.Fields()["span.attributes.http@method"] = "GET"
		out = append(out, ev)
	}
	return out
}

// BenchmarkProcess: one op is one batch of 200 spans of known series.
func BenchmarkProcess(b *testing.B) {
	for _, opts := range []string{"", "dimensions: [http.method]"} {
		name := "Fixed"
		if opts != "" {
			name = "OneDimension"
		}
		b.Run(name, func(b *testing.B) {
			p, _ := newProc(b, opts)
			batch := benchBatch()
			p.Process(ctx, batch)
			b.ReportAllocs()
			c0 := spantest.CPUTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Process(ctx, batch)
			}
			b.StopTimer()
			cpu := spantest.CPUTime() - c0
			n := float64(b.N * len(batch))
			b.ReportMetric(n/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/span")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/span")
				b.ReportMetric(n/cpu.Seconds(), "spans/cpu-s")
			}
		})
	}
}

// BenchmarkProcessParallel: every CPU's worker on the same series.
func BenchmarkProcessParallel(b *testing.B) {
	p, _ := newProc(b, "")
	batch := benchBatch()
	p.Process(ctx, batch)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Process(ctx, batch)
		}
	})
	n := float64(b.N * len(batch))
	b.ReportMetric(n/b.Elapsed().Seconds(), "spans/s")
}
