package sinkcore

import (
	"bytes"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func toFloat(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatal("not a counter or gauge")
	return 0
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func TestMetricsNamesAndReuse(t *testing.T) {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": "p", "component": "c"}, reg)
	names := MetricNames{Namespace: "weft_opensearch", Request: "bulk", Unit: "documents", Delivered: "indexed"}
	m, err := NewMetrics(wrapped, names)
	if err != nil {
		t.Fatal(err)
	}
	m.Request(200, 0.01, 100)
	m.Request(0, 0.5, 50)
	m.Delivered.Add(3)
	m.Buffered.Set(7)
	// A recreated component keeps counting on the same series.
	m2, err := NewMetrics(wrapped, names)
	if err != nil {
		t.Fatal(err)
	}
	m2.Delivered.Add(2)
	m2.Request(200, 0.01, 10)

	want := []string{
		"weft_opensearch_bulk_requests_total", "weft_opensearch_bulk_duration_seconds",
		"weft_opensearch_documents_indexed_total", "weft_opensearch_documents_failed_total",
		"weft_opensearch_documents_retried_total", "weft_opensearch_documents_dead_lettered_total",
		"weft_opensearch_bytes_sent_total", "weft_opensearch_inflight_requests", "weft_opensearch_buffered_documents",
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
		for _, mm := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mm.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["pipeline"] != "p" || labels["component"] != "c" {
				t.Fatalf("%s lacks the component labels: %v", f.GetName(), labels)
			}
		}
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
	if v := toFloat(t, m.Delivered); v != 5 {
		t.Fatalf("delivered %v, want 5", v)
	}
	if v := toFloat(t, m.Requests.WithLabelValues("200")); v != 2 {
		t.Fatalf("requests{200} %v", v)
	}
	if v := toFloat(t, m.Requests.WithLabelValues("error")); v != 1 {
		t.Fatalf("requests{error} %v", v)
	}
	if v := toFloat(t, m.BytesSent); v != 160 {
		t.Fatalf("bytes %v", v)
	}
}

func TestMetricsUnregistered(t *testing.T) {
	m, err := NewMetrics(nil, MetricNames{Namespace: "x", Request: "put", Unit: "events", Delivered: "sent"})
	if err != nil || m.Delivered == nil {
		t.Fatal(err)
	}
}
