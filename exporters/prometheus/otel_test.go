package prometheus

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/otlp"
)

// The OTLP metric documents of weft's sources, converted by the sink, as
// series keys ({__name__="…",…}) with their values.

const otelT = uint64(1763884815_123456789) // 2025-11-23T08:00:15.123Z

func otelAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// otelEvents converts metrics of service shop/cart (instance pod-1) into
// the sources' events.
func otelEvents(t testing.TB, ms ...*metricspb.Metric) []*event.Event {
	t.Helper()
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{otelAttr("service.name", "cart"),
			otelAttr("service.namespace", "shop"), otelAttr("service.instance.id", "pod-1"), otelAttr("host.name", "node-7")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "m"}, Metrics: ms}},
	}}}
	res := otlp.ConvertMetrics(req, otlp.DefaultMetricsOptions())
	if res.Rejected != 0 {
		t.Fatalf("source rejected: %s", res.Message)
	}
	return res.Events
}

// convertOTel returns the series of an event, key → value, or the error.
func convertOTel(t *testing.T, ev *event.Event) (map[string]float64, error) {
	t.Helper()
	c := &converter{sanitize: true}
	var sc eventScratch
	pts, err := c.appendEvent(nil, &sc, ev, time.Now())
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, p := range pts {
		b := appendSeries(nil, p.labels, []Sample{p.Sample})
		_, _, n := protowire.ConsumeTag(b)
		msg, _ := protowire.ConsumeBytes(b[n:])
		ds, err := decodeTimeSeries(msg)
		if err != nil {
			t.Fatal(err)
		}
		if p.Timestamp != 1763884815123 {
			t.Errorf("%s: timestamp %d", ds.key(), p.Timestamp)
		}
		out[ds.key()] = p.Value
	}
	return out, nil
}

func checkSeries(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("missing %s; have:\n%s", k, strings.Join(keys, "\n"))
			continue
		}
		if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d series, want %d", len(got), len(want))
	}
}

const (
	jobInst = `instance="pod-1",job="shop/cart"`
	cumul   = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	delta   = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
)

func numPoint(v float64, attrs ...*commonpb.KeyValue) []*metricspb.NumberDataPoint {
	return []*metricspb.NumberDataPoint{{TimeUnixNano: otelT, Attributes: attrs, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}}
}

func TestOTelSumsAndGauges(t *testing.T) {
	evs := otelEvents(t,
		&metricspb.Metric{Name: "http.server.requests", Unit: "{request}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			IsMonotonic: true, AggregationTemporality: cumul, DataPoints: numPoint(42, otelAttr("http.route", "/cart"), otelAttr("http.response.status_code", "200"))}}},
		&metricspb.Metric{Name: "db.client.connections.usage", Unit: "{connection}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			IsMonotonic: false, AggregationTemporality: cumul, DataPoints: numPoint(-2)}}},
		&metricspb.Metric{Name: "process.cpu.utilization", Unit: "1", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: numPoint(0.5)}}},
		&metricspb.Metric{Name: "network.io", Unit: "By", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			IsMonotonic: true, AggregationTemporality: cumul, DataPoints: numPoint(1024)}}},
		&metricspb.Metric{Name: "requests_total", Unit: "", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			IsMonotonic: true, AggregationTemporality: cumul, DataPoints: numPoint(1)}}},
		&metricspb.Metric{Name: "speed", Unit: "m/s", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: numPoint(math.NaN())}}},
	)
	want := []map[string]float64{
		{`{__name__="http_server_requests_total",http_response_status_code="200",http_route="/cart",` + jobInst + `}`: 42},
		{`{__name__="db_client_connections_usage",` + jobInst + `}`: -2},
		{`{__name__="process_cpu_utilization_ratio",` + jobInst + `}`: 0.5},
		{`{__name__="network_io_bytes_total",` + jobInst + `}`: 1024},
		{`{__name__="requests_total",` + jobInst + `}`: 1},
		{`{__name__="speed_meters_per_second",` + jobInst + `}`: math.NaN()},
	}
	for i, ev := range evs {
		got, err := convertOTel(t, ev)
		if err != nil {
			t.Fatal(err)
		}
		checkSeries(t, got, want[i])
	}
}

