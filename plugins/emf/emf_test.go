package emf

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newProc(t *testing.T, opts string) (*processor, *prometheus.Registry) {
	t.Helper()
	p, reg, err := pipelinestest.Processor("emf", opts)
	if err != nil {
		t.Fatal(err)
	}
	return p.(*processor), reg
}

func metricEvent(t *testing.T, js string) *event.Event {
	t.Helper()
	ev := pipelinestest.Event(t, js)
	ev.Kind = event.KindMetric
	return ev
}

// docs runs events through p and returns the output documents decoded from
// the JSON a sink would write, each checked against the EMF rules.
func docs(t *testing.T, p pipelines.Processor, evs ...*event.Event) []map[string]any {
	t.Helper()
	out := p.Process(context.Background(), evs)
	var res []map[string]any
	for _, ev := range out {
		var m map[string]any
		if err := json.Unmarshal(ev.AppendJSON(nil), &m); err != nil {
			t.Fatalf("output is not JSON: %v", err)
		}
		if _, ok := m["_aws"]; ok {
			if err := CheckDocument(normalize(m)); err != nil {
				t.Fatalf("invalid EMF document %s: %v", ev.AppendJSON(nil), err)
			}
		}
		res = append(res, m)
	}
	return res
}

// normalize keeps encoding/json's float64 numbers (CheckDocument accepts
// them).
func normalize(m map[string]any) map[string]any { return m }

func dropped(reg *prometheus.Registry, reason string) float64 {
	return pipelinestest.CounterValue(reg, "weft_component_events_dropped_total", "reason", reason)
}

const t0 = 1_763_900_000_000 // ms

func TestGaugeDocumentShape(t *testing.T) {
	p, _ := newProc(t, "namespace: shop\nexclude_dimensions: [pod]")
	got := docs(t, p, metricEvent(t, fmt.Sprintf(`{"name":"queue_depth","kind":"gauge","labels":{"service":"order","pod":"order-1","zone":""},"value":3,"timestamp":%d}`, t0)))
	want := map[string]any{
		"service": "order", "pod": "order-1", "queue_depth": 3.0,
		"_aws": map[string]any{
			"Timestamp": float64(t0),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "shop",
				"Dimensions": []any{[]any{"service"}},
				"Metrics":    []any{map[string]any{"Name": "queue_depth"}},
			}},
		},
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestCounterDeltasResetsAndOrder(t *testing.T) {
	p, reg := newProc(t, "")
	reading := func(v float64, ts int64, start int64) []map[string]any {
		st := ""
		if start > 0 {
			st = fmt.Sprintf(`,"startTime":%d`, start)
		}
		return docs(t, p, metricEvent(t, fmt.Sprintf(`{"name":"http_requests_total","kind":"counter","labels":{"code":"200"},"value":%v,"timestamp":%d%s}`, v, ts, st)))
	}
	// a series started before the processor: its first reading is the baseline
	if d := reading(100, t0, t0-3_600_000); len(d) != 0 {
		t.Fatalf("first reading gave %v, want the baseline only", d)
	}
	if dropped(reg, ReasonBaseline) != 1 {
		t.Errorf("baseline drops = %v", dropped(reg, ReasonBaseline))
	}
	steps := []struct {
		v, want float64
		ts      int64
		start   int64
	}{
		{130, 30, t0 + 60_000, t0 - 3_600_000},
		{130, 0, t0 + 120_000, t0 - 3_600_000}, // no increase: a zero, still reported
		{12, 12, t0 + 180_000, t0 - 3_600_000}, // went down: a reset, the delta is the new value
		{20, 8, t0 + 240_000, t0 - 3_600_000},
		{25, 25, t0 + 300_000, t0 + 250_000}, // start time changed: restarted although higher
	}
	for i, s := range steps {
		d := reading(s.v, s.ts, s.start)
		if len(d) != 1 || d[0]["http_requests_total"] != s.want {
			t.Fatalf("step %d: got %v, want delta %v", i, d, s.want)
		}
		m := d[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any)[0].(map[string]any)
		if m["Unit"] != "Count" {
			t.Errorf("counter unit %v, want Count", m["Unit"])
		}
	}
	if v := pipelinestest.CounterValue(reg, "weft_emf_counter_resets_total"); v != 2 {
		t.Errorf("resets = %v, want 2", v)
	}
	// an older or repeated reading is not a delta
	if d := reading(40, t0+300_000, t0+250_000); len(d) != 0 {
		t.Fatalf("repeated reading gave %v", d)
	}
	if dropped(reg, ReasonOutOfOrder) != 1 {
		t.Errorf("out of order drops = %v", dropped(reg, ReasonOutOfOrder))
	}
	// the sum of the deltas is the increase since the baseline, resets included
	if d := reading(45, t0+360_000, t0+250_000); len(d) != 1 || d[0]["http_requests_total"] != 20.0 {
		t.Fatalf("after the repeated reading: %v, want 20", d)
	}
}

