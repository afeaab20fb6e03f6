package logmetrics

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
)

func TestREADME(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "log_metrics", "README.md")
}

func newProc(t testing.TB, yaml string) (pipelines.Processor, *prometheus.Registry) {
	t.Helper()
	p, reg, err := pipelinestest.Processor("log_metrics", yaml)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

func logs(t testing.TB, docs ...string) []*event.Event {
	t.Helper()
	var out []*event.Event
	for _, d := range docs {
		m, err := event.DecodeJSONObject([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, event.New(event.KindLog, time.Time{}, m))
	}
	return out
}

// seriesOf returns "labels value" lines of a family, sorted, without the
// pipeline and component labels.
func seriesOf(t *testing.T, reg prometheus.Gatherer, name string) []string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				if l.GetName() != "pipeline" && l.GetName() != "component" {
					ls = append(ls, fmt.Sprintf("%s=%s", l.GetName(), l.GetValue()))
				}
			}
			v := 0.0
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Histogram != nil:
				v = float64(m.GetHistogram().GetSampleCount())
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			}
			out = append(out, fmt.Sprintf("{%s} %v", strings.Join(ls, ","), v))
		}
	}
	return out
}

func TestCountsByLabels(t *testing.T) {
	p, reg := newProc(t, `
name: app_log_events
help: Log lines by namespace, service and level.
labels: {namespace: /kubernetes/namespace_name, service: /serviceName, level: /level}
missing_value: none
`)
	in := logs(t,
		`{"kubernetes":{"namespace_name":"shop"},"serviceName":"order","level":"info"}`,
		`{"kubernetes":{"namespace_name":"shop"},"serviceName":"order","level":"info"}`,
		`{"kubernetes":{"namespace_name":"shop"},"serviceName":"order","level":"error"}`,
		`{"kubernetes":{"namespace_name":"shop"},"level":"info"}`,
		`{"kubernetes":{"namespace_name":"shop"},"serviceName":null,"level":404}`,
	)
	out := p.Process(context.Background(), in)
	if len(out) != len(in) {
		t.Fatalf("events changed: %d of %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Fatalf("event %d replaced", i)
		}
	}
	got := seriesOf(t, reg, "app_log_events_total")
	want := []string{
		"{level=404,namespace=shop,service=none} 1",
		"{level=error,namespace=shop,service=order} 1",
		"{level=info,namespace=shop,service=none} 1",
		"{level=info,namespace=shop,service=order} 2",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series\n got %v\nwant %v", got, want)
	}
	// The help and the engine's labels are there.
	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "app_log_events_total" {
			if f.GetHelp() != "Log lines by namespace, service and level." || f.GetType() != dto.MetricType_COUNTER {
				t.Errorf("family %v %v", f.GetHelp(), f.GetType())
			}
			if v := pipelinestest.CounterValue(reg, "app_log_events_total", "pipeline", "test", "component", "processor/0/log_metrics"); v != 5 {
				t.Errorf("with pipeline/component labels: %v", v)
			}
		}
	}
}

