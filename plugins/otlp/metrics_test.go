package otlp

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
)

const (
	mt0 = uint64(1763884800_000000000) // 2025-11-23T08:00:00Z
	mt1 = mt0 + 15_000_000_000
)

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func f64(v float64) *float64 { return &v }

// metricsRequest wraps metrics into a request from service "cart".
func metricsRequest(ms ...*metricspb.Metric) *colmetricspb.ExportMetricsServiceRequest {
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", "cart"), strAttr("service.instance.id", "pod-1")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope:     &commonpb.InstrumentationScope{Name: "shop", Version: "1.0"},
			SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
			Metrics:   ms,
		}},
	}}}
}

func gaugeMetric(name string, dps ...*metricspb.NumberDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: "1", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: dps}}}
}

func numberPoint(v float64, attrs ...*commonpb.KeyValue) *metricspb.NumberDataPoint {
	return &metricspb.NumberDataPoint{Attributes: attrs, StartTimeUnixNano: mt0, TimeUnixNano: mt1,
		Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
}

// convert converts and checks that every document encodes as JSON.
func convert(t *testing.T, req *colmetricspb.ExportMetricsServiceRequest, opts MetricsOptions) Result {
	t.Helper()
	res := ConvertMetrics(req, opts)
	for _, ev := range res.Events {
		if ev.Kind != event.KindMetric {
			t.Errorf("kind %v", ev.Kind)
		}
		if sig, _ := ev.Metadata(MetadataSignal); sig != SignalMetrics {
			t.Errorf("metadata signal %v", sig)
		}
		if _, err := event.DecodeJSONObject(ev.AppendJSON(nil)); err != nil {
			t.Errorf("document is not JSON: %v", err)
		}
	}
	return res
}

// checkFields compares the listed fields (through JSON, so that int64 and
// float64 compare by value) and that no other field than those in also is
// present.
func checkFields(t *testing.T, got map[string]any, want map[string]any, also ...string) {
	t.Helper()
	norm := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("field %s missing", k)
		} else if norm(g) != norm(w) {
			t.Errorf("%s = %s, want %s", k, norm(g), norm(w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && !contains(also, k) {
			t.Errorf("unexpected field %s = %v", k, got[k])
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// common is what every document of metricsRequest carries.
func common(name, kind, unit string) map[string]any {
	return map[string]any{
		"name": name, "description": "", "unit": unit, "kind": kind,
		"startTime": "2025-11-23T08:00:00.000000000Z", "time": "2025-11-23T08:00:15.000000000Z",
		"serviceName": "cart", "schemaUrl": "https://opentelemetry.io/schemas/1.26.0", "flags": 0,
		"instrumentationScope": map[string]any{"name": "shop", "version": "1.0"}, "exemplars": []any{},
		"resource.attributes.service@name": "cart", "resource.attributes.service@instance@id": "pod-1",
	}
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestConvertGaugeAndSums(t *testing.T) {
	g := gaugeMetric("queue.fill", numberPoint(0.25, strAttr("queue.name", "orders")))
	g.Description = "how full"
	counter := &metricspb.Metric{Name: "http.server.requests", Unit: "{request}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
		IsMonotonic: true, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
		DataPoints: []*metricspb.NumberDataPoint{{StartTimeUnixNano: mt0, TimeUnixNano: mt1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 42},
			Attributes: []*commonpb.KeyValue{strAttr("http.route", "/cart"), {Key: "code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}}},
			Exemplars: []*metricspb.Exemplar{{TimeUnixNano: mt1, Value: &metricspb.Exemplar_AsInt{AsInt: 1},
				TraceId: []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
				SpanId:  []byte{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, FilteredAttributes: []*commonpb.KeyValue{strAttr("user.id", "u1")}}}}},
	}}}
	updown := &metricspb.Metric{Name: "pool.active", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
		IsMonotonic: false, AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
		DataPoints: []*metricspb.NumberDataPoint{numberPoint(-3)}}}}
	res := convert(t, metricsRequest(g, counter, updown), DefaultMetricsOptions())
	if len(res.Events) != 3 || res.Rejected != 0 {
		t.Fatalf("%d events, %d rejected (%s)", len(res.Events), res.Rejected, res.Message)
	}
	if want := time.Unix(0, int64(mt1)).UTC(); !res.Events[0].Time.Equal(want) {
		t.Errorf("event time %v, want %v", res.Events[0].Time, want)
	}
	checkFields(t, res.Events[0].Fields(), merge(common("queue.fill", "GAUGE", "1"), map[string]any{
		"description": "how full", "value": 0.25, "metric.attributes.queue@name": "orders"}))
	checkFields(t, res.Events[1].Fields(), merge(common("http.server.requests", "SUM", "{request}"), map[string]any{
		"value": 42.0, "isMonotonic": true, "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
		"metric.attributes.http@route": "/cart", "metric.attributes.code": 200,
		"exemplars": []any{map[string]any{"time": "2025-11-23T08:00:15.000000000Z", "value": 1.0,
			"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7", "attributes": map[string]any{"user@id": "u1"}}},
	}))
	checkFields(t, res.Events[2].Fields(), merge(common("pool.active", "SUM", ""), map[string]any{
		"value": -3.0, "isMonotonic": false, "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA"}))
}

func TestConvertNoRecordedValueIsNaN(t *testing.T) {
	dp := &metricspb.NumberDataPoint{TimeUnixNano: mt1, Flags: uint32(FlagNoRecordedValue)}
	res := convert(t, metricsRequest(gaugeMetric("gone", dp)), DefaultMetricsOptions())
	if len(res.Events) != 1 {
		t.Fatalf("%d events (%s)", len(res.Events), res.Message)
	}
	f := res.Events[0].Fields()
	if v, ok := f["value"].(float64); !ok || !math.IsNaN(v) || f["flags"] != int64(1) {
		t.Errorf("value %v flags %v", f["value"], f["flags"])
	}
	if !strings.Contains(string(res.Events[0].AppendJSON(nil)), `"value":null`) {
		t.Errorf("NaN is not null in JSON: %s", res.Events[0].AppendJSON(nil))
	}
}

func histogramMetric(temporality metricspb.AggregationTemporality, dps ...*metricspb.HistogramDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: "http.server.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
		AggregationTemporality: temporality, DataPoints: dps}}}
}

func TestConvertHistogram(t *testing.T) {
	dp := &metricspb.HistogramDataPoint{StartTimeUnixNano: mt0, TimeUnixNano: mt1, Count: 10, Sum: f64(3.5), Min: f64(0.01), Max: f64(2),
		BucketCounts: []uint64{2, 5, 3}, ExplicitBounds: []float64{0.1, 1}}
	noSum := &metricspb.HistogramDataPoint{TimeUnixNano: mt1, Count: 0}
	cum := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	res := convert(t, metricsRequest(histogramMetric(cum, dp, noSum)), DefaultMetricsOptions())
	if len(res.Events) != 2 {
		t.Fatalf("%d events (%s)", len(res.Events), res.Message)
	}
	checkFields(t, res.Events[0].Fields(), merge(common("http.server.duration", "HISTOGRAM", "s"), map[string]any{
		"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE", "count": 10, "sum": 3.5, "min": 0.01, "max": 2.0,
		"bucketCounts": 3, "explicitBoundsCount": 2, "bucketCountsList": []any{2, 5, 3}, "explicitBounds": []any{0.1, 1.0},
		"buckets": []any{
			map[string]any{"min": -BucketBound, "max": 0.1, "count": 2},
			map[string]any{"min": 0.1, "max": 1.0, "count": 5},
			map[string]any{"min": 1.0, "max": BucketBound, "count": 3},
		},
	}))
	f := res.Events[1].Fields()
	if _, ok := f["sum"]; ok {
		t.Errorf("absent sum written: %v", f["sum"])
	}
	if f["startTime"] != "1970-01-01T00:00:00.000000000Z" || f["count"] != int64(0) {
		t.Errorf("start %v count %v", f["startTime"], f["count"])
	}
	// Without calculate_histogram_buckets, no buckets field.
	res = convert(t, metricsRequest(histogramMetric(cum, dp)), MetricsOptions{})
	if _, ok := res.Events[0].Fields()["buckets"]; ok {
		t.Error("buckets written with calculate_histogram_buckets: false")
	}
}

func TestConvertExponentialHistogram(t *testing.T) {
	dp := &metricspb.ExponentialHistogramDataPoint{StartTimeUnixNano: mt0, TimeUnixNano: mt1, Count: 7, Sum: f64(11), Scale: 0,
		ZeroCount: 1, ZeroThreshold: 0.001,
		Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 1, BucketCounts: []uint64{1, 2}},
		Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 0, BucketCounts: []uint64{3}}}
	m := &metricspb.Metric{Name: "latency", Unit: "ms", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, DataPoints: []*metricspb.ExponentialHistogramDataPoint{dp}}}}
	res := convert(t, metricsRequest(m), DefaultMetricsOptions())
	if len(res.Events) != 1 {
		t.Fatalf("%d events (%s)", len(res.Events), res.Message)
	}
	// Scale 0: base 2, positive bucket i holds (2^i, 2^(i+1)].
	checkFields(t, res.Events[0].Fields(), merge(common("latency", "EXPONENTIAL_HISTOGRAM", "ms"), map[string]any{
		"aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE", "count": 7, "sum": 11.0, "scale": 0,
		"zeroCount": 1, "zeroThreshold": 0.001, "positiveOffset": 1, "negativeOffset": 0,
		"positive": []any{1, 2}, "negative": []any{3},
		"positiveBuckets": []any{map[string]any{"min": 2.0, "max": 4.0, "count": 1}, map[string]any{"min": 4.0, "max": 8.0, "count": 2}},
		"negativeBuckets": []any{map[string]any{"min": -2.0, "max": -1.0, "count": 3}},
	}))
	// Above exponential_histogram_max_allowed_scale, the raw counts only.
	dp.Scale = 12
	res = convert(t, metricsRequest(m), MetricsOptions{CalculateExponentialHistogramBuckets: true, ExponentialHistogramMaxAllowedScale: 10})
	if f := res.Events[0].Fields(); f["positiveBuckets"] != nil || f["scale"] != int64(12) {
		t.Errorf("scale 12: %v %v", f["positiveBuckets"], f["scale"])
	}
	// Bounds at scale 3 are 2^(1/8) apart; at scale -1, 4 apart.
	if b := ExponentialBound(3, 7); math.Abs(b-2) > 1e-12 {
		t.Errorf("scale 3 index 7 bound %v, want 2", b)
	}
	if b := ExponentialBound(-1, 1); b != 16 {
		t.Errorf("scale -1 index 1 bound %v, want 16", b)
	}
}