func TestInitialValue(t *testing.T) {
	for _, tc := range []struct {
		opt   string
		start string
		keep  bool
	}{
		{"auto", "", false},
		{"auto", `,"startTime":1000000000000`, false}, // started long before the processor
		{"auto", `,"startTime":"2999-01-01T00:00:00Z"`, true},
		{"keep", "", true},
		{"drop", `,"startTime":"2999-01-01T00:00:00Z"`, false},
	} {
		p, _ := newProc(t, "initial_value: "+tc.opt)
		d := docs(t, p, metricEvent(t, fmt.Sprintf(`{"name":"jobs_total","kind":"counter","value":7,"timestamp":%d%s}`, t0, tc.start)))
		if got := len(d) == 1 && d[0]["jobs_total"] == 7.0; got != tc.keep {
			t.Errorf("initial_value %s, start %q: kept = %v, want %v (%v)", tc.opt, tc.start, got, tc.keep, d)
		}
	}
}

func TestHistogramDeltasAsValuesAndCounts(t *testing.T) {
	p, reg := newProc(t, "")
	h := func(ts int64, c1, c2, c3, count float64, sum float64) *event.Event {
		return metricEvent(t, fmt.Sprintf(`{"name":"rpc_duration_seconds","kind":"histogram","labels":{"service":"order"},
			"buckets":[{"le":0.1,"count":%v},{"le":1,"count":%v},{"le":"+Inf","count":%v}],"count":%v,"sum":%v,"timestamp":%d}`, c1, c2, c3, count, sum, ts))
	}
	if d := docs(t, p, h(t0, 2, 5, 6, 6, 4)); len(d) != 0 {
		t.Fatalf("baseline gave %v", d)
	}
	d := docs(t, p, h(t0+60_000, 4, 7, 11, 11, 10))
	if len(d) != 1 {
		t.Fatalf("got %v", d)
	}
	got := d[0]["rpc_duration_seconds"].(map[string]any)
	want := map[string]any{"Values": []any{0.05, 1.0}, "Counts": []any{2.0, 3.0}, "Min": 0.0, "Max": 1.0, "Count": 5.0, "Sum": 6.0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("histogram %v, want %v", got, want)
	}
	unit := d[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any)[0].(map[string]any)["Unit"]
	if unit != "Seconds" {
		t.Errorf("unit %v, want Seconds", unit)
	}
	// no new observation: nothing to report
	if d := docs(t, p, h(t0+120_000, 4, 7, 11, 11, 10)); len(d) != 0 {
		t.Fatalf("unchanged histogram gave %v", d)
	}
	if dropped(reg, ReasonNoValue) != 1 {
		t.Errorf("no-value drops = %v", dropped(reg, ReasonNoValue))
	}
	// a reset: the counts since the restart
	d = docs(t, p, h(t0+180_000, 1, 1, 1, 1, 0.02))
	if len(d) != 1 || !reflect.DeepEqual(d[0]["rpc_duration_seconds"].(map[string]any)["Counts"], []any{1.0}) {
		t.Fatalf("after reset %v", d)
	}
}

