package spanmetrics

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
)

var ctx = context.Background()

func newProc(t testing.TB, opts string) (pipelines.Processor, *prometheus.Registry) {
	t.Helper()
	p, reg, err := pipelinestest.Processor("span_metrics", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p, reg
}

func fixture(t testing.TB) []*event.Event {
	t.Helper()
	evs, err := spantest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func value(reg prometheus.Gatherer, name string, labels ...string) float64 {
	return pipelinestest.CounterValue(reg, name, labels...)
}

// histogram returns the sample count, sum and cumulative bucket counts of
// the histogram series with the given labels.
func histogram(t *testing.T, reg prometheus.Gatherer, labels ...string) (uint64, float64, map[float64]uint64) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "weft_span_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			h := m.GetHistogram()
			b := map[float64]uint64{}
			for _, bk := range h.GetBucket() {
				b[bk.GetUpperBound()] = bk.GetCumulativeCount()
			}
			return h.GetSampleCount(), h.GetSampleSum(), b
		}
	}
	t.Fatalf("no histogram with labels %v", labels)
	return 0, 0, nil
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestFixtureMetrics(t *testing.T) {
	p, reg := newProc(t, "")
	spans := fixture(t)
	var before []string
	for _, ev := range spans {
		before = append(before, string(ev.AppendJSON(nil)))
	}
	out := p.Process(ctx, spans)
	if len(out) != len(spans) {
		t.Fatalf("got %d events back, want %d", len(out), len(spans))
	}
	for i, ev := range out {
		if ev != spans[i] || string(ev.AppendJSON(nil)) != before[i] {
			t.Errorf("span %d changed", i)
		}
	}
	req := "weft_span_requests_total"
	cases := []struct {
		service, op, kind, status string
		n                         float64
	}{
		{"client", "client_checkout", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET", 1},
		{"client", "client_checkout", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", 1},
		{"order", "/checkout", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET", 1},
		{"order", "/checkout", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", 1},
		{"payment", "/checkout", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET", 1},
		{"payment", "/checkout", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", 1},
		{"payment", "update_inventory", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET", 2},
	}
	for _, c := range cases {
		labels := []string{"service", c.service, "operation", c.op, "span_kind", c.kind, "status_code", c.status,
			"pipeline", "test", "component", "processor/0/span_metrics"}
		if v := value(reg, req, labels...); v != c.n {
			t.Errorf("requests %v = %v, want %v", c, v, c.n)
		}
		wantErr := 0.0
		if c.status == "STATUS_CODE_ERROR" {
			wantErr = c.n
		}
		if v := value(reg, "weft_span_errors_total", labels...); v != wantErr {
			t.Errorf("errors %v = %v, want %v", c, v, wantErr)
		}
	}
	if v := value(reg, req); v != 8 {
		t.Errorf("requests in all = %v, want 8", v)
	}
	if v := value(reg, "weft_span_errors_total"); v != 3 {
		t.Errorf("errors in all = %v, want 3 (client, order and payment of the failed checkout)", v)
	}
	// update_inventory took 60 ms, twice.
	n, sum, buckets := histogram(t, reg, "service", "payment", "operation", "update_inventory")
	if n != 2 || math.Abs(sum-0.12) > 1e-9 || buckets[0.05] != 0 || buckets[0.1] != 2 || buckets[10] != 2 {
		t.Errorf("update_inventory histogram: count %d sum %v buckets %v", n, sum, buckets)
	}
	// client_checkout took 180 ms, twice (one per status).
	n, sum, buckets = histogram(t, reg, "service", "client", "status_code", "STATUS_CODE_ERROR")
	if n != 1 || math.Abs(sum-0.18) > 1e-9 || buckets[0.1] != 0 || buckets[0.25] != 1 {
		t.Errorf("client_checkout histogram: count %d sum %v buckets %v", n, sum, buckets)
	}
	if v := value(reg, "weft_span_metrics_series"); v != 7 {
		t.Errorf("series gauge %v, want 7", v)
	}
}

func TestBucketsAndDimensions(t *testing.T) {
	p, reg := newProc(t, "{buckets: [0.1, 0.2], dimensions: [http.method, telemetry.sdk.language, missing.key]}")
	p.Process(ctx, fixture(t))
	if v := value(reg, "weft_span_requests_total", "http_method", "POST", "telemetry_sdk_language", "python", "missing_key", ""); v != 8 {
		t.Errorf("requests with the dimensions = %v, want 8", v)
	}
	n, _, buckets := histogram(t, reg, "service", "client", "status_code", "STATUS_CODE_ERROR")
	if n != 1 || len(buckets) != 2 || buckets[0.1] != 0 || buckets[0.2] != 1 {
		t.Errorf("custom buckets: count %d, buckets %v", n, buckets)
	}
}

func TestOverflow(t *testing.T) {
	p, reg := newProc(t, "max_series: 2")
	var spans []*event.Event
	for i := 0; i < 5; i++ {
		spans = append(spans, spantest.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: fmt.Sprintf("%016x", i+1),
			Name: fmt.Sprintf("op-%d", i), Kind: "SPAN_KIND_SERVER", Service: "api", Start: 0, End: 1e6}.Event())
	}
	p.Process(ctx, spans)
	p.Process(ctx, spans)
	if v := value(reg, "weft_span_requests_total", "operation", "op-0"); v != 2 {
		t.Errorf("op-0 = %v", v)
	}
	if v := value(reg, "weft_span_requests_total", "operation", "op-2"); v != 0 {
		t.Errorf("op-2 has its own series beyond max_series")
	}
	if v := value(reg, "weft_span_requests_total", "service", "api", "operation", Overflow); v != 6 {
		t.Errorf("overflow series = %v, want 6", v)
	}
	if v := value(reg, "weft_span_metrics_overflow_total"); v != 6 {
		t.Errorf("overflow_total = %v, want 6", v)
	}
	if v := value(reg, "weft_span_metrics_series"); v != 3 {
		t.Errorf("series = %v, want 3", v)
	}
}

// Past the overflow reserve (100 overflow series, one per service), the
// service folds too: the series count stays bounded.
func TestOverflowServicesBounded(t *testing.T) {
	p, reg := newProc(t, "max_series: 1")
	var spans []*event.Event
	for i := 0; i < 150; i++ {
		spans = append(spans, spantest.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: fmt.Sprintf("%016x", i+1),
			Name: "op", Kind: "SPAN_KIND_SERVER", Service: fmt.Sprintf("svc-%d", i), Start: 0, End: 1e6}.Event())
	}
	p.Process(ctx, spans)
	p.Process(ctx, spans)
	if v := value(reg, "weft_span_metrics_series"); v != 1+100+1 {
		t.Errorf("series = %v, want 102", v)
	}
	if v := value(reg, "weft_span_requests_total", "service", Overflow, "operation", Overflow); v != 2*49 {
		t.Errorf("all-services overflow = %v, want 98", v)
	}
	if v := value(reg, "weft_span_requests_total"); v != 300 {
		t.Errorf("total = %v, want 300", v)
	}
}

func TestNonSpansIgnored(t *testing.T) {
	p, reg := newProc(t, "")
	logEv := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"serviceName": "x", "name": "y"})
	if out := p.Process(ctx, []*event.Event{logEv}); len(out) != 1 || out[0] != logEv {
		t.Fatal("log event not passed through")
	}
	if v := value(reg, "weft_span_requests_total"); v != 0 {
		t.Errorf("a log was counted")
	}
}

// Known series cost no allocation.
func TestNoAllocationsForKnownSeries(t *testing.T) {
	p, _ := newProc(t, "dimensions: [http.method, http.status_code]")
	spans := fixture(t)
	p.Process(ctx, spans)
	if a := testing.AllocsPerRun(100, func() { p.Process(ctx, spans) }); a != 0 {
		t.Errorf("%v allocations per batch of known series", a)
	}
}

func TestConcurrent(t *testing.T) {
	p, reg := newProc(t, "max_series: 50")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				var batch []*event.Event
				for j := 0; j < 20; j++ {
					batch = append(batch, spantest.Span{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "00f067aa0ba902b7",
						Name: fmt.Sprintf("op-%d", (i*20+j)%80), Kind: "SPAN_KIND_SERVER", Service: "api",
						Start: 0, End: int64(j) * 1e6, StatusCode: int64(j % 3)}.Event())
				}
				p.Process(ctx, batch)
			}
		}(w)
	}
	wg.Wait()
	if v := value(reg, "weft_span_requests_total"); v != 4*50*20 {
		t.Errorf("requests = %v, want 4000", v)
	}
	series := value(reg, "weft_span_metrics_series")
	if series > 50+100 {
		t.Errorf("series = %v beyond max_series + reserve", series)
	}
}

func TestConfig(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "span_metrics", "")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.MaxSeries != 10_000 || len(c.Buckets) != 11 || len(c.Dimensions) != 0 {
		t.Errorf("defaults %+v", c)
	}
	for opts, want := range map[string]string{
		"buckets: [1, 0.5]":                      "must increase",
		"buckets: []":                            "at least one bucket",
		"max_series: 0":                          "below the minimum",
		"dimensions: [service]":                  "already uses",
		"dimensions: [http.method, http_method]": "give the same label",
		"dimensions: [__x]":                      "reserved",
		"dimension: [a]":                         `did you mean "dimensions"?`,
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "span_metrics", opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", opts, err, want)
		}
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "span_metrics", "README.md")
}