func TestConvertSummary(t *testing.T) {
	m := &metricspb.Metric{Name: "rpc.duration", Unit: "s", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{
		StartTimeUnixNano: mt0, TimeUnixNano: mt1, Count: 100, Sum: 12.5,
		QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 0.1}, {Quantile: 0.99, Value: 0.9}},
	}}}}}
	res := convert(t, metricsRequest(m), DefaultMetricsOptions())
	if len(res.Events) != 1 {
		t.Fatalf("%d events (%s)", len(res.Events), res.Message)
	}
	want := merge(common("rpc.duration", "SUMMARY", "s"), map[string]any{"count": 100, "sum": 12.5, "quantileValuesCount": 2,
		"quantiles": []any{map[string]any{"quantile": 0.5, "value": 0.1}, map[string]any{"quantile": 0.99, "value": 0.9}}})
	delete(want, "exemplars")
	checkFields(t, res.Events[0].Fields(), want)
}

func TestConvertRejectsInvalidDataPoints(t *testing.T) {
	cum := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	expo := func(dp *metricspb.ExponentialHistogramDataPoint) *metricspb.Metric {
		return &metricspb.Metric{Name: "e", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
			DataPoints: []*metricspb.ExponentialHistogramDataPoint{dp}}}}
	}
	for name, tc := range map[string]struct {
		m    *metricspb.Metric
		n    int64
		want string
	}{
		"no name":         {gaugeMetric("", numberPoint(1), numberPoint(2)), 2, "metric without a name (2 data points)"},
		"no time":         {gaugeMetric("g", &metricspb.NumberDataPoint{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1}}), 1, "no time_unix_nano"},
		"no value":        {gaugeMetric("g", &metricspb.NumberDataPoint{TimeUnixNano: mt1}), 1, "neither as_double nor as_int"},
		"null point":      {gaugeMetric("g", nil), 1, "null data point"},
		"bucket mismatch": {histogramMetric(cum, &metricspb.HistogramDataPoint{TimeUnixNano: mt1, Count: 3, BucketCounts: []uint64{1, 2}, ExplicitBounds: []float64{1, 2}}), 1, "2 bucket_counts for 2 explicit_bounds"},
		"count mismatch":  {histogramMetric(cum, &metricspb.HistogramDataPoint{TimeUnixNano: mt1, Count: 4, BucketCounts: []uint64{1, 2}, ExplicitBounds: []float64{1}}), 1, "add up to 3, not count 4"},
		"bounds order":    {histogramMetric(cum, &metricspb.HistogramDataPoint{TimeUnixNano: mt1, Count: 3, BucketCounts: []uint64{1, 1, 1}, ExplicitBounds: []float64{2, 1}}), 1, "increasing"},
		"NaN bound":       {histogramMetric(cum, &metricspb.HistogramDataPoint{TimeUnixNano: mt1, Count: 2, BucketCounts: []uint64{1, 1}, ExplicitBounds: []float64{math.NaN()}}), 1, "increasing"},
		"exemplar ID": {gaugeMetric("g", &metricspb.NumberDataPoint{TimeUnixNano: mt1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1},
			Exemplars: []*metricspb.Exemplar{{TraceId: []byte{1, 2}}}}), 1, "exemplar trace_id has 2 bytes"},
		"scale":        {expo(&metricspb.ExponentialHistogramDataPoint{TimeUnixNano: mt1, Scale: 21}), 1, "scale 21 is outside [-10, 20]"},
		"expo count":   {expo(&metricspb.ExponentialHistogramDataPoint{TimeUnixNano: mt1, Count: 5, ZeroCount: 1}), 1, "add up to 1, not count 5"},
		"zero thresh":  {expo(&metricspb.ExponentialHistogramDataPoint{TimeUnixNano: mt1, ZeroThreshold: -1}), 1, "zero_threshold"},
		"offset range": {expo(&metricspb.ExponentialHistogramDataPoint{TimeUnixNano: mt1, Count: 2, Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: math.MaxInt32, BucketCounts: []uint64{1, 1}}}), 1, "largest index"},
		"quantile": {&metricspb.Metric{Name: "s", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{DataPoints: []*metricspb.SummaryDataPoint{{
			TimeUnixNano: mt1, QuantileValues: []*metricspb.SummaryDataPoint_ValueAtQuantile{{Quantile: 1.5}}}}}}}, 1, "quantile 1.5 is outside [0, 1]"},
	} {
		t.Run(name, func(t *testing.T) {
			// The invalid metric sits between two valid ones, which survive.
			res := convert(t, metricsRequest(gaugeMetric("ok1", numberPoint(1)), tc.m, gaugeMetric("ok2", numberPoint(2))), DefaultMetricsOptions())
			if res.Rejected != tc.n || !strings.Contains(res.Message, tc.want) {
				t.Errorf("rejected %d (%q), want %d (%q)", res.Rejected, res.Message, tc.n, tc.want)
			}
			if len(res.Events) != 2 || res.Events[0].Fields()["name"] != "ok1" || res.Events[1].Fields()["name"] != "ok2" {
				t.Errorf("%d events accepted", len(res.Events))
			}
		})
	}
}