func TestHistogramAtMost100Values(t *testing.T) {
	p, _ := newProc(t, "initial_value: keep")
	var bounds, counts []string
	total := 0
	for i := 0; i < 250; i++ {
		bounds = append(bounds, fmt.Sprint(i+1))
		counts = append(counts, fmt.Sprint(i%3+1))
		total += i%3 + 1
	}
	counts = append(counts, "4")
	total += 4
	d := docs(t, p, metricEvent(t, fmt.Sprintf(`{"name":"size","kind":"HISTOGRAM","aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA",
		"explicitBounds":[%s],"bucketCountsList":[%s],"count":%d,"sum":1000,"min":0.5,"max":300,"time":"2025-11-23T10:00:00Z"}`,
		strings.Join(bounds, ","), strings.Join(counts, ","), total)))
	if len(d) != 1 {
		t.Fatalf("got %d documents", len(d))
	}
	h := d[0]["size"].(map[string]any)
	vals, cnts := h["Values"].([]any), h["Counts"].([]any)
	if len(vals) > 100 || len(vals) < 50 || len(vals) != len(cnts) {
		t.Fatalf("%d values, %d counts", len(vals), len(cnts))
	}
	sum := 0.0
	for i, c := range cnts {
		sum += c.(float64)
		if i > 0 && vals[i].(float64) <= vals[i-1].(float64) {
			t.Fatalf("values not increasing at %d: %v", i, vals)
		}
	}
	if sum != float64(total) || h["Count"] != float64(total) || h["Min"] != 0.5 || h["Max"] != 300.0 {
		t.Fatalf("counts sum %v, Count %v, Min %v, Max %v; want %d, 0.5, 300", sum, h["Count"], h["Min"], h["Max"], total)
	}
	if ts := d[0]["_aws"].(map[string]any)["Timestamp"]; ts != float64(time.Date(2025, 11, 23, 10, 0, 0, 0, time.UTC).UnixMilli()) {
		t.Errorf("Timestamp %v", ts)
	}
}

func TestAtMost100MetricsPerDocument(t *testing.T) {
	p, reg := newProc(t, "")
	var evs []*event.Event
	for i := 0; i < 250; i++ {
		evs = append(evs, metricEvent(t, fmt.Sprintf(`{"name":"g%03d","value":%d,"labels":{"host":"a"},"timestamp":%d}`, i, i, t0)))
	}
	evs = append(evs, metricEvent(t, fmt.Sprintf(`{"name":"g000","value":1,"labels":{"host":"b"},"timestamp":%d}`, t0)))
	d := docs(t, p, evs...)
	if len(d) != 4 {
		t.Fatalf("%d documents, want 4 (100+100+50 for host a, 1 for host b)", len(d))
	}
	seen := 0
	for _, doc := range d {
		n := len(doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any))
		seen += n
		if n > 100 {
			t.Fatalf("%d metrics in one document", n)
		}
	}
	if seen != 251 {
		t.Errorf("%d metrics written, want 251", seen)
	}
	// events in = documents out + merged
	if m := dropped(reg, ReasonMerged); m != 251-4 {
		t.Errorf("merged = %v, want %d", m, 251-4)
	}
	if v := pipelinestest.CounterValue(reg, "weft_emf_metrics_total"); v != 251 {
		t.Errorf("weft_emf_metrics_total = %v", v)
	}
}

func TestDimensions(t *testing.T) {
	var labels []string
	for i := 0; i < 40; i++ {
		labels = append(labels, fmt.Sprintf(`"l%02d":"v"`, i))
	}
	ev := func() *event.Event {
		return metricEvent(t, fmt.Sprintf(`{"name":"m","value":1,"labels":{%s},"timestamp":%d}`, strings.Join(labels, ","), t0))
	}
	dimsOf := func(doc map[string]any) []any {
		return doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"].([]any)[0].([]any)
	}
	p, reg := newProc(t, "")
	d := docs(t, p, ev())
	if n := len(dimsOf(d[0])); n != 30 {
		t.Errorf("%d dimensions, want the cap of 30", n)
	}
	if d[0]["l39"] != "v" {
		t.Errorf("labels beyond the cap must stay in the document")
	}
	if v := pipelinestest.CounterValue(reg, "weft_emf_dimensions_truncated_total"); v != 1 {
		t.Errorf("truncated = %v", v)
	}
	p, _ = newProc(t, "max_dimensions: 2")
	if got := dimsOf(docs(t, p, ev())[0]); !reflect.DeepEqual(got, []any{"l00", "l01"}) {
		t.Errorf("max_dimensions 2: %v", got)
	}
	p, _ = newProc(t, "dimensions: [l07, l03, absent]")
	if got := dimsOf(docs(t, p, ev())[0]); !reflect.DeepEqual(got, []any{"l07", "l03"}) {
		t.Errorf("dimensions: %v, want [l07 l03] in the configured order", got)
	}
	p, _ = newProc(t, "")
	got := dimsOf(docs(t, p, metricEvent(t, fmt.Sprintf(`{"name":"m","value":1,"timestamp":%d}`, t0)))[0])
	if len(got) != 0 {
		t.Errorf("no labels: dimensions %v, want one empty set", got)
	}
}