func TestOTelHistogramAndSummary(t *testing.T) {
	sum := 3.5
	evs := otelEvents(t,
		&metricspb.Metric{Name: "http.server.request.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
			AggregationTemporality: cumul, DataPoints: []*metricspb.HistogramDataPoint{{TimeUnixNano: otelT, Count: 10, Sum: &sum,
				BucketCounts: []uint64{2, 5, 3}, ExplicitBounds: []float64{0.1, 1}}}}}},
		&metricspb.Metric{Name: "rpc.duration", Unit: "ms", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{
			TimeUnixNano: otelT, Count: 100, Sum: 12.5, QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 1}, {Quantile: 0.99, Value: 9}}}}}}},
	)
	h := `http_server_request_duration_seconds`
	got, err := convertOTel(t, evs[0])
	if err != nil {
		t.Fatal(err)
	}
	checkSeries(t, got, map[string]float64{
		`{__name__="` + h + `_bucket",` + jobInst + `,le="0.1"}`:  2,
		`{__name__="` + h + `_bucket",` + jobInst + `,le="1"}`:    7,
		`{__name__="` + h + `_bucket",` + jobInst + `,le="+Inf"}`: 10,
		`{__name__="` + h + `_sum",` + jobInst + `}`:              3.5,
		`{__name__="` + h + `_count",` + jobInst + `}`:            10,
	})
	got, err = convertOTel(t, evs[1])
	if err != nil {
		t.Fatal(err)
	}
	checkSeries(t, got, map[string]float64{
		`{__name__="rpc_duration_milliseconds",` + jobInst + `,quantile="0.5"}`:  1,
		`{__name__="rpc_duration_milliseconds",` + jobInst + `,quantile="0.99"}`: 9,
		`{__name__="rpc_duration_milliseconds_sum",` + jobInst + `}`:             12.5,
		`{__name__="rpc_duration_milliseconds_count",` + jobInst + `}`:           100,
	})
}

func TestOTelExponentialHistogram(t *testing.T) {
	sum := 20.0
	dp := &metricspb.ExponentialHistogramDataPoint{TimeUnixNano: otelT, Count: 10, Sum: &sum, Scale: 0, ZeroCount: 1, ZeroThreshold: 0,
		Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 1, BucketCounts: []uint64{4, 2}}, // (2,4], (4,8]
		Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 0, BucketCounts: []uint64{1, 2}}, // [-2,-1), [-4,-2)
	}
	m := &metricspb.Metric{Name: "lag", Unit: "s", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
		AggregationTemporality: cumul, DataPoints: []*metricspb.ExponentialHistogramDataPoint{dp}}}}
	got, err := convertOTel(t, otelEvents(t, m)[0])
	if err != nil {
		t.Fatal(err)
	}
	b := func(le string) string { return `{__name__="lag_seconds_bucket",` + jobInst + `,le="` + le + `"}` }
	checkSeries(t, got, map[string]float64{
		b("-2"): 2, b("-1"): 3, b("0"): 4, b("4"): 8, b("8"): 10, b("+Inf"): 10,
		`{__name__="lag_seconds_sum",` + jobInst + `}`:   20,
		`{__name__="lag_seconds_count",` + jobInst + `}`: 10,
	})
	// Scale 5 is merged down to scale 3: 4 neighbours per bucket. Indexes
	// 32..39 at scale 5 are 8..9 at scale 3, bounds 2^(9/8) and 2^(10/8).
	dp.Scale, dp.ZeroCount, dp.Negative = 5, 0, nil
	dp.Positive = &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 32, BucketCounts: []uint64{1, 1, 1, 1, 1, 1, 1, 1}}
	dp.Count = 8
	got, err = convertOTel(t, otelEvents(t, m)[0])
	if err != nil {
		t.Fatal(err)
	}
	checkSeries(t, got, map[string]float64{
		b("0"): 0, b(formatFloat(math.Exp2(9.0 / 8))): 4, b(formatFloat(math.Exp2(10.0 / 8))): 8, b("+Inf"): 8,
		`{__name__="lag_seconds_sum",` + jobInst + `}`:   20,
		`{__name__="lag_seconds_count",` + jobInst + `}`: 8,
	})
}

func TestOTelExponentialBoundsOutOfRange(t *testing.T) {
	// 2^1071 and 2^1072 overflow float64: one +Inf bucket holds both.
	bs, err := exponentialBuckets(map[string]any{"scale": int64(0), "positive": []any{int64(1), int64(2)}, "positiveOffset": int64(1070),
		"negative": []any{int64(4)}, "negativeOffset": int64(1000), "zeroCount": int64(1)})
	if err != nil || len(bs) != 3 || bs[0].le != -math.Ldexp(1, 1000) || bs[0].count != 4 || bs[1].le != 0 || bs[1].count != 5 ||
		!math.IsInf(bs[2].le, 1) || bs[2].count != 8 {
		t.Errorf("overflowing bounds: %v %v", bs, err)
	}
	// Index -1100 at scale 0 underflows to 0, like the zero bucket's bound.
	bs, err = exponentialBuckets(map[string]any{"scale": int64(0), "positive": []any{int64(1), int64(2)}, "positiveOffset": int64(-1200), "zeroCount": int64(3)})
	if err != nil || len(bs) != 1 || bs[0].le != 0 || bs[0].count != 6 {
		t.Errorf("underflowing bounds: %v %v", bs, err)
	}
}

