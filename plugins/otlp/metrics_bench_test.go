package otlp

import (
	"strconv"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// benchMetricsRequest is a typical SDK export of 100 data points from one
// service: 10 counters × 5 attribute sets (3 attributes each), 10 gauges ×
// 2, 10 explicit-bucket histograms × 2 (15 buckets, min/max) and 5 up-down
// counters × 2.
func benchMetricsRequest() *colmetricspb.ExportMetricsServiceRequest {
	cum := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	attrs := func(i int) []*commonpb.KeyValue {
		return []*commonpb.KeyValue{strAttr("http.route", "/api/v1/items/"+strconv.Itoa(i)), strAttr("http.request.method", "GET"),
			{Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}}}
	}
	points := func(n int, v float64) []*metricspb.NumberDataPoint {
		var out []*metricspb.NumberDataPoint
		for i := 0; i < n; i++ {
			out = append(out, &metricspb.NumberDataPoint{Attributes: attrs(i), StartTimeUnixNano: mt0, TimeUnixNano: mt1,
				Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v + float64(i)}})
		}
		return out
	}
	bounds := []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500}
	var ms []*metricspb.Metric
	for i := 0; i < 10; i++ {
		ms = append(ms, &metricspb.Metric{Name: "http.server.requests." + strconv.Itoa(i), Unit: "{request}",
			Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{IsMonotonic: true, AggregationTemporality: cum, DataPoints: points(5, 100)}}})
		ms = append(ms, &metricspb.Metric{Name: "queue.fill." + strconv.Itoa(i), Unit: "1",
			Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: points(2, 0.5)}}})
		var hps []*metricspb.HistogramDataPoint
		for j := 0; j < 2; j++ {
			counts := make([]uint64, len(bounds)+1)
			var n uint64
			for k := range counts {
				counts[k] = uint64(k % 4)
				n += counts[k]
			}
			hps = append(hps, &metricspb.HistogramDataPoint{Attributes: attrs(j), StartTimeUnixNano: mt0, TimeUnixNano: mt1,
				Count: n, Sum: f64(1234.5), Min: f64(0.3), Max: f64(6000), BucketCounts: counts, ExplicitBounds: bounds})
		}
		ms = append(ms, &metricspb.Metric{Name: "http.server.duration." + strconv.Itoa(i), Unit: "ms",
			Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{AggregationTemporality: cum, DataPoints: hps}}})
	}
	for i := 0; i < 5; i++ {
		ms = append(ms, &metricspb.Metric{Name: "db.connections." + strconv.Itoa(i), Unit: "{connection}",
			Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{AggregationTemporality: cum, DataPoints: points(2, 3)}}})
	}
	return metricsRequest(ms...)
}

const benchPoints = 100

func benchDecode(b *testing.B, body []byte, isJSON bool) {
	opts := DefaultMetricsOptions()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := DecodeMetrics(body, isJSON, opts)
		if err != nil || len(res.Events) != benchPoints {
			b.Fatal(err, len(res.Events), res.Message)
		}
	}
	b.ReportMetric(float64(b.N)*benchPoints/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(testing.AllocsPerRun(10, func() { DecodeMetrics(body, isJSON, opts) })/benchPoints, "allocs/point")
}

// BenchmarkDecodeConvertMetrics measures protobuf decode plus conversion
// into metric documents, per request of 100 data points.
func BenchmarkDecodeConvertMetrics(b *testing.B) {
	body, _ := proto.Marshal(benchMetricsRequest())
	benchDecode(b, body, false)
}

// BenchmarkDecodeConvertMetricsJSON is the OTLP/JSON path.
func BenchmarkDecodeConvertMetricsJSON(b *testing.B) {
	body, err := MarshalJSON(benchMetricsRequest())
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, body, true)
}

// BenchmarkConvertOnlyMetrics isolates the conversion from decoding.
func BenchmarkConvertOnlyMetrics(b *testing.B) {
	req := benchMetricsRequest()
	opts := DefaultMetricsOptions()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := ConvertMetrics(req, opts); len(res.Events) != benchPoints {
			b.Fatal(len(res.Events))
		}
	}
	b.ReportMetric(float64(b.N)*benchPoints/b.Elapsed().Seconds(), "points/s")
}