func TestNonFiniteAndInvalid(t *testing.T) {
	p, reg := newProc(t, "")
	d := docs(t, p,
		metricEvent(t, fmt.Sprintf(`{"name":"a","value":"NaN","timestamp":%d}`, t0)),
		metricEvent(t, fmt.Sprintf(`{"name":"b","value":"+Inf","timestamp":%d}`, t0)),
		metricEvent(t, fmt.Sprintf(`{"name":"c","kind":"exponential_histogram","timestamp":%d}`, t0)),
		metricEvent(t, fmt.Sprintf(`{"name":"d","kind":"gauge","timestamp":%d}`, t0)),
		metricEvent(t, fmt.Sprintf(`{"name":"e","value":1.5,"timestamp":%d}`, t0)),
	)
	if len(d) != 1 || d[0]["e"] != 1.5 {
		t.Fatalf("got %v", d)
	}
	if dropped(reg, ReasonNoValue) != 2 || dropped(reg, ReasonInvalid) != 2 {
		t.Errorf("no_value %v invalid %v, want 2 and 2", dropped(reg, ReasonNoValue), dropped(reg, ReasonInvalid))
	}
	if v := pipelinestest.CounterValue(reg, "weft_emf_values_dropped_total", "reason", "non_finite"); v != 2 {
		t.Errorf("non_finite = %v", v)
	}
}

func TestNonMetricEvents(t *testing.T) {
	p, _ := newProc(t, "")
	log := pipelinestest.Event(t, `{"message":"hello"}`)
	if d := docs(t, p, log); len(d) != 1 || d[0]["message"] != "hello" {
		t.Fatalf("pass: %v", d)
	}
	p, reg := newProc(t, "non_metric: drop")
	if d := docs(t, p, pipelinestest.Event(t, `{"message":"hello"}`)); len(d) != 0 {
		t.Fatalf("drop: %v", d)
	}
	if dropped(reg, ReasonNotMetric) != 1 {
		t.Errorf("not_metric drops %v", dropped(reg, ReasonNotMetric))
	}
}

func TestAcknowledgedEventsAreNotMerged(t *testing.T) {
	p, _ := newProc(t, "")
	var acked []bool
	a := event.NewAcker(func(ok bool) { acked = append(acked, ok) })
	e1 := metricEvent(t, fmt.Sprintf(`{"name":"x","value":1,"timestamp":%d}`, t0))
	e2 := metricEvent(t, fmt.Sprintf(`{"name":"y","value":2,"timestamp":%d}`, t0))
	a.Track(e1)
	a.Track(e2)
	a.Seal()
	out := p.Process(context.Background(), []*event.Event{e1, e2})
	if len(out) != 2 {
		t.Fatalf("%d documents, want one per acknowledged event", len(out))
	}
	if len(acked) != 0 {
		t.Fatalf("acknowledged before delivery")
	}
	for _, ev := range out {
		ev.Finalize(event.Rejected)
	}
	if len(acked) != 1 || acked[0] {
		t.Fatalf("ack %v, want one failed acknowledgement", acked)
	}
}