func TestOTelDeltaRefusedAndStale(t *testing.T) {
	evs := otelEvents(t,
		&metricspb.Metric{Name: "c", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true, AggregationTemporality: delta, DataPoints: numPoint(1)}}},
		&metricspb.Metric{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{AggregationTemporality: delta,
			DataPoints: []*metricspb.HistogramDataPoint{{TimeUnixNano: otelT}}}}},
		&metricspb.Metric{Name: "g", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{
			TimeUnixNano: otelT, Flags: uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)}}}}},
	)
	for _, ev := range evs[:2] {
		if _, err := convertOTel(t, ev); err == nil || !strings.Contains(err.Error(), "delta temporality") {
			t.Errorf("%v: err = %v", ev.Fields()["name"], err)
		}
	}
	got, err := convertOTel(t, evs[2])
	if err != nil {
		t.Fatal(err)
	}
	v, ok := got[`{__name__="g",`+jobInst+`}`]
	if !ok || math.Float64bits(v) != math.Float64bits(staleNaN) {
		t.Errorf("no-recorded-value: %v (%x), want the staleness marker", got, math.Float64bits(v))
	}
}

func TestOTelUnitSuffix(t *testing.T) {
	for unit, want := range map[string]string{
		"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "", "{request}": "", "{packet}/s": "per_second",
		"By/s": "bytes_per_second", "Cel": "celsius", "%": "percent", "furlongs": "furlongs", "": "",
	} {
		if got := otelUnitSuffix(unit, false); got != want {
			t.Errorf("unit %q: %q, want %q", unit, got, want)
		}
	}
	if got := otelUnitSuffix("1", true); got != "ratio" {
		t.Errorf("gauge unit 1: %q", got)
	}
	// Data Prepper's Float.MAX_VALUE bucket ends are +Inf.
	bs, err := histogramBuckets(map[string]any{"buckets": []any{
		map[string]any{"min": -math.MaxFloat32, "max": 1.0, "count": int64(1)},
		map[string]any{"min": 1.0, "max": math.MaxFloat32, "count": int64(2)}}})
	if err != nil || len(bs) != 2 || !math.IsInf(bs[1].le, 1) || bs[1].count != 3 {
		t.Errorf("Data Prepper buckets: %v %v", bs, err)
	}
}

// BenchmarkOTelMetricEvents measures the sink's reading of the OTLP
// sources' metric documents: 100 data points (50 counters with 3
// attributes, 50 histograms with 15 buckets) into remote-write points.
func BenchmarkOTelMetricEvents(b *testing.B) {
	var ms []*metricspb.Metric
	bounds := []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500}
	for i := 0; i < 50; i++ {
		attrs := []*commonpb.KeyValue{otelAttr("http.route", "/items/"+string(rune('a'+i%26))), otelAttr("http.request.method", "GET"), otelAttr("code", "200")}
		ms = append(ms, &metricspb.Metric{Name: "http.server.requests", Unit: "{request}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			IsMonotonic: true, AggregationTemporality: cumul, DataPoints: numPoint(float64(i), attrs...)}}})
		counts := make([]uint64, len(bounds)+1)
		n := uint64(0)
		for k := range counts {
			counts[k] = uint64(k)
			n += counts[k]
		}
		sum := 100.0
		ms = append(ms, &metricspb.Metric{Name: "http.server.duration", Unit: "ms", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
			AggregationTemporality: cumul, DataPoints: []*metricspb.HistogramDataPoint{{TimeUnixNano: otelT, Attributes: attrs, Count: n, Sum: &sum,
				BucketCounts: counts, ExplicitBounds: bounds}}}}})
	}
	evs := otelEvents(b, ms...)
	c := &converter{sanitize: true, external: Labels{{"cluster", "eks-prod"}}}
	var sc eventScratch
	pts := make([]point, 0, 2000)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pts = pts[:0]
		for _, ev := range evs {
			var err error
			if pts, err = c.appendEvent(pts, &sc, ev, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "samples/s")
}
