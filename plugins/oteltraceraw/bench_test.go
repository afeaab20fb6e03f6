package oteltraceraw

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
)

const (
	benchTraces = 1000
	benchKids   = 3
	benchBatch  = 200
)

// benchOrder arranges one trace's spans (root first) for a scenario.
type benchOrder func(root *event.Event, kids []*event.Event) []*event.Event

func rootFirst(root *event.Event, kids []*event.Event) []*event.Event {
	return append([]*event.Event{root}, kids...)
}

func childrenFirst(root *event.Event, kids []*event.Event) []*event.Event {
	return append(slices.Clone(kids), root)
}

// benchSpans builds benchTraces full span documents in the scenario's order.
// acrossBatches puts every child before every root, so all children are
// held across batches.
func benchSpans(iter int, order benchOrder, acrossBatches, cloned bool) []*event.Event {
	var spans, roots []*event.Event
	for i := 0; i < benchTraces; i++ {
		root, kids := spantest.Trace(iter*benchTraces+i, benchKids)
		if acrossBatches {
			spans = append(spans, kids...)
			roots = append(roots, root)
			continue
		}
		spans = append(spans, order(root, kids)...)
	}
	spans = append(spans, roots...)
	if cloned {
		// As behind a fan-out: each event shares its fields with a copy
		// that another pipeline holds, so writing copies them first.
		for i, ev := range spans {
			spans[i] = ev.Clone()
		}
	}
	return spans
}

// BenchmarkProcess measures spans per second and allocations per span
// through one processor in steady state, 4,000 new spans (1,000 traces of
// a root and three children) per iteration in batches of 200.
func BenchmarkProcess(b *testing.B) {
	cases := []struct {
		name          string
		order         benchOrder
		acrossBatches bool
		cloned        bool
	}{
		{"RootFirst", rootFirst, false, false},
		{"ChildrenFirst", childrenFirst, false, false},
		{"ChildrenFirstAcrossBatches", childrenFirst, true, false},
		{"RootFirstFanOutCopy", rootFirst, false, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			perIter := benchTraces * (1 + benchKids)
			var mallocs uint64
			var cpu time.Duration
			var ms runtime.MemStats
			p, err := newProcessor(pipelines.Settings{}, NewConfig(), time.Now)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				spans := benchSpans(i, bc.order, bc.acrossBatches, bc.cloned)
				runtime.ReadMemStats(&ms)
				before := ms.Mallocs
				out := 0
				c0 := spantest.CPUTime()
				b.StartTimer()
				for j := 0; j < len(spans); j += benchBatch {
					out += len(p.Process(ctx, spans[j:min(j+benchBatch, len(spans))]))
				}
				b.StopTimer()
				cpu += spantest.CPUTime() - c0
				runtime.ReadMemStats(&ms)
				mallocs += ms.Mallocs - before
				if out != perIter {
					b.Fatalf("%d spans out, want %d", out, perIter)
				}
			}
			spans := float64(b.N * perIter)
			b.ReportMetric(spans/b.Elapsed().Seconds(), "spans/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
			b.ReportMetric(float64(mallocs)/spans, "allocs/span")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/spans, "cpu-ns/span")
				b.ReportMetric(spans/cpu.Seconds(), "spans/cpu-s")
			}
		})
	}
}

// BenchmarkHeldTraceMemory measures the heap the processor's state costs
// per in-flight trace: 100,000 traces of three children each are held
// (their roots have not arrived), and the heap growth, the events
// themselves excluded, is divided by the number of traces. It also
// measures the cost of a remembered trace group.
func BenchmarkHeldTraceMemory(b *testing.B) {
	const traces, kids = 100_000, 3
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var children, roots []*event.Event
		for t := 0; t < traces; t++ {
			// Minimal events: the state holds pointers, so the documents'
			// size does not matter here.
			traceID := fmt.Sprintf("%016x%016x", uint64(t)*0x9e3779b97f4a7c15, uint64(t))
			for c := 0; c < kids; c++ {
				children = append(children, event.New(event.KindSpan, time.Time{}, map[string]any{
					"traceId": traceID, "spanId": fmt.Sprintf("%016x", t*4+c+1), "parentSpanId": "00000000000000ff"}))
			}
			roots = append(roots, event.New(event.KindSpan, time.Time{}, map[string]any{
				"traceId": traceID, "spanId": fmt.Sprintf("%016x", t*4), "parentSpanId": "", "name": "GET /",
				"traceGroup": "GET /", "traceGroupFields": map[string]any{"endTime": "2025-11-23T08:00:00.000000000Z",
					"durationInNanos": int64(1_000_000), "statusCode": int64(0)}}))
		}
		p, err := newProcessor(pipelines.Settings{}, NewConfig(), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		heap := func() uint64 {
			var ms runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := heap()
		b.StartTimer()
		for j := 0; j < len(children); j += benchBatch {
			batch := slices.Clone(children[j:min(j+benchBatch, len(children))])
			if out := p.Process(ctx, batch); len(out) != 0 {
				b.Fatalf("%d children passed on", len(out))
			}
		}
		b.StopTimer()
		held := heap()
		if got := p.heldSpans.Load(); got != traces*kids {
			b.Fatalf("held %d spans", got)
		}
		// The roots release the children.
		for j := 0; j < len(roots); j += benchBatch {
			p.Process(ctx, slices.Clone(roots[j:min(j+benchBatch, len(roots))]))
		}
		if p.heldSpans.Load() != 0 || p.cached.Load() != traces {
			b.Fatalf("held %d, cached %d", p.heldSpans.Load(), p.cached.Load())
		}
		// The trace-group cache alone: a new processor that sees only the
		// roots (which already carry their group, so they are not written).
		p2, err := newProcessor(pipelines.Settings{}, NewConfig(), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		before2 := heap()
		for j := 0; j < len(roots); j += benchBatch {
			p2.Process(ctx, slices.Clone(roots[j:min(j+benchBatch, len(roots))]))
		}
		cached := heap()
		b.ReportMetric(float64(int64(held)-int64(before))/traces, "bytes/held-trace")
		b.ReportMetric(float64(int64(cached)-int64(before2))/traces, "bytes/cached-group")
		runtime.KeepAlive(p2)
		runtime.KeepAlive(children)
		runtime.KeepAlive(roots)
		runtime.KeepAlive(p)
	}
}
