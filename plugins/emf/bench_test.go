package emf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// benchReadings builds n readings of series span_metrics-like series: per
// label set a counter and an 11-bucket histogram, as weft_metrics emits
// them.
func benchReadings(series, n int) [][]map[string]any {
	out := make([][]map[string]any, n)
	bounds := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	for r := 0; r < n; r++ {
		ts := int64(t0 + r*60_000)
		for s := 0; s < series; s++ {
			labels := map[string]any{"service": fmt.Sprintf("svc-%d", s%20), "operation": fmt.Sprintf("GET /api/%d", s),
				"span_kind": "SPAN_KIND_SERVER", "status_code": "STATUS_CODE_UNSET", "pipeline": "traces", "component": "processor/0/span_metrics"}
			total := float64((r + 1) * (s + 10))
			out[r] = append(out[r], map[string]any{"name": "weft_span_requests_total", "kind": "counter", "labels": labels, "value": total, "timestamp": ts})
			bs := make([]any, 0, len(bounds)+1)
			for i, b := range bounds {
				bs = append(bs, map[string]any{"le": b, "count": float64(int(total) * (i + 1) / (len(bounds) + 1))})
			}
			bs = append(bs, map[string]any{"le": "+Inf", "count": total})
			out[r] = append(out[r], map[string]any{"name": "weft_span_duration_seconds", "kind": "histogram", "labels": labels,
				"buckets": bs, "count": total, "sum": total * 0.05, "timestamp": ts})
		}
	}
	return out
}

// BenchmarkProcess measures metric events per second through emf: cumulative
// counters and histograms of 1,000 series turned into delta EMF documents
// (two events per document).
func BenchmarkProcess(b *testing.B) {
	const series, readings = 1000, 64
	p, _, err := newBench()
	if err != nil {
		b.Fatal(err)
	}
	rs := benchReadings(series, readings)
	evs := make([]*event.Event, 0, 2*series)
	run := func(r int) {
		evs = evs[:0]
		for _, f := range rs[r%readings] {
			evs = append(evs, event.New(event.KindMetric, time.Time{}, f))
		}
		p.Process(context.Background(), evs)
	}
	run(0) // baseline
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		r := 1 + i%(readings-1)
		if r == 1 && i > 0 { // wrapped: the counters went down, a reset; start over cleanly
			b.StopTimer()
			p, _, _ = newBench()
			run(0)
			b.StartTimer()
		}
		run(r)
		n += len(rs[r])
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func newBench() (*processor, any, error) {
	s, _ := pipelinestest.Settings("bench", "processor/0/emf")
	p, err := New(s, NewConfig())
	if err != nil {
		return nil, nil, err
	}
	return p.(*processor), nil, nil
}

func testSettings() pipelines.Settings {
	s, _ := pipelinestest.Settings("fuzz", "processor/0/emf")
	return s
}