func TestConvertEmptyAndNil(t *testing.T) {
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{nil, {ScopeMetrics: []*metricspb.ScopeMetrics{nil, {
		Metrics: []*metricspb.Metric{nil, {Name: "no data"}, gaugeMetric("g", numberPoint(1))}}}}}}
	res := convert(t, req, DefaultMetricsOptions())
	if len(res.Events) != 1 || res.Rejected != 0 {
		t.Fatalf("%d events %d rejected", len(res.Events), res.Rejected)
	}
	f := res.Events[0].Fields()
	if f["serviceName"] != nil || !reflect.DeepEqual(f["instrumentationScope"], map[string]any{"name": "", "version": ""}) {
		t.Errorf("no resource/scope: %v %v", f["serviceName"], f["instrumentationScope"])
	}
	if r := ConvertMetrics(&colmetricspb.ExportMetricsServiceRequest{}, DefaultMetricsOptions()); len(r.Events) != 0 || r.Rejected != 0 {
		t.Errorf("empty request: %+v", r)
	}
}

func TestDecodeMetricsProtobufAndJSON(t *testing.T) {
	req := metricsRequest(gaugeMetric("g", &metricspb.NumberDataPoint{TimeUnixNano: mt1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 7},
		Exemplars: []*metricspb.Exemplar{{TimeUnixNano: mt1, TraceId: make([]byte, 16), SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}}}}))
	bin, _ := proto.Marshal(req)
	a, err := DecodeMetrics(bin, false, DefaultMetricsOptions())
	if err != nil || len(a.Events) != 1 {
		t.Fatalf("protobuf: %v %d", err, len(a.Events))
	}
	// OTLP/JSON: hex exemplar IDs, int64 as strings, enum names.
	body := []byte(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}},{"key":"service.instance.id","value":{"stringValue":"pod-1"}}]},
	"scopeMetrics":[{"scope":{"name":"shop","version":"1.0"},"schemaUrl":"https://opentelemetry.io/schemas/1.26.0","metrics":[{"name":"g","unit":"1","gauge":{"dataPoints":[
	{"timeUnixNano":"` + "1763884815000000000" + `","asInt":"7","exemplars":[{"timeUnixNano":"1763884815000000000","traceId":"00000000000000000000000000000000","spanId":"0102030405060708"}]}]}}]}]}]}`)
	b, err := DecodeMetrics(body, true, DefaultMetricsOptions())
	if err != nil || len(b.Events) != 1 {
		t.Fatalf("JSON: %v %d", err, len(b.Events))
	}
	if x, y := string(a.Events[0].AppendJSON(nil)), string(b.Events[0].AppendJSON(nil)); x != y {
		t.Errorf("protobuf and JSON documents differ:\n%s\n%s", x, y)
	}
	if ex := b.Events[0].Fields()["exemplars"].([]any)[0].(map[string]any); ex["spanId"] != "0102030405060708" {
		t.Errorf("exemplar %v", ex)
	}
}

func TestDecodeMetricsErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		body   string
		isJSON bool
		want   string
	}{
		"truncated protobuf": {"\x0a\x05\x0a\x03", false, "cannot parse"},
		"wrong wire type":    {"\x0b", false, "cannot parse"},
		"not JSON":           {`{"resourceMetrics":`, true, "unexpected"},
		"wrong JSON type":    {`{"resourceMetrics":{"x":1}}`, true, "unexpected token"},
		"non-hex exemplar":   {`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"1","asInt":"1","exemplars":[{"traceId":"zz"}]}]}}]}]}]}`, true, "hex"},
		"bad number":         {`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":"lots"}]}}]}]}]}`, true, "asDouble"},
	} {
		_, err := DecodeMetrics([]byte(tc.body), tc.isJSON, DefaultMetricsOptions())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestMetricsSignalResponse(t *testing.T) {
	sig := NewMetricsSignal(DefaultMetricsOptions())
	if sig.HTTPPath != "/v1/metrics" || sig.GRPCMethod() != "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" || sig.RejectReason != RejectInvalidDataPoint {
		t.Errorf("signal %+v", sig)
	}
	resp := sig.Response(&Result{Rejected: 2, Message: "m"}).(*colmetricspb.ExportMetricsServiceResponse)
	if resp.GetPartialSuccess().GetRejectedDataPoints() != 2 || resp.GetPartialSuccess().GetErrorMessage() != "m" {
		t.Errorf("partial success %v", resp)
	}
	if resp := sig.Response(&Result{}).(*colmetricspb.ExportMetricsServiceResponse); resp.PartialSuccess != nil {
		t.Errorf("full success carries %v", resp.PartialSuccess)
	}
}