func TestCardinalityCap(t *testing.T) {
	p, reg := newProc(t, "name: reqs\nlabels: {path: /path}\nmax_series: 3\n")
	var docs []string
	for i := 0; i < 10; i++ {
		docs = append(docs, fmt.Sprintf(`{"path":"/item/%d"}`, i))
	}
	docs = append(docs, `{"path":"/item/0"}`, `{"path":"/item/9"}`)
	p.Process(context.Background(), logs(t, docs...))
	got := seriesOf(t, reg, "reqs_total")
	want := []string{"{path=/item/0} 2", "{path=/item/1} 1", "{path=/item/2} 1", "{path=__overflow__} 8"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series\n got %v\nwant %v", got, want)
	}
	if v := pipelinestest.CounterValue(reg, "weft_log_metrics_overflow_total"); v != 8 {
		t.Errorf("overflow = %v", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_log_metrics_series"); v != 4 {
		t.Errorf("series gauge = %v", v)
	}
}

func TestHistogram(t *testing.T) {
	p, reg := newProc(t, `
name: app_request
labels: {service: /service}
histogram: {field: /duration_ms, buckets: [0.01, 0.1, 1], unit_scale: 0.001, name_suffix: _duration_seconds}
`)
	p.Process(context.Background(), logs(t,
		`{"service":"a","duration_ms":5}`,
		`{"service":"a","duration_ms":50.5}`,
		`{"service":"a","duration_ms":"2000"}`,
		`{"service":"a"}`,
		`{"service":"a","duration_ms":"slow"}`,
	))
	if got := seriesOf(t, reg, "app_request_total"); fmt.Sprint(got) != "[{service=a} 5]" {
		t.Errorf("counter %v", got)
	}
	fams, _ := reg.Gather()
	var h *dto.Histogram
	for _, f := range fams {
		if f.GetName() == "app_request_duration_seconds" {
			h = f.GetMetric()[0].GetHistogram()
		}
	}
	if h == nil {
		t.Fatal("no histogram app_request_duration_seconds")
	}
	if h.GetSampleCount() != 3 || math.Abs(h.GetSampleSum()-2.0555) > 1e-9 {
		t.Errorf("count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	cum := []uint64{1, 2, 2}
	for i, b := range h.GetBucket() {
		if b.GetCumulativeCount() != cum[i] {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), cum[i])
		}
	}
}

func TestCountWhen(t *testing.T) {
	p, reg := newProc(t, "name: errors\nlabels: {service: /service}\ncount_when: '/level == \"error\"'\n")
	p.Process(context.Background(), logs(t,
		`{"service":"a","level":"error"}`, `{"service":"a","level":"info"}`, `{"service":"b","level":"error"}`))
	if got := seriesOf(t, reg, "errors_total"); fmt.Sprint(got) != "[{service=a} 1 {service=b} 1]" {
		t.Errorf("series %v", got)
	}
}

func TestNoLabels(t *testing.T) {
	p, reg := newProc(t, "name: all_events\n")
	p.Process(context.Background(), logs(t, `{}`, `{"a":1}`))
	if v := pipelinestest.CounterValue(reg, "all_events_total"); v != 2 {
		t.Errorf("count %v", v)
	}
}

func TestConcurrentWorkers(t *testing.T) {
	p, reg := newProc(t, "name: c\nlabels: {k: /k}\nmax_series: 50\n")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				p.Process(context.Background(), logs(t, fmt.Sprintf(`{"k":"%d"}`, (i*7+w)%100)))
			}
		}(w)
	}
	wg.Wait()
	total := pipelinestest.CounterValue(reg, "c_total")
	if total != 1600 {
		t.Errorf("total %v", total)
	}
	if n := len(seriesOf(t, reg, "c_total")); n != 51 {
		t.Errorf("%d series, want 50 + overflow", n)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"help: x", "required option is missing"},
		{"name: app_events_total", "leave out _total"},
		{"name: 9lives", "not a valid metric name"},
		{"name: app:events", "colons are reserved"},
		{"name: app_count", "reserved for histograms"},
		{"name: x\nlabels: {le: /le}", `label "le" is reserved`},
		{"name: x\nlabels: {pipeline: /p}", `label "pipeline" is reserved`},
		{"name: x\nlabels: {bad-name: /p}", "not a valid label name"},
		{"name: x\nlabels: {__x: /p}", "not a valid label name"},
		{"name: x\nmax_series: 0", "below the minimum"},
		{"name: x\nhistogram: {field: /d, buckets: [1, 0.5]}", "must increase"},
		{"name: x\nhistogram: {field: /d, unit_scale: 0}", "must be above 0"},
		{"name: x\nhistogram: {field: /d, name_suffix: _total}", "must not end in _total"},
		{"name: x\ncount_when: '/a =='", "count_when"},
		{"name: x\nhistogram: {unit_scale: 0.001}", "histogram.field"},
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "log_metrics", tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestSameNameOtherLabels: two processors registering one name with
// different labels is a clear error, not a panic.
func TestSameNameOtherLabels(t *testing.T) {
	s, _ := pipelinestest.Settings("p", "processor/0/log_metrics")
	cfg1, _ := pipelinestest.DecodeConfig(pipelines.KindProcessor, "log_metrics", "name: dup\nlabels: {a: /a}")
	if _, err := pipelines.CreateProcessor("log_metrics", s, cfg1); err != nil {
		t.Fatal(err)
	}
	cfg2, _ := pipelinestest.DecodeConfig(pipelines.KindProcessor, "log_metrics", "name: dup\nlabels: {b: /b}")
	if _, err := pipelines.CreateProcessor("log_metrics", s, cfg2); err == nil || !strings.Contains(err.Error(), "registering") {
		t.Errorf("error %v", err)
	}
}

// TestKnownSeriesDoNotAllocate: counting an event of a known label
// combination allocates nothing.
func TestKnownSeriesDoNotAllocate(t *testing.T) {
	p, _ := newProc(t, "name: a\nlabels: {ns: /ns, level: /level, code: /code}\nhistogram: {field: /ms, unit_scale: 0.001}\n")
	evs := logs(t, `{"ns":"shop","level":"info","code":200,"ms":12}`)
	p.Process(context.Background(), evs)
	allocs := testing.AllocsPerRun(1000, func() { p.Process(context.Background(), evs) })
	if allocs != 0 {
		t.Errorf("%v allocations per event", allocs)
	}
}

func BenchmarkLogMetrics(b *testing.B) {
	p, _ := newProc(b, "name: a\nlabels: {namespace: /kubernetes/namespace_name, service: /serviceName, level: /level}\nhistogram: {field: /duration_ms, unit_scale: 0.001, name_suffix: _seconds}\n")
	var docs []string
	for i := 0; i < 100; i++ {
		docs = append(docs, fmt.Sprintf(`{"kubernetes":{"namespace_name":"ns%d"},"serviceName":"svc%d","level":"%s","duration_ms":%d}`,
			i%5, i%10, []string{"info", "warn", "error"}[i%3], i))
	}
	evs := logs(b, docs...)
	p.Process(context.Background(), evs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Process(context.Background(), evs)
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
