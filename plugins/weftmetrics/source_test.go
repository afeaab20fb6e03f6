package weftmetrics

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	_ "github.com/weft-agent/weft/plugins/emf"
)

type host struct {
	pipelinestest.Host
	g prometheus.Gatherer
}

func (h *host) Gatherer() prometheus.Gatherer { return h.g }

func newSource(t *testing.T, opts string, g prometheus.Gatherer) (*Source, *prometheus.Registry) {
	t.Helper()
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSource, "weft_metrics", opts)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log := logrus.New()
	log.SetOutput(io.Discard)
	s := pipelines.TestSettings(pipelines.NewMetrics(reg), reg, log, "metrics", "source/weft_metrics", &host{g: g})
	src, err := pipelines.CreateSource("weft_metrics", s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source), reg
}

type appRegistry struct {
	reg  *prometheus.Registry
	reqs *prometheus.CounterVec
	dur  *prometheus.HistogramVec
	up   prometheus.Gauge
}

func newApp() *appRegistry {
	a := &appRegistry{reg: prometheus.NewRegistry(),
		reqs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_span_requests_total", Help: "x"}, []string{"service"}),
		dur:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weft_span_duration_seconds", Help: "x", Buckets: []float64{0.1, 1}}, []string{"service"}),
		up:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_goroutines_x", Help: "x"}),
	}
	a.reg.MustRegister(a.reqs, a.dur, a.up)
	return a
}

func byName(evs []*event.Event) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, ev := range evs {
		f := ev.Fields()
		out[f["name"].(string)] = append(out[f["name"].(string)], f)
	}
	return out
}

func TestReadingsAsMetricEvents(t *testing.T) {
	app := newApp()
	app.reqs.WithLabelValues("order").Add(3)
	app.dur.WithLabelValues("order").Observe(0.5)
	app.up.Set(7)
	src, reg := newSource(t, "interval: 1h\ninclude_metrics: ['weft_*', 'go_*']\nexclude_metrics: ['go_*']", app.reg)
	in := &pipelinestest.Input{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	first := byName(in.Snapshot())
	if len(first) != 2 || first["go_goroutines_x"] != nil {
		t.Fatalf("first reading %v: want the two weft_* families only", first)
	}
	c := first["weft_span_requests_total"][0]
	if c["kind"] != "counter" || c["value"] != 3.0 || c["labels"].(map[string]any)["service"] != "order" || c["startTime"] != nil {
		t.Fatalf("counter event %v", c)
	}
	h := first["weft_span_duration_seconds"][0]
	bs := h["buckets"].([]any)
	if h["kind"] != "histogram" || h["count"] != 1.0 || h["sum"] != 0.5 || len(bs) != 3 ||
		bs[1].(map[string]any)["count"] != 1.0 || bs[2].(map[string]any)["le"] != "+Inf" {
		t.Fatalf("histogram event %v", h)
	}
	// a series born after the first reading carries the previous reading's time as its start
	app.reqs.WithLabelValues("payment").Inc()
	app.reqs.WithLabelValues("order").Inc()
	in.Events = nil
	src.readOnce(context.Background(), in)
	for _, f := range byName(in.Snapshot())["weft_span_requests_total"] {
		svc := f["labels"].(map[string]any)["service"]
		if (svc == "payment") != (f["startTime"] != nil) {
			t.Errorf("series %v: startTime %v", svc, f["startTime"])
		}
	}
	if err := src.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := pipelinestest.CounterValue(reg, "weft_weft_metrics_readings_total"); v != 3 {
		t.Errorf("readings = %v, want 3 (start, one, stop)", v)
	}
}

// weft_metrics → emf: the deltas add up to what the registry counted after
// the first reading, including series born later.
func TestThroughEMF(t *testing.T) {
	app := newApp()
	app.reqs.WithLabelValues("order").Add(5) // before the source: the baseline
	src, _ := newSource(t, "interval: 1h\ninclude_metrics: ['weft_span_*']", app.reg)
	emf := pipelinestest.MustProcessor(t, "emf", "")
	in := &pipelinestest.Input{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	total := map[string]float64{}
	drain := func() {
		evs := in.Snapshot()
		in.Events = nil
		for _, ev := range emf.Process(context.Background(), evs) {
			f := ev.Fields()
			if v, ok := f["weft_span_requests_total"].(float64); ok {
				total[f["service"].(string)] += v
			}
		}
	}
	drain()
	for i := 0; i < 3; i++ {
		time.Sleep(2 * time.Millisecond) // readings at distinct milliseconds
		app.reqs.WithLabelValues("order").Add(2)
		app.reqs.WithLabelValues("payment").Inc()
		src.readOnce(context.Background(), in)
		drain()
	}
	if err := src.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	drain()
	if total["order"] != 6 || total["payment"] != 3 {
		t.Fatalf("EMF deltas %v, want order 6 (11 minus the baseline 5), payment 3", total)
	}
}

func TestOverHTTP(t *testing.T) {
	app := newApp()
	app.reqs.WithLabelValues("order").Add(4)
	srv := httptest.NewServer(promhttp.HandlerFor(app.reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	src, _ := newSource(t, "interval: 1h\nmetrics_url: "+srv.URL, nil)
	in := &pipelinestest.Input{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	defer src.Stop(context.Background())
	c := byName(in.Snapshot())["weft_span_requests_total"]
	if len(c) != 1 || c[0]["value"] != 4.0 {
		t.Fatalf("over HTTP: %v", c)
	}
}

func TestReadErrorsCounted(t *testing.T) {
	srv := httptest.NewServer(nil) // 404
	defer srv.Close()
	src, reg := newSource(t, "interval: 1h\nmetrics_url: "+srv.URL+"/metrics", nil)
	in := &pipelinestest.Input{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	_ = src.Stop(context.Background())
	if len(in.Snapshot()) != 0 || pipelinestest.CounterValue(reg, "weft_weft_metrics_read_errors_total") != 2 {
		t.Fatalf("events %d, errors %v", len(in.Snapshot()), pipelinestest.CounterValue(reg, "weft_weft_metrics_read_errors_total"))
	}
}

func TestIntervalLoop(t *testing.T) {
	app := newApp()
	app.up.Set(1)
	src, _ := newSource(t, "interval: 100ms", app.reg)
	in := &pipelinestest.Input{Notify: make(chan int, 16)}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for n := 0; n < 3; {
		select {
		case <-in.Notify:
			n++
		case <-deadline:
			t.Fatal("no readings on the interval")
		}
	}
	if err := src.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, opts := range []string{"interval: 1ms", "include_metrics: ['[']", "metrics_url: ftp://x"} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindSource, "weft_metrics", opts); err == nil {
			t.Errorf("%s: accepted", opts)
		}
	}
}

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "weft_metrics", "README.md")
}
