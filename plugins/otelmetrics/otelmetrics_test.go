package otelmetrics

import (
	"context"
	"strings"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	"github.com/weft-agent/weft/plugins/otlp"
)

// docs converts a histogram and an exponential histogram (scale 12) with
// the sources' defaults: both carry their bucket lists.
func docs(t *testing.T) []*event.Event {
	t.Helper()
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
		{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: []*metricspb.HistogramDataPoint{
			{TimeUnixNano: 1, Count: 1, BucketCounts: []uint64{0, 1}, ExplicitBounds: []float64{1}}}}}},
		{Name: "e", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{DataPoints: []*metricspb.ExponentialHistogramDataPoint{
			{TimeUnixNano: 1, Count: 1, Scale: 8, Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{BucketCounts: []uint64{1}}}}}}},
	}}}}}}
	res := otlp.ConvertMetrics(req, otlp.MetricsOptions{CalculateHistogramBuckets: true, CalculateExponentialHistogramBuckets: true, ExponentialHistogramMaxAllowedScale: 20})
	if len(res.Events) != 2 {
		t.Fatal(res.Message)
	}
	log := event.New(event.KindLog, res.Events[0].Time, map[string]any{"buckets": "not a metric"})
	return append(res.Events, log)
}

func has(ev *event.Event, k string) bool { _, ok := ev.Fields()[k]; return ok }

func TestOptionsApplied(t *testing.T) {
	for opts, want := range map[string][3]bool{ // buckets, positiveBuckets, the log's field
		"":                                   {true, true, true},
		"calculate_histogram_buckets: false": {false, true, true},
		"calculate_exponential_histogram_buckets: false":                       {true, false, true},
		"exponential_histogram_max_allowed_scale: 5":                           {true, false, true},
		"exponential_histogram_max_allowed_scale: 8\nflatten_attributes: true": {true, true, true},
	} {
		evs := pipelinestest.MustProcessor(t, "otel_metrics", opts).Process(context.Background(), docs(t))
		got := [3]bool{has(evs[0], "buckets"), has(evs[1], "positiveBuckets"), has(evs[2], "buckets")}
		if has(evs[1], "positiveBuckets") != has(evs[1], "negativeBuckets") {
			t.Errorf("%q: positiveBuckets and negativeBuckets not removed together", opts)
		}
		if got != want {
			t.Errorf("%q: %v, want %v", opts, got, want)
		}
	}
	// Data Prepper's older name.
	if _, _, err := pipelinestest.Processor("otel_metrics_raw_processor", ""); err != nil {
		t.Errorf("alias: %v", err)
	}
}

func TestFlattenFalseRefused(t *testing.T) {
	if _, _, err := pipelinestest.Processor("otel_metrics", "flatten_attributes: false"); err == nil || !strings.Contains(err.Error(), "top-level") {
		t.Errorf("flatten_attributes: false: %v", err)
	}
}

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "otel_metrics", "README.md")
}
