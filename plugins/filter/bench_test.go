package filter

import (
	"context"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// benchDoc is a 10-field log document.
func benchDoc() map[string]any {
	return map[string]any{
		"timestamp":  "2024-03-05T12:00:00.123Z",
		"level":      "error",
		"message":    "Connection refused while calling upstream payments-api: timeout after 30s",
		"status":     int64(503),
		"latency_ms": 1234.5,
		"host":       "web-1",
		"service":    "checkout",
		"traceId":    "7b084bbca0bade97bdc76741c3973ed6",
		"spanId":     "c1f63e34996770c9",
		"kubernetes": map[string]any{"namespace_name": "prod", "pod_name": "checkout-7d9f8-abcde"},
	}
}

// benchQuery is a bool query with three clauses.
const benchQuery = `{"bool": {"must": [{"term": {"level": "error"}}, {"match": {"message": "refused timeout"}}], "filter": {"range": {"status": {"gte": 500}}}}}`

// BenchmarkBoolQuery3Clauses evaluates a bool query with term, match and
// range clauses on a 10-field document.
func BenchmarkBoolQuery3Clauses(b *testing.B) {
	q, err := CompileQuery(benchQuery)
	if err != nil {
		b.Fatal(err)
	}
	doc := benchDoc()
	if !q.Match(doc) {
		b.Fatal("the benchmark document does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		q.Match(doc)
	}
}

// BenchmarkProcess runs the processor over batches of 1000 events.
func BenchmarkProcess(b *testing.B) {
	p, _, err := pipelinestest.Processor("filter", "query: '"+benchQuery+"'")
	if err != nil {
		b.Fatal(err)
	}
	docs := make([]map[string]any, 1000)
	for i := range docs {
		docs[i] = benchDoc()
		if i%4 == 0 {
			docs[i]["level"] = "info"
		}
	}
	evs := make([]*event.Event, len(docs))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range evs {
			evs[i] = event.New(event.KindLog, time.Time{}, docs[i])
		}
		b.StartTimer()
		p.Process(ctx, evs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)), "ns/event")
}
