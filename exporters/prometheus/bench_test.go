package prometheus

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/exporters/sinkcore"
	"github.com/weft-agent/weft/pipelines/event"
)

// benchPoints makes n points over n/perSeries series with labels like the
// span RED metrics (service, operation, span kind, status, pipeline,
// component), perSeries samples each, 15 s apart.
func benchPoints(n, perSeries int) []point {
	c := &converter{external: Labels{{"cluster", "eks-prod"}}}
	var sc eventScratch
	pts := make([]point, 0, n)
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).UnixMilli()
	for i := 0; len(pts) < n; i++ {
		var lbl string
		lbl, sc.buf = c.encodeSeries(sc.buf, &sc.labels, "weft_span_requests_total", Labels{
			{"service", fmt.Sprintf("service-%d", i%20)}, {"operation", fmt.Sprintf("GET /api/v1/items/%d", i)},
			{"span_kind", "SPAN_KIND_SERVER"}, {"status_code", "STATUS_CODE_UNSET"},
			{"pipeline", "raw-pipeline"}, {"component", "processor/1/span_metrics"}})
		for k := 0; k < perSeries && len(pts) < n; k++ {
			pts = append(pts, point{labels: lbl, Sample: Sample{Value: float64(i*k + 1), Timestamp: base + int64(k)*15000}})
		}
	}
	// Interleave series as batching would deliver them.
	out := make([]point, 0, n)
	for k := 0; k < perSeries; k++ {
		for i := k; i < len(pts); i += perSeries {
			out = append(out, pts[i])
		}
	}
	return out
}

// BenchmarkRemoteWriteEncode measures what one request costs the sender
// before the network: grouping points into series, ordering and
// de-duplicating samples, checking them against the newest sent, protobuf
// encoding and snappy compression.
func BenchmarkRemoteWriteEncode(b *testing.B) {
	for _, tc := range []struct{ n, per int }{{1000, 1}, {1000, 5}, {10000, 1}} {
		b.Run(fmt.Sprintf("samples=%d/per_series=%d", tc.n, tc.per), func(b *testing.B) {
			pts := benchPoints(tc.n, tc.per)
			m, _ := sinkcore.NewMetrics(nil, sinkcore.MetricNames{Namespace: "b", Request: "r", Unit: "u", Delivered: "d"})
			s := newSender(nil, NewConfig(), m, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x", Help: "x"}, []string{"result"}),
				logrus.NewEntry(logrus.New()), nil)
			res := make([]result, len(pts))
			var body []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(res)
				s.pts, s.results = pts, res
				s.group(pts)
				body, _ = s.encode(s.active)
			}
			b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(len(body))/float64(len(pts)), "bytes/sample")
		})
	}
}

// BenchmarkMetricEvents measures turning metric events into points
// (reading fields, sanitizing, encoding each series' labels).
func BenchmarkMetricEvents(b *testing.B) {
	c := &converter{sanitize: true, external: Labels{{"cluster", "eks-prod"}}}
	var evs []*event.Event
	for i := 0; i < 100; i++ {
		evs = append(evs, event.New(event.KindMetric, time.Time{}, map[string]any{
			"name": "http_requests_total", "kind": "counter", "value": float64(i),
			"labels":    map[string]any{"service": "checkout", "code": int64(200 + i%3), "method": "GET"},
			"timestamp": int64(1714557600000 + i),
		}))
	}
	var sc eventScratch
	pts := make([]point, 0, 100)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pts = pts[:0]
		for _, ev := range evs {
			pts, _ = c.appendEvent(pts, &sc, ev, now)
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