func TestOpenTelemetryDocuments(t *testing.T) {
	p, _ := newProc(t, "units: {'app_*': Milliseconds}")
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano) // after the processor's start: kept by initial_value auto
	sum := func(v int, ts string) *event.Event {
		return metricEvent(t, fmt.Sprintf(`{"name":"orders","kind":"SUM","isMonotonic":true,"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE",
			"value":%d,"startTime":%q,"time":%q,"unit":"{order}","serviceName":"shop","metric.attributes.http@route":"/checkout"}`, v, start, ts))
	}
	d := docs(t, p, sum(5, "2025-11-23T10:00:00Z"))
	if len(d) != 1 || d[0]["orders"] != 5.0 || d[0]["http.route"] != "/checkout" || d[0]["service.name"] != "shop" {
		t.Fatalf("first cumulative point (started after the processor) %v", d)
	}
	d = docs(t, p, sum(12, "2025-11-23T10:01:00Z"))
	if len(d) != 1 || d[0]["orders"] != 7.0 {
		t.Fatalf("second point %v", d)
	}
	// non-monotonic sums are gauges; delta sums are taken as they are
	d = docs(t, p,
		metricEvent(t, `{"name":"inflight","kind":"SUM","isMonotonic":false,"value":3,"time":"2025-11-23T10:00:00Z"}`),
		metricEvent(t, `{"name":"app_latency","kind":"SUM","isMonotonic":true,"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","value":40,"time":"2025-11-23T10:00:00Z"}`))
	if len(d) != 1 || d[0]["inflight"] != 3.0 || d[0]["app_latency"] != 40.0 {
		t.Fatalf("gauge-like and delta sums %v", d)
	}
	units := map[string]any{}
	for _, m := range d[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any) {
		units[m.(map[string]any)["Name"].(string)] = m.(map[string]any)["Unit"]
	}
	if units["app_latency"] != "Milliseconds" || units["inflight"] != nil {
		t.Errorf("units %v", units)
	}
}

func TestSeriesLimitAndTTL(t *testing.T) {
	p, reg := newProc(t, "max_series: 2\nseries_ttl: 1m")
	now := time.Unix(t0/1000, 0)
	p.now = func() time.Time { return now }
	c := func(name string, ts int64) *event.Event {
		return metricEvent(t, fmt.Sprintf(`{"name":%q,"kind":"counter","value":1,"timestamp":%d}`, name, ts))
	}
	docs(t, p, c("a", t0), c("b", t0), c("c", t0))
	if dropped(reg, ReasonSeriesLimit) != 1 {
		t.Fatalf("series limit drops %v", dropped(reg, ReasonSeriesLimit))
	}
	now = now.Add(2 * time.Minute) // a and b are stale now: forgotten to make room
	docs(t, p, c("c", t0+120_000))
	if dropped(reg, ReasonSeriesLimit) != 1 || dropped(reg, ReasonBaseline) != 3 {
		t.Fatalf("after the TTL: limit %v baseline %v", dropped(reg, ReasonSeriesLimit), dropped(reg, ReasonBaseline))
	}
	if v := gaugeValue(t, reg, "weft_emf_series"); v != 1 {
		t.Errorf("weft_emf_series = %v, want 1", v)
	}
}

func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return math.NaN()
}

func TestConfigErrors(t *testing.T) {
	for opts, want := range map[string]string{
		"namespace: ':x'":       "colon",
		"units: {'*_x': Secs}":  "not a CloudWatch unit",
		"storage_resolution: 5": "neither 1 nor 60",
		"max_dimensions: 31":    "above the maximum",
		"dimensions: [a, a]":    "twice",
		"initial_value: first":  "not one of",
		"units: {'[': Seconds}": "glob",
		"dimensions: [_aws]":    "metadata",
	} {
		_, _, err := pipelinestest.Processor("emf", opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", opts, err, want)
		}
	}
}

func TestHighResolution(t *testing.T) {
	p, _ := newProc(t, "storage_resolution: 1")
	d := docs(t, p, metricEvent(t, fmt.Sprintf(`{"name":"x","value":1,"timestamp":%d}`, t0)))
	m := d[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any)[0].(map[string]any)
	if m["StorageResolution"] != 1.0 {
		t.Fatalf("metric definition %v", m)
	}
}

func TestCheckDocumentRejects(t *testing.T) {
	for name, js := range map[string]string{
		"no _aws":         `{"x":1}`,
		"seconds":         `{"_aws":{"Timestamp":1700000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"x"}]}]},"x":1}`,
		"missing member":  `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"x"}]}]}}`,
		"numeric dim":     `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["d"]],"Metrics":[{"Name":"x"}]}]},"x":1,"d":2}`,
		"bad unit":        `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"x","Unit":"secs"}]}]},"x":1}`,
		"counts mismatch": `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"x"}]}]},"x":{"Values":[1,2],"Counts":[1],"Max":2,"Min":1,"Count":1,"Sum":1}}`,
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatal(err)
		}
		if CheckDocument(m) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "emf", "README.md")
}

