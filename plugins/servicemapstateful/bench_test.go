package servicemapstateful

import (
	"runtime"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
)

func benchSpans(iter, traces int) []*event.Event {
	var out []*event.Event
	for i := 0; i < traces; i++ {
		root, kids := spantest.Trace(iter*traces+i, 3)
		out = append(out, kids...)
		out = append(out, root)
	}
	return out
}

// BenchmarkProcess measures spans per second and allocations per span
// recorded, with window evaluations amortized: one processor, 4,000 new
// spans per iteration in batches of 200, windows ended early by
// max_window_spans (every 25 iterations).
func BenchmarkProcess(b *testing.B) {
	const traces, batch = 1000, 200
	cfg := NewConfig()
	cfg.MaxWindowSpans = 100_000
	p, err := newProcessor(pipelines.Settings{}, cfg, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var mallocs uint64
	var cpu time.Duration
	var ms runtime.MemStats
	emitted := 0
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		spans := benchSpans(i, traces)
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		c0 := spantest.CPUTime()
		b.StartTimer()
		for j := 0; j < len(spans); j += batch {
			emitted += len(p.Process(ctx, spans[j:min(j+batch, len(spans))]))
		}
		b.StopTimer()
		cpu += spantest.CPUTime() - c0
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before
	}
	n := float64(b.N * traces * 4)
	b.ReportMetric(n/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/span")
	b.ReportMetric(float64(mallocs)/n, "allocs/span")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/span")
		b.ReportMetric(n/cpu.Seconds(), "spans/cpu-s")
	}
	if b.N >= 25 && emitted == 0 {
		b.Fatal("no relationships emitted")
	}
}

// BenchmarkWindowMemory measures the heap a recorded span costs: 200,000
// spans in one window, the events excluded.
func BenchmarkWindowMemory(b *testing.B) {
	const traces = 50_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		spans := benchSpans(i, traces)
		p, err := newProcessor(pipelines.Settings{}, NewConfig(), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		heap := func() uint64 {
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := heap()
		b.StartTimer()
		for j := 0; j < len(spans); j += 200 {
			p.Process(ctx, append([]*event.Event(nil), spans[j:min(j+200, len(spans))]...))
		}
		b.StopTimer()
		after := heap()
		if p.held.Load() != traces*4 {
			b.Fatalf("held %d", p.held.Load())
		}
		b.ReportMetric(float64(int64(after)-int64(before))/(traces*4), "bytes/span")
		start := time.Now()
		p.mu.Lock()
		rels := p.rotateLocked(p.clock(), false)
		p.mu.Unlock()
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/evaluation")
		if len(rels) == 0 {
			b.Fatal("no relationships")
		}
		runtime.KeepAlive(spans)
	}
}
