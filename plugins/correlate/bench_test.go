package correlate

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// benchTrace returns the span documents of a trace shaped like the shop
// fixture's: four spans of three services, the root last.
func benchTrace(n int) (string, []map[string]any) {
	tid := fmt.Sprintf("%016x%016x", uint64(n)*0x9e3779b97f4a7c15+1, uint64(n)+7)
	ids := [4]string{}
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x%08x", n, i+1)
	}
	span := func(i int, parent, name, service string) map[string]any {
		return map[string]any{"traceId": tid, "spanId": ids[i], "parentSpanId": parent, "name": name,
			"kind": "SPAN_KIND_SERVER", "serviceName": service, "startTime": "2025-11-23T08:00:00.005Z",
			"endTime": "2025-11-23T08:00:00.165Z", "durationInNanos": int64(160_000_000),
			"status": map[string]any{"code": int64(0), "message": ""}}
	}
	root := span(0, "", "client_checkout", "client")
	root["traceGroup"] = "client_checkout"
	return tid, []map[string]any{
		span(3, ids[2], "update_inventory", "payment"),
		span(2, ids[1], "/checkout", "payment"),
		span(1, ids[0], "/checkout", "order"),
		root,
	}
}

// BenchmarkFeed: span documents into the store (the trace pipeline's cost).
func BenchmarkFeed(b *testing.B) {
	p, _ := build(b, nil, `store: s`, nil)
	const traces = 1 << 14
	docs := make([][]map[string]any, traces)
	for i := range docs {
		_, docs[i] = benchTrace(i)
	}
	batch := make([]*event.Event, 0, 100)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	spans := 0
	for spans < b.N {
		batch = batch[:0]
		for len(batch) < 100 {
			for _, d := range docs[(spans/4)%traces] {
				batch = append(batch, event.New(event.KindSpan, time.Time{}, d))
			}
			spans += 4
		}
		p.Process(ctx, batch)
	}
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkEnrich: logs whose trace is known, in batches of 100 (the log
// pipeline's cost when spans came first).
func BenchmarkEnrich(b *testing.B) {
	for _, target := range []string{"", "/trace"} {
		b.Run("target="+target, func(b *testing.B) {
			host := &pipelinestest.Host{}
			feed, _ := build(b, host, `store: s`, nil)
			logs, _ := build(b, host, fmt.Sprintf(`{store: s, target: %q}`, target), nil)
			const traces = 1 << 12
			type ids struct{ trace, span string }
			var all []ids
			for i := 0; i < traces; i++ {
				tid, d := benchTrace(i)
				run(feed, spanEvents(d, "")...)
				all = append(all, ids{tid, d[1]["spanId"].(string)})
			}
			evs := make([]*event.Event, 100)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += len(evs) {
				b.StopTimer()
				for j := range evs {
					x := all[(i+j)%traces]
					evs[j] = event.New(event.KindLog, time.Time{}, map[string]any{"message": "Payment - Customer successfully checked out cart",
						"level": "info", "traceId": x.trace, "spanId": x.span})
				}
				b.StartTimer()
				if out := logs.Process(ctx, evs); len(out) != len(evs) {
					b.Fatalf("%d of %d out", len(out), len(evs))
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}

// BenchmarkHeldThenReleased: every log arrives before its spans, waits, and
// is released when they are fed (the usual order with batching exporters):
// per round 25 new traces, 100 logs held, 100 spans fed, one idle call that
// releases the logs.
func BenchmarkHeldThenReleased(b *testing.B) {
	host := &pipelinestest.Host{}
	feed, _ := build(b, host, `store: s`, nil)
	logs, _ := build(b, host, `{store: s, max_wait: 1m}`, nil)
	ctx := context.Background()
	const per = 25
	b.ReportAllocs()
	b.ResetTimer()
	released := 0
	for round := 0; released < b.N; round++ {
		b.StopTimer()
		var evs, spans []*event.Event
		for k := 0; k < per; k++ {
			tid, docs := benchTrace(round*per + k)
			for _, d := range docs {
				evs = append(evs, event.New(event.KindLog, time.Time{}, map[string]any{"message": "m", "traceId": tid, "spanId": d["spanId"]}))
				spans = append(spans, event.New(event.KindSpan, time.Time{}, d))
			}
		}
		b.StartTimer()
		if out := logs.Process(ctx, evs); len(out) != 0 {
			b.Fatalf("%d logs passed before their spans", len(out))
		}
		feed.Process(ctx, spans)
		n := len(logs.Process(ctx, nil))
		if n != len(evs) {
			b.Fatalf("%d of %d logs released", n, len(evs))
		}
		released += n
	}
	b.ReportMetric(float64(released)/b.Elapsed().Seconds(), "logs/s")
}

// BenchmarkMemoryPerTrace measures the store's heap per tracked trace at
// 100,000 traces of four spans.
func BenchmarkMemoryPerTrace(b *testing.B) {
	const traces = 100_000
	docs := make([][]map[string]any, traces)
	for i := range docs {
		_, docs[i] = benchTrace(i)
	}
	b.ResetTimer()
	var perTrace float64
	for i := 0; i < b.N; i++ {
		p, _ := build(b, nil, `store: s`, nil)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		now := time.Now().UnixNano()
		for _, d := range docs {
			for _, s := range d {
				p.store.feed(s, now)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if p.store.len() != traces {
			b.Fatalf("%d traces tracked", p.store.len())
		}
		perTrace = float64(after.HeapAlloc-before.HeapAlloc) / traces
		runtime.KeepAlive(p)
	}
	b.ReportMetric(perTrace, "bytes/trace")
}