// A histogram point as the otlp source writes it (Data Prepper's document:
// bounds and per-bucket counts, open-ended buckets, resource attributes,
// nanosecond ISO times), cumulative then delta, and a no-recorded-value
// point.
func TestOpenTelemetryHistogramDocument(t *testing.T) {
	p, reg := newProc(t, "")
	doc := func(counts string, count int, sum float64, tm, temporality string, flags int) *event.Event {
		return metricEvent(t, fmt.Sprintf(`{"name":"http.server.request.duration","description":"","unit":"s","kind":"HISTOGRAM",
			"startTime":"2025-11-23T09:00:00.000000000Z","time":%q,"serviceName":"order","flags":%d,
			"aggregationTemporality":%q,"count":%d,"sum":%v,"min":0.002,"max":0.9,
			"bucketCountsList":[%s],"explicitBounds":[0.005,0.05,0.5],"bucketCounts":4,"explicitBoundsCount":3,
			"buckets":[{"min":-3.4028234663852886e38,"max":0.005,"count":1}],
			"metric.attributes.http@route":"/checkout","resource.attributes.service@name":"order"}`,
			tm, flags, temporality, count, sum, counts))
	}
	const cum = "AGGREGATION_TEMPORALITY_CUMULATIVE"
	if d := docs(t, p, doc("1,2,3,0", 6, 1.5, "2025-11-23T10:00:00.000000000Z", cum, 0)); len(d) != 0 {
		t.Fatalf("baseline (started before the processor) gave %v", d)
	}
	d := docs(t, p, doc("1,4,3,1", 9, 3.0, "2025-11-23T10:01:00.000000000Z", cum, 0))
	if len(d) != 1 {
		t.Fatalf("got %v", d)
	}
	h := d[0]["http.server.request.duration"].(map[string]any)
	// delta: bucket (0.005, 0.05] +2, (0.5, +Inf) +1; cumulative min/max are not the interval's
	want := map[string]any{"Values": []any{0.0275, 0.5}, "Counts": []any{2.0, 1.0}, "Min": 0.005, "Max": 0.5, "Count": 3.0, "Sum": 1.5}
	if !reflect.DeepEqual(h, want) || d[0]["http.route"] != "/checkout" || d[0]["service.name"] != "order" {
		t.Fatalf("got %v, want %v", d[0], want)
	}
	if _, ok := d[0]["resource.attributes.service@name"]; ok {
		t.Errorf("resource attributes are not copied")
	}
	// a delta point's own min and max bound its values
	d = docs(t, p, doc("0,2,0,0", 2, 0.05, "2025-11-23T10:01:00.000000000Z", "AGGREGATION_TEMPORALITY_DELTA", 0))
	if h := d[0]["http.server.request.duration"].(map[string]any); h["Min"] != 0.002 || h["Max"] != 0.9 {
		t.Fatalf("delta histogram %v", h)
	}
	// no recorded value: nothing, and not an error
	if d := docs(t, p, doc("0,0,0,0", 0, 0, "2025-11-23T10:02:00.000000000Z", cum, 1)); len(d) != 0 {
		t.Fatalf("no-recorded-value point gave %v", d)
	}
	if dropped(reg, ReasonNoValue) != 1 || dropped(reg, ReasonInvalid) != 0 {
		t.Errorf("no_value %v invalid %v", dropped(reg, ReasonNoValue), dropped(reg, ReasonInvalid))
	}
}

// Workers call Process at once: the series state is shared (run with -race).
func TestConcurrentWorkers(t *testing.T) {
	p, reg := newProc(t, "initial_value: keep")
	const workers, rounds = 4, 50
	done := make(chan float64)
	for w := 0; w < workers; w++ {
		go func(w int) {
			total := 0.0
			for r := 1; r <= rounds; r++ {
				ev := metricEvent(t, fmt.Sprintf(`{"name":"c","kind":"counter","labels":{"w":"%d"},"value":%d,"timestamp":%d}`, w, r*10, t0+int64(r)))
				for _, o := range p.Process(context.Background(), []*event.Event{ev}) {
					total += o.Fields()["c"].(float64)
				}
			}
			done <- total
		}(w)
	}
	for w := 0; w < workers; w++ {
		if got := <-done; got != rounds*10 {
			t.Errorf("a worker's deltas add up to %v, want %d", got, rounds*10)
		}
	}
	if v := pipelinestest.CounterValue(reg, "weft_emf_documents_total"); v != workers*rounds {
		t.Errorf("documents %v", v)
	}
}
